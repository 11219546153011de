"""Scanning node set strings into (pattern, indexes) operands.

Theory of operation
-------------------
A node set string is a list of *operands* joined by the operators ``,``
``!`` ``&`` ``^`` (applied left to right).  An operand is a node name whose
numbers may be bracketed range sets: ``x[1-2]y3-ib[01-04]``.  Scanning an
operand gives its *pattern*, the name with ``%s`` for each number
(``x%sy%s-ib%s``, literal ``%`` doubled), and one RangeSet per number.

Digits glued to a bracket belong to its numbers: ``node1[0-2]`` is
``node[10-12]`` and ``node[1-2]0`` is ``node[10-20/10]``.

Plain names (no bracket, operator, group or wildcard) also have a batch
path: thousands of them are split with a few regular expression passes over
their concatenation, and their indexes become RangeSets in bulk.

The exception classes live here so that the scanner can raise them; they
are public as ``clusterpy.NodeSet.*``.
"""

import re
import string
from itertools import accumulate, repeat
from operator import add

from clusterpy import _ranges as _R
from clusterpy.RangeSet import RangeSet, RangeSetND, RangeSetParseError, _FaultyPart

# numbers of a name, as ClusterShell splits them (Unicode digits)
_NUMBERS = re.compile(r"(\d+)")
# ASCII numbers, for the batch path (names are checked to be ASCII)
DIGIT_RUNS = re.compile(r"([0-9]+)")
OPERATORS = re.compile(r"[,!&^]")
# a name free of any operator, bracket, group, wildcard or blank
PLAIN_NAME = re.compile(r"[^\[\],!&^@*?\s]+")
# comma-separated names free of the above but commas and blanks
PLAIN_LIST = re.compile(r"[^\[\]!&^@*?]+")
# one operand of texts without digit and bracketed range sets without
# blank or step, such as r[0-19]c[0-39]n[0-9]: no digit joins a bracket
_TEXT = r"[^\[\]\d,!&^@*?\s]"
SIMPLE_OPERAND = re.compile(r"%s*(?:\[[0-9,-]+\]%s+)*\[[0-9,-]+\]%s*" % ((_TEXT,) * 3))
_BRACKETED = re.compile(r"\[([0-9,-]+)\]")
# anything a plain name may not hold, for a list joined with newlines
NOT_PLAIN = re.compile(r"[\[\],!&^@*?\t\r\f\v\x1c-\x1f\x85\xa0 ]|[^\x00-\x7f]")


class NodeSetException(Exception):
    """Base NodeSet exception class."""


class NodeSetError(NodeSetException):
    """Raised when an error is encountered."""


class NodeSetParseError(_FaultyPart, NodeSetError):
    """Raised when a node set string cannot be parsed."""

    _SEPARATOR = ": "


class NodeSetParseRangeError(NodeSetParseError):
    """Raised when a bracketed range set cannot be parsed."""

    def __init__(self, rset_exc):
        super().__init__(str(rset_exc), "bad range")


class NodeSetExternalError(NodeSetError):
    """Raised when an external error is encountered."""


for _cls in (NodeSetException, NodeSetError, NodeSetParseError,
             NodeSetParseRangeError, NodeSetExternalError):
    _cls.__module__ = "clusterpy.NodeSet"
del _cls


def escape(text):
    """Trim blanks and double '%' for use in a pattern."""
    return text.strip().replace('%', '%%')


def index_key(digits):
    """Element key of an index written in a node name (error past 1e100)."""
    if digits.isascii():
        if len(digits) > 100 and int(digits) > 1e100:
            raise NodeSetParseRangeError(
                RangeSetParseError(digits, "invalid rangeset index"))
        return _R.key_of(digits)
    value = int(digits)     # other Unicode digits: value and zero-padding
    if value > 1e100:
        raise NodeSetParseRangeError(
            RangeSetParseError(digits, "invalid rangeset index"))
    padded = digits[0] == '0' if value else len(digits) > 1
    return _R.key_of_int(value, len(digits) if padded else 0)


