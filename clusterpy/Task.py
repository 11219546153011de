"""Task: runs commands, copies and timers in parallel, one Task per thread.

>>> from clusterpy.Task import task_self
>>> task = task_self()
>>> task.shell("uname -r", nodes="node[1-30]")   # distant (ssh by default)
>>> task.shell("hostname")                         # local
>>> task.run()
>>> for buf, nodes in task.iter_buffers():
...     print(nodes, buf.message().decode())

A Task is bound to a thread: ``task_self()`` (or ``Task()``) gives the
calling thread's, ``Task(thread=t)`` thread t's.  Creating a Task without a
thread starts a new thread that waits for ``resume()`` from another thread.
``resume()``/``run()`` run the task's engine in its thread until every
non-autoclose worker, port and timer is done; results are then kept by
(worker, node) in message trees and return-code tables until the next run.

Methods other threads may call: ``abort()``, ``suspend()``, ``resume()``,
``join()``, ``wait()`` and the ones marked as dispatched (``set_info``,
``schedule``, ``timer`` and port changes), which are sent to the task's
thread through its dispatch port when called from elsewhere.
"""

import socket
import sys
import threading
import traceback
from operator import itemgetter
from time import sleep

from clusterpy.Defaults import config_paths, DEFAULTS
from clusterpy.Defaults import _local_workerclass, _distant_workerclass, _load_workerclass
from clusterpy.Engine.Engine import EngineAbortException, EngineTimeoutException
from clusterpy.Engine.Engine import EngineAlreadyRunningError, EngineTimer
from clusterpy.Engine.Factory import PreferredEngine
from clusterpy.Event import EventHandler
from clusterpy.MsgTree import MsgTree
from clusterpy.NodeSet import NodeSet
from clusterpy.Worker.EngineClient import EnginePort, EngineClientError
from clusterpy.Worker.Popen import WorkerPopen
from clusterpy.Worker.Worker import FANOUT_UNLIMITED



class TaskException(Exception):
    """Base task exception."""


class TaskError(TaskException):
    """Base task error exception."""


class TimeoutError(TaskError):  # noqa: A001 (ClusterShell's name)
    """The task ran out of time (resume(timeout=...))."""


class AlreadyRunningError(TaskError):
    """The task is already running."""


class TaskMsgTreeError(TaskError):
    """A message tree that is switched off was asked for."""


def _getshorthostname():
    return socket.gethostname().split(".")[0]


class _SuspendCondition(object):
    """Counts suspend requests; threads wait on it while the count is > 0."""

    def __init__(self, lock, initial=0):
        self._cond = threading.Condition(lock)
        self.suspend_count = initial

    def atomic_inc(self):
        with self._cond:
            self.suspend_count += 1

    def atomic_dec(self):
        with self._cond:
            self.suspend_count -= 1

    def wait_check(self, release_lock=None):
        """Wait while suspended, releasing release_lock meanwhile."""
        with self._cond:
            if self.suspend_count > 0:
                if release_lock:
                    release_lock.release()
                self._cond.wait()

    def notify_all(self):
        with self._cond:
            self.suspend_count = min(self.suspend_count, 0)
            self._cond.notify_all()


class _SyncMsgHandler(EventHandler):
    """Handler of a task's dispatch port: runs the task method carried by
    each message, in the task's thread."""

    def __init__(self, task):
        EventHandler.__init__(self)
        self.task = task

    def ev_msg(self, port, msg):
        func, (args, kwargs) = msg[0], msg[1:]
        func(self.task, *args, **kwargs)


def _dispatched(method):
    """Make a task method callable from any thread: from another thread the
    call is sent to the task's thread through its dispatch port."""

    def wrapper(task, *args, **kwargs):
        if task._is_task_self():
            return method(task, *args, **kwargs)
        if task._dispatch_port:
            task._dispatch_port.msg_send((method, args, kwargs))
        else:
            task.info("print_debug")(task, "%s: dropped call: %s" % (task, str(args)))
        return None

    wrapper.__name__ = method.__name__
    wrapper.__doc__ = method.__doc__
    wrapper.__wrapped__ = method
    return wrapper


