"""Tree mode runs: commands, stdin, copies and timeouts through gateways
(real gateway processes on the test sshd, see tests/_tree.py)."""

import os

import pytest

from _events import Recorder
from _tree import tree_fixture  # noqa: F401 (the "tree" fixture)
from clusterpy.NodeSet import NodeSet
from clusterpy.Worker.Tree import TreeWorker


def _rcs(worker):
    return {str(nodes): rc for rc, nodes in worker.iter_retcodes()}


def test_one_gateway_command(tree):
    tree.topology("127.0.0.2: 127.0.0.[10-11]")
    task = tree.task
    rec = Recorder()
    worker = task.shell("echo out; echo err >&2; exit 3", nodes="127.0.0.[10-11]",
                        handler=rec, stderr=True)
    assert isinstance(worker, TreeWorker)
    task.resume()
    assert _rcs(worker) == {"127.0.0.[10-11]": 3}
    for node in ("127.0.0.10", "127.0.0.11"):
        assert worker.node_buffer(node) == b"out"
        assert worker.node_error(node) == b"err"
        events = rec.of(node)
        assert events[0] == ("pickup", node)
        assert ("read", node, "stdout", b"out") in events
        assert ("read", node, "stderr", b"err") in events
        assert events[-1] == ("hup", node, 3)
    assert rec.kinds()[0] == "start" and rec.events[-1] == ("close", False)
    assert task.max_retcode() == 3 and task.key_buffer("127.0.0.10") == b"out"
    assert task.gateways == {}


def test_two_gateways_and_direct_nodes(tree):
    tree.topology("127.0.0.2: 127.0.0.[10-11]", "127.0.0.3: 127.0.0.[12-13]",
                  root_to="127.0.0.[2-3]")
    task = tree.task
    command = 'echo "$SSH_CONNECTION" | cut -d" " -f3; exit 7'
    worker = task.shell(command, nodes="127.0.0.[10-13],127.0.0.20")
    task.resume()
    assert _rcs(worker) == {"127.0.0.[10-13,20]": 7}
    for node in NodeSet("127.0.0.[10-13,20]"):
        assert worker.node_buffer(node) == node.encode()
    # gathered as ClusterShell does: identical outputs folded
    assert len(list(worker.iter_buffers())) == 5


def test_two_level_route(tree):
    tree.topology("127.0.0.2: 127.0.0.3", "127.0.0.3: 127.0.0.[10-11]")
    task = tree.task
    rec = Recorder()
    worker = task.shell('echo "$SSH_CONNECTION" | cut -d" " -f1,3', nodes="127.0.0.[10-11]",
                        handler=rec)
    task.resume()
    assert _rcs(worker) == {"127.0.0.[10-11]": 0}
    # the nodes were reached from a process connected to 127.0.0.3 (the
    # sub-gateway); every connection comes from 127.0.0.1 on loopback
    assert worker.node_buffer("127.0.0.10") == b"127.0.0.1 127.0.0.10"
    assert sorted(ev[1] for ev in rec.events if ev[0] == "hup") == ["127.0.0.10", "127.0.0.11"]


def test_stdin_write_and_eof(tree):
    tree.topology("127.0.0.2: 127.0.0.[10-11]")
    task = tree.task
    rec = Recorder()
    worker = task.shell("cat; echo done", nodes="127.0.0.[10-11]", handler=rec)
    worker.write(b"line1\nline2\n")
    worker.set_write_eof()
    task.resume()
    assert worker.node_buffer("127.0.0.11") == b"line1\nline2\ndone"
    assert _rcs(worker) == {"127.0.0.[10-11]": 0}
    written = [ev for ev in rec.events if ev[0] == "written"]
    assert sorted(ev[1] for ev in written) == ["127.0.0.10", "127.0.0.11"]
    assert all(ev[2:] == ("stdin", 12) for ev in written)


def test_stdin_off(tree):
    tree.topology("127.0.0.2: 127.0.0.10")
    worker = tree.task.shell("cat; echo end", nodes="127.0.0.10", stdin=False)
    tree.task.resume()
    assert worker.node_buffer("127.0.0.10") == b"end"


def test_failing_node_and_timeout(tree):
    tree.topology("127.0.0.2: 127.0.0.[10-12]")
    task = tree.task
    command = "%s; %s; echo ok" % (tree.only_on("127.0.0.10", "exit 5"),
                                   tree.only_on("127.0.0.11", "sleep 5"))
    rec = Recorder()
    worker = task.shell(command, nodes="127.0.0.[10-12]", handler=rec, timeout=1.5)
    task.resume()
    assert _rcs(worker) == {"127.0.0.10": 5, "127.0.0.12": 0}
    assert list(worker.iter_keys_timeout()) == ["127.0.0.11"]
    assert worker.num_timeout() == 1 and task.num_timeout() == 1
    assert rec.events[-1] == ("close", True)
    assert ("timeout",) in rec.events


def test_remote_false_runs_on_gateway(tree):
    tree.topology("127.0.0.2: 127.0.0.[10-11]")
    task = tree.task
    worker = task.shell('echo %h $(echo "$SSH_CONNECTION" | cut -d" " -f3)',
                        nodes="127.0.0.[10-11]", remote=False)
    task.resume()
    # run by the gateway (reached at 127.0.0.2) itself, %h replaced there
    assert worker.node_buffer("127.0.0.10") == b"127.0.0.10 127.0.0.2"
    assert worker.node_buffer("127.0.0.11") == b"127.0.0.11 127.0.0.2"


