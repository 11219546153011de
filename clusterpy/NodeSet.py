"""Sets of cluster node names with range syntax: ``NodeSet("node[1-30]")``.

Same API, syntax, folded strings and errors as ClusterShell 1.10.1's NodeSet
module: patterns such as ``node[1-30,32]-ib``, nD names such as
``x[1000-1003]c[0-7]s0b0n[0-3]``, node groups (``@compute``, ``@source:*``)
and the string operators ``,`` (union), ``!`` (difference), ``&``
(intersection) and ``^`` (symmetric difference), applied left to right.

A node set maps each *pattern* (the name with ``%s`` for every number, such
as ``node%s-ib``) to the RangeSet (one number), RangeSetND (several
numbers) or None (no number) of its indexes, in ``_patterns``.  Indexes are
interval-based, so ``NodeSet("node[0-999999999]")`` is as cheap as
``NodeSet("node[0-9]")``.
"""

import fnmatch
import sys
from itertools import chain, product
from typing import Iterable, Iterator, Optional

import clusterpy.NodeUtils as NodeUtils
from clusterpy import _nodescan as _S
from clusterpy import _ranges as _R
from clusterpy._nodescan import (  # noqa: F401  (public names of this module)
    NodeSetError,
    NodeSetException,
    NodeSetExternalError,
    NodeSetParseError,
    NodeSetParseRangeError,
)
from clusterpy._set_algebra import SetAlgebra, split_evenly
from clusterpy.Defaults import DEFAULTS, config_paths
from clusterpy.RangeSet import (  # noqa: F401  (public names of this module)
    AUTOSTEP_DISABLED,
    RangeSet,
    RangeSetND,
    RangeSetParseError,
    _normalized_bounds,
    _too_large,
)

#: resolver value asking for no group resolution at all
RESOLVER_NOGROUP = -1
#: resolver value for internal use (a copy fills parser and resolver)
RESOLVER_NOINIT = -2
NOGROUP_RESOLVER = RESOLVER_NOGROUP         # name of ClusterShell 1.5

#: characters a group name may not hold
ILLEGAL_GROUP_CHARS = set("@,!&^*")
#: where groups.conf is looked for
DEF_GROUPS_CONFIGS = config_paths('groups.conf')

# the standard resolver reads its configuration on first use only
_DEF_RESOLVER_STD_GROUP = NodeUtils.GroupResolverConfig(DEF_GROUPS_CONFIGS,
                                                        ILLEGAL_GROUP_CHARS)
RESOLVER_STD_GROUP = STD_GROUP_RESOLVER = _DEF_RESOLVER_STD_GROUP


def _pattern_size(rangeset):
    return rangeset._size() if rangeset else 1


def _copy_patterns(patterns):
    return {pat: (None if rangeset is None else rangeset.copy())
            for pat, rangeset in patterns.items()}


def _names_of(item):
    """Node names of a (pattern, RangeSet/RangeSetND/None) item."""
    pat, rangeset = item
    if not rangeset:
        return (pat % (),)
    if rangeset.dim() == 1:
        return _names_1d(pat, rangeset)
    return map(pat.__mod__, rangeset)


def _names_1d(pat, rangeset):
    """Node names of a one-number pattern (the loops run in C)."""
    head, _, tail = pat.partition("%s")
    if "%" in head or "%" in tail or not isinstance(rangeset, RangeSet):
        return map(pat.__mod__, rangeset)
    return _R.iter_strs(rangeset._lo, rangeset._hi, head, tail)


