"""Engine: a Task's event loop, on clusterpy's C reactor.

Theory of operation
-------------------
An Engine keeps the Python side of everything a Task runs: engine clients
(one per command or stream set, grouped by Worker), ports and timers.  The
C reactor (clusterpy._reactor.Reactor) does the per-node work; the Engine
owns one reactor while it has something in it, creating it when a run starts
and closing it when the run ends with nothing left inside, so that an idle
Task holds no fd.

The Engine is the one owner of a run: it alone writes reactor ids (``_ids``:
id -> record target, see RecordTarget and ChildTarget), the reference
counts, the timers, and calls the reactor.  Clients and workers ask it
(``write()``, ``write_many()``, ``_watch_fd()``, ``_abort_child()``,
``_ref()``...) and get the records of their ids through the ``_cp_*``
methods of those protocols.

One loop pass: queued clients go to C in one batch (spawn requests carry
their fanout group: 0 for the Task's fanout, or a Worker's own group), one
``poll_batch()`` returns a batch of records (decoded into columns by
clusterpy._reactor, which alone knows their layout), and each record is
dispatched by id to the client, port or timer it belongs to (a record's
lines are sliced out of the arena buffer as bytes, one copy, valid past the
next poll).  Records for ids that are no longer known (a worker aborted by
an earlier record of the same batch) are dropped.  Process exits are
handled after the I/O records of the batch (but before any start of a newly
spawned child), so that a command's last lines always come before its
``ev_hup`` and the number of running clients seen by handlers never
exceeds the fanout.

Spawn requests are streamed: C holds at most a group's fanout plus
``SPAWN_SLICE`` (or the fanout again, if larger) of its children, running or
pending; the others wait in Python (``_held``), and go to C in a batch at
the start of a pass once half a slice of room has opened.  A held worker's
nodes are not even clients yet: a ClientSource (``add_worker()``) makes
each node's client as its turn comes.  So the first command starts as soon
as the first slice is built, whatever the number of nodes, and a pending
node costs a few bytes.

The loop runs while ``evlooprefcnt`` > 0: the count of live clients, started
ports and armed timers that are not ``autoclose``.  Its only cross-thread
entry is ``_wake()`` (ports), guarded by a lock against the reactor closing.

``run()`` is ``_run_start()``, passes until the count is 0, ``_run_end()``
(``_run_failed()`` first on an exception).  clusterpy.aio drives the same
parts from an asyncio loop: its driver (``_driver``) calls ``step()``, one
pass that does not block, whenever the reactor's fileno() is readable or
its due() time comes, and is kicked when work is queued between passes.
"""

import errno
import logging
import os
import signal
import threading
from array import array
from collections import deque
from time import monotonic
from typing import Any, Dict, Protocol

from clusterpy import _reactor as _r

E_READ = 0x1
E_WRITE = 0x2

EPSILON = 1.0e-3

#: the slot index of a reactor id (csrc/slots.c: generation << 20 | index)
_SLOT_MASK = (1 << 20) - 1
#: the fire_delay of a timer while it fires (one object: an identity test
#: tells that its handler did not set it)
_FIRING = -1.0

FANOUT_UNLIMITED = -1
FANOUT_DEFAULT = None

LOGGER = logging.getLogger(__name__)

# client states
_NEW, _PENDING, _RUNNING, _EXITED, _CLOSED = range(5)

#: spawn requests C holds beyond a group's fanout (see the module documentation)
SPAWN_SLICE = 256


def _count(line, limit=None):
    """The number of clients of a held line (clients and sources), counted
    no further than past `limit` if given."""
    count = 0
    for item in line:
        count += len(item) if item.__class__ is ClientSource else 1
        if limit is not None and count > limit:
            break
    return count


class EngineException(Exception):
    """Base engine exception."""


class EngineAbortException(EngineException):
    """Raised on user abort."""

    def __init__(self, kill):
        EngineException.__init__(self)
        self.kill = kill


class EngineTimeoutException(EngineException):
    """Raised when the run's time limit is reached."""


class EngineIllegalOperationError(EngineException):
    """An operation that is not allowed in the current state."""


class EngineAlreadyRunningError(EngineIllegalOperationError):
    """The engine is already running."""


class EngineNotSupportedError(EngineException):
    """The requested engine mechanism is not available here."""

    def __init__(self, engineid):
        EngineException.__init__(self)
        self.engineid = engineid


class EngineBaseTimer(object):
    """A timer bound to an engine: fires once after `fire_delay` seconds,
    then every `interval` seconds if `interval` > 0.  An `autoclose` timer
    does not keep the engine running by itself.

    Engine clients derive from it: their fire_delay is their timeout.

    Its instances have a dict, as ClusterShell's; the slots declared here
    let EngineTimer keep its own state in slots besides it (the
    engine-side state below is a class default until the engine sets it).
    """

    __slots__ = ("__dict__", "__weakref__")

    # engine-side state (see the timer section of Engine)
    _engine: Any = None
    #: 0: not armed; -1: queued, armed in C at the next pass; > 0: its C id
    _tid = 0

    def __init__(self, fire_delay, interval=-1.0, autoclose=False):
        self.fire_delay = -1.0 if fire_delay is None else fire_delay
        self.interval = interval
        self.autoclose = autoclose

    @property
    def _armed(self):
        """Whether the timer is armed (queued or in C)."""
        return self._tid != 0

    def _set_engine(self, engine):
        if self._engine:
            raise EngineIllegalOperationError("Already bound to engine.")
        self._engine = engine

    def invalidate(self) -> None:
        """Stop the timer for good."""
        engine = self._engine
        if engine:
            engine._timer_invalidate(self)
            self._engine = None

    def is_valid(self) -> bool:
        """Whether the timer is bound to an engine and may still fire."""
        return self._engine is not None

    def set_nextfire(self, fire_delay, interval=-1) -> None:
        """Fire next in `fire_delay` seconds, then every `interval` seconds
        (one-shot if `interval` <= 0)."""
        if not self.is_valid():
            raise EngineIllegalOperationError("Operation on invalid timer.")
        self.fire_delay = fire_delay
        self.interval = interval
        self._engine._timer_reschedule(self)

    def _fire(self):
        raise NotImplementedError("Derived classes must implement.")


