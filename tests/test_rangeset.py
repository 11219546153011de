"""RangeSet: syntax, folding, API and errors."""

import copy
import pickle
import tracemalloc

import pytest

from clusterpy.RangeSet import AUTOSTEP_DISABLED, RangeSet, RangeSetPaddingError, RangeSetParseError

# -- parsing and folding ------------------------------------------------------

@pytest.mark.parametrize("pattern, folded, count", [
    ("7", "7", 1),
    ("3-5", "3-5", 3),
    ("5,3,4", "3-5", 3),
    ("1-4,6", "1-4,6", 5),
    ("10-12,1-3", "1-3,10-12", 6),
    ("9-11", "9-11", 3),                  # crosses a width without padding
    ("0-20/5", "0,5,10,15,20", 5),        # steps are expanded without autostep
    ("002-004", "002-004", 3),
    ("01-09,100", "01-09,100", 10),       # mixed paddings
    ("1-3,01-03", "1-3,01-03", 6),        # "1" and "01" are distinct
    ("099-101", "099-101", 3),
    ("-4--2", "-4--2", 3),
    ("-2-1", "-2-1", 4),
    (" 4 , 2 - 3 ", "2-4", 3),            # blanks are ignored
    ("1-5/ 2", "1,3,5", 3),
    ("8-12/01", "8-12", 5),               # padded step is just a number
])
def test_parse_and_fold(pattern, folded, count):
    rset = RangeSet(pattern)
    assert str(rset) == folded
    assert repr(rset) == folded
    assert len(rset) == count


@pytest.mark.parametrize("pattern, autostep, folded", [
    ("0-20/5", 3, "0-20/5"),
    ("0-20/5", 6, "0,5,10,15,20"),
    ("1,3,5,6,7", 3, "1-5/2,6-7"),
    ("2,4,6", 2, "2-6/2"),
    ("2,4", 2, "2-4/2"),
    ("2,4", 3, "2,4"),
    ("000-020/10", 3, "000-020/10"),
])
def test_autostep_folding(pattern, autostep, folded):
    assert str(RangeSet(pattern, autostep=autostep)) == folded


def test_autostep_property():
    rset = RangeSet("1-9/2")
    assert rset.autostep is None
    rset.autostep = 3
    assert rset.autostep == 3
    assert str(rset) == "1-9/2"
    rset.autostep = None
    assert str(rset) == "1,3,5,7,9"
    rset.autostep = AUTOSTEP_DISABLED
    assert str(rset) == "1,3,5,7,9"


def test_padding_run_boundaries():
    # a run opened by a padded index keeps its width
    assert str(RangeSet("098-101")) == "098-101"
    assert str(RangeSet("0998-1001")) == "0998-1001"
    assert str(RangeSet("98-101")) == "98-101"
    assert str(RangeSet("08,10-100")) == "08,10-99,100"


@pytest.mark.parametrize("pattern, message", [
    ("", 'empty range'),
    ("1,,2", 'empty range'),
    ("5-", 'cannot convert string to integer : "5-"'),
    ("a", 'cannot convert string to integer : "a"'),
    ("3-1", 'invalid values in range : "3-1"'),
    ("1-5/0", 'invalid values in range : "1-5/0"'),
    ("1-5/x", 'cannot convert string to integer : "1-5/x"'),
    ("4/2", 'invalid step usage : "4/2"'),
    ("01-100", 'padding length mismatch : "01-100"'),
    ("1-010", 'padding length mismatch : "1-010"'),
    ("-01", 'padding not supported in negative ranges : "-01"'),
])
def test_parse_errors(pattern, message):
    with pytest.raises(RangeSetParseError) as info:
        RangeSet(pattern)
    assert str(info.value) == message
    assert isinstance(info.value.part, str)


def test_padding_error_class():
    err = RangeSetPaddingError("01-2", "width")
    assert isinstance(err, RangeSetParseError)
    assert str(err) == 'padding mismatch (width) : "01-2"'


def test_constructor_from_iterables():
    assert str(RangeSet([5, 1, 2, 3])) == "1-3,5"
    assert str(RangeSet(["01", "02", "4"])) == "4,01-02"
    assert str(RangeSet(range(-2, 3))) == "-2-2"
    assert str(RangeSet(RangeSet("008-010"))) == "008-010"
    with pytest.raises(RangeSetParseError):
        RangeSet([])


