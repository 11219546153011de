"""NodeSet: syntax, folding, nD names, groups, API and errors."""

import pickle
import random
import tracemalloc

import pytest

from clusterpy.NodeSet import (
    AUTOSTEP_DISABLED,
    RESOLVER_NOGROUP,
    NodeSet,
    NodeSetBase,
    NodeSetError,
    NodeSetExternalError,
    NodeSetParseError,
    NodeSetParseRangeError,
    expand,
    fold,
    grouplist,
    set_std_group_resolver,
    std_group_resolver,
)
from clusterpy.NodeUtils import GroupResolver, GroupSource
from clusterpy.RangeSet import RangeSet


def nodes(pattern, **kwargs):
    kwargs.setdefault("resolver", RESOLVER_NOGROUP)
    return NodeSet(pattern, **kwargs)


# -- syntax and folding -----------------------------------------------------------

@pytest.mark.parametrize("pattern, folded, count", [
    ("node3", "node3", 1),
    ("login", "login", 1),
    ("node[1-4]", "node[1-4]", 4),
    ("node1,node2,node3,node7", "node[1-3,7]", 4),
    ("node[01-10]", "node[01-10]", 10),
    ("node[1-2]-ib", "node[1-2]-ib", 2),
    ("b1,a2,a1", "a[1-2],b1", 3),
    ("node[0-10/5]", "node[0,5,10]", 3),
    ("node[9-11]", "node[9-11]", 3),
    ("node[01-09,100]", "node[01-09,100]", 10),
    ("rack1-node[1-2]", "rack1-node[1-2]", 2),
    ("x[1-2]y[3-4]", "x[1-2]y[3-4]", 4),
    ("node1[0-2]", "node[10-12]", 3),            # digits before a bracket
    ("node[1-2]0", "node[10,20]", 2),            # digits after a bracket
    ("n%d[1-2]", "n%d[1-2]", 2),                 # '%' is an ordinary character
    (" node1 , node2 ", "node[1-2]", 2),
    ("", "", 0),
])
def test_parse_and_fold(pattern, folded, count):
    nodeset = nodes(pattern)
    assert str(nodeset) == folded
    assert len(nodeset) == count
    assert fold(pattern) == folded if pattern.strip() else True


@pytest.mark.parametrize("pattern, result", [
    ("node[1-10]!node[3-8]", "node[1-2,9-10]"),
    ("node[1-10]&node[5-20]", "node[5-10]"),
    ("node[1-4]^node[3-6]", "node[1-2,5-6]"),
    ("a[1-3],b1!a2", "a[1,3],b1"),
    ("node[1-10]!node[3-8],node5", "node[1-2,5,9-10]"),   # left to right
])
def test_string_operators(pattern, result):
    assert str(nodes(pattern)) == result


@pytest.mark.parametrize("pattern, error, message", [
    ("node[1-", NodeSetParseError, 'missing bracket: "node[1-"'),
    ("node1]", NodeSetParseError, 'illegal closing bracket: "node1]"'),
    ("node[1-2]]", NodeSetParseError, 'illegal closing bracket: "]"'),
    ("node[1-2][3-4]", NodeSetParseError, 'illegal reopening bracket: "[3-4]"'),
    ("node[b-a]", NodeSetParseRangeError,
     'bad range: "cannot convert string to integer : "b-a""'),
    ("node[5-1]", NodeSetParseRangeError, 'bad range: "invalid values in range : "5-1""'),
    ("node[1-5/0]", NodeSetParseRangeError,
     'bad range: "invalid values in range : "1-5/0""'),
    ("node[01-100]", NodeSetParseRangeError,
     'bad range: "padding length mismatch : "01-100""'),
    ("node[]", NodeSetParseRangeError, 'bad range: "empty range"'),
    ("node1,", NodeSetParseError, 'missing nodeset operand with \',\' operator: "node1"'),
    ("node1!!node2", NodeSetParseError,
     'missing nodeset operand with \'!\' operator: "node2"'),
    ("n[1-4/2]0", NodeSetParseError,
     'illegal trailing digits after range with steps: "0"'),
])
def test_parse_errors(pattern, error, message):
    with pytest.raises(error) as info:
        nodes(pattern)
    assert type(info.value) is error
    assert str(info.value) == message


