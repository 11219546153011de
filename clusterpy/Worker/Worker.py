"""Workers: a job done on several targets (nodes, keys) in parallel.

A Worker owns engine clients (one per node or command) and turns what they
report into its event handler's callbacks and its task's results.  Handler
methods are looked up once per handler object and signature style: a worker
whose handler does not override ``ev_read`` makes no Python call per line,
and output that only goes to the task's message trees is added one chunk of
lines at a time.

Handlers written against the pre-1.8 signatures are called with the old
arguments and a DeprecationWarning per call, as ClusterShell 1.10 does.
"""

import logging
import os
import warnings
import weakref
from functools import partial
from typing import Any

from clusterpy.Engine.Engine import FANOUT_DEFAULT, EPSILON
from clusterpy.Engine.Engine import FANOUT_UNLIMITED  # noqa: F401 (public name here)
from clusterpy.Event import EventHandler
from clusterpy.Worker.EngineClient import EngineClient, EngineClientStreamDict
from clusterpy import _reactor as _r


LOGGER = logging.getLogger(__name__)

_NL = b"\n"

# positional argument count of handler functions (as getfullargspec counts
# them: self included for methods), cached per function
_ARGC: "weakref.WeakKeyDictionary[Any, int]" = weakref.WeakKeyDictionary()


def _argc(method):
    func = getattr(method, "__func__", method)
    try:
        return _ARGC[func]
    except (KeyError, TypeError):
        code = getattr(func, "__code__", None)
        if code is not None:
            count = code.co_argcount
        else:               # another callable: rare, and inspect is slow to import
            from inspect import getfullargspec
            count = len(getfullargspec(method)[0])
        try:
            _ARGC[func] = count
        except TypeError:
            pass
        return count


def _eh_sigspec_invoke_compat(method, argc_legacy, *args):
    """Call a handler method with the new signature, or with the legacy one
    (first argc_legacy - 1 arguments, and a DeprecationWarning) if it has
    argc_legacy positional parameters."""
    if _argc(method) == argc_legacy:
        warnings.warn("%s should use new %s() signature"
                      % (getattr(method, "__self__", method), method.__name__),
                      DeprecationWarning)
        return method(*args[:argc_legacy - 1])
    return method(*args)


def _eh_sigspec_ev_read_17(ev_read):
    """Whether ev_read has the 1.7 signature ev_read(self, worker)."""
    if _argc(ev_read) == 2:
        warnings.warn("%s should use new ev_read() signature"
                      % getattr(ev_read, "__self__", ev_read), DeprecationWarning)
        return True
    return False


def _overridden(handler, name):
    """handler's method `name`, or None if it is EventHandler's no-op."""
    method = getattr(handler, name, None)
    if method is None or getattr(method, "__func__", None) is getattr(EventHandler, name, None):
        return None
    return method


class WorkerException(Exception):
    """Generic worker exception."""


class WorkerError(WorkerException):
    """Generic worker error."""


WorkerBadArgumentError = ValueError


class _Readers(object):
    """What a handler does with lines, resolved once per handler object."""

    __slots__ = ("eh", "read", "legacy_read", "error", "chunk")

    def __init__(self, eh):
        self.eh = eh
        # private hook of clusterpy's tree mode handlers: takes each chunk
        # of lines whole, instead of the worker's own buffers and ev_read
        self.chunk = getattr(eh, "_ev_chunk", None)
        self.read = _overridden(eh, "ev_read") if eh is not None else None
        self.legacy_read = self.read is not None and _argc(self.read) == 2
        self.error = _overridden(eh, "ev_error") if eh is not None else None


