"""Sets of cluster node names with range syntax: ``NodeSet("node[1-30]")``.

Same API, syntax, folded strings and errors as ClusterShell 1.10.1's NodeSet
module: patterns such as ``node[1-30,32]-ib``, nD names such as
``x[1000-1003]c[0-7]s0b0n[0-3]``, node groups (``@compute``, ``@source:*``)
and the string operators ``,`` (union), ``!`` (difference), ``&``
(intersection) and ``^`` (symmetric difference).

A NodeSet maps each *pattern* (the name with ``%s`` for every number, such
as ``node%s-ib``) to the RangeSet (1 number), RangeSetND (several numbers)
or None (no number) of its indexes.  Indexes are interval-based, so
``NodeSet("node[0-999999999]")`` costs no more than ``NodeSet("node[0-9]")``.
"""

import fnmatch
import re
import string
import sys
from itertools import chain, product, repeat
from typing import Iterable, Iterator, Optional

import clusterpy.NodeUtils as NodeUtils
from clusterpy import _ranges as _R
from clusterpy.Defaults import DEFAULTS, config_paths
from clusterpy.RangeSet import (AUTOSTEP_DISABLED, RangeSet, RangeSetND,
                                RangeSetParseError)

# Standard group resolver, built from groups.conf (read on first use)
DEF_GROUPS_CONFIGS = config_paths('groups.conf')
ILLEGAL_GROUP_CHARS = set("@,!&^*")
_DEF_RESOLVER_STD_GROUP = NodeUtils.GroupResolverConfig(DEF_GROUPS_CONFIGS,
                                                        ILLEGAL_GROUP_CHARS)
RESOLVER_STD_GROUP = _DEF_RESOLVER_STD_GROUP
#: resolver value: no group resolution at all
RESOLVER_NOGROUP = -1
#: resolver value: internal use (uninitialized copy)
RESOLVER_NOINIT = -2
# 1.5 compatibility names
STD_GROUP_RESOLVER = RESOLVER_STD_GROUP
NOGROUP_RESOLVER = RESOLVER_NOGROUP

# a node name is split into text and numbers with this expression
_NODE_PARTS = re.compile(r"(\D*)(\d*)")
# names free of any operator, bracket, group, wildcard or blank
_PLAIN_NAME = re.compile(r"[^\[\],!&^@*?\s]+")
# comma-separated plain names
_PLAIN_LIST = re.compile(r"[^\[\]!&^@*?]+")
_NOT_PLAIN = re.compile(r"[\[\],!&^@*?\t\r\f\v\x0b\x1c-\x1f\x85\xa0 ]|[^\x00-\x7f]")
# a name split into text and (ASCII) numbers
_DIGIT_RUNS = re.compile(r"([0-9]+)")
_OPERATORS = re.compile(r"[,!&^]")


class NodeSetException(Exception):
    """Base NodeSet exception class."""


class NodeSetError(NodeSetException):
    """Raised when an error is encountered."""


class NodeSetParseError(NodeSetError):
    """Raised when NodeSet parsing cannot be done properly."""

    def __init__(self, part, msg):
        if part:
            msg = "%s: \"%s\"" % (msg, part)
        NodeSetError.__init__(self, msg)
        #: the faulty part of the pattern
        self.part = part


class NodeSetParseRangeError(NodeSetParseError):
    """Raised when bad range is encountered during NodeSet parsing."""

    def __init__(self, rset_exc):
        NodeSetParseError.__init__(self, str(rset_exc), "bad range")


class NodeSetExternalError(NodeSetError):
    """Raised when an external error is encountered."""


def _index_key(digits):
    """Element key of a node index written in a name; error past 1e100."""
    key = _R.key_of(digits)
    if len(digits) > 100 and int(digits) > 1e100:
        raise NodeSetParseRangeError(
            RangeSetParseError(digits, "invalid rangeset index"))
    return key


def _rangeset_of_keys(keys, autostep):
    """RangeSet of sorted distinct keys."""
    lo, hi = _R.from_sorted_keys(keys)
    inst = RangeSet._from_intervals(lo, hi, None)
    inst.autostep = autostep
    return inst


