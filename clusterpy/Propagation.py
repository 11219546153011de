"""Propagation: routes through the topology tree, and the head side of a
gateway channel.

:class:`PropagationTreeRouter` turns a topology tree seen from a root node
into a routing table (destination nodes -> next hop gateways) and splits a
target node set between next hops.  :class:`PropagationChannel` is the
channel a Task keeps to one directly connected gateway: it sends the
configuration, then the control messages of every tree worker using the
gateway (one in flight at a time, each after the previous one's ACK), and
hands the results back to those workers.

Per-node work on the head is what delivering results needs: an OUT message
for a folded node set is decoded once and handed to each of its nodes as
one chunk of lines.
"""

import logging
import os
from collections import deque
from typing import Iterator, Optional, Tuple

from clusterpy.Communication import Channel, ConfigurationMessage, ControlMessage
from clusterpy.Communication import StdOutMessage, StdErrMessage, RetcodeMessage
from clusterpy.Communication import TimeoutMessage, RoutingMessage, ErrorMessage
from clusterpy.Communication import StartMessage, EndMessage, RoutedMessageBase
from clusterpy.Communication import ENCODING, PROTOCOL_VERSION, version_mismatch
from clusterpy.Defaults import DEFAULTS
from clusterpy.NodeSet import NodeSet
from clusterpy.Topology import TopologyError

LOGGER = logging.getLogger(__name__)


class RouteResolvingError(Exception):
    """No route to a destination (unknown, unreachable, or the root)."""


class PropagationTreeRouter(object):
    """Routes from `root` through `topology`: ``table`` is a list of
    (destination NodeSet, next hop gateways NodeSet), one per child group
    of the root's group."""

    def __init__(self, root, topology, fanout=0):
        self.root, self.topology, self.fanout = root, topology, fanout
        self._unreachable_hosts = NodeSet()
        self.nodes_fanin = {}       # gateway name -> nodes sent through it
        self.table_generate(root, topology)

    def table_generate(self, root: str, topology) -> None:
        """Build the routing table from the group of `root`."""
        try:
            root_group = topology.find_nodegroup(root)
        except TopologyError:
            raise RouteResolvingError("Invalid root or gateway node: %s" % root)
        self.table = []
        for group in root_group.children():
            dest = NodeSet()
            todo = [group]
            while todo:
                current = todo.pop()
                below = current.children_ns()
                if below is not None:
                    dest.update(below)
                todo.extend(current.children())
            self.table.append((dest, group.nodeset))

    def dispatch(self, dst: NodeSet) -> Iterator[Tuple[NodeSet, NodeSet]]:
        """Split node set `dst` (emptied on the way) into (next hop, nodes)
        pairs: nodes behind gateways go to the least loaded reachable
        gateway of their route, in slices; the nodes left are yielded as
        (nodes, nodes), directly connected."""
        for network, nexthops in self.table:
            inter = network & dst
            if not inter:
                continue
            dst.difference_update(inter)
            for hop, nodes in self._spread(inter, nexthops):
                yield hop, nodes
        if dst:
            yield dst, dst

    def _spread(self, nodes, nexthops):
        """(gateway, nodes) pairs sharing `nodes` between the reachable
        gateways of `nexthops`, the least loaded first."""
        if nodes in self._unreachable_hosts:
            raise RouteResolvingError("Invalid destination: %s, host is unreachable" % nodes)
        candidates = [str(host) for host in nexthops.difference(self._unreachable_hosts)]
        if not candidates:
            raise RouteResolvingError("No route available to %s" % nodes)
        fanin = self.nodes_fanin
        for host in candidates:
            fanin.setdefault(host, 0)
        candidates.sort(key=fanin.__getitem__)
        if len(candidates) == 1:
            fanin[candidates[0]] += len(nodes)
            return [(NodeSet(candidates[0]), nodes)]
        pairs = []
        for host, part in zip(candidates, nodes.split(len(candidates))):
            fanin[host] += len(part)
            pairs.append((NodeSet(host), part))
        return pairs

    def next_hop(self, dst: str) -> str:
        """The next hop towards node `dst`: the least loaded reachable
        gateway of its route, or `dst` itself when directly connected."""
        if dst in self._unreachable_hosts:
            raise RouteResolvingError("Invalid destination: %s, host is unreachable" % dst)
        if self.root == dst:
            raise RouteResolvingError("Invalid resolution request: %s -> %s" % (self.root, dst))
        for network, nexthops in self.table:
            if dst in network:
                best = self._best_next_hop(nexthops)
                if best is None:
                    raise RouteResolvingError("No route available to %s" % str(dst))
                self.nodes_fanin[best] += len(NodeSet(dst))
                return best
            if dst in nexthops:
                return dst
        raise RouteResolvingError("No route from %s to host %s" % (self.root, dst))

    def mark_unreachable(self, dst: str) -> None:
        """Route nothing through `dst` any more."""
        self._unreachable_hosts.add(dst)

    def _best_next_hop(self, candidates):
        best, best_count = None, None
        for host in candidates.difference(self._unreachable_hosts):
            count = self.nodes_fanin.setdefault(host, 0)
            if best_count is None or count < best_count:
                best, best_count = host, count
        return best


