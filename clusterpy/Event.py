"""Event handlers: what a Worker, an EnginePort or a timer tells its owner.

Subclass :class:`EventHandler` and override the callbacks you need; the ones
left alone cost nothing (clusterpy checks once per worker which callbacks are
overridden, so a handler without ``ev_read`` adds no Python call per line).

Callbacks are called in the task's thread, in ClusterShell 1.10's order:
``ev_start`` (worker), then per node ``ev_pickup``, ``ev_read`` for each
line, ``ev_written`` after writes, ``ev_hup`` with the return code, and at
last ``ev_close`` (worker).  Handlers written against the pre-1.8 signatures
(``ev_read(self, worker)``, ``ev_hup(self, worker)``...) are still called,
with a DeprecationWarning, the way ClusterShell 1.10 calls them.
"""


class EventHandler(object):
    """Base class of event handlers; every callback does nothing by default.

    ``ev_timeout(self, worker)`` is not defined here (as in ClusterShell
    1.9+), but is still called before ``ev_close`` when a subclass defines it
    and the worker timed out.
    """

    # Worker events

    def ev_start(self, worker):
        """The worker has started (its first command is running)."""

    def ev_pickup(self, worker, node):
        """The command of `worker` for `node` (or key) has started."""

    def ev_read(self, worker, node, sname, msg):
        """`node` printed line `msg` (bytes, without end of line) on stream
        `sname` ('stdout' or 'stderr' by default)."""

    def ev_error(self, worker):
        """[DEPRECATED] a stderr line is available in
        ``worker.current_errmsg``; use ev_read() and check `sname`."""

    def ev_written(self, worker, node, sname, size):
        """`size` bytes given to ``worker.write()`` reached `node`'s `sname`."""

    def ev_hup(self, worker, node, rc):
        """The command for `node` ended with return code `rc` (128 + signal
        number when a signal killed it; None when the worker has no notion of
        return code)."""

    def ev_close(self, worker, timedout):
        """The worker is done with all its nodes; `timedout` tells whether
        some of them timed out."""

    def _ev_routing(self, worker, arg):
        """Tree mode routing update (private); safe to ignore."""

    # EnginePort events

    def ev_port_start(self, port):
        """`port` is ready to receive messages."""

    def ev_msg(self, port, msg):
        """Message `msg` (any Python object) arrived on `port`."""

    # Timer events

    def ev_timer(self, timer):
        """`timer` fired."""
