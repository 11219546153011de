"""The "select" engine name, served by the reactor's poll backend (poll(2)
does what select(2) does, without its FD_SETSIZE limit)."""

from clusterpy.Engine.Engine import Engine, E_READ, E_WRITE

__all__ = ["EngineSelect", "E_READ", "E_WRITE"]


class EngineSelect(Engine):
    """Engine selected as "select"; runs on the reactor's poll backend."""

    identifier = "select"
    _backend = "poll"
