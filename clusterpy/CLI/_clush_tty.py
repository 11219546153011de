"""clush at the terminal: the interactive prompt, and Enter or Ctrl-C
while a command runs.

When both stdin and stdout are the foreground terminal, commands run in a
Task of their own thread while the main thread reads lines (ttyloop()).
The command's handler wakes the main thread with SIGUSR1 when the command
is done (PromptWaker).  Prompt lines starting with +, -, @, = or ? change
the session (the node set, the output format) instead of running a
command; !COMMAND runs COMMAND locally.  Imported only for such sessions.
"""

import os
import signal
import sys
from os.path import join

from clusterpy.CLI.Display import VERB_QUIET, VERB_STD
from clusterpy.CLI._clush_interrupt import END_SIGNALS, SecondInterrupt, stop_command
from clusterpy.CLI._clush_output import gateway_targets
from clusterpy.CLI._clush_run import ClushRun, prefix_words, start_command
from clusterpy.NodeSet import NodeSet, NodeSetParseError
from clusterpy.Task import Task

#: the line reader of ttyloop() (tests may replace it here or in
#: clusterpy.CLI.Clush)
raw_input = input


def _read_line(prompt):
    clush = sys.modules.get("clusterpy.CLI.Clush")
    return getattr(clush, "raw_input", raw_input)(prompt)


def thread_task():
    """The Task of a terminal session's commands, whose thread leaves
    SIGINT, SIGUSR1 and END_SIGNALS to the main thread."""
    signal.signal(signal.SIGUSR1, signal.SIG_IGN)
    mask = signal.pthread_sigmask(signal.SIG_BLOCK,
                                  (signal.SIGINT, signal.SIGUSR1) + END_SIGNALS)
    try:
        return Task()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)


class UpdatePromptException(Exception):
    """Raised in the main thread (by signal_handler) when a command is done
    and the prompt must be shown again."""


def signal_handler(signum, frame):
    """SIGUSR1 handler of the main thread: wakes ttyloop() up."""
    if signum == signal.SIGUSR1:
        signal.signal(signal.SIGUSR1, signal.SIG_IGN)
        raise UpdatePromptException()


def get_history_file():
    """Path of the interactive mode's readline history."""
    return join(os.environ["HOME"], ".clush_history")


def readline_setup():
    """Set readline up (tab completion off, history loaded)."""
    import readline
    readline.set_completer_delims("")
    readline.parse_and_bind("tab: complete")
    try:
        readline.read_history_file(get_history_file())
    except OSError:
        pass  # no history yet


def _running_report(task, display):
    """Enter pressed while a command runs: print what runs and waits."""
    started, waiting = NodeSet(), NodeSet()
    for client in task._engine.clients():
        (started if client.registered else waiting).add(client.key)
    pending = ""
    if waiting:
        pending = "\nclush: pending(%d): %s" % (len(waiting), waiting)
    display.vprint_err(VERB_QUIET, "clush: interrupt (^C to abort task)")
    gateways = task.gateways
    if gateways:
        pending += "\nclush: [tree] open gateways(%d): %s" % (len(gateways),
                                                              NodeSet.fromlist(gateways))
    display.vprint_err(VERB_QUIET, "clush: in progress(%d): %s%s"
                       % (len(started), started, pending))
    for gateway in gateways:
        active = gateway_targets(task, gateway)
        if active:
            display.vprint_err(VERB_QUIET, "clush: [tree] in progress(%d) on %s: %s"
                               % (len(active), gateway, NodeSet.fromlist(active)))


def _prompt_command(run, ns, line):
    """Handle a prompt line that changes the session rather than running a
    command (+nodes, -nodes, @nodes, =, ?).  Returns (ns, done, show_ns):
    done when the line needs nothing more."""
    display = run.display
    lowered = line.lower()
    head = lowered[:1]
    try:
        if head == "+":
            ns.update(lowered[1:])
        elif head == "-":
            ns.difference_update(lowered[1:])
        elif head == "@":
            ns = NodeSet(lowered[1:])
        elif lowered == "=":
            display.gather = not display.gather
            display.vprint(VERB_STD, "Switching to %s output format"
                           % ("gathered" if display.gather else "standard"))
            run.task.set_default("stdout_msgtree", display.gather or display.line_mode)
            return ns, True, False
        elif head != "?":
            return ns, False, False
    except NodeSetParseError:
        display.vprint_err(VERB_QUIET, "clush: nodeset parse error (ignoring)")
    return ns, True, True


