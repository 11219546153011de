"""rsh and rcp as distant workers (also krsh, mrsh and other rsh forks).

WorkerRsh runs one ``rsh`` per node (``rcp`` for copies) through the
ExecWorker machinery; only the command lines differ.  They are built from
the task info keys ``rsh_path``, ``rsh_user``, ``rsh_options``,
``rcp_path`` and ``rcp_options``; ``connect_timeout`` is not supported by
rsh and is ignored.

rsh does not return the remote command's exit status, so the remote command
is followed by ``; echo XXRETCODE: $?`` and that last line, taken out of the
node's output, gives the node's return code.

The path settings are split like a shell would (``"/usr/bin/rsh -x"``) with
``~`` expanded in their words; this module also provides that helper to the
other distant workers.
"""

import os
import shlex
from functools import lru_cache

from clusterpy.Worker.Exec import ExecClient, CopyClient, ExecWorker

__all__ = ["RshClient", "RcpClient", "WorkerRsh", "WORKER_CLASS"]

_RC_MARK = b"XXRETCODE: "
_RC_SUFFIX = "; echo XXRETCODE: $?"


@lru_cache(maxsize=64)
def _tool_words(path):
    """Words of a tool path setting, each with ~ expanded (cached: every
    client of a worker asks for the same one)."""
    return tuple(os.path.expanduser(word) for word in shlex.split(path))


@lru_cache(maxsize=64)
def _option_words(options, expand):
    """Words of an options setting (~ expanded in each if `expand`)."""
    if not options:
        return ()
    words = shlex.split(options)
    if expand:
        return tuple(os.path.expanduser(word) for word in words)
    return tuple(words)


def _remote_spec(user, node, path, brackets=False):
    """``[user@]node:path``, the node in brackets for scp (IPv6 safe)."""
    host = "[%s]" % node if brackets else "%s" % node
    if user:
        return "%s@%s:%s" % (user, host, path)
    return "%s:%s" % (host, path)


def _copy_operands(client, user, brackets=False):
    """(source, destination) operands of a copy client: a reverse copy of
    `source` from a node lands in local `dest` as ``basename.node``."""
    if client.reverse:
        local = os.path.join(client.dest,
                             "%s.%s" % (os.path.basename(client.source), client.key))
        return [_remote_spec(user, client.key, client.source, brackets), local]
    return [client.source, _remote_spec(user, client.key, client.dest, brackets)]


class RshClient(ExecClient):
    """Runs a command on one node with rsh."""

    # the return code line must be seen even when nobody reads the output
    _discardable = False
    _quiet_unstarted = True     # (its __init__ only adds rsh_rc)

    def __init__(self, node, command, worker, stderr, timeout, autoclose=False, rank=None):
        ExecClient.__init__(self, node, command, worker, stderr, timeout, autoclose, rank)
        self.rsh_rc = None

    def _build_cmd(self):
        info = self.worker.task.info
        argv = list(_tool_words(info("rsh_path") or "rsh"))
        user = info("rsh_user")
        if user:
            argv += ["-l", user]
        argv += _option_words(info("rsh_options"), False)
        argv += ["%s" % self.key, "%s" % self.command, _RC_SUFFIX]
        return (argv, None)

    def _handle_lines(self, sname, chunk):
        if _RC_MARK in chunk:
            kept = []
            for line in chunk.split(b"\n"):
                if line.startswith(_RC_MARK) and line[len(_RC_MARK):].isdigit():
                    self.rsh_rc = int(line[len(_RC_MARK):])
                else:
                    kept.append(line)
            if not kept:
                return
            chunk = b"\n".join(kept)
        ExecClient._handle_lines(self, sname, chunk)

    def _on_nodeset_close(self, nodes, rc):
        # rsh itself exits 0 (or 1) whatever the remote command returned
        if self.rsh_rc is not None and rc in (0, 1):
            rc = self.rsh_rc
        ExecClient._on_nodeset_close(self, nodes, rc)


class RcpClient(CopyClient):
    """Copies a file or directory to (or, reversed, from) one node with
    rcp."""

    def _build_cmd(self):
        info = self.worker.task.info
        argv = list(_tool_words(info("rcp_path") or "rcp"))
        argv += self._copy_flags()
        argv += _option_words(info("rcp_options") or info("rsh_options"), False)
        argv += _copy_operands(self, info("rsh_user"))
        return (argv, None)


class WorkerRsh(ExecWorker):
    """Runs a command with rsh, or copies with rcp, on each node:

    >>> worker = WorkerRsh("node[1-9]", handler=None, timeout=30,
    ...                    command="uptime")
    >>> worker = WorkerRsh("node[1-9]", handler=None,
    ...                    source="/etc/motd", dest="/etc/motd")
    >>> task.schedule(worker)
    """

    SHELL_CLASS = RshClient
    COPY_CLASS = RcpClient


WORKER_CLASS = WorkerRsh
