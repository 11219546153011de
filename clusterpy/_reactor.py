"""The C reactor seen from Python: the only importer of ``clusterpy._core``.

A :class:`Reactor` owns one C reactor (csrc/cp.h is the full contract).
Python never gets fds or pointers from it, only integer ids, and is never
called back: each loop pass calls :meth:`Reactor.poll_batch`, which returns
the batch of records decoded into columns (type, stream, id, a, b: one list
each) and the arena that LINES/DATA records point into.  This module alone
knows the record layout (``CP_REC_WORDS`` int32 words ``kind, id, a, b``
with ``kind = type | stream << 8``; :meth:`Reactor.poll` still returns the
raw words)::

    with Reactor() as r:
        (cid,) = r.spawn([(["echo", "hi"], None, None, 0, 0, None)])
        done = False
        while not done:
            types, streams, ids, a, b, arena = r.poll_batch()
            for type_, stream, id_, a_, b_ in zip(types, streams, ids, a, b):
                if type_ == CP_EV_LINES:
                    lines = arena[a_:a_ + b_].split(b"\\n")
                done |= type_ == CP_EV_EXIT

Errors from C (``-errno``) become ``OSError(errno, strerror)``; a stale id
gives ``errno.ESTALE``.  A child's id stays valid until the next poll after
its end (EXIT or SPAWNERR record, abort), so that handlers of that batch can
still ask for its status (:meth:`Reactor.child_status`, :meth:`Reactor.abort`).
Every call but :meth:`Reactor.wake` belongs to the reactor's owner thread.
"""
import os
import sys
import threading
import warnings
import weakref
from array import array
from errno import EINTR
from typing import TYPE_CHECKING, Any, Dict, Iterable, List, Optional, Sequence, Tuple, Union

from clusterpy._core import ffi, lib

__all__ = ["Reactor", "live_reactors"]

# CP_* constants of cp.h, under the same names
for _name in dir(lib):
    if _name.startswith("CP_") and isinstance(getattr(lib, _name), int):
        globals()[_name] = getattr(lib, _name)
        __all__.append(_name)
del _name

if TYPE_CHECKING:   # the constants set above that other modules use
    CP_EV_LINES: int
    CP_EV_EOF: int
    CP_EV_EXIT: int
    CP_EV_START: int
    CP_EV_TIMER: int
    CP_EV_WRITTEN: int
    CP_EV_WCLOSED: int
    CP_EV_TIMEOUT: int
    CP_EV_SPAWNERR: int
    CP_EV_DATA: int
    CP_EV_WAKE: int
    CP_FD_READ: int
    CP_FD_WRITE: int
    CP_FD_RAW: int
    CP_FD_CLOSE: int
    CP_MODE_DISCARD: int
    CP_MODE_LINES: int
    CP_MODE_RAW: int
    CP_SPAWN_ERR_DISCARD: int
    CP_SPAWN_OUT_DISCARD: int
    CP_SPAWN_STDERR_MERGE: int
    CP_SPAWN_STDIN_NULL: int
    CP_STDIN: int
    CP_STDOUT: int
    CP_STDERR: int
    CP_R_NO_PIDFD: int

_BACKENDS = {"epoll": lib.CP_BACKEND_EPOLL, "poll": lib.CP_BACKEND_POLL}
_COUNTERS = ("slots", "fds", "children", "pending", "timers", "groups", "queued")
_ARENA_SLACK = 64                   # cp_poll() wants arena_cap >= line_max + 64
_WORDS = lib.CP_REC_WORDS
_NOT_STARTED = lib.CP_NOT_STARTED
_NO_CHILD = lib.CP_NO_CHILD
_REC_BYTES = 4 * _WORDS
# kind = type | stream << 8, type and stream < 256: each one byte of the
# record's first word, whose place depends on the byte order
_TYPE_BYTE, _STREAM_BYTE = (0, 1) if sys.byteorder == "little" else (3, 2)
_new_raw = ffi.new_allocator(should_clear_after_alloc=False)
_live: "weakref.WeakSet[Reactor]" = weakref.WeakSet()

