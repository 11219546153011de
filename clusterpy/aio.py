"""clusterpy.aio: run clusterpy Tasks inside a running asyncio event loop.

    import asyncio
    from clusterpy import aio
    from clusterpy.Task import task_self

    async def main():
        task = task_self()
        worker = task.shell("uname -r", nodes="node[1-100]")
        async for node, line in aio.lines(worker):      # as lines arrive
            print(node, line.decode())
        result = await aio.wait(worker)                 # buffers, rcs, timeouts
        print(result.retcodes, result.timeouts)

    asyncio.run(main())

Theory of operation
-------------------
A Task's engine runs in the event loop's own thread, without a thread of
its own and without polling: a *driver* per running Task watches the
reactor's one descriptor (``loop.add_reader``), and arms one loop timer
(``loop.call_at``) for the reactor's next timer deadline or ``call_soon``
when the reactor has work at hand (``Reactor.due()``).  Each callback runs
one non-blocking pass (``Engine.step()``), which dispatches the records to
workers and their EventHandlers exactly as ``task.run()`` does.  The run
ends, as ``task.run()`` does, when nothing non-autoclose is left; work
queued from a coroutine meanwhile (``task.shell()``, ``task.timer()``)
kicks the driver.  The driver holds the Task's run lock for the whole run:
``task.run()`` from a thread meanwhile raises AlreadyRunningError, and so
does driving a Task another thread runs.

- ``await wait(worker)`` / ``await run(task)``: a :class:`Result` (stdout and
  stderr buffers, return codes and timed out nodes), taken when the worker
  (or the whole run) ends.
- ``lines(worker)``: an async iterator of ``(node, line)``.  Lines wait in
  a buffer of at most about `maxbytes`; when the consumer lags behind it,
  the driver stops its passes (the reactor reads nothing more, the
  commands block on full pipes) until the consumer has taken half of it.
  A lagging consumer thus holds its whole Task.
- Cancelling the coroutine awaiting ``wait()``, ``run()`` or iterating
  ``lines()`` aborts the worker (or the whole run): its processes are
  killed and reaped before the cancellation goes on.
- An exception raised by a handler ends the run as in ``task.run()`` and is
  raised in every coroutine awaiting the run or one of its workers.

``worker.abort()`` and ``task.abort()`` work from coroutines, handlers and
other threads (Engine.abort() between passes ends the run through the
driver); ``task.suspend()`` is not supported (it would block the loop).
"""

import asyncio
import collections
import threading
import weakref
from time import monotonic
from typing import Any, AsyncIterator, Dict, FrozenSet, Optional, Tuple

from clusterpy.Engine.Engine import EngineAbortException, EngineTimeoutException, _NEW, _CLOSED
from clusterpy.Task import AlreadyRunningError, Task, task_self, _Results
from clusterpy.Task import TimeoutError as TaskTimeoutError
from clusterpy.Worker.Worker import Worker

__all__ = ["AioError", "Result", "LineStream", "run", "wait", "shell", "lines", "new_task"]


class AioError(RuntimeError):
    """clusterpy.aio used in a way that cannot work (the message says why)."""


class Result(object):
    """What a worker (or a whole run) produced, taken when it ended.

    ``buffers`` and ``errors``: stdout and stderr by node (or key) as bytes,
    lines joined by ``b"\\n"``; ``retcodes``: return code by node;
    ``timeouts``: the nodes that timed out; ``worker``: the worker, or None
    for a whole run.  Streams whose message tree is off (task defaults
    ``stdout_msgtree``, ``stderr_msgtree``) have empty dicts.
    """

    __slots__ = ("worker", "buffers", "errors", "retcodes", "timeouts")

    def __init__(self, worker: Optional[Worker], buffers: Dict[Any, bytes],
                 errors: Dict[Any, bytes], retcodes: Dict[Any, int],
                 timeouts: FrozenSet[Any]) -> None:
        self.worker = worker
        self.buffers = buffers
        self.errors = errors
        self.retcodes = retcodes
        self.timeouts = timeouts

    @property
    def max_retcode(self) -> Optional[int]:
        """The largest return code, or None if none was kept."""
        return max(self.retcodes.values()) if self.retcodes else None

    def __repr__(self) -> str:
        return "<clusterpy.aio.Result %d nodes, max rc %s, %d timed out>" % (
            len(set(self.buffers) | set(self.retcodes) | self.timeouts),
            self.max_retcode, len(self.timeouts))


