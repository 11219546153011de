"""An EventHandler that records what it gets, for tests of event order."""

from clusterpy.Event import EventHandler


class Recorder(EventHandler):
    """Keeps every event it gets, in order, in ``events``: ("start",),
    ("pickup", node), ("read", node, sname, msg), ("written", node, sname,
    size), ("hup", node, rc), ("timeout",), ("close", timedout)."""

    def __init__(self):
        EventHandler.__init__(self)
        self.events = []

    def ev_start(self, worker):
        self.events.append(("start",))

    def ev_pickup(self, worker, node):
        self.events.append(("pickup", node))

    def ev_read(self, worker, node, sname, msg):
        self.events.append(("read", node, sname, msg))

    def ev_written(self, worker, node, sname, size):
        self.events.append(("written", node, sname, size))

    def ev_hup(self, worker, node, rc):
        self.events.append(("hup", node, rc))

    def ev_timeout(self, worker):
        self.events.append(("timeout",))

    def ev_close(self, worker, timedout):
        self.events.append(("close", timedout))

    def of(self, node):
        """The events about `node`, in order."""
        return [ev for ev in self.events if len(ev) > 1 and ev[1] == node]

    def kinds(self):
        """The kinds of the events, in order."""
        return [ev[0] for ev in self.events]
