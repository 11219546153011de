"""clush: run a command (or copy files) on many nodes at once.

The options, configuration (clush.conf), output bytes and exit codes are
ClusterShell 1.10.1's.  On top of them, four additions:

``--json``
    one JSON object per line on stdout for each node as it ends (with
    ``-b``: for each group of nodes that ended the same way, at the end).
two-step Ctrl-C
    when stderr is a terminal, a first Ctrl-C prints the nodes still
    running and for how long; a second one within a second aborts.
``-k``/``--fail-fast``
    stop every command at the first node whose command fails.
``--retry N``
    run the command again, up to N times, on the nodes where it exited
    with 255 (ssh's code for a failed connection).

Theory of operation
-------------------
``main()`` parses the options, configures (clush.conf, the display, the
target node set), builds the run (a ClushRun: the Task set up, the state
every part of the run shares), executes it and exits with its status.
Each concept lives in the module named after it; this one keeps
ClusterShell's public names, re-exported from there:

- ``_clush_options``: the options, their checks, the target node set;
- ``_clush_setup``: the Task's settings (ssh, worker, tree, fd limit);
- ``_clush_run``: the run object, and how a command or copy is started;
- ``_clush_output``: the output handlers, one per display mode, and the
  progress line; ``_clush_json``: the --json handler;
- ``_clush_control``: the wrapper of every command's handler that adds
  --fail-fast, --retry and the Ctrl-C report;
- ``_clush_interrupt``: Ctrl-C (two-step or not), SIGTERM and SIGHUP;
- ``_clush_tty``: the interactive prompt, when stdin and stdout are the
  terminal (commands then run in a thread of their own);
- ``_clush_stdin``: stdin forwarded to the commands, when not a terminal;
- ``_clush_exit``: the exit, and the message and code of each error.
"""

import signal
import sys
from functools import partial

from clusterpy.CLI.Config import ClushConfig
from clusterpy.CLI.Display import VERB_DEBUG, VERB_QUIET, VERB_STD, VERB_VERB, Display
from clusterpy.CLI.Utils import parse_fold_axis
from clusterpy.CLI._clush_exit import clush_excepthook, clush_exit
from clusterpy.CLI._clush_interrupt import (
    Interrupt,
    SecondInterrupt,
    Terminated,
    catch_end_signals,
    stop_command,
)
from clusterpy.CLI._clush_options import (
    check_additions,
    color,
    copy_destinations,
    listed_nodes,
    parser,
    target_nodes,
)
from clusterpy.CLI._clush_output import (
    CopyOutputHandler,
    DirectOutputDirHandler,
    DirectOutputHandler,
    DirectProgressOutputHandler,
    GatherOutputHandler,
    LiveGatherOutputHandler,
    OutputHandler,
    RunTimer,
    SortedOutputHandler,
)
from clusterpy.CLI._clush_run import ClushRun, prefix_words, start_command, start_copy, start_rcopy
from clusterpy.CLI._clush_setup import (
    ask_pass,
    close_connections,
    configure_connections,
    fitting_fanout,
    foreground_tty,
    set_fdlimit,
    set_logging,
    set_worker,
)
from clusterpy.Defaults import DEFAULTS
from clusterpy.NodeSet import RESOLVER_NOGROUP, set_std_group_resolver_config, std_group_resolver
from clusterpy.Task import task_self

# the other names ClusterShell's clush has (see also _LAZY below)
import os  # noqa: F401
import threading  # noqa: F401
import time  # noqa: F401
from os.path import abspath, dirname, exists, isdir, join  # noqa: F401
from clusterpy.CLI.Config import ClushConfigError  # noqa: F401
from clusterpy.CLI.Display import sys_stdin  # noqa: F401
from clusterpy.CLI.OptionParser import OptionParser  # noqa: F401
from clusterpy.CLI.Utils import bufnodeset_cmpkey, human_bi_bytes_unit  # noqa: F401
from clusterpy.CLI._clush_run import run_command, run_copy, run_rcopy  # noqa: F401
from clusterpy.Defaults import _load_workerclass  # noqa: F401
from clusterpy.Event import EventHandler  # noqa: F401
from clusterpy.MsgTree import MsgTree  # noqa: F401
from clusterpy.NodeSet import NodeSet, NodeSetParseError  # noqa: F401
from clusterpy.Task import Task  # noqa: F401

