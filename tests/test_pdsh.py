"""WorkerPdsh with the real pdsh/pdcp/rpdcp, going through ssh to the test
sshd (PDSH_RCMD_TYPE=ssh in the environment the worker passes on): the
parse of ``node: line`` output and of pdsh's exit reports."""
import os
import time

import pytest

from _sshd import abort_on_timer, recorder, shell_with_default_worker
from clusterpy.NodeSet import NodeSet
from clusterpy.Worker.EngineClient import EngineClientNotSupportedError
from clusterpy.Worker.Pdsh import WorkerPdsh
from clusterpy.Worker.Worker import WorkerError


@pytest.fixture
def pdsh_task(ssh_task, pdsh_sshd):
    return ssh_task


def run_pdsh(task, nodes, handler=None, **kwargs):
    worker = WorkerPdsh(nodes, handler=handler, **kwargs)
    task.schedule(worker)
    task.resume()
    return worker


def retcodes(worker):
    return {rc: NodeSet.fromlist(nodes) for rc, nodes in worker.iter_retcodes()}


def test_outputs_and_events(pdsh_task):
    rec = recorder()
    nodes = NodeSet("node[1-3]")
    worker = run_pdsh(pdsh_task, nodes, rec, command="echo a: b; echo; echo c")
    for node in nodes:
        assert worker.node_buffer(node) == b"a: b\n\nc"
        assert worker.node_retcode(node) == 0
        events = rec.of(node)
        assert events[0] == ("pickup", node)
        assert events[-1] == ("hup", node, 0)
        assert [ev[3] for ev in events[1:-1]] == [b"a: b", b"", b"c"]
    assert rec.events[0] == ("start",)
    assert rec.events[-1] == ("close", False)
    # pdsh starts all the nodes at once
    assert rec.kinds()[:4] == ["start", "pickup", "pickup", "pickup"]
    assert worker.command == "echo a: b; echo; echo c"


def test_last_line_without_newline_is_kept(pdsh_task):
    # ClusterShell drops it (docs/compat.md)
    worker = run_pdsh(pdsh_task, "node1", command="echo a; printf noeol")
    assert worker.node_buffer("node1") == b"a\nnoeol"


def test_return_codes_from_pdsh_reports(pdsh_task):
    worker = run_pdsh(pdsh_task, "node[1-2]", command="sh -c 'exit 3'")
    assert retcodes(worker) == {3: NodeSet("node[1-2]")}
    assert pdsh_task.max_retcode() == 3
    worker = run_pdsh(pdsh_task, "node1", command="no-such-command-cp", stderr=True)
    assert worker.node_retcode("node1") == 127
    assert b"not found" in worker.node_error("node1")


def test_stderr_apart_or_merged(pdsh_task):
    worker = run_pdsh(pdsh_task, "node1", command="echo alright 1>&2", stderr=True)
    assert worker.node_error("node1") == b"alright"
    assert worker.node_buffer("node1") is None
    worker = run_pdsh(pdsh_task, "node1", command="echo alright 1>&2", stderr=False)
    assert worker.node_buffer("node1") == b"alright"
    assert worker.node_error("node1") is None


def test_failing_nodes_while_others_finish(pdsh_task):
    worker = run_pdsh(pdsh_task, "node1,cp-refused,cp-wrongkey", command="echo ok",
                      stderr=True)
    assert worker.node_buffer("node1") == b"ok"
    assert retcodes(worker) == {0: NodeSet("node1"), 255: NodeSet("cp-refused,cp-wrongkey")}
    assert b"Connection refused" in worker.node_error("cp-refused")
    assert b"Permission denied" in worker.node_error("cp-wrongkey")


def test_connect_timeout_goes_to_ssh(pdsh_task):
    # as with ClusterShell, given through PDSH_SSH_ARGS_APPEND: it comes
    # after pdsh's own -oConnectTimeout (from its -t, 10 by default), and
    # ssh keeps the first value: the node fails within pdsh's timeout
    pdsh_task.set_info("connect_timeout", 1)
    start = time.monotonic()
    worker = run_pdsh(pdsh_task, "cp-silent,node1", command="echo ok", stderr=True)
    assert time.monotonic() - start < 30
    assert worker.node_retcode("cp-silent") == 255
    assert b"timed out" in worker.node_error("cp-silent")
    assert worker.node_buffer("node1") == b"ok"


def test_command_timeout(pdsh_task):
    pdsh_task.set_info("command_timeout", 1)
    start = time.monotonic()
    worker = run_pdsh(pdsh_task, "node[1-2]", command="echo a; sleep 30")
    assert time.monotonic() - start < 10
    assert worker.node_buffer("node1") == b"a"
    assert retcodes(worker) == {255: NodeSet("node[1-2]")}


def test_worker_timeout_leaves_no_ssh(pdsh_task, sshd):
    rec = recorder()
    start = time.monotonic()
    worker = run_pdsh(pdsh_task, "node[1-3]", rec, command="echo a; sleep 30", timeout=3)
    assert time.monotonic() - start < 15
    assert worker.num_timeout() == 3
    assert sorted(worker.iter_keys_timeout()) == ["node1", "node2", "node3"]
    assert worker.node_buffer("node2") == b"a"
    assert rec.kinds().count("hup") == 0
    assert rec.events[-2:] == [("timeout",), ("close", True)]
    assert sshd.client_pids(settle=2.0) == []


