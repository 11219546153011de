"""Propagation topology: which gateways reach which nodes (tree mode).

A topology file (``topology.conf``) is an INI file whose ``[routes]``
section holds one line per hop, ``gateways: targets``, both sides being
node sets (groups and wildcards allowed)::

    [routes]
    admin: gw[0-3]
    gw[0-1]: node[0-499]
    gw[2-3]: node[500-999]

``[Main]`` is still read in place of ``[routes]`` (deprecated name: a
``DeprecationWarning`` is issued).

:class:`TopologyParser` reads such a file into a :class:`TopologyGraph`
(a table of :class:`TopologyRoute`), which checks every new route (no
loop, no node reached by two different gateway sets) and turns into a
:class:`TopologyTree` of :class:`TopologyNodeGroup` seen from a given
root node. Any invalid topology raises :class:`TopologyError`.

Tree mode uses it: ``Task.load_topology()``, ``Propagation`` and
``Worker.Tree``.
"""

import configparser
import logging
import warnings

from clusterpy.NodeSet import NodeSet

LOGGER = logging.getLogger(__name__)


class TopologyError(Exception):
    """An invalid topology file or a route set that cannot form a tree."""


class TopologyNodeGroup(object):
    """A node of the propagation tree: a node set, its parent group (None
    for the root) and its ordered child groups."""

    def __init__(self, nodeset=None):
        self.nodeset = nodeset
        self.parent = None
        self._children = []
        self._children_len = 0      # kept for compatibility, not maintained
        self._children_ns = None    # union of the children's node sets

    def _is_last(self):
        """Whether this group is the last child of its parent."""
        return self.parent._children[-1] is self

    def _line(self, prefix):
        """This group's own line in printable_subtree(), and the prefix its
        children get."""
        if self.parent is None:
            return "%s\n" % self.nodeset, prefix
        mark = "`- " if self._is_last() else "|- "
        if self.parent.parent is None:
            return "%s%s\n" % (mark, self.nodeset), prefix
        # below the first level, the parent's position decides whether a
        # vertical bar keeps running on the left
        prefix += "   " if self.parent._is_last() else "|  "
        return "%s%s%s\n" % (prefix, mark, self.nodeset), prefix

    def printable_subtree(self, prefix=''):
        """This group and everything below it, one group a line, drawn with
        ``|-`` / `` `- `` branches."""
        out = []
        pending = [(self, prefix)]
        while pending:
            group, pfx = pending.pop()
            line, sub = group._line(pfx)
            out.append(line)
            pending.extend((child, sub) for child in reversed(group._children))
        return "".join(out)

    def add_child(self, child):
        """Append `child` (a non-empty TopologyNodeGroup) to the children and
        become its parent; adding a child twice changes nothing."""
        assert isinstance(child, TopologyNodeGroup)
        assert len(child.nodeset) > 0, "empty nodeset in child"
        if child not in self._children:
            below = self._children_ns
            self._children_ns = NodeSet() if below is None else below
            self._children_ns.update(child.nodeset)
            self._children.append(child)
            child.parent = self

    def clear_child(self, child, strict=False):
        """Remove `child`; a child that is not there is ignored, or raises
        ValueError when `strict`."""
        try:
            self._children.remove(child)
        except ValueError:
            if strict:
                raise
            return
        self._children_ns.difference_update(child.nodeset)
        if not self._children_ns:
            self._children_ns = None

    def clear_children(self):
        """Forget every child."""
        self._children = []
        self._children_ns = None

    def children(self):
        """The list of child groups (not a copy)."""
        return self._children

    def children_ns(self):
        """All children's nodes as one NodeSet, or None without children."""
        return self._children_ns

    def children_len(self):
        """Number of nodes in the children (0 without children)."""
        return 0 if self._children_ns is None else len(self._children_ns)

    def __str__(self):
        return "<TopologyNodeGroup (%s)>" % self.nodeset


