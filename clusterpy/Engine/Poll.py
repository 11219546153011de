"""The "poll" engine: clusterpy's C reactor with its poll backend."""

from clusterpy.Engine.Engine import Engine, E_READ, E_WRITE
from clusterpy.Engine.EPoll import _PollOnly

__all__ = ["EnginePoll", "E_READ", "E_WRITE"]


class EnginePoll(Engine):
    """Engine on the reactor's poll(2) backend."""

    identifier = "poll"
    _backend = "poll"

    @property
    def polling(self):
        """The reactor behind this engine (made on first use)."""
        return self._ensure_reactor()

    @polling.setter
    def polling(self, poller):
        # as EngineEPoll.epolling; a select.poll()-like object takes
        # milliseconds, as ClusterShell's poll engine passes them
        if not hasattr(poller, "poll_batch"):
            poller = _PollOnly(poller, 1000.0)
        self._reactor = poller