class EngineTimer(EngineBaseTimer):
    """A timer calling ``handler.ev_timer(timer)`` when it fires.

    Its state lives in slots (a timer may be one of 100k: 112 bytes in all
    on CPython 3.11), but for `autoclose`, a class default unless set; its
    dict (made on first use) takes any other attribute a user sets on it,
    as a ClusterShell timer's would.
    """

    __slots__ = ("fire_delay", "interval", "eh", "_engine", "_tid")

    autoclose = False

    def __init__(self, fire_delay, interval, autoclose, handler):
        # EngineBaseTimer.__init__, inlined: task.timer() is a hot path
        self.fire_delay = -1.0 if fire_delay is None else fire_delay
        self.interval = interval
        if autoclose is not False:
            self.autoclose = autoclose
        self.eh = handler
        self._engine = None
        self._tid = 0
        assert handler is not None, "An event handler is needed for timer."

    def _fire(self):
        self.eh.ev_timer(self)


class RecordTarget(Protocol):
    """What the engine calls for the records of a reactor id it watches
    (a user fd: StreamClient's streams, the signal pipe).  `stream` is the
    record's stream number (0 for a user fd); `chunk` holds whole lines
    joined by b"\\n" (a final unterminated line at EOF, or a bounded piece
    of a very long one), `data` a raw read."""

    def _cp_lines(self, stream: int, chunk: bytes) -> None:
        """Lines read (line mode)."""

    def _cp_data(self, stream: int, data: bytes) -> None:
        """Bytes read (raw mode)."""

    def _cp_eof(self, stream: int) -> None:
        """The read side reached its end; C closed it (the id is gone)."""

    def _cp_written(self, stream: int, count: int) -> None:
        """`count` queued bytes were written."""

    def _cp_wclosed(self, stream: int, err: int) -> None:
        """The write side is closed (err: 0, or the errno that closed it)."""


class ChildTarget(RecordTarget, Protocol):
    """What the engine calls for the records of a child it spawned (an
    engine client of a process), besides RecordTarget's calls for its
    streams (1: stdout, 2: stderr, 0: stdin)."""

    #: set by the engine on the child's TIMEOUT record (its EXIT follows)
    _timedout: bool

    def _cp_started(self, pid: int) -> None:
        """The child left the fanout queue and runs."""

    def _cp_exited(self, status: int, spawn_error: bool) -> None:
        """The child was reaped: status is its exit code or -signal, or
        with spawn_error the errno that kept it from starting.  Its id is
        gone; the engine closes it at the end of the batch."""


class _SignalPipe(object):
    """Records of the signal wake-up pipe: the wait ended, nothing to do
    (Python runs the signal handlers when the poll returns)."""

    def _cp_lines(self, stream: int, chunk: bytes) -> None:
        pass

    def _cp_data(self, stream: int, data: bytes) -> None:
        pass

    def _cp_eof(self, stream: int) -> None:
        pass

    def _cp_written(self, stream: int, count: int) -> None:
        pass

    def _cp_wclosed(self, stream: int, err: int) -> None:
        pass


_SIGNAL_PIPE: RecordTarget = _SignalPipe()


class ClientSource(object):
    """The clients of one worker, made on demand: a worker of 100,000 nodes
    has no client object for a node before the engine is about to spawn it
    (or something asks for every client: Engine.clients(), an abort).

    `owner._cp_make()` returns the worker's next client, in order; `count`
    is how many it will make; `autoclose` is theirs.  Once the source is added to an
    engine, a client made ahead of its turn (make_all()) is registered at
    once and waits in `made` for its turn in the fanout queue.
    """

    __slots__ = ("owner", "left", "made", "autoclose", "engine", "refs")

    def __init__(self, owner, count, autoclose):
        self.owner = owner
        self.left = count       # clients not made yet
        self.made = None        # deque of clients made ahead of their turn
        self.autoclose = autoclose
        self.engine = None
        self.refs = 0           # evlooprefcnt held for the clients not made

    def __len__(self):
        return self.left + (len(self.made) if self.made else 0)

    def _make(self, count):
        """Make up to `count` new clients (registered if added)."""
        count = min(count, self.left)
        self.left -= count
        make = self.owner._cp_make
        engine = self.engine
        clients = [make() for _ in range(count)]
        if engine is not None:
            for client in clients:
                engine._adopt(client, self)
        return clients

    def take(self, count):
        """Up to `count` clients whose turn it is (made ahead first)."""
        made = self.made
        taken = []
        while made and len(taken) < count:
            taken.append(made.popleft())
        if len(taken) < count and self.left:
            taken += self._make(count - len(taken))
        return taken

    def discard(self):
        """Close the clients not made yet without making them, if the
        owner can (owner._cp_discard(count): an engine clearing); returns
        whether they are gone."""
        count = self.left
        if not count:
            return True
        discard = getattr(self.owner, "_cp_discard", None)
        if discard is None:
            return False
        engine = self.engine
        left, refs = self.left, self.refs
        self.left = self.refs = 0
        if engine is not None:
            engine.evlooprefcnt -= refs
        done = True     # (also when discard raises: those nodes are gone)
        try:
            done = discard(count)
        finally:
            if not done:
                self.left, self.refs = left, refs
                if engine is not None:
                    engine.evlooprefcnt += refs
        return done

    def make_all(self):
        """Make every client left (ahead of their turn, if added)."""
        if not self.left:
            return
        clients = self._make(self.left)
        if self.engine is not None:
            if self.made is None:
                self.made = deque()
            self.made.extend(clients)


