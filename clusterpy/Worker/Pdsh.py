"""pdsh, pdcp and rpdcp (LLNL pdsh) as distant workers.

Unlike ssh and rsh, pdsh reaches all the nodes itself: WorkerPdsh runs a
single ``pdsh -b -w NODES command`` (``pdcp``/``rpdcp`` for copies) and
turns its output back into per-node events:

- ``node: text`` lines are the node's output, on the stream (stdout or
  stderr) pdsh wrote them to;
- ``pdsh@host: node: ssh exited with exit code N`` closes that node with
  return code N (pdsh only reports non-zero codes);
- every node still open when pdsh exits closes with 0, or times out if
  the worker timed out; with pdcp/rpdcp, any ``pdcp@host: node: ...``
  message closes that node with ENOENT.

Stopping pdsh (abort, worker timeout) goes through SIGINT, which pdsh -b
answers by sending SIGTERM to its ssh children and exiting: they run in
sessions of their own, out of reach of the kill of pdsh's process group.
So the worker timeout is a timer of the engine rather than the reactor's
kill, and only a pdsh still there after a short grace is killed.

Command lines come from the task info keys ``pdsh_path``, ``pdcp_path``,
``rpdcp_path``, ``fanout``, ``connect_timeout`` (given to ssh through
``PDSH_SSH_ARGS_APPEND``; pdcp gets ``-t``) and ``command_timeout``
(pdsh's ``-u``).  pdsh chooses how it connects (rsh by default,
``PDSH_RCMD_TYPE=ssh``...).  Writing to the nodes' stdin is not supported.
"""

import errno
import logging
import os
import signal
import time

from clusterpy.Engine.Engine import EPSILON
from clusterpy.Worker.EngineClient import EngineClientNotSupportedError
from clusterpy.Worker.Exec import ExecClient, CopyClient, ExecWorker
from clusterpy.Worker.Rsh import _tool_words
from clusterpy.Worker.Worker import WorkerError

__all__ = ["PdshClient", "PdcpClient", "WorkerPdsh", "WORKER_CLASS"]

LOGGER = logging.getLogger(__name__)

# lines written by pdsh itself rather than relayed from a node
_OWN_PREFIXES = (b"pdsh@", b"pdcp@", b"rpdcp@", b"sending ")
_SEP = b": "

#: seconds pdsh gets to end its ssh children after SIGINT
_STOP_GRACE = 0.5


def _interrupt(pid, grace=_STOP_GRACE):
    """SIGINT pdsh `pid` and wait up to `grace` seconds for it to exit
    (without reaping it: the reactor does)."""
    try:
        os.kill(pid, signal.SIGINT)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        try:
            if os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT):
                return
        except ChildProcessError:
            return
        time.sleep(0.001)


def _common_opts(info, timeout_flag=None):
    """-b, then -f FANOUT (and `timeout_flag` CONNECT_TIMEOUT) when set;
    pdsh parses "-f 64" given as one word."""
    opts = ["-b"]
    fanout = info("fanout", 0)
    if fanout > 0:
        opts.append("-f %d" % fanout)
    if timeout_flag:
        connect_timeout = info("connect_timeout", 0)
        if connect_timeout > 0:
            opts.append("%s %d" % (timeout_flag, connect_timeout))
    return opts


