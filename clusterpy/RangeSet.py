"""Sets of node indexes with range syntax: ``RangeSet("1-10,20,30-40/2")``.

Same API, elements and folded strings as ClusterShell 1.10.1's RangeSet
module.  Elements are strings ("7", "007") and ``RangeSet`` is a ``set``
subclass, but its elements are kept as sorted key intervals (see
``clusterpy._ranges``): a range costs two integers whatever its length, so
``RangeSet("0-999999999")`` is as cheap as ``RangeSet("0-9")``.

One consequence: the set's own C storage stays empty, so the few C-level
``set`` functions that read another set's storage directly (``set(rs)``,
``frozenset(rs)``, ``some_set.update(rs)``, ``set.union(some_set, rs)``)
see no element; use ``set(rs.striter())``.  Operators with a plain set on
either side (``some_set | rs``, ``rs == some_set``) work.
"""

import re
import sys
from typing import Iterable, Iterator, Optional, Union

from clusterpy import _pickle_fallback
from clusterpy import _ranges as _R
from clusterpy._set_algebra import SetAlgebra, split_evenly

_pickle_fallback()

__all__ = [
    'AUTOSTEP_DISABLED',
    'RangeSet',
    'RangeSetException',
    'RangeSetND',
    'RangeSetPaddingError',
    'RangeSetParseError',
]

#: autostep value that turns the /step folding off
AUTOSTEP_DISABLED = 1E100

#: most elements a stepped range (a-b/s, s > 1) may create: each one is an
#: interval of its own
MAX_STEPPED_ELEMENTS = 1 << 22


class RangeSetException(Exception):
    """Base RangeSet exception class."""


def _too_large(size: int) -> OverflowError:
    """The error of len() on a set of more than sys.maxsize elements (the
    set itself is fine: its _size() gives the exact count)."""
    return OverflowError("range too large: %d elements, more than len() can "
                         "count (%d)" % (size, sys.maxsize))


class _FaultyPart:
    """Exception mixin: the message ends with the faulty part of the input
    (quoted, after _SEPARATOR) unless it is empty; ``part`` keeps it."""

    _SEPARATOR = " : "

    def __init__(self, part, msg):
        if part:
            msg = '%s%s"%s"' % (msg, self._SEPARATOR, part)
        super().__init__(msg)
        self.part = part


class RangeSetParseError(_FaultyPart, RangeSetException):
    """Raised when a range set string cannot be parsed."""


class RangeSetPaddingError(RangeSetParseError):
    """Raised on an unrecoverable zero-padding mismatch."""

    def __init__(self, part, msg):
        super().__init__(part, "padding mismatch (%s)" % msg)


def _autostep_internal(val):
    """Internal form of an autostep value: the number of steps (not of
    indexes) from which a progression is folded; AUTOSTEP_DISABLED for
    None."""
    return AUTOSTEP_DISABLED if val is None else int(val) - 1


def _autostep_public(internal):
    """Public form (index count, or None) of an internal autostep value."""
    return None if internal >= AUTOSTEP_DISABLED else internal + 1


def _normalized_bounds(length, start, stop):
    """list.index()-like start/stop bounds."""
    if start < 0:
        start = max(0, length + start)
    if stop is None:
        stop = length
    elif stop < 0:
        stop = max(0, length + stop)
    return start, stop


def _parse_bounds(subrange):
    """Split one comma-free subrange into (begin, end, step, begin_sign,
    end_sign) strings and signs, with RangeSet's historical rules."""
    if '/' in subrange:
        baserange, step = subrange.split('/', 1)
    else:
        baserange, step = subrange, 1
    try:
        step = int(step)
    except ValueError:
        raise RangeSetParseError(subrange, "cannot convert string to integer")
    begin_sign = end_sign = 1
    if '-' not in baserange:
        if step != 1:
            raise RangeSetParseError(subrange, "invalid step usage")
        return baserange, baserange, step, 1, 1
    parts = [part.strip() for part in baserange.split('-')]
    if len(parts) == 2:
        begin, end = parts
        if not begin:               # "-5": one negative number
            begin = end
            begin_sign = end_sign = -1
    elif len(parts) == 3:           # "-3-5"
        begin, end = parts[1], parts[2]
        begin_sign = -1
    elif len(parts) == 4:           # "-8--4"
        begin, end = parts[1], parts[3]
        begin_sign = end_sign = -1
    else:
        raise RangeSetParseError(subrange, "too many '-' in range")
    return begin, end, step, begin_sign, end_sign


