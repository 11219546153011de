"""Engine selection by name, as ClusterShell users and test suites do it.

``PreferredEngine(hint, info)`` returns an engine for ``hint``: "auto" (or
empty) picks the best available (epoll), "epoll", "poll" and "select" pick
that one.  All are clusterpy's C reactor; "select" is served by its poll
backend, which has no fd limit.
"""

import logging

from clusterpy.Engine.Engine import EngineNotSupportedError
from clusterpy.Engine.EPoll import EngineEPoll
from clusterpy.Engine.Poll import EnginePoll
from clusterpy.Engine.Select import EngineSelect


class PreferredEngine(object):
    """Factory: ``PreferredEngine(hint, info)`` returns an Engine."""

    engines = {EngineEPoll.identifier: EngineEPoll,
               EnginePoll.identifier: EnginePoll,
               EngineSelect.identifier: EngineSelect}

    def __new__(cls, hint, info):
        if not hint or hint == "auto":
            for engine_class in (EngineEPoll, EnginePoll, EngineSelect):
                try:
                    return engine_class(info)
                except EngineNotSupportedError:
                    pass
            raise RuntimeError("FATAL: No supported clusterpy.Engine found")
        candidates = dict(cls.engines)
        try:
            engine_class = candidates.pop(hint)
        except KeyError:
            msg = "Invalid engine identifier: %s" % hint
            logging.getLogger(__name__).error(msg)
            raise
        while True:
            try:
                return engine_class(info)
            except EngineNotSupportedError:
                if not candidates:
                    raise
                engine_class = candidates.popitem()[1]