class NodeSetBase(object):
    """
    Node set arithmetic on (pattern, RangeSet/RangeSetND) pairs, without
    string parsing.

       >>> str(NodeSetBase('node%s-ipmi', RangeSet('1-5,7'), False))
       'node[1-5,7]-ipmi'
    """

    def __init__(self, pattern: Optional[str] = None, rangeset=None,
                 copy_rangeset: bool = True, autostep: Optional[int] = None,
                 fold_axis=None) -> None:
        """New NodeSetBase of one pattern and its RangeSet (copied unless
        copy_rangeset is False)."""
        self._autostep = autostep
        self._length = 0
        self._patterns = {}
        self.fold_axis = fold_axis  #: iterable over nD 0-indexed axis
        if fold_axis is None and DEFAULTS.fold_axis:
            self.fold_axis = DEFAULTS.fold_axis
        if pattern:
            self._add(pattern, rangeset, copy_rangeset)
        elif rangeset:
            raise ValueError("missing pattern")

    def get_autostep(self) -> Optional[int]:
        """Get autostep value (property)"""
        return self._autostep

    def set_autostep(self, val: Optional[int]) -> None:
        """Set autostep value (property), on every RangeSet too"""
        if val is None:
            self._autostep = None
        else:
            self._autostep = min(int(val), AUTOSTEP_DISABLED)
        for rset in self._patterns.values():
            if rset:
                rset.autostep = self._autostep

    autostep = property(get_autostep, set_autostep)

    # -- iteration ---------------------------------------------------------

    def _iter(self):
        """Iterate over (pattern, index tuple or None, autostep)."""
        for pat, rset in sorted(self._patterns.items()):
            if rset:
                autostep = rset.autostep
                if rset.dim() == 1:
                    for idx in rset:
                        yield pat, (idx,), autostep
                else:
                    for rvec in rset:
                        yield pat, rvec, autostep
            else:
                yield pat, None, None

    def _iterbase(self):
        """Iterate over one-node NodeSetBase objects."""
        for pat, ivec, autostep in self._iter():
            rset = None
            if ivec is not None:
                if len(ivec) == 1:
                    rset = RangeSet.fromone(ivec[0], autostep)
                else:
                    rset = RangeSetND([ivec], autostep)
            yield NodeSetBase(pat, rset)

    def __iter__(self) -> Iterator[str]:
        """Iterate over node names, in sorted order."""
        return chain.from_iterable(map(_names_of, sorted(self._patterns.items())))

    striter = __iter__

    def nsiter(self) -> Iterator["NodeSetBase"]:
        """Iterate over one-node NodeSet objects."""
        for pat, ivec, autostep in self._iter():
            nodeset = self.__class__()
            if ivec is None:
                nodeset._add_new(pat, None)
            elif len(ivec) == 1:
                nodeset._add_new(pat, RangeSet.fromone(ivec[0]))
            else:
                nodeset._add_new(pat, RangeSetND([ivec], autostep))
            yield nodeset

    def contiguous(self) -> Iterator["NodeSetBase"]:
        """Iterate over NodeSets of one pattern and contiguous indexes
        (such as ``foo[1-100]``)."""
        for pat, rangeset in sorted(self._patterns.items()):
            if rangeset:
                for cont_rset in rangeset.contiguous():
                    nodeset = self.__class__()
                    nodeset._add_new(pat, cont_rset)
                    yield nodeset
            else:
                nodeset = self.__class__()
                nodeset._add_new(pat, None)
                yield nodeset

    def __len__(self) -> int:
        """Number of nodes."""
        cnt = 0
        for rangeset in self._patterns.values():
            cnt += len(rangeset) if rangeset else 1
        return cnt

    # -- folding -----------------------------------------------------------

    def _fold_axis_for(self, dimcnt):
        """Axes to fold for a pattern of dimcnt numbers."""
        if self.fold_axis is None:
            return range(dimcnt)
        try:
            return [int(x) % dimcnt for x in self.fold_axis
                    if -dimcnt <= int(x) < dimcnt]
        except (TypeError, ValueError) as exc:
            raise NodeSetParseError("fold_axis=%s" % self.fold_axis, exc)

    def _iter_nd_pat(self, pat, rset):
        """Folded strings of an nD pattern, honouring fold_axis."""
        fold_axis = self._fold_axis_for(rset.dim())
        for rgvec in rset.vectors():
            per_axis = []
            for axis, rangeset in enumerate(rgvec):
                if len(rangeset) <= 1:
                    per_axis.append((str(rangeset),))
                elif axis in fold_axis:
                    per_axis.append(("[%s]" % rangeset,))
                else:
                    per_axis.append(tuple(rangeset.striter()))
            # the first axis varies fastest
            for args in product(*reversed(per_axis)):
                yield pat % args[::-1]

    def __str__(self) -> str:
        """Folded node set string, such as ``node[1-5,7]``."""
        results = []
        pat = None
        try:
            for pat, rset in sorted(self._patterns.items()):
                if not rset:
                    results.append(pat % ())
                elif rset.dim() == 1:
                    if self.fold_axis is None or \
                            [x for x in self.fold_axis if -1 <= int(x) < 1]:
                        rgs = str(rset)
                        if len(rset) > 1:
                            rgs = "[%s]" % rgs
                        results.append(pat % rgs)
                    else:
                        results.extend(_names_1d(pat, rset))
                elif rset.dim() > 1:
                    results.extend(self._iter_nd_pat(pat, rset))
        except TypeError:
            raise NodeSetParseError(pat, "Internal error: node pattern and "
                                         "ranges mismatch")
        return ",".join(results)

    def copy(self) -> "NodeSetBase":
        """Return a shallow copy."""
        cpy = self.__class__()
        cpy.fold_axis = self.fold_axis
        cpy._autostep = self._autostep
        cpy._length = self._length
        cpy._patterns = _copy_patterns(self._patterns)
        return cpy

    # -- comparisons -------------------------------------------------------

    def __contains__(self, other) -> bool:
        """Is node contained in NodeSet ?"""
        return self.issuperset(other)

    def _binary_sanity_check(self, other):
        if not isinstance(other, NodeSetBase):
            raise TypeError("Binary operation only permitted between "
                            "NodeSetBase")

    def issubset(self, other) -> bool:
        """Report whether another nodeset contains this nodeset."""
        self._binary_sanity_check(other)
        return other.issuperset(self)

    def issuperset(self, other) -> bool:
        """Report whether this nodeset contains another nodeset."""
        self._binary_sanity_check(other)
        patterns = self._patterns
        for pat, erangeset in other._patterns.items():
            rangeset = patterns.get(pat)
            if rangeset:
                if not rangeset.issuperset(erangeset):
                    return False
            elif pat not in patterns:
                return False
        return True

    def __eq__(self, other):
        if not isinstance(other, NodeSetBase):
            return NotImplemented
        return len(self) == len(other) and self.issuperset(other)

    def __ne__(self, other):
        result = self.__eq__(other)
        return result if result is NotImplemented else not result

    __hash__ = None

    __le__ = issubset
    __ge__ = issuperset

    def __lt__(self, other):
        self._binary_sanity_check(other)
        return len(self) < len(other) and self.issubset(other)

    def __gt__(self, other):
        self._binary_sanity_check(other)
        return len(self) > len(other) and self.issuperset(other)

    # -- positions ---------------------------------------------------------

    def _extractslice(self, index):
        """(start, stop, step) of a slice, with NodeSet's own rules for
        negative steps (only as [::-n], walking backward from the end)."""
        length = len(self)
        start, stop, step = index.start, index.stop, index.step
        if start is None:
            sl_start = 0
        elif start < 0:
            sl_start = max(0, length + start)
        else:
            sl_start = start
        if stop is None:
            sl_stop = sys.maxsize
        elif stop < 0:
            sl_stop = max(0, length + stop)
        else:
            sl_stop = stop
        if step is None:
            sl_step = 1
        elif step < 0:
            if start is not None or stop is not None:
                raise IndexError("illegal start and stop when negative step "
                                 "is used")
            sl_step = -step
            # the kept nodes are those a backward walk from the end visits
            sl_start += (length - 1) % sl_step
        else:
            sl_step = step
        if not (isinstance(sl_start, int) and isinstance(sl_stop, int)
                and isinstance(sl_step, int)):
            raise TypeError("slice indices must be integers")
        return sl_start, sl_stop, sl_step

    def __getitem__(self, index):
        """Node name at a position, or a node set for a slice."""
        if isinstance(index, slice):
            inst = NodeSetBase()
            start, stop, step = self._extractslice(index)
            nxt = start
            if stop <= nxt:
                return inst
            seen = 0
            for pat, rangeset in sorted(self._patterns.items()):
                if rangeset:
                    cnt = len(rangeset)
                    offset = nxt - seen
                    if offset >= cnt:
                        seen += cnt
                        continue
                    taken = min(stop - nxt, cnt - offset)
                    inst._add(pat, rangeset[offset:offset + taken:step])
                else:
                    cnt = taken = 1
                    if nxt > seen:
                        seen += cnt
                        continue
                    inst._add(pat, None)
                nxt += taken
                # round up to the next position of the progression
                nxt = start - (start - nxt) // step * step
                if nxt >= stop:
                    break
                seen += cnt
            return inst
        if isinstance(index, int):
            if index < 0:
                length = len(self)
                if index < -length:
                    raise IndexError("%d out of range" % index)
                index += length
            seen = 0
            for pat, rangeset in sorted(self._patterns.items()):
                if rangeset:
                    cnt = len(rangeset)
                    if index < seen + cnt:
                        # a string (1D) or a tuple of strings (nD)
                        return pat % rangeset[index - seen]
                else:
                    cnt = 1
                    if index == seen:
                        return pat % ()     # unescaped (compat note)
                seen += cnt
            raise IndexError("%d out of range" % index)
        raise TypeError("NodeSet indices must be integers")

    def _rangeset_index(self, rangeset, orangeset):
        """Position of the single index of orangeset in rangeset (both of
        the same pattern), or None."""
        if rangeset is None or orangeset is None:
            return 0 if rangeset is None and orangeset is None else None
        try:
            if isinstance(orangeset, RangeSetND):
                return rangeset.index(next(iter(orangeset)))
            return rangeset.index(next(orangeset.striter()))
        except ValueError:
            return None

    def index(self, other, start: int = 0, stop: Optional[int] = None) -> int:
        """Position of a single node in iteration order, like list.index();
        ValueError if absent.  Only sizes of the patterns before it are
        summed: the node set is not expanded."""
        self._binary_sanity_check(other)
        if len(other) != 1:
            raise ValueError("index() argument must be a single node")
        opat, orangeset = next(iter(other._patterns.items()))
        found = None
        base = 0
        for pat, rangeset in sorted(self._patterns.items()):
            if pat == opat:
                offset = self._rangeset_index(rangeset, orangeset)
                if offset is not None:
                    found = base + offset
                break
            base += len(rangeset) if rangeset else 1
        if found is not None and (start != 0 or stop is not None):
            length = len(self)
            if start < 0:
                start = max(0, length + start)
            if stop is None:
                stop = length
            elif stop < 0:
                stop = max(0, length + stop)
            if not start <= found < stop:
                found = None
        if found is None:
            raise ValueError("'%s' is not in nodeset" % other)
        return found

    # -- mutations -----------------------------------------------------------

    def _add_new(self, pat, rangeset):
        """Add a new pattern and its RangeSet (referenced, not copied)."""
        assert pat not in self._patterns
        self._patterns[pat] = rangeset

    def _add(self, pat, rangeset, copy_rangeset=True):
        """Add the nodes of a (pattern, RangeSet/RangeSetND/None) pair."""
        patterns = self._patterns
        if pat in patterns:
            pat_e = patterns[pat]
            if (pat_e is None) is not (rangeset is None):
                raise NodeSetError("Invalid operation")
            if pat_e:
                pat_e.update(rangeset)
        else:
            if rangeset and copy_rangeset:
                rangeset = rangeset.copy()
                if self._autostep is not None:
                    rangeset.autostep = self._autostep
            patterns[pat] = rangeset

    def union(self, other) -> "NodeSetBase":
        """New node set with the nodes of both."""
        self_copy = self.copy()
        self_copy.update(other)
        return self_copy

    def __or__(self, other):
        if not isinstance(other, NodeSetBase):
            return NotImplemented
        return self.union(other)

    def add(self, other) -> None:
        """Add nodes."""
        self.update(other)

    def update(self, other) -> None:
        """Add the nodes of another node set."""
        for pat, rangeset in other._patterns.items():
            self._add(pat, rangeset)

    def updaten(self, others) -> None:
        """Add the nodes of several node sets."""
        for other in others:
            self.update(other)

    def clear(self) -> None:
        """Remove all nodes."""
        self._patterns.clear()

    def __ior__(self, other):
        self._binary_sanity_check(other)
        self.update(other)
        return self

    def intersection(self, other) -> "NodeSetBase":
        """New node set with the nodes common to both."""
        self_copy = self.copy()
        self_copy.intersection_update(other)
        return self_copy

    def __and__(self, other):
        if not isinstance(other, NodeSet):
            return NotImplemented
        return self.intersection(other)

    def intersection_update(self, other) -> None:
        """Keep only the nodes also found in another node set."""
        if other is self:
            return
        patterns = self._patterns
        result = {}
        for pat, irangeset in other._patterns.items():
            rangeset = patterns.get(pat)
            if rangeset:
                irset = rangeset.intersection(irangeset)
                if len(irset) > 0:
                    result[pat] = irset
            elif not irangeset and pat in patterns:
                result[pat] = None
        self._patterns = result

    def __iand__(self, other):
        self._binary_sanity_check(other)
        self.intersection_update(other)
        return self

    def difference(self, other) -> "NodeSetBase":
        """New node set with the nodes of this one not in the other."""
        self_copy = self.copy()
        self_copy.difference_update(other)
        return self_copy

    def __sub__(self, other):
        if not isinstance(other, NodeSetBase):
            return NotImplemented
        return self.difference(other)

    def difference_update(self, other, strict: bool = False) -> None:
        """Remove the nodes found in another node set; with strict, raise
        KeyError if one of them is not here."""
        patterns = self._patterns
        purge = []
        for pat, erangeset in other._patterns.items():
            rangeset = patterns.get(pat)
            if rangeset:
                rangeset.difference_update(erangeset, strict)
                if len(rangeset) == 0:
                    purge.append(pat)
            elif pat in patterns:
                purge.append(pat)
            elif strict:
                raise KeyError(pat)
        for pat in purge:
            del patterns[pat]

    def __isub__(self, other):
        self._binary_sanity_check(other)
        self.difference_update(other)
        return self

    def remove(self, elem) -> None:
        """Remove nodes; KeyError if one of them is not here."""
        self.difference_update(elem, True)

    def symmetric_difference(self, other) -> "NodeSetBase":
        """New node set with the nodes in exactly one of both."""
        self_copy = self.copy()
        self_copy.symmetric_difference_update(other)
        return self_copy

    def __xor__(self, other):
        if not isinstance(other, NodeSet):
            return NotImplemented
        return self.symmetric_difference(other)

    def symmetric_difference_update(self, other) -> None:
        """Keep the nodes in exactly one of this node set and another."""
        patterns = self._patterns
        purge = []
        for pat, rangeset in patterns.items():
            brangeset = other._patterns.get(pat)
            if brangeset:
                rangeset.symmetric_difference_update(brangeset)
            elif pat in other._patterns:
                purge.append(pat)
        for pat, brangeset in other._patterns.items():
            if pat not in patterns:
                self._add(pat, brangeset)
        for pat, rangeset in patterns.items():
            if rangeset is not None and len(rangeset) == 0:
                purge.append(pat)
        for pat in purge:
            del patterns[pat]

    def __ixor__(self, other):
        self._binary_sanity_check(other)
        self.symmetric_difference_update(other)
        return self


