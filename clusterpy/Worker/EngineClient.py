"""Engine clients: the unit of work an Engine runs for a Worker.

A client is one command (one child process, for a node or a local command)
or one set of user streams (StreamWorker), or a port.  Its life in the
engine: NEW (added) -> PENDING (in the reactor's fanout queue) -> RUNNING
(started) -> EXITED (reaped, closing deferred to the end of the batch) ->
CLOSED.  The engine calls its ``_cp_*`` methods for the reactor records of
its id; the client turns them into Worker events.

Process clients keep no Python object per stream: ``streams`` is built on
demand for the few callers that look at it.  Writes given before the child
is handed to the reactor are queued here, then passed on.
"""

import errno
import logging
import os
import queue
import threading
from typing import Any

from clusterpy import _reactor as _r
from clusterpy.Engine.Engine import EngineBaseTimer, E_READ, E_WRITE, EPSILON
from clusterpy.Engine.Engine import _NEW, _PENDING, _RUNNING, _EXITED, _CLOSED

PIPE = -1
STDOUT = -2

LOGGER = logging.getLogger(__name__)


class EngineClientException(Exception):
    """Root of the engine client exceptions."""


class EngineClientEOF(EngineClientException):
    """A client stream reached its end."""


class EngineClientError(EngineClientException):
    """An engine client operation failed."""


class EngineClientNotSupportedError(EngineClientError):
    """The client cannot do that (writing to a pdsh worker, say)."""


class EngineClientStream(object):
    """A named stream of a client: a file descriptor read (E_READ) or
    written (E_WRITE).  A retained stream keeps its client alive."""

    # ClusterShell's fields that nothing here reads or writes any more (the
    # reactor buffers and polls): class defaults, for code that looks at them
    rbuf = b""
    events = 0
    new_events = 0

    def __init__(self, name, sfile=None, evmask=0):
        self.name = name
        self.fd = None
        self.wbuf = b""
        self.eof = False
        self.evmask = evmask
        self.retain = False
        self.closefd = False
        self._cid = 0
        self._file = None
        self.set_file(sfile)

    def set_file(self, sfile, evmask=0, retain=True, closefd=True):
        """Bind to a file object or descriptor with the given event mask."""
        if hasattr(sfile, "fileno"):
            self._file = sfile      # closed as a file: no double close later
            self.fd = sfile.fileno()
        else:
            self._file = None
            self.fd = sfile
        self.evmask = evmask
        self.retain = retain
        self.closefd = closefd

    def __repr__(self):
        return "<%s name=%s fd=%s evmask=0x%x>" % (self.__class__.__name__, self.name,
                                                  self.fd, self.evmask)

    def close(self):
        """Close the file descriptor if we own it."""
        if self.closefd and self.fd is not None:
            fd, self.fd = self.fd, None
            if self._file is not None:
                self._file.close()
            else:
                os.close(fd)

    def readable(self):
        """Whether the stream is set up for reading."""
        return self.evmask & E_READ

    def writable(self):
        """Whether the stream is set up for writing."""
        return self.evmask & E_WRITE


class EngineClientStreamDict(dict):
    """A client's streams by name."""

    def set_stream(self, sname, sfile=None, evmask=0, retain=True, closefd=True):
        """Add or update a stream."""
        stream = dict.setdefault(self, sname, EngineClientStream(sname))
        stream.set_file(sfile, evmask, retain, closefd)
        return stream

    def set_reader(self, sname, sfile=None, retain=True, closefd=True):
        """Add or update a readable stream."""
        self.set_stream(sname, sfile, E_READ, retain, closefd)

    def set_writer(self, sname, sfile=None, retain=True, closefd=True):
        """Add or update a writable stream."""
        self.set_stream(sname, sfile, E_WRITE, retain, closefd)

    def destroy(self, key):
        """Close a stream and forget it."""
        self[key].close()
        dict.pop(self, key)

    __delitem__ = destroy

    def clear(self):
        """Close and forget every stream."""
        for stream in self.values():
            stream.close()
        dict.clear(self)

    def active_readers(self):
        """Readable streams with an fd."""
        return (s for s in self.readers() if s.fd is not None)

    def readers(self):
        """Readable streams."""
        return (s for s in list(self.values()) if s.evmask & E_READ)

    def active_writers(self):
        """Writable streams with an fd."""
        return (s for s in self.writers() if s.fd is not None)

    def writers(self):
        """Writable streams."""
        return (s for s in list(self.values()) if s.evmask & E_WRITE)

    def retained(self):
        """Whether some open stream keeps the client alive."""
        return any(s.fd is not None and s.retain for s in self.values())