def index_object(rangesets, autostep):
    """What a pattern maps to: its RangeSet, a RangeSetND of its
    RangeSets, or None for a name without number."""
    if not rangesets:
        return None
    if len(rangesets) == 1:
        return rangesets[0]
    return RangeSetND([rangesets], None, autostep, copy_rangeset=False)


def scan_name(name, autostep):
    """(pattern, [RangeSet]) of one escaped node name without bracket."""
    if not name:
        raise NodeSetParseError(name, "parse error")
    parts = _NUMBERS.split(name)
    rangesets = []
    for digits in parts[1::2]:
        key = index_key(digits)
        rangeset = RangeSet._from_intervals([key], [key + 1], None)
        rangeset.autostep = autostep
        rangesets.append(rangeset)
    return "%s".join(parts[0::2]), rangesets


def _shift_leading_digits(head, ranges):
    """Digits ending the text before a bracket join its numbers:
    ``node1[0-2]`` is ``node[10-12]``.  Return (text, ranges)."""
    stem = head.rstrip(string.digits)
    digits = head[len(stem):]
    if digits:
        pieces = (str(piece).split('-') for piece in RangeSet(ranges).contiguous())
        ranges = ','.join('-'.join(digits + bound for bound in bounds)
                          for bounds in pieces)
    return stem, ranges


def _shift_trailing_digits(tail, ranges):
    """Digits starting the text after a bracket join its numbers, which
    then step by a power of ten: ``node[1-2]0`` is ``node[10-20/10]``.
    Return (text, ranges)."""
    rest = tail.lstrip(string.digits)
    digits = tail[:len(tail) - len(rest)]
    if not digits:
        return tail, ranges
    if '/' in ranges:
        raise NodeSetParseError(tail, "illegal trailing digits after range "
                                "with steps")
    step = '/1' + '0' * len(digits)
    shifted = ['-'.join(bound + digits for bound in item.split('-'))
               for item in ranges.split(',')]
    return rest, ','.join(item + step if '-' in item else item for item in shifted)


def _scan_bracketed(text, autostep):
    """Scan the operand starting text, which holds a bracket before any
    operator: (pattern, RangeSets, text after the operator or None, that
    operator or None)."""
    pattern = ""
    rangesets = []
    tail = text
    while True:
        head, tail = tail.split('[', 1)
        ranges, closed, tail = tail.partition(']')
        if not closed:
            raise NodeSetParseError(text, "missing bracket")
        if ']' in head:
            raise NodeSetParseError(head, "illegal closing bracket")
        if tail:
            closing = tail.find(']')
            opening = tail.find('[')
            if closing >= 0 and (opening < 0 or closing < opening):
                raise NodeSetParseError(tail, "illegal closing bracket")
            try:
                tail, ranges = _shift_trailing_digits(tail, ranges)
            except RangeSetParseError as exc:
                raise NodeSetParseRangeError(exc)
        if head:
            try:
                head, ranges = _shift_leading_digits(head, ranges)
            except RangeSetParseError as exc:
                raise NodeSetParseRangeError(exc)
            if head:
                head, head_sets = scan_name(head, autostep)
                rangesets.extend(head_sets)
        following = OPERATORS.search(tail)
        bracket = tail.find('[')
        if tail[:1] == '[':
            raise NodeSetParseError(tail, "illegal reopening bracket")
        pattern += head + "%s"
        try:
            rangesets.append(RangeSet(ranges, autostep))
        except RangeSetParseError as exc:
            raise NodeSetParseRangeError(exc)
        if bracket < 0 or (following is not None and following.start() < bracket):
            break
    rest = operator = None
    if following is not None:
        operator = following.group()
        tail, rest = tail[:following.start()], tail[following.end():]
        if not rest:
            raise NodeSetParseError(None, "missing nodeset operand with "
                                    "'%s' operator" % operator)
    tail = tail.rstrip()
    if tail:
        tail, tail_sets = scan_name(tail, autostep)
        pattern += tail
        rangesets.extend(tail_sets)
    return pattern, rangesets, rest, operator


