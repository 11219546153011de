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

import sys
import threading
from operator import itemgetter
from time import sleep
from typing import Dict

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
from clusterpy.Worker.Worker import FANOUT_UNLIMITED  # noqa: F401 (public name here)



class TaskException(Exception):
    """Root of the Task exceptions."""


class TaskError(TaskException):
    """A task operation failed."""


class TimeoutError(TaskError):  # noqa: A001 (ClusterShell's name)
    """The run lasted longer than resume(timeout=...) allowed."""


class AlreadyRunningError(TaskError):
    """resume() or run() on a task that is running."""


class TaskMsgTreeError(TaskError):
    """Results asked of a message tree that is switched off."""


def _getshorthostname():
    import socket       # rarely needed: kept out of the import time
    return socket.gethostname().split(".")[0]


class _Gate(object):
    """Where a task's own thread waits between runs.

    `stops` counts reasons to stay stopped: a new task starts with one (it
    waits for resume()), suspend() adds one, resume() takes one away; a
    thread passes the gate when the count is not positive.
    """

    def __init__(self, lock):
        self._cond = threading.Condition(lock)
        self.stops = 1

    def add(self, count):
        with self._cond:
            self.stops += count

    def wait(self, unlocking=None):
        """Block while stopped; `unlocking` is released before blocking."""
        with self._cond:
            if self.stops <= 0:
                return
            if unlocking is not None:
                unlocking.release()
            self._cond.wait()

    def open(self):
        """Let every waiting thread through."""
        with self._cond:
            if self.stops > 0:
                self.stops = 0
            self._cond.notify_all()


class _Results(object):
    """What the current (or last) run produced: message trees by stream name,
    return codes by (worker, key) source, timed out sources."""

    __slots__ = ("trees", "sinks", "rc_of", "sources_of", "max_rc", "timedout")

    def __init__(self):
        self.trees = {}         # stream name -> MsgTree
        self.sinks = {}         # stream name -> MsgTree or None (cache)
        self.rc_of = {}         # source -> return code
        self.sources_of = {}    # return code -> set of sources
        self.max_rc = None
        self.timedout = set()

    def keep_rc(self, source, rc):
        self.rc_of[source] = rc
        sources = self.sources_of.get(rc)
        if sources is None:
            self.sources_of[rc] = {source}
        else:
            sources.add(source)
        if self.max_rc is None or self.max_rc < rc:
            self.max_rc = rc


class _Dispatcher(EventHandler):
    """Handler of a task's dispatch port: each message is a (method, args,
    kwargs) call to run in the task's thread."""

    def __init__(self, task):
        EventHandler.__init__(self)
        self.task = task

    def ev_msg(self, port, msg):
        method, args, kwargs = msg
        method(self.task, *args, **kwargs)


def _dispatched(method):
    """Make a task method callable from any thread: called from elsewhere
    than the task's thread, it is sent there through the dispatch port."""

    def call(task, *args, **kwargs):
        if task._is_task_self():
            return method(task, *args, **kwargs)
        port = task._dispatch_port
        if port:
            port.msg_send((method, args, kwargs))
        else:
            task.info("print_debug")(task, "%s: dropped call: %s" % (task, str(args)))
        return None

    call.__name__ = method.__name__
    call.__doc__ = method.__doc__
    call.__wrapped__ = method
    return call


# Task.shell() options and their defaults (None: the task's default of the
# same name)
_SHELL_OPTIONS = (("handler", False), ("timeout", False), ("autoclose", False),
                  ("stderr", True), ("stdin", True))


