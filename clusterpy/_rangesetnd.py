"""RangeSetND: n-dimensional sets of indexes (exported by clusterpy.RangeSet).

A RangeSetND is a list of vectors of RangeSet objects, each vector standing
for the cartesian product of its RangeSets.  Set operations work on these
boxes directly (box algebra over key intervals); the printed form is folded
lazily, when the set is read, by ``clusterpy._ndfold`` (the folded form only
depends on the points, so it matches ClusterShell 1.10.1 whatever boxes the
operations produced).
"""

import sys
from functools import reduce
from itertools import product
from operator import mul
from typing import Iterator, Optional

from clusterpy import _ndfold
from clusterpy import _ranges as _R
from clusterpy._set_algebra import SetAlgebra
from clusterpy.RangeSet import (
    AUTOSTEP_DISABLED,
    RangeSet,
    _autostep_internal,
    _autostep_public,
    _normalized_bounds,
    _too_large,
)


def _boxes(veclist):
    """Boxes of (lo, hi) interval lists of a list of RangeSet vectors."""
    return [tuple((rg._lo, rg._hi) for rg in vec) for vec in veclist]


def _vectors(boxes, autostep_internal):
    """RangeSet vectors of boxes of (lo, hi) intervals (tuples or lists)."""
    make = RangeSet._from_intervals
    return [[make(list(lo), list(hi), autostep_internal) for lo, hi in box]
            for box in boxes]


def _vectors_like(boxes, template):
    """RangeSet vectors of boxes, each axis with the autostep of the
    RangeSet of that axis in the template vector."""
    make = RangeSet._from_intervals
    autosteps = [rg._autostep for rg in template]
    return [[make(list(lo), list(hi), autostep)
             for (lo, hi), autostep in zip(box, autosteps)] for box in boxes]


def _size(vec):
    return reduce(mul, [rg._size() for rg in vec])


#: slices of more points than this are cut out of the boxes (at most two
#: per axis) instead of being gathered point by point
SLICE_BY_POINTS = 4096


def _box_slice(vec, first, stop):
    """Boxes (RangeSet vectors) holding the points at positions [first,
    stop) of vec's product, in iteration order: at most 2 per axis."""
    if first >= stop:
        return []
    head = vec[0]
    if len(vec) == 1:
        return [[head[first:stop]]]
    rest = vec[1:]
    inner = _size(rest)
    low, low_rest = divmod(first, inner)
    high, high_rest = divmod(stop, inner)
    if low == high:
        return [[head[low:low + 1]] + box for box in _box_slice(rest, low_rest, high_rest)]
    boxes = []
    if low_rest:
        boxes.extend([head[low:low + 1]] + box for box in _box_slice(rest, low_rest, inner))
        low += 1
    if low < high:
        boxes.append([head[low:high]] + [rg.copy() for rg in rest])
    if high_rest:
        boxes.extend([head[high:high + 1]] + box for box in _box_slice(rest, 0, high_rest))
    return boxes