class PromptWaker:
    """Wakes ttyloop() up when the command of the task thread is done (its
    handler sends SIGUSR1 to the main thread).

    While a command runs, the main thread waits for a line in select()
    rather than in readline, with signal.set_wakeup_fd() on a pipe of its
    own: a signal that comes just before the wait is not missed (readline
    only sees those that interrupt it), and no signal handler raises inside
    readline (where a second pending signal turns the exception into a
    SystemError)."""

    def __init__(self, run):
        self.run = run
        self.armed = False
        self._saved = None
        self._pipe = None

    def __enter__(self):
        self._pipe = os.pipe()
        for fd in self._pipe:
            os.set_blocking(fd, False)
        self._saved = (signal.signal(signal.SIGUSR1, self._handle),
                       signal.set_wakeup_fd(self._pipe[1], warn_on_full_buffer=False))
        return self

    def __exit__(self, *exc):
        self.armed = False
        signal.set_wakeup_fd(self._saved[1])
        signal.signal(signal.SIGUSR1, self._saved[0])
        for fd in self._pipe:
            os.close(fd)

    def _handle(self, signum, frame):
        if self.armed:
            self.armed = False
            raise UpdatePromptException()

    def wait_line(self, prompt, running):
        """raw_input(prompt), or UpdatePromptException once the command
        is done (`running`: one is running now)."""
        self.armed = True
        try:
            if running:
                self._wait_input()
            return _read_line(prompt)
        finally:
            self.armed = False

    def _wait_input(self):
        """Return once stdin has a line to read; UpdatePromptException when
        the command is done first."""
        import select
        try:
            fileno = sys.stdin.fileno()
        except (AttributeError, OSError, ValueError):
            return  # not a real file: leave it to raw_input
        wake = self._pipe[0]
        run = self.run
        while run.running:
            if run.interrupt is not None:
                run.interrupt.report()
            ready = select.select([fileno, wake], [], [])[0]
            if wake in ready:
                while True:
                    try:
                        if not os.read(wake, 512):
                            break
                    except BlockingIOError:
                        break
            elif ready:
                return
        raise UpdatePromptException()


def ttyloop(task, nodeset, timeout, display, remote, trytree):
    """Read lines from the terminal: the interactive mode's prompt, or
    Enter/Ctrl-C while a command (run by the task thread) is running
    (ClusterShell's signature: the run as the task's defaults give it)."""
    tty_loop(ClushRun.adopt(task, display, timeout, remote, trytree), nodeset)


def tty_loop(run, nodeset):
    """ttyloop() of the run `run`."""
    if run.handle_sigusr1:
        with PromptWaker(run) as waker:
            return _tty_loop(run, nodeset, waker.wait_line)
    return _tty_loop(run, nodeset, lambda prompt, running: _read_line(prompt))


def _interactive_readline(display):
    """readline set up for the prompt (None if there is none)."""
    try:
        import readline
        readline_setup()
    except ImportError:
        readline = None
    display.vprint(VERB_STD, "Enter 'quit' to leave this interactive mode")
    return readline


def _tty_loop(run, nodeset, read_line):
    interactive = run.interactive
    display = run.display
    readline = _interactive_readline(display) if interactive else None
    ns = NodeSet(nodeset)
    show_ns = True
    line = ""
    while run.running or (interactive and line.lower() != "quit"):
        try:
            running = run.running
            if not running and not interactive:
                return
            prompt = ""
            if interactive and not running:
                if show_ns:
                    display.vprint(VERB_QUIET, "Working with nodes: %s" % ns)
                    show_ns = False
                prompt = "clush> "
            line = read_line(prompt, running)
        except EOFError:
            print()
            return
        except UpdatePromptException:
            if run.interactive:
                continue
            return
        except KeyboardInterrupt as error:
            if isinstance(error, SecondInterrupt) or not display.gather or not run.running:
                raise
            # ClusterShell's single Ctrl-C: what was gathered, then exit
            raise stop_command(run, ns, getattr(error, "signum", signal.SIGINT))
        if run.running:
            _running_report(run.task, display)
        else:
            ns, show_ns = _prompt_line(run, ns, line, readline)


def _prompt_line(run, ns, line, readline):
    """A line read while no command runs: a session change, !COMMAND, or
    a command for the nodes `ns`.  Returns (ns, show_ns)."""
    ns, done, show_ns = _prompt_command(run, ns, line)
    if done:
        return ns, show_ns
    if line.lower().startswith("!") and line.strip():
        start_command(run, line[1:], None)
    elif line.lower() != "quit" and line:
        if readline is not None:
            readline.write_history_file(get_history_file())
        if run.command_prefix:
            line = "%s %s" % (" ".join(prefix_words(run)), line)
        start_command(run, line, ns)
    return ns, show_ns