class Task(object):
    """A set of workers, ports and timers run together by one thread (see
    the module documentation)."""

    TOPOLOGY_CONFIGS = config_paths("topology.conf")

    _tasks: Dict[threading.Thread, "Task"] = {}     # thread -> Task
    _taskid_max = 0
    _task_lock = threading.Lock()

    def __new__(cls, thread=None, defaults=None):
        if not thread:
            return object.__new__(cls)
        with cls._task_lock:
            task = cls._tasks.get(thread)
            if task is None:
                task = cls._tasks[thread] = object.__new__(cls)
        return task

    def __init__(self, thread=None, defaults=None):
        if getattr(self, "_engine", None) is not None:
            return  # the thread's task, already made
        defaults = DEFAULTS if defaults is None else defaults
        self._default_lock = threading.Lock()
        self._default = dict(defaults._task_default,
                             local_worker=_local_workerclass(defaults),
                             distant_worker=_distant_workerclass(defaults))
        self._info = dict(defaults._task_info)
        self._engine = PreferredEngine(self.default("engine"), self._info)
        self.timeout = None
        # run control: _run_lock is held while the engine runs (or the task
        # is suspended); _state_lock guards the flags and conditions below
        self._run_lock = threading.Lock()
        self._state_lock = threading.RLock()
        self._gate = _Gate(self._state_lock)
        self._stopped = threading.Condition(self._state_lock)
        self._suspended = self._quit = self._terminated = False
        # tree mode: topology, router, gateway -> (channel worker, tree workers)
        self.topology = self.router = None
        self.gateways = {}
        self._results = _Results()
        self._dispatch_port = EnginePort(handler=_Dispatcher(self), autoclose=True)
        self._engine.add(self._dispatch_port)
        with Task._task_lock:
            Task._taskid_max += 1
            self._taskid = Task._taskid_max
        self._thread_foreign = bool(thread)
        if thread:
            self.thread = thread
            return
        self.thread = threading.Thread(target=self._thread_start, name="Task-%d" % self._taskid)
        with Task._task_lock:
            Task._tasks[self.thread] = self
        self.thread.start()

    def _is_task_self(self):
        return self.thread == threading.current_thread()

    # exceptions in the task's thread

    def default_excepthook(self, exc_type, exc_value, tb):
        """Report an exception of the task's thread on stderr."""
        sys.stderr.write("Exception in thread %s:\n" % self.thread)
        import traceback    # only on errors: kept out of the import time
        traceback.print_exception(exc_type, exc_value, tb, file=sys.stderr)

    _excepthook = default_excepthook

    def _set_excepthook(self, hook):
        self._excepthook = hook
        if self._thread_foreign:
            # not our thread: an uncaught exception may end it anyway
            sys.excepthook = hook

    #: called with (type, value, traceback) on an exception in the task's thread
    excepthook = property(lambda self: self._excepthook, _set_excepthook)

    def _thread_start(self):
        """Body of a thread made by the task: one run per resume()."""
        failed = False
        while not self._quit:
            self._gate.wait()
            if self._quit:
                break
            try:
                self._resume()
            except BaseException:  # noqa: BLE001 (any error goes to excepthook)
                self._quit = failed = True
                self.excepthook(*sys.exc_info())
        # after an unhandled exception, a joiner may still read what the
        # run gathered: it is kept (see docs/compat.md)
        self._terminate(kill=True, keep_results=failed)

    def _run(self, timeout):
        if self._run_lock.locked():
            raise AlreadyRunningError("task is already running")
        with self._run_lock:
            self._engine.run(timeout)

    # topology (tree mode)

    def _default_tree_is_enabled(self):
        """Whether distant commands go through gateways by default: a
        topology is loaded (the last topology.conf of TOPOLOGY_CONFIGS that
        exists, on first call) and the auto_tree default is on."""
        if self.topology is None:
            import os
            for topology_file in self.TOPOLOGY_CONFIGS[::-1]:
                if os.path.exists(topology_file):
                    self.load_topology(topology_file)
                    break
        return self.topology is not None and bool(self.default("auto_tree"))

    def load_topology(self, topology_file):
        """Set `topology` to the propagation tree of `topology_file` seen from
        this host (short host name); TopologyError, and `topology` left as
        it was, if the file is invalid or does not include this host."""
        from clusterpy.Topology import TopologyParser
        self.topology = TopologyParser(topology_file).tree(_getshorthostname())
        self.router = None      # made again from the new topology on first use
        # tree mode's modules (xml.sax, pickle, tarfile...) load now, not
        # in the first command's run
        import clusterpy.Worker.Tree
        import clusterpy.Communication  # noqa: F401

    def _default_router(self, router=None):
        """The task's router (made from its topology on first use), or
        `router` made the task's router if given."""
        if router is None:
            if self.router is None:
                from clusterpy.Propagation import PropagationTreeRouter
                self.router = PropagationTreeRouter(str(self.topology.root.nodeset),
                                                    self.topology)
        else:
            self.router = router
        return self.router

    def _tree_worker_class(self, tree):
        """TreeWorker if a distant job goes through gateways, else None: as
        in ClusterShell 1.10.1, tree=False never does, tree=None or True does
        when tree mode is on by default (a topology and auto_tree)."""
        if tree is False or not self._default_tree_is_enabled():
            return None
        from clusterpy.Worker.Tree import TreeWorker
        return TreeWorker

    def _pchannel(self, gateway, metaworker):
        """The channel to `gateway` for tree worker `metaworker` (the
        gateway is started on first use; see Propagation)."""
        from clusterpy.Propagation import _task_pchannel
        return _task_pchannel(self, gateway, metaworker)

    def _pchannel_release(self, gateway, metaworker):
        """`metaworker` is done with `gateway`: close the channel if no
        other worker uses it."""
        from clusterpy.Propagation import _task_pchannel_release
        _task_pchannel_release(self, gateway, metaworker)

    def _pchannel_close(self, gateway, chanworker):
        """The channel to `gateway` ended: its workers' nodes there end."""
        from clusterpy.Propagation import _task_pchannel_close
        _task_pchannel_close(self, gateway, chanworker)

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
        loaded = {"local_workername": "local_worker",
                  "distant_workername": "distant_worker"}.get(default_key)
        with self._default_lock:
            self._default[default_key] = value
            if loaded:
                self._default[loaded] = _load_workerclass(value)
            self._results.sinks = {}

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
        opts = {}
        for name, from_defaults in _SHELL_OPTIONS:
            opts[name] = kwargs[name] if name in kwargs else \
                (self.default(name) if from_defaults else None)
        opts["autoclose"] = opts["autoclose"] or False
        stdin = opts.pop("stdin")
        nodes = kwargs.get("nodes")
        if nodes:
            assert kwargs.get("key") is None, "'key' argument not supported for distant command"
            remote = kwargs.get("remote", True)
            wrkcls = self._tree_worker_class(kwargs.get("tree")) or \
                self.default("distant_worker" if remote else "local_worker")
            worker = wrkcls(NodeSet(nodes), command=command, remote=remote, **opts)
        else:
            worker = WorkerPopen(command, key=kwargs.get("key"), **opts)
        if not stdin:
            try:
                worker.set_write_eof()  # the command reads nothing
            except EngineClientError:
                pass
        self.schedule(worker)
        return worker

    def copy(self, source, dest, nodes, **kwargs):
        """Schedule a copy of local `source` to `dest` on `nodes` (reverse:
        from the nodes) with the distant worker.  Options: handler, timeout,
        stderr, preserve, reverse, tree.  Returns the worker."""
        assert nodes is not None, "local copy not supported"
        options = {"handler": None, "timeout": None, "preserve": None, "reverse": False}
        options.update((k, v) for k, v in kwargs.items() if k in options)
        options["stderr"] = kwargs.get("stderr", self.default("stderr"))
        wrkcls = self._tree_worker_class(kwargs.get("tree")) or self.default("distant_worker")
        worker = wrkcls(nodes, source=source, dest=dest, **options)
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
        self._engine.add_worker(worker)

    # running

    def _run_once(self):
        """One run of the engine, its exceptions turned into the task's."""
        self._results = _Results()
        try:
            self._run(self.timeout)
        except EngineAbortException as exc:
            self._terminate(exc.kill)
        except EngineTimeoutException:
            raise TimeoutError()
        except EngineAlreadyRunningError:
            raise AlreadyRunningError("task engine is already running")

    def _resume(self):
        assert self.thread == threading.current_thread()
        try:
            self._run_once()
        finally:
            # stopped again: joiners may go on
            with self._stopped:
                self._gate.add(1)
                self._stopped.notify_all()

    def resume(self, timeout=None):
        """Run the task: in the calling thread if it is the task's (blocking
        until done), else wake the task's thread.  With `timeout` (seconds),
        raise TimeoutError when the run takes longer."""
        self.timeout = timeout
        self._gate.add(-1)
        if self._is_task_self():
            self._resume()
        else:
            self._gate.open()

    def run(self, command=None, **kwargs):
        """shell(command, **kwargs) then resume(); without a command, the
        same as resume(timeout) (a number first argument is the timeout).
        Returns the worker, if any."""
        if isinstance(command, (int, float)) and not isinstance(command, bool):
            self.resume(command)
            return None
        if command is None:
            self.resume(kwargs.pop("timeout", None))
            return None
        worker = self.shell(command, **kwargs)
        self.resume(None)
        return worker

    @_dispatched
    def _suspend_wait(self):
        assert task_self() == self
        with self._state_lock:
            self._suspended = True
        self._gate.wait(unlocking=self._run_lock)
        with self._state_lock:
            self._suspended = False

    def suspend(self):
        """Suspend the running task (from another thread); resume() goes on.
        Returns False if the task could not be suspended (not running)."""
        self._gate.add(1)
        self._suspend_wait()
        self._run_lock.acquire()  # the task's thread hands it over
        with self._state_lock:
            suspended = self._suspended
            if not suspended:
                self._run_lock.release()
        return suspended

    @_dispatched
    def _abort(self, kill=False):
        assert self._is_task_self()
        self._quit = True
        self._engine.abort(kill)

    def abort(self, kill=False):
        """Abort the task: every worker is stopped (running commands are
        killed) and timers removed.  With kill=True the task is also
        unbound from its thread (task_self() then makes a new one)."""
        if not self._run_lock.acquire(False):
            # running: ask its thread, then wait until the run is over
            self._abort(kill)
            while not self._run_lock.acquire(False):
                sleep(0.001)
        self._quit = True
        self._run_lock.release()
        if self._is_task_self():
            self._terminate(kill)
        else:
            self._gate.open()

    def _terminate(self, kill, keep_results=False):
        assert self._quit
        if self._engine is None:
            return  # already fully terminated
        self._terminated = True
        engine = self._engine
        if kill:
            self._dispatch_port = None
        engine.clear(clear_ports=kill)
        if kill:
            engine.release()
            self._engine = None
        if not keep_results:
            self._results = _Results()
        with self._stopped:
            self._stopped.notify_all()
        if kill:
            with Task._task_lock:
                # by identity: a task of clusterpy.aio.new_task() has a key
                # of its own, not its thread
                for key in [key for key, task in Task._tasks.items() if task is self]:
                    del Task._tasks[key]

    def join(self):
        """Wait until the task (in another thread) is done."""
        with self._stopped:
            if self._terminated or (self._gate.stops > 0 and not self._suspended):
                return  # dead, or stopped
            self._stopped.wait()

    def running(self):
        """Whether the task is running."""
        return self._engine and self._engine.running

    # results

    def _msgtree(self, sname, strict=True):
        """The message tree of stream `sname`, made on first use, or None
        (TaskMsgTreeError if strict) when it is switched off."""
        if not self.default("%s_msgtree" % sname):
            if strict:
                raise TaskMsgTreeError("%s_msgtree not set" % sname)
            return None
        trees = self._results.trees
        tree = trees.get(sname)
        if tree is None:
            tree = trees[sname] = MsgTree()
        return tree

    def _msg_sink(self, sname):
        """_msgtree(sname, strict=False), cached until defaults change."""
        sinks = self._results.sinks
        try:
            return sinks[sname]
        except KeyError:
            tree = sinks[sname] = self._msgtree(sname, strict=False)
            return tree

    def _msg_add(self, worker, node, sname, msg):
        """Record line `msg` of (worker, node) on stream sname."""
        tree = self._msg_sink(sname)
        if tree is not None:
            tree._add_line((worker, node), msg)

    def _rc_set(self, worker, node, rc):
        self._results.keep_rc((worker, node), rc)

    def _timeout_add(self, worker, node):
        self._results.timedout.add((worker, node))

    def _msg_by_source(self, worker, node, sname):
        msg = self._msgtree(sname).get((worker, node))
        return None if msg is None else bytes(msg)

    def _call_tree_matcher(self, tree_match_func, match_keys=None, worker=None):
        """Call a MsgTree walk/items method on the (worker, key) sources of
        `worker` (if given) whose key is in `match_keys` (if given), mapping
        sources to their keys."""
        if isinstance(match_keys, str):
            raise TypeError("Sequence of keys/nodes expected for 'match_keys'.")
        tests = []
        if worker:
            tests.append(lambda source: source[0] is worker)
        # with a worker, an empty match_keys matches nothing; without, all
        if (match_keys is not None) if worker else match_keys:
            tests.append(lambda source: source[1] in match_keys)
        if not tests:
            match = None
        elif len(tests) == 1:
            match = tests[0]
        else:
            def match(source):
                return tests[0](source) and tests[1](source)
        return tree_match_func(match, itemgetter(1))

    def _rc_by_source(self, worker, node):
        return self._results.rc_of[(worker, node)]

    def _rc_iter_by_key(self, key):
        return (rc for (_, k), rc in self._results.rc_of.items() if k == key)

    def _rc_iter_by_worker(self, worker, match_keys=None):
        for rc, sources in self._results.sources_of.items():
            keys = [k for w, k in sources
                    if w is worker and (not match_keys or k in match_keys)]
            if keys:
                yield rc, keys

    def _krc_iter_by_worker(self, worker):
        for rc, sources in self._results.sources_of.items():
            for w, k in sources:
                if w is worker:
                    yield k, rc

    def _num_timeout_by_worker(self, worker):
        return sum(1 for w, _ in self._results.timedout if w is worker)

    def _iter_keys_timeout_by_worker(self, worker):
        return (k for w, k in self._results.timedout if w is worker)

    def _flush_by_worker(self, sname, worker):
        tree = self._msgtree(sname, strict=False)
        if tree is not None:
            tree.remove(lambda source: source[0] == worker)

    def _flush_buffers_by_worker(self, worker):
        self._flush_by_worker("stdout", worker)

    def _flush_errors_by_worker(self, worker):
        self._flush_by_worker("stderr", worker)

    def _joined_messages(self, sname, key):
        tree = self._msgtree(sname)
        return b"".join(bytes(msg) for msg in tree.messages(lambda source: source[1] == key))

    def key_buffer(self, key):
        """stdout of `key` (node) over all workers, as bytes (b'' if none)."""
        return self._joined_messages("stdout", key)

    node_buffer = key_buffer

    def key_error(self, key):
        """stderr of `key` (node) over all workers, as bytes (b'' if none)."""
        return self._joined_messages("stderr", key)

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
        return self._results.max_rc

    def _iter_msgtree(self, sname, match_keys=None):
        tree = self._results.trees.get(sname)
        if tree is None:
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
        for rc, sources in self._results.sources_of.items():
            yield rc, [k for _, k in sources if not match_keys or k in match_keys]

    def num_timeout(self):
        """Number of keys (nodes) that timed out."""
        return len(self._results.timedout)

    def iter_keys_timeout(self):
        """Iterator over the keys (nodes) that timed out."""
        return (k for _, k in self._results.timedout)

    def _clear_tree(self, sname):
        tree = self._msgtree(sname, strict=False)
        if tree is not None:
            tree.clear()

    def flush_buffers(self):
        """Forget every stdout message."""
        self._clear_tree("stdout")

    def flush_errors(self):
        """Forget every stderr message."""
        self._clear_tree("stderr")

    @classmethod
    def wait(cls, from_thread):
        """Block until every other task is done (their resume() returned)."""
        with Task._task_lock:
            others = [task for thread, task in Task._tasks.items() if thread != from_thread]
        for task in others:
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