class TopologyTree(object):
    """A propagation tree of TopologyNodeGroup, from its root group.

    Iterating gives the groups depth first, the root first and, at each
    level, the last child before the first one."""

    def __init__(self):
        self.root = None
        self.groups = []

    def load(self, rootnode):
        """Use `rootnode` (a TopologyNodeGroup) as the root and record every
        group below it in `groups`."""
        self.root = rootnode
        todo = [rootnode]
        while todo:
            group = todo.pop()
            self.groups.append(group)
            if group.children_len():
                todo.extend(group.children())

    def _walk(self):
        todo = [self.root] if self.root is not None else []
        while todo:
            group = todo.pop()
            todo.extend(group.children())
            yield group

    def __iter__(self):
        return self._walk()

    def __str__(self):
        if self.root is None:
            return "<TopologyTree instance (empty)>"
        return self.root.printable_subtree()

    def find_nodegroup(self, node):
        """The first group (in `groups` order) that contains `node`."""
        found = next((g for g in self.groups if node in g.nodeset), None)
        if found is None:
            raise TopologyError("TopologyNodeGroup not found for node %s"
                                % node)
        return found

    def _count(self, inner):
        return sum(len(g.nodeset) for g in self.groups
                   if (g.children_len() > 0) == inner)

    def inner_node_count(self):
        """Nodes in groups that have children (root and gateways)."""
        return self._count(True)

    def leaf_node_count(self):
        """Nodes in groups without children."""
        return self._count(False)


class TopologyRoute(object):
    """A hop from the gateways `src` to the nodes `dst` (two NodeSets that
    must not overlap)."""

    def __init__(self, src_ns, dst_ns):
        self.src = src_ns
        self.dst = dst_ns
        if src_ns & dst_ns:
            raise TopologyError("Source and destination nodesets overlap")

    def dest(self, nodeset=None):
        """The destination, if `nodeset` is None or within the source;
        None otherwise."""
        if nodeset is not None and nodeset not in self.src:
            return None
        return self.dst

    def __str__(self):
        return "%s -> %s" % (self.src, self.dst)


class TopologyRoutingTable(object):
    """The routes of a topology, in the order they were added, with the union
    of their sources and of their destinations (`aggregated_src`,
    `aggregated_dst`)."""

    def __init__(self):
        self._routes = []
        self.aggregated_src = NodeSet()
        self.aggregated_dst = NodeSet()

    def add_route(self, route):
        """Add a TopologyRoute; TopologyError if it would close a loop or
        give some nodes a second, different path."""
        if self._makes_loop(route):
            raise TopologyError("Loop detected! Cannot add route %s" % route)
        if self._makes_convergence(route):
            raise TopologyError("Convergent path detected! Cannot add route %s"
                                % route)
        self._routes.append(route)
        self.aggregated_src.add(route.src)
        self.aggregated_dst.add(route.dst)

    def connected(self, src_ns):
        """The union of the destinations of every route whose source
        includes `src_ns` (a NodeSet), or None if there is none."""
        reached = NodeSet()
        for route in self._routes:
            dst = route.dest(src_ns)
            if dst is not None:
                reached.update(dst)
        return reached if len(reached) else None

    def __iter__(self):
        return iter(self._routes)

    def __str__(self):
        return "\n".join(str(route) for route in self._routes)

    def _makes_loop(self, route):
        """Whether following the known routes from the new route's
        destination leads back into its source."""
        hop = route.dst
        seen = set()
        while True:
            hop = self.connected(hop)
            if hop is None:
                return False
            if hop & route.src:
                return True
            key = str(hop)
            if key in seen:         # going round without reaching src
                return True
            seen.add(key)

    def _makes_convergence(self, route):
        """Whether the new route conflicts with a known one: its source
        strictly contains a known destination, its destination is strictly
        inside a known source, or its destination shares nodes with the
        destination of another source."""
        for known in self._routes:
            if route.src > known.dst or route.dst < known.src:
                return True
            if route.src != known.src and route.dst & known.dst:
                return True
        return False


