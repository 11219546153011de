"""NodeSet and RangeSet: parsing, folding, indexing, set algebra.

Micro scenarios, run in the benchmark process: each setup builds its
inputs for one library (outside the timing) and returns the call that is
timed.  The data are built once, the same for both libraries.  The "CS
suite" rows are the scenarios of ClusterShell's own benchmark tests.
"""
import pickle
import random

from bench._suite import Group

G = Group("nodeset", "NodeSet and RangeSet")

_DATA = {}


def data():
    """The scenarios' input data (built on first use)."""
    if _DATA:
        return _DATA
    rnd = random.Random(42)
    plain = ["node%d" % i for i in range(20000)]
    rnd.shuffle(plain)
    _DATA["plain20k"] = plain
    prefixes = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf",
                "hotel", "india", "juliet", "kilo", "lima", "mike", "november",
                "oscar", "papa", "quebec", "romeo", "sierra", "tango"]
    prefixed = ["%s%d" % (pfx, i) for pfx in prefixes for i in range(1000)]
    rnd.shuffle(prefixed)
    _DATA["prefixed20k"] = prefixed
    # 10,000 nodes: realistic (runs of 1 to 200 nodes) and worst case
    # (random picks in node[0-99999], almost no two adjacent)
    runs = []
    start = total = 0
    while total < 10000:
        size = min(rnd.randint(1, 200), 10000 - total)
        runs.append("%d-%d" % (start, start + size - 1) if size > 1 else str(start))
        total += size
        start += size + rnd.randint(1, 50)
    _DATA["runs10k"] = "node[%s]" % ",".join(runs)
    _DATA["sparse10k"] = ["node%d" % i for i in rnd.sample(range(100000), 10000)]
    xnames = ["x%dc%ds%db%dn%d" % (x, c, s, b, n) for x in range(2000, 2074)
              for c in range(8) for s in range(8) for b in range(2) for n in range(4)]
    _DATA["xnames10k"] = xnames[:10000]      # 19 full cabinets and a part
    rnd.shuffle(_DATA["xnames10k"])
    fourd = ["r%dc%ds%dn%d" % (r, c, s, n) for r in range(10) for c in range(10)
             for s in range(10) for n in range(100)]
    rnd.shuffle(fourd)
    _DATA["fourd100k"] = fourd
    _DATA["singles20k"] = ",".join(str(i) for i in sorted(rnd.sample(range(200000), 20000)))
    _DATA["ranges10k"] = ["%d-%d" % (i * 10, i * 10 + rnd.randint(0, 8))
                          for i in range(10000)]
    # ClusterShell's own bench suite: 1,000 random nodes in foo[1-10000]
    _DATA["suite_a"] = ["foo%d" % int(rnd.uniform(1, 10000)) for _ in range(1, 1000)]
    _DATA["suite_b"] = ["foo%d" % int(rnd.uniform(1, 10000)) for _ in range(1, 1000)]
    return _DATA


def _nodeset(lib, key):
    """A NodeSet of `lib` made from data()[key] (a string or a list)."""
    value = data()[key]
    cls = lib.NodeSet.NodeSet
    return cls(value) if isinstance(value, str) else cls.fromlist(value)


def on_set(title, key, operation):
    """Register a scenario applying operation(node set) to a prebuilt set."""
    def setup(lib):
        ns = _nodeset(lib, key)
        return lambda: operation(ns)
    G.micro(title)(setup)


@G.micro("NodeSet parse node[0-99999]")
def _(lib):
    cls = lib.NodeSet.NodeSet
    return lambda: cls("node[0-99999]")


@G.micro("NodeSet parse + fold node[0-99999]")
def _(lib):
    cls = lib.NodeSet.NodeSet
    return lambda: str(cls("node[0-99999]"))


for _label, _key in (("10k nodes in runs", "runs10k"), ("10k random nodes", "sparse10k")):
    on_set("str() of %s" % _label, _key, str)
    on_set("list() of %s" % _label, _key, list)
    on_set("ns[5000] of %s" % _label, _key, lambda ns: ns[5000])
    on_set("\"node54321\" in %s" % _label, _key, lambda ns: "node54321" in ns)
    on_set("split(32) of %s" % _label, _key, lambda ns: list(ns.split(32)))


@G.micro("ns[50000] of node[0-99999]")
def _(lib):
    ns = lib.NodeSet.NodeSet("node[0-99999]")
    return lambda: ns[50000]


@G.micro("\"node54321\" in node[0-99999]")
def _(lib):
    ns = lib.NodeSet.NodeSet("node[0-99999]")
    return lambda: "node54321" in ns


@G.micro("fromlist 20,000 plain names")
def _(lib):
    fromlist, names = lib.NodeSet.NodeSet.fromlist, data()["plain20k"]
    return lambda: fromlist(names)


@G.micro("fromlist 20,000 prefixed names (20 prefixes)")
def _(lib):
    fromlist, names = lib.NodeSet.NodeSet.fromlist, data()["prefixed20k"]
    return lambda: fromlist(names)


@G.micro("parse r[0-19]c[0-39]n[0-9]")
def _(lib):
    cls = lib.NodeSet.NodeSet
    return lambda: cls("r[0-19]c[0-39]n[0-9]")


