"""The "epoll" engine: clusterpy's C reactor with its epoll backend."""

from clusterpy import _reactor as _r
from clusterpy.Engine.Engine import Engine, E_READ, E_WRITE

__all__ = ["EngineEPoll", "E_READ", "E_WRITE"]


class EngineEPoll(Engine):
    """Engine on the reactor's epoll backend (the default)."""

    identifier = "epoll"
    _backend = "epoll"

    @property
    def epolling(self):
        """The reactor behind this engine (made on first use)."""
        return self._ensure_reactor()

    @epolling.setter
    def epolling(self, poller):
        # a poller put in its place (as ClusterShell's tests do) may only
        # have poll(): the loop calls poll_batch()
        if not hasattr(poller, "poll_batch"):
            poller = _PollOnly(poller)
        self._reactor = poller


class _PollOnly(object):
    """A poller with only poll(), seen through the reactor's interface
    (`scale` converts the loop's seconds to the poller's unit)."""

    def __init__(self, poller, scale=1):
        self._poller = poller
        self._scale = scale

    def poll_batch(self, timeout=None):
        if timeout is not None and self._scale != 1:
            timeout *= self._scale
        self._poller.poll(timeout)
        # (what it found means nothing to the engine: an empty batch)
        return _r.EMPTY_BATCH

    def __getattr__(self, name):
        return getattr(self._poller, name)