#: a decoded batch of records (see Reactor.poll_batch)
Batch = Tuple[Sequence[int], Sequence[int], Sequence[int], Sequence[int], Sequence[int], Any]
EMPTY_BATCH: Batch = ((), (), (), (), (), b"")


#: a spawn request: (argv, env, cwd, flags, group, timeout)
Request = Tuple[Sequence, Optional[Dict[str, str]], Optional[Union[str, bytes]], int, int,
                Optional[float]]


def live_reactors() -> List["Reactor"]:
    """Reactors created and not closed yet (for resource checks in tests)."""
    return [r for r in list(_live) if not r.closed]


def _error(rc: int) -> OSError:
    return OSError(-rc, os.strerror(-rc))


def _free_unclosed(ptr) -> None:
    # ffi.gc safety net: the Reactor was collected without close()
    lib.cp_reactor_free(ptr)
    warnings.warn("clusterpy Reactor collected without close()", ResourceWarning)


def _ms(seconds: float) -> int:
    """Seconds (>= 0) to whole milliseconds, rounded up (never wake early),
    at most 2**31 - 1 (about 24 days)."""
    if seconds <= 0:
        return 0
    if seconds >= 2147483.647:
        return 0x7fffffff
    ms = int(seconds * 1000)
    return ms + 1 if ms < seconds * 1000 else ms


def _closed():
    return ValueError("I/O operation on a closed Reactor")


