"""StreamWorker and WorkerSimple on user pipes and sockets."""

import os
import socket

import pytest

from clusterpy.Event import EventHandler
from clusterpy.Task import task_self
from clusterpy.Worker.Worker import StreamWorker, WorkerError, WorkerSimple


class Lines(EventHandler):
    def __init__(self):
        self.lines = []
        self.hups = []
        self.closed = None

    def ev_read(self, worker, node, sname, msg):
        self.lines.append((sname, msg))

    def ev_hup(self, worker, node, rc):
        self.hups.append(rc)

    def ev_close(self, worker, timedout):
        self.closed = (worker, timedout)


def test_readers_deliver_lines_and_close_fds():
    handler = Lines()
    worker = StreamWorker(handler=handler)
    fds = []
    for name, data in (("one", b"a\nb"), ("two", b"c\n")):
        rfd, wfd = os.pipe()
        os.write(wfd, data)
        os.close(wfd)
        worker.set_reader(name, rfd)
        fds.append(rfd)
    task = task_self()
    task.schedule(worker)
    task.run()
    assert sorted(handler.lines) == [("one", b"a"), ("one", b"b"), ("two", b"c")]
    assert handler.hups == [None]  # no return code for streams
    assert handler.closed == (worker, False)
    for fd in fds:  # closefd=True by default: closed by the worker
        with pytest.raises(OSError):
            os.fstat(fd)


def test_writer_and_reader_pipeline():
    class Relay(EventHandler):
        def ev_read(self, worker, node, sname, msg):
            worker.write(msg.upper() + b"\n", "out")
            worker.set_write_eof("out")

    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()
    os.write(in_w, b"relayed\n")
    os.close(in_w)
    worker = StreamWorker(handler=Relay())
    worker.set_reader("in", in_r)
    worker.set_writer("out", out_w)
    task = task_self()
    task.schedule(worker)
    task.run()
    assert os.read(out_r, 100) == b"RELAYED\n"
    os.close(out_r)


def test_socketpair_both_ways():
    ours, theirs = socket.socketpair()
    handler = Lines()
    worker = StreamWorker(handler=handler)
    worker.set_reader("sock", theirs.fileno(), closefd=False)
    ours.sendall(b"over a socket\n")
    ours.shutdown(socket.SHUT_WR)
    task = task_self()
    task.schedule(worker)
    task.run()
    assert handler.lines == [("sock", b"over a socket")]
    ours.close()
    theirs.close()


def test_no_stream_at_runtime():
    class AddLate(EventHandler):
        def ev_read(self, worker, node, sname, msg):
            rfd, wfd = os.pipe()
            try:
                with pytest.raises(WorkerError):
                    worker.set_reader("late", rfd)
            finally:
                os.close(rfd)
                os.close(wfd)

    rfd, wfd = os.pipe()
    os.write(wfd, b"x\n")
    os.close(wfd)
    worker = StreamWorker(handler=AddLate())
    worker.set_reader("r", rfd)
    task_self().schedule(worker)
    task_self().run()


def test_empty_stream_worker_ends_at_once():
    worker = StreamWorker(handler=None)
    task = task_self()
    task.schedule(worker)
    task.run()
    worker.abort()
    assert not task._engine._clients


def test_worker_simple_buffers_and_key():
    rfd, wfd = os.pipe()
    os.write(wfd, b"simple\nstream")
    os.close(wfd)
    worker = WorkerSimple(os.fdopen(rfd, "rb"), None, None, "mykey", None)
    task = task_self()
    task.schedule(worker)
    task.run()
    assert worker.read() == b"simple\nstream"
    assert task.key_buffer("mykey") == b"simple\nstream"


def test_broken_pipe_is_reported_not_fatal(caplog):
    rfd, wfd = os.pipe()
    os.close(rfd)
    worker = StreamWorker(handler=None)
    worker.set_writer("w", wfd)
    worker.write(b"nobody reads this")
    task = task_self()
    task.schedule(worker)
    task.run()
    assert any("Broken pipe" in r.getMessage() for r in caplog.records)


def test_stream_timeout_flushes_partial_line():
    handler = Lines()
    rfd, wfd = os.pipe()
    os.write(wfd, b"no end of line")
    worker = StreamWorker(handler=handler, timeout=0.2)
    worker.set_reader("r", rfd)
    task = task_self()
    task.schedule(worker)
    task.run()
    assert handler.lines == [("r", b"no end of line")]
    assert handler.closed == (worker, True)
    assert worker.did_timeout()
    os.close(wfd)


def test_file_objects_are_closed_once_as_files():
    import gc
    import warnings
    rfd, wfd = os.pipe()
    os.write(wfd, b"data\n")
    os.close(wfd)
    reader = os.fdopen(rfd, "rb")
    worker = WorkerSimple(reader, None, None, "filekey", None)
    task = task_self()
    task.schedule(worker)
    task.run()
    assert reader.closed  # closed through the file object: no fd closed twice
    del worker, reader
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gc.collect()
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)]
