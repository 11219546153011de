"""Tree mode when things go wrong: unreachable, dying, silent and garbage
speaking gateways, and aborts from event handlers.  Every node must get a
result, nothing may hang, and no ssh or gateway process may be left."""

import os
import time

import pytest

from _events import Recorder
from _tree import tree_fixture  # noqa: F401 (the "tree" fixture)


def _rcs(worker):
    return {str(nodes): rc for rc, nodes in worker.iter_retcodes()}


def test_unreachable_gateway_fails_its_nodes_only(tree):
    tree.topology("cp-refused: 127.0.0.[10-11]", "127.0.0.3: 127.0.0.12",
                  root_to="cp-refused,127.0.0.3")
    task = tree.task
    worker = task.shell("echo hi", nodes="127.0.0.[10-12]", stderr=True)
    start = time.monotonic()
    task.resume()
    assert time.monotonic() - start < 10
    assert _rcs(worker) == {"127.0.0.[10-11]": os.EX_PROTOCOL, "127.0.0.12": 0}
    assert worker.node_buffer("127.0.0.12") == b"hi"
    assert worker.node_error("127.0.0.10") == b"gateway cp-refused is unreachable"
    # the gateway's own error (ssh's) is shown under its name, not dropped
    assert b"refused" in worker.node_error("cp-refused")


def test_failover_to_other_gateway_of_group(tree):
    tree.topology("cp-refused,127.0.0.3: 127.0.0.[10-13]", root_to="cp-refused,127.0.0.3")
    task = tree.task
    worker = task.shell("echo hi", nodes="127.0.0.[10-13]")
    task.resume()
    assert _rcs(worker) == {"127.0.0.[10-13]": 0}
    assert worker.node_buffer("127.0.0.13") == b"hi"


def test_gateway_dying_mid_run(tree):
    tree.topology("127.0.0.2: 127.0.0.[10-11]", "127.0.0.3: 127.0.0.12",
                  root_to="127.0.0.[2-3]")
    task = tree.task
    # remote=False: the command is a child of the gateway process; on
    # 127.0.0.10 it kills its gateway after the channel is set up
    kill = tree.only_on("127.0.0.2", '[ %h = 127.0.0.10 ] && kill -9 $PPID')
    worker = task.shell("%s; sleep 0.5; echo alive" % kill, nodes="127.0.0.[10-12]",
                        remote=False)
    task.resume()
    rcs = _rcs(worker)
    assert rcs["127.0.0.12"] == 0
    assert rcs["127.0.0.[10-11]"] == os.EX_PROTOCOL
    assert worker.node_buffer("127.0.0.12") == b"alive"


def test_garbage_answering_gateway(tree):
    tree.topology("127.0.0.2: 127.0.0.[10-11]")
    program = tree.script("garbage", "echo 'this is not <xml'; exec cat >/dev/null\n")
    tree.gateway_program(program)
    task = tree.task
    worker = task.shell("true", nodes="127.0.0.[10-11]", stderr=True)
    start = time.monotonic()
    task.resume()
    assert time.monotonic() - start < 10
    assert _rcs(worker) == {"127.0.0.[10-11]": os.EX_PROTOCOL}
    assert worker.node_error("127.0.0.2")   # the parse error, under the gateway


def test_silent_gateway_hits_connect_timeout(tree):
    tree.topology("127.0.0.2: 127.0.0.10")
    program = tree.script("silent", "exec cat >/dev/null\n")
    tree.gateway_program(program)
    task = tree.task
    task.set_info("connect_timeout", 1)
    worker = task.shell("true", nodes="127.0.0.10", stderr=True)
    start = time.monotonic()
    task.resume()
    assert time.monotonic() - start < 6
    assert worker.node_retcode("127.0.0.10") == os.EX_PROTOCOL
    assert b"connect timeout" in worker.node_error("127.0.0.2")


def test_gateway_error_before_setup_is_shown(tree):
    tree.topology("127.0.0.2: 127.0.0.10")
    tree.gateway_program(tree.script("broken", "echo 'gateway: no python here' >&2; exit 3\n"))
    task = tree.task
    worker = task.shell("true", nodes="127.0.0.10", stderr=True)
    task.resume()
    assert worker.node_error("127.0.0.2") == b"gateway: no python here"
    assert worker.node_retcode("127.0.0.10") == os.EX_PROTOCOL


