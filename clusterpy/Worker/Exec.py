"""ExecWorker: one local command per node, and the base of distant workers.

For each node of its node set, ExecWorker runs its command locally with
``%h`` (or ``%host``) replaced by the node name and ``%n`` (or ``%rank``) by
the node's rank in the set; a command containing ``%hosts`` runs once for
the whole set.  It can also copy files locally (``cp``).  The Ssh, Rsh and
Pdsh workers are ExecWorkers whose clients build another command line
(``_build_cmd``).

All clients of a worker are handed to the reactor in one batch; writes to
the worker (stdin broadcast) are queued once in C for every running node.
"""

import os
from string import Template

from clusterpy import _reactor as _r
from clusterpy.Engine.Engine import ClientSource, _NEW, _PENDING, _RUNNING
from clusterpy.NodeSet import NodeSet
from clusterpy.Worker.EngineClient import EngineClient, _ProcessClient
from clusterpy.Worker.Worker import WorkerError, DistantWorker


class _Placeholders(Template):
    delimiter = "%"


def _replace_cmd(pattern, node, rank):
    """`pattern` with %h/%host/%hosts replaced by `node` and %n/%rank by
    `rank`; '%%' gives '%'."""
    if "%" not in pattern:
        return pattern
    values = {"h": node, "host": node, "hosts": node, "n": rank or 0, "rank": rank or 0}
    try:
        return _Placeholders(pattern).substitute(values)
    except (KeyError, ValueError) as error:
        raise WorkerError("%s is not a valid pattern, use '%%%%' to escape '%%'" % error)


def _each(nodes):
    return nodes if isinstance(nodes, NodeSet) else (nodes,)


def _quiet_unstarted(cls):
    """Whether closing a client of class `cls` that never started does
    nothing but count it for its worker (ExecWorker._check_fini): true when
    the classes defining its __init__ and _close say so (_quiet_unstarted
    in their own namespace), as ours do; a subclass that overrides either
    without saying so is made and closed as any other."""
    for name in ("__init__", "_close"):
        for klass in cls.__mro__:
            if name in klass.__dict__:
                if not klass.__dict__.get("_quiet_unstarted"):
                    return False
                break
    return True


class ExecClient(_ProcessClient):
    """Runs `command` locally for `node` (a node name, or a NodeSet for a
    command using %hosts)."""

    _multi = False      # key is a NodeSet (%hosts)
    # its __init__ and _close: a client that never started only counts
    _quiet_unstarted = True

    def __init__(self, node, command, worker, stderr, timeout, autoclose=False, rank=None):
        EngineClient.__init__(self, worker, node, stderr, timeout, autoclose)
        self.rank = rank
        self.command = command
        if isinstance(node, NodeSet):
            self._multi = True

    def _build_cmd(self):
        """(command line, extra environment or None): a str runs through the
        shell, a list is an argv."""
        return (_replace_cmd(self.command, self.key, self.rank), None)

    def _spawn_cmd(self):
        return self._build_cmd()

    def _on_started(self):
        self._on_nodeset_start(self.key)

    def _handle_lines(self, sname, chunk):
        if self._multi:
            for node in self.key:
                self.worker._on_node_chunk(node, sname, chunk)
        else:
            self.worker._on_node_chunk(self.key, sname, chunk)

    def _close(self, abort, timeout):
        self.invalidate()
        rc = self._exit_rc(abort, timeout)
        if rc is not None:
            self._on_nodeset_close(self.key, rc)
        elif timeout and self._status is not None:
            self.worker._on_node_timeout(self.key)
        self.worker._check_fini()

    # events for a node, or for each node of a NodeSet key (%hosts)

    def _on_nodeset_start(self, nodes):
        for node in _each(nodes):
            self.worker._on_start(node)

    def _on_nodeset_close(self, nodes, rc):
        for node in _each(nodes):
            self.worker._on_node_close(node, rc)


class CopyClient(ExecClient):
    """Copies `source` to `dest` locally with cp (reversed for a reverse
    copy); `dest` must be a directory for a reverse copy."""

    _quiet_unstarted = True     # (its __init__ checks arguments the first client checked)

    def __init__(self, node, source, dest, worker, stderr, timeout, autoclose, preserve,
                 reverse, rank=None):
        ExecClient.__init__(self, node, None, worker, stderr, timeout, autoclose, rank)
        self.source = source
        self.dest = dest
        self.preserve = preserve
        self.reverse = reverse
        if reverse:
            self.isdir = os.path.isdir(dest)
            if not self.isdir:
                raise ValueError("reverse copy dest must be a directory")
        else:
            self.isdir = os.path.isdir(source)

    def _copy_flags(self):
        """-r for a directory, -p to preserve: the flags cp, rcp, scp and
        pdcp share."""
        flags = []
        if self.isdir:
            flags.append("-r")
        if self.preserve:
            flags.append("-p")
        return flags

    def _build_cmd(self):
        source = _replace_cmd(self.source, self.key, self.rank)
        dest = _replace_cmd(self.dest, self.key, self.rank)
        argv = ["cp"] + self._copy_flags()
        argv += [dest, source] if self.reverse else [source, dest]
        return (argv, None)