def test_error_classes():
    assert issubclass(NodeSetParseRangeError, NodeSetParseError)
    assert issubclass(NodeSetParseError, NodeSetError)
    err = NodeSetParseError("x[", "oops")
    assert err.part == "x[" and str(err) == 'oops: "x["'
    with pytest.raises(TypeError):
        NodeSet(42)
    with pytest.raises(ValueError):
        NodeSetBase(None, RangeSet("1"))


def test_autostep():
    assert str(nodes("n[1-9/2]", autostep=3)) == "n[1-9/2]"
    nodeset = nodes("n[1-9/2]")
    assert str(nodeset) == "n[1,3,5,7,9]"
    nodeset.autostep = 5
    assert str(nodeset) == "n[1-9/2]"
    nodeset.autostep = AUTOSTEP_DISABLED
    assert str(nodeset) == "n[1,3,5,7,9]"


# -- iteration and positions ---------------------------------------------------------

def test_iteration_order_and_helpers():
    nodeset = nodes("b2,a10,a9,a09,c")
    assert list(nodeset) == ["a9", "a09", "a10", "b2", "c"]
    assert expand("n[1-3]") == ["n1", "n2", "n3"]
    assert [str(ns) for ns in nodes("n[1-2,5]").nsiter()] == ["n1", "n2", "n5"]
    assert [str(ns) for ns in nodes("n[1-2,5],m").contiguous()] == ["m", "n[1-2]", "n5"]


def test_positions():
    nodeset = nodes("a[1-3],b[01-03],c")
    assert nodeset[0] == "a1" and nodeset[4] == "b02" and nodeset[-1] == "c"
    with pytest.raises(IndexError):
        nodeset[7]
    assert str(nodeset[2:5]) == "a3,b[01-02]"
    assert str(nodeset[::3]) == "a1,b[01],c".replace("[01]", "01")
    assert nodeset.index("b03") == 5 and nodeset.index("c") == 6
    with pytest.raises(ValueError):
        nodeset.index("b3")
    with pytest.raises(ValueError):
        nodeset.index("a[1-2]")
    parts = [str(part) for part in nodes("n[1-10]").split(3)]
    assert parts == ["n[1-4]", "n[5-7]", "n[8-10]"]


def test_padding_kept_through_slices():
    nodeset = nodes("node[001-100]")
    assert str(nodeset[10:20]) == "node[011-020]"
    assert nodeset[99] == "node100" and nodeset[8] == "node009"
    assert [str(part) for part in nodeset[:6].split(2)] == ["node[001-003]", "node[004-006]"]


# -- set operations ------------------------------------------------------------------

def test_set_operations_accept_strings():
    nodeset = nodes("n[1-10]")
    nodeset.update("n[20-21]")
    nodeset.difference_update("n[2-9]")
    nodeset.add("m1")
    assert str(nodeset) == "m1,n[1,10,20-21]"
    nodeset.intersection_update("n[1-30]")
    nodeset.symmetric_difference_update("n[1-2]")
    assert str(nodeset) == "n[2,10,20-21]"
    assert "n10" in nodeset and "n11" not in nodeset and "n[20-21]" in nodeset
    nodeset.remove("n2")
    with pytest.raises(KeyError):
        nodeset.remove("n2")
    with pytest.raises(KeyError):
        nodeset.remove("zz[1-2]")
    assert nodeset.issubset("n[1-50]") and nodeset.issuperset("n20")


def test_binary_operators():
    one, two = nodes("n[1-6]"), nodes("n[4-9],m")
    assert str(one | two) == "m,n[1-9]"
    assert str(one & two) == "n[4-6]"
    assert str(one - two) == "n[1-3]"
    assert str(one ^ two) == "m,n[1-3,7-9]"
    assert one.__or__("n1") is NotImplemented
    with pytest.raises(TypeError):
        one |= "n1"
    same = nodes("n[1-6]")
    assert one < nodes("n[0-9]") and not one < same and one <= same
    assert one == nodes("n[6,5,4,3,2,1]") and one != two