class RangeSetND(SetAlgebra):
    """
    N-dimensional RangeSet: a set of index vectors, such as the indexes of
    node names with several numbers (``x1000c2s3b0n1``).

    ``RangeSetND([["0-3", "4-10"], ...])`` builds it from vectors of range
    strings, of RangeSet objects or of integers.  NodeSet uses it for nD
    node names; you rarely need it directly.
    """

    def __init__(self, args=None, pads=None, autostep: Optional[int] = None,
                 copy_rangeset: bool = True) -> None:
        """:param args: list of vectors (list of RangeSet, str or int)
        :param pads: zero-padding length per axis, for integer vectors
        :param autostep: autostep threshold (None: off)
        :param copy_rangeset: when False, RangeSet objects of args are used
            as they are (ownership transfer)"""
        self._veclist = []
        self._dirty = True
        self._autostep = None
        self.autostep = autostep
        self._multivar_hint = False
        if args is None:
            return
        for rgvec in args:
            if not rgvec:
                continue
            first = rgvec[0]
            if isinstance(first, str):
                vec = [RangeSet(rg, autostep=autostep) for rg in rgvec]
            elif isinstance(first, RangeSet):
                vec = [rg.copy() for rg in rgvec] if copy_rangeset else rgvec
            elif pads is None:
                vec = [RangeSet.fromone(rg, autostep=autostep) for rg in rgvec]
            else:
                vec = [RangeSet.fromone(rg, pad, autostep)
                       for rg, pad in zip(rgvec, pads)]
            self._veclist.append(vec)

    @classmethod
    def _from_points(cls, points, autostep_internal=AUTOSTEP_DISABLED):
        """New folded RangeSetND of distinct points (tuples of keys)."""
        inst = cls()
        inst._autostep = autostep_internal
        if points:
            axes = _ndfold.is_box(points)
            if axes is not None:
                boxes = [tuple(_R.from_sorted_keys(keys) for keys in axes)]
            else:
                boxes = _ndfold.fold_points(points)
            inst._veclist = _vectors(boxes, autostep_internal)
        inst._dirty = False
        return inst

    @classmethod
    def _from_columns(cls, columns, autostep_internal=AUTOSTEP_DISABLED):
        """New folded RangeSetND of points given as aligned per-axis lists
        of index strings."""
        inst = cls()
        inst._autostep = autostep_internal
        inst._veclist = _vectors(_ndfold.fold_columns(columns), autostep_internal)
        inst._dirty = False
        return inst

    # -- folding -----------------------------------------------------------

    def _folded(self):
        """The folded vector list."""
        if self._dirty:
            if len(self._veclist) > 1 and not self._fold_univariate():
                self._veclist = _vectors(_ndfold.fold_boxes(_boxes(self._veclist)),
                                         self._autostep)
            self._dirty = False
        return self._veclist

    def _fold_univariate(self):
        """Merge all vectors into the first one when they differ on one
        axis at most.  Return whether that was possible."""
        veclist = self._veclist
        first = veclist[0]
        vardim = None
        for axis in range(len(first)):
            ref = first[axis]
            if any(vec[axis] != ref for vec in veclist):
                if vardim is not None:
                    self._multivar_hint = True
                    return False
                vardim = axis
        if vardim is not None:
            target = first[vardim]
            for vec in veclist[1:]:
                target.update(vec[vardim])
        del veclist[1:]
        self._dirty = False
        self._multivar_hint = False
        return True

    def fold(self) -> None:
        """Fold now (folding is otherwise automatic and lazy)."""
        self._folded()

    def _get_veclist(self):
        """Folded list of RangeSet vectors."""
        return self._folded()

    def _set_veclist(self, val):
        """Set the vector list (folded when next read)."""
        self._veclist = val
        self._dirty = True

    veclist = property(_get_veclist, _set_veclist)

    def vectors(self) -> Iterator[list]:
        """Iterate over the folded RangeSet vectors."""
        return iter(self._folded())

    # -- basic protocol ----------------------------------------------------

    def copy(self) -> "RangeSetND":
        """Return a new, mutable shallow copy of a RangeSetND."""
        cpy = self.__class__()
        cpy._veclist = [[rg.copy() for rg in rgvec] for rgvec in self._folded()]
        cpy._dirty = self._dirty
        return cpy

    __copy__ = copy

    def __eq__(self, other):
        if not isinstance(other, RangeSetND):
            return NotImplemented
        return self._size() == other._size() and self.issubset(other)

    __hash__ = None

    def __bool__(self) -> bool:
        return bool(self._veclist)

    def __len__(self) -> int:
        size = self._size()
        if size > sys.maxsize:
            raise _too_large(size)
        return size

    def _size(self) -> int:
        """Number of vectors, however large (len() stops at sys.maxsize)."""
        return sum(_size(vec) for vec in self._folded())

    def __str__(self) -> str:
        return "".join("; ".join(str(rg) for rg in vec) + "\n"
                       for vec in self._folded())

    def __iter__(self) -> Iterator[tuple]:
        """Iterate over points as tuples of index strings."""
        for vec in self._folded():
            yield from product(*vec)

    def iter_padding(self):
        """Iterate over (point, [largest padding per axis]) tuples."""
        for vec in self._folded():
            pads = [rg.padding for rg in vec]
            for point in product(*vec):
                yield point, pads

    def dim(self) -> int:
        """Number of dimensions (0 when empty)."""
        return len(self._veclist[0]) if self._veclist else 0

    def pads(self) -> tuple:
        """Largest zero-padding length per axis."""
        per_vec = ((rg.padding or 0 for rg in vec) for vec in self._veclist)
        return tuple(max(pads) for pads in zip(*per_vec))

    def get_autostep(self) -> Optional[int]:
        """Minimum index count of a folded progression (None: off)."""
        return _autostep_public(self._autostep)

    def set_autostep(self, val: Optional[int]) -> None:
        """Set the autostep, here and on every RangeSet."""
        internal = self._autostep = _autostep_internal(val)
        for rgvec in self._veclist:
            for rg in rgvec:
                rg._autostep = internal

    autostep = property(get_autostep, set_autostep)

    # -- positions -------------------------------------------------------

    @staticmethod
    def _point_in(vec, offset):
        """Key tuple of the point at an offset in a vector's product."""
        keys = []
        for rg in reversed(vec):
            offset, digit = divmod(offset, rg._size())
            keys.append(_R.key_at(rg._lo, rg._cumulative(), digit))
        keys.reverse()
        return keys

    def _point_keys(self, position):
        for vec in self._folded():
            size = _size(vec)
            if position < size:
                return self._point_in(vec, position)
            position -= size
        return None

    def __getitem__(self, index):
        """Point at a position (tuple of strings), or a RangeSetND for a
        slice."""
        if isinstance(index, slice):
            start, stop, step = index.indices(self._size())
            if step == 1 and stop - start > SLICE_BY_POINTS:
                return self._slice_boxes(start, stop)
            points = set()
            for position in range(start, stop, step):
                points.add(tuple(self._point_keys(position)))
            return RangeSetND._from_points(points, self._autostep)
        if isinstance(index, int):
            if index < 0:
                length = self._size()
                if index < -length:
                    raise IndexError("%d out of range" % index)
                index += length
            keys = self._point_keys(index)
            if keys is None:
                raise IndexError("%d out of range" % index)
            return tuple(map(_R.str_of, keys))
        raise TypeError("%s indices must be integers" % self.__class__.__name__)

    def _slice_boxes(self, start, stop):
        """RangeSetND of the points at positions [start, stop)."""
        boxes = []
        base = 0
        for vec in self._folded():
            size = _size(vec)
            if start < base + size and stop > base:
                boxes.extend(_box_slice(vec, max(start - base, 0), min(stop - base, size)))
            base += size
        result = RangeSetND(boxes, copy_rangeset=False)
        result.set_autostep(_autostep_public(self._autostep))
        return result

    def index(self, elem, start: int = 0, stop: Optional[int] = None) -> int:
        """Position of a point (vector of indexes, strings or integers) in
        iteration order, like list.index(); ValueError if absent."""
        if isinstance(elem, str) or not hasattr(elem, '__iter__'):
            raise TypeError("%s.index() argument must be a vector of indexes"
                            % self.__class__.__name__)
        try:
            keys = [_R.key_of("%s" % item) for item in elem]
        except ValueError:
            keys = None
        found = None
        base = 0
        for vec in self._folded() if keys is not None else ():
            if len(vec) == len(keys) and all(
                    _R.contains(rg._lo, rg._hi, key) for rg, key in zip(vec, keys)):
                offset = 0
                for rg, key in zip(vec, keys):
                    offset = offset * rg._size() + _R.rank(rg._lo, rg._cumulative(), key)
                found = base + offset
                break
            base += _size(vec)
        if found is not None and (start != 0 or stop is not None):
            start, stop = _normalized_bounds(self._size(), start, stop)
            if not start <= found < stop:
                found = None
        if found is None:
            raise ValueError("%s is not in RangeSetND" % (elem,))
        return found

    def contiguous(self) -> Iterator["RangeSetND"]:
        """Object-based iterator over contiguous nD range sets."""
        for vec in self._folded():
            for combo in product(*[list(rg.contiguous()) for rg in vec]):
                yield RangeSetND([list(combo)])

    # -- comparisons -----------------------------------------------------

    def __contains__(self, element) -> bool:
        if not isinstance(element, RangeSetND):
            element = RangeSetND([[str(element)]])
        return element.issubset(self)

    def _has_point(self, keys):
        """Whether the point of these element keys is in the set."""
        contains = _R.contains
        for vec in self._folded():
            for rg, key in zip(vec, keys):
                if not contains(rg._lo, rg._hi, key):
                    break
            else:
                return True
        return False

    def issuperset(self, other) -> bool:
        """Report whether this RangeSetND contains another one."""
        self._binary_sanity_check(other)
        mine = self._folded()
        theirs = other._folded()
        if not theirs:
            return True
        if len(mine) == 1 == len(theirs) and len(mine[0]) == 1 == len(theirs[0]):
            return mine[0][0].issuperset(theirs[0][0])
        return not self._subtract(_boxes(theirs), _boxes(mine))

    # -- set operations ----------------------------------------------------

    @staticmethod
    def _subtract(boxes, others):
        """Boxes covering boxes minus others."""
        result = []
        for box in boxes:
            pieces = [box]
            for other in others:
                pieces = [piece for part in pieces
                          for piece in _ndfold.box_sub(part, other)]
                if not pieces:
                    break
            result.extend(pieces)
        return result

    def update(self, other) -> None:
        """Add the points of another RangeSetND (or list of vectors)."""
        vectors = other._veclist if isinstance(other, RangeSetND) else other
        autostep = self._autostep
        for vec in vectors:
            assert isinstance(vec[0], RangeSet)
            cpyvec = []
            for rg in vec:
                cpy = rg.copy()
                cpy._autostep = autostep
                cpyvec.append(cpy)
            self._veclist.append(cpyvec)
        self._dirty = True
        if not self._multivar_hint and self._veclist:
            self._fold_univariate()

    union_update = update

    def difference_update(self, other, strict: bool = False) -> None:
        """Remove the points of another RangeSetND; with strict, raise
        KeyError if one of them is not here."""
        if strict and other not in self:
            raise KeyError(other.difference(self)[0])
        others = _boxes(other._veclist)
        veclist = []
        for vec in self._veclist:
            pieces = self._subtract(_boxes([vec]), others)
            veclist.extend(_vectors_like(pieces, vec))
        self.veclist = veclist

    def intersection_update(self, other) -> None:
        """Keep only the points also in another RangeSetND."""
        if other is self:
            return
        boxes = []
        for box in _boxes(self._veclist):
            for obox in _boxes(other._veclist):
                inter = _ndfold.box_and(box, obox)
                if inter is not None:
                    boxes.append(inter)
        tmp = RangeSetND()
        tmp._veclist = _vectors(boxes, tmp._autostep)
        self.veclist = tmp.veclist

    def symmetric_difference_update(self, other) -> None:
        """Keep the points in exactly one of this RangeSetND and another."""
        theirs = other.difference(self)
        self.difference_update(other)
        self.update(theirs)


RangeSetND._OPERAND = RangeSetND
RangeSetND._OPERAND_ERROR = "Binary operation only permitted between RangeSetND"
