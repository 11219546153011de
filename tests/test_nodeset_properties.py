"""NodeSet properties checked on random node names (hypothesis)."""

from hypothesis import given, settings
from hypothesis import strategies as st

from clusterpy.NodeSet import RESOLVER_NOGROUP, NodeSet


@st.composite
def names(draw):
    """A node name with zero to three numbers, some zero-padded."""
    prefix = draw(st.sampled_from(["n", "node", "x", "cn-", "a%b"]))
    dims = draw(st.sampled_from([0, 1, 1, 2, 3]))
    parts = [prefix]
    for axis in range(dims):
        width = draw(st.sampled_from([0, 0, 2, 3]))
        parts.append("%0*d" % (width, draw(st.integers(0, 120))))
        parts.append(draw(st.sampled_from(["", "c", "s", "-ib"])) if axis + 1 < dims
                     else draw(st.sampled_from(["", "", "-ipmi"])))
    name = "".join(parts)
    # two numbers must not touch
    return name if all(part for part in parts[2:-1:2]) or dims < 2 else name + "z"


name_lists = st.lists(names(), max_size=50)


def nodeset(items):
    return NodeSet.fromlist(items, resolver=RESOLVER_NOGROUP)


@settings(max_examples=250, deadline=None)
@given(name_lists)
def test_fold_parse_fold_is_stable(items):
    nodes = nodeset(items)
    assert set(nodes) == set(items)
    assert len(nodes) == len(set(items))
    folded = str(nodes)
    again = NodeSet(folded, resolver=RESOLVER_NOGROUP)
    assert again == nodes
    assert str(again) == folded
    assert list(again) == list(nodes)


@settings(max_examples=250, deadline=None)
@given(name_lists, name_lists)
def test_set_operations_agree_with_set(left, right):
    one, two = nodeset(left), nodeset(right)
    set_one, set_two = set(left), set(right)
    assert set(one | two) == set_one | set_two
    assert set(one & two) == set_one & set_two
    assert set(one - two) == set_one - set_two
    assert set(one ^ two) == set_one ^ set_two
    assert one.issubset(two) == set_one.issubset(set_two)
    for name in right:
        assert (name in one) == (name in set_one)
    # the same through the string operator, applied left to right
    if left:
        text = str(one) + "".join("!" + name for name in right)
        assert set(NodeSet(text, resolver=RESOLVER_NOGROUP)) == set_one - set_two


@settings(max_examples=150, deadline=None)
@given(name_lists, st.integers(0, 60), st.integers(0, 60), st.integers(1, 3))
def test_positions_agree_with_list(items, start, stop, step):
    nodes = nodeset(items)
    ordered = list(nodes)
    for pos, name in enumerate(ordered):
        assert nodes[pos] == name
        assert nodes.index(name) == pos
    assert set(nodes[start:stop:step]) == set(ordered[start:stop:step])
    assert [name for part in nodes.split(3) for name in part] == ordered
