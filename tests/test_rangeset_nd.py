"""RangeSetND: n-dimensional index sets."""

import pickle

import pytest

from clusterpy.RangeSet import RangeSet, RangeSetND


def test_build_and_fold():
    rnd = RangeSetND([["1-3", "5"], ["1-3", "6"]])
    assert str(rnd) == "1-3; 5-6\n"
    assert len(rnd) == 6 and rnd.dim() == 2
    assert RangeSetND([(1, 5), (2, 5), (3, 5)]) == RangeSetND([["1-3", "5"]])
    assert str(RangeSetND([[1, 2]], pads=[2, 3])) == "01; 002\n"
    assert str(RangeSetND()) == "" and not RangeSetND() and RangeSetND().dim() == 0
    assert str(RangeSetND([["0-4"], ["10"]])) == "0-4,10\n"


def test_copy_rangeset_flag():
    rset = RangeSet("1-2")
    shared = RangeSetND([[rset, RangeSet("7")]], copy_rangeset=False)
    copied = RangeSetND([[rset, RangeSet("7")]])
    rset.add(3)
    assert len(shared) == 3 and len(copied) == 2


def test_iteration_positions_and_vectors():
    rnd = RangeSetND([["2-3", "01-02"], ["7", "5"]])
    points = list(rnd)
    assert points == [("2", "01"), ("2", "02"), ("3", "01"), ("3", "02"), ("7", "5")]
    assert [rnd[i] for i in range(len(rnd))] == points
    assert rnd[-1] == ("7", "5")
    with pytest.raises(IndexError):
        rnd[5]
    assert rnd.index(("3", "02")) == 3 and rnd.index((7, 5)) == 4
    with pytest.raises(ValueError):
        rnd.index(("3", "2"))
    with pytest.raises(TypeError):
        rnd.index("32")
    assert str(rnd[1:4]) == "3; 01-02\n2; 02\n"
    assert [str(part) for part in rnd.contiguous()] == ["2-3; 01-02\n", "7; 5\n"]
    assert rnd.pads() == (0, 2)
    assert [vec for vec, _ in rnd.iter_padding()] == points


def test_set_operations():
    one = RangeSetND([["1-4", "1-4"]])
    two = RangeSetND([["3-6", "3-6"]])
    assert len(one | two) == 28
    assert str(one & two) == "3-4; 3-4\n"
    assert len(one - two) == 12 and len(two - one) == 12
    assert len(one ^ two) == 24
    assert (one - two).issubset(one) and not one.issubset(two)
    assert RangeSetND([["2", "2"]]) in one and "5" not in RangeSetND([["1-4"]])
    with pytest.raises(TypeError):
        one | "x"
    inplace = one.copy()
    inplace.difference_update(two)
    inplace.update(two)
    assert inplace == one | two
    with pytest.raises(KeyError):
        one.copy().difference_update(RangeSetND([["9", "9"]]), strict=True)


def test_greedy_folding_order():
    # vectors are printed larger first; ties by first then last index
    rnd = RangeSetND([["1", "1-2"], ["2", "1-3"], ["10", "1-3"]])
    assert str(rnd) == "2,10; 1-3\n1; 1-2\n"


def test_autostep_and_pickle():
    rnd = RangeSetND([["1-9/2", "1"]], autostep=3)
    assert str(rnd) == "1-9/2; 1\n" and rnd.autostep == 3
    rnd.autostep = None
    assert str(rnd) == "1,3,5,7,9; 1\n"
    clone = pickle.loads(pickle.dumps(rnd))
    assert clone == rnd and str(clone) == str(rnd)
