"""Folding of n-dimensional index sets into vectors of ranges.

Theory of operation
-------------------
An nD set (RangeSetND, or the indexes of a NodeSet pattern such as
``x%sc%sn%s``) is printed as a list of *vectors*: one range set per axis,
standing for their cartesian product.  Many vector lists describe the same
points; the one printed must be the one ClusterShell 1.10.1 prints.  Its
rule is a greedy merge over the individual points:

1. each point is a vector of single indexes; sort the vectors by
   (-size, then per axis (-count, first index, last index)), indexes
   compared as strings;
2. an *easy pass* walks the sorted list and merges each vector into its
   predecessor when they differ on one axis only, there disjoint or nested;
3. repeat 1-2 while something merged; then *full passes* try every pair,
   until a full pass merges nothing.

The result is a function of the point set alone.  This module computes it
without objects per point: an axis value is a pair of tuples (interval
starts, interval ends) of element keys (see ``clusterpy._ranges``), so that
equality is a tuple comparison.  Two shortcuts give the same answer without
expanding points: a point set that is a full cartesian product (a box) folds
to that one box.  Past ``MAX_POINTS`` points the exact greedy order would
take hours, so disjoint boxes are kept instead (documented deviation).
"""

from itertools import compress, product
from operator import is_not

from clusterpy import _ranges as _R

#: largest point count folded exactly; beyond, boxes are kept as they are
MAX_POINTS = 2000000


def _single(key, cache):
    """Axis value of one key (shared per key)."""
    value = cache.get(key)
    if value is None:
        value = cache[key] = ((key,), (key + 1,))
    return value


def _count(value):
    lo, hi = value
    if len(lo) == 1:
        return hi[0] - lo[0]
    return sum(hi) - sum(lo)


def _merge_values(val1, val2):
    """Relation of two different axis values: (merged value, True) when they
    are disjoint (union) or nested (the larger), (None, False) when they
    partly overlap."""
    lo1, hi1 = val1
    lo2, hi2 = val2
    if len(lo1) == 1 and len(lo2) == 1:
        a, b, c, d = lo1[0], hi1[0], lo2[0], hi2[0]
        if b < c:
            return ((a, c), (b, d)), True
        if d < a:
            return ((c, a), (d, b)), True
        if b == c:
            return ((a,), (d,)), True
        if d == a:
            return ((c,), (b,)), True
        if c <= a and b <= d:
            return val2, True
        if a <= c and d <= b:
            return val1, True
        return None, False
    inter = _R.intersection(lo1, hi1, lo2, hi2)[0]
    if not inter:
        new_lo, new_hi = _R.union(list(lo1), list(hi1), list(lo2), list(hi2))
        return (tuple(new_lo), tuple(new_hi)), True
    if _R.issubset(lo1, hi1, lo2, hi2):
        return val2, True
    if _R.issubset(lo2, hi2, lo1, hi1):
        return val1, True
    return None, False


def _merge(vec1, vec2):
    """Merged vector when vec1 and vec2 differ on one axis at most, where
    they are disjoint or nested; else None."""
    pos = -1
    # axis values are shared tuples: only axes holding distinct objects
    # may differ
    for axis in compress(range(len(vec1)), map(is_not, vec1, vec2)):
        val1 = vec1[axis]
        val2 = vec2[axis]
        if val1 == val2:
            continue
        if pos >= 0:
            return None
        merged, ok = _merge_values(val1, val2)
        if not ok:
            return None
        pos = axis
    if pos < 0:
        return vec1
    return vec1[:pos] + (merged,) + vec1[pos + 1:]


class _SortKeys:
    """Sort key of vectors: larger first, then per axis larger first, lower
    first index first, lower last index first (indexes compared as
    strings).  Per-value parts are cached: values are shared tuples."""

    def __init__(self, names):
        self.names = names
        self.parts = {}

    def _part(self, value):
        part = self.parts.get(value)
        if part is None:
            lo, hi = value
            names = self.names
            first = names.get(lo[0])
            if first is None:
                first = names[lo[0]] = _R.str_of(lo[0])
            last = names.get(hi[-1] - 1)
            if last is None:
                last = names[hi[-1] - 1] = _R.str_of(hi[-1] - 1)
            part = self.parts[value] = (-_count(value), first, last)
        return part

    def __call__(self, vec):
        parts = tuple(map(self._part, vec))
        size = 1
        for part in parts:
            size *= -part[0]
        return -size, parts


def _first_pass(points):
    """The first easy pass, over sorted single points: a point absorbs the
    following points that differ from it on one same axis only."""
    cache = {}
    out = []
    append = out.append
    changed = False
    count = len(points)
    idx = 0
    while idx < count:
        point = points[idx]
        nxt = idx + 1
        axis = -1
        if nxt < count:
            diffs = [pos for pos, (a, b) in enumerate(zip(point, points[nxt])) if a != b]
            if len(diffs) == 1:
                axis = diffs[0]
        if axis < 0:
            append(tuple(_single(key, cache) for key in point))
            idx = nxt
            continue
        head = point[:axis]
        tail = point[axis + 1:]
        end = nxt + 1
        while end < count:
            other = points[end]
            if other[:axis] != head or other[axis + 1:] != tail:
                break
            end += 1
        lo, hi = _R.from_keys([pt[axis] for pt in points[idx:end]])
        vec = [_single(key, cache) for key in point]
        vec[axis] = (tuple(lo), tuple(hi))
        append(tuple(vec))
        changed = True
        idx = end
    return out, changed