def test_fromlist_fromone():
    assert str(RangeSet.fromlist(["1-3", "7", RangeSet("5"), {"9", "10"}])) \
        == "1-3,5,7,9-10"
    assert str(RangeSet.fromone(5, pad=3)) == "005"
    assert str(RangeSet.fromone("0042")) == "0042"
    assert str(RangeSet.fromone(slice(2, 9, 3))) == "2,5,8"
    assert str(RangeSet.fromone(slice(4), pad=2)) == "00-03"
    with pytest.raises(ValueError, match="Invalid range upper limit"):
        RangeSet.fromone(slice(3, None))


# -- a set of strings in sorted order -------------------------------------------

def test_is_a_set_iterating_sorted_strings():
    rset = RangeSet("10,9,-1,010,08")
    assert isinstance(rset, set)
    # by width, then value; negative indexes first
    assert list(rset) == ["-1", "9", "08", "10", "010"]
    assert list(rset.striter()) == list(rset)
    assert list(rset.intiter()) == [-1, 9, 8, 10, 10]


def test_membership_is_padding_aware():
    rset = RangeSet("1-3,005")
    assert "2" in rset and 2 in rset
    assert "5" not in rset and 5 not in rset and "005" in rset
    assert "x" not in rset and object() not in rset
    assert RangeSet("1-2") in rset
    assert {"1", "005"} in rset


def test_dim_padding_property():
    assert RangeSet().dim() == 0
    assert RangeSet("3").dim() == 1
    assert RangeSet("1-20").padding is None
    assert RangeSet("1-20,003").padding == 3
    rset = RangeSet("1-3,12")
    rset.padding = 3
    assert str(rset) == "001-003,012"
    rset.padding = None
    assert str(rset) == "1-3,12"


# -- positions ------------------------------------------------------------------

def test_getitem_and_slices():
    rset = RangeSet("1-3,10,20-22")
    assert rset[0] == "1" and rset[3] == "10" and rset[-1] == "22"
    with pytest.raises(IndexError):
        rset[7]
    with pytest.raises(TypeError):
        rset["1"]
    assert str(rset[1:5]) == "2-3,10,20"
    assert str(rset[::2]) == "1,3,20,22"
    assert str(rset[::-2]) == "1,3,20,22"      # every other from the end
    assert str(rset[-2:]) == "21-22"
    assert str(RangeSet("001-010")[3:5]) == "004-005"   # padding kept


def test_index_and_split():
    rset = RangeSet("5-9,20")
    assert rset.index("20") == 5 and rset.index(7) == 2
    assert rset.index("8", 2, 4) == 3
    with pytest.raises(ValueError, match="is not in RangeSet"):
        rset.index("8", 4)
    with pytest.raises(ValueError):
        rset.index("08")
    parts = [str(part) for part in RangeSet("1-10").split(3)]
    assert parts == ["1-4", "5-7", "8-10"]
    assert [str(part) for part in RangeSet("1-2").split(5)] == ["1", "2"]


def test_slices_and_contiguous():
    rset = RangeSet("1-3,5,7,9,12")
    assert list(rset.slices()) == [slice(1, 4, 1), slice(5, 6, 1), slice(7, 8, 1),
                                   slice(9, 10, 1), slice(12, 13, 1)]
    assert list(RangeSet("4").slices()) == [slice(4, 5, None)]
    rset.autostep = 3
    assert list(rset.slices()) == [slice(1, 4, 1), slice(5, 10, 2), slice(12, 13, 1)]
    assert [str(part) for part in RangeSet("1-3,5,08-09").contiguous()] == \
        ["1-3", "5", "08-09"]


# -- mutations and set operations ---------------------------------------------------

def test_add_remove_discard_with_padding():
    rset = RangeSet("1-3")
    rset.add(4)
    rset.add(7, pad=3)
    rset.add("06")
    assert str(rset) == "1-4,06,007"
    rset.remove("06")
    rset.remove(7, pad=3)
    with pytest.raises(KeyError):
        rset.remove(7)
    with pytest.raises(KeyError):
        rset.remove("zz")
    rset.discard(2)
    rset.discard("nope")
    with pytest.raises(TypeError):
        rset.discard(None)
    assert str(rset) == "1,3-4"
    rset.add_range(10, 16, 2, pad=2)
    assert str(rset) == "1,3-4,10,12,14"
    with pytest.raises(AssertionError):
        rset.add_range(5, 5)
    popped = rset.pop()
    assert popped in ("1", "3", "4", "10", "12", "14") and popped not in rset
    rset.clear()
    assert len(rset) == 0 and not rset


