"""Spawn requests streamed to C: C holds a group's fanout plus a slice of
its children; the other nodes wait in Python and go as children end."""
import time

import pytest

from clusterpy.Engine.Engine import SPAWN_SLICE
from clusterpy.Event import EventHandler
from clusterpy.NodeSet import NodeSet
from clusterpy.Task import TimeoutError as TaskTimeout
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


class Made(EventHandler):
    """At the first pickup: how many clients exist, and what clients()
    says (which makes the others)."""

    def __init__(self, task):
        self.task = task
        self.made_at_first = None
        self.listed = None
        self.closed = 0

    def ev_pickup(self, worker, node):
        if self.made_at_first is None:
            self.made_at_first = len(worker._clients)
            self.listed = sorted(str(c.key) for c in self.task._engine.clients())

    def ev_hup(self, worker, node, rc):
        self.closed += 1


def test_clients_of_held_nodes_are_made_when_their_turn_comes(task):
    count = 2 * SPAWN_SLICE + 50
    nodes = NodeSet("n[1-%d]" % count)
    task.set_info("fanout", 2)
    made = Made(task)
    worker = task.shell("true", nodes=nodes, handler=made, remote=False)
    assert len(worker._clients) == 1       # the first one, its arguments checked
    task.run()
    # C got the fanout plus a slice: no client for the nodes after those
    assert made.made_at_first <= 2 + SPAWN_SLICE
    # clients() lists every node anyway, as ClusterShell's does
    assert made.listed == sorted(nodes)
    assert made.closed == count
    assert [c.key for c in worker._clients] == list(nodes)
    assert [c.rank for c in worker._clients] == list(range(count))


def test_stdin_written_before_a_node_has_a_client_reaches_it(task):
    count = SPAWN_SLICE + 40
    task.set_info("fanout", 3)
    worker = ExecWorker(nodes="n[1-%d]" % count, handler=None, command="cat")
    worker.write(b"one\n")
    task.schedule(worker)

    class Late(EventHandler):
        sent = False

        def ev_pickup(self, worker, node):
            if not Late.sent:
                Late.sent = True
                worker.write(b"two\n")
                worker.set_write_eof()

    worker.eh = Late()
    task.run()
    buffers = dict((str(nodes), msg.message()) for msg, nodes in worker.iter_buffers())
    assert buffers == {"n[1-%d]" % count: b"one\ntwo"}
    assert dict(worker.iter_node_retcodes()) == dict.fromkeys(NodeSet("n[1-%d]" % count), 0)


def test_a_timed_out_run_closes_the_nodes_without_a_client(task):
    closes = []

    class Close(EventHandler):
        def ev_close(self, worker, timedout):
            closes.append(timedout)

    task.set_info("fanout", 1)
    worker = task.shell("sleep 10", nodes="n[1-%d]" % (3 * SPAWN_SLICE), handler=Close(),
                        remote=False)
    with pytest.raises(TaskTimeout):
        task.run(timeout=0.3)
    assert closes == [True]
    assert worker.num_timeout() == 1      # only the node that ran timed out
    assert not task._engine._clients and not task._engine._held


def test_pending_shell_workers_get_their_client_at_their_turn(task):
    task.set_info("fanout", 2)
    count = SPAWN_SLICE + 40
    seen = []

    class Probe(EventHandler):
        def ev_pickup(self, worker, node):
            # a worker far down the queue has no client yet
            seen.append(workers[-1]._client is None)

    workers = [task.shell("exit 0", key="k0", handler=Probe())]
    workers += [task.shell("exit %d" % (n % 7), key="k%d" % n) for n in range(1, count)]
    assert all(worker._client is None for worker in workers)
    task.run()
    assert seen == [True]
    assert [worker.retcode() for worker in workers] == [n % 7 for n in range(count)]
    assert task.key_retcode("k8") == 1
    # a worker not run yet makes its client when asked for it
    late = task.shell("true", key="late")
    assert late.clients[0].key == "late" and late.clients[0] is late.clients[0]
    task.run()
    assert late.retcode() == 0


class AbortAtFirst(EventHandler):
    """Aborts (the worker, or the task) at the first pickup; counts the
    events that follow."""

    def __init__(self, task=None):
        self.task = task
        self.picked = 0
        self.closes = []

    def ev_pickup(self, worker, node):
        self.picked += 1
        if self.picked == 1:
            if self.task is None:
                worker.abort()
            else:
                self.task.abort()

    def ev_close(self, worker, timedout):
        self.closes.append(timedout)


def test_an_abort_closes_the_nodes_without_a_client_without_making_them(task):
    task.set_info("fanout", 2)
    count = 3 * SPAWN_SLICE
    for make_abort in (lambda: AbortAtFirst(), lambda: AbortAtFirst(task)):
        handler = make_abort()
        worker = task.shell("sleep 10", nodes="n[1-%d]" % count, handler=handler,
                            remote=False)
        task.resume()
        assert handler.closes == [False]
        assert len(worker._clients) <= 2 + SPAWN_SLICE
        assert not task._engine._clients and not task._engine._held


def test_an_abort_makes_and_closes_the_clients_of_a_class_that_closes_its_own_way(task):
    from clusterpy.Worker.Exec import ExecClient
    closed = []

    class Counting(ExecClient):
        def _close(self, abort, timeout):
            closed.append((self.key, abort))
            ExecClient._close(self, abort, timeout)

    class CountingWorker(ExecWorker):
        SHELL_CLASS = Counting

    task.set_info("fanout", 2)
    count = 2 * SPAWN_SLICE
    handler = AbortAtFirst()
    worker = CountingWorker(nodes="n[1-%d]" % count, handler=handler, command="sleep 10")
    task.schedule(worker)
    task.resume()
    assert handler.closes == [False]
    assert sorted(key for key, _ in closed) == sorted(NodeSet("n[1-%d]" % count))
    assert all(abort for _, abort in closed)


def test_a_timed_out_run_ends_its_running_children_together(task):
    task.set_info("fanout", 8)
    worker = task.shell("sleep 10", nodes="n[1-%d]" % (SPAWN_SLICE + 50), remote=False)
    start = time.monotonic()
    with pytest.raises(TaskTimeout):
        task.run(timeout=0.5)
    assert time.monotonic() - start < 5
    # the 8 running nodes timed out (their status kept through the bulk
    # abort); the waiting ones never ran
    assert worker.num_timeout() == 8
    assert not list(worker.iter_node_retcodes())
    assert not task._engine._clients and not task._engine._held
