"""The run: the state of one clush invocation, and how it starts commands.

A ClushRun is built once by main() and handed to whatever needs it: the
output handlers, the run control, the interrupt handler, the prompt loop.
ClusterShell's clush keeps part of that state in task defaults (USER_*
keys); a run sets those keys too, for code that reads them (a handler or a
script of the user's), but clusterpy reads the run.  ClusterShell's public
functions (run_command(), run_copy(), run_rcopy(), ttyloop()) called by
other code adopt a run from those keys.

start_command() picks the output handler for the display mode, wraps it in
a RunControl for --fail-fast, --retry and the Ctrl-C report, gives the
command its stdin and runs the Task; start_copy() and start_rcopy() do the
same for --copy and --rcopy.
"""

from os.path import exists, isdir

from clusterpy.CLI.Display import VERB_QUIET
from clusterpy.CLI._clush_control import RunControl
from clusterpy.CLI._clush_exit import clush_exit
from clusterpy.CLI._clush_output import copy_handler, output_handler


class _TaskDefault:
    """A ClushRun attribute that ClusterShell's clush keeps as the task
    default `key`: setting it also sets that task default."""

    def __init__(self, key):
        self.key = key
        self.name = None

    def __set_name__(self, owner, name):
        self.name = name

    def __get__(self, run, owner=None):
        if run is None:
            return self
        return run.__dict__[self.name]

    def __set__(self, run, value):
        run.__dict__[self.name] = value
        run.task.set_default(self.key, value)


class ClushRun:
    """What one clush run knows: its task, display and command settings,
    what ClusterShell keeps in USER_* task defaults (see _TaskDefault),
    and the state of clusterpy's additions (--json, --fail-fast, --retry,
    two-step Ctrl-C)."""

    interactive = _TaskDefault("USER_interactive")          # the clush> prompt
    running = _TaskDefault("USER_running")                  # a command runs
    handle_sigusr1 = _TaskDefault("USER_handle_SIGUSR1")    # commands in a task thread
    stdin_worker = _TaskDefault("USER_stdin_worker")        # stdin forwarded
    password = _TaskDefault("USER_password_prompt")         # given to each command
    command_prefix = _TaskDefault("USER_command_prefix")    # of the run mode
    copies = _TaskDefault("USER_copies")                    # copy workers not closed

    def __init__(self, task, display, timeout=-1, remote=True, trytree=True):
        self.task = task
        self.display = display
        self.timeout = timeout          # of each command (-1: none)
        self.remote = remote            # False: --remote=no (commands run locally)
        self.trytree = trytree          # commands may go through gateways
        self.json = False               # --json
        self.fail_fast = False          # --fail-fast
        self.retries = 0                # --retry
        self.control = None             # RunControl of the last command on nodes
        self.interrupt = None           # two-step Ctrl-C (stderr a terminal)
        # the task defaults are set when the run sets them
        self.__dict__.update(interactive=False, running=False, handle_sigusr1=False,
                             stdin_worker=False, password=None, command_prefix=None,
                             copies=0)

    @classmethod
    def adopt(cls, task, display, timeout=-1, remote=True, trytree=True):
        """A run for ClusterShell's public functions and handlers used by
        other code: the state as `task`'s USER_* defaults hold it."""
        run = cls(task, display, timeout, remote, trytree)
        for name, attr in vars(cls).items():
            if isinstance(attr, _TaskDefault):
                run.__dict__[name] = task.default(attr.key, run.__dict__[name])
        return run

    def exit_status(self, maxrc):
        """clush's exit code once the command is done (`maxrc`: the
        largest return code, not 0)."""
        control = self.control
        if control is not None and control.failed is not None:
            return control.failed[1]
        if not maxrc:
            return 0
        source = self.task if control is None else control
        return 255 if source.num_timeout() > 0 else source.max_retcode()


def prefix_words(run):
    """The run mode's command prefix, split as a shell does."""
    import shlex
    return shlex.split(run.command_prefix)


def start_command(run, cmd, ns):
    """Run `cmd` on the nodes `ns` (locally when None) and display its
    output; returns when it is done, or at once if the task has a thread
    of its own."""
    task = run.task
    run.running = True
    handler = output_handler(run, ns)
    password = run.password
    options = {"timeout": run.timeout, "remote": run.remote,
               "tree": None if run.trytree else False,
               "stdin": bool(run.stdin_worker or password is not None)}
    if ns is None:
        control = None
        worker = task.shell(cmd, handler=handler, **options)
        worker.set_key("LOCAL")
    else:
        control = RunControl(handler, task, ns, handler._prog, fail_fast=run.fail_fast,
                             retries=run.retries or 0)
        worker = control.launch(cmd, **options)
    run.control = control
    stdin_of = control or worker
    if password:
        stdin_of.write(password.encode() + b"\n")
    if run.stdin_worker:
        from clusterpy.CLI._clush_stdin import bind_stdin
        bind_stdin(stdin_of, run.display)
    elif password:
        # stdin was only opened for the password
        stdin_of.set_write_eof()
    task.resume()


def _missing(run, text, path):
    run.display.vprint_err(VERB_QUIET, "ERROR: " + text % path)
    clush_exit(1, run.task)


def start_copy(run, sources, dests, ns, preserve):
    """Copy each local source to its destination on the nodes."""
    task = run.task
    handler = copy_handler(run, ns, sources, False)
    for source in sources:
        if not exists(source):
            _missing(run, 'file "%s" not found', source)
        task.copy(source, dests.pop(0), ns, handler=handler, timeout=run.timeout,
                  preserve=preserve)
    task.resume()


def start_rcopy(run, sources, dests, ns, preserve):
    """Copy each source of the nodes into a local directory (one file per
    node, named after the source and the node)."""
    task = run.task
    for dest in dests:
        if not exists(dest):
            _missing(run, 'directory "%s" not found', dest)
        if not isdir(dest):
            _missing(run, 'destination "%s" is not a directory', dest)
    handler = copy_handler(run, ns, sources, True)
    for source in sources:
        task.rcopy(source, dests.pop(0), ns, handler=handler, timeout=run.timeout,
                   stderr=True, preserve=preserve)
    task.resume()


# ClusterShell's signatures, for other code: the run adopted from the task

def run_command(task, cmd, ns, timeout, display, remote, trytree):
    """Run `cmd` on the nodes `ns` (locally when None) and display its
    output (see start_command())."""
    start_command(ClushRun.adopt(task, display, timeout, remote, trytree), cmd, ns)


def run_copy(task, sources, dests, ns, timeout, preserve_flag, display):
    """Copy each local source to its destination on the nodes."""
    start_copy(ClushRun.adopt(task, display, timeout), sources, dests, ns, preserve_flag)


def run_rcopy(task, sources, dests, ns, timeout, preserve_flag, display):
    """Copy each source of the nodes into a local directory."""
    start_rcopy(ClushRun.adopt(task, display, timeout), sources, dests, ns, preserve_flag)