class Task(object):
    """A set of workers, ports and timers run together by one thread (see
    the module documentation)."""

    TOPOLOGY_CONFIGS = config_paths("topology.conf")

    _tasks = {}
    _taskid_max = 0
    _task_lock = threading.Lock()

    # kept as attributes for ClusterShell compatibility
    _SyncMsgHandler = _SyncMsgHandler
    _SuspendCondition = _SuspendCondition

    def __new__(cls, thread=None, defaults=None):
        if thread:
            with cls._task_lock:
                task = cls._tasks.get(thread)
                if task is None:
                    task = cls._tasks[thread] = object.__new__(cls)
            return task
        return object.__new__(cls)

    def __init__(self, thread=None, defaults=None):
        if getattr(self, "_engine", None) is not None:
            return  # the thread's task, already made
        self._default_lock = threading.Lock()
        if defaults is None:
            defaults = DEFAULTS
        self._default = defaults._task_default.copy()
        self._default.update({"local_worker": _local_workerclass(defaults),
                              "distant_worker": _distant_workerclass(defaults)})
        self._info = defaults._task_info.copy()
        self._engine = PreferredEngine(self.default("engine"), self._info)
        self.timeout = None

        self._run_lock = threading.Lock()
        self._suspend_lock = threading.RLock()
        self._suspend_cond = _SuspendCondition(self._suspend_lock, 1)
        self._join_cond = threading.Condition(self._suspend_lock)
        self._suspended = False
        self._quit = False
        self._terminated = False

        self.topology = None
        self.router = None
        self.gateways = {}

        self._msgtrees = {}
        self._sinks = {}
        self._d_source_rc = {}
        self._d_rc_sources = {}
        self._max_rc = None
        self._timeout_sources = set()
        self._reset()

        self._dispatch_port = EnginePort(handler=_SyncMsgHandler(self), autoclose=True)
        self._engine.add(self._dispatch_port)

        with Task._task_lock:
            Task._taskid_max += 1
            self._taskid = Task._taskid_max

        self._thread_foreign = bool(thread)
        if self._thread_foreign:
            self.thread = thread
        else:
            self.thread = thread = threading.Thread(None, Task._thread_start,
                                                    "Task-%d" % self._taskid, args=(self,))
            with Task._task_lock:
                Task._tasks[thread] = self
            thread.start()

    def _is_task_self(self):
        return self.thread == threading.current_thread()

    # exceptions in the task's thread

    def default_excepthook(self, exc_type, exc_value, tb):
        """Print an exception raised in the task's thread to stderr."""
        print("Exception in thread %s:" % self.thread, file=sys.stderr)
        traceback.print_exception(exc_type, exc_value, tb, file=sys.stderr)

    _excepthook = default_excepthook

    def _getexcepthook(self):
        return self._excepthook

    def _setexcepthook(self, hook):
        self._excepthook = hook
        # a thread we did not create may end on an uncaught exception too
        if self._thread_foreign:
            sys.excepthook = self._excepthook

    #: called with (type, value, traceback) on an exception in the task's thread
    excepthook = property(_getexcepthook, _setexcepthook)

    def _thread_start(self):
        """Entry point of a thread created by the task."""
        while not self._quit:
            self._suspend_cond.wait_check()
            if self._quit:
                break
            try:
                self._resume()
            except BaseException:
                self.excepthook(*sys.exc_info())
                self._quit = True
        self._terminate(kill=True)

    def _run(self, timeout):
        if self._run_lock.locked():
            raise AlreadyRunningError("task is already running")
        with self._run_lock:
            self._engine.run(timeout)

    # topology (tree mode)

    def _default_tree_is_enabled(self):
        """Tree mode is off: clusterpy runs every command directly."""
        return False

    def load_topology(self, topology_file):
        """Load a propagation topology (tree mode: see docs/compat.md)."""
        from clusterpy.Topology import TopologyParser
        self.topology = TopologyParser(topology_file).tree(_getshorthostname())

    # defaults and info

    def default(self, default_key, def_val=None):
        """Task default `default_key` (see set_default())."""
        with self._default_lock:
            return self._default.get(default_key, def_val)

    def set_default(self, default_key, value):
        """Set task default `default_key` (thread-safe, immediate): stderr,
        stdin, stdout_msgtree, stderr_msgtree, engine, port_qlimit,
        auto_tree, local_workername, distant_workername, local_worker,
        distant_worker, or any key of yours."""
        with self._default_lock:
            self._default[default_key] = value
            if default_key == "local_workername":
                self._default["local_worker"] = _load_workerclass(value)
            elif default_key == "distant_workername":
                self._default["distant_worker"] = _load_workerclass(value)
            self._sinks = {}

    def info(self, info_key, def_val=None):
        """Task info `info_key` (see set_info())."""
        return self._info.get(info_key, def_val)

    @_dispatched
    def set_info(self, info_key, value):
        """Set task info `info_key`: debug, print_debug, fanout,
        grooming_delay, connect_timeout, command_timeout, the ssh/rsh/pdsh
        keys, or any key of yours (USER_* keys are reserved for you).  From
        another thread, applied in the task's thread."""
        self._info[info_key] = value

    # submitting work

    def shell(self, command, **kwargs):
        """Schedule `command`: on `nodes` with the distant worker (or the
        local one with remote=False), else locally with WorkerPopen under
        `key`.  Options: handler, timeout, autoclose, stderr, stdin, tree,
        remote.  Returns the worker."""
        handler = kwargs.get("handler", None)
        timeo = kwargs.get("timeout", None)
        autoclose = kwargs.get("autoclose", False)
        stderr = kwargs.get("stderr", self.default("stderr"))
        stdin = kwargs.get("stdin", self.default("stdin"))
        remote = kwargs.get("remote", True)
        if kwargs.get("nodes", None):
            assert kwargs.get("key", None) is None, \
                "'key' argument not supported for distant command"
            self._check_tree(kwargs.get("tree"))
            wrkcls = self.default("distant_worker") if remote else self.default("local_worker")
            worker = wrkcls(NodeSet(kwargs["nodes"]), command=command, handler=handler,
                            stderr=stderr, timeout=timeo, autoclose=autoclose, remote=remote)
        else:
            worker = WorkerPopen(command, key=kwargs.get("key", None), handler=handler,
                                 stderr=stderr, timeout=timeo, autoclose=autoclose)
        if not stdin:
            try:
                worker.set_write_eof()
            except EngineClientError:
                pass
        self.schedule(worker)
        return worker

    def _check_tree(self, tree):
        if tree:
            raise TaskError("tree mode required for distant shell command with unknown "
                            "topology!")

    def copy(self, source, dest, nodes, **kwargs):
        """Schedule a copy of local `source` to `dest` on `nodes` (reverse:
        from the nodes) with the distant worker.  Options: handler, timeout,
        stderr, preserve, reverse, tree.  Returns the worker."""
        assert nodes is not None, "local copy not supported"
        self._check_tree(kwargs.get("tree"))
        wrkcls = self.default("distant_worker")
        worker = wrkcls(nodes, source=source, dest=dest, handler=kwargs.get("handler", None),
                        stderr=kwargs.get("stderr", self.default("stderr")),
                        timeout=kwargs.get("timeout", None),
                        preserve=kwargs.get("preserve", None),
                        reverse=kwargs.get("reverse", False))
        self.schedule(worker)
        return worker

    def rcopy(self, source, dest, nodes, **kwargs):
        """Schedule a copy of `source` on `nodes` into local directory
        `dest` (one file per node, named after the source and the node)."""
        kwargs["reverse"] = True
        return self.copy(source, dest, nodes, **kwargs)

    @_dispatched
    def _add_port(self, port):
        self._engine.add(port)

    @_dispatched
    def remove_port(self, port):
        """Close and remove a port made by port()."""
        self._engine.remove(port)

    def port(self, handler=None, autoclose=False):
        """A new port of this task: messages sent to it from any thread
        (port.msg()) become handler.ev_msg() calls in this task's thread."""
        port = EnginePort(handler, autoclose)
        self._add_port(port)
        return port

    def timer(self, fire, handler, interval=-1.0, autoclose=False):
        """A timer calling handler.ev_timer() in `fire` seconds, then every
        `interval` seconds if > 0.  An autoclose timer does not keep the
        task running by itself."""
        assert fire >= 0.0, "timer's relative fire time must be a positive floating number"
        timer = EngineTimer(fire, interval, autoclose, handler)
        if self.thread is threading.current_thread():
            self._engine.add_timer(timer)
        else:
            self._add_timer(timer)
        return timer

    @_dispatched
    def _add_timer(self, timer):
        self._engine.add_timer(timer)

    @_dispatched
    def schedule(self, worker):
        """Add a worker to the task; it starts when the task runs (now if it
        is running)."""
        assert self in Task._tasks.values(), "deleted task instance, call task_self() again!"
        worker._set_task(self)
        for client in worker._engine_clients():
            self._engine.add(client)

    # running

    def _resume_thread(self):
        self._suspend_cond.notify_all()

    def _resume(self):
        assert self.thread == threading.current_thread()
        try:
            try:
                self._reset()
                self._run(self.timeout)
            except EngineTimeoutException:
                raise TimeoutError()
            except EngineAbortException as exc:
                self._terminate(exc.kill)
            except EngineAlreadyRunningError:
                raise AlreadyRunningError("task engine is already running")
        finally:
            with self._join_cond:
                self._suspend_cond.atomic_inc()
                self._join_cond.notify_all()

    def resume(self, timeout=None):
        """Run the task: in the calling thread if it is the task's (blocking
        until done), else wake the task's thread.  With `timeout` (seconds),
        raise TimeoutError when the run takes longer."""
        self.timeout = timeout
        self._suspend_cond.atomic_dec()
        if self._is_task_self():
            self._resume()
        else:
            self._resume_thread()

    def run(self, command=None, **kwargs):
        """shell(command, **kwargs) then resume(); without a command, the
        same as resume(timeout) (a number first argument is the timeout).
        Returns the worker, if any."""
        worker = None
        timeout = None
        if type(command) in (int, float):
            timeout = command
            command = None
        elif "timeout" in kwargs and command is None:
            timeout = kwargs.pop("timeout")
        elif command is not None:
            worker = self.shell(command, **kwargs)
        self.resume(timeout)
        return worker

    @_dispatched
    def _suspend_wait(self):
        assert task_self() == self
        with self._suspend_lock:
            self._suspended = True
        self._suspend_cond.wait_check(self._run_lock)
        with self._suspend_lock:
            self._suspended = False

    def suspend(self):
        """Suspend the running task (from another thread); resume() goes on.
        Returns False if the task could not be suspended (not running)."""
        self._suspend_cond.atomic_inc()
        self._suspend_wait()
        self._run_lock.acquire()
        result = True
        with self._suspend_lock:
            if not self._suspended:
                result = False
                self._run_lock.release()
        return result

    @_dispatched
    def _abort(self, kill=False):
        assert task_self() == self
        self._quit = True
        self._engine.abort(kill)

    def abort(self, kill=False):
        """Abort the task: every worker is stopped (running commands are
        killed) and timers removed.  With kill=True the task is also
        unbound from its thread (task_self() then makes a new one)."""
        if not self._run_lock.acquire(False):
            self._abort(kill)
            while not self._run_lock.acquire(False):
                sleep(0.001)
        self._quit = True
        self._run_lock.release()
        if self._is_task_self():
            self._terminate(kill)
        else:
            self._suspend_cond.notify_all()

    def _terminate(self, kill):
        assert self._quit
        if self._engine is None:
            return  # already fully terminated
        self._terminated = True
        if kill:
            self._dispatch_port = None
        self._engine.clear(clear_ports=kill)
        if kill:
            self._engine.release()
            self._engine = None
        self._reset()
        with self._join_cond:
            self._join_cond.notify_all()
        if kill:
            with Task._task_lock:
                Task._tasks.pop(threading.current_thread(), None)

    def join(self):
        """Wait until the task (in another thread) is done."""
        with self._join_cond:
            if self._suspend_cond.suspend_count > 0 and not self._suspended:
                return  # stopped task
            if self._terminated:
                return
            self._join_cond.wait()

    def running(self):
        """Whether the task is running."""
        return self._engine and self._engine.running

    # results

    def _reset(self):
        self._msgtrees = {}
        self._sinks = {}
        self._d_source_rc = {}
        self._d_rc_sources = {}
        self._max_rc = None
        self._timeout_sources.clear()

    def _msgtree(self, sname, strict=True):
        """The message tree of stream `sname`, made on first use, or None
        (TaskMsgTreeError if strict) when it is switched off."""
        if self.default("%s_msgtree" % sname):
            tree = self._msgtrees.get(sname)
            if tree is None:
                tree = self._msgtrees[sname] = MsgTree()
            return tree
        if strict:
            raise TaskMsgTreeError("%s_msgtree not set" % sname)
        return None

    def _msg_sink(self, sname):
        """_msgtree(sname, strict=False), cached until defaults change."""
        try:
            return self._sinks[sname]
        except KeyError:
            tree = self._sinks[sname] = self._msgtree(sname, strict=False)
            return tree

    def _msg_add(self, worker, node, sname, msg):
        """Record line `msg` of (worker, node) on stream sname."""
        tree = self._msg_sink(sname)
        if tree is not None:
            tree._add_line((worker, node), msg)

    def _rc_set(self, worker, node, rc):
        source = (worker, node)
        self._d_source_rc[source] = rc
        self._d_rc_sources.setdefault(rc, set()).add(source)
        if self._max_rc is None or rc > self._max_rc:
            self._max_rc = rc

    def _timeout_add(self, worker, node):
        self._timeout_sources.add((worker, node))

    def _msg_by_source(self, worker, node, sname):
        msg = self._msgtree(sname).get((worker, node))
        if msg is None:
            return None
        return bytes(msg)

    def _call_tree_matcher(self, tree_match_func, match_keys=None, worker=None):
        if isinstance(match_keys, str):
            raise TypeError("Sequence of keys/nodes expected for 'match_keys'.")
        if worker and match_keys is None:
            def match(k):
                return k[0] is worker
        elif worker and match_keys is not None:
            def match(k):
                return k[0] is worker and k[1] in match_keys
        elif match_keys:
            def match(k):
                return k[1] in match_keys
        else:
            match = None
        return tree_match_func(match, itemgetter(1))

    def _rc_by_source(self, worker, node):
        return self._d_source_rc[(worker, node)]

    def _rc_iter_by_key(self, key):
        for (_, k), rc in self._d_source_rc.items():
            if k == key:
                yield rc

    def _rc_iter_by_worker(self, worker, match_keys=None):
        for rc, sources in self._d_rc_sources.items():
            keys = [k for w, k in sources
                    if w is worker and (not match_keys or k in match_keys)]
            if keys:
                yield rc, keys

    def _krc_iter_by_worker(self, worker):
        for rc, sources in self._d_rc_sources.items():
            for w, k in sources:
                if w is worker:
                    yield k, rc

    def _num_timeout_by_worker(self, worker):
        return sum(1 for w, _ in self._timeout_sources if w is worker)

    def _iter_keys_timeout_by_worker(self, worker):
        for w, k in self._timeout_sources:
            if w is worker:
                yield k

    def _flush_buffers_by_worker(self, worker):
        tree = self._msgtree("stdout", strict=False)
        if tree is not None:
            tree.remove(lambda k: k[0] == worker)

    def _flush_errors_by_worker(self, worker):
        tree = self._msgtree("stderr", strict=False)
        if tree is not None:
            tree.remove(lambda k: k[0] == worker)

    def key_buffer(self, key):
        """stdout of `key` (node) over all workers, as bytes (b'' if none)."""
        tree = self._msgtree("stdout")
        return b"".join(bytes(msg) for msg in tree.messages(lambda k: k[1] == key))

    node_buffer = key_buffer

    def key_error(self, key):
        """stderr of `key` (node) over all workers, as bytes (b'' if none)."""
        tree = self._msgtree("stderr")
        return b"".join(bytes(msg) for msg in tree.messages(lambda k: k[1] == key))

    node_error = key_error

    def key_retcode(self, key):
        """Return code of `key` (the largest over workers); KeyError if none."""
        codes = list(self._rc_iter_by_key(key))
        if not codes:
            raise KeyError(key)
        return max(codes)

    node_retcode = key_retcode

    def max_retcode(self):
        """Largest return code of the last run, or None (no command ended
        with a return code).  A command killed by signal N counts 128 + N."""
        return self._max_rc

    def _iter_msgtree(self, sname, match_keys=None):
        try:
            tree = self._msgtrees[sname]
        except KeyError:
            if not self.default("%s_msgtree" % sname):
                raise TaskMsgTreeError("%s_msgtree not set" % sname)
            return iter([])
        return self._call_tree_matcher(tree.walk, match_keys)

    def iter_buffers(self, match_keys=None):
        """Iterator over (message, keys) of stdout, identical messages
        gathered; keys are node names for distant workers."""
        return self._iter_msgtree("stdout", match_keys)

    def iter_errors(self, match_keys=None):
        """Iterator over (message, keys) of stderr (see iter_buffers())."""
        return self._iter_msgtree("stderr", match_keys)

    def iter_retcodes(self, match_keys=None):
        """Iterator over (return code, keys)."""
        for rc, sources in self._d_rc_sources.items():
            if match_keys:
                yield rc, [k for _, k in sources if k in match_keys]
            else:
                yield rc, [k for _, k in sources]

    def num_timeout(self):
        """Number of keys (nodes) that timed out."""
        return len(self._timeout_sources)

    def iter_keys_timeout(self):
        """Iterator over the keys (nodes) that timed out."""
        for _, k in self._timeout_sources:
            yield k

    def flush_buffers(self):
        """Forget every stdout message."""
        tree = self._msgtree("stdout", strict=False)
        if tree is not None:
            tree.clear()

    def flush_errors(self):
        """Forget every stderr message."""
        tree = self._msgtree("stderr", strict=False)
        if tree is not None:
            tree.clear()

    @classmethod
    def wait(cls, from_thread):
        """Block until every other task is done (their resume() returned)."""
        with Task._task_lock:
            tasks = Task._tasks.copy()
        for thread, task in tasks.items():
            if thread != from_thread:
                task.join()


def task_self(defaults=None):
    """The Task of the calling thread (made on first use)."""
    return Task(thread=threading.current_thread(), defaults=defaults)


def task_wait():
    """Block until every task of other threads is done."""
    Task.wait(threading.current_thread())


def task_terminate():
    """Destroy the calling thread's Task; task_self() then makes a new one."""
    task_self().abort(kill=True)


def task_cleanup():
    """Abort and destroy every task, from any thread (mainly for tests)."""
    while True:
        with Task._task_lock:
            tasks = Task._tasks.copy()
        if not tasks:
            break
        for task in tasks.values():
            task.abort(kill=True)
        sleep(0.001)