@pytest.mark.parametrize("method, operator, expected", [
    ("union", "__or__", "1-12,20"),
    ("intersection", "__and__", "5-8"),
    ("difference", "__sub__", "1-4"),
    ("symmetric_difference", "__xor__", "1-4,9-12,20"),
])
def test_set_operations(method, operator, expected):
    one = RangeSet("1-8")
    two = RangeSet("5-12,20")
    assert str(getattr(one, method)(two)) == expected
    assert str(getattr(one, operator)(two)) == expected
    assert str(one) == "1-8"
    assert getattr(one, operator)("5-12") is NotImplemented
    inplace = one.copy()
    getattr(inplace, method + "_update" if method != "union" else "update")(two)
    assert str(inplace) == expected


def test_inplace_operators_and_comparisons():
    rset = RangeSet("1-10")
    rset |= RangeSet("20")
    rset &= RangeSet("5-20")
    rset -= RangeSet("7")
    rset ^= RangeSet("8-9,30")
    assert str(rset) == "5-6,10,20,30"
    with pytest.raises(TypeError):
        rset |= "1"
    small, big = RangeSet("2-3"), RangeSet("1-5")
    assert small < big and small <= big and big > small and big >= small
    assert small.issubset(big) and big.issuperset(small) and not big.issubset(small)
    assert RangeSet("1-3") == RangeSet("3,2,1") and RangeSet("1-3") != RangeSet("01-03")
    assert RangeSet("1-2") == {"1", "2"}
    assert RangeSet("1-2").isdisjoint(RangeSet("3"))
    with pytest.raises(TypeError):
        small.issubset("1-5")


def test_difference_update_strict():
    rset = RangeSet("1-10")
    rset.difference_update(RangeSet("2-3"), strict=True)
    assert str(rset) == "1,4-10"
    with pytest.raises(KeyError) as info:
        rset.difference_update(RangeSet("9-12"), strict=True)
    assert info.value.args[0] in ("11", "12")
    assert str(rset) == "1,4-10"


def test_plain_set_operands():
    rset = RangeSet("1-5")
    assert str(rset | {"7"}) == "1-5,7"
    assert str(rset & {"2", "9"}) == "2"
    assert {"9"} | rset == {"1", "2", "3", "4", "5", "9"}
    rset.update(["8", "09"])
    assert str(rset) == "1-5,8,09"


# -- size: huge ranges are intervals, not elements -----------------------------------

def test_huge_range_is_cheap():
    tracemalloc.start()
    try:
        rset = RangeSet("0-99999999999")
        assert len(rset) == 100000000000
        assert str(rset) == "0-99999999999"
        assert rset[-1] == "99999999999"
        assert rset.index("12345678901") == 12345678901
        rset.difference_update(RangeSet("50-60"))
        assert len(rset) == 100000000000 - 11
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1000000


def test_huge_stepped_range_is_refused():
    with pytest.raises(RangeSetParseError, match="range too large"):
        RangeSet("0-99999999999/2")


def test_index_beyond_1e100_is_refused():
    with pytest.raises(RangeSetParseError, match="invalid values in range"):
        RangeSet("2" * 101)


# -- pickling -------------------------------------------------------------------------

def test_pickle_and_copy_roundtrip():
    rset = RangeSet("1-3,007,-2", autostep=3)
    for clone in (pickle.loads(pickle.dumps(rset)), copy.deepcopy(rset), copy.copy(rset)):
        assert clone == rset and clone.autostep == 3
    empty = pickle.loads(pickle.dumps(RangeSet(autostep=2)))
    assert len(empty) == 0 and empty.autostep == 2


def test_setstate_of_older_versions():
    # state of RangeSets pickled by ClusterShell 1.3 to 1.5
    old = RangeSet.__new__(RangeSet)
    old.__setstate__({'_autostep': AUTOSTEP_DISABLED, '_length': 4,
                      '_ranges': [(5, 7, 1, 0), (9, 9, 1, 2)]})
    assert str(old) == "5-7,09"
    old = RangeSet.__new__(RangeSet)
    old.__setstate__({'_autostep': AUTOSTEP_DISABLED, '_version': 2, '_length': 5,
                      '_ranges': [(slice(1, 4, 1), 0), (slice(10, 13, 2), 0)]})
    assert str(old) == "1-3,10,12"