def _copy_patterns(patterns):
    return {pat: (None if rangeset is None else rangeset.copy())
            for pat, rangeset in patterns.items()}


def _names_of(item):
    """Node names of a (pattern, RangeSet/RangeSetND/None) item."""
    pat, rset = item
    if not rset:
        return (pat % (),)
    if rset.dim() == 1:
        return _names_1d(pat, rset)
    return map(pat.__mod__, rset)


def _names_1d(pat, rset):
    """Node names of a 1D pattern and its RangeSet."""
    parts = pat.split("%s")
    if len(parts) == 2 and "%" not in pat.replace("%s", ""):
        head, tail = parts
        strs = rset.striter()
        if tail:
            return (head + idx + tail for idx in strs)
        return map(head.__add__, strs)
    return map(pat.__mod__, rset.striter())


def _plain_names(items):
    """Escaped names of a list of strings when all are plain node names
    (checked in one pass over their concatenation), else None."""
    try:
        joined = "\n".join(items)
    except TypeError:
        return None
    if (_NOT_PLAIN.search(joined) or "\n\n" in joined
            or joined.count("\n") != len(items) - 1
            or not joined or joined[0] == "\n" or joined[-1] == "\n"):
        return None
    return joined.replace('%', '%%').split("\n")


def _strip_escape(nsstr):
    """Trim blanks and escape '%' for use in a pattern."""
    return nsstr.strip().replace('%', '%%')


