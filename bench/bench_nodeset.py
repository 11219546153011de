"""NodeSet and RangeSet: clusterpy against ClusterShell 1.10.1.

Runs each scenario on both libraries in this one process (ClusterShell
comes from bench/_peer.py) and prints one Markdown table: median time per
call over several rounds, and the median of the per-round ratios
(ClusterShell time / clusterpy time, so 20.0 means clusterpy is 20 times
faster; both libraries are timed in turn in each round, so that a noisy
machine affects both alike).  Peak memory is measured with tracemalloc in
a fresh subprocess per library.

    python3 bench/bench_nodeset.py [-k SUBSTRING] [--repeat N]
"""

import argparse
import os
import pickle
import random
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from bench._peer import CS_DIR, clustershell


class Lib:
    """The NodeSet and RangeSet modules of one library."""

    def __init__(self, name, nodeset, rangeset):
        self.name = name
        self.NodeSet = nodeset.NodeSet
        self.RangeSet = rangeset.RangeSet
        self.nogroup = nodeset.RESOLVER_NOGROUP


def libraries():
    import clusterpy.NodeSet
    import clusterpy.RangeSet
    libs = [Lib("clusterpy", clusterpy.NodeSet, clusterpy.RangeSet)]
    if clustershell() is not None:
        import ClusterShell.NodeSet
        import ClusterShell.RangeSet
        libs.append(Lib("ClusterShell", ClusterShell.NodeSet, ClusterShell.RangeSet))
    return libs


# -- data (built once, the same for both libraries) --------------------------

def _data():
    rnd = random.Random(42)
    data = {}
    plain = ["node%d" % i for i in range(20000)]
    rnd.shuffle(plain)
    data["plain20k"] = plain
    prefixes = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf",
                "hotel", "india", "juliet", "kilo", "lima", "mike", "november",
                "oscar", "papa", "quebec", "romeo", "sierra", "tango"]
    prefixed = ["%s%d" % (pfx, i) for pfx in prefixes for i in range(1000)]
    rnd.shuffle(prefixed)
    data["prefixed20k"] = prefixed
    # 10,000 nodes: realistic (runs of 1 to 200 nodes) and worst case
    # (random picks in node[0-99999], almost no two adjacent)
    runs = []
    start = 0
    total = 0
    while total < 10000:
        size = min(rnd.randint(1, 200), 10000 - total)
        runs.append("%d-%d" % (start, start + size - 1) if size > 1 else str(start))
        total += size
        start += size + rnd.randint(1, 50)
    data["runs10k"] = "node[%s]" % ",".join(runs)
    data["sparse10k"] = ["node%d" % i for i in rnd.sample(range(100000), 10000)]
    xnames = ["x%dc%ds%db%dn%d" % (x, c, s, b, n) for x in range(2000, 2074)
              for c in range(8) for s in range(8) for b in range(2) for n in range(4)]
    data["xnames10k"] = xnames[:10000]      # 19 full cabinets and a part
    rnd.shuffle(data["xnames10k"])
    fourd = ["r%dc%ds%dn%d" % (r, c, s, n) for r in range(10) for c in range(10)
             for s in range(10) for n in range(100)]
    rnd.shuffle(fourd)
    data["fourd100k"] = fourd
    data["singles20k"] = ",".join(str(i) for i in sorted(rnd.sample(range(200000), 20000)))
    data["ranges10k"] = ["%d-%d" % (i * 10, i * 10 + rnd.randint(0, 8)) for i in range(10000)]
    # ClusterShell's own bench suite: 1,000 random nodes in foo[1-10000]
    data["suite_a"] = ["foo%d" % int(rnd.uniform(1, 10000)) for _ in range(1, 1000)]
    data["suite_b"] = ["foo%d" % int(rnd.uniform(1, 10000)) for _ in range(1, 1000)]
    return data


