"""The "epoll" engine: clusterpy's C reactor with its epoll backend."""

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
        self._reactor = poller