def test_abort_leaves_no_ssh(pdsh_task, sshd):
    worker = WorkerPdsh("node[1-4]", command="sleep 30", handler=None, timeout=None)
    pdsh_task.schedule(worker)
    aborter = abort_on_timer(worker)
    pdsh_task.timer(2.0, handler=aborter)
    start = time.monotonic()
    pdsh_task.resume()
    assert aborter.fired
    assert time.monotonic() - start < 15
    assert sshd.client_pids(settle=2.0) == []
    WorkerPdsh("node1", command="sleep 1", handler=None, timeout=None).abort()


def test_write_is_not_supported(pdsh_task):
    worker = WorkerPdsh("node1", command="cat", handler=None, timeout=5)
    with pytest.raises(EngineClientNotSupportedError):
        worker.write(b"data")
    with pytest.raises(EngineClientNotSupportedError):
        worker.set_write_eof()


def test_pdsh_as_default_distant_worker(pdsh_task):
    worker = shell_with_default_worker(pdsh_task, "pdsh", "echo via pdsh", "node[1-2]")
    assert isinstance(worker, WorkerPdsh)
    assert worker.node_buffer("node2") == b"via pdsh"


def test_pdsh_path_options_and_fanout(pdsh_task):
    lines = []
    pdsh_task.set_info("pdsh_path", "/usr/bin/pdsh -S")
    pdsh_task.set_info("fanout", 2)
    pdsh_task.set_info("print_debug", lambda task, line: lines.append(line))
    pdsh_task.set_info("debug", True)
    pdsh_task.set_info("connect_timeout", 0)
    worker = run_pdsh(pdsh_task, "node[1-4]", command="echo alright")
    assert worker.node_buffer("node3") == b"alright"
    assert "PDSHCLIENT: /usr/bin/pdsh -S -b -f 2 -w node[1-4] echo alright" in lines
    assert "PDSH: b'node3: alright'" in lines      # as ClusterShell prints it


def test_missing_pdsh_binary_is_an_error(pdsh_task):
    pdsh_task.set_info("pdsh_path", "/nonexistent/pdsh")
    worker = WorkerPdsh("node1", command="true", handler=None)
    pdsh_task.schedule(worker)
    with pytest.raises(WorkerError, match="Cannot run pdsh"):
        pdsh_task.resume()
    pdsh_task.set_info("pdsh_path", None)
    assert run_pdsh(pdsh_task, "node1", command="echo again").node_buffer("node1") == b"again"


def test_pdcp_file_and_directory(pdsh_task, tmp_path):
    src = tmp_path / "f"
    src.write_bytes(b"pdcp data\n")
    tree = tmp_path / "tree"
    (tree / "lev1" / "lev2").mkdir(parents=True)
    (tree / "lev1" / "lev2" / "deep").write_bytes(b"deep\n")
    os.utime(str(tree / "lev1" / "lev2" / "deep"), (1000000000, 1000000000))
    outdir = tmp_path / "out"
    outdir.mkdir()
    rec = recorder()
    worker = run_pdsh(pdsh_task, "node1", rec, source=str(src), dest=str(outdir / "g"),
                      timeout=30)
    assert (outdir / "g").read_bytes() == b"pdcp data\n"
    assert rec.kinds() == ["start", "pickup", "hup", "close"]
    assert worker.source == str(src) and worker.dest == str(outdir / "g")
    run_pdsh(pdsh_task, "node1", source=str(tree), dest=str(outdir), preserve=True)
    deep = outdir / "tree" / "lev1" / "lev2" / "deep"
    assert deep.read_bytes() == b"deep\n"
    assert int(deep.stat().st_mtime) == 1000000000


def test_pdcp_failure_is_reported_for_the_node(pdsh_task, tmp_path):
    src = tmp_path / "f"
    src.write_bytes(b"x")
    worker = run_pdsh(pdsh_task, "node1,cp-refused", source=str(src),
                      dest=str(tmp_path / "no" / "such" / "dir"))
    assert worker.node_retcode("node1") == 2     # ENOENT, as ClusterShell sets it
    assert worker.node_retcode("cp-refused") == 2


def test_rpdcp_reverse_copy(pdsh_task, tmp_path):
    src = tmp_path / "f"
    src.write_bytes(b"back\n")
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "sub" / "x").write_bytes(b"x\n")
    outdir = tmp_path / "out"
    outdir.mkdir()
    worker = run_pdsh(pdsh_task, "node[1-2]", source=str(src), dest=str(outdir),
                      reverse=True, timeout=30)
    assert retcodes(worker) == {0: NodeSet("node[1-2]")}
    run_pdsh(pdsh_task, "node[1-2]", source=str(tree), dest=str(outdir), reverse=True)
    assert sorted(p.name for p in outdir.iterdir()) == ["f.node1", "f.node2", "tree.node1",
                                                        "tree.node2"]
    assert (outdir / "f.node2").read_bytes() == b"back\n"
    assert (outdir / "tree.node1" / "sub" / "x").read_bytes() == b"x\n"
