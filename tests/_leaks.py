"""Resource accounting for the autouse leak fixture (conftest.py): the
process's fds and children, and what open reactors own.

Only reactors that are still open are checked (a closed one owns nothing),
and only if clusterpy._reactor was imported at all, so that test modules
that never touch the reactor do not pay for loading the C module.
"""
import os
import sys


def reactor_leaks():
    """[(reactor, {counter: value})] for open reactors owning anything."""
    module = sys.modules.get("clusterpy._reactor")
    if module is None:
        return []
    leaks = []
    for reactor in module.live_reactors():
        held = {name: value for name, value in reactor.counters().items() if value}
        if held:
            leaks.append((reactor, held))
    return leaks


def open_fds():
    """Set of fds open in this process."""
    return set(int(fd) for fd in os.listdir("/proc/self/fd"))


def child_pids():
    """Pids of this process's children, whatever thread started them."""
    pids = set()
    base = "/proc/self/task"
    for tid in os.listdir(base):
        try:
            with open(os.path.join(base, tid, "children")) as fh:
                pids.update(int(p) for p in fh.read().split())
        except OSError:
            pass  # thread exited meanwhile
    return pids
