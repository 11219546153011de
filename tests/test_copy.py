"""Task.copy / Task.rcopy through the default distant worker (scp) against
the test sshd: files and directories, preserve, reverse copy naming, a
large file to and from 32 nodes, per-node failures."""
import getpass
import hashlib
import os
import stat
import time

import pytest

from _sshd import recorder
from clusterpy.NodeSet import NodeSet
from clusterpy.Worker.Ssh import WorkerSsh


def sha256(path):
    digest = hashlib.sha256()
    with open(str(path), "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def make_tree(root):
    """src/{top, lev1_a/{lev2/deep, f}, lev1_b/}: a small tree to copy."""
    (root / "lev1_a" / "lev2").mkdir(parents=True)
    (root / "lev1_b").mkdir()
    (root / "top").write_bytes(b"top\n")
    (root / "lev1_a" / "f").write_bytes(b"f\n")
    (root / "lev1_a" / "lev2" / "deep").write_bytes(b"deep\n")
    return root


def assert_same_tree(copy, src):
    assert (copy / "top").read_bytes() == b"top\n"
    assert (copy / "lev1_a" / "f").read_bytes() == b"f\n"
    assert (copy / "lev1_a" / "lev2" / "deep").read_bytes() == b"deep\n"
    assert (copy / "lev1_b").is_dir()


def test_copy_file_events_and_content(ssh_task, tmp_path):
    src = tmp_path / "src.txt"
    src.write_bytes(b"hello\nworld\n")
    dest = tmp_path / "dest.txt"
    rec = recorder()
    worker = ssh_task.copy(str(src), str(dest), nodes="node1", handler=rec)
    assert isinstance(worker, WorkerSsh)
    ssh_task.resume()
    assert dest.read_bytes() == src.read_bytes()
    assert rec.events == [("start",), ("pickup", "node1"), ("hup", "node1", 0),
                          ("close", False)]
    assert worker.source == str(src) and worker.dest == str(dest)


def test_copy_large_file_to_32_nodes(ssh_task, tmp_path):
    src = tmp_path / "big"
    src.write_bytes(os.urandom(4 << 20))
    nodes = NodeSet("127.0.0.[1-32]")
    # the nodes share this machine's disk: one destination file per node
    workers = {node: ssh_task.copy(str(src), str(tmp_path / ("big." + node)), nodes=node)
               for node in nodes}
    ssh_task.resume()
    want = sha256(src)
    for node, worker in workers.items():
        assert worker.node_retcode(node) == 0
        assert sha256(tmp_path / ("big." + node)) == want


def test_rcopy_large_file_from_32_nodes(ssh_task, tmp_path):
    src = tmp_path / "big"
    src.write_bytes(os.urandom(4 << 20))
    outdir = tmp_path / "out"
    outdir.mkdir()
    nodes = NodeSet("127.0.0.[1-32]")
    worker = ssh_task.rcopy(str(src), str(outdir), nodes=nodes)
    ssh_task.resume()
    assert sorted(os.listdir(str(outdir))) == sorted("big." + node for node in nodes)
    want = sha256(src)
    for node in nodes:
        assert worker.node_retcode(node) == 0
        assert sha256(outdir / ("big." + node)) == want


def test_copy_directory_recursively(ssh_task, tmp_path):
    src = make_tree(tmp_path / "src")
    dest = tmp_path / "dest"
    dest.mkdir()
    worker = ssh_task.copy(str(src), str(dest), nodes="node1")
    ssh_task.resume()
    assert worker.node_retcode("node1") == 0
    assert_same_tree(dest / "src", src)


def test_copy_preserve_keeps_times_and_modes(ssh_task, tmp_path):
    src = make_tree(tmp_path / "src")
    os.chmod(str(src / "top"), 0o640)
    os.utime(str(src / "top"), (1000000000, 1000000000))
    plain, kept = tmp_path / "plain", tmp_path / "kept"
    plain.mkdir()
    kept.mkdir()
    ssh_task.copy(str(src), str(plain), nodes="node1")
    ssh_task.copy(str(src), str(kept), nodes="node2", preserve=True)
    ssh_task.resume()
    assert int((kept / "src" / "top").stat().st_mtime) == 1000000000
    assert stat.S_IMODE((kept / "src" / "top").stat().st_mode) == 0o640
    assert int((plain / "src" / "top").stat().st_mtime) != 1000000000
    assert_same_tree(kept / "src", src)


def test_rcopy_directory_names_each_copy_after_the_node(ssh_task, tmp_path):
    src = make_tree(tmp_path / "src")
    os.utime(str(src / "top"), (1000000000, 1000000000))
    outdir = tmp_path / "out"
    outdir.mkdir()
    worker = ssh_task.rcopy(str(src), str(outdir), nodes="node[1-2]", preserve=True)
    ssh_task.resume()
    assert sorted(os.listdir(str(outdir))) == ["src.node1", "src.node2"]
    for node in ("node1", "node2"):
        assert worker.node_retcode(node) == 0
        assert_same_tree(outdir / ("src." + node), src)
        assert int((outdir / ("src." + node) / "top").stat().st_mtime) == 1000000000


def test_explicit_reverse_copy_worker(ssh_task, tmp_path):
    src = tmp_path / "hosts"
    src.write_bytes(b"h\n")
    outdir = tmp_path / "out"
    outdir.mkdir()
    worker = WorkerSsh("node1", source=str(src), dest=str(outdir), handler=None, timeout=30,
                       reverse=True)
    ssh_task.schedule(worker)
    ssh_task.resume()
    assert (outdir / "hosts.node1").read_bytes() == b"h\n"


def test_rcopy_needs_a_destination_directory(ssh_task, tmp_path):
    with pytest.raises(ValueError):
        ssh_task.rcopy("/etc/hostname", str(tmp_path / "missing"), nodes="node1")


def test_copy_failure_on_one_node_stderr_merged(ssh_task, tmp_path):
    ssh_task.set_default("stderr", False)
    src = tmp_path / "src"
    src.write_bytes(b"x")
    dest = tmp_path / "dest"
    worker = ssh_task.copy(str(src), str(dest), nodes="cp-refused,node1")
    ssh_task.resume()
    assert worker.node_retcode("cp-refused") == 255
    assert b"Connection refused" in worker.node_buffer("cp-refused")
    assert worker.node_error("cp-refused") is None
    assert worker.node_retcode("node1") == 0
    assert dest.read_bytes() == b"x"


def test_copy_failure_on_one_node_stderr_apart(ssh_task, tmp_path):
    src = tmp_path / "src"
    src.write_bytes(b"x")
    worker = ssh_task.copy(str(src), str(tmp_path / "dest"), nodes="cp-refused,node1",
                           stderr=True)
    ssh_task.resume()
    assert worker.node_buffer("cp-refused") is None
    assert b"Connection refused" in worker.node_error("cp-refused")
    assert worker.node_retcode("node1") == 0


def test_copy_of_a_missing_file_or_to_a_missing_directory(ssh_task, tmp_path):
    src = tmp_path / "src"
    src.write_bytes(b"x")
    missing = ssh_task.copy(str(tmp_path / "nope"), str(tmp_path / "d1"), nodes="node1",
                            stderr=True)
    nodir = ssh_task.copy(str(src), str(tmp_path / "no" / "dir" / "f"), nodes="node2",
                          stderr=True)
    outdir = tmp_path / "out"
    outdir.mkdir()
    back = ssh_task.rcopy(str(tmp_path / "nope"), str(outdir), nodes="node3", stderr=True)
    ssh_task.resume()
    assert missing.node_retcode("node1") == 255     # scp's code for a local error
    assert b"No such file" in missing.node_error("node1")
    assert nodir.node_retcode("node2") == 1
    assert b"No such file" in nodir.node_error("node2")
    assert back.node_retcode("node3") == 1
    assert os.listdir(str(outdir)) == []


def test_scp_options_take_precedence_over_ssh_options(ssh_task, sshd, tmp_path):
    ssh_task.set_info("ssh_options", "-F /nonexistent/ssh_config")
    ssh_task.set_info("scp_options", sshd.ssh_options)
    ssh_task.set_info("scp_path", "/usr/bin/scp -l 100000")
    ssh_task.set_info("scp_user", getpass.getuser())
    src = tmp_path / "src"
    src.write_bytes(b"x")
    copy = ssh_task.copy(str(src), str(tmp_path / "dest"), nodes="node1")
    shell = ssh_task.shell("true", nodes="node1")
    ssh_task.resume()
    assert copy.node_retcode("node1") == 0
    assert (tmp_path / "dest").read_bytes() == b"x"
    assert shell.node_retcode("node1") == 255


def test_copy_connect_timeout(ssh_task, tmp_path):
    ssh_task.set_info("connect_timeout", 1)
    src = tmp_path / "src"
    src.write_bytes(b"x")
    start = time.monotonic()
    worker = ssh_task.copy(str(src), str(tmp_path / "dest"), nodes="cp-silent,node1")
    ssh_task.resume()
    assert time.monotonic() - start < 10
    assert worker.node_retcode("cp-silent") == 255
    assert worker.node_retcode("node1") == 0
