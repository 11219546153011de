"""RangeSet properties checked on random sets (hypothesis)."""

from hypothesis import given, settings
from hypothesis import strategies as st

from clusterpy.RangeSet import RangeSet


@st.composite
def elements(draw):
    """An index string: negative, plain or zero-padded."""
    value = draw(st.integers(min_value=-40, max_value=1200))
    if value < 0:
        return str(value)
    width = draw(st.sampled_from([0, 0, 0, 2, 3, 4]))
    return "%0*d" % (width, value)


element_lists = st.lists(elements(), max_size=60)
autosteps = st.sampled_from([None, None, 2, 3, 5])


def order(text):
    """Iteration order: negatives by value, then by width and value."""
    if text.startswith("-"):
        return (0, int(text))
    return (1, len(text), text)


@settings(max_examples=300, deadline=None)
@given(element_lists, autosteps)
def test_fold_parse_fold_is_stable(items, autostep):
    rset = RangeSet(items, autostep=autostep) if items else RangeSet(autostep=autostep)
    folded = str(rset)
    again = RangeSet(folded, autostep=autostep) if folded else RangeSet()
    assert again == rset
    assert str(again) == folded
    assert sorted(set(items), key=order) == list(rset)
    assert len(rset) == len(set(items))


@settings(max_examples=300, deadline=None)
@given(element_lists, element_lists)
def test_set_operations_agree_with_set(left, right):
    one = RangeSet(left) if left else RangeSet()
    two = RangeSet(right) if right else RangeSet()
    set_one, set_two = set(left), set(right)
    assert set(one.union(two).striter()) == set_one | set_two
    assert set(one.intersection(two).striter()) == set_one & set_two
    assert set(one.difference(two).striter()) == set_one - set_two
    assert set(one.symmetric_difference(two).striter()) == set_one ^ set_two
    assert one.issubset(two) == set_one.issubset(set_two)
    assert one.isdisjoint(two) == set_one.isdisjoint(set_two)
    assert (one == two) == (set_one == set_two)
    for text in right:
        assert (text in one) == (text in set_one)
    inplace = one.copy()
    inplace.symmetric_difference_update(two)
    assert inplace == one ^ two


@settings(max_examples=200, deadline=None)
@given(element_lists, st.integers(-70, 70), st.integers(-70, 70),
       st.sampled_from([None, 1, 2, 3, -1, -3]))
def test_positions_agree_with_list(items, start, stop, step):
    rset = RangeSet(items) if items else RangeSet()
    ordered = sorted(set(items), key=order)
    assert [rset[i] for i in range(len(rset))] == ordered
    for pos, text in enumerate(ordered):
        assert rset.index(text) == pos
    assert list(rset[start:stop:step]) == sorted(ordered[start:stop:step], key=order)
    parts = list(rset.split(4))
    assert [text for part in parts for text in part] == ordered
