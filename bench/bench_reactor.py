"""Benchmark of the C reactor (clusterpy._reactor.Reactor).

Scenarios, each against a reference measured in the same run:
  1. spawn 2,000 /bin/true at fanout 64, against `xargs -P 64 -n 1 true`
     (and ClusterShell 1.10.1's task.shell, when available);
  2. 64 children each printing 200,000 lines (`seq 200000`), the lines split
     and counted in C (DISCARD mode, count from the EOF record), against
     `seq 200000 | cat >/dev/null` run 64-way in parallel; an extra row
     gives the cost of handing every line to Python, and another compares
     with ClusterShell at 10,000 lines a child (it needs minutes for 200,000);
  3. 100,000 one-shot timers plus 1,000 repeating ones: timers fired per
     second (and ClusterShell's rate with an ev_timer handler).

Prints a Markdown table of medians over RUNS runs (default 3); clusterpy and
its reference alternate run by run, so that both see the same machine load.
The ratio is clusterpy's speed over the reference's: above 1 means clusterpy
is faster.

    python bench/bench_reactor.py            # RUNS=5 for more runs
    CLUSTERPY_BENCH_CS=none python bench/bench_reactor.py   # no ClusterShell
"""
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench._peer import clustershell  # noqa: E402
from clusterpy._reactor import (  # noqa: E402
    CP_EV_EOF, CP_EV_EXIT, CP_EV_LINES, CP_EV_SPAWNERR, CP_EV_TIMER,
    CP_REC_WORDS, CP_SPAWN_OUT_DISCARD, CP_SPAWN_STDIN_NULL, CP_STDOUT, Reactor)

RUNS = int(os.environ.get("RUNS", "3"))
NSPAWN, FANOUT = 2000, 64
NSEQ, SEQ_LINES, CS_SEQ_LINES = 64, 200000, 10000
NONESHOT, NREPEAT = 100000, 1000


