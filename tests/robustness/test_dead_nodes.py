"""Dead nodes: nothing listening, a listener that never speaks, an
unroutable address, and an sshd that dies in the middle of a run.  Each
node gets its error (ssh's message, exit code 255) within a bound set by
the connect timeout, and the others are not held up."""

import os
import signal

import pytest

import _sshd
from _run import Proc, clush_argv, files_in, wait_for


def descendants(pid):
    """pid and every process under it (read from /proc)."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/%s/stat" % entry) as fh:
                    stat = fh.read()
            except OSError:
                continue
            parents.setdefault(int(stat[stat.rindex(")") + 2:].split()[1]), []).append(
                int(entry))
    found, todo = [], [pid]
    while todo:
        found.append(todo.pop())
        todo.extend(parents.get(found[-1], ()))
    return found


def ssh_clush(sshd, *args):
    return clush_argv("-o", sshd.ssh_options, "-S", *args)


@pytest.mark.parametrize("node, message", [
    ("cp-refused", b"Connection refused"),
    ("cp-silent", b"timed out"),
    ("cp-blackhole", b""),
])
def test_dead_node_beside_live_ones(sshd, tmp_path, node, message):
    proc = Proc(ssh_clush(sshd, "-t", "2", "-w", "node[1-3],%s" % node, "-b",
                          "echo up"), tmp_path)
    code, out, err, took = proc.finish(timeout=30)
    assert code == 255
    assert out == b"---------------\nnode[1-3] (3)\n---------------\nup\n"
    assert b"clush: %s: exited with exit code 255" % node.encode() in err
    assert message in err
    assert took < 15        # connect timeout 2 s, ssh's own retries aside
    assert not sshd.client_pids(settle=2.0)


def test_sshd_dies_mid_run(tmp_path):
    why = _sshd.missing_binaries()
    if why:
        pytest.skip(why)
    marks = tmp_path / "started"
    marks.mkdir()
    with _sshd.Sshd() as server:
        proc = Proc(ssh_clush(server, "-w", "node[1-5]", "-b",
                              "touch $(mktemp -p %s); exec sleep 30" % marks), tmp_path)
        wait_for(lambda: files_in(marks) == 5, timeout=20, what="every command started")
        # the node dies: sshd, its connections and what they run
        for pid in descendants(server.proc.pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:  # ended with its parent meanwhile
                pass
        code, out, err, took = proc.finish(timeout=30)
        assert code == 255 and took < 20
        assert b"clush: node[1-5] (5): exited with exit code 255" in err
        assert proc.survivors() == []
        assert not server.client_pids(settle=2.0)
