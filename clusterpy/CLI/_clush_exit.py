"""How clush ends: clush_exit() stops what still runs and exits with the
status; clush_excepthook() turns each error into ClusterShell's message
and exit code (1 for a configuration error, 128+signal for an interrupt,
handle_generic_error()'s code for the library's errors).
"""

import os
import signal
import sys

from clusterpy.CLI.Config import ClushConfigError
from clusterpy.CLI._clush_interrupt import END_SIGNALS
from clusterpy.Task import Task, task_self


def _stop_all_tasks():
    """Abort every task (killing what they still run), best effort."""
    with Task._task_lock:
        tasks = list(Task._tasks.values())
    for task in tasks:
        try:
            task.abort(kill=True)
        except Exception:  # noqa: BLE001, S110 (exiting anyway: stop the others)
            pass


def clush_exit(status, task=None):
    """Exit with `status`: through the task (aborted, then joined) if
    given, else at once, once every task is stopped."""
    if task:
        task.abort()
        task.join()
        sys.exit(status)
    _stop_all_tasks()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    # no interpreter clean-up: a stdin reader thread may be blocked
    os._exit(status)


def _interrupt_exit(exp):
    """Exit of an interrupt (Ctrl-C, END_SIGNALS): its message and 128+signal."""
    signum = getattr(exp, "signum", signal.SIGINT)
    for ended in (signal.SIGINT,) + END_SIGNALS:
        signal.signal(ended, signal.SIG_IGN)    # exiting: no second one
    what = "Keyboard interrupt" if signum == signal.SIGINT \
        else "Terminated by %s" % signal.Signals(signum).name
    nodes = getattr(exp, "uncompleted_nodes", None)
    try:
        if nodes:
            print("%s (%s did not complete)." % (what, nodes), file=sys.stderr)
        else:
            print("%s." % what, file=sys.stderr)
    except OSError:
        pass    # the terminal is gone (SIGHUP)
    clush_exit(128 + signum)


def clush_excepthook(extype, exp, traceback):
    """sys.excepthook (and the tasks' excepthook) of clush: the message and
    exit code of each error, as ClusterShell's clush prints them."""
    from clusterpy.CLI.Error import GENERIC_ERRORS, handle_generic_error
    if isinstance(exp, ClushConfigError):
        print("ERROR: %s" % exp, file=sys.stderr)
        clush_exit(1)
    elif isinstance(exp, KeyboardInterrupt):
        _interrupt_exit(exp)
    elif isinstance(exp, GENERIC_ERRORS):
        clush_exit(handle_generic_error(exp))
    # a bug: the traceback, then out (an idle task thread would keep the
    # interpreter from exiting)
    task_self().default_excepthook(extype, exp, traceback)
    clush_exit(1)
