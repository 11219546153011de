"""Interval algebra behind RangeSet.

Theory of operation
-------------------
A RangeSet element is a decimal string: "7", "007", "-3".  Two strings with
the same value but another width ("7" and "07") are distinct elements, and
elements iterate by (width, value), negative numbers first.

Every element maps to one integer *key* that keeps this order:

* a non-negative string of width ``w`` and value ``v`` has key
  ``_BASES[w - 1] + v``, where ``_BASES[w] = _BASES[w - 1] + 10**w + 1``: the
  keys of width ``w`` fill ``[_BASES[w - 1], _BASES[w - 1] + 10**w)`` and one
  unused key separates two widths;
* a negative value ``v`` (never padded) has key ``v - 1``, so that ``-1``
  separates negatives from width 1.

A set is two lists, ``lo`` and ``hi``: sorted, disjoint, non-adjacent
half-open key intervals ``[lo[i], hi[i])``.  Thanks to the unused separator
keys an interval never spans two widths.  This form is canonical (equal sets
have equal lists), costs two integers per interval whatever its length, and
makes the set operations merges over intervals, never over elements.

Invariant to keep: ``lo[i] < hi[i] < lo[i + 1]`` for every ``i``.
"""

from bisect import bisect_left, bisect_right
from itertools import accumulate, chain, compress, islice, repeat
from operator import lt, sub

#: _BASES[w - 1] is the key of value 0 written with width w
_BASES = [0]


def _grow(width):
    """Extend _BASES so that widths up to ``width`` (inclusive) are known."""
    bases = _BASES
    while len(bases) <= width:
        bases.append(bases[-1] + 10 ** len(bases) + 1)


_grow(40)


def base(width):
    """Key of value 0 at the given width (>= 1)."""
    if width >= len(_BASES):
        _grow(width)
    return _BASES[width - 1]


def width_of(key):
    """Width of the class holding ``key``: 0 for negatives."""
    if key < 0:
        return 0
    if key >= _BASES[-1]:
        while key >= _BASES[-1]:
            _grow(len(_BASES) * 2)
    return bisect_right(_BASES, key)


def key_of(text):
    """Key of an element string; ValueError if it is not one."""
    if text.isdigit() and text.isascii():
        width = len(text)
        if width >= len(_BASES):
            _grow(width)
        return _BASES[width - 1] + int(text)
    if text[:1] == "-" and text[1:2] != "0" and text[1:].isdigit() and text.isascii():
        return int(text) - 1
    raise ValueError("invalid index %r" % (text,))


def bases_of_widths(widths):
    """Iterator over base(width) of a list of widths (in C)."""
    widest = max(widths)
    if widest >= len(_BASES):
        _grow(widest)
    return map(_BASES.__getitem__, map(sub, widths, repeat(1)))


def keys_of_digits(texts):
    """Keys of a list of ASCII digit strings (the loops run in C)."""
    return list(map(int.__add__, bases_of_widths(list(map(len, texts))),
                    map(int, texts)))


def key_of_int(value, pad=0):
    """Key of ``"%0*d" % (pad, value)`` (padding is ignored for negatives)."""
    if value < 0:
        return value - 1
    width = len(str(value))
    width = max(width, pad)
    if width >= len(_BASES):
        _grow(width)
    return _BASES[width - 1] + value


def str_of(key):
    """Element string of a key."""
    if key < 0:
        return str(key + 1)
    width = width_of(key)
    return "%0*d" % (width, key - _BASES[width - 1])


def classes(lo):
    """Yield (width, base, first, end) for each width class present in the
    sorted interval list: intervals first..end-1 belong to that class."""
    count = len(lo)
    first = 0
    while first < count:
        key = lo[first]
        width = width_of(key)
        if width == 0:
            kbase = -1
            end = bisect_left(lo, 0, first)
        else:
            kbase = _BASES[width - 1]
            end = bisect_left(lo, _BASES[width], first)
        yield width, kbase, first, end
        first = end


