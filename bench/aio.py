"""asyncio: the same runs through clusterpy.aio and through task.run().

Each scenario runs in a fresh interpreter, which warms both paths up with a
small run each, then times the run both ways in the order A B B A
(task.run(), then clusterpy.aio twice, then task.run() again; asyncio
imported beforehand) and reports the mean of each, so that neither path is
always the one that comes first:

- "through clusterpy.aio": clusterpy inside ``asyncio.run()`` (``await
  aio.wait(worker)``, or ``async for node, line in aio.lines(worker)``);
  ClusterShell 1.10.1, which has no asyncio integration, does its
  ``task.run()``, so that this row's ratio compares clusterpy.aio with
  ClusterShell's one way of running;
- "task.run()": both libraries' blocking run of the same scenario;
- "clusterpy.aio / task.run()": clusterpy's two times divided, in the same
  interpreter (the goal is at most 1.2).

Line by line means one Python step per line on both paths: an ``ev_read``
handler for task.run(), an ``async for`` iteration for clusterpy.aio (the
message tree off in both).
"""
from time import perf_counter

from bench._suite import Group, Metric, exec_task, nodes_range
from bench.output import ev_read

G = Group("aio", "clusterpy.aio beside task.run()")

METRICS = (Metric("time", "s", "through clusterpy.aio (ClusterShell: task.run())"),
           Metric("run", "s", "task.run()"),
           Metric("aio_over_run", "x", "clusterpy.aio / task.run() (clusterpy)", guard=False))


def _spawn_run(lib, nodes, fanout):
    task = exec_task(lib, fanout)
    start = perf_counter()
    task.shell("true", nodes=nodes_range(1, nodes))
    task.run()
    elapsed = perf_counter() - start
    assert task.max_retcode() == 0 and len(list(task.iter_retcodes())[0][1]) == nodes
    return elapsed


def _spawn_aio(lib, nodes, fanout):
    import asyncio
    aio = lib.module("aio")
    task = exec_task(lib, fanout)

    async def main():
        start = perf_counter()
        result = await aio.wait(task.shell("true", nodes=nodes_range(1, nodes)))
        elapsed = perf_counter() - start
        assert result.max_retcode == 0 and len(result.retcodes) == nodes
        return elapsed

    return asyncio.run(main())


# task.run() with an ev_read handler counting lines: the output group's row
_lines_run = ev_read


def _lines_aio(lib, nodes, command, lines):
    import asyncio
    aio = lib.module("aio")
    task = exec_task(lib)
    task.set_default("stdout_msgtree", False)

    async def main():
        start = perf_counter()
        seen = 0
        async for _node, _line in aio.lines(task.shell(command, nodes=nodes_range(1, nodes))):
            seen += 1
        elapsed = perf_counter() - start
        assert seen == nodes * lines, seen
        return elapsed

    return asyncio.run(main())


def _both(lib, run, through_aio, args, warmup):
    """A B B A: task.run(), the aio path twice, task.run(); the means.  A
    small run of each path first, so that first-time costs (lazy imports,
    the heap growing) fall on neither."""
    import asyncio  # noqa: F401 - its import time is not the scenario's
    if lib.name != "clusterpy":     # no asyncio integration: task.run() only
        run(lib, **warmup)
        times = [run(lib, **args) for _ in range(2)]
        return {"time": times[0], "run": times[1]}
    run(lib, **warmup)
    through_aio(lib, **warmup)
    first = run(lib, **args)
    aio_times = [through_aio(lib, **args) for _ in range(2)]
    last = run(lib, **args)
    aio_time = sum(aio_times) / 2
    run_time = (first + last) / 2
    return {"time": aio_time, "run": run_time, "aio_over_run": aio_time / run_time}


@G.child("spawn {nodes:,} × `true` at fanout {fanout}", key="spawn-f64", metrics=METRICS,
         args=dict(nodes=1000, fanout=64), quick=dict(nodes=200))
def spawn(lib, nodes, fanout):
    return _both(lib, _spawn_run, _spawn_aio, dict(nodes=nodes, fanout=fanout),
                 dict(nodes=8, fanout=fanout))


@G.child("{nodes} nodes × `{command}` read line by line", key="lines-64", metrics=METRICS,
         args=dict(nodes=64, command="seq 10000", lines=10000),
         quick=dict(command="seq 1000", lines=1000))
def lines(lib, nodes, command, lines):
    return _both(lib, _lines_run, _lines_aio, dict(nodes=nodes, command=command, lines=lines),
                 dict(nodes=2, command="seq 100", lines=100))
