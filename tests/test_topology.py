"""Topology: topology.conf parsing, route checks, propagation trees, output."""

import socket
import warnings

import pytest

from clusterpy.NodeSet import NodeSet
from clusterpy.Task import task_self
from clusterpy.Topology import (TopologyError, TopologyGraph,
                                TopologyNodeGroup, TopologyParser,
                                TopologyRoute, TopologyRoutingTable,
                                TopologyTree)


def conf(tmp_path, text, name="topology.conf"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def tree_of(tmp_path, text, root):
    return TopologyParser(conf(tmp_path, text)).tree(root)


def names(groups):
    return [str(group.nodeset) for group in groups]


# parsing


def test_routes_section(tmp_path):
    path = conf(tmp_path, "# site\n[routes]\nmgmt: gw[1-2]\n"
                          "gw[1-2]: cn[1-100]\n")
    parser = TopologyParser(path)
    tree = parser.tree("mgmt")
    assert str(tree) == "mgmt\n`- gw[1-2]\n   `- cn[1-100]\n"
    assert tree.inner_node_count() == 3
    assert tree.leaf_node_count() == 100
    assert parser.tree("mgmt") is tree            # cached
    assert parser.tree("mgmt", force_rebuild=True) is not tree


def test_load_after_construction(tmp_path):
    parser = TopologyParser()
    assert parser.graph is None
    parser.load(conf(tmp_path, "[routes]\na0: b[0-3]\n"))
    assert str(parser.graph.dest(NodeSet("a0"))) == "b[0-3]"


def test_main_section_is_deprecated(tmp_path):
    path = conf(tmp_path, "[Main]\nmgmt: cn[1-4]\n")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        parser = TopologyParser(path)
    assert [w.category for w in caught] == [DeprecationWarning]
    assert "[Main] section is deprecated" in str(caught[0].message)
    assert str(parser.tree("mgmt")) == "mgmt\n`- cn[1-4]\n"


def test_routes_wins_over_main(tmp_path):
    path = conf(tmp_path, "[Main]\nx: y\n[routes]\nmgmt: cn1\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        parser = TopologyParser(path)
    assert str(parser.tree("mgmt")) == "mgmt\n`- cn1\n"


def test_option_names_keep_their_case(tmp_path):
    tree = tree_of(tmp_path, "[routes]\nMgmt: GW[1-2]\nGW1: CN1\n", "Mgmt")
    assert str(tree) == "Mgmt\n|- GW2\n`- GW1\n   `- CN1\n"


@pytest.mark.parametrize("text", [
    None,                                        # no such file
    "[other]\na: b\n",                           # no usable section
    "a: b\n",                                    # no section header at all
    "[routes]\na: b\na: c\n",                    # same gateways twice
    "[routes]\na: b%\n",                         # bad interpolation
])
def test_invalid_files(tmp_path, text):
    path = str(tmp_path / "missing.conf") if text is None else conf(tmp_path, text)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(TopologyError) as info:
            TopologyParser(path)
        assert str(info.value) == "Invalid configuration file: %s" % path
        with pytest.raises(TopologyError):
            TopologyParser().load(path)


def test_groups_in_routes(tmp_path):
    from clusterpy.NodeSet import set_std_group_resolver
    from clusterpy.NodeUtils import GroupResolver, GroupSource
    source = GroupSource("local", {"gws": "gw[1-3]", "compute": "cn[1-9]"})
    set_std_group_resolver(GroupResolver(source))
    try:
        tree = tree_of(tmp_path, "[routes]\nmgmt: @gws\n@gws: @compute\n"
                                 "mgmt2: @nothing\n", "mgmt")
    finally:
        set_std_group_resolver(None)
    # a side that resolves to no node drops its route
    assert str(tree) == "mgmt\n`- gw[1-3]\n   `- cn[1-9]\n"


# errors


def test_loop_in_file(tmp_path):
    path = conf(tmp_path, "[routes]\na: b\nb: c\nc: a\n")
    with pytest.raises(TopologyError, match="^Loop detected! Cannot add "
                                            "route c -> a$"):
        TopologyParser(path)


def test_loop_through_node_subsets(tmp_path):
    # the last route goes back to the root from a union of gateway sets:
    # add_route() cannot see it, the tree conversion reports it
    path = conf(tmp_path, "[routes]\nroot: x[0-1]\nx0: y0\ny0: root\n")
    parser = TopologyParser(path)
    with pytest.raises(TopologyError, match="Loop detected"):
        parser.tree("root")


def test_convergent_paths_in_file(tmp_path):
    path = conf(tmp_path, "[routes]\ntop: gw[1-2]\ngw1: mid1\ngw2: mid2\n"
                          "mid[1-2]: leaf\n")
    with pytest.raises(TopologyError, match="^Convergent path detected! "
                                            "Cannot add route mid"):
        TopologyParser(path)


def test_overlap_in_file(tmp_path):
    with pytest.raises(TopologyError, match="overlap"):
        TopologyParser(conf(tmp_path, "[routes]\nn[1-4]: n[4-8]\n"))


def test_root_not_in_topology(tmp_path):
    parser = TopologyParser(conf(tmp_path, "[routes]\na: b\n"))
    with pytest.raises(TopologyError) as info:
        parser.tree("nowhere")
    assert str(info.value) == '"nowhere" is not a valid root node!'


def test_no_route(tmp_path):
    parser = TopologyParser(conf(tmp_path, "[routes]\n"))
    with pytest.raises(TopologyError) as info:
        parser.tree("a")
    assert str(info.value) == "No route found in topology definition!"


def test_route_overlap():
    with pytest.raises(TopologyError) as info:
        TopologyRoute(NodeSet("n[1-5]"), NodeSet("n5"))
    assert str(info.value) == "Source and destination nodesets overlap"


@pytest.mark.parametrize("src,dst", [
    ("m[0-9]", "n[15-25]"),    # destination shared with another source
    ("gw[1-3],x", "y"),        # source strictly above a known destination
    ("z", "n[0-1]"),           # destination strictly inside a known source
])
def test_convergent_routes(src, dst):
    graph = TopologyGraph()
    graph.add_route(NodeSet("admin"), NodeSet("gw[1-3]"))
    graph.add_route(NodeSet("gw[1-3]"), NodeSet("cn[1-5]"))
    graph.add_route(NodeSet("n[0-9]"), NodeSet("n[10-19]"))
    with pytest.raises(TopologyError, match="Convergent path detected"):
        graph.add_route(NodeSet(src), NodeSet(dst))


def test_same_route_twice_and_subset_source():
    graph = TopologyGraph()
    graph.add_route(NodeSet("a"), NodeSet("b[0-9]"))
    graph.add_route(NodeSet("b[0-9]"), NodeSet("c[0-9]"))
    graph.add_route(NodeSet("b[0-9]"), NodeSet("c[0-9]"))
    graph.add_route(NodeSet("b[0-1]"), NodeSet("d[0-9]"))
    assert str(graph.dest(NodeSet("b[0-9]"))) == "c[0-9]"
    # a subset of a source reaches that source's destinations too
    assert str(graph.dest(NodeSet("b1"))) == "c[0-9],d[0-9]"
    assert graph.dest(NodeSet("c0")) is None
    assert graph.dest(NodeSet("b[0-10]")) is None


def test_add_route_wants_nodesets():
    with pytest.raises(AssertionError):
        TopologyGraph().add_route("a", NodeSet("b"))


# trees and their output


LONG = ("[routes]\nadmin: proxy\nproxy: STA[0-1]\nSTA0: STB[0-1]\n"
        "STB0: nodes[0-2]\nSTB1: nodes[3-5]\nSTA1: STB[2-3]\n"
        "STB2: nodes[6-7]\nSTB3: nodes[8-10]\n")


def test_printable_tree(tmp_path):
    tree = tree_of(tmp_path, LONG, "admin")
    assert str(tree) == (
        "admin\n"
        "`- proxy\n"
        "   |- STA0\n"
        "   |  |- STB0\n"
        "   |  |  `- nodes[0-2]\n"
        "   |  `- STB1\n"
        "   |     `- nodes[3-5]\n"
        "   `- STA1\n"
        "      |- STB2\n"
        "      |  `- nodes[6-7]\n"
        "      `- STB3\n"
        "         `- nodes[8-10]\n")
    assert tree.inner_node_count() == 8
    assert tree.leaf_node_count() == 11


def test_printable_subtree_prefix_and_nested_group(tmp_path):
    tree = tree_of(tmp_path, LONG, "admin")
    sta1 = tree.find_nodegroup("STA1")
    # lines below the first level follow the parent's position
    assert sta1.printable_subtree(">") == (
        ">   `- STA1\n>      |- STB2\n>      |  `- nodes[6-7]\n"
        ">      `- STB3\n>         `- nodes[8-10]\n")
    assert tree.root.printable_subtree("#") == str(tree).replace(
        "\n   ", "\n#   ")


def test_tree_iteration_and_groups_order(tmp_path):
    tree = tree_of(tmp_path, "[routes]\nn0: n[1-2]\nn1: n[10-19]\n"
                             "n2: n[20-29]\n", "n0")
    # depth first, root first, last child first
    order = ["n0", "n2", "n[20-29]", "n1", "n[10-19]"]
    assert names(tree) == order
    assert names(tree.groups) == order
    assert [str(g) for g in tree][0] == "<TopologyNodeGroup (n0)>"
    assert str(tree) == "n0\n|- n1\n|  `- n[10-19]\n`- n2\n   `- n[20-29]\n"


def test_subset_gateways_share_children(tmp_path):
    # g[2-3] and its subset g2 both reach b1 (as ClusterShell builds it)
    tree = tree_of(tmp_path, "[routes]\nr: g[1-3]\ng1: a[1-2]\n"
                             "g[2-3]: b1\ng2: c1\n", "r")
    assert names(tree) == ["r", "g2", "c1", "b1", "g[2-3]", "b1", "g1",
                           "a[1-2]"]
    assert str(tree) == ("r\n|- g1\n|  `- a[1-2]\n|- g[2-3]\n   |- b1\n"
                         "`- g2\n   |- b1\n   `- c1\n")


def test_root_inside_a_group_and_subtree(tmp_path):
    text = "[routes]\nadmin: gw[0-3]\ngw[0-1]: cn[0-9]\ngw[2-3]: cn[10-19]\n"
    tree = tree_of(tmp_path, text, "gw1")
    # the root group keeps its parent: it is drawn as a child (ClusterShell)
    assert str(tree) == "|- gw[0-1]\n|  `- cn[0-9]\n"
    assert tree.root.parent is not None
    tree = tree_of(tmp_path, text, "cn4")
    assert str(tree) == "|  `- cn[0-9]\n"
    assert tree.inner_node_count() == 0 and tree.leaf_node_count() == 10


def test_find_nodegroup(tmp_path):
    tree = tree_of(tmp_path, LONG, "admin")
    assert str(tree.find_nodegroup("nodes4")) == "<TopologyNodeGroup (nodes[3-5])>"
    assert tree.find_nodegroup("admin") is tree.root
    with pytest.raises(TopologyError) as info:
        tree.find_nodegroup("other")
    assert str(info.value) == "TopologyNodeGroup not found for node other"


def test_parents_and_children(tmp_path):
    tree = tree_of(tmp_path, LONG, "admin")
    proxy = tree.find_nodegroup("proxy")
    assert proxy.parent is tree.root and tree.root.parent is None
    assert names(proxy.children()) == ["STA0", "STA1"]
    assert str(proxy.children_ns()) == "STA[0-1]"
    assert proxy.children_len() == 2
    leaf = tree.find_nodegroup("nodes0")
    assert leaf.children() == [] and leaf.children_ns() is None


def test_graph_str(tmp_path):
    parser = TopologyParser(conf(tmp_path, "[routes]\na: b[1-2]\nb1: c\n"))
    assert str(parser.graph) == "<TopologyGraph>\n"
    parser.tree("a")
    assert str(parser.graph) == (
        "<TopologyGraph>\n"
        "b2: <TopologyNodeGroup (b2)>\n"
        "b1: <TopologyNodeGroup (b1)>\n"
        "c: <TopologyNodeGroup (c)>\n"
        "a: <TopologyNodeGroup (a)>")


def test_empty_tree():
    tree = TopologyTree()
    assert str(tree) == "<TopologyTree instance (empty)>"
    assert list(tree) == [] and tree.groups == []
    assert tree.inner_node_count() == tree.leaf_node_count() == 0


def test_tree_load_by_hand():
    root = TopologyNodeGroup(NodeSet("r"))
    mid = TopologyNodeGroup(NodeSet("m[1-2]"))
    leaf = TopologyNodeGroup(NodeSet("l[1-5]"))
    root.add_child(mid)
    mid.add_child(leaf)
    tree = TopologyTree()
    tree.load(root)
    assert tree.root is root
    assert names(tree) == ["r", "m[1-2]", "l[1-5]"]
    assert str(tree) == "r\n`- m[1-2]\n   `- l[1-5]\n"
    assert (tree.inner_node_count(), tree.leaf_node_count()) == (3, 5)


# node groups, routes, routing table


def test_nodegroup_children():
    top = TopologyNodeGroup(NodeSet("top"))
    one = TopologyNodeGroup(NodeSet("a[1-3]"))
    two = TopologyNodeGroup(NodeSet("b[1-2]"))
    assert top.children_ns() is None and top.children_len() == 0
    with pytest.raises(AssertionError):
        top.add_child("a1")
    with pytest.raises(AssertionError):
        top.add_child(TopologyNodeGroup(NodeSet()))
    top.add_child(one)
    top.add_child(one)
    top.add_child(two)
    assert top.children() == [one, two] and one.parent is top
    assert str(top.children_ns()) == "a[1-3],b[1-2]"
    assert top.children_len() == 5
    top.clear_child(one)
    assert top.children() == [two] and str(top.children_ns()) == "b[1-2]"
    top.clear_child(one)
    with pytest.raises(ValueError):
        top.clear_child(one, strict=True)
    top.clear_child(two)
    assert top.children_ns() is None
    top.add_child(one)
    top.clear_children()
    assert top.children() == [] and top.children_len() == 0


def test_nodegroup_str_and_subtree():
    group = TopologyNodeGroup(NodeSet("admin[0-1]"))
    assert str(group) == "<TopologyNodeGroup (admin[0-1])>"
    assert group.nodeset == NodeSet("admin[0-1]") and group.parent is None
    assert group.printable_subtree() == "admin[0-1]\n"
    assert TopologyNodeGroup().nodeset is None


def test_route():
    route = TopologyRoute(NodeSet("gw[1-4]"), NodeSet("cn[1-8]"))
    assert str(route) == "gw[1-4] -> cn[1-8]"
    assert route.src == NodeSet("gw[1-4]") and route.dst == NodeSet("cn[1-8]")
    assert route.dest() is route.dst
    assert route.dest(NodeSet("gw2")) is route.dst
    assert route.dest(NodeSet("gw[4-5]")) is None


def test_routing_table():
    table = TopologyRoutingTable()
    assert str(table) == "" and list(table) == []
    first = TopologyRoute(NodeSet("a"), NodeSet("b[1-4]"))
    second = TopologyRoute(NodeSet("b[1-2]"), NodeSet("c[1-2]"))
    third = TopologyRoute(NodeSet("b[1-4]"), NodeSet("d1"))
    for route in (first, second, third):
        table.add_route(route)
    assert list(table) == [first, second, third]
    assert str(table) == "a -> b[1-4]\nb[1-2] -> c[1-2]\nb[1-4] -> d1"
    assert str(table.aggregated_src) == "a,b[1-4]"
    assert str(table.aggregated_dst) == "b[1-4],c[1-2],d1"
    assert str(table.connected(NodeSet("b1"))) == "c[1-2],d1"
    assert str(table.connected(NodeSet("b[3-4]"))) == "d1"
    assert table.connected(NodeSet("c1")) is None
    with pytest.raises(TopologyError) as info:
        table.add_route(TopologyRoute(NodeSet("d1"), NodeSet("a")))
    assert str(info.value) == "Loop detected! Cannot add route d1 -> a"
    assert len(list(table)) == 3


# Task.load_topology


def test_task_load_topology(tmp_path):
    host = socket.gethostname().split(".")[0]
    path = conf(tmp_path, "[routes]\n%s: gw[1-2]\ngw[1-2]: cn[1-10]\n" % host)
    task = task_self()
    saved = task.topology
    try:
        task.load_topology(path)
        assert isinstance(task.topology, TopologyTree)
        assert str(task.topology.root.nodeset) == host
        assert str(task.topology) == "%s\n`- gw[1-2]\n   `- cn[1-10]\n" % host
        # tree mode is on; a node outside the topology runs directly
        assert task._default_tree_is_enabled()
        worker = task.shell("echo direct", nodes="localhost", remote=False,
                            tree=True)
        assert type(worker).__name__ == "TreeWorker"
        task.resume()
        assert bytes(worker.node_buffer("localhost")) == b"direct"
        assert task.gateways == {}
    finally:
        task.topology = saved
        task.router = None


def test_task_load_topology_errors(tmp_path):
    task = task_self()
    saved = task.topology
    try:
        with pytest.raises(TopologyError):
            task.load_topology(conf(tmp_path, "[routes]\nnot-me-a: not-me-b\n"))
        assert task.topology is saved
    finally:
        task.topology = saved
