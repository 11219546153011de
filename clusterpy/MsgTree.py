"""MsgTree: messages (sequences of lines) by key, gathered by identical content.

A MsgTree maps keys (any hashable, usually ``(worker, node)``) to the lines
they received, and groups keys whose messages are identical: ``walk()``
yields each distinct message once with the keys that have it.  This is what
makes ``clush -b`` and ``Task.iter_buffers()`` cheap on big clusters.

How it is stored (clusterpy's own design, same API as ClusterShell 1.10):

* MODE_DEFER and MODE_SHIFT keep, per key, the chunks of lines it received
  (``bytes`` of lines joined by ``\\n``, as the C reactor delivers them), and
  group keys by whole message when walked.  Adding a chunk of a thousand
  lines is one list append; nothing is done per line.  A finished key can be
  sealed: its chunks are joined once and interned, so that a thousand nodes
  printing the same output share one copy of it.
* MODE_TRACE keeps a real tree of lines, one element per distinct line
  prefix, because ``walk_trace()`` reports every element and the keys that
  went through it.

Lines are bytes.  A line given to ``add()`` may itself contain ``\\n``; such
keys keep their lines one by one so that ``lines()`` gives them back intact.
"""

from itertools import chain
from typing import Any, Callable, Iterator, List, Optional

MODE_DEFER = 0
MODE_SHIFT = 1
MODE_TRACE = 2

_NL = b"\n"


class MsgTreeElem(object):
    """One message: the lines from the first one up to this element.

    Iterating over an element gives its lines; ``bytes(elem)`` or
    ``elem.message()`` gives them joined by ``\\n``.
    """

    __slots__ = ("parent", "msgline", "children", "keys", "_trace", "_lines", "_msg",
                 "__weakref__")

    def __init__(self, msgline=None, parent=None, trace=False):
        # tree structure: a chain of elements, one line each (msgline None
        # at a root); _lines is set instead for a whole message built at once
        self.parent = parent
        self.msgline = msgline
        self.children = None
        self.keys = None
        self._trace = trace
        self._lines = None
        self._msg = None

    @classmethod
    def _whole(cls, lines, msg=None):
        """An element holding a whole message: a tuple of lines (or None if
        msg, the joined bytes, is given and its lines are msg.split(b"\\n"))."""
        elem = cls()
        elem._lines = lines
        elem._msg = msg
        return elem

    # content

    def lines(self) -> Iterator[bytes]:
        """Iterator over the message lines, first to last."""
        if self._msg is not None or self._lines is not None:
            return iter(self._line_tuple())
        tail = []
        elem = self
        while elem is not None and elem.msgline is not None:
            tail.append(elem.msgline)
            elem = elem.parent
        if elem is not None and (elem._msg is not None or elem._lines is not None):
            return chain(elem._line_tuple(), reversed(tail))
        return reversed(tail)

    splitlines = lines
    __iter__ = lines

    def _line_tuple(self):
        if self._lines is None:
            self._lines = tuple(self._msg.split(_NL))
        return self._lines

    def message(self) -> bytes:
        """The whole message as bytes, lines joined by b'\\n'."""
        if self._msg is not None:
            return self._msg
        if self._lines is not None:
            self._msg = _NL.join(self._lines)
            return self._msg
        return _NL.join(self.lines())

    __bytes__ = message

    def __len__(self):
        return len(self.message())

    def __eq__(self, other):
        return bytes(self) == bytes(other)

    __hash__ = None  # type: ignore[assignment]  # mutable: compared by content

    def __getitem__(self, i):
        return list(self.lines())[i]

    def __str__(self):
        raise TypeError("cannot get string from %s, use bytes instead"
                        % self.__class__.__name__)

    def __repr__(self):
        return "<%s %r>" % (self.__class__.__name__, self.message()[:60])

    # tree building

    def append(self, msgline: bytes, key=None) -> "MsgTreeElem":
        """Return the child element for `msgline` (created if needed).  With
        a key, the key moves to the child (or, in trace mode, is recorded on
        it while staying on this element)."""
        if self.children is None:
            self.children = {}
        child = self.children.get(msgline)
        if child is None:
            child = self.__class__(msgline, self, self._trace)
            self.children[msgline] = child
        if key is not None:
            if not self._trace and self.keys:
                self.keys.discard(key)
            if child.keys is None:
                child.keys = {key}
            else:
                child.keys.add(key)
        return child


class _Lines(list):
    """Parts of a key whose lines may contain b'\\n': one item per line."""

    __slots__ = ()


