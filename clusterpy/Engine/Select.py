"""The "select" engine name, served by the reactor's poll backend (poll(2)
does what select(2) does, without its FD_SETSIZE limit).

The module keeps the name ``select`` (the standard module) that ClusterShell
1.10.1's select engine waits through.  Code that replaces it to simulate
engine errors (``clusterpy.Engine.Select.select = Fake``, ``Fake.select``
raising ``select.error``) still sees the loop fail: while the name is not
the standard module, each loop pass first calls ``select.select([], [], [],
0)`` on the replacement, and what it raises comes out of ``runloop()`` as it
would from ClusterShell's wait (EINTR starts the pass again; EINVAL, EBADF
and ENOMEM are logged with "Increase RLIMIT_NOFILE?" first).  The reactor
still does the waiting: see docs/compat.md.
"""

import errno
import logging
import select

from clusterpy import _reactor as _r
from clusterpy.Engine.Engine import Engine, E_READ, E_WRITE

__all__ = ["EngineSelect", "E_READ", "E_WRITE"]

_SELECT_MODULE = select


class EngineSelect(Engine):
    """Engine selected as "select"; runs on the reactor's poll backend."""

    identifier = "select"
    _backend = "poll"

    def runloop(self, timeout) -> None:
        """The loop of Engine.runloop(), seen through a replaced
        ``clusterpy.Engine.Select.select`` when there is one."""
        replaced = select
        if replaced is _SELECT_MODULE:
            return Engine.runloop(self, timeout)
        reactor = self._ensure_reactor()
        self._reactor = seen = _SelectFirst(reactor, replaced)
        try:
            return Engine.runloop(self, timeout)
        finally:
            if self._reactor is seen:
                self._reactor = reactor


class _SelectFirst(object):
    """A reactor whose every wait first asks a replaced select module."""

    def __init__(self, reactor, module):
        self._inner = reactor
        self._module = module

    def poll_batch(self, timeout=None):
        try:
            self._module.select([], [], [], 0)
        except OSError as exc:
            code = exc.args[0] if exc.args else None
            if code == errno.EINTR:
                return _r.EMPTY_BATCH
            if code in (errno.EINVAL, errno.EBADF, errno.ENOMEM):
                logging.getLogger(__name__).error("Increase RLIMIT_NOFILE?")
            raise
        return self._inner.poll_batch(timeout)

    def __getattr__(self, name):
        return getattr(self._inner, name)
