"""WorkerPopen: one local shell command, the worker behind ``task.shell(cmd)``
without nodes.  Its results are kept under its key (the worker itself when
no key is given)."""

from clusterpy.Engine.Engine import ClientSource
from clusterpy.Worker.EngineClient import EngineClient, _ChildProcess
from clusterpy.Worker.Worker import StreamClient, Worker, WorkerSimple


class PopenClient(_ChildProcess, StreamClient):
    """Runs the worker's command through /bin/sh -c."""

    def __init__(self, worker, key, stderr, timeout, autoclose):
        # EngineClient's, not StreamClient's: its streams are the child's
        # pipes (_ChildProcess.streams), no stream dict of its own
        EngineClient.__init__(self, worker, key, stderr, timeout, autoclose)
        self.rc = None

    def _spawn_cmd(self):
        return (self.worker.command, None)

    def _debug_name(self):
        return "POPEN"

    def _on_started(self):
        self.worker._on_start(self.key)

    def _handle_lines(self, sname, chunk):
        self.worker._on_chunk(self.key, sname, chunk, sname == "stderr")

    def _close(self, abort, timeout):
        self.invalidate()
        worker = self.worker
        rc = self._exit_rc(abort, timeout)
        if rc is not None:
            self.rc = rc
            worker._on_close(self.key, rc)
        elif timeout and self._status is not None:
            worker._on_timeout(self.key)
        worker._on_worker_close(timeout)


class WorkerPopen(WorkerSimple):
    """Runs `command` locally (through the shell)."""

    _client = None      # its PopenClient, made on demand (see clients)

    def __init__(self, command, key=None, handler=None, stderr=False, timeout=-1,
                 autoclose=False):
        # WorkerSimple.__init__ without files, and without its client yet: a
        # pending worker is this object and its ClientSource only
        Worker.__init__(self, handler)
        self.command = command
        if not self.command:
            raise ValueError("missing command parameter in WorkerPopen constructor")
        self.key = key
        if stderr:
            self._stderr = stderr
        if timeout != -1:
            self._timeout = timeout
        self._source = ClientSource(self, 1, autoclose)

    _stderr = False
    _timeout = -1

    def _cp_make(self):
        key = self.key
        client = self._client = PopenClient(self, self if key is None else key, self._stderr,
                                            self._timeout, self._source.autoclose)
        return client

    @property
    def clients(self):
        """[its PopenClient] (made now if it was not)."""
        if self._client is None:
            self._source.make_all()
        return [self._client]

    def _engine_parts(self):
        if self._client is None:
            return (), self._source
        return [self._client], None

    def retcode(self):
        """The command's return code, or None while it runs."""
        return self.clients[0].rc


WORKER_CLASS = WorkerPopen
