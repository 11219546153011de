"""Gateway: the tree mode agent a head starts on a gateway node.

``python -m clusterpy.Gateway`` reads a channel (docs/tree-protocol.md) on
stdin and writes its answers on stdout.  After the configuration message
(the topology), each ``shell`` control message becomes a TreeWorker of the
gateway's own Task, rooted at this gateway: its nodes run with the
gateway's distant worker and fanout, or through further gateways when the
routes say so.  Results go back up as they come: with a grooming delay
(task info ``grooming_delay``, from the head) output is gathered in the
task's message trees and sent every delay as one message per distinct
output and folded node set; without it, one message per chunk of lines.

The gateway ends on ``</channel>``, on EOF of stdin (its head went away)
and on a fatal channel error; it then aborts its task, which kills what
still runs.  Logs go to ``$CLUSTERSHELL_GW_LOG_DIR/<host>.gw.log``
(``/tmp`` by default) at ``$CLUSTERSHELL_GW_LOG_LEVEL`` (``INFO``).
"""

import logging
import os
import sys
import traceback

from clusterpy.Communication import Channel, ConfigurationMessage, ControlMessage
from clusterpy.Communication import ACKMessage, ErrorMessage, StartMessage, EndMessage
from clusterpy.Communication import StdOutMessage, StdErrMessage, RetcodeMessage
from clusterpy.Communication import TimeoutMessage, RoutingMessage, MessageProcessingError
from clusterpy.Communication import PROTOCOL_VERSION, version_mismatch
from clusterpy.Engine.Engine import EngineAbortException
from clusterpy.Event import EventHandler
from clusterpy.NodeSet import NodeSet
from clusterpy.Task import task_self, _getshorthostname
from clusterpy.Worker.Tree import TreeWorker
from clusterpy.Worker.Worker import StreamWorker, FANOUT_UNLIMITED

# named so also when run as __main__ (python -m clusterpy.Gateway)
LOGGER = logging.getLogger("clusterpy.Gateway")


def _gw_print_debug(task, line):
    """The gateway task's debug output: its log."""
    LOGGER.debug(line)


def gateway_excepthook(exc_type, exc_value, tb):
    """Log an uncaught exception instead of writing it on stderr."""
    LOGGER.error("".join(traceback.format_exception(exc_type, exc_value, tb)))


class TreeWorkerResponder(EventHandler):
    """Handler of a gateway TreeWorker: sends its results up the channel
    `gwchan`, tagged with the head worker's id `srcwkr`."""

    def __init__(self, task, gwchan, srcwkr):
        EventHandler.__init__(self)
        self.gwchan = gwchan
        self.srcwkr = srcwkr
        self.worker = None
        self.retcodes = {}          # rc -> nodes, between two grooming passes
        self.timer = None
        delay = task.info("grooming_delay") or 0
        if delay > 1.0e-3:
            task.set_default("stdout_msgtree", True)
            task.set_default("stderr_msgtree", True)
            self.timer = task.timer(delay, self, delay, autoclose=True)

    def _ev_chunk(self, worker, node, sname, chunk):
        """Lines of `node` (joined by b'\\n'): sent up at once without
        grooming, else kept in the task's message tree until the next pass."""
        if self.timer is None:
            msg_class = StdErrMessage if sname == worker.SNAME_STDERR else StdOutMessage
            self.gwchan.send(msg_class(node, chunk, self.srcwkr))
            return
        tree = worker.task._msg_sink(sname)
        if tree is not None:
            tree._add_chunk((worker, node), chunk)

    def ev_read(self, worker, node, sname, msg):
        self._ev_chunk(worker, node, sname, msg)

    def ev_start(self, worker):
        self.worker = worker

    def ev_timer(self, timer):
        """A grooming pass: gathered output and return codes go up."""
        worker = self.worker
        if worker is None:
            return
        send, srcid = self.gwchan.send, self.srcwkr
        task = worker.task
        if task._results.trees.get("stderr") is not None:
            for msg, nodes in worker.iter_errors():
                send(StdErrMessage(str(nodes), bytes(msg), srcid))
            worker.flush_errors()
        if task._results.trees.get("stdout") is not None:
            for msg, nodes in worker.iter_buffers():
                send(StdOutMessage(str(nodes), bytes(msg), srcid))
            worker.flush_buffers()
        retcodes, self.retcodes = self.retcodes, {}
        for rc, nodes in retcodes.items():
            send(RetcodeMessage(str(NodeSet.fromlist(nodes)), rc, srcid))

    def ev_hup(self, worker, node, rc):
        if self.timer is None:
            self.gwchan.send(RetcodeMessage(node, rc, self.srcwkr))
        else:
            self.retcodes.setdefault(rc, []).append(node)

    def ev_close(self, worker, timedout):
        self.worker = worker
        if self.timer is not None:
            self.ev_timer(None)
            self.timer.invalidate()
        if timedout:
            nodes = NodeSet.fromlist(list(worker.iter_keys_timeout()))
            self.gwchan.send(TimeoutMessage(str(nodes), self.srcwkr))

    def _ev_routing(self, worker, arg):
        self.gwchan.send(RoutingMessage(srcid=self.srcwkr, event=arg["event"],
                                        gateway=str(arg["gateway"]),
                                        targets=str(arg["targets"])))


