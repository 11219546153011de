"""WorkerTree: a command, copy or reverse copy run through gateways.

Theory of operation
-------------------
A tree worker splits its nodes with the task's router
(``Propagation.PropagationTreeRouter``): nodes behind a gateway are sent
to that gateway's channel (one per gateway and task, see
``Task._pchannel``) as one control message; the nodes left are run by
child workers of this task (the distant worker, or the local one with
``remote=False``), whose events a :class:`MetaWorkerEventHandler` relays.
Either way the user's handler sees per-node ``ev_pickup``, ``ev_read``,
``ev_hup``, timeouts and one ``ev_start``/``ev_close`` for the whole
worker, and the task keeps the results under this worker.

The worker's one engine client is an autoclose port: it starts the
worker when the engine runs (ev_port_start) and carries write() and
set_write_eof() calls made before that.  Results from gateways come as
chunks of lines for folded node sets; each node gets its chunk whole
(``_on_remote_node_chunk``), so that no Python work per line is done
unless the handler reads lines.

Copies go through the gateways as tar streams (``tar -x`` on the nodes,
the archive written to their stdin); reverse copies run ``tar -c | base64``
on the nodes and each node's output is decoded into a temporary file,
extracted into the destination directory when the node ends.
"""

import base64
import logging
import os
import sys
import tarfile
import tempfile
from os.path import basename, dirname, isfile, normpath
from typing import Optional

from clusterpy.Event import EventHandler
from clusterpy.NodeSet import NodeSet
from clusterpy.Propagation import PropagationTreeRouter, RouteResolvingError
from clusterpy.Worker.EngineClient import EnginePort
from clusterpy.Worker.Worker import DistantWorker, WorkerError, _eh_sigspec_invoke_compat

LOGGER = logging.getLogger(__name__)

_TAR_EXTRACT_KWARGS = {"filter": "fully_trusted"} if hasattr(tarfile, "data_filter") else {}

#: environment passed on to the gateway command, in this order
_GW_ENV = ("PYTHONPATH", "CLUSTERSHELL_GW_PYTHON_EXECUTABLE", "CLUSTERSHELL_GW_LOG_DIR",
           "CLUSTERSHELL_GW_LOG_LEVEL", "CLUSTERSHELL_GW_B64_LINE_LENGTH")

#: the gateway module run by default (task default tree_gateway_module)
GATEWAY_MODULE = "clusterpy.Gateway"


def _quote(path):
    """`path` for use inside single quotes in a shell command."""
    return path.replace("'", "'\"'\"'")


def gateway_command(module=GATEWAY_MODULE) -> str:
    """The shell line starting a gateway running `module`, with the
    environment ClusterShell passes on (see docs/tree-protocol.md)."""
    words = ["%s=%s" % (name, os.environ[name]) for name in _GW_ENV if os.environ.get(name)]
    words.append(os.environ.get("CLUSTERSHELL_GW_PYTHON_EXECUTABLE")
                 or basename(sys.executable or "python"))
    words += ["-m", module, "-Bu"]
    return " ".join(words)


class MetaWorkerEventHandler(EventHandler):
    """Handler of a tree worker's child workers: relays their events to the
    tree worker."""

    def __init__(self, metaworker):
        EventHandler.__init__(self)
        self.metaworker = metaworker

    def ev_start(self, worker):
        self.metaworker._start_count += 1
        self.metaworker._check_ini()

    def ev_pickup(self, worker, node):
        self.metaworker._emit_pickup(node)

    def _ev_chunk(self, worker, node, sname, chunk):
        self.metaworker._on_node_chunk(node, sname, chunk)

    def ev_read(self, worker, node, sname, msg):
        # what a line costs when it comes one at a time; the workers of
        # clusterpy hand whole chunks to _ev_chunk instead
        self.metaworker._on_node_msgline(node, msg, sname)

    def ev_written(self, worker, node, sname, size):
        metaworker = self.metaworker
        metaworker.current_node = node
        metaworker.current_sname = sname
        if metaworker.eh is not None:
            metaworker.eh.ev_written(metaworker, node, sname, size)

    def ev_hup(self, worker, node, rc):
        self.metaworker._on_node_close(node, rc)

    def ev_close(self, worker, timedout):
        metaworker = self.metaworker
        if timedout:
            for node in list(worker.iter_keys_timeout()):
                metaworker._on_node_timeout(node)
        metaworker._check_fini()