class Worker(object):
    """Base class of workers: a job run on targets in parallel, within a
    Task, reporting to an :class:`.EventHandler` (`handler`)."""

    SNAME_STDIN = "stdin"
    SNAME_STDOUT = "stdout"
    SNAME_STDERR = "stderr"

    # whether line events update current_node (distant workers only)
    _track_node = False
    # whether start, close and write events update current_node
    _node_events = True
    # tap(key, sname, chunk) seeing every chunk of lines (clusterpy.aio),
    # set before the worker starts
    _tap = None
    # callables called with the worker after its ev_close (clusterpy.aio)
    _closers = None
    # set once its ev_close is given (a tree worker has no client to ask)
    _ev_closed = False

    # State as class defaults, set on the instance when it changes: a
    # pending worker (one of 100,000 task.shell() maybe) holds little more
    # than its handler.
    # per worker fanout (FANOUT_DEFAULT: the task's); set before start
    _fanout = FANOUT_DEFAULT
    _update_task_rc = True
    task: Any = None
    started = False
    metaworker: Any = None
    metarefcnt = 0
    # legacy "current" attributes, updated at each event
    current_node: Any = None
    current_msg: Any = None
    current_errmsg: Any = None
    current_rc: Any = 0
    current_sname: Any = None
    _readers: Any = None

    def __init__(self, handler):
        self.eh = handler

    def _set_task(self, task):
        if self.task is not None:
            raise WorkerError("worker has already been scheduled")
        self.task = task

    def _task_bound_check(self):
        if not self.task:
            raise WorkerError("worker is not task bound")

    def _engine_clients(self):
        raise NotImplementedError("Derived classes must implement.")

    def _engine_parts(self):
        """(clients, source) for Engine.add_worker(): the clients made so
        far, and an Engine.ClientSource making the others on demand, or
        None (every client is made: _engine_clients())."""
        return self._engine_clients(), None

    # event generators

    def _notify(self, name, legacy_argc, *args):
        """Call handler method `name` (worker first), if there is a handler;
        legacy_argc: its pre-1.8 argument count, or 0 if it has none."""
        eh = self.eh
        if eh is None:
            return
        method = getattr(eh, name)
        if legacy_argc:
            _eh_sigspec_invoke_compat(method, legacy_argc, self, *args)
        else:
            method(self, *args)

    def _on_start(self, key):
        if self._node_events:
            self.current_node = key
        if not self.started:
            self.started = True
            self._notify("ev_start", 0)
        self._notify("ev_pickup", 2, key)

    def _on_close(self, key, rc=None):
        if rc is not None and self._update_task_rc:
            self.task._rc_set(self, key, rc)
        if self._node_events:
            self.current_node = key
        self.current_rc = rc
        self._notify("ev_hup", 2, key, rc)

    def _on_worker_close(self, timeout):
        """The worker's last event: ev_close, then what waits for its end."""
        self._ev_closed = True
        self._notify("ev_close", 2, timeout)
        closers, self._closers = self._closers, None
        for closer in closers or ():
            closer(self)

    def _on_written(self, key, bytes_count, sname):
        if self._node_events:
            self.current_node = key
        self.current_sname = sname
        self._notify("ev_written", 0, key, sname, bytes_count)

    def _on_line(self, key, msg, sname, is_err):
        """One line from key: task buffers, legacy attributes, ev_read."""
        self.task._msg_add(self, key, sname, msg)
        self.current_sname = sname
        if self._track_node:
            self.current_node = key
        eh = self.eh
        if is_err:
            self.current_errmsg = msg
            if eh is not None:
                if hasattr(eh, "ev_error"):
                    eh.ev_error(self)
                if not _eh_sigspec_ev_read_17(eh.ev_read):
                    eh.ev_read(self, key, sname, msg)
        else:
            self.current_msg = msg
            if eh is not None:
                if _eh_sigspec_ev_read_17(eh.ev_read):
                    eh.ev_read(self)
                else:
                    eh.ev_read(self, key, sname, msg)

    def _on_chunk(self, key, sname, chunk, is_err):
        """Lines (joined by b'\\n') from key: the per-line work of _on_line,
        done in bulk when the handler does not look at lines."""
        if self._tap is not None:
            self._tap(key, sname, chunk)
        task = self.task
        readers = self._readers
        if readers is None or readers.eh is not self.eh:
            readers = self._readers = _Readers(self.eh)
        if readers.chunk is not None:
            self.current_sname = sname
            readers.chunk(self, key, sname, chunk)
            return
        if task._info.get("debug"):
            print_debug = task.info("print_debug")
            for msg in chunk.split(_NL):
                print_debug(task, self._debug_line(key, msg, sname))
                self._on_line(key, msg, sname, is_err)
            return
        if readers.legacy_read or (is_err and readers.error is not None):
            for msg in chunk.split(_NL):
                self._on_line(key, msg, sname, is_err)
            return
        read = readers.read
        self.current_sname = sname
        if self._track_node:
            self.current_node = key
        tree = task._msg_sink(sname)
        if read is None:
            if tree is not None:
                tree._add_chunk((self, key), chunk)
            last = chunk[chunk.rfind(_NL) + 1:]
            if is_err:
                self.current_errmsg = last
            else:
                self.current_msg = last
            return
        source = (self, key)
        for msg in chunk.split(_NL):
            if tree is not None:
                tree._add_line(source, msg)
            if is_err:
                self.current_errmsg = msg
            else:
                self.current_msg = msg
            read(self, key, sname, msg)

    def _debug_line(self, key, msg, sname):
        return "%s: %s" % (key, msg)

    # getters

    def did_timeout(self) -> bool:
        """Whether some target of this worker timed out."""
        self._task_bound_check()
        return self.task._num_timeout_by_worker(self) > 0

    def read(self, node=None, sname="stdout"):
        """The buffer (bytes) of `node` on stream `sname`, or None."""
        self._task_bound_check()
        return self.task._msg_by_source(self, node, sname)

    # actions

    def abort(self):
        """Abort this worker; safe on a closing or aborted worker."""
        raise NotImplementedError("Derived classes must implement.")

    def flush_buffers(self):
        """Forget this worker's stdout messages."""
        self._task_bound_check()
        self.task._flush_buffers_by_worker(self)

    def flush_errors(self):
        """Forget this worker's stderr messages."""
        self._task_bound_check()
        self.task._flush_errors_by_worker(self)