def _snapshot(task: Task, worker: Optional[Worker] = None) -> Result:
    """The results task holds for worker (None: for every worker; a node of
    several workers gets their buffers one after another, as
    task.key_buffer() gives them, and the largest return code)."""
    results = task._results
    match = None if worker is None else (lambda source: source[0] is worker)
    texts = []
    for sname in ("stdout", "stderr"):
        out = {}
        tree = results.trees.get(sname)
        if tree is not None:
            for (_, key), msg in tree.items(match):
                data = bytes(msg)
                out[key] = out[key] + data if key in out else data
        texts.append(out)
    retcodes = {}
    for (owner, key), rc in results.rc_of.items():
        if worker is None or owner is worker:
            if key not in retcodes or retcodes[key] < rc:
                retcodes[key] = rc
    timeouts = frozenset(key for owner, key in results.timedout
                         if worker is None or owner is worker)
    return Result(worker, texts[0], texts[1], retcodes, timeouts)


def _closed(worker: Worker) -> bool:
    return worker._ev_closed or all(client._state == _CLOSED for client in worker._engine_clients())


#: task -> its running driver
_DRIVERS = weakref.WeakKeyDictionary()


class _Driver(object):
    """Runs one Task's engine in an event loop (see the module documentation).

    Made by _drive(), which holds the task's run lock from then on; the run
    starts at the loop's next iteration, so that everything scheduled in
    the same synchronous stretch of code starts in the same batch."""

    def __init__(self, task: Task, loop: asyncio.AbstractEventLoop) -> None:
        self.task = task
        self.engine = task._engine
        self.loop = loop
        self.fd = -1            # the reactor's descriptor, while watched
        self.started = False
        self.stopped = False
        self.soon = False       # a step is scheduled with call_soon
        self.stepping = False   # in a pass
        self.timer = None       # TimerHandle of the next due pass
        self.timer_due = None   # its reactor deadline
        self.deadline = None    # TimerHandle of run(timeout=...)
        self.pausers = set()    # line streams over their limit
        self.waiters = set()    # futures to fail if the run fails
        self.streams = set()    # line streams to fail if the run fails
        self.runs = []          # futures of run(): the end of the run
        self.ending = loop.create_future()
        self.guard = None

    # life

    def begin(self) -> None:
        """Start the run (at the loop's next iteration after _drive())."""
        if self.stopped:
            return
        task, engine = self.task, self.engine
        task._results = _Results()      # as task.run() does
        engine._driver = self
        self.started = True
        try:
            engine._run_start(False)    # asyncio keeps the signal wake-up fd
            self.fd = engine._reactor.fileno()
            self.loop.add_reader(self.fd, self.step)
        except BaseException as exc:  # noqa: BLE001 - handed to the waiters
            self.stop(exc)
            return
        self.guard = self.loop.create_task(self._guard())
        self.kick()

    async def _guard(self) -> None:
        """Lives as long as the run: cancelled under it (the loop shutting
        down: asyncio.run() cancels every task), it aborts the run."""
        try:
            await self.ending
        except asyncio.CancelledError:
            if not self.stopped:
                error = AioError("the event loop stopped under running clusterpy workers "
                                 "(their task was still running): they were aborted")
                self.stop(error)
                self.loop.call_exception_handler({"message": str(error), "exception": error})
            raise

    def kick(self) -> None:
        """Run a pass soon (work was queued)."""
        if not self.soon and not self.stopped and not self.pausers:
            self.soon = True
            self.loop.call_soon(self.step)

    def step(self) -> None:
        """One pass; then plan the next one, or end the run."""
        self.soon = False
        if self.pausers or self.stopped or not self.started:
            return
        self.stepping = True
        try:
            going = self.engine.step()
        except BaseException as exc:  # noqa: BLE001 - handed to the waiters
            self.stepping = False
            self.stop(exc)
            return
        self.stepping = False
        if not going:
            self.stop(None)
        elif self.pausers:
            self._unwatch()
        else:
            self._plan()

    def _timed(self) -> None:
        self.timer = self.timer_due = None
        self.step()

    def _plan(self) -> None:
        """Arm what makes the next pass happen besides the descriptor."""
        due = self.engine._reactor.due()
        if due is None:
            if self.timer is not None:
                self.timer.cancel()
                self.timer = self.timer_due = None
        elif due == 0.0:
            if not self.soon:
                self.soon = True
                self.loop.call_soon(self.step)
        elif due != self.timer_due:
            if self.timer is not None:
                self.timer.cancel()
            loop = self.loop
            self.timer = loop.call_at(loop.time() + (due - monotonic()), self._timed)
            self.timer_due = due

    def _unwatch(self) -> None:
        if self.fd >= 0:
            self.loop.remove_reader(self.fd)
            self.fd = -1
        if self.timer is not None:
            self.timer.cancel()
            self.timer = self.timer_due = None

    def pause(self, stream: "LineStream") -> None:
        """Stop reading until `stream` was drained (called in a pass)."""
        self.pausers.add(stream)

    def unpause(self, stream: "LineStream") -> None:
        self.pausers.discard(stream)
        if not self.pausers and self.started and not self.stopped:
            if self.fd < 0:
                self.fd = self.engine._reactor.fileno()
                self.loop.add_reader(self.fd, self.step)
            self.kick()

    def set_timeout(self, timeout: float) -> None:
        """End the run with TimeoutError in `timeout` seconds."""
        if self.deadline is not None:
            self.deadline.cancel()
        self.deadline = self.loop.call_later(
            timeout, lambda: self.stop(EngineTimeoutException()))

    def abort(self, kill: bool) -> None:
        """task.abort() between passes (Engine.abort())."""
        self.stop(EngineAbortException(kill))

    def cancel(self) -> None:
        """Abort the whole run (the coroutine awaiting run() was cancelled)."""
        if not self.stopped:
            self.stop(None, abort=True)

    def stop(self, exc: Optional[BaseException], abort: bool = False) -> None:
        """End the run: normally (exc None), aborted (abort), or because of
        exc: EngineAbortException (task.abort()), EngineTimeoutException
        (run's timeout), or any exception raised in a pass."""
        if self.stopped:
            return
        self.stopped = True
        self._unwatch()
        failure = None
        if exc is not None and not isinstance(exc, EngineAbortException):
            failure = TaskTimeoutError() if isinstance(exc, EngineTimeoutException) else exc
            self._fail(failure)     # first: workers closed by the cleanup stay failed
        engine, task = self.engine, self.task
        try:
            if exc is not None:
                if self.started:
                    engine._run_failed(exc)
            elif abort:
                engine.clear()
        except BaseException as error:  # noqa: BLE001 - handed to the waiters
            if failure is None:
                failure = error
                self._fail(error)
        finally:
            if self.started:
                engine._run_end()
            engine._driver = None
            if self.deadline is not None:
                self.deadline.cancel()
            if _DRIVERS.get(task) is self:
                del _DRIVERS[task]
            task._run_lock.release()
        if isinstance(exc, EngineAbortException):
            task._terminate(exc.kill)   # as task.run() does after task.abort()
        self._finish(failure)

    def _fail(self, error: BaseException) -> None:
        for future in list(self.waiters):
            _settle(future, error=error)
        for stream in list(self.streams):
            stream._fail(error)

    def _finish(self, failure: Optional[BaseException]) -> None:
        if self.waiters:
            # workers still open when the run ended (autoclose ones)
            self._fail(AioError("the run of %s ended before the awaited worker closed "
                                "(an autoclose worker does not keep a run going)" % self.task))
        runs, self.runs = self.runs, []
        result = _snapshot(self.task) if runs and failure is None else None
        for future in runs:
            _settle(future, result, failure)
        for stream in list(self.streams):
            stream._end()
        _settle(self.ending, None)