class _EndOnSignals:
    """What task_terminate_on_signals() returns: the handlers it installed,
    put back on leaving a ``with`` block (or by restore())."""

    def __init__(self, signums):
        import signal
        self._previous = {signum: signal.signal(signum, _end_on_signal)
                          for signum in signums}

    def restore(self):
        """Put the previous handlers back."""
        import signal
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous = {}

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.restore()


def _end_on_signal(signum, frame):
    # the tasks of other threads are aborted here (their commands killed);
    # the main thread's own running task is cleared by the engine as the
    # exception goes through it
    me = threading.current_thread()
    for thread, task in list(Task._tasks.items()):
        if thread is not me:
            try:
                task.abort(kill=True)
            except Exception:  # noqa: BLE001, S110 (ending anyway: stop the others)
                pass
    raise SystemExit(128 + signum)


def task_terminate_on_signals(signums=None) -> _EndOnSignals:
    """Make the signals `signums` (default SIGTERM and SIGHUP) end the
    process without leaving any command behind: every task is aborted,
    which kills the process group of each command it runs, then
    SystemExit(128 + signal) is raised in the main thread (``finally``
    blocks run; uncaught, the process exits with that code, as a shell
    reports a command killed by the signal).

    Call it from the main thread (Python runs signal handlers there), for
    the whole script or as ``with task_terminate_on_signals(): ...``
    (the previous handlers are back after the block).  Add
    ``signal.SIGINT`` to `signums` to get the same for Ctrl-C instead of
    KeyboardInterrupt (which stops only the main thread's task).

    A process that dies without running Python code (SIGKILL, a crash)
    cannot do this; its commands get SIGKILL from the kernel instead, on
    Linux, when the thread that started them ends (see docs/compat.md).
    """
    import signal
    if signums is None:
        signums = (signal.SIGTERM, signal.SIGHUP)
    return _EndOnSignals(signums)