class DistantWorker(Worker):
    """Base class of workers whose targets are nodes (ssh, exec...), with
    per-node results."""

    _track_node = True

    def _on_node_msgline(self, node, msg, sname):
        """Line `msg` from `node` on stream `sname`."""
        if self._tap is not None:
            self._tap(node, sname, msg)
        self._on_line(node, msg, sname, sname == self.SNAME_STDERR)

    def _on_node_chunk(self, node, sname, chunk):
        """Lines (joined by b'\\n') from `node` on stream `sname`."""
        self._on_chunk(node, sname, chunk, sname == self.SNAME_STDERR)

    def _on_node_close(self, node, rc):
        Worker._on_close(self, node, rc)

    def _on_node_timeout(self, node):
        self.current_node = node
        self.task._timeout_add(self, node)

    def node_buffer(self, node):
        """stdout buffer of `node` (bytes) or None."""
        return self.read(node, self.SNAME_STDOUT)

    def node_error(self, node):
        """stderr buffer of `node` (bytes) or None."""
        return self.read(node, self.SNAME_STDERR)

    node_error_buffer = node_error

    def node_retcode(self, node):
        """Return code of `node`; KeyError if it has none (yet)."""
        self._task_bound_check()
        try:
            return self.task._rc_by_source(self, node)
        except KeyError:
            raise KeyError(node)

    node_rc = node_retcode

    def _iter_tree(self, sname, match_keys):
        from clusterpy.NodeSet import NodeSet
        self._task_bound_check()
        for msg, keys in self.task._call_tree_matcher(self.task._msgtree(sname).walk,
                                                      match_keys, self):
            yield msg, NodeSet.fromlist(keys)

    def iter_buffers(self, match_keys=None):
        """Iterator over (message, NodeSet) of this worker's stdout."""
        return self._iter_tree(self.SNAME_STDOUT, match_keys)

    def iter_errors(self, match_keys=None):
        """Iterator over (message, NodeSet) of this worker's stderr."""
        return self._iter_tree(self.SNAME_STDERR, match_keys)

    def iter_node_buffers(self, match_keys=None):
        """Iterator over (node, message) of this worker's stdout."""
        self._task_bound_check()
        return self.task._call_tree_matcher(self.task._msgtree(self.SNAME_STDOUT).items,
                                            match_keys, self)

    def iter_node_errors(self, match_keys=None):
        """Iterator over (node, message) of this worker's stderr."""
        self._task_bound_check()
        return self.task._call_tree_matcher(self.task._msgtree(self.SNAME_STDERR).items,
                                            match_keys, self)

    def iter_retcodes(self, match_keys=None):
        """Iterator over (return code, NodeSet) of this worker."""
        from clusterpy.NodeSet import NodeSet
        self._task_bound_check()
        for rc, keys in self.task._rc_iter_by_worker(self, match_keys):
            yield rc, NodeSet.fromlist(keys)

    def iter_node_retcodes(self):
        """Iterator over (node, return code) of this worker."""
        self._task_bound_check()
        return self.task._krc_iter_by_worker(self)

    def num_timeout(self):
        """Number of nodes of this worker that timed out."""
        self._task_bound_check()
        return self.task._num_timeout_by_worker(self)

    def iter_keys_timeout(self):
        """Iterator over the nodes of this worker that timed out."""
        self._task_bound_check()
        return self.task._iter_keys_timeout_by_worker(self)