def test_fromlist_and_fromlist1():
    names = ["n3", "n1", "n2", "n10", "m", "x1y2", "x1y3", "n%s7"]
    nodeset = NodeSet.fromlist(names, resolver=RESOLVER_NOGROUP)
    assert str(nodeset) == "m,n%s7,n[1-3,10],x1y[2-3]"
    assert str(NodeSet.fromlist(["n[1-2]", "n5", nodes("n4")])) == "n[1-2,4-5]"
    assert str(NodeSet._fromlist1(["n2", "n1"])) == "n[1-2]"
    with pytest.raises(NodeSetParseError):
        NodeSet.fromlist(["n1", "n[2-"])


# -- nD names ------------------------------------------------------------------------

def test_nd_folding():
    names = ["r%dc%dn%d" % (r, c, n) for r in (1, 2) for c in (1, 2, 3) for n in (5, 6)]
    random.Random(1).shuffle(names)
    nodeset = NodeSet.fromlist(names)
    assert str(nodeset) == "r[1-2]c[1-3]n[5-6]"
    assert len(nodeset) == 12
    nodeset.difference_update("r2c3n6")
    assert str(nodeset) == "r1c[1-3]n[5-6],r2c[1-2]n[5-6],r2c3n5"


def test_nd_fold_axis():
    nodeset = nodes("x[1-2]y[1-3]", fold_axis=[1])
    assert str(nodeset) == "x1y[1-3],x2y[1-3]"
    nodeset = nodes("x[1-2]y[1-3]", fold_axis=[0])
    assert str(nodeset) == "x[1-2]y1,x[1-2]y2,x[1-2]y3"
    assert str(nodes("n[1-3]", fold_axis=[1])) == "n1,n2,n3"
    with pytest.raises(NodeSetParseError):
        str(nodes("x[1-2]y[1-2]", fold_axis=["z"]))


def test_overlapping_nd_boxes():
    nodeset = nodes("x[1-4]y[1-4],x[3-6]y[3-6]")
    assert len(nodeset) == 28
    assert set(nodeset) == {"x%dy%d" % (x, y) for x in range(1, 7) for y in range(1, 7)
                            if (x <= 4 and y <= 4) or (x >= 3 and y >= 3)}
    assert str(nodeset) == "x[3-4]y[1-6],x[1-2]y[1-4],x[5-6]y[3-6]"
    assert str(nodeset & nodes("x[2-5]y2")) == "x[2-4]y2"


def test_cray_xnames():
    names = ["x%dc%ds%db%dn%d" % (x, c, s, b, n) for x in range(1000, 1012)
             for c in range(8) for s in range(8) for b in range(2) for n in range(4)]
    random.Random(3).shuffle(names)
    nodeset = NodeSet.fromlist(names[:-1] + names[-1:])
    assert str(nodeset) == "x[1000-1011]c[0-7]s[0-7]b[0-1]n[0-3]"
    assert len(nodeset) == len(names)
    partial = NodeSet.fromlist(sorted(names)[:600])
    assert len(partial) == 600 and set(partial) == set(sorted(names)[:600])
    assert NodeSet(str(partial)) == partial
    assert partial.index(min(partial)) in range(600)


def test_names_that_do_not_fold():
    names = ["a%xb%x" % (i * 7919, i * 104729) for i in range(1, 50)] + \
        ["host-%s" % tag for tag in ("db", "web", "cache")]
    nodeset = NodeSet.fromlist(names)
    assert len(nodeset) == len(names)
    assert set(nodeset) == set(names)
    assert NodeSet(str(nodeset)) == nodeset


# -- groups --------------------------------------------------------------------------

@pytest.fixture
def resolver():
    source = GroupSource("site", {"compute": "node[1-8]", "gpu": "node[7-8]",
                                  "login": "login[1-2]", "all": "@compute,@login"},
                         allgroups="node[1-8],login[1-2]")
    other = GroupSource("rack", {"r1": "node[1-4]", "r2": "node[5-8]"})
    res = GroupResolver(source)
    res.add_source(other)
    return res