class _ByContent(object):
    """Keys grouped by content (bytes, or a tuple of lines), groups in the
    order they were first seen.

    Small contents group in a dict.  Hashing reads every byte, so a big
    content is first bucketed by its length and a few samples of it, then
    compared with ==, which stops at the first difference (and at once for
    the same object).  A bucket holding many different contents (samples
    that say little) goes back to hashing for its newcomers, so a content
    is compared with at most _BUCKET_MAX others.
    """

    __slots__ = ("groups", "_small", "_big")

    def __init__(self):
        self.groups = []    # [(content, keys)]
        self._small = {}    # content -> (content, keys)
        self._big = {}      # sample -> [(content, keys)]

    def add(self, content, keys):
        """Add keys having content; the equal content of the group they
        joined, or None for a new group."""
        size = len(content)
        if type(content) is bytes and size > _BIG:
            mid = size >> 1
            sample = (size, content[:_SAMPLE], content[mid:mid + _SAMPLE],
                      content[-_SAMPLE:])
            bucket = self._big.get(sample)
            if bucket is None:
                self._big[sample] = [(content, keys)]
            elif bucket:
                for other, group in bucket:
                    if other == content:
                        group.extend(keys)
                        return other
                if len(bucket) < _BUCKET_MAX:
                    bucket.append((content, keys))
                else:
                    # overflow: this bucket's contents are hashed from now on
                    for other, group in bucket:
                        self._small[other] = (other, group)
                    bucket.clear()
                    return self._add_small(content, keys)
            else:
                return self._add_small(content, keys)
            self.groups.append((content, keys))
            return None
        return self._add_small(content, keys)

    def _add_small(self, content, keys):
        group = self._small.get(content)
        if group is None:
            self._small[content] = (content, keys)
            self.groups.append((content, keys))
            return None
        group[1].extend(keys)
        return group[0]


_SMALL = 1024          # parts up to this size are hashed to group keys
_BIG = 1 << 16          # contents above this many bytes are not hashed...
_SAMPLE = 256           # ...but bucketed by three samples of this size
_BUCKET_MAX = 8
_SHARE = 1 << 15        # chunks from this size are shared between keys (_add_chunk)


