"""How a clush run is interrupted: Ctrl-C, SIGTERM and SIGHUP.

When stderr is a terminal, Ctrl-C has two steps (Interrupt): a first press
prints the nodes still running and for how long, a second one within
INTERRUPT_WINDOW seconds aborts.  Otherwise, and in gathered mode at the
prompt, one Ctrl-C stops the command as ClusterShell's clush does: what was
gathered so far is printed (interrupted()), then clush exits with 128+2.
SIGTERM and SIGHUP (END_SIGNALS) stop it the same way, at once.

Signal handlers only take note or raise: they may run in the middle of
anything (holding a lock, writing to stderr), so that what Ctrl-C prints is
printed later, from the loop waiting for the command.
"""

import signal
import threading
from time import monotonic

from clusterpy.CLI.Display import VERB_QUIET, VERB_STD
from clusterpy.CLI.Utils import bufnodeset_cmpkey
from clusterpy.CLI._clush_output import nodes_of
from clusterpy.Event import EventHandler
from clusterpy.NodeSet import NodeSet

#: seconds within which a second Ctrl-C aborts (two-step interrupt)
INTERRUPT_WINDOW = 1.0

#: signals that end clush as Ctrl-C does, and make it exit with 128+signal
END_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


class SecondInterrupt(KeyboardInterrupt):
    """The Ctrl-C that aborts, in two-step mode."""


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP: the run stops at once (every command's process
    group killed, what is due printed, as for Ctrl-C), then clush exits
    with 128+signal."""

    def __init__(self, signum):
        KeyboardInterrupt.__init__(self, signum)
        self.signum = signum


def _end_signal(signum, frame):
    raise Terminated(signum)


def catch_end_signals():
    """Install the END_SIGNALS handler (a signal ignored when clush starts,
    as under nohup, stays ignored)."""
    for signum in END_SIGNALS:
        if signal.getsignal(signum) is not signal.SIG_IGN:
            signal.signal(signum, _end_signal)


class Interrupt(EventHandler):
    """Two-step Ctrl-C: the first press reports on the running command,
    a second one within INTERRUPT_WINDOW seconds aborts it.

    The report is printed by report(), from the loop waiting for the
    command: the engine's, through a timer that also wakes it every
    AWAKE_PERIOD seconds, or ttyloop()'s.  The command to report on is
    the run's control (a RunControl), set by run_command()."""

    AWAKE_PERIOD = 0.1

    def __init__(self, run):
        EventHandler.__init__(self)
        self.run = run
        self.last = None
        self.pending = False

    def sigint(self, signum, frame):
        """The SIGINT handler."""
        control = self.run.control
        if control is None or control.done:
            raise KeyboardInterrupt()
        now = monotonic()
        if self.last is not None and now - self.last <= INTERRUPT_WINDOW:
            control.muted = True
            raise SecondInterrupt()
        self.last = now
        self.pending = True

    def report(self):
        """Print what runs and what waits, if Ctrl-C asked for it."""
        control = self.run.control
        if not self.pending or control is None:
            return
        self.pending = False
        if control.done:
            return
        lines = ["%s: interrupt (^C again within %gs to abort)"
                 % (control.prog, INTERRUPT_WINDOW)]
        lines.extend(control.progress_report())
        control.inner._runtimer_clean()
        for line in lines:
            self.run.display.vprint_err(VERB_QUIET, line)
        control.inner._runtimer_set_dirty()

    def keep_awake(self, task):
        """Report, and wake the engine of `task` (run by the main thread)
        up, every AWAKE_PERIOD seconds: a signal that comes while the engine
        does not wait in the kernel (and so does not interrupt the wait)
        would otherwise have its handler run at the next event only."""
        task.timer(self.AWAKE_PERIOD, self, interval=self.AWAKE_PERIOD, autoclose=True)

    def ev_timer(self, timer):
        self.report()


def _keyboard_interrupt(signum):
    error = KeyboardInterrupt()
    error.signum = signum
    return error


def interrupted(task, display, nodes, signum=signal.SIGINT):
    """KeyboardInterrupt for an interrupted command, after printing what
    was gathered so far; it names the nodes that did not complete (and the
    signal that stopped it, `signum`)."""
    error = _keyboard_interrupt(signum)
    try:
        _print_interrupted(task, display, nodes, signum, error)
    except OSError:
        pass    # the terminal is gone (SIGHUP) or the reader left
    return error


def _print_interrupted(task, display, nodes, signum, error):
    done = NodeSet()
    if display.gather and task.default("stdout_msgtree"):
        warned = False
        gathered = sorted(((msg, nodes_of(keys)) for msg, keys in task.iter_buffers()),
                          key=bufnodeset_cmpkey)
        for msg, nodeset in gathered:
            if not warned:
                warned = True
                caught = "keyboard interrupt" if signum == signal.SIGINT \
                    else signal.Signals(signum).name
                display.vprint_err(VERB_STD, "Warning: Caught %s!" % caught)
            display.print_gather(nodeset, msg)
    level = VERB_STD if display.maxrc else VERB_QUIET
    for rc, names in task.iter_retcodes():
        nodeset = nodes_of(names)
        done.add(nodeset)
        if rc != 0 and display.gather:
            text = nodeset
            if len(nodeset) > 1:
                text = "%s (%d)" % (nodeset, len(nodeset))
            display.vprint_err(level, "clush: %s: exited with exit code %d" % (text, rc))
    if nodes is not None:
        error.uncompleted_nodes = NodeSet(nodes) - done
    if display.gather and task.num_timeout() > 0:
        display.vprint_err(level, "clush: %s: command timeout"
                           % nodes_of(task.iter_keys_timeout()))


def stop_command(run, nodes, signum=signal.SIGINT):
    """Stop the running command of `run` after printing what it gathered
    so far; return the KeyboardInterrupt to raise (see interrupted())."""
    task = run.task
    if run.control is not None:
        run.control.mute()
    if task.thread is threading.current_thread():
        # the engine stops the commands as the exception goes through it
        return interrupted(task, run.display, nodes, signum)
    task.suspend()
    try:
        if not run.running:
            return _keyboard_interrupt(signum)
        error = interrupted(task, run.display, nodes, signum)
    finally:
        task.resume()
    task.abort()
    task.join()
    return error