def _parse_subrange(subrange):
    """Parse one subrange: (start, stop, step, pad) for add_range()."""
    begin, end, step, begin_sign, end_sign = _parse_bounds(subrange)
    try:
        pad = 0
        if int(begin) != 0:
            stripped = begin.lstrip("0")
            if len(stripped) < len(begin):
                pad = len(begin)
            start = int(stripped)
        else:
            if len(begin) > 1:
                pad = len(begin)
            start = 0
        ends = end.lstrip("0") if int(end) != 0 else end
        endpad = len(end) if len(ends) < len(end) else 0
        if (pad or endpad) and len(begin) != len(end):
            raise RangeSetParseError(subrange, "padding length mismatch")
        stop = int(ends)
    except ValueError:
        raise RangeSetParseError(subrange, "empty range" if not subrange
                                 else "cannot convert string to integer")
    if pad and begin_sign < 0:
        raise RangeSetParseError(subrange,
                                 "padding not supported in negative ranges")
    start *= begin_sign
    stop *= end_sign
    if stop > 1e100 or start > stop or step < 1:
        raise RangeSetParseError(subrange, "invalid values in range")
    if step > 1 and (stop - start) // step >= MAX_STEPPED_ELEMENTS:
        raise RangeSetParseError(subrange, "range too large (more than %d "
                                 "stepped indexes)" % MAX_STEPPED_ELEMENTS)
    return start, stop + 1, step, pad


# "a-b" without sign, blank or step: the common subrange
_SIMPLE_RANGE = re.compile(r"([0-9]+)-([0-9]+)")
# comma-separated single indexes
_SINGLES = re.compile(r"[0-9]+(?:,[0-9]+)*")
# comma-separated unpadded indexes and "a-b" ranges
_UNPADDED = "(?:[1-9][0-9]*|0)"
_PLAIN_RANGES = re.compile("%s(?:-%s)?(?:,%s(?:-%s)?)*" % ((_UNPADDED,) * 4))
_BOUNDS = re.compile(r"([0-9]+)(?:-([0-9]+))?")


def _intervals_of_plain_ranges(pattern):
    """Key intervals of a comma-separated list of unpadded indexes and
    ranges whose bounds have the same width, or None (the loops run in
    C)."""
    begins, ends = zip(*_BOUNDS.findall(pattern))
    ends = [end or begin for begin, end in zip(begins, ends)]
    widths = list(map(len, begins))
    if widths != list(map(len, ends)) or max(widths) > 100:
        return None
    starts = list(map(int, begins))
    stops = list(map(int, ends))
    if not all(map(int.__le__, starts, stops)):
        return None
    bases = list(_R.bases_of_widths(widths))
    los = list(map(int.__add__, bases, starts))
    his = [key + 1 for key in map(int.__add__, bases, stops)]
    return _normalize(los, his)


def _intervals_of_subrange(subrange):
    """Key intervals of one comma-free subrange (already stripped)."""
    if subrange.isdigit() and subrange.isascii() and len(subrange) <= 100:
        key = _R.key_of(subrange)
        return [key], [key + 1]
    match = _SIMPLE_RANGE.fullmatch(subrange)
    if match is not None:
        begin, end = match.groups()
        if (begin[0] != '0' or len(begin) == 1) and end[0] != '0' \
                and len(begin) <= len(end) <= 100 \
                and (len(begin) < len(end) or begin <= end):
            return _R.unpadded_range(begin, end)
    return _R.intervals_for_range(*_parse_subrange(subrange))