class TreeWorker(DistantWorker):
    """Runs a command (or a copy) on `nodes` through the gateways of the
    task's topology (see the module documentation).

    ``TreeWorker(nodes, handler, timeout, command=..., stderr=False,
    remote=True, autoclose=False)`` or ``TreeWorker(nodes, handler,
    timeout, source=..., dest=..., preserve=None, reverse=False)``;
    ``topology`` and ``newroot`` choose another tree and root than the
    task's.
    """

    UNTAR_CMD_FMT = "tar -xf - -C '%s'"
    TAR_CMD_FMT = ("tar -cf - -C '%s' --transform \"s,^\\([^/]*\\)[/]*,\\1.$(hostname -s)/,\" "
                   "'%s' | base64 -w 65536")

    class _IOPortHandler(EventHandler):
        """The tree worker's port: starts it, and runs the write() and
        set_write_eof() calls made before the start."""

        def __init__(self, treeworker):
            EventHandler.__init__(self)
            self.treeworker = treeworker

        def ev_port_start(self, port):
            self.treeworker._start()

        def ev_msg(self, port, msg):
            func, args = msg[0], msg[1:]
            func(self.treeworker, *args)

    def __init__(self, nodes, handler, timeout, **kwargs):
        DistantWorker.__init__(self, handler)
        self.logger = LOGGER
        self.workers = []
        self.nodes = NodeSet(nodes)
        self.timeout = timeout
        self.command = kwargs.get("command")
        self.source = kwargs.get("source")
        self.dest = kwargs.get("dest")
        self.autoclose = kwargs.get("autoclose", False)
        self.stderr = kwargs.get("stderr", False)
        self.remote = kwargs.get("remote", True)
        self.preserve = kwargs.get("preserve", None)
        self.reverse = kwargs.get("reverse", False)
        self._rcopy_bufs = {}
        self._rcopy_tars = {}
        self._close_count = 0
        self._start_count = 0
        self._child_count = 0
        self._target_count = 0
        self._has_timeout = False
        self._started = False
        self._initialized = False
        self._aborted = False
        self._finished = False
        self._pending_pickups = []
        self._guard = None          # head-side timeout timer (see _arm_guard)
        if self.command is None and self.source is None:
            raise ValueError("missing command or source parameter in TreeWorker constructor")
        if self.source:
            self.stderr = True      # tar errors apart from the data on stdout
        self.invoke_gateway = gateway_command()
        self.topology = kwargs.get("topology")
        if self.topology is not None:
            self.newroot = kwargs.get("newroot") or str(self.topology.root.nodeset)
            self.router = PropagationTreeRouter(self.newroot, self.topology)
        else:
            self.router = None
        self.upchannel = None
        self.metahandler = MetaWorkerEventHandler(self)
        self.gwtargets = {}         # gateway name -> set of nodes still running there
        self._port = EnginePort(handler=TreeWorker._IOPortHandler(self), autoclose=True)

    # starting

    def _start(self):
        task = self.task
        self.topology = self.topology or task.topology
        self.router = task._default_router(self.router)
        module = task.default("tree_gateway_module")
        if module:
            self.invoke_gateway = gateway_command(module)
        self._started = True
        self._launch(self.nodes)
        self._arm_guard()
        self._check_ini()

    def _arm_guard(self):
        """With a timeout, a head-side timer ends the nodes a gateway did
        not report on by then (the gateway's own timeout, plus the connect
        timeout for each gateway level down to the nodes): a hung gateway
        cannot hang the run."""
        if not self.gwtargets or not self.timeout or self.timeout <= 0:
            return
        levels, todo = 0, [self.topology.root] if self.topology is not None else []
        while todo:
            levels += 1
            todo = [child for group in todo for child in group.children()]
        grace = max(self.task.info("connect_timeout", 0) or 0, 1.0) * max(levels - 2, 1)
        self._guard = self.task.timer(self.timeout + grace, _TimeoutGuard(self),
                                      autoclose=True)

    def _guard_fired(self):
        self._guard = None
        for gateway, targets in list(self.gwtargets.items()):
            for node in NodeSet.fromlist(targets):
                self._on_remote_node_timeout(node, gateway)

    def _copy_args(self):
        """(arcname, destdir) of a copy, destdir of a reverse copy."""
        if self.reverse:
            return None, self.dest
        if isfile(self.source):
            return basename(self.dest) or basename(normpath(self.source)), dirname(self.dest)
        if self.dest.endswith("/"):
            return basename(normpath(self.source)), dirname(self.dest)
        return basename(self.dest), dirname(self.dest)

    def _launch(self, nodes):
        arcname = destdir = None
        if self.source:
            arcname, destdir = self._copy_args()
        task = self.task
        for gateway, targets in self._distribute(task.info("fanout"), nodes.copy()):
            if gateway == targets:
                self._launch_direct(targets)
            elif self.source:
                self._copy_remote(self.source, destdir, targets, gateway, self.timeout,
                                  self.reverse)
            else:
                self._execute_remote(self.command, targets, gateway, self.timeout)
        if self.source and not self.reverse and self.gwtargets:
            self._send_tar(arcname)

    def _launch_direct(self, targets):
        """Run on `targets` (not behind a gateway) with a child worker."""
        task = self.task
        self._child_count += 1
        self._target_count += len(targets)
        if self.source:
            worker = task.copy(self.source, self.dest, targets, handler=self.metahandler,
                               stderr=self.stderr, timeout=self.timeout,
                               preserve=self.preserve, reverse=self.reverse, tree=False)
        elif self.remote:
            worker = task.shell(self.command, nodes=targets, timeout=self.timeout,
                                handler=self.metahandler, stderr=self.stderr, tree=False)
        else:
            worker = task.default("local_worker")(nodes=targets, command=self.command,
                                                  handler=self.metahandler,
                                                  timeout=self.timeout, stderr=self.stderr)
            task.schedule(worker)
        self.workers.append(worker)

    def _send_tar(self, arcname):
        """Write the archive of the copy source to the nodes behind gateways,
        then close their stdin."""
        try:
            with tempfile.TemporaryFile() as tmptar:
                with tarfile.open(fileobj=tmptar, mode="w:") as tar:
                    tar.add(self.source, arcname=arcname)
                tmptar.seek(0)
                while True:
                    buf = tmptar.read(1 << 20)
                    if not buf:
                        break
                    self._write_remote(buf)
        except OSError as exc:
            raise WorkerError(exc)
        self._set_write_eof_remote()

    def _distribute(self, fanout, dst_nodeset):
        """(next hop NodeSet, targets NodeSet) pairs for `dst_nodeset`."""
        self.router.fanout = fanout
        distribution = {}
        for gateway, nodes in self.router.dispatch(dst_nodeset):
            key = str(gateway)
            if key in distribution:
                distribution[key].update(nodes)
            else:
                distribution[key] = NodeSet(nodes)
        return tuple((NodeSet(key), nodes) for key, nodes in distribution.items())

    def _copy_remote(self, source, dest, targets, gateway, timeout, reverse):
        """Run the tar side of a copy on `targets` behind `gateway`."""
        if reverse:
            command = self.TAR_CMD_FMT % (_quote(dirname(source)),
                                          _quote(basename(normpath(source))))
        else:
            command = self.UNTAR_CMD_FMT % _quote(dest)
        self._execute_remote(command, targets, gateway, timeout)

    def _execute_remote(self, cmd, targets, gateway, timeout):
        """Run `cmd` on `targets` behind `gateway`."""
        self._target_count += len(targets)
        self.gwtargets.setdefault(str(gateway), set()).update(targets)
        channel = self.task._pchannel(gateway, self)
        channel.shell(nodes=targets, command=cmd, worker=self, timeout=timeout,
                      stderr=self.stderr, gw_invoke_cmd=self.invoke_gateway,
                      remote=self.remote)

    def _relaunch(self, previous_gateway):
        """Run again, on another route, the nodes sent to a gateway that
        failed before its channel was set up; nodes left without a route
        end with an error line and return code 76 (EX_PROTOCOL)."""
        targets = NodeSet.fromlist(self.gwtargets.get(previous_gateway, ()))
        if not targets:
            return
        self.gwtargets[previous_gateway].clear()
        self._check_fini(previous_gateway)
        self._target_count -= len(targets)
        if self.eh is not None and hasattr(self.eh, "_ev_routing"):
            self.eh._ev_routing(self, {"event": "reroute", "gateway": previous_gateway,
                                       "targets": targets})
        before = {gw: len(nodes) for gw, nodes in self.gwtargets.items()}
        try:
            self._launch(targets)
            if self.eh is not None and hasattr(self.eh, "_ev_routing"):
                # where they went (each gateway's share, or direct)
                for gateway, nodes in list(self.gwtargets.items()):
                    moved = NodeSet.fromlist(nodes) & targets
                    if moved and len(nodes) > before.get(gateway, 0):
                        self.eh._ev_routing(self, {"event": "relaunched", "gateway": gateway,
                                                   "targets": moved})
        except RouteResolvingError as exc:
            self.logger.debug("relaunch of %s: %s", targets, exc)
            self._target_count += len(targets)
            line = ("gateway %s is unreachable" % previous_gateway).encode()
            for node in targets:
                self._on_node_chunk(node, self.SNAME_STDERR, line)
                self._on_node_close(node, os.EX_PROTOCOL)
            self._check_fini()

    def _engine_clients(self):
        return [self._port]

    # results from gateways

    def _on_remote_node_msgline(self, node, msg, sname, gateway):
        """One line from `node` behind `gateway`."""
        self._on_remote_node_chunk(node, sname, msg, gateway)

    def _on_remote_node_chunk(self, node, sname, chunk, gateway):
        """Lines (joined by b'\\n') from `node` behind `gateway` (dropped
        once the node ended or was aborted)."""
        targets = self.gwtargets.get(gateway)
        if targets is None or node not in targets:
            return
        if self.reverse and self.source and sname == "stdout":
            self._rcopy_feed(node, chunk)
            return
        DistantWorker._on_node_chunk(self, node, sname, chunk)

    def _on_gateway_chunk(self, node, sname, chunk):
        """Lines about the gateway `node` itself (its errors), unless this
        worker is done."""
        if not self._finished and not self._aborted:
            DistantWorker._on_node_chunk(self, node, sname, chunk)

    def _rcopy_feed(self, node, chunk):
        """Decode base64 tar data from `node` into its temporary file."""
        encoded = self._rcopy_bufs.get(node, b"") + chunk.replace(b"\n", b"")
        tar = self._rcopy_tars.get(node)
        if tar is None:
            # kept open across chunks; _rcopy_extract closes it
            tar = self._rcopy_tars[node] = tempfile.TemporaryFile()  # noqa: SIM115
        whole = len(encoded) // 4 * 4
        tar.write(base64.b64decode(encoded[:whole]))
        self._rcopy_bufs[node] = encoded[whole:]

    def _rcopy_extract(self, node, gateway):
        tarfileobj = self._rcopy_tars.pop(node, None)
        self._rcopy_bufs.pop(node, None)
        if tarfileobj is None:
            return
        try:
            tarfileobj.seek(0)
            with tarfile.open(fileobj=tarfileobj) as tar:
                tar.extractall(path=self.dest, **_TAR_EXTRACT_KWARGS)
        except (OSError, tarfile.TarError) as exc:
            DistantWorker._on_node_chunk(self, node, self.SNAME_STDERR, str(exc).encode())
        finally:
            tarfileobj.close()

    def _on_remote_node_close(self, node, rc, gateway):
        """`node` behind `gateway` ended with return code `rc`."""
        targets = self.gwtargets.get(str(gateway))
        if targets is None or node not in targets:
            return      # not ours (any more): a late or duplicate result
        targets.discard(node)
        if self.source and self.reverse:
            self._rcopy_extract(node, gateway)
        DistantWorker._on_node_close(self, node, rc)
        self._close_count += 1
        self._check_fini(gateway)

    def _on_remote_node_timeout(self, node, gateway):
        """`node` behind `gateway` timed out."""
        targets = self.gwtargets.get(str(gateway))
        if targets is None or node not in targets:
            return
        targets.discard(node)
        self._rcopy_tars.pop(node, None)
        self._rcopy_bufs.pop(node, None)
        DistantWorker._on_node_timeout(self, node)
        self._close_count += 1
        self._has_timeout = True
        self._check_fini(gateway)

    # results from child workers

    def _on_node_close(self, node, rc):
        DistantWorker._on_node_close(self, node, rc)
        self._close_count += 1

    def _on_node_timeout(self, node):
        DistantWorker._on_node_timeout(self, node)
        self._close_count += 1
        self._has_timeout = True

    def _on_routing_event(self, arg):
        if self.eh is not None and hasattr(self.eh, "_ev_routing"):
            self.eh._ev_routing(self, arg)

    def _pickup(self, node):
        _eh_sigspec_invoke_compat(self.eh.ev_pickup, 2, self, node)

    def _emit_pickup(self, node):
        """ev_pickup for `node`; held back until ev_start has fired."""
        if self._aborted or self.eh is None:
            return
        if not self._initialized:
            self._pending_pickups.append(node)
            return
        self._pickup(node)

    def _check_ini(self):
        """Once started and every child worker is up: ev_start, then the
        pickups held back (none after an abort)."""
        ready = self._started and self._start_count >= self._child_count
        if not ready or self._initialized:
            return
        self._initialized = True
        held, self._pending_pickups = self._pending_pickups, []
        if self.eh is not None:
            self.eh.ev_start(self)
            for node in held:
                if self._aborted:
                    break
                self._pickup(node)

    def _finish(self):
        """Every node ended: stop the guard, ev_timeout (old handlers) and
        ev_close, and take the port out of the engine."""
        self._finished = True
        if self._guard is not None:
            self._guard.invalidate()
            self._guard = None
        eh = self.eh
        if eh is not None and self._has_timeout and hasattr(eh, "ev_timeout"):
            eh.ev_timeout(self)
        self._on_worker_close(self._has_timeout)
        engine = getattr(self.task, "_engine", None)
        if engine is not None and self._port in engine._ports:
            engine.remove(self._port)

    def _check_fini(self, gateway=None):
        """ev_close after the last node; release a gateway's channel once
        none of our nodes run there."""
        if self._close_count >= self._target_count and not self._finished:
            self._finish()
        if gateway:
            key = str(gateway)
            targets = self.gwtargets.get(key)
            if targets is not None and not targets:
                del self.gwtargets[key]
                self.task._pchannel_release(key, self)

    # writing

    def _write_remote(self, buf):
        for gateway, targets in list(self.gwtargets.items()):
            if targets:
                self.task._pchannel(gateway, self).write(nodes=targets, buf=buf, worker=self)

    def _set_write_eof_remote(self):
        for gateway, targets in list(self.gwtargets.items()):
            if targets:
                self.task._pchannel(gateway, self).set_write_eof(nodes=targets, worker=self)

    def write(self, buf: bytes, sname: Optional[str] = None) -> None:
        """Write `buf` to the stdin of every node (through the gateways)."""
        if not self._started:
            self._port.msg_send((TreeWorker.write, buf))
            return
        failure = None
        for worker in self.workers:
            try:
                worker.write(buf)
            except OSError as exc:
                failure = exc
        self._write_remote(buf)
        if failure is not None:
            raise failure

    def set_write_eof(self, sname: Optional[str] = None) -> None:
        """Close every node's stdin once written (through the gateways)."""
        if not self._started:
            self._port.msg_send((TreeWorker.set_write_eof,))
            return
        for worker in self.workers:
            worker.set_write_eof()
        self._set_write_eof_remote()

    # aborting

    def _gateway_abort(self, gateway):
        """The channel to `gateway` ended: our nodes still running there end
        with return code 76 (EX_PROTOCOL)."""
        targets = self.gwtargets.get(gateway)
        if targets is None:
            return
        for node in NodeSet.fromlist(targets):
            self._on_remote_node_close(node, os.EX_PROTOCOL, gateway)

    def abort(self) -> None:
        """Abort every node: child workers are aborted, nodes behind
        gateways end with return code 76, idle channels are closed."""
        self._aborted = True
        self._pending_pickups = []
        for worker in self.workers:
            worker.abort()
        for gateway in list(self.gwtargets):
            self._gateway_abort(gateway)


class _TimeoutGuard(object):
    """Timer handler of a tree worker's head-side timeout."""

    def __init__(self, worker):
        self.worker = worker

    def ev_timer(self, timer):
        self.worker._guard_fired()


WorkerTree = TreeWorker