class EngineClient(EngineBaseTimer):
    """Base class of engine clients.

    `key` identifies the client in results (the node name for distant
    workers); `stderr` tells whether stderr is kept apart from stdout;
    `timeout` (seconds, or None) bounds its run; an `autoclose` client does
    not keep the engine running by itself.
    """

    # Defaults as class attributes for what a client hardly ever changes:
    # its own dict holds one value less for each (a pending client may be
    # one of 100k).  Attributes the engine sets later on every client stay
    # in __init__: on CPython 3.11 an instance created with fewer keys than
    # it ends up with pays for a full dict.
    interval = -1
    autoclose = False
    delayable = True

    def __init__(self, worker, key, stderr, timeout, autoclose):
        # EngineBaseTimer.__init__(self, timeout, -1, autoclose), storing
        # only what differs from the class defaults
        self.fire_delay = -1.0 if timeout is None else timeout
        if autoclose is not False:
            self.autoclose = autoclose
        self.worker = worker
        if key is None:
            key = id(worker)
        self.key = key
        self._stderr = stderr
        self._state = _NEW
        self._cid = 0           # reactor id of the child (process clients)
        self._group = 0         # reactor fanout group, when not the default
        self._status = None     # exit code, or -signal, once reaped
        self._timedout = False
        self._wqueue = None     # writes given before the child got an id
        self._weof = False      # write EOF asked before the child got an id
        self._refs = 0          # its share of the engine's evlooprefcnt

    #: the client keeps the engine running once per registered stream
    #: (user streams) rather than once for itself (a child process)
    _counts_streams = False
    #: a child process spawned by the engine (held back by its fanout)
    _spawns = False
    #: its child may be ended with others in one call (Engine.clear)
    _bulk_abort = False

    def __repr__(self):
        return "<%s.%s instance at 0x%x key %r>" % (self.__module__, self.__class__.__name__,
                                                    id(self), self.key)

    @property
    def registered(self):
        """Whether the client is running in the engine."""
        return self._state == _RUNNING or self._state == _EXITED

    # engine interface (see Engine): how to start, what the records mean

    def _cp_request(self):
        """(argv, env, cwd, flags, timeout) to spawn, or None for a client
        that registers streams instead (see _cp_register)."""
        return None

    def _cp_register(self, engine):
        """Register the client's own streams with the engine."""

    def _cp_abort(self, engine, flush):
        """Release what the engine holds for this client, now; with flush,
        deliver unfinished lines of its user streams first."""

    def _fire(self):
        """Timeout timer (clients without a reactor-side timeout)."""
        engine = self._engine
        if engine:
            engine.remove(self, abort=True, did_timeout=True)

    def _start(self):
        """ClusterShell compatibility: clients are started by the engine."""
        raise NotImplementedError("Derived classes must implement.")

    def _close(self, abort, timeout):
        """Produce the closing events; called once, by the engine."""
        self.invalidate()

    def abort(self):
        """Abort this client; safe on a closing or closed one."""
        engine = self._engine
        if engine:
            engine.remove(self, abort=True)

    # writing, to the client's own writable streams

    def _write(self, sname, buf):
        """Queue `buf` for writable stream `sname`."""
        stream = self.streams.get(sname) if hasattr(self, "streams") else None
        if stream is None:
            LOGGER.debug("dropping write to unknown or closed stream %s on client %s",
                         sname, self.key)
            return
        if stream._cid and self._engine is not None:
            self._engine.write(stream._cid, buf, 0)
        else:
            stream.wbuf += buf

    def _set_write_eof(self, sname):
        """Close writable stream `sname` once what was written has gone."""
        stream = self.streams.get(sname) if hasattr(self, "streams") else None
        if stream is None:
            LOGGER.debug("stream %s was already closed on client %s, skipping",
                         sname, self.key)
            return
        stream.eof = True
        if stream._cid and self._engine is not None:
            self._engine.write_eof(stream._cid, 0)