def _settle(future, result=None, error=None):
    """Set a future's outcome unless it has one (or its loop is closed)."""
    if future.done():
        return
    try:
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)
    except RuntimeError:
        pass    # its loop is closed: nobody can await it any more


def _drive(task: Task, timeout: Optional[float] = None) -> _Driver:
    """The driver of task in the running loop, made (taking the task's run
    lock) if it has none."""
    loop = asyncio.get_running_loop()
    driver = _DRIVERS.get(task)
    if driver is not None and driver.loop is not loop:
        if not driver.loop.is_closed():
            raise AioError("%s is being run by another event loop" % task)
        driver.stop(AioError("event loop closed under running clusterpy workers"))
        raise AioError("the event loop that ran %s was closed while its workers ran: "
                       "they were aborted" % task)
    if driver is None:
        if task._engine is None:
            raise AioError("%s was terminated (task.abort(kill=True)): "
                           "use task_self() again" % task)
        if not task._run_lock.acquire(False):
            raise AlreadyRunningError("%s is already running (in a thread, or "
                                      "suspended): clusterpy.aio cannot run it too" % task)
        if not task._is_task_self():
            task._run_lock.release()
            raise AioError("%s belongs to %s: run it from an event loop of that thread, or "
                           "make one for this loop with aio.new_task()" % (task, task.thread))
        driver = _DRIVERS[task] = _Driver(task, loop)
        loop.call_soon(driver.begin)
    if timeout is not None and timeout > 0:
        driver.set_timeout(timeout)
    return driver