def scan_simple_operand(text, autostep):
    """(pattern, [RangeSet]) of a SIMPLE_OPERAND string."""
    parts = _BRACKETED.split(text)
    try:
        rangesets = [RangeSet(ranges, autostep) for ranges in parts[1::2]]
    except RangeSetParseError as exc:
        raise NodeSetParseRangeError(exc)
    return "%s".join(parts[0::2]), rangesets


def scan_operands(text, autostep):
    """Iterate over (operator, pattern, RangeSet/RangeSetND/None) of the
    operands of an escaped node set string; the first operator is ','."""
    operator = ','
    rest = text
    while rest:
        rest = rest.lstrip()
        found = OPERATORS.search(rest)
        bracket = rest.find('[')
        if bracket >= 0 and (found is None or bracket < found.start()):
            pattern, rangesets, rest, following = _scan_bracketed(rest, autostep)
        else:
            following = None
            operand = rest
            rest = None
            if found is not None:
                following = found.group()
                operand, rest = operand[:found.start()], operand[found.end():]
                if not operand or not rest:
                    raise NodeSetParseError(operand or rest, "missing nodeset "
                                            "operand with '%s' operator" % following)
            if ']' in operand:
                raise NodeSetParseError(operand, "illegal closing bracket")
            pattern, rangesets = scan_name(operand.rstrip(), autostep)
        yield operator, pattern, index_object(rangesets, autostep)
        operator = following


# -- plain names in bulk ---------------------------------------------------------

def plain_names(items):
    """Escaped names of a list of strings when all of them are plain node
    names (checked in one pass over their concatenation), else None."""
    try:
        joined = "\n".join(items)
    except TypeError:
        return None
    if (not joined or NOT_PLAIN.search(joined) or "\n\n" in joined
            or joined.count("\n") != len(items) - 1
            or joined[0] == "\n" or joined[-1] == "\n"):
        return None
    return joined.replace('%', '%%').split("\n")


def _columns_by_pattern(names, joined):
    """{pattern: [index strings of axis 0, of axis 1...]} of escaped ASCII
    plain names, in a few passes over their concatenation."""
    if '%' in joined:       # "%%s" would look like a number: one by one
        rows = {}
        for name in names:
            parts = DIGIT_RUNS.split(name)
            rows.setdefault("%s".join(parts[0::2]), []).append(parts[1::2])
        return {pattern: [list(column) for column in zip(*vectors)]
                for pattern, vectors in rows.items()}
    patterns = DIGIT_RUNS.sub("%s", joined).split("\n")
    numbers = DIGIT_RUNS.findall(joined)
    first = patterns[0]
    if patterns.count(first) == len(patterns):
        width = first.count("%s")
        return {first: [numbers[axis::width] for axis in range(width)]}
    # where the numbers of each name start in the flat list
    starts = {}
    offsets = accumulate(map(str.count, patterns, repeat("%s")), initial=0)
    for pattern, offset in zip(patterns, offsets):
        found = starts.get(pattern)
        if found is None:
            starts[pattern] = [offset]
        else:
            found.append(offset)
    at = numbers.__getitem__
    return {pattern: [list(map(at, map(add, offsets, repeat(axis))))
                      for axis in range(pattern.count("%s"))]
            for pattern, offsets in starts.items()}


def _check_index_sizes(numbers):
    """Raise the error of an index past 1e100, if any."""
    if max(map(len, numbers)) > 100:
        for number in numbers:
            index_key(number)


def patterns_of_plain(names, autostep):
    """{pattern: RangeSet/RangeSetND/None} of escaped plain ASCII node
    names, or None if some name is not ASCII."""
    joined = "\n".join(names)
    if not joined.isascii():
        return None
    result = {}
    for pattern, columns in _columns_by_pattern(names, joined).items():
        for column in columns:
            _check_index_sizes(column)
        if not columns:
            result[pattern] = None
        elif len(columns) == 1:
            rangeset = RangeSet._from_intervals(
                *_R.from_keys(_R.keys_of_digits(columns[0])), None)
            rangeset.autostep = autostep
            result[pattern] = rangeset
        else:
            rangeset = RangeSetND._from_columns(columns)
            rangeset.autostep = autostep
            result[pattern] = rangeset
    return result
