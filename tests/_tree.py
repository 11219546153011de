"""Helpers of the tree mode tests: topologies on loopback addresses, the
gateway environment, and the gateway processes the test sshd runs.

Every node and gateway is this machine reached through the test sshd at
another loopback address (127.0.0.x); the gateway program runs there as
``<this interpreter> -m clusterpy.Gateway`` with this checkout first on
PYTHONPATH, both passed on by the head on the gateway's command line, as
ClusterShell does (CLUSTERSHELL_GW_PYTHON_EXECUTABLE, PYTHONPATH).
"""

import os
import sys
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def gateway_pids(logdir):
    """Pids of live gateway processes started for `logdir` (their
    CLUSTERSHELL_GW_LOG_DIR)."""
    needle = ("CLUSTERSHELL_GW_LOG_DIR=%s" % logdir).encode()
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open("/proc/%s/environ" % entry, "rb") as fh:
                environ = fh.read().split(b"\0")
            with open("/proc/%s/cmdline" % entry, "rb") as fh:
                cmdline = fh.read()
        except OSError:
            continue
        if needle in environ and b"Gateway" in cmdline:
            pids.append(int(entry))
    return pids


def wait_no_gateways(logdir, timeout=5.0):
    """Wait until no gateway process of `logdir` is left; return the ones
    still there after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        left = gateway_pids(logdir)
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.02)


class TreeSetup(object):
    """A task in tree mode on the test sshd; see tree_task()."""

    def __init__(self, task, sshd, tmp_path, monkeypatch):
        self.task = task
        self.sshd = sshd
        self.tmp = tmp_path
        self.logdir = str(tmp_path / "gwlogs")
        os.makedirs(self.logdir)
        self.monkeypatch = monkeypatch
        from clusterpy.Task import _getshorthostname
        self.root = _getshorthostname()

    def topology(self, *routes, root_to="127.0.0.2"):
        """Load a topology: the root reaches `root_to`, then `routes`
        (``"gw: nodes"`` lines)."""
        path = self.tmp / "topology.conf"
        lines = ["[routes]", "%s: %s" % (self.root, root_to)] + list(routes)
        path.write_text("\n".join(lines) + "\n")
        self.task.topology = self.task.router = None
        self.task.load_topology(str(path))
        return path

    def gateway_program(self, python):
        self.monkeypatch.setenv("CLUSTERSHELL_GW_PYTHON_EXECUTABLE", python)

    def script(self, name, body):
        """An executable shell script in the test directory."""
        path = self.tmp / name
        path.write_text("#!/bin/sh\n" + body)
        path.chmod(0o755)
        return str(path)

    def only_on(self, address, command):
        import _sshd
        return _sshd.only_on(self.sshd, address, command)


@pytest.fixture(name="tree")
def tree_fixture(ssh_task, sshd, tmp_path, monkeypatch):
    """TreeSetup of the ssh task; afterwards the task has no topology, no
    channel left, and no gateway process may outlive the test."""
    pythonpath = os.environ.get("PYTHONPATH")
    monkeypatch.setenv("PYTHONPATH", ROOT + (":" + pythonpath if pythonpath else ""))
    monkeypatch.setenv("CLUSTERSHELL_GW_PYTHON_EXECUTABLE", sys.executable)
    setup = TreeSetup(ssh_task, sshd, tmp_path, monkeypatch)
    monkeypatch.setenv("CLUSTERSHELL_GW_LOG_DIR", setup.logdir)
    saved_grooming = ssh_task.info("grooming_delay")
    saved_info = dict(ssh_task._info)
    yield setup
    task = ssh_task
    gateways = dict(task.gateways)
    task.topology = task.router = None
    task.gateways.clear()
    task.set_info("grooming_delay", saved_grooming)
    # info keys a test set (tree_default:*, connect_timeout) do not leak
    task._info.clear()
    task._info.update(saved_info)
    task.set_default("tree_gateway_module", "clusterpy.Gateway")
    task.set_default("distant_workername", "ssh")
    assert not gateways, "channels left open: %r" % gateways
    assert not wait_no_gateways(setup.logdir), "gateway processes left running"
