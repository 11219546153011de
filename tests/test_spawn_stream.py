"""Spawn requests streamed to C: C holds a group's fanout plus a slice of
its children; the other nodes wait in Python and go as children end."""
import time

from clusterpy.Engine.Engine import SPAWN_SLICE
from clusterpy.Event import EventHandler
from clusterpy.NodeSet import NodeSet
from clusterpy.Worker.Exec import ExecWorker


class Watch(EventHandler):
    """Pickups in order, and the most children C held at a pickup."""

    def __init__(self, task):
        self.task = task
        self.picked = []
        self.at = []
        self.closed = {}
        self.held_in_c = 0
        self.running = self.most = 0

    def ev_pickup(self, worker, node):
        self.picked.append(node)
        self.at.append(time.monotonic())
        self.running += 1
        self.most = max(self.most, self.running)
        counters = self.task._engine._reactor.counters()
        self.held_in_c = max(self.held_in_c, counters["children"] + counters["pending"])

    def ev_hup(self, worker, node, rc):
        self.running -= 1
        self.closed[node] = rc


def test_c_holds_fanout_plus_a_slice_and_every_node_runs_in_order(task):
    nodes = NodeSet("n[1-%d]" % (4 + SPAWN_SLICE + 60))
    task.set_info("fanout", 4)
    watch = Watch(task)
    task.shell("true", nodes=nodes, handler=watch, remote=False)
    task.run()
    assert 0 < watch.held_in_c <= 4 + SPAWN_SLICE
    assert watch.most <= 4
    assert watch.picked == list(nodes)
    assert watch.closed == dict.fromkeys(nodes, 0)
    assert not task._engine._held


def test_abort_from_the_first_pickup_drops_the_held_nodes(task):
    class First(EventHandler):
        picked = 0

        def ev_pickup(self, worker, node):
            First.picked += 1
            worker.abort()

    task.set_info("fanout", 8)
    start = time.monotonic()
    worker = task.shell("sleep 10", nodes="n[1-3000]", handler=First(), remote=False)
    task.run()
    assert time.monotonic() - start < 8
    assert 1 <= First.picked <= 8
    assert worker.read() is None
    assert not task._engine._held


def test_a_worker_with_its_own_fanout_is_not_held_behind_another(task):
    task.set_info("fanout", 4)
    big = Watch(task)
    task.shell("sleep 0.01", nodes="b[1-%d]" % (SPAWN_SLICE + 100), handler=big,
               remote=False)
    small = Watch(task)
    worker = ExecWorker(nodes="s[1-6]", handler=small, command="sleep 0.01")
    worker._fanout = 2
    task.schedule(worker)
    task.run()
    assert small.most <= 2 and big.most <= 4
    assert len(small.closed) == 6 and len(big.closed) == SPAWN_SLICE + 100
    # the small worker's group ran beside the big one's, not after it
    assert small.at[-1] < big.at[-1]


def test_nodes_added_during_a_run_are_fed(task):
    class Add(EventHandler):
        def ev_timer(self, timer):
            task.shell("true", nodes="late[1-%d]" % (SPAWN_SLICE + 10), handler=late,
                       remote=False)

    task.set_info("fanout", 3)
    late = Watch(task)
    early = Watch(task)
    task.shell("sleep 0.2", nodes="e[1-3]", handler=early, remote=False)
    task.timer(0.05, handler=Add())
    task.run()
    assert len(early.closed) == 3
    assert late.closed == dict.fromkeys(NodeSet("late[1-%d]" % (SPAWN_SLICE + 10)), 0)