def scenarios(data):
    """(name, setup(lib) -> callable) pairs."""
    items = []

    def add(name):
        def deco(setup):
            items.append((name, setup))
            return setup
        return deco

    @add("NodeSet parse node[0-99999]")
    def _(lib):
        return lambda: lib.NodeSet("node[0-99999]")

    @add("NodeSet parse + fold node[0-99999]")
    def _(lib):
        return lambda: str(lib.NodeSet("node[0-99999]"))

    def on_set(name, key, operation):
        """Scenario applying operation(node set) to a prebuilt node set."""
        def setup(lib):
            value = data[key]
            nodeset = (lib.NodeSet(value) if isinstance(value, str)
                       else lib.NodeSet.fromlist(value))
            return lambda: operation(nodeset)
        items.append((name, setup))

    for label, key in (("10k nodes in runs", "runs10k"), ("10k random nodes", "sparse10k")):
        on_set("str() of %s" % label, key, str)
        on_set("list() of %s" % label, key, list)
        on_set("ns[5000] of %s" % label, key, lambda ns: ns[5000])
        on_set("\"node54321\" in %s" % label, key, lambda ns: "node54321" in ns)
        on_set("split(32) of %s" % label, key, lambda ns: list(ns.split(32)))

    @add("ns[50000] of node[0-99999]")
    def _(lib):
        ns = lib.NodeSet("node[0-99999]")
        return lambda: ns[50000]

    @add("\"node54321\" in node[0-99999]")
    def _(lib):
        ns = lib.NodeSet("node[0-99999]")
        return lambda: "node54321" in ns

    @add("fromlist 20,000 plain names")
    def _(lib):
        return lambda: lib.NodeSet.fromlist(data["plain20k"])

    @add("fromlist 20,000 prefixed names (20 prefixes)")
    def _(lib):
        return lambda: lib.NodeSet.fromlist(data["prefixed20k"])

    @add("parse r[0-19]c[0-39]n[0-9]")
    def _(lib):
        return lambda: lib.NodeSet("r[0-19]c[0-39]n[0-9]")

    @add("parse + fold r[0-19]c[0-39]n[0-9]")
    def _(lib):
        return lambda: str(lib.NodeSet("r[0-19]c[0-39]n[0-9]"))

    @add("union node[0-99999] | node[50000-149999]")
    def _(lib):
        one, two = lib.NodeSet("node[0-99999]"), lib.NodeSet("node[50000-149999]")
        return lambda: str(one.union(two))

    @add("difference node[0-99999] - node[50000-149999]")
    def _(lib):
        one, two = lib.NodeSet("node[0-99999]"), lib.NodeSet("node[50000-149999]")
        return lambda: str(one.difference(two))

    @add("union of overlapping 3D sets (8,000 nodes each)")
    def _(lib):
        one = lib.NodeSet("r[0-19]c[0-39]n[0-9]")
        two = lib.NodeSet("r[10-29]c[20-59]n[0-9]")
        return lambda: str(one.union(two))

    @add("difference of overlapping 3D sets")
    def _(lib):
        one = lib.NodeSet("r[0-19]c[0-39]n[0-9]")
        two = lib.NodeSet("r[10-29]c[20-59]n[0-9]")
        return lambda: str(one.difference(two))

    @add("fold 10,000 Cray xnames given as a list")
    def _(lib):
        return lambda: str(lib.NodeSet.fromlist(data["xnames10k"]))

    @add("fold 100,000 4D names given as a list")
    def _(lib):
        return lambda: str(lib.NodeSet.fromlist(data["fourd100k"]))

    @add("RangeSet parse dense 0-99999")
    def _(lib):
        return lambda: lib.RangeSet("0-99999")

    @add("RangeSet parse stepped 0-199999/2")
    def _(lib):
        return lambda: lib.RangeSet("0-199999/2")

    @add("RangeSet parse 20,000 single values")
    def _(lib):
        return lambda: lib.RangeSet(data["singles20k"])

    @add("RangeSet fromlist 10,000 ranges")
    def _(lib):
        return lambda: lib.RangeSet.fromlist(data["ranges10k"])

    @add("RangeSet fold dense 0-99999")
    def _(lib):
        rs = lib.RangeSet("0-99999")
        return lambda: str(rs)

    @add("RangeSet fold sparse (20,000 single values)")
    def _(lib):
        rs = lib.RangeSet(data["singles20k"])
        return lambda: str(rs)

    @add("RangeSet fold padded 00000-99999 minus 10,000")
    def _(lib):
        rs = lib.RangeSet("00000-99999")
        rs.difference_update(lib.RangeSet("00000-99999/10"))
        return lambda: str(rs)

    @add("RangeSet fold stepped 0-199999/2, autostep=3")
    def _(lib):
        rs = lib.RangeSet("0-199999/2", autostep=3)
        return lambda: str(rs)

    for opname in ("union", "intersection", "difference", "symmetric_difference"):
        def setup(lib, opname=opname):
            one = lib.RangeSet.fromlist(data["ranges10k"])
            two = lib.RangeSet("0-99999")
            two.difference_update(lib.RangeSet("0-99999/7"))
            return lambda: getattr(one, opname)(two)
        add("RangeSet %s (10,000 runs vs 85,714 of 0-99999)" % opname)(setup)

    def suite_set(lib, key):
        return lib.NodeSet.fromlist(data[key])

    @add("CS suite: parse 1,000 random nodes")
    def _(lib):
        text = ",".join(data["suite_a"])
        return lambda: lib.NodeSet(text)

    @add("CS suite: add 1,000 random nodes one by one")
    def _(lib):
        def run():
            ns = lib.NodeSet()
            for node in data["suite_a"]:
                ns.add(node)
        return run

    @add("CS suite: remove 1,000 random nodes one by one")
    def _(lib):
        def run():
            ns = suite_set(lib, "suite_a")
            for node in data["suite_b"]:
                try:
                    ns.remove(node)
                except KeyError:
                    pass
        return run

    on_set("CS suite: iterate 1,000 random nodes", "suite_a", list)
    on_set("CS suite: str() of 1,000 random nodes", "suite_a", str)
    on_set("CS suite: pickle 1,000 random nodes", "suite_a", pickle.dumps)

    @add("CS suite: 1,000 \"in\" tests")
    def _(lib):
        ns = suite_set(lib, "suite_b")
        names = data["suite_a"]
        return lambda: [name in ns for name in names]

    @add("CS suite: union of two 1,000 random node sets")
    def _(lib):
        one, two = suite_set(lib, "suite_a"), suite_set(lib, "suite_b")
        return lambda: one.union(two)

    return items