def _rsets4nsb(rsets, autostep):
    """RangeSet, RangeSetND or None for a list of per-number RangeSets."""
    if len(rsets) > 1:
        return RangeSetND([rsets], None, autostep, copy_rangeset=False)
    if len(rsets) == 1:
        return rsets[0]
    return None


class ParsingEngine(object):
    """
    Turns node set strings (with groups and operators) into NodeSetBase
    objects.
    """

    OP_CODES = {',': 'update',
                '!': 'difference_update',
                '&': 'intersection_update',
                '^': 'symmetric_difference_update'}

    OP_CODES_PAT = '[%s]' % re.escape(''.join(OP_CODES.keys()))

    BRACKET_OPEN = '['
    BRACKET_CLOSE = ']'

    def __init__(self, group_resolver, node_wildcard_enable: bool = True) -> None:
        """New parser using a group resolver (or None)."""
        self.group_resolver = group_resolver
        self.base_node_re = _NODE_PARTS
        self.node_wc = node_wildcard_enable

    def parse(self, nsobj, autostep) -> NodeSetBase:
        """NodeSetBase of a string, a NodeSetBase (returned as is) or None."""
        if nsobj is None:
            return NodeSetBase()
        if isinstance(nsobj, NodeSetBase):
            return nsobj
        if isinstance(nsobj, str):
            try:
                return self.parse_string(str(nsobj), autostep)
            except (NodeUtils.GroupSourceQueryFailed, RuntimeError) as exc:
                raise NodeSetParseError(nsobj, str(exc))
        raise TypeError("Unsupported NodeSet input %s" % type(nsobj))

    def parse_string(self, nsstr: str, autostep, namespace=None) -> NodeSetBase:
        """Parse a string in an optional group namespace: resolve groups,
        apply operators, return a NodeSetBase."""
        nodeset = NodeSetBase()
        nsstr = _strip_escape(nsstr)
        if _PLAIN_NAME.fullmatch(nsstr):
            pat, rangesets = self._scan_string_single(nsstr, autostep)
            nodeset._add_new(pat, _rsets4nsb(rangesets, autostep))
            return nodeset
        if _PLAIN_LIST.fullmatch(nsstr):
            names = [name.strip() for name in nsstr.split(',')]
            if all(map(_PLAIN_NAME.fullmatch, names)):
                return _nodeset_of_plain(names, autostep, self)
        all_nodes = None    # all nodes, computed once for wildcards
        for opc, pat, rgnd in self._scan_string(nsstr, autostep):
            if self.group_resolver and pat[0] == '@':
                ns_group = NodeSetBase()
                for nodegroup in NodeSetBase(pat, rgnd):
                    ns_str_ext, ns_nsp_ext = self.parse_group_string(nodegroup,
                                                                     namespace)
                    if ns_str_ext:  # may hold groups again
                        ns_group.update(self.parse_string(ns_str_ext, autostep,
                                                          ns_nsp_ext))
                getattr(nodeset, opc)(ns_group)
            elif self.group_resolver and self.node_wc and ('*' in pat or
                                                           '?' in pat):
                if all_nodes is None:
                    all_nodes = self._all_node_names(namespace, autostep)
                left = set(all_nodes)
                wcns = NodeSetBase()
                for wcmask in NodeSetBase(pat, rgnd, False):
                    for node in fnmatch.filter(left, wcmask):
                        left.remove(node)
                        wcp, wcr = self._scan_string_single(node, autostep)
                        wcns.update(NodeSetBase(wcp, _rsets4nsb(wcr, autostep),
                                                False))
                getattr(nodeset, opc)(wcns)
            elif opc == 'update':
                nodeset._add(pat, rgnd, False)    # rgnd is ours: no copy
            else:
                getattr(nodeset, opc)(NodeSetBase(pat, rgnd, False))
        return nodeset

    def _all_node_names(self, namespace, autostep):
        """Set of all node names of the resolver (for wildcard masks)."""
        self.node_wc = False    # all nodes may not hold wildcards
        try:
            nsb = NodeSetBase()
            for res in self.all_nodes(namespace):
                nsb.update(self.parse_string(res, autostep, namespace))
            return set(nsb)
        finally:
            self.node_wc = True

    def parse_string_single(self, nsstr: str, autostep) -> NodeSetBase:
        """NodeSetBase of one node name (no bracket, group or operator)."""
        pat, rangesets = self._scan_string_single(_strip_escape(nsstr),
                                                  autostep)
        return NodeSetBase(pat, _rsets4nsb(rangesets, autostep), False)

    def parse_group(self, group: str, namespace=None, autostep=None) -> NodeSetBase:
        """NodeSetBase of one group name (without @)."""
        assert self.group_resolver is not None
        nodestr = self.group_resolver.group_nodes(group, namespace)
        return self.parse(",".join(nodestr), autostep)

    def parse_group_string(self, nodegroup: str, namespace=None):
        """Resolve one "@[source:]group" string, one level deep: return
        (node set string, namespace); the string may still hold groups."""
        assert nodegroup[0] == '@'
        assert self.group_resolver is not None
        grpstr = group = nodegroup[1:]
        if ':' in grpstr:
            namespace, group = grpstr.split(':', 1)
        if group == '*':
            reslist = self.all_nodes(namespace)
        elif group.startswith('@'):
            reslist = self.grouplist(grpstr[1:])
        else:
            reslist = self.group_resolver.group_nodes(group, namespace)
        return ','.join(reslist), namespace

    def grouplist(self, namespace=None) -> list:
        """Sorted list of group names of the resolver (ranges expanded)."""
        grpset = NodeSetBase()
        for grpstr in self.group_resolver.grouplist(namespace):
            for opc, pat, rgnd in self._scan_string(_strip_escape(grpstr), None):
                getattr(grpset, opc)(NodeSetBase(pat, rgnd, False))
        return list(grpset)

    def all_nodes(self, namespace=None) -> list:
        """All nodes of the resolver as a list of strings."""
        assert self.group_resolver is not None
        alln = []
        try:
            alln = self.group_resolver.all_nodes(namespace)
        except NodeUtils.GroupSourceNoUpcall:
            # no "all" upcall: fall back to list + map
            try:
                for grp in self.grouplist(namespace):
                    alln += self.group_resolver.group_nodes(grp, namespace)
            except NodeUtils.GroupSourceNoUpcall:
                raise NodeSetExternalError(
                    "Not enough working methods (all or map + list) to "
                    "get all nodes")
        except NodeUtils.GroupSourceQueryFailed as exc:
            raise NodeSetExternalError("Failed to get all nodes: %s" % exc)
        return alln

    def _next_op(self, pat):
        """(index, operator) of the first operator in pat, or (-1, None)."""
        mobj = _OPERATORS.search(pat)
        if mobj:
            return mobj.start(), mobj.group()
        return -1, None

    def _scan_string_single(self, nsstr, autostep):
        """(pattern, list of RangeSets) of one node name."""
        parts = _NODE_PARTS.findall(nsstr)
        parts.pop()
        if not parts:
            raise NodeSetParseError(nsstr, "parse error")
        pat = ""
        rangesets = []
        for pfx, idx in parts:
            if idx:
                pat += pfx + "%s"
                rset = RangeSet._from_intervals(*_one_key(idx), None)
                rset.autostep = autostep
                rangesets.append(rset)
            else:
                pat += pfx
        return pat, rangesets

    def _scan_string(self, nsstr, autostep):
        """Iterate over (operation, pattern, RangeSet/RangeSetND/None) of a
        node set string."""
        next_op_code = ','
        while nsstr:
            nsstr = nsstr.lstrip()
            op_code = next_op_code
            op_idx, next_op_code = self._next_op(nsstr)
            bracket_idx = nsstr.find('[')
            if bracket_idx >= 0 and (op_idx < 0 or op_idx > bracket_idx):
                newpat, rsets, nsstr, next_op_code = self._scan_brackets(
                    nsstr, autostep)
            else:
                if op_idx < 0:
                    node = nsstr
                    nsstr = None
                else:
                    node, nsstr = nsstr.split(next_op_code, 1)
                    if not node or not nsstr:
                        raise NodeSetParseError(
                            node or nsstr, "missing nodeset operand with '%s' "
                            "operator" % next_op_code)
                if ']' in node:
                    raise NodeSetParseError(node, "illegal closing bracket")
                newpat, rsets = self._scan_string_single(node.rstrip(), autostep)
            yield self.OP_CODES[op_code], newpat, _rsets4nsb(rsets, autostep)

    def _scan_brackets(self, nsstr, autostep):
        """Scan one operand holding brackets, such as ``x[1-2]y[3-4]-ib``:
        return (pattern, RangeSets, rest of the string, next operator)."""
        newpat = ""
        rsets = []
        sfx = nsstr
        bracket_idx = 0
        op_idx = -1
        while bracket_idx >= 0 and (op_idx < 0 or op_idx > bracket_idx):
            pfx, sfx = sfx.split('[', 1)
            try:
                rng, sfx = sfx.split(']', 1)
            except ValueError:
                raise NodeSetParseError(nsstr, "missing bracket")
            if ']' in pfx:
                raise NodeSetParseError(pfx, "illegal closing bracket")
            if sfx:
                bra_end = sfx.find(']')
                bra_start = sfx.find('[')
                if bra_start < 0:
                    bra_start = bra_end + 1
                if 0 <= bra_end < bra_start:
                    raise NodeSetParseError(sfx, "illegal closing bracket")
                try:
                    sfx, rng = self._amend_trailing_digits(sfx, rng)
                except RangeSetParseError as ex:
                    raise NodeSetParseRangeError(ex)
            if pfx:
                try:
                    pfx, rng = self._amend_leading_digits(pfx, rng)
                except RangeSetParseError as ex:
                    raise NodeSetParseRangeError(ex)
                if pfx:
                    pfx, pfxrvec = self._scan_string_single(pfx, autostep)
                    rsets += pfxrvec
            bracket_idx = sfx.find('[')
            op_idx, _ = self._next_op(sfx)
            if sfx[:1] == '[':
                raise NodeSetParseError(sfx, "illegal reopening bracket")
            newpat += pfx + "%s"
            try:
                rsets.append(RangeSet(rng, autostep))
            except RangeSetParseError as ex:
                raise NodeSetParseRangeError(ex)
        op_idx, next_op_code = self._next_op(sfx)
        if op_idx < 0:
            rest = None
        else:
            sfx, rest = sfx.split(next_op_code, 1)
            if not rest:
                raise NodeSetParseError(None, "missing nodeset operand with "
                                        "'%s' operator" % next_op_code)
        sfx = sfx.rstrip()
        if sfx:
            sfx, sfxrvec = self._scan_string_single(sfx, autostep)
            newpat += sfx
            rsets += sfxrvec
        return newpat, rsets, rest, next_op_code

    def _amend_leading_digits(self, outer, inner):
        """Move the digits ending a bracket's prefix into its ranges:
        ``node1[0-2]`` is ``node[10-12]``.  Return (prefix, ranges)."""
        outerstrip = outer.rstrip(string.digits)
        if len(outerstrip) < len(outer):
            digits = outer[len(outerstrip):]
            pieces = (str(sub) for sub in RangeSet(inner).contiguous())
            inner = ','.join('-'.join(digits + bound for bound in piece.split('-'))
                             for piece in pieces)
        return outerstrip, inner

    def _amend_trailing_digits(self, outer, inner):
        """Move the digits starting a bracket's suffix into its ranges:
        ``node[1-2]0`` is ``node[10-20/10]``.  Return (suffix, ranges)."""
        outerstrip = outer.lstrip(string.digits)
        if len(outerstrip) < len(outer):
            if '/' in inner:
                raise NodeSetParseError(outer, "illegal trailing digits after "
                                        "range with steps")
            digits = outer[:len(outer) - len(outerstrip)]
            step = '/1' + '0' * len(digits)
            amended = []
            for elem in inner.split(','):
                shifted = '-'.join(bound + digits for bound in elem.split('-'))
                amended.append(shifted + step if '-' in shifted else shifted)
            inner = ','.join(amended)
        return outerstrip, inner