class TopologyGraph(object):
    """All the routes of a topology, turned into a TopologyTree on demand."""

    def __init__(self):
        self._routing = TopologyRoutingTable()
        self._nodegroups = {}       # name -> TopologyNodeGroup
        self._root = ''

    def add_route(self, src_ns, dst_ns):
        """Add a route from the NodeSet `src_ns` to the NodeSet `dst_ns`
        (TopologyError if the route is invalid in this graph)."""
        assert isinstance(src_ns, NodeSet)
        assert isinstance(dst_ns, NodeSet)
        self._routing.add_route(TopologyRoute(src_ns, dst_ns))

    def dest(self, from_nodeset):
        """Nodes directly reached from `from_nodeset` (NodeSet or None)."""
        return self._routing.connected(from_nodeset)

    def to_tree(self, root):
        """The propagation tree seen from the node `root` (TopologyError if
        there is no route, or if `root` is in none of the groups)."""
        self._make_groups()
        self._pick_root(root)
        self._check_acyclic(self._nodegroups[self._root])
        tree = TopologyTree()
        tree.load(self._nodegroups[self._root])
        return tree

    def __str__(self):
        lines = ["%s: %s" % item for item in self._nodegroups.items()]
        return "<TopologyGraph>\n" + "\n".join(lines)

    def _make_groups(self):
        """One group per route source, one per set of leaf destinations
        (nodes that route nowhere), each linked to the groups it reaches."""
        routers = self._routing.aggregated_src
        groups = self._nodegroups
        for route in self._routing:
            groups[str(route.src)] = TopologyNodeGroup(route.src)
            leaves = route.dst - routers
            if leaves:
                groups[str(leaves)] = TopologyNodeGroup(leaves)
        for parent in groups.values():
            reached = self._routing.connected(parent.nodeset)
            if reached is None:
                continue
            for group in groups.values():
                if group.nodeset in reached:
                    parent.add_child(group)

    @staticmethod
    def _check_acyclic(top):
        """TopologyError if a group can be reached again from itself (routes
        between node subsets can close a loop that add_route() cannot see;
        ClusterShell loops forever there)."""
        done = set()
        path = set()
        todo = [(top, False)]
        while todo:
            group, leaving = todo.pop()
            if leaving:
                path.discard(id(group))
                done.add(id(group))
                continue
            if id(group) in path:
                raise TopologyError("Loop detected! %s can reach itself"
                                    % group.nodeset)
            if id(group) in done:
                continue
            path.add(id(group))
            todo.append((group, True))
            todo.extend((child, False) for child in group.children())

    def _pick_root(self, root):
        """Find the group holding `root` and file it under that name."""
        if not self._nodegroups:
            raise TopologyError("No route found in topology definition!")
        for name, group in self._nodegroups.items():  # noqa: B007 (used after the loop)
            if root in group.nodeset:
                break
        else:
            raise TopologyError('"%s" is not a valid root node!' % root)
        del self._nodegroups[name]
        self._nodegroups[root] = group
        self._root = root


class TopologyParser(configparser.ConfigParser):
    """A topology file reader (a case-sensitive ConfigParser): load() reads
    the routes into `graph`, tree() gives the propagation tree from a root
    node."""

    def __init__(self, filename=None):
        configparser.ConfigParser.__init__(self)
        self.optionxform = str
        self._topology = {}
        self.graph = None
        self._tree = None
        if filename:
            self.load(filename)

    def load(self, filename):
        """Read the routes of topology file `filename` (``[routes]``, or the
        deprecated ``[Main]``) and build `graph` from them; TopologyError if
        the file cannot be read or parsed, or if a route is invalid."""
        try:
            self.read(filename)
            section = "routes"
            if not self.has_section(section):
                section = "Main"
                warnings.warn("topology: [Main] section is deprecated since "
                              "v1.7, use [routes] instead", DeprecationWarning)
            self._topology = self.items(section)
        except configparser.Error:
            raise TopologyError("Invalid configuration file: %s" % filename)
        self._build_graph()

    def _build_graph(self):
        """A fresh TopologyGraph from the routes read; a side that resolves
        to no node (unknown group...) drops its route."""
        self.graph = TopologyGraph()
        for src, dst in self._topology:
            src_ns = NodeSet(src)
            dst_ns = NodeSet(dst)
            if not src_ns:
                LOGGER.debug("topology: router node set %r is empty, route "
                             "ignored", src)
            elif not dst_ns:
                LOGGER.debug("topology: destination node set %r of routers "
                             "%s is empty, route ignored", dst, src_ns)
            else:
                self.graph.add_route(src_ns, dst_ns)

    def tree(self, root, force_rebuild=False):
        """The propagation tree from node `root`, built once and then cached
        (unless `force_rebuild`)."""
        if force_rebuild or self._tree is None:
            self._tree = self.graph.to_tree(root)
        return self._tree