class NodeSetBase(SetAlgebra):
    """
    Node set arithmetic on (pattern, RangeSet/RangeSetND) pairs, without
    string parsing.

       >>> str(NodeSetBase('node%s-ipmi', RangeSet('1-5,7'), False))
       'node[1-5,7]-ipmi'
    """

    def __init__(self, pattern: Optional[str] = None, rangeset=None,
                 copy_rangeset: bool = True, autostep: Optional[int] = None,
                 fold_axis=None) -> None:
        """New node set of one pattern and its RangeSet (copied unless
        copy_rangeset is False), or empty."""
        self._autostep = autostep
        self._length = 0
        self._patterns = {}
        #: axes (0-indexed) folded in nD patterns, None for all of them
        self.fold_axis = fold_axis if fold_axis is not None else (
            DEFAULTS.fold_axis or None)
        if pattern:
            self._add(pattern, rangeset, copy_rangeset)
        elif rangeset:
            raise ValueError("missing pattern")

    def get_autostep(self) -> Optional[int]:
        """Minimum index count of a folded progression (None: inherit)."""
        return self._autostep

    def set_autostep(self, val: Optional[int]) -> None:
        """Set the autostep, on every RangeSet too."""
        self._autostep = None if val is None else min(int(val), AUTOSTEP_DISABLED)
        for rangeset in filter(None, self._patterns.values()):
            rangeset.autostep = self._autostep

    autostep = property(get_autostep, set_autostep)

    def _sorted(self):
        return sorted(self._patterns.items())

    # -- iteration ---------------------------------------------------------

    def _iter(self):
        """Iterate over (pattern, index tuple or None, autostep)."""
        for pat, rangeset in self._sorted():
            if not rangeset:
                yield pat, None, None
                continue
            autostep = rangeset.autostep
            points = (rangeset.striter() if rangeset.dim() == 1 else rangeset)
            for point in points:
                yield pat, (point if isinstance(point, tuple) else (point,)), autostep

    def _one_node_sets(self, cls):
        """Iterate over one-node node sets of a class."""
        for pat, point, _ in self._iter():
            if point is None:
                rangeset = None
            elif len(point) == 1:
                rangeset = RangeSet.fromone(point[0])
            else:
                rangeset = RangeSetND([point])
            single = cls()
            single._patterns[pat] = rangeset
            yield single

    def _iterbase(self):
        """Iterate over one-node NodeSetBase objects."""
        return self._one_node_sets(NodeSetBase)

    def __iter__(self) -> Iterator[str]:
        """Iterate over node names, in sorted order."""
        return chain.from_iterable(map(_names_of, self._sorted()))

    striter = __iter__

    def nsiter(self) -> Iterator["NodeSetBase"]:
        """Iterate over one-node NodeSet objects."""
        return self._one_node_sets(self.__class__)

    def contiguous(self) -> Iterator["NodeSetBase"]:
        """Iterate over node sets of one pattern and contiguous indexes
        (such as ``foo[1-100]``)."""
        for pat, rangeset in self._sorted():
            for piece in (rangeset.contiguous() if rangeset else (None,)):
                part = self.__class__()
                part._patterns[pat] = piece
                yield part

    def __len__(self) -> int:
        """Number of nodes."""
        size = sum(map(_pattern_size, self._patterns.values()))
        if size > sys.maxsize:
            raise _too_large(size)
        return size

    def _size(self) -> int:
        """Number of nodes, however large (len() stops at sys.maxsize)."""
        return sum(map(_pattern_size, self._patterns.values()))

    def __bool__(self) -> bool:
        return bool(self._patterns)

    # -- folding -----------------------------------------------------------

    def _folded_axes(self, dim):
        """Axes folded for a pattern of dim numbers (per fold_axis)."""
        if self.fold_axis is None:
            return range(dim)
        try:
            return {int(axis) % dim for axis in self.fold_axis
                    if -dim <= int(axis) < dim}
        except (TypeError, ValueError) as exc:
            raise NodeSetParseError("fold_axis=%s" % self.fold_axis, exc)

    def _iter_nd_pat(self, pat, rangeset):
        """Folded strings of an nD pattern; axes not folded are expanded
        (the first axis varying fastest)."""
        folded = self._folded_axes(rangeset.dim())
        for vector in rangeset.vectors():
            choices = []
            for axis, axis_set in enumerate(vector):
                if axis_set._size() < 2:
                    choices.append((str(axis_set),))
                elif axis in folded:
                    choices.append(("[%s]" % axis_set,))
                else:
                    choices.append(tuple(axis_set.striter()))
            choices.reverse()
            for combo in product(*choices):
                yield pat % combo[::-1]

    def _strings_of(self, pat, rangeset):
        """Folded strings of one pattern."""
        if not rangeset:
            return (pat % (),)
        if rangeset.dim() > 1:
            return self._iter_nd_pat(pat, rangeset)
        if rangeset.dim() == 1:
            if self.fold_axis is not None and \
                    not any(-1 <= int(axis) < 1 for axis in self.fold_axis):
                return _names_1d(pat, rangeset)
            text = str(rangeset)
            return (pat % (text if rangeset._size() == 1 else "[%s]" % text),)
        return ()

    def __str__(self) -> str:
        """Folded node set string, such as ``node[1-5,7]``."""
        strings = []
        for pat, rangeset in self._sorted():
            try:
                strings.extend(self._strings_of(pat, rangeset))
            except TypeError:
                raise NodeSetParseError(pat, "Internal error: node pattern "
                                        "and ranges mismatch")
        return ",".join(strings)

    def copy(self) -> "NodeSetBase":
        """Return a shallow copy."""
        clone = self.__class__()
        clone.__dict__.update(self.__dict__)
        clone._patterns = _copy_patterns(self._patterns)
        return clone

    # -- comparisons -------------------------------------------------------

    def __contains__(self, other) -> bool:
        """Whether all nodes of other are here."""
        return self.issuperset(other)

    def issuperset(self, other) -> bool:
        """Whether all nodes of another node set are here."""
        self._binary_sanity_check(other)
        mine = self._patterns
        for pat, theirs in other._patterns.items():
            here = mine.get(pat)
            if not (here.issuperset(theirs) if here else pat in mine):
                return False
        return True

    def __eq__(self, other):
        if not isinstance(other, NodeSetBase):
            return NotImplemented
        return self._size() == other._size() and self.issuperset(other)

    __hash__ = None

    # -- positions ---------------------------------------------------------

    def _extractslice(self, index):
        """(start, stop, step) of a slice; a negative step is only allowed
        alone ([::-n]) and keeps the positions a backward walk visits."""
        length = self._size()
        start, stop, step = index.start, index.stop, index.step
        start = 0 if start is None else (max(0, length + start) if start < 0 else start)
        stop = sys.maxsize if stop is None else (max(0, length + stop) if stop < 0 else stop)
        if step is None:
            step = 1
        elif step < 0:
            if index.start is not None or index.stop is not None:
                raise IndexError("illegal start and stop when negative step "
                                 "is used")
            step = -step
            start += (length - 1) % step
        if not all(isinstance(value, int) for value in (start, stop, step)):
            raise TypeError("slice indices must be integers")
        return start, stop, step

    def _slice(self, index):
        """NodeSetBase of the nodes at the positions of a slice."""
        start, stop, step = self._extractslice(index)
        result = NodeSetBase()
        base = 0
        for pat, rangeset in self._sorted():
            if start >= stop:
                break
            size = _pattern_size(rangeset)
            if start < base + size:
                if rangeset:
                    first = start - base
                    count = min(stop - start, size - first)
                    result._add(pat, rangeset[first:first + count:step])
                else:
                    count = 1
                    result._add(pat, None)
                # next position of the progression past what was taken
                start += -(-count // step) * step
            base += size
        return result

    def __getitem__(self, index):
        """Node name at a position, or a node set for a slice."""
        if isinstance(index, slice):
            return self._slice(index)
        if not isinstance(index, int):
            raise TypeError("NodeSet indices must be integers")
        if index < 0:
            if index < -self._size():
                raise IndexError("%d out of range" % index)
            index += self._size()
        for pat, rangeset in self._sorted():
            size = _pattern_size(rangeset)
            if index < size:
                # an index string, a tuple of them, or nothing (unescaped)
                return pat % (rangeset[index] if rangeset else ())
            index -= size
        raise IndexError("%d out of range" % (index + self._size()))

    def index(self, other, start: int = 0, stop: Optional[int] = None) -> int:
        """Position of a single node in iteration order, like list.index();
        ValueError if absent.  The node set is not expanded: sizes of the
        patterns sorted before the node's are summed."""
        self._binary_sanity_check(other)
        if other._size() != 1:
            raise ValueError("index() argument must be a single node")
        (pat, wanted), = other._patterns.items()
        found = None
        if pat in self._patterns:
            here = self._patterns[pat]
            offset = None
            if here is None or wanted is None:
                offset = 0 if here is None and wanted is None else None
            else:
                point = next(iter(wanted)) if isinstance(wanted, RangeSetND) \
                    else next(wanted.striter())
                try:
                    offset = here.index(point)
                except ValueError:
                    pass
            if offset is not None:
                found = offset + sum(_pattern_size(rangeset) for other_pat, rangeset
                                     in self._patterns.items() if other_pat < pat)
        if found is not None and (start != 0 or stop is not None):
            low, high = _normalized_bounds(self._size(), start, stop)
            if not low <= found < high:
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
        """Add the nodes of a (pattern, RangeSet/RangeSetND/None) pair;
        a new RangeSet is copied (if asked) and gets our autostep."""
        patterns = self._patterns
        if pat not in patterns:
            if rangeset and copy_rangeset:
                rangeset = rangeset.copy()
                if self._autostep is not None:
                    rangeset.autostep = self._autostep
            patterns[pat] = rangeset
            return
        existing = patterns[pat]
        if (existing is None) != (rangeset is None):
            raise NodeSetError("Invalid operation")
        if existing:
            existing.update(rangeset)

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


    def __and__(self, other):
        return self._operator(other, "intersection", NodeSet)

    def __xor__(self, other):
        return self._operator(other, "symmetric_difference", NodeSet)

    def intersection_update(self, other) -> None:
        """Keep only the nodes also found in another node set."""
        if other is self:
            return
        mine = self._patterns
        kept = {}
        for pat, theirs in other._patterns.items():
            here = mine.get(pat)
            if here:
                common = here.intersection(theirs)
                if common:
                    kept[pat] = common
            elif pat in mine and not theirs:
                kept[pat] = None
        self._patterns = kept

    def difference_update(self, other, strict: bool = False) -> None:
        """Remove the nodes found in another node set; with strict, raise
        KeyError if one of them is not here."""
        mine = self._patterns
        emptied = []
        for pat, theirs in other._patterns.items():
            here = mine.get(pat)
            if here:
                here.difference_update(theirs, strict)
                if not here:
                    emptied.append(pat)
            elif pat in mine:
                emptied.append(pat)
            elif strict:
                raise KeyError(pat)
        for pat in emptied:
            del mine[pat]

    def remove(self, elem) -> None:
        """Remove nodes; KeyError if one of them is not here."""
        self.difference_update(elem, True)

    def symmetric_difference_update(self, other) -> None:
        """Keep the nodes in exactly one of this node set and another."""
        mine = self._patterns
        theirs_all = other._patterns
        dropped = [pat for pat, here in mine.items()
                   if not theirs_all.get(pat) and pat in theirs_all]
        for pat, here in mine.items():
            theirs = theirs_all.get(pat)
            if theirs:
                here.symmetric_difference_update(theirs)
        for pat, theirs in theirs_all.items():
            if pat not in mine:
                self._add(pat, theirs)
        dropped.extend(pat for pat, here in mine.items()
                       if here is not None and not here)
        for pat in dropped:
            del mine[pat]



NodeSetBase._OPERAND = NodeSetBase
NodeSetBase._OPERAND_ERROR = "Binary operation only permitted between NodeSetBase"


class ParsingEngine:
    """
    Turns node set strings (with groups and operators) into NodeSetBase
    objects, using a group resolver (or None).
    """

    #: method applying each string operator
    OP_CODES = {',': 'update', '!': 'difference_update',
                '&': 'intersection_update', '^': 'symmetric_difference_update'}
    #: regular expression of the operators
    OP_CODES_PAT = '[,!\\&\\^]'
    BRACKET_OPEN = '['
    BRACKET_CLOSE = ']'

    def __init__(self, group_resolver, node_wildcard_enable: bool = True) -> None:
        self.group_resolver = group_resolver
        #: whether "*" and "?" in names match nodes of the resolver
        self.node_wc = node_wildcard_enable

    def parse(self, nsobj, autostep) -> NodeSetBase:
        """NodeSetBase of a string, a NodeSetBase (returned as is) or None."""
        if isinstance(nsobj, str):
            return self._parse_checked(nsobj, _S.escape(nsobj), autostep)
        if nsobj is None:
            return NodeSetBase()
        if isinstance(nsobj, NodeSetBase):
            return nsobj
        raise TypeError("Unsupported NodeSet input %s" % type(nsobj))

    def _parse_checked(self, original, text, autostep):
        """parse() of a string already escaped as text."""
        try:
            return self._parse_escaped(text, autostep, None)
        except (NodeUtils.GroupSourceQueryFailed, RuntimeError) as exc:
            raise NodeSetParseError(original, str(exc))

    def parse_string(self, nsstr: str, autostep, namespace=None) -> NodeSetBase:
        """NodeSetBase of a string, groups resolved (in an optional
        namespace) and operators applied."""
        return self._parse_escaped(_S.escape(nsstr), autostep, namespace)

    def _parse_escaped(self, text, autostep, namespace):
        """parse_string() of an escaped string."""
        result = NodeSetBase()
        if _S.PLAIN_NAME.fullmatch(text):
            pat, rangesets = _S.scan_name(text, autostep)
            result._patterns[pat] = _S.index_object(rangesets, autostep)
            return result
        if _S.SIMPLE_OPERAND.fullmatch(text):
            pat, rangesets = _S.scan_simple_operand(text, autostep)
            result._patterns[pat] = _S.index_object(rangesets, autostep)
            return result
        if _S.PLAIN_LIST.fullmatch(text):
            names = [name.strip() for name in text.split(',')]
            if all(map(_S.PLAIN_NAME.fullmatch, names)):
                patterns = _S.patterns_of_plain(names, autostep)
                if patterns is not None:
                    result._patterns = patterns
                    return result
        everything = []     # all node names, computed once for wildcards
        for operator, pat, indexes in _S.scan_operands(text, autostep):
            resolver = self.group_resolver
            if resolver and pat[0] == '@':
                operand = self._group_operand(pat, indexes, namespace, autostep)
            elif resolver and self.node_wc and ('*' in pat or '?' in pat):
                operand = self._wildcard_operand(pat, indexes, namespace,
                                                 autostep, everything)
            elif operator == ',':
                result._add(pat, indexes, False)    # indexes are ours: no copy
                continue
            else:
                operand = NodeSetBase(pat, indexes, False)
            getattr(result, self.OP_CODES[operator])(operand)
        return result

    def _group_operand(self, pat, indexes, namespace, autostep):
        """Nodes of the "@group" names of one operand (@rack[1-2] names
        two groups)."""
        nodes = NodeSetBase()
        for group in NodeSetBase(pat, indexes):
            text, source = self.parse_group_string(group, namespace)
            if text:
                nodes.update(self.parse_string(text, autostep, source))
        return nodes

    def _wildcard_operand(self, pat, indexes, namespace, autostep, everything):
        """Nodes of the resolver matching the masks of one operand."""
        if not everything:
            self.node_wc = False    # all nodes are taken literally
            try:
                known = NodeSetBase()
                for text in self.all_nodes(namespace):
                    known.update(self.parse_string(text, autostep, namespace))
                everything.append(set(known))
            finally:
                self.node_wc = True
        candidates = set(everything[0])
        nodes = NodeSetBase()
        for mask in NodeSetBase(pat, indexes, False):
            for name in fnmatch.filter(candidates, mask):
                candidates.discard(name)
                nodes.update(self.parse_string_single(name, autostep))
        return nodes

    def parse_string_single(self, nsstr: str, autostep) -> NodeSetBase:
        """NodeSetBase of one node name (no bracket, group or operator)."""
        pat, rangesets = _S.scan_name(_S.escape(nsstr), autostep)
        return NodeSetBase(pat, _S.index_object(rangesets, autostep), False)

    def parse_group(self, group: str, namespace=None, autostep=None) -> NodeSetBase:
        """NodeSetBase of one group name (without @)."""
        assert self.group_resolver is not None
        return self.parse(",".join(self.group_resolver.group_nodes(group, namespace)),
                          autostep)

    def parse_group_string(self, nodegroup: str, namespace=None):
        """Resolve one "@[source:]group" string one level deep: return
        (node set string, namespace); the string may name groups again."""
        assert nodegroup[0] == '@'
        assert self.group_resolver is not None
        name = nodegroup[1:]
        source, colon, group = name.partition(':')
        if colon:
            namespace = source
        else:
            group = name
        if group == '*':
            found = self.all_nodes(namespace)
        elif group[:1] == '@':
            found = self.grouplist(name[1:])
        else:
            found = self.group_resolver.group_nodes(group, namespace)
        return ','.join(found), namespace

    def grouplist(self, namespace=None) -> list:
        """Group names of a source, sorted, ranges in names expanded."""
        names = NodeSetBase()
        for text in self.group_resolver.grouplist(namespace):
            for operator, pat, indexes in _S.scan_operands(_S.escape(text), None):
                getattr(names, self.OP_CODES[operator])(NodeSetBase(pat, indexes, False))
        return list(names)

    def all_nodes(self, namespace=None) -> list:
        """All nodes of a source, as a list of node set strings: from its
        "all" upcall, else from its groups."""
        resolver = self.group_resolver
        assert resolver is not None
        try:
            return resolver.all_nodes(namespace)
        except NodeUtils.GroupSourceQueryFailed as exc:
            raise NodeSetExternalError("Failed to get all nodes: %s" % exc)
        except NodeUtils.GroupSourceNoUpcall:
            pass
        try:
            return [text for group in self.grouplist(namespace)
                    for text in resolver.group_nodes(group, namespace)]
        except NodeUtils.GroupSourceNoUpcall:
            raise NodeSetExternalError("Not enough working methods (all or map "
                                       "+ list) to get all nodes")


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
        no_group = resolver == RESOLVER_NOGROUP or resolver == RESOLVER_NOINIT
        self._resolver = None if no_group else (resolver or RESOLVER_STD_GROUP)
        self._parser = None
        if resolver != RESOLVER_NOINIT:
            self._parser = ParsingEngine(self._resolver)
            if nodes is not None:
                self.update(nodes)

    @classmethod
    def _fromlist1(cls, nodelist, autostep=None, resolver=None) -> "NodeSet":
        """New NodeSet of single node names: brackets, operators and groups
        are not interpreted."""
        result = NodeSet(autostep=autostep, resolver=resolver)
        parse = result._parser.parse_string_single
        result._update_each(nodelist, lambda single: NodeSetBase.update(
            result, parse(single, autostep)))
        return result

    @classmethod
    def fromlist(cls, nodelist: Iterable, autostep: Optional[int] = None,
                 resolver=None) -> "NodeSet":
        """New NodeSet of a list of node set strings or NodeSets."""
        result = NodeSet(autostep=autostep, resolver=resolver)
        result.updaten(nodelist)
        return result

    @classmethod
    def fromall(cls, groupsource=None, autostep: Optional[int] = None,
                resolver=None) -> "NodeSet":
        """New NodeSet of all nodes of a group source."""
        result = NodeSet(autostep=autostep, resolver=resolver)
        if not result._resolver:
            raise NodeSetExternalError("Group resolver is not defined")
        try:
            result.updaten(result._parser.all_nodes(groupsource))
        except NodeUtils.GroupResolverError as exc:
            raise NodeSetExternalError("Group source error (%s: %s)"
                                       % (type(exc).__name__, exc))
        return result

    def __getstate__(self):
        """Pickle state: the group resolver and parser are left out."""
        state = {key: value for key, value in self.__dict__.items()
                 if key not in ('_resolver', '_parser')}
        state['_version'] = NodeSet._VERSION
        return state

    def __setstate__(self, dic):
        """Unpickle without group resolver; NodeSets pickled before
        ClusterShell 1.7 (no nD support) are converted."""
        self.__dict__.update(dic)
        self._resolver = None
        self._parser = ParsingEngine(None)
        if getattr(self, '_version', 1) > 1:
            return
        self.fold_axis = None
        old = self._patterns
        self._patterns = {}
        for pat, rangeset in sorted(old.items()):
            if not rangeset:
                self.update(pat)
            elif rangeset._size() > 1:
                self.update(pat % ("[%s]" % rangeset))
            else:
                self.update(pat % str(rangeset))

    def copy(self) -> "NodeSet":
        """Return a shallow copy of a NodeSet."""
        clone = self.__class__(resolver=RESOLVER_NOINIT)
        clone.__dict__.update(self.__dict__)
        clone._patterns = _copy_patterns(self._patterns)
        return clone

    __copy__ = copy

    # -- node groups -------------------------------------------------------

    def _group_matches(self, groupsource, autostep):
        """{group: [count of our nodes in it, its NodeSetBase]}, groups in
        the order their first node of ours is met."""
        resolver = self._resolver
        if not resolver:
            raise NodeSetExternalError("No node group resolver")
        try:
            names = self._parser.grouplist(groupsource)
        except NodeUtils.GroupSourceError:
            names = None    # the reverse upcall may still answer
        use_reverse = resolver.has_node_groups(groupsource) and \
            (not names or len(names) >= self._size())
        members = {}
        if not use_reverse:
            if not names:
                return {}
            try:
                for name in names:
                    members[name] = NodeSet(",".join(resolver.group_nodes(
                        name, groupsource)), resolver=resolver)
            except NodeUtils.GroupSourceQueryFailed as exc:
                raise NodeSetExternalError("Unable to map a group previously "
                                           "listed\n\tFailed command: %s" % exc)
        matches = {}
        for node in self._iterbase():
            if use_reverse:
                try:
                    found = resolver.node_groups(node, groupsource)
                except NodeUtils.GroupSourceQueryFailed as exc:
                    raise NodeSetExternalError("Group source query failed: %s"
                                               % exc)
            else:
                found = [name for name, nodes in members.items() if node in nodes]
            for name in found:
                entry = matches.get(name)
                if entry is None:
                    matches[name] = [1, self._parser.parse_group(name, groupsource,
                                                                 autostep)]
                else:
                    entry[0] += 1
        return matches

    def _group_label(self, groupsource, name, noprefix):
        if groupsource and not noprefix:
            return "@%s:%s" % (groupsource, name)
        return "@" + name

    def groups(self, groupsource=None, noprefix: bool = False) -> dict:
        """Groups holding nodes of this set:
        {"@group": (group NodeSet, our nodes in it)}; names are
        "@source:group" when groupsource is given, unless noprefix."""
        return {self._group_label(groupsource, name, noprefix):
                (NodeSet(nodes, resolver=self._resolver), self.intersection(nodes))
                for name, (_, nodes) in
                self._group_matches(groupsource, self._autostep).items()}

    def regroup(self, groupsource=None, autostep=None, overlap: bool = False,
                noprefix: bool = False) -> str:
        """String of this set using the largest node groups it fully holds,
        str() when there is none."""
        matches = self._group_matches(groupsource, autostep)
        if not matches:
            return str(self)
        full = sorted((-count, name) for name, (count, nodes) in matches.items()
                      if count == nodes._size())
        left = NodeSet(self, resolver=RESOLVER_NOGROUP)
        chosen = NodeSet(resolver=RESOLVER_NOGROUP)
        for _, name in full:
            nodes = matches[name][1]
            if not overlap and nodes not in left:
                continue
            chosen.update(self._group_label(groupsource, name, noprefix))
            left.difference_update(nodes)
            if not left:
                return str(chosen)
        return "%s,%s" % (chosen, left) if chosen else str(left)

    # -- string-accepting versions of the base operations ------------------

    def issubset(self, other) -> bool:
        """Whether all nodes are in another node set (or string)."""
        return NodeSetBase.issuperset(self._parser.parse(other, self._autostep), self)

    def issuperset(self, other) -> bool:
        """Whether all nodes of another node set (or string) are here."""
        if isinstance(other, str):
            found = self._has_name(other)
            if found is not None:
                return found
        return NodeSetBase.issuperset(self, self._parser.parse(other, self._autostep))

    def __getitem__(self, index):
        """Node name at a position, or a NodeSet for a slice."""
        found = NodeSetBase.__getitem__(self, index)
        if isinstance(found, NodeSetBase):
            part = NodeSet(autostep=self._autostep, resolver=self._resolver)
            part._patterns = found._patterns
            return part
        return found

    def index(self, other, start: int = 0, stop: Optional[int] = None) -> int:
        """Position of a node (string or NodeSet) in iteration order, like
        list.index(); ValueError if absent."""
        return NodeSetBase.index(self, self._parser.parse(other, self._autostep),
                                 start, stop)

    def split(self, nbr: int) -> Iterator["NodeSet"]:
        """Split into at most nbr NodeSets of (almost) equal sizes."""
        return split_evenly(self, nbr)

    def update(self, other) -> None:
        """Add nodes (node set string or NodeSet)."""
        if not isinstance(other, str):
            NodeSetBase.update(self, self._parser.parse(other, self._autostep))
            return
        text = _S.escape(other)
        if not self._add_name(text):
            self._adopt(self._parser._parse_checked(other, text, self._autostep))

    def updaten(self, others) -> None:
        """Add the nodes of several node set strings or NodeSets."""
        if not isinstance(others, (list, tuple)):
            others = list(others)
        names = _S.plain_names(others)
        if names is not None:
            self._update_plain(names)
            return
        self._update_each(others, self.update)

    def _update_each(self, items, add_other):
        """Add items: plain node names in bulk, each other item through
        add_other."""
        pending = []
        for item in items:
            if isinstance(item, str):
                name = _S.escape(item)
                if _S.PLAIN_NAME.fullmatch(name):
                    pending.append(name)
                    continue
            self._update_plain(pending)
            pending = []
            add_other(item)
        self._update_plain(pending)

    def intersection_update(self, other) -> None:
        """Keep only the nodes also found in another node set (or string)."""
        NodeSetBase.intersection_update(self, self._parser.parse(other, self._autostep))

    def difference_update(self, other, strict: bool = False) -> None:
        """Remove nodes; with strict, KeyError if one is not here."""
        if isinstance(other, str) and self._discard_name(_S.escape(other), strict):
            return
        NodeSetBase.difference_update(self, self._parser.parse(other, self._autostep),
                                      strict)

    def symmetric_difference_update(self, other) -> None:
        """Keep the nodes in exactly one of this node set and another."""
        NodeSetBase.symmetric_difference_update(
            self, self._parser.parse(other, self._autostep))

    # -- fast paths for plain node names -------------------------------------

    def _adopt(self, nodeset):
        """Add the nodes of a NodeSetBase built for this call: its RangeSets
        are taken over, not copied."""
        mine = self._patterns
        for pat, rangeset in nodeset._patterns.items():
            if pat in mine:
                self._add(pat, rangeset)
                continue
            if rangeset and self._autostep is not None:
                rangeset.autostep = self._autostep
            mine[pat] = rangeset

    def _update_plain(self, names):
        """Add escaped plain node names."""
        if not names:
            return
        patterns = _S.patterns_of_plain(names, self._autostep)
        if patterns is None:
            for name in names:
                self._adopt(self._parser.parse_string(name, self._autostep))
            return
        batch = NodeSetBase()
        batch._patterns = patterns
        self._adopt(batch)

    @staticmethod
    def _plain_split(name):
        """Text and number parts (alternating) of an escaped plain ASCII
        node name, else None (the text needs the parser)."""
        if not name.isascii() or not _S.PLAIN_NAME.fullmatch(name):
            return None
        return _S.DIGIT_RUNS.split(name)

    @classmethod
    def _plain_parts(cls, name):
        """(pattern, index strings) of an escaped plain ASCII node name with
        at most one number, else None (the text needs the parser)."""
        parts = cls._plain_split(name)
        if parts is None or len(parts) > 3:
            return None
        return "%s".join(parts[0::2]), parts[1::2]

    def _has_name(self, text):
        """Whether one plain node name is here, None when the text needs
        the parser.  No object is built."""
        parts = self._plain_split(_S.escape(text))
        if parts is None:
            return None
        pat = "%s".join(parts[0::2])
        if pat not in self._patterns:
            return False
        rangeset = self._patterns[pat]
        if not rangeset:
            return True
        keys = [_S.index_key(number) for number in parts[1::2]]
        if len(keys) > 1:
            if isinstance(rangeset, RangeSetND) and rangeset.dim() == len(keys):
                return rangeset._has_point(keys)
        elif isinstance(rangeset, RangeSet):
            return _R.contains(rangeset._lo, rangeset._hi, keys[0])
        return None

    def _add_name(self, name):
        """Add one escaped plain node name in place; False if not handled."""
        found = self._plain_parts(name)
        if found is None:
            return False
        pat, numbers = found
        mine = self._patterns
        rangeset = mine.get(pat)
        if pat in mine and (rangeset is None) == bool(numbers):
            raise NodeSetError("Invalid operation")
        if not numbers:
            mine[pat] = None
            return True
        key = _S.index_key(numbers[0])
        if rangeset is None:
            rangeset = RangeSet._from_intervals([key], [key + 1], None)
            rangeset.autostep = self._autostep
            mine[pat] = rangeset
        elif isinstance(rangeset, RangeSet):
            _R.insert(rangeset._lo, rangeset._hi, key, key + 1)
            rangeset._changed()
        else:
            return False
        return True

    def _discard_name(self, name, strict):
        """Remove one escaped plain node name in place (KeyError if strict
        and it is missing); False if not handled."""
        found = self._plain_parts(name)
        if found is None:
            return False
        pat, numbers = found
        mine = self._patterns
        if pat not in mine:
            if strict:
                raise KeyError(pat)
            return True
        rangeset = mine[pat]
        if not rangeset or not numbers:
            del mine[pat]
            return True
        if not isinstance(rangeset, RangeSet):
            return False
        key = _S.index_key(numbers[0])
        if not _R.contains(rangeset._lo, rangeset._hi, key):
            if strict:
                raise KeyError(numbers[0])
            return True
        _R.cut(rangeset._lo, rangeset._hi, key, key + 1)
        rangeset._changed()
        if not rangeset._lo:
            del mine[pat]
        return True


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
        chars = ILLEGAL_GROUP_CHARS if illegal_chars is None else illegal_chars
        set_std_group_resolver(NodeUtils.GroupResolverConfig(groupsconf, chars))