def _group_names(names, joined=None):
    """{pattern: [index strings of axis 0, of axis 1...]} of plain ASCII
    node names (escaped), split in a few passes over their concatenation."""
    if joined is None:
        joined = "\n".join(names)
    if '%' in joined:
        return _group_names_slow(names)
    pats = _DIGIT_RUNS.sub("%s", joined).split("\n")
    digits = _DIGIT_RUNS.findall(joined)
    first = pats[0]
    if pats.count(first) == len(pats):
        width = first.count("%s")
        return {first: [digits[axis::width] for axis in range(width)]}
    if len(digits) == len(pats) and all(map(str.__contains__, pats, repeat("%s"))):
        groups = {}
        for pat, idx in zip(pats, digits):
            entry = groups.get(pat)
            if entry is None:
                groups[pat] = [idx]
            else:
                entry.append(idx)
        return {pat: [idxs] for pat, idxs in groups.items()}
    return _group_names_slow(names)


def _group_names_slow(names):
    """_group_names(), one name at a time."""
    groups = {}
    split = _DIGIT_RUNS.split
    for name in names:
        parts = split(name)
        pat = "%s".join(parts[0::2])
        entry = groups.get(pat)
        if entry is None:
            entry = groups[pat] = []
        entry.append(parts[1::2])
    return {pat: [list(col) for col in zip(*rows)]
            for pat, rows in groups.items()}