class PropagationChannel(Channel):
    """Head side of the channel to `gateway` (see the module
    documentation).  ``workers`` maps the srcid of each tree worker using
    the channel to the worker."""

    def __init__(self, task, gateway):
        Channel.__init__(self, initiator=True)
        self.task = task
        self.gateway = gateway
        self.workers = {}
        self._cfg_write_hist = deque()      # (msgid, nodes, size, worker) of writes
        self._sendq = deque()
        self._rc = None
        self._setup_timer = None
        self.logger = logging.getLogger(__name__)

    # sending

    def _send_ctl(self, ctl, pickup_worker=None, pickup_nodes=None):
        self.send(ctl)
        if pickup_worker is not None and pickup_nodes is not None:
            for node in pickup_nodes:
                pickup_worker._emit_pickup(node)

    def send_queued(self, ctl, pickup_worker=None, pickup_nodes=None) -> None:
        """Send `ctl` now if the channel is set up and nothing waits, else
        queue it."""
        if self.setup and not self._sendq:
            self._send_ctl(ctl, pickup_worker, pickup_nodes)
        else:
            self._sendq.appendleft((ctl, pickup_worker, pickup_nodes))

    def send_dequeue(self) -> None:
        """Send the oldest queued message, if any."""
        if self._sendq:
            self._send_ctl(*self._sendq.pop())

    def start(self):
        """The gateway command runs: open the channel, send the topology."""
        self._init()
        self._open()
        cfg = ConfigurationMessage(self.gateway)
        cfg.data_encode(self.task.topology)
        self.send(cfg)
        timeout = self.task.info("connect_timeout", 0) or 0
        if timeout > 0:
            self._setup_timer = self.task.timer(timeout, _SetupTimeout(self), autoclose=True)

    def shell(self, nodes, command: str, worker, timeout: Optional[float], stderr: bool,
              gw_invoke_cmd: str, remote: bool) -> None:
        """Run `command` on `nodes` behind the gateway for tree worker
        `worker`."""
        self.workers[id(worker)] = worker
        ctl = ControlMessage(id(worker))
        ctl.action = "shell"
        ctl.target = str(nodes)
        blacklist = DEFAULTS._task_info_pkeys_bl
        info = {key: value for key, value in self.task._info.items() if key not in blacklist}
        ctl.data_encode({"cmd": command, "invoke_gateway": gw_invoke_cmd, "taskinfo": info,
                         "stderr": stderr, "timeout": timeout, "remote": remote})
        self.send_queued(ctl, pickup_worker=worker, pickup_nodes=nodes)

    def write(self, nodes, buf: bytes, worker) -> None:
        """Write `buf` to the stdin of `nodes` (of `worker`)."""
        ctl = ControlMessage(id(worker))
        ctl.action = "write"
        ctl.target = str(NodeSet.fromlist(nodes))
        ctl.data_encode({"buf": buf})
        self._cfg_write_hist.appendleft((ctl.msgid, nodes, len(buf), worker))
        self.send_queued(ctl)

    def set_write_eof(self, nodes, worker) -> None:
        """Close the stdin of `nodes` (of `worker`)."""
        ctl = ControlMessage(id(worker))
        ctl.action = "eof"
        ctl.target = str(NodeSet.fromlist(nodes))
        self.send_queued(ctl)

    # receiving

    def _report_stderr(self, nodeset, buf):
        """`buf` as stderr lines of `nodeset`, for every worker of the
        channel."""
        for metaworker in list(self.workers.values()):
            for node in nodeset:
                metaworker._on_gateway_chunk(node, "stderr", buf)

    def recv(self, msg):
        mtype = msg.type
        if mtype == EndMessage.ident:
            self._close()
        elif mtype == StdErrMessage.ident and msg.srcid == 0:
            self._report_stderr(NodeSet(msg.nodes), msg.data_decode())
        elif self.setup:
            self.recv_ctl(msg)
        elif self.opened:
            self.recv_cfg(msg)
        elif mtype == StartMessage.ident:
            self.opened = True
            version = self._xml_reader.version
            self.logger.debug("channel started (version %s on remote gateway)", version)
            error = version_mismatch(PROTOCOL_VERSION, version, self.gateway)
            if error is not None:
                # unusable like an unreachable gateway: its nodes go to
                # another gateway of the group, if any
                self.logger.error("%s", error)
                self._report_stderr(NodeSet(self.gateway), error.encode(ENCODING))
                self._rc = os.EX_PROTOCOL
                self._close(abort=True)
        else:
            self.logger.error("unexpected message: %s", msg)

    def recv_cfg(self, msg):
        """Messages before the configuration is acknowledged."""
        if msg.type == "ACK":
            self.setup = True
            self._cancel_setup_timer()
            self.send_dequeue()
        elif msg.type == ErrorMessage.ident:
            self._report_stderr(NodeSet(self.gateway), msg.reason.encode(ENCODING))
        else:
            self.logger.debug("recv_cfg: unexpected %s", msg)

    def recv_ctl(self, msg):
        """Messages once set up: ACKs and results."""
        mtype = msg.type
        if mtype == "ACK":
            hist = self._cfg_write_hist
            if hist and msg.ack == hist[-1][0]:
                _, nodes, size, metaworker = hist.pop()
                for node in nodes:
                    metaworker._on_written(node, size, "stdin")
            self.send_dequeue()
        elif isinstance(msg, RoutedMessageBase):
            metaworker = self.workers.get(msg.srcid)
            if metaworker is None:
                self.logger.debug("recv_ctl: message for unknown worker %s", msg.srcid)
                return
            gateway = self.gateway
            if mtype == StdOutMessage.ident or mtype == StdErrMessage.ident:
                sname = "stdout" if mtype == StdOutMessage.ident else "stderr"
                chunk = msg.data_decode()
                for node in NodeSet(msg.nodes):
                    metaworker._on_remote_node_chunk(node, sname, chunk, gateway)
            elif mtype == RetcodeMessage.ident:
                rc = msg.retcode
                for node in NodeSet(msg.nodes):
                    metaworker._on_remote_node_close(node, rc, gateway)
            elif mtype == TimeoutMessage.ident:
                for node in NodeSet(msg.nodes):
                    metaworker._on_remote_node_timeout(node, gateway)
            elif mtype == RoutingMessage.ident:
                metaworker._on_routing_event({"event": msg.event, "gateway": msg.gateway,
                                              "targets": msg.targets})
        elif mtype == ErrorMessage.ident:
            # the gateway gave up on the channel: its reason goes under its
            # name, and its nodes end when the channel closes
            self.logger.error("%s", TopologyError("%s: %s" % (self.gateway, msg.reason)))
            self._report_stderr(NodeSet(self.gateway), msg.reason.encode(ENCODING))
            self._close()
        else:
            self.logger.debug("recv_ctl: unhandled %s", msg)

    # the gateway command

    def _cancel_setup_timer(self):
        timer, self._setup_timer = self._setup_timer, None
        if timer is not None:
            timer.invalidate()

    def _setup_timed_out(self):
        self._setup_timer = None
        if self.setup or self.worker is None:
            return
        self._report_stderr(NodeSet(self.gateway),
                            b"gateway %s: no answer within the connect timeout"
                            % self.gateway.encode(ENCODING))
        self._rc = os.EX_PROTOCOL
        self._close(abort=True)

    def ev_hup(self, worker, node, rc):
        if self._rc is None:
            self._rc = rc

    def ev_close(self, worker, timedout):
        self._cancel_setup_timer()
        gateway = str(worker.nodes)
        rc = self._rc
        task = self.task
        if rc is not None and rc != 0:
            self.logger.debug("error on gateway %s (rc=%s, setup=%s)", gateway, rc, self.setup)
            task.router.mark_unreachable(gateway)
            if not self.setup:
                entry = task.gateways.get(gateway)
                for metaworker in list(entry[1]) if entry else ():
                    metaworker._relaunch(gateway)
        task._pchannel_close(gateway, worker)