def test_groups_resolution(resolver):
    assert str(NodeSet("@gpu", resolver=resolver)) == "node[7-8]"
    assert str(NodeSet("@compute!@gpu", resolver=resolver)) == "node[1-6]"
    assert str(NodeSet("@all", resolver=resolver)) == "login[1-2],node[1-8]"
    assert str(NodeSet("@rack:r2", resolver=resolver)) == "node[5-8]"
    assert str(NodeSet("@rack:*", resolver=resolver)) == "node[1-8]"
    assert str(NodeSet("@*", resolver=resolver)) == "login[1-2],node[1-8]"
    assert str(NodeSet("node[1-3]*", resolver=resolver)) == "node[1-3]"
    assert str(NodeSet("login?", resolver=resolver)) == "login[1-2]"
    assert str(NodeSet.fromall(resolver=resolver)) == "login[1-2],node[1-8]"
    assert str(NodeSet.fromall("rack", resolver=resolver)) == "node[1-8]"
    assert grouplist(resolver=resolver) == ["all", "compute", "gpu", "login"]
    assert str(NodeSet("@gpu", resolver=RESOLVER_NOGROUP)) == "@gpu"


def test_groups_and_regroup(resolver):
    nodeset = NodeSet("node[1-8]", resolver=resolver)
    assert nodeset.regroup() == "@compute"
    assert NodeSet("node[5-8]", resolver=resolver).regroup("rack") == "@rack:r2"
    assert NodeSet("node[5-9]", resolver=resolver).regroup("rack") == "@rack:r2,node9"
    groups = NodeSet("node[6-7]", resolver=resolver).groups()
    assert sorted(groups) == ["@all", "@compute", "@gpu"]
    assert str(groups["@gpu"][0]) == "node[7-8]" and str(groups["@gpu"][1]) == "node7"
    with pytest.raises(NodeSetExternalError):
        nodes("n1").groups()


def test_std_group_resolver(resolver):
    previous = std_group_resolver()
    set_std_group_resolver(resolver)
    try:
        assert std_group_resolver() is resolver
        assert str(NodeSet("@login")) == "login[1-2]"
    finally:
        set_std_group_resolver(None)
    assert std_group_resolver() is previous


# -- size, pickling ------------------------------------------------------------------

def test_huge_node_range_is_cheap():
    tracemalloc.start()
    try:
        nodeset = NodeSet("n[0-99999999999]")
        assert len(nodeset) == 100000000000
        assert str(nodeset) == "n[0-99999999999]"
        assert nodeset[123456789] == "n123456789"
        assert "n99999999999" in nodeset and "n100000000000" not in nodeset
        assert str(nodeset - NodeSet("n[1-99999999998]")) == "n[0,99999999999]"
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1000000


def test_hostile_input_fails_cleanly():
    with pytest.raises(NodeSetParseRangeError):
        NodeSet("n[0-99999999999/3]")
    with pytest.raises(NodeSetParseRangeError):
        NodeSet("n" + "9" * 101)


def test_pickle_roundtrip():
    nodeset = NodeSet("n[1-5],x[1-2]y[3-4],login", autostep=3)
    clone = pickle.loads(pickle.dumps(nodeset))
    assert clone == nodeset and str(clone) == str(nodeset) and clone.autostep == 3
    assert str(clone.copy()) == str(nodeset)


def test_nd_slices_with_steps():
    nodeset = NodeSet("n[9-12]-ib[00-04]p[9,10],dc[16-19]", autostep=3)
    names = list(nodeset)
    for step in (1, 2, 3):
        part = nodeset[1:-3:step]
        assert set(part) == set(names[1:-3:step])
        assert NodeSet(str(part)) == part


def test_huge_nd_sets_stay_bounded():
    tracemalloc.start()
    try:
        square = NodeSet("x[0-99999]y[0-99999]")
        union = square | NodeSet("x[0-5]y[0-999999]")
        assert len(union) == 100000 * 100000 + 6 * 900000
        assert "x3y999999" in union and "x7y999999" not in union
        hole = square - NodeSet("x[10-20]y[5-7]")
        assert len(hole) == 100000 * 100000 - 33
        assert "x15y6" not in hole and "x15y8" in hole
        assert NodeSet(str(hole)) == hole
        assert str(square & NodeSet("x[0-5]y[0-999999]")) == "x[0-5]y[0-99999]"
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2000000