def class_padded(lo, width, kbase, first):
    """Whether the class of classes() starting at interval ``first`` holds
    zero-padded elements (its lowest value has fewer digits than width)."""
    return width > 1 and lo[first] - kbase < 10 ** (width - 1)


def class_values(lo, hi, kbase, first, end):
    """Iterator over the values of intervals first..end-1 of one class."""
    return chain.from_iterable(_value_chunks(lo, hi, kbase, first, end))


def _value_chunks(lo, hi, kbase, first, end):
    """Iterables of the values of intervals first..end-1 of one class:
    single keys are gathered one by one (cheaper than a range each) and
    shifted by the class base in C; long intervals are lazy ranges.
    Intervals are taken 1024 at a time, which bounds the lists."""
    for batch in range(first, end, 1024):
        chunk = []
        append = chunk.append
        stop_at = min(batch + 1024, end)
        for start, stop in zip(islice(lo, batch, stop_at), islice(hi, batch, stop_at)):
            if stop - start == 1:
                append(start)
            elif stop - start < 64:
                chunk.extend(range(start, stop))
            else:
                if chunk:
                    yield map(sub, chunk, repeat(kbase))
                    chunk = []
                    append = chunk.append
                yield range(start - kbase, stop - kbase)
        if chunk:
            yield map(sub, chunk, repeat(kbase))


def class_formats(lo):
    """Yield (printf format of the values, base, first, end) per class."""
    for width, kbase, first, end in classes(lo):
        padded = class_padded(lo, width, kbase, first)
        yield ("%%0%dd" % width if padded else "%d"), kbase, first, end


def iter_strs(lo, hi, head="", tail=""):
    """Iterate element strings in order, each between head and tail (which
    must not hold '%'); the loops run in C."""
    return chain.from_iterable(
        map((head + fmt + tail).__mod__, class_values(lo, hi, kbase, first, end))
        for fmt, kbase, first, end in class_formats(lo))


def unpadded_range(begin, end):
    """Key intervals of the range "begin-end" of unpadded digit strings
    (begin <= end, at most 100 digits): one interval per width."""
    first = len(begin)
    last = len(end)
    if last >= len(_BASES):
        _grow(last)
    bases = _BASES
    if first == last:
        kbase = bases[first - 1]
        return [kbase + int(begin)], [kbase + int(end) + 1]
    los = [bases[first - 1] + int(begin)]
    his = [bases[first - 1] + 10 ** first]
    for width in range(first + 1, last):
        los.append(bases[width - 1] + 10 ** (width - 1))
        his.append(bases[width - 1] + 10 ** width)
    los.append(bases[last - 1] + 10 ** (last - 1))
    his.append(bases[last - 1] + int(end) + 1)
    return los, his