class _SetupTimeout(object):
    """Timer handler: a channel not set up within the connect timeout."""

    def __init__(self, channel):
        self.channel = channel

    def ev_timer(self, timer):
        self.channel._setup_timed_out()


# --- the channels of a task (Task._pchannel and co.) --------------------------

def _task_pchannel(task, gateway, metaworker):
    """The PropagationChannel of `task` to `gateway`, made on first use: the
    gateway command runs with the task's distant worker, outside the fanout,
    its streams named after the channel's so that nothing is buffered."""
    from clusterpy.Worker.Worker import FANOUT_UNLIMITED
    name = str(gateway)
    entry = task.gateways.get(name)
    if entry is not None:
        entry[1].add(metaworker)
        return entry[0].eh
    channel = PropagationChannel(task, name)
    wrkcls = task.default("distant_worker")
    chanworker = wrkcls(name, command=metaworker.invoke_gateway, handler=channel, stderr=True,
                        timeout=None)
    chanworker._update_task_rc = False
    chanworker._fanout = FANOUT_UNLIMITED
    chanworker.SNAME_STDIN = channel.SNAME_WRITER
    chanworker.SNAME_STDOUT = channel.SNAME_READER
    chanworker.SNAME_STDERR = channel.SNAME_ERROR
    task.gateways[name] = (chanworker, {metaworker})
    task.schedule(chanworker)
    return channel


def _task_pchannel_release(task, gateway, metaworker):
    entry = task.gateways.get(str(gateway))
    if entry is None:
        LOGGER.debug("pchannel_release: no channel to %s", gateway)
        return
    chanworker, metaworkers = entry
    metaworkers.discard(metaworker)
    if not metaworkers:
        chanworker.eh._close(abort=True)
        chanworker.abort()      # also when its command did not start yet


def _task_pchannel_close(task, gateway, chanworker):
    entry = task.gateways.get(gateway)
    if entry is None or entry[0] is not chanworker:
        return
    for metaworker in list(entry[1]):
        metaworker._gateway_abort(gateway)
    if task.gateways.get(gateway) is entry:
        del task.gateways[gateway]