class _ChildProcess(object):
    """What makes an engine client run one child process: stdin, stdout and
    stderr (or stdout only, stderr merged) are pipes owned by the reactor,
    and the client is the engine's ChildTarget (the records of its id).

    A mixin, put before an EngineClient class: _ProcessClient (ExecClient
    and the distant clients) and PopenClient, which stays a StreamClient as
    in ClusterShell, without a class reached by two paths."""

    # EngineClient's attributes this mixin works with
    worker: Any
    key: Any
    _engine: Any
    _state: int
    _cid: int
    _status: Any
    _stderr: Any
    _wqueue: Any
    _weof: bool
    fire_delay: float

    _counts_streams = False
    _spawns = True
    _bulk_abort = True
    #: whether output nobody consumes may be dropped in C unread
    _discardable = True
    #: stdin is /dev/null (write EOF asked before the start, nothing queued)
    _stdin_null = False

    def _spawn_cmd(self):
        """(command, extra environment): a str command runs through
        /bin/sh -c, a list is an argv; the dict (or None) adds variables."""
        raise NotImplementedError("Derived classes must implement.")

    def _debug_name(self):
        return self.__class__.__name__.upper()

    @property
    def streams(self):
        """Snapshot of the child's streams (for inspection only)."""
        streams = EngineClientStreamDict()
        if self._state in (_CLOSED, _EXITED):
            return streams
        worker = self.worker
        if not self._weof:
            streams.set_writer(worker.SNAME_STDIN, None, retain=False)
        streams.set_reader(worker.SNAME_STDOUT, None)
        if self._stderr:
            streams.set_reader(worker.SNAME_STDERR, None)
        return streams

    def _cp_request(self):
        cmd, env = self._spawn_cmd()
        task = self.worker.task
        if isinstance(cmd, str):
            argv = ["/bin/sh", "-c", cmd]
        else:
            argv = list(cmd)
        if task._info.get("debug"):
            shown = cmd if isinstance(cmd, str) else " ".join(cmd)
            task.info("print_debug")(task, "%s: %s" % (self._debug_name(), shown))
        if env:
            full_env = dict(os.environ)
            full_env.update(env)
        else:
            full_env = None
        flags = 0
        if not self._stderr:
            flags |= _r.CP_SPAWN_STDERR_MERGE
        if self._weof and not self._wqueue:
            flags |= _r.CP_SPAWN_STDIN_NULL
            self._stdin_null = True
        if self._discardable and self.worker.eh is None and self.worker._tap is None \
                and not task._info.get("debug"):
            worker = self.worker
            if task._msg_sink(worker.SNAME_STDOUT) is None:
                flags |= _r.CP_SPAWN_OUT_DISCARD
            if self._stderr and task._msg_sink(worker.SNAME_STDERR) is None:
                flags |= _r.CP_SPAWN_ERR_DISCARD
        timeout = self.fire_delay
        timeout = max(timeout, 0.001) if timeout > -EPSILON else None
        return (argv, full_env, None, flags, timeout)

    # writing to the child's stdin

    def _write(self, sname, buf):
        """Queue `buf` for stream `sname`."""
        if self._state == _NEW:
            if self._wqueue is None:
                self._wqueue = [buf]
            else:
                self._wqueue.append(buf)
        elif self._state in (_PENDING, _RUNNING) and not self._weof:
            try:
                self._engine.write(self._cid, buf, _r.CP_STDIN)
            except OSError as exc:
                LOGGER.debug("%r: dropped write: %s", self, exc)
        else:
            LOGGER.debug("dropping write to closed stream %s on client %s", sname, self.key)

    def _set_write_eof(self, sname):
        """Close stream `sname` once what was written has gone."""
        if self._state == _NEW:
            self._weof = True
        elif self._state in (_PENDING, _RUNNING) and not self._weof:
            self._weof = True
            if self._stdin_null:
                return
            try:
                self._engine.write_eof(self._cid, _r.CP_STDIN)
            except OSError as exc:
                LOGGER.debug("%r: write EOF: %s", self, exc)

    def _cp_flush_writes(self, engine):
        """Pass on what was written before the child got its id."""
        wqueue, self._wqueue = self._wqueue, None
        for buf in wqueue or ():
            engine.write(self._cid, buf, _r.CP_STDIN)
        if self._weof and not self._stdin_null:
            engine.write_eof(self._cid, _r.CP_STDIN)

    def _cp_abort(self, engine, flush):
        if self._cid:
            status = engine._abort_child(self._cid)
            if status is not False:
                self._status = status

    # records

    def _cp_started(self, pid: int) -> None:
        self._state = _RUNNING
        self.pid = pid
        self._on_started()

    def _cp_lines(self, stream: int, chunk: bytes) -> None:
        worker = self.worker
        self._handle_lines(worker.SNAME_STDOUT if stream == 1 else worker.SNAME_STDERR, chunk)

    def _cp_data(self, stream: int, data: bytes) -> None:
        self._cp_lines(stream, data)

    def _cp_eof(self, stream: int) -> None:
        pass

    def _cp_written(self, stream: int, count: int) -> None:
        self.worker._on_written(self.key, count, self.worker.SNAME_STDIN)

    def _cp_wclosed(self, stream: int, err: int) -> None:
        if err:
            LOGGER.warning("%r: %s", self, OSError(err, os.strerror(err)))

    def _cp_exited(self, status: int, spawn_error: bool) -> None:
        if spawn_error and status in (errno.EMFILE, errno.ENFILE):
            # out of fds: the run stops with the error, as in ClusterShell
            raise OSError(status, os.strerror(status))
        if spawn_error:
            # as a failed exec in a forked child would: pickup, then rc 255
            LOGGER.warning("%s: cannot execute %s: %s", self.key, self._argv0(),
                           os.strerror(status))
            self._state = _RUNNING
            self._on_started()
            status = 255
        self._state = _EXITED
        self._status = status

    def _exit_rc(self, abort, timeout):
        """The return code to report at close: the exit code, or 128 +
        signal number (as shells do) for a child killed by a signal when it
        neither timed out nor was aborted; else None."""
        prc = self._status
        if prc is None:
            return None
        if prc >= 0:
            return prc
        if timeout or abort:
            return None
        return 128 - prc

    def _argv0(self):
        cmd = self._spawn_cmd()[0]
        return "/bin/sh" if isinstance(cmd, str) else cmd[0]

    # hooks for subclasses

    def _on_started(self):
        """The child runs (ev_pickup...)."""

    def _handle_lines(self, sname, chunk):
        """Lines (joined by b'\\n') read on stream sname."""