def _intervals_of_pattern(pattern):
    """Key intervals of a range set string."""
    if ',' not in pattern:
        return _intervals_of_subrange(pattern.strip())
    if _SINGLES.fullmatch(pattern):
        singles = pattern.split(',')
        if max(map(len, singles)) <= 100:
            return _R.from_keys(_R.keys_of_digits(singles))
    if _PLAIN_RANGES.fullmatch(pattern):
        found = _intervals_of_plain_ranges(pattern)
        if found is not None:
            return found
    los = []
    his = []
    ordered = True
    for subrange in pattern.split(','):
        sub_lo, sub_hi = _intervals_of_subrange(subrange.strip())
        if ordered and his and sub_lo and sub_lo[0] <= his[-1]:
            ordered = False
        los.extend(sub_lo)
        his.extend(sub_hi)
    if ordered:
        return los, his
    return _merge_unsorted(los, his)


def _normalize(los, his):
    """Canonical intervals of concatenated interval lists."""
    if all(map(int.__lt__, his[:-1], los[1:])):
        return los, his
    return _merge_unsorted(los, his)


def _merge_unsorted(los, his):
    pairs = sorted(zip(los, his))
    lo = []
    hi = []
    for start, stop in pairs:
        if hi and start <= hi[-1]:
            hi[-1] = max(hi[-1], stop)
        else:
            lo.append(start)
            hi.append(stop)
    return lo, hi


def _key_of_element(element, pad=0):
    """Key of an element given as string or integer (with padding)."""
    if isinstance(element, str):
        return _R.key_of(element)
    return _R.key_of_int(int(element), pad)


def _keys_of(iterable, strict=True):
    """Sorted distinct keys of an iterable of elements (strings or
    integers).  Non-elements raise ValueError if strict, else are skipped."""
    keys = set()
    add = keys.add
    for element in iterable:
        try:
            add(_R.key_of(element) if isinstance(element, str)
                else _R.key_of_int(int(element)))
        except (ValueError, TypeError):
            if strict:
                raise ValueError("invalid RangeSet element %r" % (element,))
    return sorted(keys)