def intervals_for_range(start, stop, step, pad):
    """Key intervals of the elements ``"%0*d" % (pad, i)`` for
    ``i in range(start, stop, step)`` (padding ignored for negatives)."""
    los = []
    his = []
    if start >= stop:
        return los, his
    if step == 1 and start >= 0 and len(str(stop - 1)) <= max(pad, len(str(start))):
        # one width class
        kbase = base(max(pad, len(str(start)), 1))
        return [kbase + start], [kbase + stop]
    if start < 0:
        neg_stop = min(0, stop)
        if step == 1:
            los.append(start - 1)
            his.append(neg_stop - 1)
        else:
            keys = range(start - 1, neg_stop - 1, step)
            los.extend(keys)
            his.extend(range(start, neg_stop, step))
        if stop <= 0:
            return los, his
        # first non-negative element of the progression
        start -= (start // step) * step
    width = max(1, pad)
    high = 10 ** width
    while start < stop:
        if start < high:
            seg_stop = min(high, stop)
            kbase = base(width)
            if step == 1:
                los.append(kbase + start)
                his.append(kbase + seg_stop)
                start = seg_stop
            else:
                los.extend(range(kbase + start, kbase + seg_stop, step))
                his.extend(range(kbase + start + 1, kbase + seg_stop + 1, step))
                start += -((start - seg_stop) // step) * step
        width += 1
        high *= 10
    return los, his


def from_sorted_keys(keys):
    """Intervals of a sorted list of distinct keys."""
    if not keys:
        return [], []
    # a new interval starts wherever a key is not its predecessor + 1
    gaps = list(map(lt, map((1).__add__, keys), islice(keys, 1, None)))
    lo = [keys[0]]
    lo.extend(compress(islice(keys, 1, None), gaps))
    hi = [k + 1 for k in compress(keys, gaps)]
    hi.append(keys[-1] + 1)
    return lo, hi


def from_keys(keys):
    """Intervals of any iterable of keys."""
    if not isinstance(keys, list):
        keys = list(keys)
    if not all(map(lt, keys, islice(keys, 1, None))):    # not increasing
        keys = sorted(set(keys))
    return from_sorted_keys(keys)


def count(lo, hi):
    """Number of elements."""
    return sum(hi) - sum(lo)


def contains(lo, hi, key):
    """Whether key is in the set."""
    idx = bisect_right(lo, key) - 1
    return idx >= 0 and key < hi[idx]


def union(alo, ahi, blo, bhi):
    """Union of two interval lists (new lists)."""
    if not blo:
        return alo[:], ahi[:]
    if not alo:
        return blo[:], bhi[:]
    if ahi[-1] < blo[0]:
        return alo + blo, ahi + bhi
    if bhi[-1] < alo[0]:
        return blo + alo, bhi + ahi
    # separately sorted starts and ends: a new interval starts at S[i+1]
    # exactly when E[i] < S[i+1] (coverage drops to zero between them)
    starts = sorted(alo + blo)
    ends = sorted(ahi + bhi)
    gaps = list(map(lt, ends, islice(starts, 1, None)))
    lo = [starts[0]]
    lo.extend(compress(islice(starts, 1, None), gaps))
    hi = list(compress(ends, gaps))
    hi.append(ends[-1])
    return lo, hi


def insert(lo, hi, start, stop):
    """Add the interval [start, stop) in place."""
    first = bisect_left(hi, start)      # first interval ending at or after start
    last = bisect_right(lo, stop)       # intervals starting at or before stop
    if first == last:
        lo.insert(first, start)
        hi.insert(first, stop)
        return
    start = min(start, lo[first])
    stop = max(stop, hi[last - 1])
    lo[first:last] = (start,)
    hi[first:last] = (stop,)


def cut(lo, hi, start, stop):
    """Remove the interval [start, stop) in place."""
    first = bisect_right(hi, start)     # first interval ending after start
    last = bisect_left(lo, stop)        # intervals starting before stop
    if first >= last:
        return
    new_lo = []
    new_hi = []
    if lo[first] < start:
        new_lo.append(lo[first])
        new_hi.append(start)
    if hi[last - 1] > stop:
        new_lo.append(stop)
        new_hi.append(hi[last - 1])
    lo[first:last] = new_lo
    hi[first:last] = new_hi


def intersection(alo, ahi, blo, bhi):
    """Intersection of two interval lists (new lists): a minus the gaps of
    b (the complement of b is its bounds shifted: built in C)."""
    if not alo or not blo or ahi[-1] <= blo[0] or bhi[-1] <= alo[0]:
        return [], []
    gap_lo = [min(alo[0], blo[0]) - 1]
    gap_lo.extend(bhi)
    gap_hi = list(blo)
    gap_hi.append(max(ahi[-1], bhi[-1]) + 1)
    return difference(alo, ahi, gap_lo, gap_hi)


def difference(alo, ahi, blo, bhi):
    """Elements of a not in b (new lists)."""
    if not alo or not blo or ahi[-1] <= blo[0] or bhi[-1] <= alo[0]:
        return alo[:], ahi[:]
    if len(blo) <= 4:
        lo = list(alo)
        hi = list(ahi)
        for start, stop in zip(blo, bhi):
            cut(lo, hi, start, stop)
        return lo, hi
    lo = []
    hi = []
    na = len(alo)
    nb = len(blo)
    j = 0
    for i in range(na):
        start = alo[i]
        stop = ahi[i]
        # skip b intervals entirely before this one
        while j < nb and bhi[j] <= start:
            j += 1
        k = j
        while k < nb and blo[k] < stop:
            b_lo = blo[k]
            if b_lo > start:
                lo.append(start)
                hi.append(b_lo)
            b_hi = bhi[k]
            if b_hi >= stop:
                start = stop
                break
            start = b_hi
            k += 1
        if start < stop:
            lo.append(start)
            hi.append(stop)
        j = k
    return lo, hi


def symmetric_difference(alo, ahi, blo, bhi):
    """Elements in exactly one of a and b (new lists)."""
    if not alo:
        return blo[:], bhi[:]
    if not blo:
        return alo[:], ahi[:]
    if ahi[-1] < blo[0] or bhi[-1] < alo[0]:
        return union(alo, ahi, blo, bhi)
    # every interval bound toggles membership; a bound shared by a and b
    # toggles twice and vanishes
    bounds = set(alo)
    bounds.update(ahi)
    other = set(blo)
    other.update(bhi)
    bounds ^= other
    points = sorted(bounds)
    return points[0::2], points[1::2]


def issubset(alo, ahi, blo, bhi):
    """Whether every element of a is in b."""
    if not alo:
        return True
    if not blo or alo[0] < blo[0] or ahi[-1] > bhi[-1]:
        return False
    if len(alo) > len(blo) * 8:
        return not difference(alo, ahi, blo, bhi)[0]
    for start, stop in zip(alo, ahi):
        idx = bisect_right(blo, start) - 1
        if idx < 0 or stop > bhi[idx]:
            return False
    return True


def isdisjoint(alo, ahi, blo, bhi):
    """Whether a and b share no element."""
    return not intersection(alo, ahi, blo, bhi)[0]


def cumulative(lo, hi):
    """Element counts before each interval, plus the total at the end."""
    cum = [0]
    cum.extend(accumulate(map(sub, hi, lo)))
    return cum


def key_at(lo, cum, position):
    """Key at a position (0 <= position < total) given cumulative()."""
    idx = bisect_right(cum, position) - 1
    return lo[idx] + position - cum[idx]


def rank(lo, cum, key):
    """Position of a key known to be in the set."""
    idx = bisect_right(lo, key) - 1
    return cum[idx] + key - lo[idx]


def select(lo, hi, cum, start, stop, step):
    """Intervals of the elements at positions range(start, stop, step),
    with 0 <= start, stop <= total and step >= 1."""
    if start >= stop:
        return [], []
    first = bisect_right(cum, start) - 1
    last = bisect_right(cum, stop - 1) - 1
    if step == 1:
        new_lo = lo[first:last + 1]
        new_hi = hi[first:last + 1]
        new_lo[0] = lo[first] + start - cum[first]
        new_hi[-1] = lo[last] + stop - cum[last]
        return new_lo, new_hi
    keys = []
    pos = start
    for idx in range(first, last + 1):
        end = cum[idx + 1]
        if pos >= end:
            continue
        offset = lo[idx] - cum[idx]
        limit = min(end, stop)
        keys.extend(range(pos + offset, limit + offset, step))
        pos += -((pos - limit) // step) * step
    return keys, [k + 1 for k in keys]


# -- folding ---------------------------------------------------------------
#
# The folded string lists *runs*: progressions of elements printed as "a-b"
# (step 1), "a-b/s" (when autostep allows) or one by one.  A run also has a
# padding state, taken from the element that opened it: a run opened by a
# zero-padded element of width w only holds elements of width w, a run
# opened by an unpadded element only holds unpadded elements (any width).
# The rules below are ClusterShell's, corner cases included (a run that
# restarts at the last element of a failed progression keeps the padding
# state of that progression).


def value_intervals(lo, hi):
    """Yield (start, stop, width) value intervals, in element order."""
    for width, kbase, first, end in classes(lo):
        for idx in range(first, end):
            yield lo[idx] - kbase, hi[idx] - kbase, width


def _pieces(lo, hi):
    """Yield (start, stop, padded, width): value intervals of elements of
    the same width and zero-padding, in element order."""
    for width, kbase, first, end in classes(lo):
        if width <= 1:
            for idx in range(first, end):
                yield lo[idx] - kbase, hi[idx] - kbase, False, width
            continue
        limit = 10 ** (width - 1)
        for idx in range(first, end):
            start = lo[idx] - kbase
            stop = hi[idx] - kbase
            if start < limit < stop:
                yield start, limit, True, width
                yield limit, stop, False, width
            else:
                yield start, stop, start < limit, width


def fold_slices(lo, hi, autostep, last_autostep):
    """Runs as (start, stop, step, pad) value slices, folding a progression
    into one run when it holds more than ``autostep`` steps; the last run
    is judged with ``last_autostep`` and, when it is a single element, has
    step None."""
    out = []
    append = out.append
    start = step = last = None
    run_padded = False
    run_width = 0
    for p_start, p_stop, padded, width in _pieces(lo, hi):
        # a progression of alike elements: feeding its first two elements
        # sets the step, the others can only extend the run
        for elem in ((p_start,) if p_stop - p_start == 1 else (p_start, p_start + 1)):
            if start is None:
                start = last = elem
                run_padded = padded
                run_width = width
                continue
            pad_break = width != run_width if run_padded else padded
            gap = elem - last
            step_break = not pad_break and step is not None and step != gap
            if not (pad_break or step_break):
                step = gap
                last = elem
                continue
            pad = run_width if run_padded else 0
            run_step = 1 if step is None else step
            if step is None or step == 1 or last - start >= autostep * step:
                append((start, last + 1, run_step, pad))
                start = elem
                run_padded = padded
                run_width = width
            else:
                for j in range(start, last + 1 if pad_break else last - step + 1,
                               step):
                    append((j, j + 1, 1, pad))
                if pad_break:
                    start = elem
                    run_padded = padded
                    run_width = width
                else:
                    start = last
            step = gap if step_break else None
            last = elem
        if p_stop - p_start > 2:
            last = p_stop - 1
    if start is not None:
        pad = run_width if run_padded else 0
        if step is None or step == 1 or last - start >= last_autostep * step:
            append((start, last + 1, step, pad))
        else:
            for j in range(start, last + 1, step):
                append((j, j + 1, 1, pad))
    return out


def fold_plain(lo, hi):
    """Folded range strings without steps (autostep off) when the rules
    above reduce to "maximal runs of consecutive values": the set has no
    zero-padded element, or a single width.  None otherwise."""
    widths = list(classes(lo))
    if len(widths) == 1:
        width, kbase, first, end = widths[0]
        pad = width if width > 1 else 0
    else:
        for width, kbase, first, _ in widths:
            if class_padded(lo, width, kbase, first):
                return None
        pad = 0
    # value intervals, joined where they touch across a width change
    vlo = []
    vhi = []
    for _, kbase, first, end in widths:
        if vhi and vhi[-1] == lo[first] - kbase:
            vhi[-1] = hi[first] - kbase
            first += 1
        vlo.extend([key - kbase for key in lo[first:end]])
        vhi.extend([key - kbase for key in hi[first:end]])
    if pad:
        fmt1 = ("%%0%dd" % pad).__mod__
        fmt2 = ("%%0%dd-%%0%dd" % (pad, pad)).__mod__
    else:
        fmt1 = str
        fmt2 = "%d-%d".__mod__
    return [fmt1(start) if stop - start == 1 else fmt2((start, stop - 1))
            for start, stop in zip(vlo, vhi)]


def format_slices(slices):
    """Folded range strings of fold_slices() output."""
    out = []
    for start, stop, step, pad in slices:
        if start + 1 == stop:
            out.append("%0*d" % (pad, start))
        elif step == 1:
            out.append("%0*d-%0*d" % (pad, start, pad, stop - 1))
        else:
            out.append("%0*d-%0*d/%d" % (pad, start, pad, stop - 1, step))
    return out