class GatewayChannel(Channel):
    """The gateway side of a channel (see the module documentation)."""

    def __init__(self, task):
        Channel.__init__(self)
        self.task = task
        self.nodename = None
        self.topology = None
        self.propagation = None
        self.logger = LOGGER

    def start(self):
        self._init()
        self.logger.debug("ready to accept channel communication")

    # ending: what is queued (an ERR, the end tag) reaches the head before
    # the stdio worker is aborted (an abort drops pending writes)

    _queued = _written = 0
    _draining = False

    def _write_raw(self, data):
        self._queued += len(data)
        Channel._write_raw(self, data)

    def ev_written(self, worker, node, sname, size):
        self._written += size
        if self._draining and self._written >= self._queued:
            worker.abort()

    def _close(self, abort=False):
        if abort or self.worker is None or self._draining:
            Channel._close(self, abort)
            return
        if self.opened:
            self._write_raw(b"</channel>")
        self.opened = self.setup = False
        self._dead = self._draining = True
        if self._written >= self._queued:
            self.worker.abort()

    def close(self) -> None:
        """Close the channel."""
        self._close()

    def recv(self, msg):
        try:
            if msg.type == EndMessage.ident:
                self._close()
            elif self.setup:
                self.recv_ctl(msg)
            elif self.opened:
                self.recv_cfg(msg)
            elif msg.type == StartMessage.ident:
                self.opened = True
                self._open()
                self.logger.debug("channel started (version %s on remote end)",
                                  self._xml_reader.version)
            else:
                raise MessageProcessingError("unexpected message: %s" % msg)
        except EngineAbortException:
            raise
        except Exception as exc:  # reported to the head
            self.logger.exception("on recv(): %s", exc)
            self.send(ErrorMessage(str(exc)))
            self._close()

    def recv_cfg(self, msg):
        """The configuration: our name and the topology."""
        if msg.type != ConfigurationMessage.ident:
            raise MessageProcessingError("unexpected message: %s" % msg)
        self.nodename = msg.gateway or _getshorthostname()
        # the head's version: in the message (clusterpy), else its start tag
        error = version_mismatch(msg.version or self._xml_reader.version, PROTOCOL_VERSION,
                                 self.nodename)
        if error is not None:
            raise MessageProcessingError(error)
        self.topology = msg.data_decode()
        self.task.topology = self.topology
        self.logger.debug("gateway %s, topology:\n%s", self.nodename, self.topology)
        self.setup = True
        self._ack(msg)

    def recv_ctl(self, msg):
        """Control messages: shell, write, eof."""
        if msg.type != ControlMessage.ident:
            self.logger.error("unexpected message: %s", msg)
            return
        if msg.action == "shell":
            self._shell(msg)
        elif msg.action == "write":
            if self.propagation is not None:
                self.propagation.write(msg.data_decode()["buf"])
        elif msg.action == "eof":
            if self.propagation is not None:
                self.propagation.set_write_eof()
        else:
            self.logger.error("unexpected CTL action: %s", msg.action)
            return
        self._ack(msg)

    def _shell(self, msg):
        data = msg.data_decode()
        task = self.task
        taskinfo = data["taskinfo"]
        task._info.update(taskinfo)
        task._info["print_debug"] = _gw_print_debug
        for key, value in taskinfo.items():
            if key.startswith("tree_default:"):
                task.set_default(key[len("tree_default:"):], value)
        if task.info("debug"):
            self.logger.setLevel(logging.DEBUG)
        self.logger.debug("shell on %s: %s (gateway command: %s)", msg.target, data["cmd"],
                          data.get("invoke_gateway"))
        responder = TreeWorkerResponder(task, self, msg.srcid)
        worker = TreeWorker(msg.target, responder, data["timeout"], command=data["cmd"],
                            topology=self.topology, newroot=self.nodename,
                            stderr=data["stderr"], remote=data["remote"])
        responder.worker = worker
        worker.upchannel = self
        self.propagation = worker
        task.schedule(worker)

    def _ack(self, msg):
        self.send(ACKMessage(msg.msgid))

    def ev_close(self, worker, timedout):
        """stdin ended or the channel closed: stop everything."""
        self.logger.debug("GatewayChannel: ev_close")
        self.task.abort()