class Reactor:
    """One C reactor: children, user fds, timers, wake-ups, in batches."""

    __slots__ = ("_r", "_ev", "_evbytes", "_evwords", "_ev_cap", "_arena", "_arena_cap",
                 "_used", "_partial", "_line_max", "_lock", "backend", "closed",
                 "__weakref__")

    def __init__(self, backend: str = "epoll", no_pidfd: bool = False,
                 line_max: int = 1 << 20, ev_cap: int = 8192,
                 arena_cap: int = 4 << 20) -> None:
        if backend not in _BACKENDS:
            raise ValueError("unknown reactor backend %r (epoll or poll)" % (backend,))
        if line_max < 64:
            raise ValueError("line_max must be at least 64")
        if ev_cap < 4:
            raise ValueError("ev_cap must be at least 4")
        if arena_cap < line_max + _ARENA_SLACK:
            raise ValueError("arena_cap must be at least line_max + %d" % _ARENA_SLACK)
        self._r = None
        self._lock = threading.Lock()
        self.closed = True
        out = ffi.new("cp_reactor **")
        rc = lib.cp_reactor_new(out, _BACKENDS[backend],
                                lib.CP_R_NO_PIDFD if no_pidfd else 0)
        if rc < 0:
            raise _error(rc)
        self._r = ffi.gc(out[0], _free_unclosed)
        lib.cp_set_line_max(self._r, line_max)
        self._line_max = line_max
        self._partial = None    # partial()'s buffer, made on first use
        self._ev = _new_raw("int32_t[]", ev_cap * _WORDS)
        self._evbytes = memoryview(ffi.buffer(self._ev))
        self._evwords = self._evbytes.cast("i")
        self._ev_cap = ev_cap
        self._arena = _new_raw("char[]", arena_cap)
        self._arena_cap = arena_cap
        self._used = ffi.new("int32_t *")
        self.backend = backend
        self.closed = False
        _live.add(self)

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return "<clusterpy Reactor %s %s>" % (self.backend, state)

    def __enter__(self) -> "Reactor":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Kill and reap every child, close every fd, drop the rest; free.
        Idempotent.  Owner thread only (another thread may only wake())."""
        with self._lock:
            r = self._r
            if r is None:
                return
            self._r = None
            self.closed = True
            ffi.gc(r, None)
        lib.cp_reactor_free(r)

    def _call(self, fn, *args) -> int:
        """fn(reactor, *args), its -errno raised as OSError."""
        r = self._r
        if r is None:
            raise _closed()
        rc = fn(r, *args)
        if rc < 0:
            raise _error(rc)
        return rc

    # -- fanout ---------------------------------------------------------

    def set_fanout(self, fanout: int, group: int = 0) -> None:
        """At most `fanout` children of `group` run at once (<= 0: no limit)."""
        self._call(lib.cp_group_set_fanout, group, fanout)

    def group_new(self, fanout: int) -> int:
        """A new fanout group; its id goes in spawn requests."""
        return self._call(lib.cp_group_new, fanout)

    def group_free(self, group: int) -> None:
        """Forget a group without running or pending children (else EBUSY)."""
        self._call(lib.cp_group_free, group)

    # -- children -------------------------------------------------------

    def spawn(self, requests: Iterable[Request]) -> List[int]:
        """Queue spawn requests in one C call; return their ids.

        Each request is ``(argv, env, cwd, flags, group, timeout)``: argv a
        list of str or bytes (argv[0] looked up in PATH), env None (inherit)
        or the full environment as a dict, cwd None or a directory, flags
        ``CP_SPAWN_*``, group a fanout group, timeout None or seconds.
        """
        if self._r is None:
            raise _closed()
        fsencode = os.fsencode
        desc = array("i")
        blob = bytearray()     # grown in place: no list of parts to join
        # id(env) -> (env, offset, length): one copy per batch
        envs: Dict[int, Tuple[Any, int, int]] = {}
        for argv, env, cwd, flags, group, timeout in requests:
            aoff = len(blob)
            for a in argv:
                blob += a if a.__class__ is bytes else fsencode(a)
                blob.append(0)
            alen = len(blob) - aoff
            if env is None:
                eoff, elen = 0, -1
            else:
                cached = envs.get(id(env))
                if cached is None:  # (holding env keeps its id unique)
                    eoff = len(blob)
                    for k, v in env.items():
                        blob += fsencode(k) + b"=" + fsencode(v) + b"\0"
                    cached = envs[id(env)] = (env, eoff, len(blob) - eoff)
                _, eoff, elen = cached
            if cwd is None:
                coff = -1
            else:
                coff = len(blob)
                blob += fsencode(cwd)
                blob.append(0)
            desc.extend((aoff, alen, eoff, elen, coff, flags, group,
                         _ms(timeout) if timeout else 0))
        n = len(desc) // lib.CP_SQ_WORDS
        if not n:
            return []
        ids = ffi.new("int32_t[]", n)
        self._call(lib.cp_spawn_batch, ffi.from_buffer("int32_t[]", desc), n,
                   ffi.from_buffer(blob), len(blob), ids)
        return ffi.unpack(ids, n)

    def kill(self, id: int, sig: int) -> None:
        """Send sig to a running child's process group."""
        self._call(lib.cp_kill, id, sig)

    def abort(self, id: int) -> Optional[int]:
        """End a child now, with no further event for it.  Returns its exit
        status (code or -signal), or None if it never started.  A child that
        ended since the last poll (its EXIT record in the current batch)
        gives its status again."""
        status = ffi.new("int32_t *")
        self._call(lib.cp_abort, id, status)
        return None if status[0] == _NOT_STARTED else status[0]

    def abort_many(self, ids: Iterable[int]) -> List[Optional[int]]:
        """abort() of many children in one C call: all are killed first,
        then reaped together (about one second at most for the whole call).
        Returns their statuses in order: exit code or -signal, None for one
        that never started or a stale id."""
        idv = array("i", ids)
        n = len(idv)
        if not n:
            return []
        status = array("i", bytes(4 * n))
        self._call(lib.cp_abort_many, ffi.from_buffer("int32_t[]", idv), n,
                   ffi.from_buffer("int32_t[]", status))
        return [None if s == _NOT_STARTED or s == _NO_CHILD else s for s in status]

    def child_status(self, id: int) -> Tuple[bool, Optional[int]]:
        """(ended, status) of a child: (False, None) while pending or
        running; once its EXIT or SPAWNERR record came or it was aborted
        (its id stays valid until the next poll), (True, exit code or
        -signal, or None if it never ran)."""
        status = ffi.new("int32_t *")
        if not self._call(lib.cp_child_status, id, status):
            return False, None
        return True, None if status[0] == _NOT_STARTED else status[0]

    def stream_mode(self, id: int, stream: int, mode: int) -> None:
        """Read a stream as CP_MODE_LINES, CP_MODE_RAW or CP_MODE_DISCARD."""
        self._call(lib.cp_stream_mode, id, stream, mode)

    def partial(self, id: int, stream: int = 0) -> bytes:
        """Take the unfinished last line of a read stream (b"" if none)."""
        # not into the arena: records of the current poll_view() batch may
        # still point into it (this is called from handlers)
        if self._partial is None:
            # a tail holds at most line_max + 1 bytes (a '\r' yet to trim)
            self._partial = _new_raw("char[]", self._line_max + _ARENA_SLACK)
        n = self._call(lib.cp_stream_partial, id, stream, self._partial,
                       self._line_max + _ARENA_SLACK)
        return ffi.buffer(self._partial, n)[:] if n else b""

    # -- writing --------------------------------------------------------

    def write(self, id: int, data: bytes, stream: int = 0) -> None:
        """Queue data (bytes or any buffer) for a child's stdin or a user fd;
        it is copied."""
        if data.__class__ is not bytes:
            data = ffi.from_buffer(data)
        self._call(lib.cp_write, id, stream, data, len(data))

    def write_many(self, ids: Iterable[int], data: bytes, stream: int = 0) -> int:
        """Queue the same data (stored once) for several ids; stale or closed
        ones are skipped.  Returns how many got it."""
        idv = array("i", ids)
        if not idv:
            return 0
        if data.__class__ is not bytes:
            data = ffi.from_buffer(data)
        return self._call(lib.cp_write_many, ffi.from_buffer("int32_t[]", idv),
                          len(idv), stream, data, len(data))

    def write_eof(self, id: int, stream: int = 0) -> None:
        """Close the write side once its queue has drained."""
        self._call(lib.cp_write_eof, id, stream)

    # -- user fds -------------------------------------------------------

    def fd_add(self, fd: int, flags: int) -> int:
        """Watch fd (CP_FD_* flags); it is made non-blocking."""
        return self._call(lib.cp_fd_add, fd, flags)

    def fd_remove(self, id: int) -> None:
        """Stop watching a user fd now (closing it if CP_FD_CLOSE)."""
        self._call(lib.cp_fd_remove, id)

    # -- timers ---------------------------------------------------------

    def timer_add(self, delay: float, interval: float = 0.0) -> int:
        """A timer firing after delay seconds, then every interval if > 0."""
        return self._call(lib.cp_timer_add, delay, interval)

    def timer_add_many(self, spec) -> "array[int]":
        """Timers from a flat sequence of (delay, interval) pairs (an
        array("d") is used as it is), in one call; returns their ids, as an
        array("i") (no int object per timer until read)."""
        if not isinstance(spec, array) or spec.typecode != "d":
            spec = array("d", spec)
        n = len(spec) // 2
        ids = array("i", bytes(4 * n))
        self._call(lib.cp_timer_add_many, ffi.from_buffer("double[]", spec), n,
                   ffi.from_buffer("int32_t[]", ids))
        return ids

    def timer_set(self, id: int, delay: float, interval: float = 0.0) -> None:
        """Re-arm an armed timer."""
        self._call(lib.cp_timer_set, id, delay, interval)

    def timer_cancel(self, id: int) -> None:
        """Disarm a timer; its id ends."""
        self._call(lib.cp_timer_cancel, id)

    # -- the loop -------------------------------------------------------

    def wake(self) -> None:
        """Make the current or next poll() return a WAKE record.  The one
        call safe from any thread; a no-op once closed."""
        with self._lock:
            if self._r is not None:
                lib.cp_wake(self._r)

    def poll(self, timeout: Optional[float] = None) -> Tuple[List[int], bytes]:
        """One loop pass: wait up to timeout seconds (None: no limit) unless
        work is at hand; return (record words, arena bytes).  A signal during
        the wait returns ([], b"") after Python ran its handler."""
        words, arena = self.poll_view(timeout)
        return words, arena[:]

    def _poll_n(self, timeout: Optional[float]) -> int:
        """cp_poll() into the record and arena buffers: the number of
        records (0 also after a signal, whose Python handler ran)."""
        r = self._r
        if r is None:
            raise _closed()
        n = lib.cp_poll(r, -1 if timeout is None else _ms(timeout), self._ev,
                        self._ev_cap, self._arena, self._arena_cap, self._used)
        if n >= 0 or n == -EINTR:
            return max(n, 0)
        raise _error(n)

    def poll_view(self, timeout: Optional[float] = None) -> Tuple[List[int], Any]:
        """poll() without copying the arena: return (record words, a buffer
        over the arena) whose slices ``buf[a:a + b]`` are ``bytes``.  The
        buffer is only valid until the next poll: take the slices first."""
        n = self._poll_n(timeout)
        if n:
            return (self._evwords[:n * _WORDS].tolist(),
                    ffi.buffer(self._arena, self._used[0]))
        return [], b""

    def poll_batch(self, timeout: Optional[float] = None) -> "Batch":
        """poll_view(), its records decoded into columns: ``(types, streams,
        ids, a, b, arena)``, five lists of ints one entry per record (the
        record type ``CP_EV_*``, its stream, its id and its two operands)
        and the arena buffer (valid until the next poll, as poll_view()'s).
        The columns come out of the record array by strided slices, each in
        one C pass: a loop over them does no bit arithmetic per record."""
        n = self._poll_n(timeout)
        if n:
            words = self._evwords[:n * _WORDS]
            octets = self._evbytes[:n * _REC_BYTES]
            return (octets[_TYPE_BYTE::_REC_BYTES].tolist(),
                    octets[_STREAM_BYTE::_REC_BYTES].tolist(),
                    words[1::_WORDS].tolist(), words[2::_WORDS].tolist(),
                    words[3::_WORDS].tolist(), ffi.buffer(self._arena, self._used[0]))
        return EMPTY_BATCH

    def fileno(self) -> int:
        """A descriptor readable whenever a poll(0) has work, for another
        event loop to watch (asyncio's add_reader); the reactor's own: do
        not close it.  due() tells when a poll is due regardless."""
        return self._call(lib.cp_reactor_fd)

    def due(self) -> Optional[float]:
        """When the next poll is due without fileno() being readable: 0.0
        for now, the ``time.monotonic()`` deadline of the next timer, or
        None if only readiness can bring work."""
        r = self._r
        if r is None:
            raise _closed()
        ns = lib.cp_poll_due(r)
        if ns < 0:
            return None
        return ns / 1e9 if ns else 0.0

    def counters(self) -> Dict[str, int]:
        """Live resources: slots, fds, children, pending, timers, groups,
        queued (bytes waiting in write queues)."""
        r = self._r
        if r is None:
            raise _closed()
        c = ffi.new("struct cp_counters *")
        lib.cp_get_counters(r, c)
        return {name: getattr(c, name) for name in _COUNTERS}