class _TaskKey(object):
    """Where Task._tasks keeps a task of new_task() (its thread's entry is
    task_self()'s)."""

    __slots__ = ("__weakref__",)


def new_task(defaults: Optional[Any] = None) -> Task:
    """A new Task bound to the calling thread (the event loop's) beside its
    task_self(), with its own engine, fanout, defaults and results: several
    Tasks run at once in one loop.  `defaults`: a clusterpy.Defaults
    object (its engine, for instance).  End it with task.abort(kill=True)."""
    task = object.__new__(Task)
    Task.__init__(task, thread=threading.current_thread(), defaults=defaults)
    with Task._task_lock:
        Task._tasks[_TaskKey()] = task
    return task


def _bound(worker: Worker) -> Task:
    task = worker.task
    if task is None:
        raise AioError("%r is not scheduled: give it to a task first "
                       "(task.shell(), task.schedule())" % worker)
    return task


async def run(task: Optional[Task] = None, timeout: Optional[float] = None) -> Result:
    """Run `task` (default: the calling thread's, task_self()) in the
    running event loop until nothing non-autoclose is left, as
    ``task.run()`` would in a thread; return the whole run's :class:`Result`.
    With `timeout` (seconds), raise clusterpy.Task.TimeoutError when the run
    takes longer (every worker aborted, its nodes counted as timed out).
    If the task already runs in this loop, wait for the end of that run.
    Cancelling the awaiting coroutine aborts the whole run."""
    task = task_self() if task is None else task
    driver = _drive(task, timeout)
    future = driver.loop.create_future()
    driver.runs.append(future)
    try:
        return await future
    except asyncio.CancelledError:
        driver.cancel()
        raise


async def wait(worker: Worker) -> Result:
    """Wait for the end of a scheduled worker (running its task in the
    event loop if nothing runs it yet); return its :class:`Result`.
    Cancelling the awaiting coroutine aborts the worker: its processes are
    killed and reaped."""
    task = _bound(worker)
    if _closed(worker):
        return _snapshot(task, worker)
    driver = _drive(task)
    future = driver.loop.create_future()

    def closer(done):
        _settle(future, _snapshot(task, done))

    if worker._closers is None:
        worker._closers = []
    worker._closers.append(closer)
    driver.waiters.add(future)
    try:
        return await future
    except asyncio.CancelledError:
        _abort_worker(worker, driver)
        raise
    finally:
        driver.waiters.discard(future)
        if worker._closers and closer in worker._closers:
            worker._closers.remove(closer)


def _abort_worker(worker: Worker, driver: _Driver) -> None:
    """Abort worker for a cancelled coroutine: its processes are killed
    and reaped now; the run goes on (or ends) at the next pass."""
    if driver.stopped or _closed(worker):
        return
    try:
        worker.abort()
    except Exception as exc:  # noqa: BLE001 - a handler raised while it closed
        driver.loop.call_exception_handler({
            "message": "error while aborting %r for a cancelled coroutine" % worker,
            "exception": exc})
    driver.kick()


async def shell(command: str, nodes: Optional[Any] = None, task: Optional[Task] = None,
                **kwargs: Any) -> Result:
    """``task.shell(command, nodes=nodes, **kwargs)`` (task default:
    task_self()), then ``await wait()`` on the worker."""
    task = task_self() if task is None else task
    if nodes is not None:
        kwargs["nodes"] = nodes
    return await wait(task.shell(command, **kwargs))


class _Tap(object):
    """A worker's _tap: hands each chunk of lines to its line streams."""

    __slots__ = ("streams",)

    def __init__(self):
        self.streams = {}       # sname -> [LineStream]

    def __call__(self, key, sname, chunk):
        for stream in self.streams.get(sname, ()):
            stream._feed(key, chunk)