class PdshClient(ExecClient):
    """Runs one pdsh for all the nodes of its key (a NodeSet)."""

    MODE = "pdsh"
    # pdsh's own messages must be parsed even when nobody reads the output
    _discardable = False
    # stopped by SIGINT first (see _cp_abort), never in a bulk abort
    _bulk_abort = False

    def __init__(self, node, command, worker, stderr, timeout, autoclose=False, rank=None):
        ExecClient.__init__(self, node, command, worker, stderr, timeout, autoclose, rank)
        self._init_pdsh()

    def _init_pdsh(self):
        self._closed_nodes = set()
        self._last_message = None   # pdsh's last message about no node

    def _build_cmd(self):
        info = self.worker.task.info
        argv = list(_tool_words(info("pdsh_path") or "pdsh"))
        argv += _common_opts(info)
        env = {}
        connect_timeout = info("connect_timeout", 0)
        if connect_timeout > 0:
            # better honoured by ssh itself than by pdsh's -t
            env["PDSH_SSH_ARGS_APPEND"] = "-o ConnectTimeout=%d" % connect_timeout
        command_timeout = info("command_timeout", 0)
        if command_timeout > 0:
            argv.append("-u %d" % command_timeout)
        argv += ["-w %s" % self.key, "%s" % self.command]
        return (argv, env)

    # start and stop (see the module documentation)

    def _cp_request(self):
        argv, env, cwd, flags, _timeout = ExecClient._cp_request(self)
        return (argv, env, cwd, flags, None)

    def _on_started(self):
        ExecClient._on_started(self)
        if self.fire_delay > -EPSILON:
            self._engine._arm_timeout(self)

    def _cp_abort(self, engine, flush):
        pid = getattr(self, "pid", None)
        if pid and engine._knows(self._cid):
            _interrupt(pid)
        ExecClient._cp_abort(self, engine, flush)

    # output

    def _handle_lines(self, sname, chunk):
        worker = self.worker
        task = worker.task
        if task._info.get("debug"):
            print_debug = task.info("print_debug")
            prefix = "PDSH@STDERR: " if sname == worker.SNAME_STDERR else "PDSH: "
            for line in chunk.split(b"\n"):
                print_debug(task, "%s%s" % (prefix, line))
                self._parse_line(line, sname)
            return
        # consecutive lines of one node go to the worker as one chunk
        node = None
        run = []
        for line in chunk.split(b"\n"):
            if line.startswith(_OWN_PREFIXES):
                if run:
                    worker._on_node_chunk(node, sname, b"\n".join(run))
                    node, run = None, []
                self._on_pdsh_message(line)
                continue
            name, sep, msg = line.partition(_SEP)
            if not sep:
                self._on_unparsable(line)
                continue
            name = name.decode("utf-8", "replace")
            if name != node:
                if run:
                    worker._on_node_chunk(node, sname, b"\n".join(run))
                node, run = name, []
            run.append(msg)
        if run:
            worker._on_node_chunk(node, sname, b"\n".join(run))

    def _parse_line(self, line, sname):
        """One line of pdsh output: a node's line or a pdsh message."""
        if line.startswith(_OWN_PREFIXES):
            self._on_pdsh_message(line)
            return
        name, sep, msg = line.partition(_SEP)
        if sep:
            self.worker._on_node_msgline(name.decode("utf-8", "replace"), msg, sname)
        else:
            self._on_unparsable(line)

    def _on_unparsable(self, line):
        LOGGER.warning("%s: line without a node name: %r", self.MODE, line)

    def _on_pdsh_message(self, line):
        """pdsh@host: node: ssh exited with exit code N, and the like."""
        if line.startswith(b"sending "):
            return      # sending SIGTERM to ssh node pid N
        words = line.split()
        if len(words) < 3 or not words[1].endswith(b":"):
            self._last_message = line   # about no node: "pdcp@host: can't stat F"
            return
        node = words[1][:-1].decode("utf-8", "replace")
        if self.MODE == "pdsh":
            # pdsh@host: node: ssh exited with exit code N
            if len(words) != 8 or words[3] != b"exited" or not words[7].isdigit():
                return
            rc = int(words[7])
        else:
            rc = errno.ENOENT
        self._closed_nodes.add(node)
        self.worker._on_node_close(node, rc)

    # end

    def _close(self, abort, timeout):
        prc = self._status
        self.invalidate()
        # (stopped by SIGINT, pdsh exits with 1: no error then)
        if prc is not None and prc > 0 and not abort:
            msg = "Cannot run pdsh (error %d)" % prc
            if self._last_message:
                msg += ": %s" % self._last_message.decode("utf-8", "replace")
            raise WorkerError(msg)
        if prc is not None:
            worker = self.worker
            closed = self._closed_nodes
            for node in self.key:
                if node not in closed:
                    if timeout:
                        worker._on_node_timeout(node)
                    else:
                        worker._on_node_close(node, 0)
        self.worker._check_fini()


class PdcpClient(CopyClient, PdshClient):
    """Runs one pdcp (rpdcp for a reverse copy) for all the nodes."""

    MODE = "pdcp"

    def __init__(self, node, source, dest, worker, stderr, timeout, autoclose, preserve,
                 reverse, rank=None):
        CopyClient.__init__(self, node, source, dest, worker, stderr, timeout, autoclose,
                            preserve, reverse, rank)
        self._init_pdsh()

    def _build_cmd(self):
        info = self.worker.task.info
        if self.reverse:
            path = info("rpdcp_path") or "rpdcp"
        else:
            path = info("pdcp_path") or "pdcp"
        argv = list(_tool_words(path))
        argv += _common_opts(info, "-t")
        argv.append("-w %s" % self.key)
        argv += self._copy_flags()
        argv += [self.source, self.dest]
        return (argv, None)


class WorkerPdsh(ExecWorker):
    """Runs a command with pdsh, or copies with pdcp/rpdcp, on the nodes:

    >>> worker = WorkerPdsh("node[1-9]", handler=None, timeout=30,
    ...                     command="uptime")
    >>> worker = WorkerPdsh("node[1-9]", handler=None,
    ...                     source="/etc/motd", dest="/etc/motd")
    >>> task.schedule(worker)

    Return codes 0 are not guaranteed with a timeout (pdsh only reports the
    others), and the nodes' stdin cannot be written to.
    """

    SHELL_CLASS = PdshClient
    COPY_CLASS = PdcpClient

    def _create_clients(self, **kwargs):
        self._add_client(self.nodes, **kwargs)

    def write(self, buf):
        """Not supported: raises EngineClientNotSupportedError."""
        raise EngineClientNotSupportedError("writing to stdin is not supported by pdsh worker")

    def set_write_eof(self):
        """Not supported: raises EngineClientNotSupportedError."""
        raise EngineClientNotSupportedError("writing to stdin is not supported by pdsh worker")


WORKER_CLASS = WorkerPdsh