class _FdSlot(object):
    """Reactor records of one user stream, forwarded to its client."""

    __slots__ = ("client", "stream")

    def __init__(self, client, stream):
        self.client = client
        self.stream = stream

    def _cp_lines(self, stream: int, chunk: bytes) -> None:
        self.client._stream_lines(self.stream.name, chunk)

    def _cp_data(self, stream: int, data: bytes) -> None:
        self.client._stream_lines(self.stream.name, data)

    def _cp_eof(self, stream: int) -> None:
        self.client._stream_done(self.stream, 0)

    def _cp_written(self, stream: int, count: int) -> None:
        client = self.client
        client.worker._on_written(client.key, count, self.stream.name)

    def _cp_wclosed(self, stream: int, err: int) -> None:
        self.client._stream_done(self.stream, err)


class StreamClient(EngineClient):
    """StreamWorker's client: reads and writes user streams (fds)."""

    def __init__(self, worker, key, stderr, timeout, autoclose):
        EngineClient.__init__(self, worker, key, stderr, timeout, autoclose)
        self._sdict = EngineClientStreamDict()

    @property
    def streams(self):
        """The client's streams by name."""
        return self._sdict

    def _start(self):
        self.worker._on_start(self.key)
        return self

    _counts_streams = True

    def _cp_register(self, engine):
        for stream in list(self.streams.values()):
            if stream.fd is None or not stream.evmask:
                continue
            if not self.autoclose:
                engine._ref(self)
            flags = (_r.CP_FD_READ if stream.readable() else 0) | \
                (_r.CP_FD_WRITE if stream.writable() else 0)
            sid = stream._cid = engine._watch_fd(_FdSlot(self, stream), stream.fd, flags)
            if stream.wbuf:
                engine.write(sid, stream.wbuf, 0)
                stream.wbuf = b""
            if stream.eof:
                engine.write_eof(sid, 0)
        if self.fire_delay > -EPSILON:
            engine._arm_timeout(self)
        self._start()

    def _cp_abort(self, engine, flush):
        for stream in list(self.streams.values()):
            sid = stream._cid
            if not sid:
                continue
            stream._cid = 0
            if flush and stream.readable():
                engine._unwatch_fd(sid, partial(self._stream_lines, stream.name))
            else:
                engine._unwatch_fd(sid)
        engine._disarm_timeout(self)

    def _stream_lines(self, sname, chunk):
        self.worker._on_chunk(self.key, sname, chunk, sname == "stderr")

    def _stream_done(self, stream, err):
        """A stream reached EOF or was closed: forget it, then end the
        client if no retained stream is left."""
        engine = self._engine
        if stream._cid:
            engine._forget(stream._cid)
            stream._cid = 0
            engine._unref(self)
        if err:
            LOGGER.warning("%r: %s", self, OSError(err, os.strerror(err)))
        if stream.name in self.streams:
            del self.streams[stream.name]
        if engine is not None and not self.streams.retained():
            engine.remove(self)

    def _close(self, abort, timeout):
        self.streams.clear()
        self.invalidate()
        worker = self.worker
        if timeout:
            worker._on_timeout(self.key)
        worker._on_close(self.key)
        worker._on_worker_close(timeout)

    def _writer_names(self, sname):
        if sname is not None:
            return (sname,)
        return [writer.name for writer in self.streams.writers()]

    def write(self, buf, sname=None):
        """Write to stream `sname`, or to every writable stream."""
        for name in self._writer_names(sname):
            self._write(name, buf)

    def set_write_eof(self, sname=None):
        """Close stream `sname`, or every writable stream, once written."""
        for name in self._writer_names(sname):
            self._set_write_eof(name)