__all__ = [
    "RESOLVER_NOGROUP",
    "VERB_DEBUG",
    "VERB_QUIET",
    "VERB_STD",
    "VERB_VERB",
    "CopyOutputHandler",
    "DirectOutputDirHandler",
    "DirectOutputHandler",
    "DirectProgressOutputHandler",
    "GatherOutputHandler",
    "LiveGatherOutputHandler",
    "OutputHandler",
    "RunTimer",
    "SortedOutputHandler",
    "StdInputHandler",  # noqa: F822 (in _LAZY)
    "UpdatePromptException",  # noqa: F822 (in _LAZY)
    "main",
]

# ClusterShell's names (and the modules its clush imports) that only some
# runs need: imported on first use
_LAZY = {
    "UpdatePromptException": "_clush_tty", "signal_handler": "_clush_tty",
    "get_history_file": "_clush_tty", "readline_setup": "_clush_tty",
    "ttyloop": "_clush_tty", "raw_input": "_clush_tty",
    "StdInputHandler": "_clush_stdin", "bind_stdin": "_clush_stdin",
    "GENERIC_ERRORS": "Error", "handle_generic_error": "Error",
}
_LAZY_ALIASES = {"_stdin_thread_start": ("_clush_stdin", "stdin_reader")}
_LAZY_STDLIB = ("getpass", "logging", "random", "resource", "shlex")


def __getattr__(name):
    import importlib
    if name in _LAZY or name in _LAZY_ALIASES:
        module, attr = _LAZY_ALIASES.get(name, (_LAZY.get(name), name))
        return getattr(importlib.import_module("clusterpy.CLI." + module), attr)
    if name in _LAZY_STDLIB:
        return importlib.import_module(name)
    if name == "print_function":
        import __future__
        return __future__.print_function
    raise AttributeError("module %r has no attribute %r" % (__name__, name))


def __dir__():
    return sorted(set(globals()) | set(_LAZY) | set(_LAZY_ALIASES) | set(_LAZY_STDLIB)
                  | {"print_function"})


def _parse_options():
    """The parser, the options and the command's words."""
    optparser = parser()
    options, args = optparser.parse_args()
    return optparser, options, args


def _configure(optparser, options):
    """clush.conf, logging and the display; group and engine defaults."""
    set_std_group_resolver_config(options.groupsconf)
    config = ClushConfig(options, options.conf)
    set_logging(config.verbosity)
    try:
        display = Display(options, config, color(config, options))
    except ValueError as exc:
        optparser.error("option mismatch (%s)" % exc)
    if options.groupsource:
        std_group_resolver().default_source_name = options.groupsource
    return config, display


def _select_nodes(optparser, options, config, display):
    """The target node set (--close-connections: closes and exits)."""
    nodes, exclude = listed_nodes(options, display)
    DEFAULTS.engine = options.engine
    if options.axis:
        DEFAULTS.fold_axis = parse_fold_axis(options.axis)
    task = task_self()
    task.set_info("debug", config.verbosity >= VERB_DEBUG)
    if options.close_connections:
        close_connections(task, optparser, options, config, display, nodes, exclude)
    nodes = target_nodes(optparser, options, config, display, nodes, exclude)
    set_fdlimit(config.fd_max, display)
    return nodes


def _session(optparser, options, args, config, display):
    """(interactive, user_interaction): whether the clush> prompt runs,
    and whether the main thread reads the terminal."""
    interactive = not args and not (options.copy or options.rcopy)
    stdin_tty = foreground_tty(sys.stdin)
    if interactive and not stdin_tty:
        # no command and stdin is not a terminal: read commands from stdin,
        # without a pseudo-terminal on the ssh side
        interactive = False
        config._set_main("ssh_options", (config.ssh_options or "") + " -T")
    if options.nostdin and interactive:
        optparser.error("illegal option `--nostdin' in that case")
    check_additions(optparser, options, interactive)
    user_interaction = hasattr(sys.modules[__name__], "_f_user_interaction")
    if not options.nostdin:
        user_interaction |= stdin_tty and foreground_tty(sys.stdout)
    display.vprint(VERB_DEBUG, "User interaction: %s" % user_interaction)
    return interactive, user_interaction


