"""Memory: peak resident set size of big node sets and of pending workers.

Each scenario runs in a fresh interpreter: it imports what it needs, resets
the kernel's peak RSS mark (/proc/self/clear_refs), builds its objects and
reads the peak back (VmHWM).  Two figures come out: the process's peak RSS
(the guarded one: interpreter and imports included, as a user sees it) and
its growth over the RSS after the imports (what the objects cost; small
values make that ratio noisy).
"""
from bench._suite import Group, Metric, exec_task, nodes_range

G = Group("memory", "peak RSS")

METRICS = (Metric("peak", "kB", "peak RSS"),
           Metric("growth", "kB", "RSS growth over the imports", guard=False))


def _each(what):
    """METRICS, and the growth divided among `what` (bytes each)."""
    return METRICS + (Metric("each", "B", "bytes per %s (growth / count)" % what,
                             guard=False),)


def _status_kb(field):
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError("no %s in /proc/self/status" % field)


def _reset_peak():
    """Start a new peak RSS mark, where the kernel allows it (Linux 4.0+)."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        pass


def _start():
    """The RSS (kB) from which growth is counted; starts a new peak mark."""
    import gc
    gc.collect()
    before = _status_kb("VmRSS")
    _reset_peak()
    return before


def _figures(before):
    peak = _status_kb("VmHWM")
    return {"peak": peak, "growth": peak - before}


@G.child("NodeSet(\"node[0-999999]\"), len()", key="nodeset-1m", metrics=METRICS,
         args=dict(module="NodeSet", text="node[0-999999]"))
@G.child("RangeSet(\"0-999999\"), len()", key="rangeset-1m", metrics=METRICS,
         args=dict(module="RangeSet", text="0-999999"))
def big_set(lib, module, text):
    cls = getattr(lib.module(module), module)
    before = _start()
    obj = cls(text)
    len(obj)
    return _figures(before)


@G.child("{nodes:,} pending nodes: one exec worker of {nodes:,} nodes at fanout 1, "
         "measured as its run starts", key="pending-workers", metrics=_each("pending node"),
         args=dict(nodes=100000), quick=dict(nodes=10000))
def pending_workers(lib, nodes):
    def schedule(task):
        task.shell("sleep 10", nodes=nodes_range(1, nodes))
    return _pending(lib, schedule, nodes)


def _pending(lib, schedule, count):
    """Figures of `count` pending things that schedule(task) makes, taken by
    a timer as the run starts (fanout 1: all but one wait), each one's share
    of the growth in "each"."""
    task = exec_task(lib, fanout=1)
    figures = {}

    class Measure(lib.Event.EventHandler):
        def ev_timer(self, timer):
            figures.update(_figures(before))
            task.abort(kill=True)

    before = _start()
    schedule(task)
    task.timer(0.0, Measure())
    task.resume()
    figures["each"] = figures["growth"] * 1024.0 / count
    return figures


@G.child("{workers:,} pending task.shell() workers at fanout 1, measured as the run "
         "starts", key="pending-shells", metrics=_each("pending worker"),
         args=dict(workers=100000), quick=dict(workers=10000))
def pending_shells(lib, workers):
    def schedule(task):
        for _ in range(workers):
            task.shell("sleep 10")
    return _pending(lib, schedule, workers)


@G.child("{timers:,} one-shot task.timer(0), created then run", key="timers",
         metrics=_each("timer"), args=dict(timers=100000), quick=dict(timers=10000))
def timers(lib, timers):
    class Fired(lib.Event.EventHandler):
        count = 0

        def ev_timer(self, timer):
            Fired.count += 1

    task = lib.Task.task_self()
    handler = Fired()
    before = _start()
    for _ in range(timers):
        task.timer(0.0, handler)
    task.run()
    assert Fired.count == timers, Fired.count
    figures = _figures(before)
    figures["each"] = figures["growth"] * 1024.0 / timers
    return figures