def _nodeset_of_plain(names, autostep, parser):
    """NodeSetBase of escaped plain node names."""
    joined = "\n".join(names)
    if not joined.isascii():
        nodeset = NodeSetBase()
        for name in names:
            nodeset.update(parser.parse_string(name, autostep))
        return nodeset
    nodeset = NodeSetBase()
    patterns = nodeset._patterns
    for pat, columns in _group_names(names, joined).items():
        if not columns:
            patterns[pat] = None
        elif len(columns) == 1:
            keys = sorted(set(_index_keys(columns[0])))
            patterns[pat] = _rangeset_of_keys(keys, autostep)
        else:
            for column in columns:
                _check_index_sizes(column)
            rset = RangeSetND._from_columns(columns)
            rset.autostep = autostep
            patterns[pat] = rset
    return nodeset


def _check_index_sizes(digits):
    """Raise the parse error of an index string past 1e100, if any."""
    if max(map(len, digits)) > 100:
        for text in digits:
            _index_key(text)


def _index_keys(digits):
    """Keys of index strings of node names (error past 1e100)."""
    _check_index_sizes(digits)
    return _R.keys_of_digits(digits)


def _one_key(idx):
    """Interval lists of the single index written idx in a node name."""
    key = _index_key(idx)
    return [key], [key + 1]