def _main(commands: List[str]) -> int:
    """Run shell commands in parallel; print their lines as they come."""
    if not commands:
        sys.stderr.write("usage: python -m clusterpy._reactor COMMAND...\n")
        return 2
    worst = 0
    with Reactor() as r:
        ids = r.spawn([(["sh", "-c", c], None, None, lib.CP_SPAWN_STDIN_NULL, 0, None)
                       for c in commands])
        index = {cid: n for n, cid in enumerate(ids)}
        files = {lib.CP_STDOUT: sys.stdout.buffer, lib.CP_STDERR: sys.stderr.buffer}
        left = len(ids)
        while left:
            types, streams, ids_, avals, bvals, arena = r.poll_batch()
            for kind, stream, cid, a, b in zip(types, streams, ids_, avals, bvals):
                tag = b"[%d] " % index.get(cid, -1)
                if kind == lib.CP_EV_LINES:
                    out = files[stream]
                    out.write(b"".join(tag + line + b"\n"
                                       for line in arena[a:a + b].split(b"\n")))
                    out.flush()
                elif kind in (lib.CP_EV_EXIT, lib.CP_EV_SPAWNERR):
                    left -= 1
                    what = ("exit %d" % a if kind == lib.CP_EV_EXIT
                            else "cannot run: %s" % os.strerror(a))
                    sys.stderr.write("%s%s\n" % (tag.decode(), what))
                    worst = max(worst, 1 if a else 0)
    return worst


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
