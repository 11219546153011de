"""Node groups seen through NodeSet: @group, @source:group, @*, @source:*,
@@source, regroup and the standard resolver built from the search path."""
import os
import subprocess
import sys
import textwrap

import pytest

from clusterpy.NodeSet import (NodeSet, NodeSetExternalError, NodeSetParseError,
                               grouplist)
from clusterpy.NodeUtils import (GroupResolverConfig, GroupResolverSourceError,
                                 GroupSourceQueryFailed)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

GROUPS_CONF = r"""
    [Main]
    default: flat

    [flat]
    map: sed -n 's/^$GROUP: *//p' $CFGDIR/flat.txt
    list: sed -n 's/:.*//p' $CFGDIR/flat.txt
    all: echo 'cn[1-6],fe1'
    reverse: sed -n "s/: .*\b$NODE\b.*//p" $CFGDIR/flat.txt

    [alias]
    map: echo "@flat:$GROUP"
    list: echo cpu front
    """

FLAT = """\
    cpu: cn[1-6]
    gpu: cn[5-6]
    front: fe1
    """


@pytest.fixture
def cfgdir(tmp_path):
    (tmp_path / "groups.conf").write_text(textwrap.dedent(GROUPS_CONF))
    (tmp_path / "flat.txt").write_text(textwrap.dedent(FLAT))
    return tmp_path


@pytest.fixture
def res(cfgdir):
    return GroupResolverConfig(str(cfgdir / "groups.conf"))


def test_group_references(res):
    assert str(NodeSet("@cpu", resolver=res)) == "cn[1-6]"
    assert str(NodeSet("@flat:gpu", resolver=res)) == "cn[5-6]"
    # a map answer may itself name groups of another source
    assert str(NodeSet("@alias:front,@flat:gpu", resolver=res)) == "cn[5-6],fe1"
    assert str(NodeSet("@cpu!@gpu", resolver=res)) == "cn[1-4]"
    assert len(NodeSet("@unknown", resolver=res)) == 0


def test_all_nodes_operators(res):
    assert str(NodeSet("@*", resolver=res)) == "cn[1-6],fe1"
    # no 'all' upcall in alias: the union of its groups
    assert str(NodeSet("@alias:*", resolver=res)) == "cn[1-6],fe1"
    assert str(NodeSet.fromall(resolver=res)) == "cn[1-6],fe1"
    assert str(NodeSet.fromall(groupsource="alias", resolver=res)) == \
        "cn[1-6],fe1"


def test_group_lists(res):
    assert str(NodeSet("@@", resolver=res)) == "cpu,front,gpu"
    assert str(NodeSet("@@alias", resolver=res)) == "cpu,front"
    assert grouplist(resolver=res) == ["cpu", "front", "gpu"]  # sorted
    assert grouplist("alias", resolver=res) == ["cpu", "front"]


def test_regroup_and_groups(res):
    nodes = NodeSet("cn[1-6]", resolver=res)
    assert nodes.regroup() == "@cpu"
    assert nodes.regroup("alias") == "@alias:cpu"
    assert sorted(NodeSet("cn[1-6],fe1", resolver=res).groups()) == \
        ["@cpu", "@front", "@gpu"]


def test_errors_through_nodeset(res, tmp_path):
    with pytest.raises(GroupResolverSourceError, match="nope"):
        NodeSet("@nope:x", resolver=res)
    failing = tmp_path / "failing.conf"
    failing.write_text("[bad]\nmap: exit 1\nlist: echo g\n")
    bad = GroupResolverConfig(str(failing))
    with pytest.raises(NodeSetParseError, match="exit 1"):
        NodeSet("@g", resolver=bad)
    with pytest.raises(GroupSourceQueryFailed):
        NodeSet.fromall(resolver=bad)
    with pytest.raises(NodeSetExternalError, match="exit 1"):
        NodeSet("n1", resolver=bad).regroup()


def run_python(code, **env):
    full_env = dict(os.environ, PYTHONPATH=ROOT, **env)
    return subprocess.run([sys.executable, "-c", code], env=full_env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True)


def test_standard_resolver_uses_search_path(cfgdir, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    proc = run_python(
        "from clusterpy.NodeSet import NodeSet\n"
        "print(NodeSet('@gpu'), NodeSet('@alias:front'))",
        CLUSTERSHELL_CFGDIR=str(cfgdir), HOME=str(home),
        XDG_CONFIG_HOME=str(tmp_path / "xdg"))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["cn[5-6]", "fe1"]
