"""Floods: more output than a node should ever send, and output that is
not text.  Nothing is lost or reordered, memory stays bounded (long lines
come in 1 MiB pieces), and a reader that goes away early ends clush
quietly."""

import subprocess

import pytest

from _run import Proc, clush_argv
from clusterpy.Event import EventHandler
from clusterpy.Task import task_self

MiB = 1 << 20


class Pieces(EventHandler):
    def __init__(self):
        self.pieces = []

    def ev_read(self, worker, node, sname, msg):
        self.pieces.append(msg)


def test_10mb_without_newline_comes_in_bounded_pieces():
    handler = Pieces()
    task = task_self()
    task.shell("head -c 10000000 /dev/zero | tr '\\0' x", handler=handler)
    task.run(timeout=60)
    assert sum(map(len, handler.pieces)) == 10000000
    assert max(map(len, handler.pieces)) <= MiB
    assert all(piece == b"x" * len(piece) for piece in handler.pieces)
    assert task.max_retcode() == 0


def test_clush_10mb_line_without_newline(tmp_path):
    proc = Proc(clush_argv("-R", "exec", "-w", "n[1-2]", "-L",
                           "head -c 10000000 /dev/zero | tr '\\0' x"), tmp_path)
    code, out, err, took = proc.finish(timeout=60)
    assert (code, err) == (0, b"")
    lines = out.splitlines()
    for node in (b"n1", b"n2"):
        mine = [line for line in lines if line.startswith(node + b": ")]
        assert sum(len(line) - len(node) - 2 for line in mine) == 10000000
    assert len(out) == 2 * 10000000 + len(lines) * len(b"n1: \n")


def test_million_lines_in_order_task():
    task = task_self()
    task.shell("seq 1000000", key="a")
    task.shell("seq 1000000", key="b")
    task.run(timeout=60)
    expected = subprocess.run(["seq", "1000000"], capture_output=True).stdout.rstrip(b"\n")
    assert task.key_buffer("a") == expected
    assert task.key_buffer("b") == expected


@pytest.mark.slow
def test_clush_million_lines_per_node_in_order(tmp_path):
    proc = Proc(clush_argv("-R", "exec", "-w", "n[1-2]", "seq 1000000"), tmp_path)
    code, out, err, took = proc.finish(timeout=120)
    assert (code, err) == (0, b"")
    for node in (b"n1: ", b"n2: "):
        numbers = [line[4:] for line in out.splitlines() if line.startswith(node)]
        assert numbers == [b"%d" % i for i in range(1, 1000001)]


@pytest.mark.parametrize("gather", [False, True], ids=["direct", "gathered"])
def test_clush_binary_output_passes_through(tmp_path, gather):
    """NUL bytes are printed as received; invalid UTF-8 becomes U+FFFD, as
    ClusterShell prints it."""
    args = ["-R", "exec", "-w", "n[1-3]"] + (["-b"] if gather else []) + \
        [r"printf 'a\000b\n\377\376 ok\n\300\n'"]
    proc = Proc(clush_argv(*args), tmp_path)
    code, out, err, took = proc.finish()
    assert (code, err) == (0, b"")
    bad = "\ufffd".encode()
    body = [b"a\x00b", bad + bad + b" ok", bad]
    if gather:
        assert out == b"---------------\nn[1-3] (3)\n---------------\n" + \
            b"".join(line + b"\n" for line in body)
    else:
        for node in (b"n1", b"n2", b"n3"):
            assert [line for line in out.splitlines() if line.startswith(node)] == \
                [node + b": " + line for line in body]


def test_binary_output_in_task_buffers():
    task = task_self()
    task.shell(r"printf 'a\000b\n\377\376\n'", key="n")
    task.run(timeout=30)
    assert task.key_buffer("n") == b"a\x00b\n\xff\xfe"


@pytest.mark.parametrize("gather", [False, True], ids=["direct", "gathered"])
def test_reader_closing_early(tmp_path, gather):
    """clush ... | head -1: clush ends at once, silently, with exit code 1
    (as ClusterShell), killing the commands still writing."""
    # gathered: the output comes at the end, while clush prints it
    args = ["-R", "exec", "-w", "n[1-50]", "-f", "50"] + \
        (["-L", "seq 20000"] if gather else ["seq 10000000"])
    proc = Proc(clush_argv(*args), tmp_path)
    first = proc.proc.stdout.readline()
    proc.proc.stdout.close()
    assert first.endswith(b": 1\n")
    code, out, err, took = proc.finish(timeout=30)
    assert code == 1
    assert err == b""
    assert proc.survivors() == []