class MsgTree(object):
    """Messages by key, grouped by identical content (see module doc).

    `mode` is MODE_DEFER (default; becomes MODE_SHIFT after the first walk,
    as in ClusterShell), MODE_SHIFT, or MODE_TRACE (enables walk_trace()).
    """

    def __init__(self, mode: int = MODE_DEFER):
        self.mode = mode
        self._keys = {}       # key -> list of chunks (flat modes) or elem (trace)
        self._elems = {}      # message content -> MsgTreeElem, as of last walk
        self._interned = {}   # sealed message -> itself
        self._shared = {}     # part index -> first big chunk added at that index
        # groups of the last walk, valid while no key is added or removed and
        # no part is appended (the total number of parts is then unchanged)
        self._walked = None
        self._walked_parts = 0
        self._root = MsgTreeElem(trace=True) if mode == MODE_TRACE else None

    def clear(self) -> None:
        """Remove every key and message."""
        self._keys.clear()
        self._elems = {}
        self._walked = None
        self._interned = {}
        self._shared = {}
        if self.mode == MODE_TRACE:
            self._root = MsgTreeElem(trace=True)

    def __len__(self):
        return len(self._keys)

    # adding

    def add(self, key, msgline: bytes) -> None:
        """Append line `msgline` (bytes) to the message of `key`."""
        try:
            parts = self._keys[key]
        except KeyError:
            parts = None
        # fast path: a known key of a flat mode, a line without b"\n"
        # (`10 in` is a memchr; `b"\n" in` is several times slower)
        if type(parts) is list and 10 not in msgline:
            parts.append(msgline)
        else:
            self._add(key, msgline, parts)

    def _add(self, key, msgline, parts) -> None:
        self._walked = None
        if self._root is not None:
            elem = self._root if parts is None else parts
            self._keys[key] = elem.append(msgline, key)
            return
        if _NL in msgline:
            if parts is None:
                self._keys[key] = _Lines((msgline,))
            elif type(parts) is _Lines:
                parts.append(msgline)
            else:
                self._keys[key] = _Lines(_NL.join(parts).split(_NL) + [msgline])
        elif parts is None:
            self._keys[key] = [msgline]
        else:
            parts.append(msgline)

    def _add_line(self, key, msgline: bytes) -> None:
        """add() for a line known to hold no b'\\n' (from the reactor)."""
        if self._root is not None:
            self.add(key, msgline)
            return
        parts = self._keys.get(key)
        if parts is None:
            self._keys[key] = [msgline]
            self._walked = None
        else:
            parts.append(msgline)

    def _add_chunk(self, key, chunk: bytes) -> None:
        """Append the lines of `chunk` (lines joined by b'\\n') to `key`."""
        if self._root is not None:
            elem = self._keys.get(key, self._root)
            for line in chunk.split(_NL):
                elem = elem.append(line, key)
            self._keys[key] = elem
            return
        parts = self._keys.get(key)
        if len(chunk) >= _SHARE:
            # a big chunk equal to the one another key had at the same index
            # (the nodes of a command often print the same big lines) is kept
            # as that object: this one is freed now, and its memory reused
            index = 0 if parts is None else len(parts)
            shared = self._shared.setdefault(index, chunk)
            if shared is not chunk and shared == chunk:
                chunk = shared
        if parts is None:
            self._keys[key] = [chunk]
            self._walked = None
        elif type(parts) is _Lines:
            parts.extend(chunk.split(_NL))
        else:
            parts.append(chunk)

    def _seal(self, key) -> None:
        """Join the chunks of a finished key once and share the result with
        every key whose message is identical (memory, not semantics)."""
        parts = self._keys.get(key)
        if parts is None or self._root is not None or type(parts) is _Lines:
            return
        msg = parts[0] if len(parts) == 1 else _NL.join(parts)
        self._walked = None
        parts[:] = (self._interned.setdefault(msg, msg),)

    # reading

    def _content(self, key):
        """Grouping identity of key's message: its bytes, or a tuple of lines
        for keys whose lines contain b'\\n'.  Joins (compacts) chunks."""
        parts = self._keys[key]
        if type(parts) is _Lines:
            return tuple(parts)
        if len(parts) > 1:
            parts[:] = (_NL.join(parts),)
            self._walked = None
            self._shared = {}   # would keep the joined chunks alive
        return parts[0]

    def _elem(self, content, cache):
        # bytes contents by identity (a big one is not hashed again; keys of
        # one message share one object once walked), and the entry keeps the
        # object alive so that its id stays its own
        ckey = id(content) if type(content) is bytes else content
        entry = cache.get(ckey)
        if entry is None or entry[0] is not content:
            entry = self._elems.get(ckey)
            if entry is None or entry[0] is not content:
                if type(content) is tuple:
                    entry = (content, MsgTreeElem._whole(content))
                else:
                    entry = (content, MsgTreeElem._whole(None, content))
            cache[ckey] = entry
        return entry[1]

    def get(self, key, default=None) -> Optional[MsgTreeElem]:
        """The message element of `key`, or `default`."""
        if key not in self._keys:
            return default
        if self._root is not None:
            return self._keys[key]
        return self._elem(self._content(key), self._elems)

    def __getitem__(self, key) -> MsgTreeElem:
        if key not in self._keys:
            raise KeyError(key)
        return self.get(key)

    def keys(self) -> Iterator[Any]:
        """Iterator over the keys."""
        return iter(self._keys.keys())

    __iter__ = keys

    def messages(self, match: Optional[Callable] = None) -> Iterator[MsgTreeElem]:
        """Iterator over distinct messages (of keys accepted by match)."""
        return (elem for elem, _ in self.walk(match))

    def items(self, match: Optional[Callable] = None,
              mapper: Optional[Callable] = None) -> Iterator:
        """Iterator over (mapper(key), message element) for each key."""
        for key in list(self._keys):
            if match is None or match(key):
                yield (key if mapper is None else mapper(key)), self.get(key)

    def _trace_elems(self):
        """Every element of the trace mode tree, depth first."""
        stack = [self._root]
        while stack:
            elem = stack.pop()
            if elem.children:
                stack.extend(elem.children.values())
            yield elem

    def _groups(self) -> List:
        """[(distinct message element, keys having it)], in key order (trace
        mode: every element some key went through, depth first)."""
        if self._root is not None:
            return [(elem, list(elem.keys)) for elem in self._trace_elems() if elem.keys]
        walked = self._walked
        if walked is not None and sum(map(len, self._keys.values())) == self._walked_parts:
            return walked
        self._walked = None
        # Group keys by their parts first (the same line objects fed by
        # add(), small parts by value, big ones compared part by part), so
        # that each distinct list of parts is joined once; keys whose parts
        # differ but whose message is the same (other chunking, or a big
        # bucket full) are merged by content after.
        by_parts = {}
        big = {}    # sample -> [(parts, sig)]: big parts lists seen so far
        for key, parts in self._keys.items():
            if type(parts) is _Lines:
                sig = (None, tuple(parts))   # never equal to a tuple of ids
            elif len(parts) == 1:
                sig = id(parts[0])           # parts live as long as the walk
            elif len(parts[0]) <= _SMALL:
                sig = tuple(parts)           # hashes each part once, if small
            else:
                # big parts: a list equal part by part to one seen before
                # (compared, cheaper than joining) joins the same group
                sig = None
                first, last = parts[0], parts[-1]
                sample = (len(parts), len(first), len(last), first[:_SAMPLE],
                          last[-_SAMPLE:])
                bucket = big.get(sample)
                if bucket is None:
                    bucket = big[sample] = []
                for other, other_sig in bucket:
                    if other == parts:
                        sig = other_sig
                        break
                if sig is None:
                    sig = tuple(map(id, parts))
                    if len(bucket) < _BUCKET_MAX:
                        bucket.append((parts, sig))
            keys = by_parts.get(sig)
            if keys is None:
                by_parts[sig] = [key]
            else:
                keys.append(key)
        if len(by_parts) == 1:
            # every key has the same big parts (the same big lines, shared
            # by _add_chunk): the message is those parts, one line each if
            # none holds b"\n"; joined only if message() is asked for
            keys = next(iter(by_parts.values()))
            parts = self._keys[keys[0]]
            if type(parts) is list and len(parts) > 1 and len(parts[0]) > _SMALL \
                    and not any(10 in part for part in parts):
                groups = [(MsgTreeElem._whole(tuple(parts)), keys)]
                self._elems = {}
                self._walked = groups
                self._walked_parts = sum(map(len, self._keys.values()))
                return groups
        self._shared = {}   # parts get joined below: let their chunks go
        by_content = _ByContent()
        merged = False
        key_parts = self._keys
        for sig, keys in by_parts.items():
            if type(sig) is int:
                content = key_parts[keys[0]][0]
            elif sig[0] is None:
                content = sig[1]
            else:
                # compact: every key of this group now shares one bytes
                content = _NL.join(key_parts[keys[0]])
                for key in keys:
                    key_parts[key][:] = (content,)
            other = by_content.add(content, keys)
            if other is not None and type(other) is bytes:
                # the same message as keys seen before: share their object
                merged = True
                for key in keys:
                    key_parts[key][:] = (other,)
        if merged:
            # keep every group's keys in key order: regroup, now compacted
            return self._groups()
        cache = {}
        groups = [(self._elem(content, cache), keys) for content, keys in by_content.groups]
        self._elems = cache
        self._walked = groups
        self._walked_parts = sum(map(len, self._keys.values()))
        return groups

    def walk(self, match: Optional[Callable] = None,
             mapper: Optional[Callable] = None) -> Iterator:
        """Iterator over (message element, keys) for each distinct message,
        keys optionally filtered by `match` and transformed by `mapper`."""
        if self.mode == MODE_DEFER:
            self.mode = MODE_SHIFT
        for elem, keys in self._groups():
            if match is not None:
                keys = [key for key in keys if match(key)]
                if not keys:
                    continue
            if mapper is not None:
                keys = [mapper(key) for key in keys]
            elif match is None:
                keys = list(keys)   # the caller's own list (groups are kept)
            yield elem, keys

    def walk_trace(self, match: Optional[Callable] = None,
                   mapper: Optional[Callable] = None) -> Iterator:
        """Trace mode only: iterator over (msgline, keys, depth, number of
        children) for every element a matching key went through, depth
        first."""
        assert self.mode == MODE_TRACE, "walk_trace() is only callable in trace mode"
        stack = [(self._root, 0)]
        while stack:
            elem, depth = stack.pop()
            children = elem.children or {}
            stack.extend((child, depth + 1) for child in children.values())
            if not elem.keys:
                continue
            keys = [key for key in elem.keys if match is None or match(key)]
            if keys:
                if mapper is not None:
                    keys = [mapper(key) for key in keys]
                yield elem.msgline, keys, depth, len(children)

    def remove(self, match: Optional[Callable] = None) -> None:
        """Remove the keys accepted by `match` (every key if None)."""
        doomed = [key for key in self._keys if match is None or match(key)]
        if self._root is not None:
            gone = set(doomed)
            for elem in self._trace_elems():
                if elem.keys:
                    elem.keys -= gone
        for key in doomed:
            del self._keys[key]
        self._walked = None
        if doomed and self._root is None:
            self._interned = {}
            self._shared = {}

    def _depth(self) -> int:
        """Largest number of lines of a message."""
        depth = 0
        for key in self._keys:
            elem = self.get(key)
            depth = max(depth, sum(1 for _ in elem.lines()))
        return depth