class _AbortOn(Recorder):
    def __init__(self, event):
        Recorder.__init__(self)
        self.event = event

    def _maybe_abort(self, worker, event):
        if event == self.event:
            self.event = None
            worker.abort()

    def ev_start(self, worker):
        Recorder.ev_start(self, worker)
        self._maybe_abort(worker, "start")

    def ev_pickup(self, worker, node):
        Recorder.ev_pickup(self, worker, node)
        self._maybe_abort(worker, "pickup")

    def ev_read(self, worker, node, sname, msg):
        Recorder.ev_read(self, worker, node, sname, msg)
        self._maybe_abort(worker, "read")

    def ev_hup(self, worker, node, rc):
        Recorder.ev_hup(self, worker, node, rc)
        self._maybe_abort(worker, "hup")


@pytest.mark.parametrize("event", ["start", "pickup", "read", "hup"])
def test_abort_from_handler(tree, event):
    tree.topology("127.0.0.2: 127.0.0.[10-12]")
    task = tree.task
    rec = _AbortOn(event)
    command = "%s; echo line; sleep 5" % tree.only_on("127.0.0.10", "echo early; exit 0")
    worker = task.shell(command, nodes="127.0.0.[10-12]", handler=rec)
    start = time.monotonic()
    task.resume()
    assert time.monotonic() - start < 4.5
    assert rec.events[-1] == ("close", False)
    assert rec.kinds().count("close") == 1
    # every node has one end: its return code, or 76 for the aborted ones
    hups = [ev[1] for ev in rec.events if ev[0] == "hup"]
    assert sorted(hups) == ["127.0.0.10", "127.0.0.11", "127.0.0.12"]
    assert set(rc for rc, _ in worker.iter_retcodes()) <= {0, os.EX_PROTOCOL}
    assert task.gateways == {}


def test_hung_gateway_times_out_on_the_head(tree):
    tree.topology("127.0.0.2: 127.0.0.10")
    task = tree.task
    task.set_info("connect_timeout", 2)
    # the command (a child of the gateway: remote=False) stops its gateway
    # for a while: no result comes, the head gives up on its own after the
    # command timeout plus the connect timeout
    worker = task.shell("kill -STOP $PPID; sleep 3.5; kill -CONT $PPID", nodes="127.0.0.10",
                        remote=False, timeout=0.5)
    start = time.monotonic()
    task.resume()
    assert time.monotonic() - start < 3.4
    assert list(worker.iter_keys_timeout()) == ["127.0.0.10"]
    assert list(worker.iter_retcodes()) == []


def test_task_abort_from_handler(tree):
    tree.topology("127.0.0.2: 127.0.0.[10-11]")
    task = tree.task

    class Aborter(Recorder):
        def ev_read(self, worker, node, sname, msg):
            Recorder.ev_read(self, worker, node, sname, msg)
            worker.task.abort()

    rec = Aborter()
    task.shell("echo go; sleep 5", nodes="127.0.0.[10-11]", handler=rec)
    start = time.monotonic()
    task.resume()
    assert time.monotonic() - start < 4.5
    assert ("read", "127.0.0.10", "stdout", b"go") in rec.events or \
        ("read", "127.0.0.11", "stdout", b"go") in rec.events
    assert task.gateways == {}


def test_gateway_error_message_after_setup(tree):
    tree.topology("127.0.0.2: 127.0.0.[10-11]")
    answer = ('<?xml version="1.0" encoding="utf-8"?>\\n'
              '<channel version="1.10.1"><message type="ACK" msgid="0" ack="0"></message>\\n'
              '<message type="ERR" msgid="1" reason="cannot run that"></message>\\n')
    tree.gateway_program(tree.script("erring", "printf '%s'; exec cat >/dev/null\n" % answer))
    task = tree.task
    worker = task.shell("true", nodes="127.0.0.[10-11]", stderr=True)
    task.resume()
    assert worker.node_error("127.0.0.2") == b"cannot run that"
    assert _rcs(worker) == {"127.0.0.[10-11]": os.EX_PROTOCOL}


# --- a gateway lost mid-run: its process, its ssh, its sshd -------------------

def _proc_ppid(pid):
    with open("/proc/%d/stat" % pid) as fh:
        return int(fh.read().rsplit(")", 1)[1].split()[1])


def _proc_comm(pid):
    with open("/proc/%d/comm" % pid) as fh:
        return fh.read().strip()


def _gateway_pid(tree, address):
    """The gateway process serving `address` (its SSH_CONNECTION)."""
    from _tree import gateway_pids
    needle = (" %s %d" % (address, tree.sshd.port)).encode()
    for pid in gateway_pids(tree.logdir):
        try:
            with open("/proc/%d/environ" % pid, "rb") as fh:
                env = fh.read().split(b"\0")
        except OSError:
            continue
        if any(item.startswith(b"SSH_CONNECTION=") and item.endswith(needle) for item in env):
            return pid
    return None


