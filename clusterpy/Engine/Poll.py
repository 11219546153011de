"""The "poll" engine: clusterpy's C reactor with its poll backend."""

from clusterpy.Engine.Engine import Engine, E_READ, E_WRITE

__all__ = ["EnginePoll", "E_READ", "E_WRITE"]


class EnginePoll(Engine):
    """Engine on the reactor's poll(2) backend."""

    identifier = "poll"
    _backend = "poll"