class ExecWorker(DistantWorker):
    """Runs a command (or a copy) locally, once per node of `nodes`.

    ``ExecWorker(nodes, handler, timeout=None, command=..., stderr=False,
    autoclose=False)`` or ``ExecWorker(nodes, handler, source=..., dest=...,
    preserve=False, reverse=False)``.  connect_timeout is ignored.
    """

    SHELL_CLASS = ExecClient
    COPY_CLASS = CopyClient

    # clients made on demand (see _create_clients), or None
    _source = None
    # writes given while some clients were not made, for them (see write())
    _wlog = None
    _wlog_eof = False
    _lazy = None        # (iterator of (rank, node), client arguments)

    def __init__(self, nodes, handler, timeout=None, **kwargs):
        DistantWorker.__init__(self, handler)
        self._close_count = 0
        self._has_timeout = False
        self._clients = []
        self.nodes = NodeSet(nodes)
        self.command = kwargs.get("command")
        self.source = kwargs.get("source")
        self.dest = kwargs.get("dest")
        self._create_clients(timeout=timeout, **kwargs)

    def _create_clients(self, **kwargs):
        """One client per node, or one for all with %hosts.  The first
        client is made now (its arguments are checked), the others when the
        engine is about to spawn them (an Engine.ClientSource), unless a
        subclass makes its clients its own way (_add_client)."""
        command = self.command
        if command and ("%hosts" in command or "%{hosts}" in command):
            self._add_client(self.nodes, rank=None, **kwargs)
            return
        nodes = enumerate(NodeSet(self.nodes))     # (a copy: nodes is public)
        count = len(self.nodes)
        if type(self)._add_client is not ExecWorker._add_client:
            for rank, node in nodes:
                self._add_client(node, rank=rank, **kwargs)
            return
        for rank, node in nodes:
            self._add_client(node, rank=rank, **kwargs)
            break
        if count > 1:
            self._lazy = (nodes, kwargs)
            self._total = count
            self._source = ClientSource(self, count - 1, kwargs.get("autoclose", False))

    def _cp_make(self):
        """The next client of the ClientSource (see _create_clients)."""
        nodes, kwargs = self._lazy
        rank, node = next(nodes)
        self._add_client(node, rank=rank, **kwargs)
        client = self._clients[-1]
        if self._wlog is not None:
            self._replay_writes(client)
        return client

    def _add_client(self, nodes, **kwargs):
        """Create one shell or copy client for `nodes`."""
        common = (self, kwargs.get("stderr", False), kwargs.get("timeout"),
                  kwargs.get("autoclose", False))
        if self.command is not None:
            args = (nodes, self.command) + common + (kwargs.get("rank"),)
            self._clients.append(self.SHELL_CLASS(*args))
        elif self.source:
            args = (nodes, self.source, self.dest) + common + \
                (kwargs.get("preserve", False), kwargs.get("reverse", False), kwargs.get("rank"))
            self._clients.append(self.COPY_CLASS(*args))
        else:
            raise ValueError("missing command or source parameter in worker constructor")

    def _engine_clients(self):
        """Every client (the ones not made yet are made now)."""
        if self._source is not None:
            self._source.make_all()
        return self._clients

    def _engine_parts(self):
        source = self._source
        return list(self._clients), source if source is not None and source.left else None

    def _client_count(self):
        return len(self._clients) if self._source is None else self._total

    def _cp_discard(self, count):
        """Close `count` clients not made yet as the engine clears (an abort,
        a timeout) without making them, when that is all closing them would
        do (_quiet_unstarted); returns whether it did."""
        if type(self)._check_fini is not ExecWorker._check_fini or not _quiet_unstarted(
                self.SHELL_CLASS if self.command is not None else self.COPY_CLASS):
            return False
        self._close_count += count - 1
        self._check_fini()
        return True

    def _replay_writes(self, client):
        """Give a client made late what was written to the worker before."""
        for buf in self._wlog or ():
            client._write(self.SNAME_STDIN, buf)
        if self._wlog_eof:
            client._set_write_eof(self.SNAME_STDIN)

    def _unmade(self):
        """Whether some clients are not made yet."""
        source = self._source
        return source is not None and source.left > 0

    def write(self, buf, sname=None):
        """Write `buf` to the stdin of every node's command."""
        sname = sname or self.SNAME_STDIN
        if sname != self.SNAME_STDIN:
            return
        if self._unmade():
            if self._wlog is None:
                self._wlog = []
            self._wlog.append(buf)
        started = []
        for client in self._clients:
            state = client._state
            if state == _NEW:
                client._write(sname, buf)
            elif (state == _PENDING or state == _RUNNING) and not client._weof:
                started.append(client._cid)
        if started:
            self.task._engine.write_many(started, buf, _r.CP_STDIN)

    def set_write_eof(self, sname=None):
        """Close every node's stdin once what was written has gone."""
        sname = sname or self.SNAME_STDIN
        if self._unmade():
            if self._wlog is None:
                self._wlog = []
            self._wlog_eof = True
        for client in self._clients:
            client._set_write_eof(sname)

    def abort(self):
        """Abort every node's command (safe to call again)."""
        source = self._source
        discard = source is not None and source.left and source.engine is not None
        clients = list(self._clients) if discard else list(self._engine_clients())
        for client in clients:
            client.abort()
        # the nodes without a client yet: closed without one if that is all
        # closing them does (see _cp_discard), else made and aborted
        if discard and not source.discard():
            for client in list(self._engine_clients())[len(clients):]:
                client.abort()

    def _on_node_timeout(self, node):
        self._has_timeout = True
        DistantWorker._on_node_timeout(self, node)

    def _check_fini(self):
        """Count a closed client; after the last one come the worker's own
        closing events: ev_timeout (old handlers) if a node timed out, then
        ev_close."""
        self._close_count += 1
        if self._close_count < self._client_count():
            return
        if self._has_timeout and hasattr(self.eh, "ev_timeout"):
            self.eh.ev_timeout(self)
        self._on_worker_close(self._has_timeout)


WORKER_CLASS = ExecWorker
