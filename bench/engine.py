"""Engine: spawning local commands, and writing to their stdin.

Every scenario runs in a fresh interpreter with the task set as clush sets
it (ExecWorker, stderr apart) and times task.shell() to the end of run().
Commands go through /bin/sh -c in both libraries, so the peers run
``sh -c true`` too: ``xargs -P`` is the machine's pace for the same
processes, ``pdsh -R exec`` another parallel shell doing the same job.
"""
from time import perf_counter

from bench._suite import Command, Group, Metric, Peer, exec_task, nodes_range

G = Group("engine", "spawning local commands, stdin broadcast")

#: a peer running `nodes` commands in `wall` seconds runs nodes / wall a second
RATE = (Metric("rate", "/s", "commands per second",
               of_wall=lambda wall, nodes, **_: nodes / wall),)

SPAWN_PEERS = (
    Peer("xargs -P {fanout}",
         lambda nodes, fanout, **_: Command(
             shell="seq %d | xargs -P %d -n 1 sh -c true" % (nodes, fanout))),
    Peer("pdsh -R exec -f {fanout}",
         lambda nodes, fanout, **_: Command(
             ["pdsh", "-R", "exec", "-f", str(fanout), "-w", nodes_range(1, nodes),
              "sh", "-c", "true"]),
         binary="pdsh"),
)


@G.child("spawn {nodes:,} × `true` on one worker (nodes=n[1-{nodes}]), fanout {fanout}",
         key="spawn-f256", args=dict(nodes=1000, fanout=256), quick=dict(nodes=200),
         peers=SPAWN_PEERS)
@G.child("spawn {nodes:,} × `true` on one worker (nodes=n[1-{nodes}]), fanout {fanout}",
         key="spawn-f64", args=dict(nodes=1000, fanout=64), quick=dict(nodes=200),
         peers=SPAWN_PEERS)
def spawn(lib, nodes, fanout):
    task = exec_task(lib, fanout)
    start = perf_counter()
    task.shell("true", nodes=nodes_range(1, nodes))
    task.run()
    elapsed = perf_counter() - start
    assert task.max_retcode() == 0, task.max_retcode()
    return elapsed


@G.child("spawn rate: {nodes:,} × `true` on one worker, fanout {fanout}", key="rate-10k",
         args=dict(nodes=10000, fanout=64), quick=dict(nodes=2000),
         metrics=RATE, peers=SPAWN_PEERS[:1])
@G.child("spawn rate: {nodes:,} × `true` on one worker, fanout {fanout}", key="rate-2k",
         args=dict(nodes=2000, fanout=64), quick=dict(nodes=500),
         metrics=RATE, peers=SPAWN_PEERS[:1])
def spawn_rate(lib, nodes, fanout):
    return {"rate": nodes / spawn(lib, nodes, fanout)}


@G.child("first start: one worker of {nodes:,} nodes (fanout {fanout}), resume() to the "
         "first ev_pickup", key="first-start", args=dict(nodes=100000, fanout=64),
         quick=dict(nodes=10000))
def first_start(lib, nodes, fanout):
    task = exec_task(lib, fanout)
    seen = []

    class First(lib.Event.EventHandler):
        def ev_pickup(self, worker, node=None):
            if not seen:
                seen.append(perf_counter())
                task.abort(kill=True)

    task.shell("sleep 10", nodes=nodes_range(1, nodes), handler=First())
    start = perf_counter()
    task.resume()
    assert seen
    return seen[0] - start


@G.child("spawn {nodes:,} × `/bin/true` as {nodes:,} task.shell() workers, fanout {fanout}",
         key="spawn-workers", args=dict(nodes=2000, fanout=64), quick=dict(nodes=300),
         peers=SPAWN_PEERS[:1])
def spawn_workers(lib, nodes, fanout):
    task = exec_task(lib, fanout)
    start = perf_counter()
    for _ in range(nodes):
        task.shell("/bin/true")
    task.run()
    elapsed = perf_counter() - start
    assert task.max_retcode() == 0, task.max_retcode()
    return elapsed


CHUNK = 65536


def _feed(workers, writes):
    chunk = b"x" * (CHUNK - 1) + b"\n"
    for _ in range(writes):
        for worker in workers:
            worker.write(chunk)
    for worker in workers:
        worker.set_write_eof()


@G.child("stdin: {writes} writes of 64 KiB to each of {workers} workers (`cat > /dev/null`)",
         key="stdin-workers", args=dict(workers=8, writes=64), quick=dict(writes=16))
def stdin_workers(lib, workers, writes):
    task = exec_task(lib)
    start = perf_counter()
    _feed([task.shell("cat > /dev/null") for _ in range(workers)], writes)
    task.run()
    elapsed = perf_counter() - start
    assert task.max_retcode() == 0, task.max_retcode()
    return elapsed


@G.child("stdin broadcast: {writes} writes of 64 KiB to one worker of {nodes} nodes "
         "(`cat > /dev/null`)",
         key="stdin-broadcast", args=dict(nodes=64, writes=64), quick=dict(writes=16))
def stdin_broadcast(lib, nodes, writes):
    task = exec_task(lib)
    start = perf_counter()
    _feed([task.shell("cat > /dev/null", nodes=nodes_range(1, nodes))], writes)
    task.run()
    elapsed = perf_counter() - start
    assert task.max_retcode() == 0, task.max_retcode()
    return elapsed