def _easy_pass(veclist):
    """Merge each vector into its predecessor while possible."""
    out = []
    changed = False
    cur = veclist[0]
    for vec in veclist[1:]:
        merged = _merge(cur, vec)
        if merged is None:
            out.append(cur)
            cur = vec
        else:
            cur = merged
            changed = True
    out.append(cur)
    return out, changed


def _full_pass(veclist):
    """Merge each vector with any later one, in place."""
    changed = False
    first = 0
    while first + 1 < len(veclist):
        cur = veclist[first]
        other = first + 1
        while other < len(veclist):
            merged = _merge(cur, veclist[other])
            if merged is None:
                other += 1
            else:
                cur = veclist[first] = merged
                del veclist[other]
                changed = True
        first += 1
    return changed


def fold_points(points, names=None):
    """Fold distinct points (tuples of keys) into vectors (tuples of axis
    values), ordered as printed.  names may map keys to element strings."""
    if names is None:
        names = {}
    points = list(points)
    if len(points) <= 1:
        return [tuple(((key,), (key + 1,)) for key in point) for point in points]
    # first sort: single points order as their tuples of index strings
    columns = list(zip(*points))
    for column in columns:
        for key in set(column).difference(names):
            names[key] = _R.str_of(key)
    text_points = list(zip(*[map(names.__getitem__, column) for column in columns]))
    order = sorted(range(len(points)), key=text_points.__getitem__)
    veclist, changed = _first_pass([points[idx] for idx in order])
    sortkey = _SortKeys(names)
    full = not changed
    changed = True
    while changed:
        veclist.sort(key=sortkey)
        if full:
            changed = _full_pass(veclist)
        else:
            veclist, changed = _easy_pass(veclist)
            if not changed:
                changed = full = True
    return veclist


def box_sub(box, other):
    """Disjoint boxes covering box minus other (boxes are sequences of
    (lo, hi) interval lists per axis)."""
    inters = []
    for (alo, ahi), (blo, bhi) in zip(box, other):
        inter = _R.intersection(alo, ahi, blo, bhi)
        if not inter[0]:
            return [box]
        inters.append(inter)
    pieces = []
    cur = list(box)
    for axis, (blo, bhi) in enumerate(other):
        rest = _R.difference(cur[axis][0], cur[axis][1], blo, bhi)
        if rest[0]:
            pieces.append(tuple(cur[:axis]) + (rest,) + tuple(cur[axis + 1:]))
        cur[axis] = inters[axis]
    return pieces


def box_and(box, other):
    """Intersection of two boxes, or None if empty."""
    out = []
    for (alo, ahi), (blo, bhi) in zip(box, other):
        inter = _R.intersection(alo, ahi, blo, bhi)
        if not inter[0]:
            return None
        out.append(inter)
    return tuple(out)


def disjoint(boxes):
    """Disjoint boxes with the same union."""
    result = []
    for box in boxes:
        pieces = [box]
        for done in result:
            pieces = [piece for part in pieces for piece in box_sub(part, done)]
            if not pieces:
                break
        result.extend(pieces)
    return result


def box_size(box):
    size = 1
    for lo, hi in box:
        size *= _R.count(lo, hi)
    return size


def _values(box):
    return tuple((tuple(lo), tuple(hi)) for lo, hi in box)


def fold_boxes(boxes):
    """Fold boxes (sequences of (lo, hi) interval lists per axis, maybe
    overlapping) into vectors of axis values, ordered as printed.  Past
    MAX_POINTS points, return disjoint boxes unless their union is a box."""
    if len(boxes) == 1:
        return [_values(boxes[0])]
    axes = []
    for axis in range(len(boxes[0])):
        lo, hi = [], []
        for box in boxes:
            lo, hi = _R.union(lo, hi, *box[axis])
        axes.append((lo, hi))
    whole = box_size(axes)
    if sum(map(box_size, boxes)) > MAX_POINTS:
        parts = disjoint(boxes)
        if sum(map(box_size, parts)) == whole:
            return [_values(axes)]
        veclist = [_values(part) for part in parts]
        veclist.sort(key=_SortKeys({}))
        return veclist
    points = set()
    for box in boxes:
        points.update(product(*[[key for start, stop in zip(lo, hi)
                                 for key in range(start, stop)]
                                for lo, hi in box]))
    if len(points) == whole:
        return [_values(axes)]
    return fold_points(points)


def fold_columns(columns):
    """Fold the points given as aligned per-axis lists of element strings
    (duplicates allowed): vectors of axis values, ordered as printed."""
    keymaps = []
    size = 1
    for column in columns:
        keymap = {text: _R.key_of(text) for text in set(column)}
        keymaps.append(keymap)
        size *= len(keymap)
    points = set(zip(*columns))
    if len(points) == size:
        return [tuple(_R.from_sorted_keys(sorted(keymap.values()))
                      for keymap in keymaps)]
    names = {key: text for keymap in keymaps for text, key in keymap.items()}
    keyed = zip(*[map(keymap.__getitem__, column)
                  for keymap, column in zip(keymaps, zip(*points))])
    return fold_points(keyed, names)


def is_box(points):
    """Per-axis sorted keys if the distinct points form a full cartesian
    product, else None."""
    axes = [set(column) for column in zip(*points)]
    size = 1
    for keys in axes:
        size *= len(keys)
    if size != len(points):
        return None
    return [sorted(keys) for keys in axes]
