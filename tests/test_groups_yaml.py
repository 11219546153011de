"""clusterpy.NodeUtils: YAML group files (YAMLGroupLoader, FileGroupSource,
autodir) and the optional PyYAML dependency."""
import os
import subprocess
import sys
import textwrap
import time

import pytest

from clusterpy.NodeUtils import (FileGroupSource, GroupResolver,
                                 GroupResolverConfig, GroupResolverConfigError,
                                 GroupSourceNoUpcall, YAMLGroupLoader)

pytest.importorskip("yaml")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return str(path)


def test_loader_sources_and_groups(tmp_path):
    path = write(tmp_path / "cluster.yaml", """
        compute:
            rack1: 'node[1-4]'
            rack2: node[5-8]
            all: node[1-8]
        "42":
            odd: [n1, n3]
            nothing:
        """)
    loader = YAMLGroupLoader(path)
    assert loader.filename == path and loader.cache_time == 3600
    sources = list(loader)
    assert [s.name for s in sources] == ["compute", "42"]
    assert all(isinstance(s, FileGroupSource) for s in sources)
    compute, numeric = sources
    assert compute.loader is loader and not compute.has_reverse
    assert loader.groups("compute") == {"rack1": "node[1-4]",
                                        "rack2": "node[5-8]",
                                        "all": "node[1-8]"}
    # a group with no value has no nodes
    assert loader.groups("42") == {"odd": ["n1", "n3"], "nothing": ""}
    assert compute.resolv_map("rack2") == "node[5-8]"
    assert compute.resolv_map("unknown") == ""
    assert compute.resolv_list() == ["rack1", "rack2", "all"]
    assert compute.resolv_all() == "node[1-8]"
    assert compute.allgroups == "node[1-8]"
    assert numeric.allgroups is None
    with pytest.raises(GroupSourceNoUpcall):
        numeric.resolv_all()
    with pytest.raises(GroupSourceNoUpcall):
        numeric.resolv_reverse("n1")


def test_resolver_over_yaml_source(tmp_path):
    path = write(tmp_path / "g.yaml", """
        farm:
            bubba:
                - pickup-1
                - pickup-2
                - tractor-[1-2]
            flat: a1 a2
        """)
    res = GroupResolver(next(iter(YAMLGroupLoader(path))))
    assert res.group_nodes("bubba") == ["pickup-1,pickup-2,tractor-[1-2]"]
    assert res.group_nodes("flat") == ["a1", "a2"]
    assert res.grouplist() == ["bubba", "flat"]


def test_reload_after_cache_time(tmp_path):
    path = tmp_path / "g.yaml"
    write(path, """
        vendors:
            apricot: node1
        customers:
            cherry: client1
        """)
    loader = YAMLGroupLoader(str(path), cache_time=0.2)
    source = list(loader)[0]
    assert source.groups == {"apricot": "node1"}
    write(path, """
        vendors:
            apricot: node2
            nut: node3
        thieves:
            plum: node100
        """)
    assert source.groups == {"apricot": "node1"}  # not yet
    time.sleep(0.3)
    assert source.groups == {"apricot": "node2", "nut": "node3"}
    # a source that appears on reload is ignored; one that disappears
    # keeps its last groups
    assert [s.name for s in loader] == ["vendors", "customers"]
    assert loader.groups("customers") == {"cherry": "client1"}
    with pytest.raises(KeyError):
        loader.groups("thieves")


def test_iterating_while_reloading(tmp_path):
    path = write(tmp_path / "g.yaml", """
        s1: {a: n1, b: n2}
        s2: {a: n3, b: n4}
        """)
    loader = YAMLGroupLoader(path, cache_time=0)
    seen = [len(source.groups) for source in loader]
    assert seen == [2, 2]


@pytest.mark.parametrize("content,message", [
    ("- a\n- b\n", "invalid content (base is not a dict)"),
    ("", "invalid content (base is not a dict)"),
    ("src: nodes\n", "invalid content (group source 'src' is not a dict)"),
    ("111: {g: n1}\n", "group source 111 not a string (add quotes?)"),
    ("src: {101: n1}\n", "src: group name 101 not a string (add quotes?)"),
])
def test_bad_content(tmp_path, content, message):
    path = write(tmp_path / "bad.yaml", content)
    with pytest.raises(GroupResolverConfigError) as info:
        YAMLGroupLoader(path)
    assert str(info.value) == "%s: %s" % (path, message)


def test_yaml_syntax_error_names_file(tmp_path):
    path = write(tmp_path / "bad.yaml", "src: [unclosed\n")
    with pytest.raises(GroupResolverConfigError) as info:
        YAMLGroupLoader(path)
    assert str(info.value).startswith(path + ": ")
    assert "line" in str(info.value)