class Engine(object):
    """The event loop of a Task (see the module documentation)."""

    identifier = "(none)"
    _backend = "epoll"

    #: reactor id -> its record target: a ChildTarget (a process client),
    #: a RecordTarget (a user fd) or a timer (see _timer_fired)
    _ids: Dict[int, Any]

    def __init__(self, info):
        self.info = info
        info["engine"] = self.identifier
        self._clients = {}      # delayable clients (ordered set)
        self._ports = {}        # ports (ordered set)
        self._ids = {}
        self._queued = []       # stream clients added, not yet registered
        self._tqueue = []       # timers armed, not yet handed to the reactor
        self._tspec = array("d")    # their (deadline, interval) pairs
        self._tqstale = False   # some of _tqueue were disarmed or queued twice
        self._tslots = []       # C slot index -> EngineTimer armed in C (or None)
        self._tother = {}       # C id -> any other timer armed in C
        self._groups = {}       # worker -> [fanout group id, live clients]
        self._held = {}         # worker (own fanout) or None -> deque of clients
        self._live0 = 0         # children in C of group 0 (running or pending)
        self._fanout = None     # fanout applied to the reactor's group 0
        self._reactor = None
        self._reactor_lock = threading.Lock()
        self.evlooprefcnt = 0
        self.running = False
        self._exited = False
        self._signals = None    # _watch_signals() state during a run
        self._driver = None     # clusterpy.aio's driver running the loop, if any

    # reactor lifecycle

    def _ensure_reactor(self):
        if self._reactor is None:
            reactor = _r.Reactor(backend=self._backend)
            with self._reactor_lock:
                self._reactor = reactor
            self._fanout = None
            self._sync_fanout()
            self._arm_timers()
        return self._reactor

    def _close_reactor(self):
        with self._reactor_lock:
            reactor, self._reactor = self._reactor, None
        if reactor is not None:
            reactor.close()
        self._ids.clear()
        self._groups.clear()

    def release(self) -> None:
        """Release engine resources (kills what still runs)."""
        self._close_reactor()

    def _wake(self):
        """Make a waiting run loop look at its ports (any thread)."""
        with self._reactor_lock:
            if self._reactor is not None:
                self._reactor.wake()

    # bookkeeping

    def clients(self):
        """A copy of the set of clients (every client of a ClientSource is
        made for it)."""
        self._make_all()
        return set(self._clients)

    def _make_all(self):
        """Make the clients that sources hold back (ClientSource)."""
        for line in list(self._held.values()):
            for item in list(line):
                if item.__class__ is ClientSource:
                    item.make_all()

    def ports(self):
        """A copy of the set of ports."""
        return set(self._ports)

    def add(self, client) -> None:
        """Add a client (or a port); it starts now if the engine runs, else
        when it starts running."""
        client._set_engine(self)
        if client.delayable:
            self._clients[client] = None
            client._state = _NEW
            if not client.autoclose and not client._counts_streams:
                client._refs = 1
                self.evlooprefcnt += 1
            if client._spawns:
                # held in its fanout group's queue until C has room for it
                worker = client.worker
                key = None if worker is None or worker._fanout is FANOUT_DEFAULT else worker
                line = self._held.get(key)
                if line is None:
                    line = self._held[key] = deque()
                line.append(client)
            else:
                self._queued.append(client)
            if self.running and self._driver is not None:
                self._driver.kick()
        else:
            self._ports[client] = None
            if self.running:
                self._start_port(client)

    def add_worker(self, worker) -> None:
        """Add the clients of a worker: the ones it made, then its source
        of clients made on demand, if it has one (Worker._engine_parts)."""
        clients, source = worker._engine_parts()
        for client in clients:
            self.add(client)
        if source is not None and len(source):
            self._add_source(source, worker)

    def _add_source(self, source, worker):
        """Hold a ClientSource in its worker's fanout queue: its clients are
        made as their turn comes (see _feed)."""
        source.engine = self
        if not source.autoclose:
            source.refs = source.left
            self.evlooprefcnt += source.left
        key = None if worker is None or worker._fanout is FANOUT_DEFAULT else worker
        line = self._held.get(key)
        if line is None:
            line = self._held[key] = deque()
        line.append(source)
        if self.running and self._driver is not None:
            self._driver.kick()

    def _adopt(self, client, source):
        """Register a client its source just made (it takes over one of the
        source's references)."""
        client._set_engine(self)
        self._clients[client] = None
        client._state = _NEW
        if source.refs > 0 and not client.autoclose:
            source.refs -= 1
            client._refs = 1

    def remove(self, client, abort=False, did_timeout=False) -> None:
        """Remove a client (or port), closing it."""
        if client.delayable:
            if client in self._clients:
                self._end_client(client, abort, did_timeout)
        elif client in self._ports:
            del self._ports[client]
            if client._started and not client.autoclose:
                self.evlooprefcnt -= 1
            client._close(abort, did_timeout)

    def clear(self, did_timeout=False, clear_ports=False) -> None:
        """Remove every client (and port if clear_ports), aborting them.
        Every one is removed even if a handler raises on the way; the first
        exception is raised at the end."""
        failure = None
        for line in list(self._held.values()):
            for item in list(line):
                if item.__class__ is ClientSource:
                    try:
                        if not item.discard():
                            item.make_all()
                    except BaseException as exc:  # noqa: BLE001 (re-raised below)
                        failure = failure or exc
        doomed = list(self._clients) + (list(self._ports) if clear_ports else [])
        try:
            self._abort_children(self._clients)
        except BaseException as exc:  # noqa: BLE001 (re-raised below)
            failure = failure or exc
        self._held = {}
        for client in doomed:
            try:
                self.remove(client, abort=True, did_timeout=did_timeout)
            except BaseException as exc:  # noqa: BLE001 (re-raised below)
                failure = failure or exc
        if not self.running and not self._ids:
            self._close_reactor()
        if failure is not None:
            raise failure

    def _join_group(self, client):
        """Fanout group of a client: 0 (the task's fanout) unless its worker
        has a fanout of its own, which gets a reactor group."""
        worker = client.worker
        if worker is None or worker._fanout is FANOUT_DEFAULT:
            return 0
        entry = self._groups.get(worker)
        if entry is None:
            fanout = worker._fanout
            limit = 0 if fanout == FANOUT_UNLIMITED else fanout
            entry = self._groups[worker] = [self._reactor.group_new(limit), 0]
        entry[1] += 1
        client._group = entry[0]
        return entry[0]

    def _leave_group(self, client):
        if not client._group:
            if client._cid and client._spawns:
                self._live0 -= 1
            return
        client._group = 0
        entry = self._groups.get(client.worker)
        if entry is not None:
            entry[1] -= 1
            if entry[1] <= 0:
                del self._groups[client.worker]
                if self._reactor is not None:
                    self._reactor.group_free(entry[0])

    def _start_queued(self):
        """Register the streams of the queued clients, then hand C the held
        process clients its groups have room for."""
        queued, self._queued = self._queued, []
        self._sync_fanout()
        if queued:
            self._submit(queued)
        if self._held:
            self._feed()

    def _feed(self):
        """Move held clients to C, each group up to its window (fanout +
        slice), once half a slice of room has opened."""
        fanout = self.info.get("fanout", 64)
        for key, line in list(self._held.items()):
            limit = fanout if key is None else key._fanout
            if limit is None or limit <= 0:     # no limit: everything now
                room = _count(line)
            else:
                if key is None:
                    live = self._live0
                else:
                    entry = self._groups.get(key)
                    live = entry[1] if entry is not None else 0
                room = limit + max(SPAWN_SLICE, limit) - live
                if room < SPAWN_SLICE // 2 and _count(line, room) > room:
                    continue
            batch = []
            popleft = line.popleft
            while line and len(batch) < room:
                item = line[0]
                if item.__class__ is ClientSource:
                    taken = item.take(room - len(batch))
                    if not len(item):
                        popleft()
                    batch += [client for client in taken if client._state == _NEW]
                    continue
                popleft()
                if item._state == _NEW:
                    batch.append(item)
            if not line:
                del self._held[key]
            if batch:
                self._submit(batch)

    def _submit(self, clients):
        """One spawn batch for the process clients among `clients`, stream
        registration for the others."""
        reactor = self._reactor
        spawning = []
        ids = reactor.spawn(self._requests(clients, spawning))
        register = self._ids
        for client, cid in zip(spawning, ids):
            client._cid = cid
            client._state = _PENDING
            register[cid] = client
            if not client._group:
                self._live0 += 1
            if client._wqueue or client._weof:
                client._cp_flush_writes(self)

    def _requests(self, queued, spawning):
        """The spawn requests of the queued process clients, one at a time
        (no list of them all), each client appended to `spawning`; the
        other clients register their streams on the way."""
        for client in queued:
            if client._state != _NEW:
                continue
            request = client._cp_request()
            if request is None:
                client._state = _RUNNING
                client._cp_register(self)
                continue
            spawning.append(client)
            argv, env, cwd, flags, timeout = request
            yield argv, env, cwd, flags, self._join_group(client), timeout

    def _sync_fanout(self):
        """Give the task's fanout (info "fanout", which may change at any
        time) to the reactor's default group."""
        fanout = self.info.get("fanout", 64)
        if fanout != self._fanout:
            self._reactor.set_fanout(fanout if fanout > 0 else 0)
            self._fanout = fanout

    def _end_client(self, client, abort, did_timeout):
        """Finish a client: release what the reactor holds for it, update
        the counts, then let it produce its closing events."""
        state = client._state
        if state == _CLOSED:
            return
        try:
            if state in (_PENDING, _RUNNING):
                # unfinished lines are delivered unless the user aborted
                client._cp_abort(self, did_timeout or not abort)
        finally:
            self._retire(client)
        client._close(abort, did_timeout)

    def _retire(self, client):
        client._state = _CLOSED
        del self._clients[client]
        self.evlooprefcnt -= client._refs
        client._refs = 0
        self._leave_group(client)

    # what clients ask of the reactor: through these methods only, so that
    # the engine stays the one writer of ids, counts and reactor calls

    def write(self, cid, data, stream) -> None:
        """Queue `data` for stream `stream` of reactor id `cid`."""
        self._reactor.write(cid, data, stream)

    def write_many(self, cids, data, stream) -> int:
        """Queue the same `data` for several ids (stale ones skipped)."""
        return self._reactor.write_many(cids, data, stream)

    def write_eof(self, cid, stream) -> None:
        """Close stream `stream` of `cid` once its queue has drained."""
        self._reactor.write_eof(cid, stream)

    def _watch_fd(self, target: RecordTarget, fd: int, flags: int) -> int:
        """Watch a user fd for `target` (a RecordTarget); returns its id."""
        sid = self._reactor.fd_add(fd, flags)
        self._ids[sid] = target
        return sid

    def _forget(self, rid):
        """Drop a reactor id whose slot C ended (EOF, WCLOSED); returns
        whether it was still known."""
        return self._ids.pop(rid, None) is not None

    def _unwatch_fd(self, sid, flush_lines=None):
        """Stop watching user fd `sid` now, if it is still known; with
        `flush_lines`, give it the stream's unfinished last line first."""
        if sid not in self._ids:
            return
        if flush_lines is not None:
            try:
                partial = self._reactor.partial(sid)
            except OSError:
                partial = b""
            if partial:
                flush_lines(partial)
        del self._ids[sid]
        try:
            self._reactor.fd_remove(sid)
        except OSError:
            pass    # its slot ended in this very batch (EOF/WCLOSED)

    def _knows(self, rid):
        """Whether reactor id `rid` is live in this engine."""
        return rid in self._ids

    def _abort_child(self, cid):
        """End child `cid` now, with no further record for it; returns its
        exit status (None if it never started), or False if the id was
        not live.  (C keeps the id of a child reaped in the current batch
        valid until the next poll: it gives that child's status.)"""
        if self._ids.pop(cid, None) is None:
            return False
        try:
            return self._reactor.abort(cid)
        except OSError:
            # its end was in a batch that a handler's exception cut short
            return None

    def _abort_children(self, clients):
        """End the children of `clients` in one C call (all killed, then
        reaped together), each one's status kept for its closing; the
        clients whose abort does more (_bulk_abort false) are left to it."""
        ids = self._ids
        batch = [client for client in clients
                 if client._bulk_abort and client._cid in ids
                 and (client._state == _PENDING or client._state == _RUNNING)]
        if len(batch) < 2 or self._reactor is None:
            return
        cids = [client._cid for client in batch]
        for cid in cids:
            del ids[cid]
        for client, status in zip(batch, self._reactor.abort_many(cids)):
            client._status = status

    def _ref(self, client):
        """One more reference of `client` keeping the loop running."""
        client._refs += 1
        self.evlooprefcnt += 1

    def _unref(self, client):
        """Drop one reference of `client`, if it holds one."""
        if client._refs > 0:
            client._refs -= 1
            self.evlooprefcnt -= 1

    def _arm_timeout(self, client):
        """Arm a client's own timeout timer (it is an EngineBaseTimer whose
        fire_delay is its timeout)."""
        self._timer_schedule(client)

    def _disarm_timeout(self, client):
        if client._armed:
            self._timer_disarm(client)

    # ports

    def _start_port(self, port):
        port._started = True
        if not port.autoclose:
            self.evlooprefcnt += 1
        port._start()
        port._deliver()

    def start_ports(self) -> None:
        """Start the ports not started yet."""
        for port in list(self._ports):
            if not port._started:
                self._start_port(port)

    def snoop_ports(self) -> None:
        """Deliver the messages waiting in the ports."""
        for port in list(self._ports):
            if port._started and port in self._ports:
                port._deliver()

    def start_clients(self) -> None:
        """Hand every client that has not started yet to the reactor (the
        queued and held ones: add() put every new client there)."""
        self._start_queued()

    # timers
    #
    # A timer is armed in C in batches: _timer_schedule() queues it
    # (_tqueue, and its deadline and interval in the _tspec array of
    # doubles: no float object per timer), and the next pass, before it
    # polls, hands the whole queue to the reactor in one call.  The timer's
    # C id is then its _tid.  A plain EngineTimer that is not autoclose (the
    # common kind, of which there may be 100k) is found again from its id by
    # the table _tslots, indexed by the id's slot index: one list cell per
    # timer, no dict entry and no id object kept besides its _tid.  Any
    # other timer (engine clients, autoclose or derived timers, and timers
    # armed while a batch is dispatched) is in the dict _tother by id.
    #
    # Cells are filled before a poll only (or again by a repeating timer,
    # which keeps its C slot): a timer's slot index freed in C (a one-shot's
    # record) cannot belong to a timer of a cell while a record of the batch
    # still names it, so a record whose cell is empty is stale (its timer
    # was disarmed meanwhile) and a full cell is that record's timer.
    #
    # A run of records of one-shots in cells (a burst of timers due
    # together) is fired by one loop, _timer_run(), with no method call per
    # record besides the handler's.

    def add_timer(self, timer) -> None:
        """Bind and arm a timer."""
        if timer._engine:
            raise EngineIllegalOperationError("Already bound to engine.")
        timer._engine = self
        self._timer_schedule(timer)

    def remove_timer(self, timer) -> None:
        """Disarm a timer."""
        self._timer_invalidate(timer)

    def _timer_schedule(self, timer):
        delay = timer.fire_delay
        if delay <= -EPSILON:
            return
        timer._tid = -1
        if not timer.autoclose:
            self.evlooprefcnt += 1
        # armed in C in one batch at the next loop pass (or run start)
        self._tqueue.append(timer)
        spec = self._tspec
        spec.append(monotonic() + delay)
        interval = timer.interval
        spec.append(interval if interval > EPSILON else 0.0)
        if self._driver is not None:
            self._driver.kick()

    def _arm_timers(self):
        """Arm the queued timers in the reactor, in one call."""
        queue, spec = self._tqueue, self._tspec
        self._tqueue, self._tspec = [], array("d")
        if self._tqstale:
            # some were disarmed while queued, or queued again: keep the
            # last entry of each timer still queued
            self._tqstale = False
            last = {id(timer): i for i, timer in enumerate(queue) if timer._tid == -1}
            keep = sorted(last.values())
            queue = [queue[i] for i in keep]
            spec = array("d", [spec[j] for i in keep for j in (2 * i, 2 * i + 1)])
        if not queue:
            return
        now = monotonic()
        for i in range(0, len(spec), 2):
            spec[i] -= now      # deadline to delay (C fires a past one now)
        ids = self._reactor.timer_add_many(spec)
        del spec
        table, other = self._tslots, self._tother
        top = max(map(_SLOT_MASK.__and__, ids)) + 1
        if top > len(table):
            table.extend([None] * (top - len(table)))
        for timer, tid in zip(queue, ids):
            timer._tid = tid
            if timer.__class__ is EngineTimer and not timer.autoclose:
                table[tid & _SLOT_MASK] = timer
            else:
                other[tid] = timer

    def _timer_disarm(self, timer):
        tid = timer._tid
        if not tid:
            return
        timer._tid = 0
        if not timer.autoclose:
            self.evlooprefcnt -= 1
        if tid < 0:
            self._tqstale = True    # still in _tqueue: _arm_timers skips it
        elif self._timer_forget(timer, tid):
            self._timer_cancel_c(tid)

    def _timer_forget(self, timer, tid):
        """Take `timer` (C id `tid`) out of the table or _tother; whether it
        was there (not there: its reactor closed meanwhile)."""
        table = self._tslots
        idx = tid & _SLOT_MASK
        if idx < len(table) and table[idx] is timer:
            table[idx] = None
            return True
        return self._tother.pop(tid, None) is not None

    def _timer_cancel_c(self, tid):
        try:
            self._reactor.timer_cancel(tid)
        except OSError as exc:
            # a one-shot whose record was in a batch a handler's
            # exception cut short: C retired its id with the record
            if exc.errno != errno.ESTALE:
                raise

    def _timer_invalidate(self, timer):
        if timer._tid:
            self._timer_disarm(timer)
        else:
            # firing or done: make sure it does not fire again
            timer.fire_delay = -1.0
            timer.interval = -1.0

    def _timer_reschedule(self, timer):
        if timer._tid:
            self._timer_disarm(timer)
            self._timer_schedule(timer)

    def _timer_fired(self, tid, repeats):
        """A timer record: fire its timer, then re-arm or retire it."""
        table = self._tslots
        idx = tid & _SLOT_MASK
        timer = table[idx] if idx < len(table) else None
        if timer is not None:
            table[idx] = None
        else:
            timer = self._tother.pop(tid, None)
            if timer is None:
                return      # stale: disarmed since C emitted the record
        # firing: not armed as its handler sees it (set_nextfire, invalidate),
        # though a repeating C timer keeps its id until _timer_fired_after
        timer._tid = 0
        ctid = tid if repeats else 0    # a one-shot's C id ended with its record
        if self.evlooprefcnt <= 0:
            # the loop is ending: do not fire, retire it as the run's end would
            self._timer_retire(timer, ctid)
            timer._engine = None
            return
        timer.fire_delay = -1.0
        try:
            timer._fire()
        finally:
            self._timer_fired_after(timer, ctid)

    def _timer_fired_after(self, timer, ctid):
        """Re-arm a timer that just fired, or retire it (even when its
        handler raised, so that the counts stay right); `ctid` is the C id
        a repeating timer still holds, else 0."""
        if timer._tid or not (timer.fire_delay > -EPSILON or timer.interval > EPSILON):
            # done (or armed anew from its handler, which counted it again)
            self._timer_retire(timer, ctid)
            return
        interval = timer.interval
        interval = interval if interval > EPSILON else 0.0
        if ctid:
            # a repeating C timer keeps its id and slot (C re-armed it
            # already), so it may take its cell again
            timer._tid = ctid
            if timer.__class__ is EngineTimer and not timer.autoclose:
                self._tslots[ctid & _SLOT_MASK] = timer
            else:
                self._tother[ctid] = timer
            if timer.fire_delay > -EPSILON:
                self._reactor.timer_set(ctid, timer.fire_delay, interval)
            return
        delay = timer.fire_delay
        tid = timer._tid = self._reactor.timer_add(delay if delay > -EPSILON else interval,
                                                   interval)
        self._tother[tid] = timer   # (no cell during a batch, see above)
        table = self._tslots
        if tid & _SLOT_MASK >= len(table):  # (every timer id has a cell, full or not)
            table.extend([None] * ((tid & _SLOT_MASK) + 1 - len(table)))

    def _timer_retire(self, timer, ctid):
        """The end of a timer's firing that leaves it disarmed: its count
        goes, and the C id `ctid` if a repeating timer still held one."""
        if not timer.autoclose:
            self.evlooprefcnt -= 1
        if ctid and self._reactor is not None:
            self._reactor.timer_cancel(ctid)

    def _timer_run(self, batch, its, EV_TIMER=_r.CP_EV_TIMER, MASK=_SLOT_MASK,
                   EPSILON=EPSILON, FIRING=_FIRING):
        """Fire the run of timer records that begins with the one the
        batch's column iterators `its` (see _pass) just went past, and leave
        them past the run.  A one-shot in a cell whose handler leaves it
        done takes the loop below; any other record takes _timer_fired()."""
        pos = its[0].__reduce__()[2] - 1   # the run's start
        types, _streams, cids, avals = batch[:4]
        ti, ci, ai = iter(types), iter(cids), iter(avals)
        ti.__setstate__(pos)
        ci.__setstate__(pos)
        ai.__setstate__(pos)
        table = self._tslots
        done = 0    # one-shots done, not yet taken off evlooprefcnt
        try:
            for kind, tid, repeats in zip(ti, ci, ai):
                if kind != EV_TIMER:
                    break       # not ours: the loop of _pass goes on from it
                pos += 1
                timer = table[tid & MASK]
                if timer is None or repeats:
                    self.evlooprefcnt -= done
                    done = 0
                    self._timer_fired(tid, repeats)
                    continue
                table[tid & MASK] = None
                timer._tid = 0
                timer.fire_delay = FIRING
                try:
                    timer.eh.ev_timer(timer)
                except BaseException:
                    self._timer_fired_after(timer, 0)
                    raise
                if timer.fire_delay is FIRING and timer.interval <= EPSILON \
                        and not timer._tid:
                    done += 1
                else:
                    self.evlooprefcnt -= done
                    done = 0
                    self._timer_fired_after(timer, 0)
        finally:
            self.evlooprefcnt -= done
            for it in its:
                it.__setstate__(pos)

    def _clear_timers(self):
        armed = [timer for timer in self._tqueue if timer._tid == -1]
        table = self._tslots
        if table.count(None) != len(table):
            armed += [timer for timer in table if timer is not None]
        armed += self._tother.values()
        for timer in armed:
            if timer._tid:    # (a timer may be queued twice)
                timer.invalidate()
        self._tqueue = []
        self._tspec = array("d")
        self._tqstale = False
        self._tslots = []
        self._tother = {}

    # running

    def run(self, timeout) -> None:
        """Run the loop in the calling thread until nothing non-autoclose is
        left, or `timeout` seconds (if > 0) elapsed."""
        if self.running:
            raise EngineAlreadyRunningError()
        try:
            self._run_start(True)
            self.runloop(timeout)
        except BaseException as exc:
            self._run_failed(exc)
            raise
        finally:
            self._run_end()

    # A run in three parts, so that another event loop can drive the passes
    # (clusterpy.aio): _run_start(), step() until it returns False, then
    # _run_end(), with _run_failed() on an exception.

    def _run_start(self, watch_signals):
        """Begin a run: the reactor, ports and queued clients start."""
        self.running = True
        self._ensure_reactor()
        if watch_signals:
            self._signals = self._watch_signals()
        self.start_ports()
        self.snoop_ports()
        self.start_clients()

    def _run_failed(self, exc):
        """Clean up after `exc` stopped a run (the caller re-raises it)."""
        if isinstance(exc, EngineTimeoutException):
            self.clear(did_timeout=True)
            return
        try:
            self.clear()
        except BaseException:
            import traceback    # only on errors: kept out of the import time
            LOGGER.debug("error while clearing after an exception:\n%s",
                         traceback.format_exc())
            raise

    def _run_end(self):
        """End a run (whatever stopped it)."""
        signals, self._signals = self._signals, None
        if signals is not None:
            self._unwatch_signals(*signals)
        self._clear_timers()
        self.running = False
        self._exited = True
        self._prune_new()
        if not self._ids and not self._queued and not self._held:
            self._close_reactor()

    def _prune_new(self):
        """Keep only the new clients in the queues (the others were removed
        before they started)."""
        self._queued = [client for client in self._queued if client._state == _NEW]
        for key, line in list(self._held.items()):
            kept = deque()
            for item in line:
                if item.__class__ is ClientSource:
                    if item.made:
                        item.made = deque(c for c in item.made if c._state == _NEW)
                    if len(item):
                        kept.append(item)
                elif item._state == _NEW:
                    kept.append(item)
            if kept:
                self._held[key] = kept
            else:
                del self._held[key]

    def step(self) -> bool:
        """One pass of a running loop that does not block (another event
        loop waits for the reactor's fileno() and due() instead); returns
        whether the loop goes on."""
        if self.evlooprefcnt > 0:
            self._pass(0.0)
        return self.evlooprefcnt > 0

    def _watch_signals(self):
        """In the main thread, let a signal end the reactor's wait at once,
        wherever C is when it arrives: Python writes the signal number to a
        pipe (signal.set_wakeup_fd) that the reactor reads, so its handler
        runs without waiting for the next event.  Returns what
        _unwatch_signals() needs, or None."""
        if threading.current_thread() is not threading.main_thread():
            return None
        rfd, wfd = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        try:
            previous = signal.set_wakeup_fd(wfd, warn_on_full_buffer=False)
        except ValueError:
            os.close(rfd)
            os.close(wfd)
            return None
        sid = self._reactor.fd_add(rfd, _r.CP_FD_READ | _r.CP_FD_RAW)
        self._ids[sid] = _SIGNAL_PIPE
        return rfd, wfd, previous, sid

    def _unwatch_signals(self, rfd, wfd, previous, sid):
        signal.set_wakeup_fd(previous)
        if self._ids.pop(sid, None) is not None and self._reactor is not None:
            self._reactor.fd_remove(sid)
        os.close(rfd)
        os.close(wfd)

    def runloop(self, timeout) -> None:
        """The loop itself (see the module documentation)."""
        deadline = monotonic() + timeout if timeout and timeout > 0 else None
        while self.evlooprefcnt > 0:
            if deadline is None:
                self._pass(None)
                continue
            wait = deadline - monotonic()
            if wait <= 0:
                raise EngineTimeoutException()
            self._pass(wait)
            if monotonic() >= deadline:
                raise EngineTimeoutException()

    def _pass(self, wait, EV_LINES=_r.CP_EV_LINES, EV_EOF=_r.CP_EV_EOF,
              EV_EXIT=_r.CP_EV_EXIT, EV_START=_r.CP_EV_START, EV_TIMER=_r.CP_EV_TIMER,
              EV_WRITTEN=_r.CP_EV_WRITTEN, EV_WCLOSED=_r.CP_EV_WCLOSED,
              EV_TIMEOUT=_r.CP_EV_TIMEOUT, EV_SPAWNERR=_r.CP_EV_SPAWNERR,
              EV_DATA=_r.CP_EV_DATA, EV_WAKE=_r.CP_EV_WAKE):
        """One loop pass: hand queued work to the reactor, poll (waiting up
        to `wait` seconds, None: no limit), dispatch the batch.  (The event
        types are default arguments: locals, for the dispatch below.)"""
        if self._queued:
            self._start_queued()
        elif self._held:
            self._feed()
        if self._tqueue:
            self._arm_timers()
        if self.info.get("fanout", 64) != self._fanout:
            self._sync_fanout()
        # the batch in columns (_reactor decodes it); arena slices are
        # bytes, one copy each
        batch = self._reactor.poll_batch(wait)
        types, streams, cids, avals, bvals, arena = batch
        ids = self._ids
        ids_get = ids.get
        exited = []
        # (column iterators: a run of timer records is fired by _timer_run,
        # which moves them past it)
        its = (iter(types), iter(cids), iter(streams), iter(avals), iter(bvals))
        for etype, cid, stream, a, b in zip(*its):
            target = ids_get(cid)
            if target is None:
                if etype == EV_TIMER:    # (timers are not in _ids)
                    if exited:
                        self._close_exited(exited)
                        exited = []
                    self._timer_run(batch, its)
                elif etype == EV_WAKE:
                    self.snoop_ports()
                continue
            if etype == EV_LINES:
                target._cp_lines(stream, arena[a:a + b])
            elif etype == EV_EXIT or etype == EV_SPAWNERR:
                del ids[cid]
                target._cp_exited(a, etype == EV_SPAWNERR)
                exited.append(target)
            elif etype == EV_START:
                if exited:
                    self._close_exited(exited)
                    exited = []
                target._cp_started(a)
            elif etype == EV_EOF:
                target._cp_eof(stream)
            elif etype == EV_WRITTEN:
                target._cp_written(stream, a)
            elif etype == EV_WCLOSED:
                target._cp_wclosed(stream, a)
            elif etype == EV_TIMEOUT:
                target._timedout = True
            elif etype == EV_DATA:
                target._cp_data(stream, arena[a:a + b])
        if exited:
            self._close_exited(exited)

    def _close_exited(self, exited):
        """Finish the clients whose child was reaped (timed out or not),
        unless a handler already did."""
        for client in exited:
            if client._state == _EXITED:
                self._retire(client)
                timedout = client._timedout
                client._close(timedout, timedout)

    def abort(self, kill) -> None:
        """Abort the run (raises EngineAbortException when running)."""
        if self.running:
            driver = self._driver
            if driver is not None and not driver.stepping:
                # run by clusterpy.aio, called between passes: no loop to unwind
                driver.abort(kill)
                return
            raise EngineAbortException(kill)
        self.clear(clear_ports=kill)

    def exited(self) -> bool:
        """Whether the engine ran and is not running now."""
        return not self.running and self._exited
