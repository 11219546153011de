"""clush's main(), step by step: parse the options, configure (clush.conf,
the display, the target node set), build the run (the session mode, the
ClushRun and its Task set up), execute it, exit with its status.
"""

import signal
import sys

from clusterpy.CLI import _clush_interrupt, _clush_options, _clush_run, _clush_setup
from clusterpy.CLI.Config import ClushConfig
from clusterpy.CLI.Display import VERB_DEBUG, VERB_QUIET, VERB_VERB, Display
from clusterpy.CLI.Utils import parse_fold_axis
from clusterpy.CLI._clush_exit import clush_excepthook, clush_exit
from clusterpy.Defaults import DEFAULTS
from clusterpy.NodeSet import set_std_group_resolver_config, std_group_resolver
from clusterpy.Task import task_self


def _parse_options():
    """The option parser, the options and the command's words."""
    optparser = _clush_options.parser()
    options, args = optparser.parse_args()
    return optparser, options, args


def _configure(optparser, options):
    """clush.conf, logging, the display, the default group source; the
    target nodes."""
    set_std_group_resolver_config(options.groupsconf)
    config = ClushConfig(options, options.conf)
    _clush_setup.set_logging(config.verbosity)
    try:
        display = Display(options, config, _clush_options.color(config, options))
    except ValueError as exc:
        optparser.error("option mismatch (%s)" % exc)
    if options.groupsource:
        std_group_resolver().default_source_name = options.groupsource
    return config, display, _select_nodes(optparser, options, config, display)


def _select_nodes(optparser, options, config, display):
    """The target node set, engine and folding defaults (with
    --close-connections: closes them and exits)."""
    nodes, exclude = _clush_options.listed_nodes(options, display)
    DEFAULTS.engine = options.engine
    if options.axis:
        DEFAULTS.fold_axis = parse_fold_axis(options.axis)
    task = task_self()
    task.set_info("debug", config.verbosity >= VERB_DEBUG)
    if options.close_connections:
        _clush_setup.close_connections(task, optparser, options, config, display, nodes, exclude)
    nodes = _clush_options.target_nodes(optparser, options, config, display, nodes, exclude)
    _clush_setup.set_fdlimit(config.fd_max, display)
    return nodes


def _build_run(optparser, options, args, config, display, nodes, forced):
    """The run and its first job (see _job()): the session mode, the run
    on its Task, the run mode applied, the Task set up."""
    interactive, user_interaction = _session(optparser, options, args, config, display,
                                             forced)
    run = _new_run(options, config, display, nodes, user_interaction)
    args = _apply_mode(run, options, config, args)
    _set_up_task(run, options, config, interactive)
    return run, _job(optparser, options, args, config, run, nodes)


def _session(optparser, options, args, config, display, forced):
    """(interactive, user_interaction): whether the clush> prompt runs,
    and whether the main thread reads the terminal (always if `forced`)."""
    interactive = not args and not (options.copy or options.rcopy)
    stdin_tty = _clush_setup.foreground_tty(sys.stdin)
    if interactive and not stdin_tty:
        # no command and stdin is not a terminal: read commands from stdin,
        # without a pseudo-terminal on the ssh side
        interactive = False
        config._set_main("ssh_options", (config.ssh_options or "") + " -T")
    if options.nostdin and interactive:
        optparser.error("illegal option `--nostdin' in that case")
    _clush_options.check_additions(optparser, options, interactive)
    user_interaction = forced
    if not options.nostdin:
        user_interaction |= stdin_tty and _clush_setup.foreground_tty(sys.stdout)
    display.vprint(VERB_DEBUG, "User interaction: %s" % user_interaction)
    return interactive, user_interaction


def _new_run(options, config, display, nodes, user_interaction):
    """The run, on a Task of its own thread when the terminal is read."""
    if user_interaction:
        from clusterpy.CLI._clush_tty import thread_task
        task = thread_task()
    else:
        task = task_self()
    run = _clush_run.ClushRun(task, display)
    run.handle_sigusr1 = user_interaction
    task.excepthook = sys.excepthook
    run.stdin_worker = not (sys.stdin is None or sys.stdin.isatty() or options.nostdin
                            or user_interaction)
    display.vprint(VERB_DEBUG, "Create STDIN worker: %s" % run.stdin_worker)
    task.set_info("debug", config.verbosity >= VERB_DEBUG)
    # as ClusterShell's clush does, the fanout is read before the run mode
    task.set_info("fanout", _clush_setup.fitting_fanout(config.fanout, len(nodes), display))
    return run