class _ProcessClient(_ChildProcess, EngineClient):
    """An engine client running one child process (see _ChildProcess)."""


class EnginePort(EngineClient):
    """A port: delivers messages from any thread to its task's thread, where
    they become ``ev_msg`` events of its handler."""

    class _Message(object):
        """A queued message; a sender that asked for it waits until the
        port's thread has taken it."""

        __slots__ = ("payload", "taken")

        def __init__(self, payload, wait):
            self.payload = payload
            self.taken = threading.Event() if wait else None

        def take(self):
            if self.taken is not None:
                self.taken.set()
            return self.payload

        def wait_taken(self):
            if self.taken is not None:
                self.taken.wait()

    def __init__(self, handler=None, autoclose=False):
        from clusterpy.Defaults import DEFAULTS
        EngineClient.__init__(self, None, None, False, -1, autoclose)
        self.eh = handler
        self.delayable = False
        self._started = False
        self._msgq = queue.Queue(DEFAULTS.port_qlimit)

    def __repr__(self):
        return "<%s at 0x%x>" % (self.__class__.__name__, id(self))

    def _start(self):
        if self.eh is not None:
            self.eh.ev_port_start(self)
        return self

    def _deliver(self):
        """Hand the queued messages to the handler (task thread)."""
        msgq = self._msgq
        while msgq is not None and self.eh is not None:
            try:
                pmsg = msgq.get_nowait()
            except queue.Empty:
                return
            self.eh.ev_msg(self, pmsg.take())
            msgq = self._msgq

    def _close(self, abort, timeout):
        msgq, self._msgq = self._msgq, None
        while msgq is not None:
            try:
                pmsg = msgq.get_nowait()
            except queue.Empty:
                break
            LOGGER.debug("%r: dropped msg: %s", self, pmsg.take())
        self.invalidate()

    def msg(self, send_msg, send_once=False):
        """Send `send_msg` to the port (from any thread).  Unless
        `send_once`, wait until it is delivered.  Return False if the port
        is closed."""
        msgq = self._msgq
        if msgq is None:
            return False
        pmsg = EnginePort._Message(send_msg, not send_once)
        msgq.put(pmsg)
        engine = self._engine
        if engine is not None:
            engine._wake()
        pmsg.wait_taken()
        return True

    def msg_send(self, send_msg):
        """Send `send_msg` without waiting for its delivery."""
        return self.msg(send_msg, send_once=True)

