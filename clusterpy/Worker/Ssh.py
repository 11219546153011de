"""ssh and scp as distant workers (OpenSSH).

WorkerSsh runs one ``ssh`` per node (``scp`` for copies) through the
ExecWorker machinery: fanout, per-node events and results, stdin broadcast
and timeouts come from there; this module only builds the command lines,
from the task info keys ``ssh_path``, ``ssh_user``, ``ssh_options``,
``scp_path``, ``scp_user``, ``scp_options`` and ``connect_timeout``.

ssh keeps the first value it gets for an option, so the user's options come
first and override the ones added here (agent and X11 forwarding off,
batch mode on: never ask for a password).  ``-oBatchMode=no`` in
``ssh_options`` re-enables prompts, e.g. for sshpass.  scp uses
``scp_options`` if set, else ``ssh_options``; ``scp_user``, else
``ssh_user``.  A reverse copy stores each node's file in the local
destination directory as ``basename.node``.

Connection reuse (off by default): with the task info key ``ssh_reuse``
set to a persist time (seconds, or ``yes``), clients share one OpenSSH
ControlMaster connection per node, kept in a private directory
(``ssh_reuse_dir``), at most ``ssh_reuse_max`` of them; see
clusterpy/_sshmux.py.  ``close_connections()`` ends them.
"""

from typing import Any, Optional

from clusterpy import _sshmux
from clusterpy.Worker.Exec import ExecClient, CopyClient, ExecWorker
from clusterpy.Worker.Rsh import _tool_words, _option_words, _copy_operands
from clusterpy.Worker.Worker import WorkerError

__all__ = ["SshClient", "ScpClient", "WorkerSsh", "WORKER_CLASS", "close_connections"]


def _connect_timeout_opt(info):
    """[-oConnectTimeout=N] when the task sets a connect timeout."""
    connect_timeout = info("connect_timeout", 0)
    if connect_timeout > 0:
        return ["-oConnectTimeout=%d" % connect_timeout]
    return []


def _plan(worker):
    """The worker's connection reuse plan, or None (errors as WorkerError)."""
    try:
        return _sshmux.plan_for(worker)
    except (_sshmux.ReuseError, OSError) as exc:
        raise WorkerError(str(exc)) from exc


class _MuxClient(object):
    """Mixin of the ssh and scp clients: the reuse options of a node."""

    _mux_path = None        # socket this client may create, to release
    _mux_socket = None      # socket of the node's master, when it was up
    # its _close releases a socket that only a started client has
    _quiet_unstarted = True

    def _mux_opts(self, argv, user, options):
        """ssh -o words reusing this node's master (none when reuse is off)."""
        plan = _plan(self.worker)
        if plan is None:
            return []
        if self._mux_path is not None:     # built again (debug, retries)
            plan.release(self._mux_path)
        words, self._mux_path, self._mux_socket = plan.options("%s" % self.key, user,
                                                               options, argv)
        return words

    def _close(self, abort, timeout):
        path, self._mux_path = self._mux_path, None
        _sshmux.Plan.release(path)
        super()._close(abort, timeout)


class SshClient(_MuxClient, ExecClient):
    """Runs a command on one node with ssh."""

    def _build_cmd(self):
        info = self.worker.task.info
        argv = list(_tool_words(info("ssh_path") or "ssh"))
        options = _option_words(info("ssh_options"), True)
        argv += options
        argv += ["-oForwardAgent=no", "-oForwardX11=no"]
        user = info("ssh_user")
        if user:
            argv += ["-l", user]
        argv += _connect_timeout_opt(info)
        words = tuple(argv)
        argv += self._mux_opts(argv, user, options)
        argv += ["-oBatchMode=yes", "%s" % self.key, "%s" % self.command]
        if self._mux_socket is not None:
            # the node's master is up: the mux client, ssh if it fails
            flags = _sshmux.plain_session(words, "%s" % self.key)
            if flags is not None:
                argv[:0] = [_sshmux.MUX_CLIENT, self._mux_socket, flags, "%s" % self.command]
        return (argv, None)


class ScpClient(_MuxClient, CopyClient):
    """Copies a file or directory to (or, reversed, from) one node with
    scp."""

    def _build_cmd(self):
        info = self.worker.task.info
        argv = list(_tool_words(info("scp_path") or "scp"))
        options = _option_words(info("scp_options") or info("ssh_options"), True)
        argv += options
        argv += self._copy_flags()
        argv += _connect_timeout_opt(info)
        user = info("scp_user") or info("ssh_user")
        argv += self._mux_opts(argv, user, options)
        argv += _copy_operands(self, user, brackets=True)
        return (argv, None)


class WorkerSsh(ExecWorker):
    """Runs a command with ssh, or copies with scp, on each node:

    >>> worker = WorkerSsh("node[1-9]", handler=None, timeout=30,
    ...                    command="uptime")
    >>> worker = WorkerSsh("node[1-9]", handler=None,
    ...                    source="/etc/motd", dest="/etc/motd")
    >>> task.schedule(worker)
    """

    SHELL_CLASS = SshClient
    COPY_CLASS = ScpClient


def _connection_keys(info):
    """(user, option words) of the ssh and the scp connections."""
    ssh = (info("ssh_user"), _option_words(info("ssh_options"), True))
    scp = (info("scp_user") or ssh[0],
           _option_words(info("scp_options") or info("ssh_options"), True))
    return {ssh, scp}


def close_connections(nodes: Optional[Any] = None, task: Optional[Any] = None) -> int:
    """End the reused ssh connections (ControlMaster processes) of
    `task`'s ``ssh_reuse_dir`` and remove their sockets: all of them, or
    only those of `nodes` (a NodeSet or node set text) for the task's
    current ssh settings.  Returns how many masters were ended.  Does not
    need ``ssh_reuse`` to be on; `task` defaults to task_self()."""
    import os
    from clusterpy.NodeSet import NodeSet
    from clusterpy.Task import task_self
    info = (task or task_self()).info
    directory = info("ssh_reuse_dir") or None
    paths = None
    try:
        if nodes is not None:
            base = os.path.abspath(os.path.expanduser(directory or _sshmux.default_dir()))
            keys = _connection_keys(info)
            paths = [os.path.join(base, _sshmux.socket_name(node, user, words))
                     for node in NodeSet(nodes) for user, words in keys]
        return _sshmux.close_connections(paths, directory)
    except _sshmux.ReuseError as exc:
        raise WorkerError(str(exc)) from exc


WORKER_CLASS = WorkerSsh