@G.micro("parse + fold r[0-19]c[0-39]n[0-9]")
def _(lib):
    cls = lib.NodeSet.NodeSet
    return lambda: str(cls("r[0-19]c[0-39]n[0-9]"))


def on_pair(title, method, one, two):
    """Register a scenario str(NodeSet(one).method(NodeSet(two)))."""
    def setup(lib):
        cls = lib.NodeSet.NodeSet
        left, right = cls(one), cls(two)
        operation = getattr(left, method)
        return lambda: str(operation(right))
    G.micro(title)(setup)


on_pair("union node[0-99999] | node[50000-149999]", "union",
        "node[0-99999]", "node[50000-149999]")
on_pair("difference node[0-99999] - node[50000-149999]", "difference",
        "node[0-99999]", "node[50000-149999]")
on_pair("union of overlapping 3D sets (8,000 nodes each)", "union",
        "r[0-19]c[0-39]n[0-9]", "r[10-29]c[20-59]n[0-9]")
on_pair("difference of overlapping 3D sets", "difference",
        "r[0-19]c[0-39]n[0-9]", "r[10-29]c[20-59]n[0-9]")


@G.micro("fold 10,000 Cray xnames given as a list")
def _(lib):
    fromlist, names = lib.NodeSet.NodeSet.fromlist, data()["xnames10k"]
    return lambda: str(fromlist(names))


@G.micro("fold 100,000 4D names given as a list")
def _(lib):
    fromlist, names = lib.NodeSet.NodeSet.fromlist, data()["fourd100k"]
    return lambda: str(fromlist(names))


def _rangeset(lib, text, **kwargs):
    return lib.RangeSet.RangeSet(text, **kwargs)


@G.micro("RangeSet parse dense 0-99999")
def _(lib):
    cls = lib.RangeSet.RangeSet
    return lambda: cls("0-99999")


@G.micro("RangeSet parse stepped 0-199999/2")
def _(lib):
    cls = lib.RangeSet.RangeSet
    return lambda: cls("0-199999/2")


@G.micro("RangeSet parse 20,000 single values")
def _(lib):
    cls, text = lib.RangeSet.RangeSet, data()["singles20k"]
    return lambda: cls(text)


@G.micro("RangeSet fromlist 10,000 ranges")
def _(lib):
    fromlist, ranges = lib.RangeSet.RangeSet.fromlist, data()["ranges10k"]
    return lambda: fromlist(ranges)


@G.micro("RangeSet fold dense 0-99999")
def _(lib):
    rs = _rangeset(lib, "0-99999")
    return lambda: str(rs)


@G.micro("RangeSet fold sparse (20,000 single values)")
def _(lib):
    rs = _rangeset(lib, data()["singles20k"])
    return lambda: str(rs)


@G.micro("RangeSet fold padded 00000-99999 minus 10,000")
def _(lib):
    rs = _rangeset(lib, "00000-99999")
    rs.difference_update(_rangeset(lib, "00000-99999/10"))
    return lambda: str(rs)


@G.micro("RangeSet fold stepped 0-199999/2, autostep=3")
def _(lib):
    rs = _rangeset(lib, "0-199999/2", autostep=3)
    return lambda: str(rs)


def _rangeset_op(opname):
    def setup(lib):
        one = lib.RangeSet.RangeSet.fromlist(data()["ranges10k"])
        two = _rangeset(lib, "0-99999")
        two.difference_update(_rangeset(lib, "0-99999/7"))
        return lambda: getattr(one, opname)(two)
    G.micro("RangeSet %s (10,000 runs vs 85,714 of 0-99999)" % opname)(setup)


for _opname in ("union", "intersection", "difference", "symmetric_difference"):
    _rangeset_op(_opname)


@G.micro("CS suite: parse 1,000 random nodes")
def _(lib):
    cls, text = lib.NodeSet.NodeSet, ",".join(data()["suite_a"])
    return lambda: cls(text)


@G.micro("CS suite: add 1,000 random nodes one by one")
def _(lib):
    cls, names = lib.NodeSet.NodeSet, data()["suite_a"]

    def run():
        ns = cls()
        for node in names:
            ns.add(node)
    return run


@G.micro("CS suite: remove 1,000 random nodes one by one")
def _(lib):
    names = data()["suite_b"]

    def run():
        ns = _nodeset(lib, "suite_a")
        for node in names:
            try:
                ns.remove(node)
            except KeyError:
                pass
    return run


on_set("CS suite: iterate 1,000 random nodes", "suite_a", list)
on_set("CS suite: str() of 1,000 random nodes", "suite_a", str)
on_set("CS suite: pickle 1,000 random nodes", "suite_a", pickle.dumps)


@G.micro("CS suite: 1,000 \"in\" tests")
def _(lib):
    ns, names = _nodeset(lib, "suite_b"), data()["suite_a"]
    return lambda: [name in ns for name in names]


@G.micro("CS suite: union of two 1,000 random node sets")
def _(lib):
    one, two = _nodeset(lib, "suite_a"), _nodeset(lib, "suite_b")
    return lambda: one.union(two)