def _setup_logging(host):
    logdir = os.path.expanduser(os.environ.get("CLUSTERSHELL_GW_LOG_DIR", "/tmp"))
    level_name = os.environ.get("CLUSTERSHELL_GW_LOG_LEVEL", "INFO")
    level = getattr(logging, level_name.upper(), logging.INFO)
    if not isinstance(level, int):
        level = logging.INFO
    try:
        logging.basicConfig(level=level, filename=os.path.join(logdir, "%s.gw.log" % host),
                            format="%(asctime)s %(name)s %(levelname)s %(message)s")
    except OSError:
        pass    # no log is not a reason to fail


def _stdio_worker(channel):
    """The stream worker carrying `channel` on our stdin and stdout; its
    own fanout is unlimited, so that it never waits for room."""
    worker = StreamWorker(handler=channel)
    worker.set_writer(channel.SNAME_WRITER, sys.stdout, retain=False)
    worker.set_reader(channel.SNAME_READER, sys.stdin)
    worker._fanout = FANOUT_UNLIMITED
    return worker


def gateway_main() -> None:
    """Run a gateway on stdin/stdout until the channel ends."""
    host = _getshorthostname()
    _setup_logging(host)
    sys.excepthook = gateway_excepthook
    if sys.stdin is None or sys.stdin.isatty():
        LOGGER.critical("Gateway failure: stdin is %s",
                        "missing" if sys.stdin is None else "a tty")
        sys.exit(1)
    LOGGER.debug("starting gateway on %s (pid %d)", host, os.getpid())
    task = task_self()
    # message trees stay off until a responder with grooming needs them
    for sname in ("stdout", "stderr"):
        task.set_default("%s_msgtree" % sname, False)
    task.schedule(_stdio_worker(GatewayChannel(task)))
    try:
        task.resume()
    except EngineAbortException:
        pass
    except Exception as exc:  # the gateway reports, then ends
        LOGGER.exception("Gateway failure: %s", exc)
    LOGGER.debug("gateway on %s done", host)


def main() -> None:
    """The ``clusterpy-gateway`` program: a gateway whatever its arguments,
    so that a ClusterShell 1.10.1 head, which starts
    ``$CLUSTERSHELL_GW_PYTHON_EXECUTABLE -m ClusterShell.Gateway -Bu``, runs
    clusterpy's gateway with ``CLUSTERSHELL_GW_PYTHON_EXECUTABLE=clusterpy-gateway``."""
    gateway_main()


if __name__ == "__main__":
    gateway_main()
