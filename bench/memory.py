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


@G.child("{nodes:,} pending workers: one worker of {nodes:,} nodes at fanout 1, "
         "measured as its run starts", key="pending-workers", metrics=METRICS,
         args=dict(nodes=100000), quick=dict(nodes=10000))
def pending_workers(lib, nodes):
    task = exec_task(lib, fanout=1)
    figures = {}

    class Measure(lib.Event.EventHandler):
        def ev_timer(self, timer):
            figures.update(_figures(before))
            task.abort(kill=True)

    before = _start()
    task.shell("sleep 10", nodes=nodes_range(1, nodes))
    task.timer(0.0, Measure())
    task.resume()
    return figures