def timed(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def median_times(*fns):
    """Median wall times of RUNS calls of each fn, the fns alternating."""
    runs = [[timed(fn) for fn in fns] for _ in range(RUNS)]
    return [statistics.median(col) for col in zip(*runs)]


def run_children(requests, on_record=None):
    """Run requests through a Reactor until all ended; returns EOF counts."""
    counts = {}
    with Reactor() as r:
        r.set_fanout(FANOUT)
        left = len(r.spawn(requests))
        while left:
            words, arena = r.poll()
            kinds = words[::CP_REC_WORDS]
            left -= kinds.count(CP_EV_EXIT) + kinds.count(CP_EV_SPAWNERR)
            if on_record is not None:
                on_record(words, arena)
            if CP_EV_EOF | CP_STDOUT << 8 in kinds:
                for i in range(0, len(words), CP_REC_WORDS):
                    if words[i] == CP_EV_EOF | CP_STDOUT << 8:
                        counts[words[i + 1]] = words[i + 2]
    return counts


# -- 1. spawning -------------------------------------------------------------

def reactor_spawn():
    run_children([(["/bin/true"], None, None, CP_SPAWN_STDIN_NULL, 0, None)] * NSPAWN)


def xargs_spawn():
    subprocess.run("seq %d | xargs -P %d -n 1 true" % (NSPAWN, FANOUT),
                   shell=True, check=True)


def cs_spawn(cs):
    from ClusterShell.Task import task_self
    task = task_self()
    task.set_info("fanout", FANOUT)
    for _ in range(NSPAWN):
        task.shell("/bin/true")
    task.resume()
    assert task.max_retcode() == 0
    task.abort(kill=True)   # a fresh task for the next run


# -- 2. output lines ---------------------------------------------------------

SEQ = ["seq", str(SEQ_LINES)]


def reactor_seq_discard(lines=SEQ_LINES):
    counts = run_children([(["seq", str(lines)], None, None,
                            CP_SPAWN_STDIN_NULL | CP_SPAWN_OUT_DISCARD, 0, None)] * NSEQ)
    assert sorted(counts.values()) == [lines] * NSEQ, counts


def reactor_seq_python_lines():
    total = [0]

    def take(words, arena):
        for i in range(0, len(words), CP_REC_WORDS):
            if words[i] & 0xff == CP_EV_LINES:
                a = words[i + 2]
                total[0] += len(arena[a:a + words[i + 3]].split(b"\n"))
    run_children([(SEQ, None, None, CP_SPAWN_STDIN_NULL, 0, None)] * NSEQ, take)
    assert total[0] == NSEQ * SEQ_LINES, total


def shell_seq_pipeline():
    subprocess.run("for i in $(seq %d); do seq %d | cat >/dev/null & done; wait"
                   % (NSEQ, SEQ_LINES), shell=True, check=True)


def cs_seq(cs, lines=CS_SEQ_LINES):
    from ClusterShell.Event import EventHandler
    from ClusterShell.Task import task_self

    class Count(EventHandler):
        lines = 0

        def ev_read(self, worker, node, sname, msg):
            Count.lines += 1

    task = task_self()
    task.set_info("fanout", FANOUT)
    task.set_default("stdout_msgtree", False)
    handler = Count()
    for _ in range(NSEQ):
        task.shell("seq %d" % lines, handler=handler)
    task.resume()
    task.set_default("stdout_msgtree", True)
    task.abort(kill=True)
    assert Count.lines == NSEQ * lines


# -- 3. timers ---------------------------------------------------------------

def reactor_timers():
    """Fires per second: NONESHOT one-shots due at once, NREPEAT repeating
    ones (1 ms) until every one-shot fired.  Returns the rate."""
    with Reactor() as r:
        t0 = time.perf_counter()
        add = r.timer_add
        repeating = [add(0, 0.001) for _ in range(NREPEAT)]
        for _ in range(NONESHOT):
            add(0)
        fired = oneshots = 0
        while oneshots < NONESHOT:
            words, _ = r.poll()
            flags = words[2::CP_REC_WORDS]      # a: 1 repeating, 0 one-shot
            fired += len(flags)
            oneshots += flags.count(0)
        elapsed = time.perf_counter() - t0
        assert words[0] == CP_EV_TIMER
        for tid in repeating:
            r.timer_cancel(tid)
    return fired / elapsed


def cs_timers(cs):
    from ClusterShell.Event import EventHandler
    from ClusterShell.Task import task_self

    class Fire(EventHandler):
        fired = oneshots = 0

        def ev_timer(self, timer):
            Fire.fired += 1
            if timer.interval <= 0:
                Fire.oneshots += 1
                if Fire.oneshots == NONESHOT:
                    for t in repeating:
                        t.invalidate()

    task = task_self()
    handler = Fire()
    t0 = time.perf_counter()
    repeating = [task.timer(0, handler, 0.001) for _ in range(NREPEAT)]
    for _ in range(NONESHOT):
        task.timer(0, handler)
    task.resume()
    rate = Fire.fired / (time.perf_counter() - t0)
    task.abort(kill=True)
    return rate


def median_rates(*fns):
    runs = [[fn() for fn in fns] for _ in range(RUNS)]
    return [statistics.median(col) for col in zip(*runs)]


# -- the table ---------------------------------------------------------------

def main():
    cs = clustershell()
    rows = []

    def row(scenario, ours, ref_name, ref, ratio):
        cells = (scenario, ours, ref_name, ref, "%.2fx" % ratio)
        rows.append("| %s |" % " | ".join(c.replace("|", "\\|") for c in cells))

    spawn = "spawn %d /bin/true, fanout %d" % (NSPAWN, FANOUT)
    t_ours, t_xargs = median_times(reactor_spawn, xargs_spawn)
    row(spawn, "%.0f/s" % (NSPAWN / t_ours), "xargs -P %d -n 1 true" % FANOUT,
        "%.0f/s" % (NSPAWN / t_xargs), t_xargs / t_ours)
    if cs is not None:
        t_ours, t_cs = median_times(reactor_spawn, lambda: cs_spawn(cs))
        row(spawn, "%.0f/s" % (NSPAWN / t_ours), "ClusterShell task.shell",
            "%.0f/s" % (NSPAWN / t_cs), t_cs / t_ours)

    t_disc, t_py, t_sh = median_times(reactor_seq_discard, reactor_seq_python_lines,
                                      shell_seq_pipeline)
    what = "%d x seq %d" % (NSEQ, SEQ_LINES)
    pipeline = "seq | cat >/dev/null, %d-way" % NSEQ
    row(what + ", lines counted in C", "%.2f s" % t_disc, pipeline, "%.2f s" % t_sh,
        t_sh / t_disc)
    row(what + ", lines split in Python", "%.2f s" % t_py, pipeline, "%.2f s" % t_sh,
        t_sh / t_py)
    if cs is not None:
        t_small, t_cs = median_times(lambda: reactor_seq_discard(CS_SEQ_LINES),
                                     lambda: cs_seq(cs))
        row("%d x seq %d, lines counted" % (NSEQ, CS_SEQ_LINES), "%.2f s" % t_small,
            "ClusterShell, ev_read per line", "%.2f s" % t_cs, t_cs / t_small)

    label = "%d one-shot + %d repeating timers" % (NONESHOT, NREPEAT)
    if cs is not None:
        r_ours, r_cs = median_rates(reactor_timers, lambda: cs_timers(cs))
        row(label, "%.0f fired/s" % r_ours, "ClusterShell, ev_timer",
            "%.0f fired/s" % r_cs, r_ours / r_cs)
    else:
        (r_ours,) = median_rates(reactor_timers)
        rows.append("| %s | %.0f fired/s | - | - | - |" % (label, r_ours))

    print("Reactor benchmark (medians of %d runs, %d CPUs)\n" % (RUNS, os.cpu_count()))
    print("| scenario | clusterpy | reference | reference value | ratio |")
    print("|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