class LineStream(object):
    """Async iterator of ``(node, line)`` of one stream of a worker, as the
    lines arrive (made by :func:`lines`); also an async context manager
    that closes it.  Lines are bytes, without their ``\\n``."""

    def __init__(self, worker: Worker, sname: str, maxbytes: int) -> None:
        if maxbytes < 1:
            raise ValueError("maxbytes must be positive")
        if sname not in (worker.SNAME_STDOUT, worker.SNAME_STDERR):
            raise ValueError("sname must be %r or %r" % (worker.SNAME_STDOUT,
                                                         worker.SNAME_STDERR))
        task = _bound(worker)
        if worker.started or any(client._state != _NEW for client in worker._engine_clients()):
            raise AioError("lines(%r): the worker already started; call lines() before "
                           "its task runs it" % worker)
        self.worker = worker
        self.sname = sname
        self._high = maxbytes
        self._low = maxbytes // 2
        self._queue = collections.deque()
        self._size = 0
        self._waiter = None
        self._done = False
        self._error = None
        self._paused = False
        self._closed = False
        self._driver = _drive(task)     # first: it may refuse to run the task
        self._loop = self._driver.loop
        tap = worker._tap
        if tap is None:
            tap = worker._tap = _Tap()
        tap.streams.setdefault(sname, []).append(self)
        if worker._closers is None:
            worker._closers = []
        worker._closers.append(self._closer)
        self._driver.streams.add(self)

    def __repr__(self) -> str:
        return "<clusterpy.aio.LineStream %s of %r, %d bytes waiting>" % (
            self.sname, self.worker, self._size)

    # producer side (in the driver's passes)

    def _feed(self, key, chunk):
        self._queue.append((key, chunk))
        self._size += len(chunk) + 1
        if self._size >= self._high and not self._paused:
            self._paused = True
            self._driver.pause(self)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _closer(self, worker):
        self._end()

    def _end(self):
        self._done = True
        self._wake()

    def _fail(self, error):
        if self._error is None:
            self._error = error
        self._wake()

    def _wake(self):
        waiter = self._waiter
        if waiter is not None:
            _settle(waiter, None)

    # consumer side

    def __aiter__(self) -> AsyncIterator[Tuple[Any, bytes]]:
        return self._lines()

    async def _lines(self):
        queue = self._queue
        try:
            while True:
                if queue:
                    key, chunk = queue.popleft()
                    self._size -= len(chunk) + 1
                    if self._paused and self._size <= self._low:
                        self._unpause()
                    for line in chunk.split(b"\n"):
                        yield key, line
                    continue
                if self._error is not None:
                    raise self._error
                if self._done or self._closed:
                    return
                self._waiter = self._loop.create_future()
                try:
                    await self._waiter
                finally:
                    self._waiter = None
        except asyncio.CancelledError:
            _abort_worker(self.worker, self._driver)
            raise
        finally:
            self._detach()

    def _unpause(self):
        self._paused = False
        self._driver.unpause(self)

    def _detach(self):
        """Stop taking lines: the worker goes on, its lines go to the task
        only; a run paused for this stream resumes."""
        if self._closed:
            return
        self._closed = True
        self._queue.clear()
        self._size = 0
        streams = self.worker._tap.streams.get(self.sname, [])
        if self in streams:
            streams.remove(self)
        if self.worker._closers and self._closer in self.worker._closers:
            self.worker._closers.remove(self._closer)
        self._driver.streams.discard(self)
        if self._paused:
            self._unpause()

    async def aclose(self) -> None:
        """Stop iterating (lines not taken yet are dropped); the worker
        goes on."""
        self._detach()
        self._wake()

    async def __aenter__(self) -> "LineStream":
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.aclose()


def lines(worker: Worker, sname: str = "stdout", maxbytes: int = 1 << 20) -> LineStream:
    """An async iterator of ``(node, line)`` for every line the worker reads
    on stream `sname` ("stdout" or "stderr"), as they arrive; call it before
    the worker starts (its task is run in the event loop from the next loop
    iteration, if nothing runs it yet).  Once `maxbytes` of lines wait for
    the consumer, the task stops reading until half of them were taken
    (what one reactor pass read may come on top: at most 4 MiB).  The
    iteration ends when the worker closes.  The worker's handler and the
    task's buffers get the lines too."""
    return LineStream(worker, sname, maxbytes)