class NodeSet(NodeSetBase):
    """
    Iterable set of node names with node ranges support.

       >>> nodeset = NodeSet("cluster[0-10/2],othername[7-9,120-300]")
       >>> nodeset = NodeSet("node[0-10]!node[8-10]")  # difference
       >>> nodeset = NodeSet("node[0-10]&node[5-13]")  # intersection
       >>> nodeset = NodeSet("node[0-10]^node[5-13]")  # xor

    Unlike a set, a NodeSet accepts node set strings as arguments of its
    methods (``nodeset.remove("blue[36-40]")``).
    """

    _VERSION = 2

    def __init__(self, nodes=None, autostep: Optional[int] = None,
                 resolver=None, fold_axis=None) -> None:
        """New NodeSet of a node set string or NodeSet (or empty).

        :param autostep: fold ``n[2,4,6]`` into ``n[2-6/2]`` from that many
            equidistant indexes (None: inherit, AUTOSTEP_DISABLED: off)
        :param resolver: group resolver (GroupResolver), RESOLVER_NOGROUP
            for no group resolution, None for the standard one
        :param fold_axis: nD only: axes (0-indexed) to fold, others are
            expanded
        """
        NodeSetBase.__init__(self, autostep=autostep, fold_axis=fold_axis)
        if resolver in (RESOLVER_NOGROUP, RESOLVER_NOINIT):
            self._resolver = None
        else:
            self._resolver = resolver or RESOLVER_STD_GROUP
        if resolver == RESOLVER_NOINIT:
            self._parser = None
        else:
            self._parser = ParsingEngine(self._resolver)
            if nodes is not None:
                self.update(nodes)

    @classmethod
    def _fromlist1(cls, nodelist, autostep=None, resolver=None) -> "NodeSet":
        """New NodeSet of single node names (no range, group or
        operator)."""
        inst = NodeSet(autostep=autostep, resolver=resolver)
        names = []
        for single in nodelist:
            name = _strip_escape(single)
            if _PLAIN_NAME.fullmatch(name):
                names.append(name)
            else:
                inst._update_plain(names)
                names = []
                NodeSetBase.update(inst, inst._parser.parse_string_single(
                    single, autostep))
        inst._update_plain(names)
        return inst

    @classmethod
    def fromlist(cls, nodelist: Iterable, autostep: Optional[int] = None,
                 resolver=None) -> "NodeSet":
        """New NodeSet of a list of node set strings or NodeSets."""
        inst = NodeSet(autostep=autostep, resolver=resolver)
        inst.updaten(nodelist)
        return inst

    @classmethod
    def fromall(cls, groupsource=None, autostep: Optional[int] = None,
                resolver=None) -> "NodeSet":
        """New NodeSet of all nodes of a group source."""
        inst = NodeSet(autostep=autostep, resolver=resolver)
        try:
            if not inst._resolver:
                raise NodeSetExternalError("Group resolver is not defined")
            inst.updaten(inst._parser.all_nodes(groupsource))
        except NodeUtils.GroupResolverError as exc:
            errmsg = "Group source error (%s: %s)" % (exc.__class__.__name__,
                                                      exc)
            raise NodeSetExternalError(errmsg)
        return inst

    def __getstate__(self):
        """Pickle state: no group resolver."""
        odict = self.__dict__.copy()
        odict['_version'] = NodeSet._VERSION
        del odict['_resolver']
        del odict['_parser']
        return odict

    def __setstate__(self, dic):
        """Unpickle, without group resolver; converts NodeSets pickled by
        ClusterShell versions before 1.7."""
        self.__dict__.update(dic)
        self._resolver = None
        self._parser = ParsingEngine(None)
        if getattr(self, '_version', 1) <= 1:
            self.fold_axis = None
            old_patterns = self._patterns
            self._patterns = {}
            for pat, rangeset in sorted(old_patterns.items()):
                if rangeset:
                    rgs = str(rangeset)
                    if len(rangeset) > 1:
                        rgs = "[%s]" % rgs
                    self.update(pat % rgs)
                else:
                    self.update(pat)

    def copy(self) -> "NodeSet":
        """Return a shallow copy of a NodeSet."""
        cpy = self.__class__(resolver=RESOLVER_NOINIT)
        cpy._patterns = _copy_patterns(self._patterns)
        cpy.fold_axis = self.fold_axis
        cpy._autostep = self._autostep
        cpy._resolver = self._resolver
        cpy._parser = self._parser
        return cpy

    __copy__ = copy

    # -- node groups -------------------------------------------------------

    def _find_groups(self, node, namespace, allgroups):
        """Groups of a node: from the in-memory map or the resolver."""
        if allgroups:
            for grp, nodeset in allgroups.items():
                if node in nodeset:
                    yield grp
        else:
            try:
                yield from self._resolver.node_groups(node, namespace)
            except NodeUtils.GroupSourceQueryFailed as exc:
                raise NodeSetExternalError("Group source query failed: %s"
                                           % exc)

    def _groups2(self, groupsource=None, autostep=None):
        """{group: (count of our nodes in it, group NodeSetBase)}."""
        if not self._resolver:
            raise NodeSetExternalError("No node group resolver")
        try:
            allgrplist = self._parser.grouplist(groupsource)
        except NodeUtils.GroupSourceError:
            allgrplist = None   # maybe reverse upcall still works
        groups_info = {}
        allgroups = {}
        # use the external reverse upcall only when there are more groups
        # than nodes
        if not (self._resolver.has_node_groups(groupsource) and
                (not allgrplist or len(allgrplist) >= len(self))):
            if not allgrplist:
                return groups_info
            try:
                for grp in allgrplist:
                    nodelist = self._resolver.group_nodes(grp, groupsource)
                    allgroups[grp] = NodeSet(",".join(nodelist),
                                             resolver=self._resolver)
            except NodeUtils.GroupSourceQueryFailed as exc:
                raise NodeSetExternalError("Unable to map a group "
                                           "previously listed\n\tFailed "
                                           "command: %s" % exc)
        for node in self._iterbase():
            for grp in self._find_groups(node, groupsource, allgroups):
                if grp not in groups_info:
                    nodes = self._parser.parse_group(grp, groupsource, autostep)
                    groups_info[grp] = (1, nodes)
                else:
                    cnt, nodes = groups_info[grp]
                    groups_info[grp] = (cnt + 1, nodes)
        return groups_info

    def groups(self, groupsource=None, noprefix: bool = False) -> dict:
        """Groups holding nodes of this set:
        {"@group": (group NodeSet, our nodes in it)}; names are
        "@source:group" when groupsource is given, unless noprefix."""
        groups = self._groups2(groupsource, self._autostep)
        result = {}
        for grp, (_, nsb) in groups.items():
            if groupsource and not noprefix:
                key = "@%s:%s" % (groupsource, grp)
            else:
                key = "@" + grp
            result[key] = (NodeSet(nsb, resolver=self._resolver),
                           self.intersection(nsb))
        return result

    def regroup(self, groupsource=None, autostep=None, overlap: bool = False,
                noprefix: bool = False) -> str:
        """String of this set using the largest fully included node groups
        (str() when none is)."""
        groups = self._groups2(groupsource, autostep)
        if not groups:
            return str(self)
        fulls = []
        for grp, (cnt, nodes) in groups.items():
            assert cnt <= len(nodes)
            if cnt == len(nodes):
                fulls.append((cnt, grp))
        rest = NodeSet(self, resolver=RESOLVER_NOGROUP)
        regrouped = NodeSet(resolver=RESOLVER_NOGROUP)
        for _, grp in sorted(fulls, key=lambda item: (-item[0], item[1])):
            if not overlap and groups[grp][1] not in rest:
                continue
            if groupsource and not noprefix:
                regrouped.update("@%s:%s" % (groupsource, grp))
            else:
                regrouped.update("@" + grp)
            rest.difference_update(groups[grp][1])
            if not rest:
                return str(regrouped)
        if regrouped:
            return "%s,%s" % (regrouped, rest)
        return str(rest)

    # -- string-accepting versions of the base operations --------------------

    def issubset(self, other) -> bool:
        """Report whether another node set contains this one."""
        nodeset = self._parser.parse(other, self._autostep)
        return NodeSetBase.issuperset(nodeset, self)

    def issuperset(self, other) -> bool:
        """Report whether this node set contains another one."""
        if isinstance(other, str):
            found = self._has_name(other)
            if found is not None:
                return found
        nodeset = self._parser.parse(other, self._autostep)
        return NodeSetBase.issuperset(self, nodeset)

    def _has_name(self, text):
        """Membership of one plain node name without building objects, or
        None when the text needs the full parser."""
        name = _strip_escape(text)
        if not name.isascii() or not _PLAIN_NAME.fullmatch(name):
            return None
        parts = _DIGIT_RUNS.split(name)
        pat = "%s".join(parts[0::2])
        patterns = self._patterns
        if pat not in patterns:
            return False
        rset = patterns[pat]
        if not rset:
            return True
        keys = [_index_key(digits) for digits in parts[1::2]]
        if len(keys) == 1:
            if isinstance(rset, RangeSet):
                return _R.contains(rset._lo, rset._hi, keys[0])
        elif isinstance(rset, RangeSetND) and rset.dim() == len(keys):
            return rset._has_point(keys)
        return None

    def __getitem__(self, index):
        """Node name at a position, or a NodeSet for a slice."""
        base = NodeSetBase.__getitem__(self, index)
        if not isinstance(base, NodeSetBase):
            return base
        inst = NodeSet(autostep=self._autostep, resolver=self._resolver)
        inst._patterns = base._patterns
        return inst

    def index(self, other, start: int = 0, stop: Optional[int] = None) -> int:
        """Position of a node (string or NodeSet) in iteration order, like
        list.index(); ValueError if absent."""
        nodeset = self._parser.parse(other, self._autostep)
        return NodeSetBase.index(self, nodeset, start, stop)

    def split(self, nbr: int) -> Iterator["NodeSet"]:
        """Split into at most nbr NodeSets of (almost) equal sizes."""
        assert nbr > 0
        length = len(self)
        size, left = divmod(length, nbr)
        begin = 0
        for i in range(min(nbr, length)):
            end = begin + size + (i < left)
            yield self[begin:end]
            begin = end

    def update(self, other) -> None:
        """Add nodes (node set string or NodeSet)."""
        if isinstance(other, str):
            if not self._add_name(other):
                self._adopt(self._parser.parse(other, self._autostep))
        else:
            NodeSetBase.update(self, self._parser.parse(other, self._autostep))

    def _adopt(self, nodeset):
        """Add the nodes of a NodeSetBase built for this call: its RangeSets
        are taken over, not copied."""
        patterns = self._patterns
        autostep = self._autostep
        for pat, rangeset in nodeset._patterns.items():
            if pat in patterns:
                self._add(pat, rangeset)
            else:
                if rangeset and autostep is not None:
                    rangeset.autostep = autostep
                patterns[pat] = rangeset

    def _plain_parts(self, text):
        """(pattern, index strings) of a plain node name of at most one
        number, or None when the text needs the full parser."""
        name = _strip_escape(text)
        if not name.isascii() or not _PLAIN_NAME.fullmatch(name):
            return None
        parts = _DIGIT_RUNS.split(name)
        if len(parts) > 3:
            return None
        return "%s".join(parts[0::2]), parts[1::2]

    def _add_name(self, text):
        """Add one plain node name in place; False if not handled."""
        found = self._plain_parts(text)
        if found is None:
            return False
        pat, digits = found
        patterns = self._patterns
        rset = patterns.get(pat)
        if not digits:
            if rset is not None:
                raise NodeSetError("Invalid operation")
            patterns[pat] = None
            return True
        key = _index_key(digits[0])
        if rset is None:
            if pat in patterns:
                raise NodeSetError("Invalid operation")
            rset = patterns[pat] = RangeSet._from_intervals([key], [key + 1], None)
            rset.autostep = self._autostep
        elif isinstance(rset, RangeSet):
            _R.insert(rset._lo, rset._hi, key, key + 1)
            rset._changed()
        else:
            return False
        return True

    def _discard_name(self, text, strict):
        """Remove one plain node name in place (KeyError if strict and
        missing); False if not handled."""
        found = self._plain_parts(text)
        if found is None:
            return False
        pat, digits = found
        patterns = self._patterns
        if pat not in patterns:
            if strict:
                raise KeyError(pat)
            return True
        rset = patterns[pat]
        if not rset or not digits:
            del patterns[pat]
            return True
        if not isinstance(rset, RangeSet):
            return False
        key = _index_key(digits[0])
        if not _R.contains(rset._lo, rset._hi, key):
            if strict:
                raise KeyError(digits[0])
            return True
        _R.cut(rset._lo, rset._hi, key, key + 1)
        rset._changed()
        if not rset._lo:
            del patterns[pat]
        return True

    def updaten(self, others) -> None:
        """Add the nodes of several node set strings or NodeSets."""
        if not isinstance(others, (list, tuple)):
            others = list(others)
        names = _plain_names(others)
        if names is not None:
            self._update_plain(names)
            return
        names = []
        for other in others:
            if isinstance(other, str):
                name = _strip_escape(other)
                if _PLAIN_NAME.fullmatch(name):
                    names.append(name)
                    continue
            self._update_plain(names)
            names = []
            self.update(other)
        self._update_plain(names)

    def _update_plain(self, names):
        """Add escaped plain node names (no bracket, operator or group)."""
        if names:
            self._adopt(_nodeset_of_plain(names, self._autostep, self._parser))

    def intersection_update(self, other) -> None:
        """Keep only the nodes also found in another node set."""
        nodeset = self._parser.parse(other, self._autostep)
        NodeSetBase.intersection_update(self, nodeset)

    def difference_update(self, other, strict: bool = False) -> None:
        """Remove nodes; with strict, KeyError if one is not here."""
        if isinstance(other, str) and self._discard_name(other, strict):
            return
        nodeset = self._parser.parse(other, self._autostep)
        NodeSetBase.difference_update(self, nodeset, strict)

    def symmetric_difference_update(self, other) -> None:
        """Keep the nodes in exactly one of this node set and another."""
        nodeset = self._parser.parse(other, self._autostep)
        NodeSetBase.symmetric_difference_update(self, nodeset)


