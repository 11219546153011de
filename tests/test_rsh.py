"""WorkerRsh with rsh_path/rcp_path pointed at ssh/scp and the test sshd
(as ClusterShell's own setup does): the return code line appended to the
remote command, rcp copies."""
import getpass

import pytest

from _sshd import recorder, shell_with_default_worker
from clusterpy.NodeSet import NodeSet
from clusterpy.Worker.Rsh import WorkerRsh


@pytest.fixture
def rsh_task(ssh_task, sshd):
    ssh_task.set_info("rsh_path", "ssh")
    ssh_task.set_info("rsh_options", sshd.ssh_options)
    ssh_task.set_info("rcp_path", "scp")
    return ssh_task


def run_rsh(task, nodes, command, **kwargs):
    worker = WorkerRsh(nodes, command=command, handler=kwargs.pop("handler", None), **kwargs)
    task.schedule(worker)
    task.resume()
    return worker


def test_output_without_the_return_code_line(rsh_task):
    rec = recorder()
    worker = run_rsh(rsh_task, "node[1-2]", "echo hello; echo world", handler=rec)
    for node in ("node1", "node2"):
        assert worker.node_buffer(node) == b"hello\nworld"
        assert worker.node_retcode(node) == 0
        assert [ev[3] for ev in rec.of(node) if ev[0] == "read"] == [b"hello", b"world"]


@pytest.mark.parametrize("command,rc", [("true", 0), ("false", 1), ("sh -c 'exit 5'", 5),
                                        ("exit 3", 3), ("no-such-command-cp", 127)])
def test_remote_return_codes(rsh_task, command, rc):
    worker = run_rsh(rsh_task, "node1", command)
    assert worker.node_retcode("node1") == rc


def test_lookalike_lines_are_kept(rsh_task):
    cmd = "echo 'XXRETCODE: abc'; echo 'say XXRETCODE: 4'; echo 'XXRETCODE: 7 '"
    worker = run_rsh(rsh_task, "node1", cmd)
    assert worker.node_buffer("node1") == b"XXRETCODE: abc\nsay XXRETCODE: 4\nXXRETCODE: 7 "
    assert worker.node_retcode("node1") == 0


def test_return_code_parsed_with_stderr_apart_and_no_reader(rsh_task):
    rsh_task.set_default("stdout_msgtree", False)
    try:
        worker = run_rsh(rsh_task, "node1", "echo oops >&2; sh -c 'exit 6'", stderr=True)
    finally:
        rsh_task.set_default("stdout_msgtree", True)
    assert worker.node_retcode("node1") == 6
    assert worker.node_error("node1") == b"oops"


def test_unreachable_node_keeps_ssh_code(rsh_task):
    worker = run_rsh(rsh_task, "node1,cp-refused", "echo ok")
    assert worker.node_retcode("cp-refused") == 255
    assert worker.node_buffer("node1") == b"ok"


def test_rsh_user(rsh_task):
    rsh_task.set_info("rsh_user", getpass.getuser())
    worker = run_rsh(rsh_task, "node1", "id -un")
    assert worker.node_buffer("node1") == getpass.getuser().encode()


def test_rsh_as_default_distant_worker(rsh_task):
    worker = shell_with_default_worker(rsh_task, "rsh", "echo via rsh; sh -c 'exit 2'",
                                       "node[1-3]")
    assert isinstance(worker, WorkerRsh)
    assert {rc: NodeSet.fromlist(nodes) for rc, nodes in worker.iter_retcodes()} == {
        2: NodeSet("node[1-3]")}


def test_rcp_copy_and_reverse_copy(rsh_task, tmp_path):
    src = tmp_path / "data"
    src.write_bytes(b"payload\n")
    # rcp_options unset: rsh_options are used
    worker = WorkerRsh("node1", source=str(src), dest=str(tmp_path / "copy"), handler=None)
    rsh_task.schedule(worker)
    outdir = tmp_path / "out"
    outdir.mkdir()
    back = WorkerRsh("node[1-2]", source=str(src), dest=str(outdir), handler=None,
                     reverse=True)
    rsh_task.schedule(back)
    rsh_task.resume()
    assert worker.node_retcode("node1") == 0
    assert (tmp_path / "copy").read_bytes() == b"payload\n"
    assert sorted(p.name for p in outdir.iterdir()) == ["data.node1", "data.node2"]
    assert (outdir / "data.node2").read_bytes() == b"payload\n"
