"""Shared pytest fixtures.

The autouse ``no_leaks`` fixture checks resource hygiene after every test:
the process must have no more open fds, child processes or threads than
before the test, and every reactor still open must own nothing (all its
counters zero: see tests/_leaks.py).
"""
import gc
import os
import threading
import time

import pytest

from _leaks import child_pids, open_fds, reactor_leaks


def _settle(check, timeout=2.0):
    """Wait up to timeout for check() to return a false value; return it."""
    deadline = time.monotonic() + timeout
    while True:
        gc.collect()
        left = check()
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.01)


@pytest.fixture(autouse=True)
def no_leaks(request):
    if request.node.get_closest_marker("allow_leaks"):
        yield
        return
    gc.collect()
    fds = open_fds()
    children = child_pids()
    threads = set(threading.enumerate())
    yield
    leaked_fds = _settle(lambda: open_fds() - fds)
    leaked_children = _settle(lambda: child_pids() - children)
    leaked_threads = _settle(lambda: [t for t in threading.enumerate()
                                      if t not in threads and t.is_alive()])
    leaked_reactors = _settle(reactor_leaks)
    problems = []
    if leaked_fds:
        targets = {}
        for fd in sorted(leaked_fds):
            try:
                targets[fd] = os.readlink("/proc/self/fd/%d" % fd)
            except OSError:
                targets[fd] = "?"
        problems.append("fds left open: %r" % targets)
    if leaked_children:
        problems.append("child processes left: %r" % sorted(leaked_children))
    if leaked_threads:
        problems.append("threads left: %r" % leaked_threads)
    if leaked_reactors:
        problems.append("reactor resources left: %r" % leaked_reactors)
    assert not problems, "; ".join(problems)


@pytest.fixture
def task():
    """task_self(), its fanout restored afterwards; not left running.
    (Modules needing another set-up define their own `task` fixture.)"""
    from clusterpy.Task import task_self
    task = task_self()
    fanout = task.info("fanout")
    yield task
    task.set_info("fanout", fanout)
    assert not task.running()


def pytest_configure(config):
    config.addinivalue_line("markers",
                            "allow_leaks: skip the fd/child/thread leak check")


# --- distant workers: the test OpenSSH server (tests/_sshd.py) ---

@pytest.fixture(scope="session")
def sshd():
    """A private sshd on a free port, started once for the session; skips
    (saying why) only where sshd or the ssh client is not installed."""
    import _sshd
    why = _sshd.missing_binaries()
    if why:
        pytest.skip(why)
    server = _sshd.Sshd().start()
    yield server
    server.stop()


@pytest.fixture
def pdsh_sshd(sshd, monkeypatch):
    """The test sshd, with the environment making pdsh/pdcp/rpdcp reach it
    through ssh; skips only where pdsh is not installed."""
    import shutil
    if shutil.which("pdsh") is None:
        pytest.skip("pdsh is not installed (apt-get install pdsh)")
    for name, value in sshd.pdsh_env().items():
        monkeypatch.setenv(name, value)
    return sshd


#: task info keys the distant worker tests may change
_DISTANT_INFO_KEYS = ("ssh_path", "ssh_user", "ssh_options", "scp_path", "scp_user",
                      "scp_options", "rsh_path", "rsh_user", "rsh_options", "rcp_path",
                      "rcp_options", "pdsh_path", "pdcp_path", "rpdcp_path", "fanout",
                      "connect_timeout", "command_timeout", "debug", "print_debug")


@pytest.fixture
def ssh_task(sshd):
    """task_self() reaching the test sshd (ssh_options); the distant info
    keys and the stderr default are restored afterwards, and no ssh
    client of the test may outlive it."""
    from clusterpy.Task import task_self
    task = task_self()
    saved = {key: task.info(key) for key in _DISTANT_INFO_KEYS}
    saved_stderr = task.default("stderr")
    task.set_info("ssh_options", sshd.ssh_options)
    yield task
    for key, value in saved.items():
        task.set_info(key, value)
    task.set_default("stderr", saved_stderr)
    assert not sshd.client_pids(settle=2.0), "ssh clients left running"