def expand(pat: str) -> list:
    """List of the node names of a node set string."""
    return list(NodeSet(pat))


def fold(pat: str) -> str:
    """Folded form of a node set string."""
    return str(NodeSet(pat))


def grouplist(namespace=None, resolver=None) -> list:
    """Group names (without @) of a group source (default: the default
    one) of a resolver (default: the standard one)."""
    return ParsingEngine(resolver or RESOLVER_STD_GROUP).grouplist(namespace)


def std_group_resolver():
    """The resolver used for "@" groups by default."""
    return RESOLVER_STD_GROUP


def set_std_group_resolver(new_resolver) -> None:
    """Set the resolver used for "@" groups by default (None restores the
    one of groups.conf)."""
    global RESOLVER_STD_GROUP
    RESOLVER_STD_GROUP = new_resolver or _DEF_RESOLVER_STD_GROUP


def set_std_group_resolver_config(groupsconf, illegal_chars=None) -> None:
    """Use a GroupResolverConfig of the given groups.conf path(s) as the
    default resolver (nothing happens if groupsconf is empty)."""
    if groupsconf:
        if illegal_chars is None:
            illegal_chars = ILLEGAL_GROUP_CHARS
        set_std_group_resolver(NodeUtils.GroupResolverConfig(groupsconf,
                                                             illegal_chars))