class StreamWorker(Worker):
    """A worker reading and writing streams (files or fds) you give it with
    set_reader() and set_writer() before it runs."""

    def __init__(self, handler, key=None, stderr=False, timeout=-1, autoclose=False,
                 client_class=StreamClient):
        Worker.__init__(self, handler)
        if key is None:  # allow key=0
            key = self
        self.clients = [client_class(self, key, stderr, timeout, autoclose)]

    def _check_streams_settable(self):
        if self.clients[0].registered:
            raise WorkerError("cannot add new stream at runtime")

    def set_reader(self, sname, sfile, retain=True, closefd=True):
        """Add a readable stream `sname` (file object or fd)."""
        self._check_streams_settable()
        self.clients[0].streams.set_reader(sname, sfile, retain, closefd)

    def set_writer(self, sname, sfile, retain=True, closefd=True):
        """Add a writable stream `sname` (file object or fd)."""
        self._check_streams_settable()
        self.clients[0].streams.set_writer(sname, sfile, retain, closefd)

    def _engine_clients(self):
        return self.clients

    def set_key(self, key):
        """Set the key under which this worker's results are kept."""
        self.clients[0].key = key

    def _debug_line(self, key, msg, sname):
        return "LINE %s" % (msg,)

    def _on_timeout(self, key):
        self.task._timeout_add(self, key)
        if self.eh is not None and hasattr(self.eh, "ev_timeout"):
            warnings.warn("%s should use new ev_close() instead of ev_timeout()" % self.eh,
                          DeprecationWarning)
            self.eh.ev_timeout(self)

    def abort(self):
        """Abort this worker; safe on a closing or aborted worker."""
        self.clients[0].abort()

    def read(self, node=None, sname="stdout"):
        """The buffer (bytes) of stream `sname`, or None."""
        return Worker.read(self, node or self.clients[0].key, sname)

    def write(self, buf, sname=None):
        """Write `buf` to stream `sname`, or to every writable stream."""
        self.clients[0].write(buf, sname)

    def set_write_eof(self, sname=None):
        """Close stream `sname` (or every writable one) once written."""
        self.clients[0].set_write_eof(sname)


class WorkerSimple(StreamWorker):
    """[DEPRECATED] A StreamWorker on a reader, a writer and an error file
    (stdout, stdin, stderr); use StreamWorker."""

    _node_events = False
    _filerefs = (None, None, None)      # (a worker of task.shell() has none)

    def __init__(self, file_reader, file_writer, file_error, key, handler, stderr=False,
                 timeout=-1, autoclose=False, closefd=True, client_class=StreamClient):
        StreamWorker.__init__(self, handler, key, stderr, timeout, autoclose,
                              client_class=client_class)
        if file_reader:
            self.set_reader("stdout", file_reader, closefd=closefd)
        if file_error:
            self.set_reader("stderr", file_error, closefd=closefd)
        if file_writer:
            self.set_writer("stdin", file_writer, closefd=closefd)
        if file_reader or file_writer or file_error:
            self._filerefs = (file_reader, file_writer, file_error)

    def error_fileno(self):
        """fd of the error stream."""
        return self.clients[0].streams["stderr"].fd

    def reader_fileno(self):
        """fd of the reader stream."""
        return self.clients[0].streams["stdout"].fd

    def writer_fileno(self):
        """fd of the writer stream."""
        return self.clients[0].streams["stdin"].fd

    def error(self):
        """The error buffer."""
        return self.read(sname="stderr")