def test_unsafe_yaml_refused(tmp_path):
    marker = tmp_path / "exploited"
    path = write(tmp_path / "evil.yaml", """
        src:
            g: !!python/object/apply:os.system ["touch %s"]
        """ % marker)
    with pytest.raises(GroupResolverConfigError):
        YAMLGroupLoader(path)
    assert not marker.exists()


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        YAMLGroupLoader(str(tmp_path / "none.yaml"))


# --- autodir ---------------------------------------------------------------

def test_autodir_sources(tmp_path):
    write(tmp_path / "groups.d" / "b.yaml", "yb: {g: b1}\n")
    write(tmp_path / "groups.d" / "a.yaml", """
        ya:
            foo: example[1-4]
            all: example[1-9]
        """)
    write(tmp_path / "groups.d" / "skipped.yaml.example", "no: {g: x}\n")
    write(tmp_path / "groups.d" / "local.cfg", "ignored: x\n")
    conf = write(tmp_path / "groups.conf", """
        [Main]
        default: ya
        autodir: /no/such/dir $CFGDIR/groups.d
        [up]
        map: echo up
        """)
    res = GroupResolverConfig(conf)
    assert res.sources() == ["ya", "yb", "up"]
    assert res.group_nodes("foo") == ["example[1-4]"]
    assert res.all_nodes() == ["example[1-9]"]
    assert res.grouplist("yb") == ["g"]
    assert res.group_nodes("g", "yb") == ["b1"]


def test_autodir_and_section_collision(tmp_path):
    write(tmp_path / "d" / "a.yaml", "same: {g: n1}\n")
    conf = write(tmp_path / "groups.conf", """
        [Main]
        autodir: %s
        [same]
        map: echo
        """ % (tmp_path / "d"))
    with pytest.raises(GroupResolverConfigError, match="'same': name collision"):
        GroupResolverConfig(conf).grouplist()


def test_autodir_bad_yaml(tmp_path):
    bad = write(tmp_path / "d" / "a.yaml", "src: text\n")
    conf = write(tmp_path / "groups.conf", "[Main]\nautodir: %s\n"
                 % (tmp_path / "d"))
    with pytest.raises(GroupResolverConfigError, match=bad):
        GroupResolverConfig(conf).grouplist()


# --- PyYAML missing --------------------------------------------------------

def run_without_yaml(code):
    """Run code in a Python that cannot import yaml: no site-packages."""
    prelude = ("import sys\nsys.path.insert(0, %r)\n"
               "try:\n    import yaml\nexcept ImportError:\n    pass\n"
               "else:\n    print('YAML-AVAILABLE'); sys.exit(0)\n" % ROOT)
    return subprocess.run([sys.executable, "-S", "-c", prelude + code],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True)


def test_missing_pyyaml_loader(tmp_path):
    path = write(tmp_path / "cluster.yaml", "src: {g: n1}\n")
    proc = run_without_yaml(textwrap.dedent("""
        from clusterpy.NodeUtils import YAMLGroupLoader, GroupResolverConfigError
        try:
            YAMLGroupLoader(%r)
        except GroupResolverConfigError as exc:
            print("ERROR", exc)
        """ % path))
    if "YAML-AVAILABLE" in proc.stdout:
        pytest.skip("yaml importable without site-packages")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("ERROR %s: " % path)
    assert "No module named 'yaml'" in proc.stdout
    assert "PyYAML" in proc.stdout


def test_missing_pyyaml_only_matters_with_yaml_files(tmp_path):
    write(tmp_path / "empty.d" / "README", "no yaml here\n")
    write(tmp_path / "full.d" / "g.yaml", "src: {g: n1}\n")
    conf = write(tmp_path / "groups.conf", """
        [Main]
        autodir: %s
        [up]
        map: echo up
        """ % (tmp_path / "empty.d"))
    broken = write(tmp_path / "broken.conf", "[Main]\nautodir: %s\n"
                   % (tmp_path / "full.d"))
    proc = run_without_yaml(textwrap.dedent("""
        from clusterpy.NodeUtils import GroupResolverConfig
        print(GroupResolverConfig(%r).group_nodes("g"))
        GroupResolverConfig(%r).grouplist()
        """ % (conf, broken)))
    if "YAML-AVAILABLE" in proc.stdout:
        pytest.skip("yaml importable without site-packages")
    assert proc.stdout.strip() == "['up']"
    assert proc.returncode == 1
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("clusterpy.NodeUtils.GroupResolverConfigError: "
                           + str(tmp_path / "full.d" / "g.yaml"))
    assert "yaml" in last