class RangeSet(SetAlgebra, set):
    """
    Mutable set of cluster node indexes featuring a fast range-based API.

    ``RangeSet("5,10-42")``, ``RangeSet("0-10/2")``, ``RangeSet("00-10/2")``
    or any iterable of indexes: ``RangeSet([3, 6, 8, 7, 1])`` is ``1,3,6-8``.
    Elements are strings (zero padding is significant and may vary within
    a set: ``RangeSet("01-09,100")``), iterated in sorted order.
    """
    __slots__ = ("_autostep", "_cum", "_hi", "_len", "_lo")
    _OPERAND = (set, frozenset)
    _OPERAND_ERROR = "Binary operation only permitted between sets"

    _VERSION = 4    # serial version number (pickle)

    def __init__(self, pattern: Union[str, Iterable, None] = None,
                 autostep: Optional[int] = None) -> None:
        """Initialize RangeSet object.

        :param pattern: optional string pattern or iterable of indexes
        :param autostep: optional autostep threshold
        """
        self._lo = []
        self._hi = []
        self._len = 0
        self._cum = None
        self._autostep = _autostep_internal(autostep)
        if pattern is None:
            return
        if isinstance(pattern, str):
            self._lo, self._hi = _intervals_of_pattern(pattern)
        elif isinstance(pattern, RangeSet):
            if not pattern._lo:
                raise RangeSetParseError('', "empty range")
            self._lo = pattern._lo[:]
            self._hi = pattern._hi[:]
        else:
            items = list(pattern)
            if items and all(type(item) is int for item in items):
                self._lo, self._hi = _R.from_keys(map(_R.key_of_int, items))
            else:
                self._lo, self._hi = _intervals_of_pattern(
                    ",".join("%s" % item for item in items))
        self._len = -1

    def _set(self, lo, hi):
        """Replace the content (lists are owned from now on)."""
        self._lo = lo
        self._hi = hi
        self._len = -1
        self._cum = None

    def _changed(self):
        self._len = -1
        self._cum = None

    @classmethod
    def _from_intervals(cls, lo, hi, autostep_internal):
        inst = cls.__new__(cls)
        inst._lo = lo
        inst._hi = hi
        inst._len = -1
        inst._cum = None
        inst._autostep = autostep_internal
        return inst

    @classmethod
    def fromlist(cls, rnglist: Iterable, autostep: Optional[int] = None) -> "RangeSet":
        """New RangeSet of a list of range strings, sets or RangeSets."""
        result = RangeSet(autostep=autostep)
        result.updaten(rnglist)
        return result

    @classmethod
    def fromone(cls, index, pad: int = 0, autostep: Optional[int] = None) -> "RangeSet":
        """New RangeSet of one index (integer with padding, or string) or of
        one range given as a slice object (with padding)."""
        result = RangeSet(autostep=autostep)
        if isinstance(index, slice):
            if not index.stop:
                raise ValueError("Invalid range upper limit (%s)" % index.stop)
            result.add_range(index.start or 0, index.stop, index.step or 1, pad)
        else:
            result.add(index, pad)
        return result

    # -- properties ------------------------------------------------------

    @property
    def padding(self) -> Optional[int]:
        """Largest zero-padding length in the set (None if nothing padded)."""
        result = None
        for width, kbase, first, _ in _R.classes(self._lo):
            if _R.class_padded(self._lo, width, kbase, first):
                result = width
        return result

    @padding.setter
    def padding(self, value: Optional[int]) -> None:
        """Force a zero-padding length on every element."""
        if value is None:
            value = 1
        los = []
        his = []
        for start, stop, _ in _R.value_intervals(self._lo, self._hi):
            sub_lo, sub_hi = _R.intervals_for_range(start, stop, 1, value)
            los.extend(sub_lo)
            his.extend(sub_hi)
        self._set(*_merge_unsorted(los, his))

    def get_autostep(self) -> Optional[int]:
        """Minimum index count of a folded progression (None: off)."""
        return _autostep_public(self._autostep)

    def set_autostep(self, val: Optional[int]) -> None:
        """Set the minimum index count of a folded progression."""
        self._autostep = _autostep_internal(val)

    autostep = property(get_autostep, set_autostep)

    def dim(self) -> int:
        """Number of dimensions: 1, or 0 when empty (as RangeSetND.dim())."""
        return 1 if self._lo else 0

    # -- size and iteration ------------------------------------------------

    def __len__(self) -> int:
        if self._len < 0:
            self._len = _R.count(self._lo, self._hi)
        if self._len > sys.maxsize:
            raise _too_large(self._len)
        return self._len

    def _size(self) -> int:
        """Number of elements, however large (len() stops at sys.maxsize)."""
        if self._len < 0:
            self._len = _R.count(self._lo, self._hi)
        return self._len

    def __bool__(self) -> bool:
        return bool(self._lo)

    def __iter__(self) -> Iterator[str]:
        """Iterate over elements as strings, in sorted order."""
        return _R.iter_strs(self._lo, self._hi)

    def striter(self) -> Iterator[str]:
        """Iterate over elements as strings (with zero-padding)."""
        return _R.iter_strs(self._lo, self._hi)

    def intiter(self) -> Iterator[int]:
        """Iterate over elements as integers (padding is lost)."""
        for start, stop, _ in _R.value_intervals(self._lo, self._hi):
            yield from range(start, stop)

    def contiguous(self) -> Iterator["RangeSet"]:
        """Object-based iterator over contiguous range sets."""
        for start, stop, step, pad in _R.fold_slices(
                self._lo, self._hi, AUTOSTEP_DISABLED, self._autostep):
            yield RangeSet.fromone(slice(start, stop, step), pad)

    def __reduce__(self):
        """State for pickling."""
        pattern = str(self) if self else None
        return self.__class__, (pattern,), {'padding': self.padding,
                                            '_autostep': self._autostep,
                                            '_version': RangeSet._VERSION}

    def __setstate__(self, state):
        """Restore state, including that of RangeSets pickled by earlier
        ClusterShell versions (those are rebuilt without __init__)."""
        if not hasattr(self, '_lo'):
            self._set([], [])
        self._autostep = state.get('_autostep', AUTOSTEP_DISABLED)
        version = state.get('_version', 0)
        ranges = state.get('_ranges')
        if version >= 3 or ranges is None:
            return
        for item in ranges:
            if version <= 1:            # (start, stop, step, pad), stop inclusive
                start, stop, step, pad = item
                stop += 1
            else:                       # (slice, pad) or ((start, stop, step), pad)
                sli, pad = item
                if isinstance(sli, slice):
                    start, stop, step = sli.start, sli.stop, sli.step
                else:
                    start, stop, step = sli
            self.add_range(start, stop, step, pad)

    def __str__(self) -> str:
        """Folded string: comma-separated ranges (x-y/step format)."""
        if self._autostep >= AUTOSTEP_DISABLED:
            plain = _R.fold_plain(self._lo, self._hi)
            if plain is not None:
                return ','.join(plain)
        return ','.join(_R.format_slices(self._folded()))

    __repr__ = __str__

    def _folded(self):
        return _R.fold_slices(self._lo, self._hi, self._autostep, self._autostep)

    def slices(self) -> Iterator[slice]:
        """Iterate over ranges as slice objects (padding is not given)."""
        for start, stop, step, _ in self._folded():
            yield slice(start, stop, step)

    # -- positions -------------------------------------------------------

    def _cumulative(self):
        if self._cum is None:
            self._cum = _R.cumulative(self._lo, self._hi)
        return self._cum

    def __getitem__(self, index):
        """Element at a position, or a RangeSet for a slice."""
        if isinstance(index, slice):
            length = self._size()
            start, stop, step = index.indices(length)
            if step < 0:
                # same elements as the forward walk over the reversed range
                positions = range(start, stop, step)
                if not positions:
                    return self._from_intervals([], [], self._autostep)
                start, stop, step = positions[-1], positions[0] + 1, -step
            lo, hi = _R.select(self._lo, self._hi, self._cumulative(),
                               start, stop, step)
            return self._from_intervals(lo, hi, self._autostep)
        if isinstance(index, int):
            length = self._size()
            if index < 0:
                index += length
            if not 0 <= index < length:
                raise IndexError("list index out of range")
            return _R.str_of(_R.key_at(self._lo, self._cumulative(), index))
        raise TypeError("%s indices must be integers" % self.__class__.__name__)

    def index(self, elem, start: int = 0, stop: Optional[int] = None) -> int:
        """Zero-based position of an element (string, padding significant,
        or integer), like list.index(); ValueError if absent."""
        key = elem if isinstance(elem, str) else str(elem)
        try:
            key = _R.key_of(key)
        except ValueError:
            key = None
        if key is None or not _R.contains(self._lo, self._hi, key):
            raise ValueError("%s is not in RangeSet" % (elem,))
        found = _R.rank(self._lo, self._cumulative(), key)
        if start != 0 or stop is not None:
            start, stop = _normalized_bounds(self._size(), start, stop)
            if not start <= found < stop:
                raise ValueError("%s is not in RangeSet" % (elem,))
        return found

    def split(self, nbr: int) -> Iterator["RangeSet"]:
        """Split into at most nbr RangeSets of (almost) equal sizes."""
        return split_evenly(self, nbr)

    # -- mutations -------------------------------------------------------

    def add_range(self, start: int, stop: int, step: int = 1, pad: int = 0) -> None:
        """Add the indexes of range(start, stop, step), zero-padded to pad."""
        assert start < stop, "please provide ordered node index ranges"
        assert step > 0
        assert pad >= 0
        assert step == 1 or (stop - start) // step < MAX_STEPPED_ELEMENTS, \
            "range too large"
        lo, hi = _R.intervals_for_range(start, stop, step, pad)
        self._update_intervals(lo, hi)

    def _update_intervals(self, lo, hi):
        if len(lo) <= 2:
            for start, stop in zip(lo, hi):
                _R.insert(self._lo, self._hi, start, stop)
            self._changed()
        else:
            self._set(*_R.union(self._lo, self._hi, lo, hi))

    def copy(self) -> "RangeSet":
        """Return a shallow copy of a RangeSet."""
        cpy = self._from_intervals(self._lo[:], self._hi[:], self._autostep)
        cpy._len = self._len
        return cpy

    __copy__ = copy

    def _intervals_of(self, other, strict=True):
        """(lo, hi) of another RangeSet or iterable of elements."""
        if isinstance(other, RangeSet):
            return other._lo, other._hi
        if isinstance(other, str):
            raise TypeError("RangeSet operand must be a set of indexes, "
                            "not a string")
        return _R.from_sorted_keys(_keys_of(other, strict))

    # -- comparisons -----------------------------------------------------

    def __eq__(self, other):
        if isinstance(other, RangeSet):
            return self._lo == other._lo and self._hi == other._hi
        if isinstance(other, (set, frozenset)):
            return set(self.striter()) == other
        return NotImplemented

    __hash__ = None

    def issubset(self, other) -> bool:
        """Report whether another set contains this RangeSet."""
        self._binary_sanity_check(other)
        if isinstance(other, RangeSet):
            return _R.issubset(self._lo, self._hi, other._lo, other._hi)
        return all(elem in other for elem in self.striter())

    def issuperset(self, other) -> bool:
        """Report whether this RangeSet contains another set."""
        self._binary_sanity_check(other)
        if isinstance(other, RangeSet):
            return _R.issubset(other._lo, other._hi, self._lo, self._hi)
        return all(self._has(elem) for elem in other)

    def isdisjoint(self, other) -> bool:
        """Whether this RangeSet and another set have no element in common."""
        lo, hi = self._intervals_of(other, strict=False)
        return _R.isdisjoint(self._lo, self._hi, lo, hi)

    def _has(self, element):
        try:
            key = _R.key_of(element if isinstance(element, str) else str(element))
        except ValueError:
            return False
        return _R.contains(self._lo, self._hi, key)

    def __contains__(self, element) -> bool:
        """Membership of an element (string or integer), or subset test for
        a set."""
        if isinstance(element, (set, frozenset)):     # RangeSet included
            return self.issuperset(element)
        return self._has(element)

    # -- set operations ----------------------------------------------------

    def union(self, other) -> "RangeSet":
        """New RangeSet with the elements of both sets."""
        lo, hi = self._intervals_of(other)
        return self._from_intervals(*_R.union(self._lo, self._hi, lo, hi),
                                    self._autostep)

    def intersection(self, other) -> "RangeSet":
        """New RangeSet with the elements common to both sets."""
        lo, hi = self._intervals_of(other, strict=False)
        return self._from_intervals(*_R.intersection(self._lo, self._hi, lo, hi),
                                    self._autostep)

    def difference(self, other) -> "RangeSet":
        """New RangeSet with the elements of this set not in the other."""
        lo, hi = self._intervals_of(other, strict=False)
        return self._from_intervals(*_R.difference(self._lo, self._hi, lo, hi),
                                    self._autostep)

    def symmetric_difference(self, other) -> "RangeSet":
        """New RangeSet with the elements in exactly one of the sets."""
        lo, hi = self._intervals_of(other)
        return self._from_intervals(
            *_R.symmetric_difference(self._lo, self._hi, lo, hi), self._autostep)

    # plain set on the left: Python asks these first (RangeSet is a subclass)
    def _reflected(self, other, operator):
        if not isinstance(other, (set, frozenset)):
            return NotImplemented
        return operator(other, set(self.striter()))

    def __ror__(self, other):
        return self._reflected(other, set.__or__)

    def __rand__(self, other):
        return self._reflected(other, set.__and__)

    def __rxor__(self, other):
        return self._reflected(other, set.__xor__)

    def __rsub__(self, other):
        return self._reflected(other, set.__sub__)

    def union_update(self, other) -> None:
        """Add the elements of another set."""
        self.update(other)

    def intersection_update(self, other) -> None:
        """Keep only the elements also in another set."""
        lo, hi = self._intervals_of(other, strict=False)
        self._set(*_R.intersection(self._lo, self._hi, lo, hi))

    def symmetric_difference_update(self, other) -> None:
        """Keep the elements in exactly one of this set and another."""
        lo, hi = self._intervals_of(other)
        self._set(*_R.symmetric_difference(self._lo, self._hi, lo, hi))

    def difference_update(self, other, strict: bool = False) -> None:
        """Remove the elements of another set.  If strict, raise KeyError
        (naming one of them) when an element is not in this set."""
        if strict:
            if isinstance(other, RangeSet):
                missing = _R.difference(other._lo, other._hi, self._lo, self._hi)[0]
                if missing:
                    raise KeyError(_R.str_of(missing[0]))
            else:
                for elem in other:
                    if not self._has(elem):
                        raise KeyError(elem)
        lo, hi = self._intervals_of(other, strict=False)
        self._set(*_R.difference(self._lo, self._hi, lo, hi))

    def update(self, iterable) -> None:
        """Add all elements (strings or integers) of an iterable."""
        assert not isinstance(iterable, str)
        if isinstance(iterable, RangeSet):
            self._update_intervals(iterable._lo, iterable._hi)
        else:
            self._update_intervals(*_R.from_sorted_keys(_keys_of(iterable)))

    def updaten(self, rangesets) -> None:
        """Add the elements of several sets or range strings."""
        los = []
        his = []
        if not isinstance(rangesets, (list, tuple)):
            rangesets = list(rangesets)
        if rangesets and all(isinstance(rng, str) for rng in rangesets):
            self._update_intervals(*_intervals_of_pattern(",".join(rangesets)))
            return
        for rng in rangesets:
            if isinstance(rng, RangeSet):
                sub_lo, sub_hi = rng._lo, rng._hi
            elif isinstance(rng, (set, frozenset)):
                sub_lo, sub_hi = _R.from_sorted_keys(_keys_of(rng))
            elif isinstance(rng, str):
                sub_lo, sub_hi = _intervals_of_pattern(rng)
            else:
                other = RangeSet(rng)
                sub_lo, sub_hi = other._lo, other._hi
            los.extend(sub_lo)
            his.extend(sub_hi)
        if los:
            self._update_intervals(*_normalize(los, his))

    def clear(self) -> None:
        """Remove all elements."""
        self._set([], [])

    def add(self, element, pad: int = 0) -> None:
        """Add an element: a string, or an integer zero-padded to pad."""
        key = _key_of_element(element, pad)
        _R.insert(self._lo, self._hi, key, key + 1)
        self._changed()

    def remove(self, element, pad: int = 0) -> None:
        """Remove an element (string, or integer with padding); KeyError if
        it is not in the set."""
        if isinstance(element, str):
            text = element
        else:
            text = "%0*d" % (pad, int(element))
        try:
            key = _R.key_of(text)
        except ValueError:
            raise KeyError(text)
        if not _R.contains(self._lo, self._hi, key):
            raise KeyError(text)
        _R.cut(self._lo, self._hi, key, key + 1)
        self._changed()

    def discard(self, element, pad: int = 0) -> None:
        """Remove an element if present."""
        try:
            key = _key_of_element(element, pad)
        except ValueError:
            return
        _R.cut(self._lo, self._hi, key, key + 1)
        self._changed()

    def pop(self) -> str:
        """Remove and return the first element; KeyError if empty."""
        if not self._lo:
            raise KeyError('pop from an empty set')
        key = self._lo[0]
        _R.cut(self._lo, self._hi, key, key + 1)
        self._changed()
        return _R.str_of(key)

    def __sizeof__(self) -> int:
        return (set.__sizeof__(self) + self._lo.__sizeof__()
                + self._hi.__sizeof__())


from clusterpy._rangesetnd import RangeSetND  # noqa: E402
