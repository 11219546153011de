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
"""

from clusterpy.Worker.Exec import ExecClient, CopyClient, ExecWorker
from clusterpy.Worker.Rsh import _tool_words, _option_words, _copy_operands

__all__ = ["SshClient", "ScpClient", "WorkerSsh", "WORKER_CLASS"]


def _connect_timeout_opt(info):
    """[-oConnectTimeout=N] when the task sets a connect timeout."""
    connect_timeout = info("connect_timeout", 0)
    if connect_timeout > 0:
        return ["-oConnectTimeout=%d" % connect_timeout]
    return []


class SshClient(ExecClient):
    """Runs a command on one node with ssh."""

    def _build_cmd(self):
        info = self.worker.task.info
        argv = list(_tool_words(info("ssh_path") or "ssh"))
        argv += _option_words(info("ssh_options"), True)
        argv += ["-oForwardAgent=no", "-oForwardX11=no"]
        user = info("ssh_user")
        if user:
            argv += ["-l", user]
        argv += _connect_timeout_opt(info)
        argv += ["-oBatchMode=yes", "%s" % self.key, "%s" % self.command]
        return (argv, None)


class ScpClient(CopyClient):
    """Copies a file or directory to (or, reversed, from) one node with
    scp."""

    def _build_cmd(self):
        info = self.worker.task.info
        argv = list(_tool_words(info("scp_path") or "scp"))
        argv += _option_words(info("scp_options") or info("ssh_options"), True)
        argv += self._copy_flags()
        argv += _connect_timeout_opt(info)
        argv += _copy_operands(self, info("scp_user") or info("ssh_user"), brackets=True)
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


WORKER_CLASS = WorkerSsh