def _apply_mode(run, options, config, args):
    """--mode: the run mode's settings, command prefix and password;
    returns the command's words."""
    display = run.display
    if options.mode:
        display.vprint(VERB_DEBUG, "ClushConfig parsed: %s" % config.parsed)
        display.vprint(VERB_DEBUG, "Available run modes: %s" % " ".join(config.modes()))
        config.set_mode(options.mode)
        display.vprint(VERB_VERB, "[%s] run mode activated" % options.mode)
    if config.command_prefix:
        run.command_prefix = config.command_prefix
        prefix = _clush_run.prefix_words(run)
        display.vprint(VERB_VERB, "[%s] command prefix: %s" % (options.mode, prefix))
        args = prefix + args
    if config.password_prompt:
        display.vprint(VERB_VERB, "[%s] password prompt enabled" % options.mode)
        run.password = _clush_setup.ask_pass()
    return args


def _set_up_task(run, options, config, interactive):
    """Worker, tree mode, grooming delay and connections; what the task
    keeps of the output; the run's settings."""
    task, display = run.task, run.display
    run.trytree = _clush_setup.set_worker(task, options, config, display)
    if options.grooming_delay:
        if config.verbosity >= VERB_VERB:
            print(Display.COLOR_RESULT_FMT % ("Grooming delay: %f" % options.grooming_delay),
                  file=sys.stderr)
        task.set_info("grooming_delay", options.grooming_delay)
    elif options.rcopy:
        task.set_info("grooming_delay", 0)
    _clush_setup.configure_connections(task, config)
    task.set_default("stderr", not options.gatherall)
    task.set_default("stdout_msgtree", (display.gather or display.line_mode)
                     and not options.json)
    task.set_default("stderr_msgtree", False)
    run.timeout = config.command_timeout if config.command_timeout > 0 else -1
    run.remote = options.remote != "no"
    run.interactive = interactive
    run.running = False
    run.json, run.fail_fast, run.retries = options.json, options.fail_fast, options.retry
    run.interrupt = _clush_interrupt.Interrupt(run) if sys.stderr.isatty() else None


def _job(optparser, options, args, config, run, nodes):
    """What runs first: a function starting the command or the copy
    (None in interactive mode)."""
    copying = options.copy or options.rcopy
    if copying and not args:
        optparser.error("--[r]copy option requires at least one argument")
    if copying:
        dests, operation = _clush_options.copy_destinations(options, args)
        start = _clush_run.start_copy if options.copy else _clush_run.start_rcopy

        def job():
            start(run, args, dests, nodes, options.preserve_flag)
    else:
        operation = 'command="%s"' % " ".join(args)

        def job():
            _clush_run.start_command(run, " ".join(args), nodes)
    run.display.vprint(VERB_DEBUG, "clush: nodeset=%s fanout=%d [timeout conn=%.1f cmd=%.1f] "
                       "%s" % (nodes, config.fanout, config.connect_timeout,
                               config.command_timeout, operation))
    if not run.interactive and run.display.verbosity >= VERB_DEBUG and run.task.topology:
        print(Display.COLOR_RESULT_FMT % "-" * 15)
        print(Display.COLOR_RESULT_FMT % run.task.topology, end="")
        print(Display.COLOR_RESULT_FMT % "-" * 15)
    return None if run.interactive else job


def _execute(run, nodes, job):
    """Run the job, then read the terminal if clush does; an abort (second
    Ctrl-C, SIGTERM, SIGHUP) prints what is due."""
    previous_sigint = None
    if run.interrupt is not None:
        previous_sigint = signal.signal(signal.SIGINT, run.interrupt.sigint)
        if not run.handle_sigusr1:
            run.interrupt.keep_awake(run.task)
    try:
        if job is not None:
            job()
        if run.handle_sigusr1:
            from clusterpy.CLI._clush_tty import tty_loop
            tty_loop(run, nodes)
        elif run.interactive:
            run.display.vprint_err(VERB_QUIET, "ERROR: interactive mode requires a tty")
            clush_exit(1, run.task)
    except (_clush_interrupt.SecondInterrupt, _clush_interrupt.Terminated) as error:
        raise _clush_interrupt.stop_command(run, getattr(run.control, "nodes", None),
                                            getattr(error, "signum", signal.SIGINT))
    finally:
        if previous_sigint is not None:
            signal.signal(signal.SIGINT, previous_sigint)



def main(user_interaction=False):
    """clush's entry point (`user_interaction`: read the terminal even
    if stdin and stdout are not the foreground terminal)."""
    sys.excepthook = clush_excepthook
    _clush_interrupt.catch_end_signals()
    optparser, options, args = _parse_options()
    config, display, nodes = _configure(optparser, options)
    run, job = _build_run(optparser, options, args, config, display, nodes, user_interaction)
    _execute(run, nodes, job)
    clush_exit(run.exit_status(config.maxrc), run.task)