def _new_run(options, config, display, nodes, user_interaction):
    """The run, on a Task of its own thread when the terminal is read."""
    if user_interaction:
        from clusterpy.CLI._clush_tty import thread_task
        task = thread_task()
    else:
        task = task_self()
    run = ClushRun(task, display)
    run.handle_sigusr1 = user_interaction
    task.excepthook = sys.excepthook
    run.stdin_worker = not (sys.stdin is None or sys.stdin.isatty() or options.nostdin
                            or user_interaction)
    display.vprint(VERB_DEBUG, "Create STDIN worker: %s" % run.stdin_worker)
    task.set_info("debug", config.verbosity >= VERB_DEBUG)
    # as ClusterShell's clush does, the fanout is read before the run mode
    task.set_info("fanout", fitting_fanout(config.fanout, len(nodes), display))
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
        prefix = prefix_words(run)
        display.vprint(VERB_VERB, "[%s] command prefix: %s" % (options.mode, prefix))
        args = prefix + args
    if config.password_prompt:
        display.vprint(VERB_VERB, "[%s] password prompt enabled" % options.mode)
        run.password = ask_pass()
    return args


def _set_up_task(run, options, config, interactive):
    """Worker, tree mode, grooming delay and connections; what the task
    keeps of the output; the run's settings."""
    task, display = run.task, run.display
    run.trytree = set_worker(task, options, config, display)
    if options.grooming_delay:
        if config.verbosity >= VERB_VERB:
            print(Display.COLOR_RESULT_FMT % ("Grooming delay: %f" % options.grooming_delay),
                  file=sys.stderr)
        task.set_info("grooming_delay", options.grooming_delay)
    elif options.rcopy:
        task.set_info("grooming_delay", 0)
    configure_connections(task, config)
    task.set_default("stderr", not options.gatherall)
    task.set_default("stdout_msgtree", (display.gather or display.line_mode)
                     and not options.json)
    task.set_default("stderr_msgtree", False)
    run.timeout = config.command_timeout if config.command_timeout > 0 else -1
    run.remote = options.remote != "no"
    run.interactive = interactive
    run.running = False
    run.json, run.fail_fast, run.retries = options.json, options.fail_fast, options.retry
    run.interrupt = Interrupt(run) if sys.stderr.isatty() else None


def _job(optparser, options, args, config, run, nodes):
    """What runs first: a function starting the command or the copy
    (None in interactive mode)."""
    copying = options.copy or options.rcopy
    if copying and not args:
        optparser.error("--[r]copy option requires at least one argument")
    if copying:
        dests, operation = copy_destinations(options, args)
        copy = start_copy if options.copy else start_rcopy
        job = partial(copy, run, args, dests, nodes, options.preserve_flag)
    else:
        operation = 'command="%s"' % " ".join(args)
        job = None if run.interactive else partial(start_command, run, " ".join(args), nodes)
    run.display.vprint(VERB_DEBUG, "clush: nodeset=%s fanout=%d [timeout conn=%.1f cmd=%.1f] "
                       "%s" % (nodes, config.fanout, config.connect_timeout,
                               config.command_timeout, operation))
    if not run.interactive and run.display.verbosity >= VERB_DEBUG and run.task.topology:
        print(Display.COLOR_RESULT_FMT % "-" * 15)
        print(Display.COLOR_RESULT_FMT % run.task.topology, end="")
        print(Display.COLOR_RESULT_FMT % "-" * 15)
    return job


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
    except (SecondInterrupt, Terminated) as error:
        raise stop_command(run, getattr(run.control, "nodes", None),
                           getattr(error, "signum", signal.SIGINT))
    finally:
        if previous_sigint is not None:
            signal.signal(signal.SIGINT, previous_sigint)


def main():
    """clush's entry point."""
    sys.excepthook = clush_excepthook
    catch_end_signals()
    optparser, options, args = _parse_options()
    config, display = _configure(optparser, options)
    nodes = _select_nodes(optparser, options, config, display)
    interactive, user_interaction = _session(optparser, options, args, config, display)
    run = _new_run(options, config, display, nodes, user_interaction)
    args = _apply_mode(run, options, config, args)
    _set_up_task(run, options, config, interactive)
    _execute(run, nodes, _job(optparser, options, args, config, run, nodes))
    clush_exit(run.exit_status(config.maxrc), run.task)


if __name__ == "__main__":
    main()