def _victim(tree, address, what):
    """The pid to signal: the gateway, the head's ssh to it, or the sshd
    process serving that connection."""
    pid = _gateway_pid(tree, address)
    if pid is None:
        from _tree import gateway_pids
        info = []
        for gpid in gateway_pids(tree.logdir):
            with open("/proc/%d/environ" % gpid, "rb") as fh:
                info.append([e for e in fh.read().split(b"\0") if e.startswith(b"SSH_C")])
        raise AssertionError("no gateway at %s: %r" % (address, info))
    if what == "gateway":
        return pid
    if what == "sshd":
        while not _proc_comm(pid).startswith("sshd"):
            pid = _proc_ppid(pid)
        return pid
    for entry in os.listdir("/proc"):       # what == "ssh": the head's child
        if entry.isdigit():
            try:
                if _proc_ppid(int(entry)) != os.getpid() or _proc_comm(int(entry)) != "ssh":
                    continue
                with open("/proc/%s/cmdline" % entry, "rb") as fh:
                    if address.encode() in fh.read().split(b"\0"):
                        return int(entry)
            except OSError:
                continue
    raise AssertionError("no ssh to %s" % address)


def _marked(marker):
    left = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/%s/cmdline" % entry, "rb") as fh:
                    if marker.encode() in fh.read():
                        left.append(int(entry))
            except OSError:
                pass
    return left


class _Signal(Recorder):
    """Sends `signum` to `what` of gateway `address` once its first node
    printed its first line."""

    def __init__(self, tree, address, what, signum):
        Recorder.__init__(self)
        self.args = tree, address, what, signum
        self.pid = None

    def ev_read(self, worker, node, sname, msg):
        Recorder.ev_read(self, worker, node, sname, msg)
        if self.pid is None and node == "127.0.0.10":
            tree, address, what, signum = self.args
            self.pid = _victim(tree, address, what)
            os.kill(self.pid, signum)


@pytest.mark.parametrize("what", ["gateway", "ssh", "sshd"])
def test_gateway_lost_mid_run(tree, what):
    """SIGKILL of a gateway, of the head's ssh to it, or of the sshd serving
    it: its nodes end with 76, the others finish, nothing is left."""
    import signal
    tree.topology("127.0.0.2: 127.0.0.[10-11]", "127.0.0.3: 127.0.0.12",
                  root_to="127.0.0.[2-3]")
    task = tree.task
    task.set_info("tree_default:distant_workername", "exec")
    marker = "lost%s%d" % (what, os.getpid())
    killer = _Signal(tree, "127.0.0.2", what, signal.SIGKILL)
    worker = task.shell("echo start; sh -c 'sleep 1.5' %s; echo done" % marker,
                        nodes="127.0.0.[10-12]", stderr=True, handler=killer)
    start = time.monotonic()
    task.resume()
    assert time.monotonic() - start < 5
    assert killer.pid is not None
    assert _rcs(worker) == {"127.0.0.[10-11]": os.EX_PROTOCOL, "127.0.0.12": 0}
    assert worker.node_buffer("127.0.0.10") == b"start"
    # the commands of a gateway lost with SIGKILL end with their input
    # (exec worker: its orphans run their course); nothing else is left
    deadline = time.monotonic() + 3
    while _marked(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _marked(marker)


def test_gateway_hung_mid_run(tree):
    """The sshd serving a gateway stopped (SIGSTOP): with a command timeout
    its nodes time out on the head, the others finish."""
    import signal
    tree.topology("127.0.0.2: 127.0.0.[10-11]", "127.0.0.3: 127.0.0.12",
                  root_to="127.0.0.[2-3]")
    task = tree.task
    task.set_info("tree_default:distant_workername", "exec")
    task.set_info("connect_timeout", 1)
    stopper = _Signal(tree, "127.0.0.2", "sshd", signal.SIGSTOP)
    worker = task.shell("echo start; sleep 1; echo done", nodes="127.0.0.[10-12]",
                        timeout=1.5, handler=stopper)
    start = time.monotonic()
    try:
        task.resume()
    finally:
        if stopper.pid is not None:
            os.kill(stopper.pid, signal.SIGCONT)
    assert time.monotonic() - start < 6
    assert sorted(worker.iter_keys_timeout()) == ["127.0.0.10", "127.0.0.11"]
    assert _rcs(worker) == {"127.0.0.12": 0}
    assert worker.node_buffer("127.0.0.12") == b"start\ndone"