# -- measurement -------------------------------------------------------------

def _loops(func):
    """Calls per sample so that a sample lasts about 20 ms."""
    start = time.perf_counter()
    func()
    once = time.perf_counter() - start
    return (max(1, int(0.02 / once)) if once < 0.02 else 1), once


def _sample(func, loops):
    start = time.perf_counter()
    for _ in range(loops):
        func()
    return (time.perf_counter() - start) / loops


def measure(funcs, repeat):
    """Median seconds per call of each function, and the median of the
    per-round time ratios (last / first).  The functions are timed in turn
    within each round, so that both see the same machine load."""
    calibrated = [_loops(func) for func in funcs]
    if max(once for _, once in calibrated) > 1.0:
        repeat = max(3, repeat // 2)
    samples = [[] for _ in funcs]
    for _ in range(repeat):
        for func, (loops, _), times in zip(funcs, calibrated, samples):
            times.append(_sample(func, loops))
    medians = [statistics.median(times) for times in samples]
    ratio = None
    if len(funcs) == 2:
        ratio = statistics.median(peer / mine for mine, peer in zip(*samples))
    return medians, ratio


_MEMORY_CODE = """
import gc, sys, tracemalloc
sys.path.insert(0, %(path)r)
from %(pkg)s.NodeSet import NodeSet
from %(pkg)s.RangeSet import RangeSet
gc.collect()
tracemalloc.start()
obj = %(expr)s
len(obj)
print(tracemalloc.get_traced_memory()[1])
"""


def peak_memory(pkg, path, expr):
    """Peak traced bytes while building expr, in a fresh interpreter."""
    code = _MEMORY_CODE % {"path": path, "pkg": pkg, "expr": expr}
    out = subprocess.run([sys.executable, "-c", code], check=True,
                         stdout=subprocess.PIPE, text=True).stdout
    return int(out.split()[-1])


def fmt_time(seconds):
    if seconds < 1e-3:
        return "%.1f µs" % (seconds * 1e6)
    if seconds < 1:
        return "%.2f ms" % (seconds * 1e3)
    return "%.2f s" % seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-k", dest="select", default="",
                        help="only scenarios whose name holds this text")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    libs = libraries()
    data = _data()
    print("| scenario | clusterpy | ClusterShell 1.10.1 | ratio |")
    print("|---|---:|---:|---:|")
    for name, setup in scenarios(data):
        if args.select not in name:
            continue
        times, ratio = measure([setup(lib) for lib in libs], args.repeat)
        if ratio is not None:
            print("| %s | %s | %s | %.1f |" % (name, fmt_time(times[0]),
                                               fmt_time(times[1]), ratio))
        else:
            print("| %s | %s | n/a | n/a |" % (name, fmt_time(times[0])))
        sys.stdout.flush()
    for expr in ('RangeSet("0-999999")', 'NodeSet("node[0-999999]")'):
        name = "peak memory of %s" % expr
        if args.select not in name:
            continue
        mine = peak_memory("clusterpy", ROOT, expr)
        if len(libs) == 2:
            peer = peak_memory("ClusterShell", CS_DIR, expr)
            print("| %s | %.1f kB | %.1f MB | %.0f |" % (name, mine / 1e3, peer / 1e6,
                                                         peer / float(mine)))
        else:
            print("| %s | %.1f kB | n/a | n/a |" % (name, mine / 1e3))


if __name__ == "__main__":
    main()