def test_tree_false_and_auto_tree(tree):
    tree.topology("127.0.0.2: 127.0.0.10")
    task = tree.task
    worker = task.shell("true", nodes="127.0.0.10", tree=False)
    assert not isinstance(worker, TreeWorker)
    task.set_default("auto_tree", False)
    try:
        assert not isinstance(task.shell("true", nodes="127.0.0.10"), TreeWorker)
    finally:
        task.set_default("auto_tree", True)
    task.resume()
    assert task.gateways == {}


def test_channel_shared_by_workers(tree):
    tree.topology("127.0.0.2: 127.0.0.[10-11]")
    tree.monkeypatch.setenv("CLUSTERSHELL_GW_LOG_LEVEL", "DEBUG")
    task = tree.task
    first = task.shell("echo one", nodes="127.0.0.10")
    second = task.shell("echo two", nodes="127.0.0.11")
    seen = []

    class Snoop(Recorder):
        def ev_timer(self, timer):
            seen.append({gw: len(entry[1]) for gw, entry in task.gateways.items()})

    task.timer(0.0, Snoop())
    task.resume()
    assert seen == [{"127.0.0.2": 2}]
    assert first.node_buffer("127.0.0.10") == b"one"
    assert second.node_buffer("127.0.0.11") == b"two"
    with open(os.path.join(tree.logdir, "%s.gw.log" % tree.root)) as fh:
        log = fh.read()
    # one gateway process ran both workers' commands
    assert log.count("starting gateway") == 1
    assert log.count("shell on") == 2


def test_grooming_off(tree):
    tree.topology("127.0.0.2: 127.0.0.[10-11]")
    task = tree.task
    task.set_info("grooming_delay", 0)
    worker = task.shell("seq 3", nodes="127.0.0.[10-11]")
    task.resume()
    assert worker.node_buffer("127.0.0.10") == b"1\n2\n3"
    assert _rcs(worker) == {"127.0.0.[10-11]": 0}


@pytest.mark.parametrize("directory", [False, True], ids=["file", "dir"])
def test_copy(tree, directory):
    tree.topology("127.0.0.2: 127.0.0.[10-11]")
    task = tree.task
    src = tree.tmp / "src"
    if directory:
        src.mkdir()
        (src / "a").write_bytes(b"alpha\n")
        (src / "sub").mkdir()
        (src / "sub" / "b").write_bytes(b"\x00\xffbeta")
    else:
        src.write_bytes(b"payload\x00\n" * 1000)
    dest = tree.tmp / "dest"
    dest.mkdir()
    worker = task.copy(str(src), str(dest) + "/", nodes="127.0.0.[10-11]")
    task.resume()
    assert _rcs(worker) == {"127.0.0.[10-11]": 0}
    if directory:
        assert (dest / "src" / "a").read_bytes() == b"alpha\n"
        assert (dest / "src" / "sub" / "b").read_bytes() == b"\x00\xffbeta"
    else:
        assert (dest / "src").read_bytes() == b"payload\x00\n" * 1000


@pytest.mark.parametrize("directory", [False, True], ids=["file", "dir"])
def test_rcopy(tree, directory):
    tree.topology("127.0.0.2: 127.0.0.10")
    task = tree.task
    src = tree.tmp / "remote"
    if directory:
        src.mkdir()
        (src / "f").write_bytes(b"in a dir\n")
    else:
        src.write_bytes(bytes(range(256)) * 300)
    dest = tree.tmp / "back"
    dest.mkdir()
    worker = task.rcopy(str(src), str(dest), nodes="127.0.0.10")
    task.resume()
    assert _rcs(worker) == {"127.0.0.10": 0}
    # named after the node's short host name (tar --transform on the node)
    got = dest / ("remote.%s" % tree.root)
    if directory:
        assert (got / "f").read_bytes() == b"in a dir\n"
    else:
        assert got.read_bytes() == bytes(range(256)) * 300


def test_copy_missing_destination_reports_error(tree):
    tree.topology("127.0.0.2: 127.0.0.10")
    task = tree.task
    src = tree.tmp / "f"
    src.write_text("x")
    worker = task.copy(str(src), str(tree.tmp / "no" / "such") + "/", nodes="127.0.0.10")
    task.resume()
    assert worker.node_retcode("127.0.0.10") != 0
    assert worker.node_error("127.0.0.10")


def test_short_base64_lines_both_ways(tree):
    # passed on to the gateway by the head: payloads of both sides span
    # many lines of 8 characters
    tree.monkeypatch.setenv("CLUSTERSHELL_GW_B64_LINE_LENGTH", "8")
    tree.topology("127.0.0.2: 127.0.0.[10-11]")
    task = tree.task
    worker = task.shell("cat; seq 50", nodes="127.0.0.[10-11]")
    worker.write(b"x" * 100 + b"\n")
    worker.set_write_eof()
    task.resume()
    expected = b"x" * 100 + b"\n" + b"\n".join(b"%d" % i for i in range(1, 51))
    assert worker.node_buffer("127.0.0.10") == expected
    assert _rcs(worker) == {"127.0.0.[10-11]": 0}
