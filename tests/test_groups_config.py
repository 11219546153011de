"""clusterpy.NodeUtils.GroupResolverConfig: groups.conf, groups.conf.d,
the configuration search path and configuration errors."""
import configparser
import os
import shutil
import subprocess
import sys
import textwrap

import pytest

from clusterpy.Defaults import config_paths
from clusterpy.NodeUtils import (GroupResolverConfig, GroupResolverConfigError,
                                 GroupResolverIllegalCharError,
                                 GroupResolverSourceError, GroupSourceNoUpcall,
                                 GroupSourceQueryFailed, UpcallGroupSource)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return str(path)


@pytest.fixture
def conf(tmp_path):
    """conf(text) -> resolver for a groups.conf holding text."""
    def make(text, name="groups.conf", **kwargs):
        return GroupResolverConfig(write(tmp_path / name, text), **kwargs)
    return make


def test_basic_config(conf, tmp_path):
    res = conf("""
        # comment
        [Main]
        default: local

        [local]
        map: echo node-$GROUP
        list: echo foo bar
        all: echo 'node[1-9]'
        reverse: echo foo
        """)
    assert res.default_source_name == "local"
    assert res.sources() == ["local"]
    assert res.group_nodes("foo") == ["node-foo"]
    assert res.grouplist() == ["foo", "bar"]
    assert res.all_nodes() == ["node[1-9]"]
    assert res.node_groups("node1") == ["foo"]
    assert res.has_node_groups()
    source = res._sources["local"]
    assert isinstance(source, UpcallGroupSource)
    assert source.cfgdir == str(tmp_path)


def test_equals_syntax_and_no_main(conf):
    res = conf("""
        [only]
        map=echo n1
        list=echo g
        """)
    assert res.default_source_name == "only"
    assert res.group_nodes("g") == ["n1"]
    assert res.grouplist() == ["g"]


def test_config_is_read_on_first_use(tmp_path):
    path = tmp_path / "groups.conf"
    res = GroupResolverConfig(str(path))
    assert res.config is None
    write(path, "[late]\nmap: echo n1\n")
    assert res.sources() == ["late"]
    assert isinstance(res.config, configparser.ConfigParser)


def test_no_readable_file(tmp_path):
    res = GroupResolverConfig([str(tmp_path / "none.conf")])
    assert res.sources() == [] and res.default_source_name is None
    with pytest.raises(GroupResolverSourceError):
        res.grouplist()


def test_default_choice(conf):
    text = """
        [Main]
        default: %s
        [first]
        map: echo 1
        [second]
        map: echo 2
        """
    assert conf(text % "second").default_source_name == "second"
    # empty default: the first source defined
    assert conf(text % "").default_source_name == "first"
    res = conf(text % "third")
    with pytest.raises(GroupResolverConfigError) as info:
        res.grouplist()
    assert str(info.value) == 'Default group source not found: "third"'


def test_multi_name_section(conf):
    res = conf("""
        [Main]
        default: b
        [a,b,Main]
        map: echo $SOURCE-$GROUP
        """)
    assert res.sources() == ["b", "a"]
    assert res.group_nodes("g") == ["b-g"]
    assert res.group_nodes("g", "a") == ["a-g"]


def test_default_section_options_apply_to_all(conf):
    res = conf("""
        [DEFAULT]
        map: echo shared-$SOURCE
        [Main]
        default: two
        [one]
        [two]
        list: echo x
        """)
    assert sorted(res.sources()) == ["one", "two"]
    assert res.group_nodes("g", "one") == ["shared-one"]
    assert res.grouplist() == ["x"]


def test_upcalls_read_raw(conf):
    # '%' is not configparser interpolation in upcalls
    res = conf("""
        [s]
        map: printf '%s-%%d\\n' $GROUP
        """)
    assert res.group_nodes("g") == ["g-%d"]


def test_missing_map(conf):
    res = conf("""
        [Main]
        default: nomap
        [nomap]
        list: echo a
        """)
    with pytest.raises(GroupResolverConfigError) as info:
        res.grouplist()
    assert str(info.value) == "No option 'map' or 'mapall' in section: 'nomap'"


def test_mapall_only_source(conf):
    res = conf("""
        [bulk]
        mapall: printf 'g1: n[1-3]\\ng2: n[4-5]\\n'
        """)
    assert res.group_nodes("g2") == ["n[4-5]"]
    assert res.grouplist() == ["g1", "g2"]
    with pytest.raises(GroupSourceNoUpcall):
        res.all_nodes()


def test_cache_time_option(conf):
    res = conf("""
        [s]
        map: echo n1
        cache_time: 0.25
        [t]
        map: echo n2
        """)
    res.sources()
    assert res._sources["s"].cache_time == 0.25
    assert res._sources["t"].cache_time == 3600
    bad = conf("[s]\nmap: echo\ncache_time: soon\n", name="bad.conf")
    with pytest.raises(GroupResolverConfigError, match="'soon'"):
        bad.grouplist()


def test_failed_query_through_config(conf):
    res = conf("[s]\nmap: false\n")
    with pytest.raises(GroupSourceQueryFailed, match="^false$"):
        res.group_nodes("g")


def test_duplicate_source_in_sections(conf):
    res = conf("""
        [a]
        map: echo 1
        [b,a]
        map: echo 2
        """)
    with pytest.raises(GroupResolverConfigError,
                       match="GroupSource 'a': name collision"):
        res.grouplist()


def test_malformed_file_names_it(conf, tmp_path):
    res = conf("map: echo\n")
    with pytest.raises(configparser.MissingSectionHeaderError) as info:
        res.grouplist()
    assert str(tmp_path / "groups.conf") in str(info.value)
    dup = conf("[s]\nmap: a\nmap: b\n", name="dup.conf")
    with pytest.raises(configparser.DuplicateOptionError, match="dup.conf"):
        dup.grouplist()


def test_illegal_chars_option(conf):
    res = conf("[s]\nmap: echo n1\nlist: echo ok 'b@d'\n",
               illegal_chars=set("@,"))
    with pytest.raises(GroupResolverIllegalCharError):
        res.grouplist()


# --- several files, $CFGDIR ------------------------------------------------

def test_several_files_merge_and_cfgdir(tmp_path):
    first = write(tmp_path / "sys" / "groups.conf", """
        [Main]
        default: shared
        [shared]
        map: echo sys
        [sysonly]
        map: echo $CFGDIR
        """)
    second = write(tmp_path / "user" / "groups.conf", """
        [shared]
        map: echo user
        """)
    res = GroupResolverConfig([first, second, str(tmp_path / "missing.conf")])
    assert res.group_nodes("g") == ["user"]
    # $CFGDIR: directory of the last file actually read
    assert res.group_nodes("g", "sysonly") == [str(tmp_path / "user")]
    assert res._sources["shared"].cfgdir == str(tmp_path / "user")


def test_search_path_from_environment(tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("CLUSTERSHELL_CFGDIR", raising=False)
    write(tmp_path / "xdg" / "clustershell" / "groups.conf", """
        [Main]
        default: xdg
        [xdg]
        map: echo from-xdg
        """)
    res = GroupResolverConfig(config_paths("groups.conf"))
    if any(os.path.exists(p) for p in config_paths("groups.conf")[:3]):
        pytest.skip("a system groups.conf exists")
    assert res.group_nodes("g") == ["from-xdg"]
    cfgdir = tmp_path / "cfgdir"
    write(cfgdir / "groups.conf", """
        [Main]
        default: env
        [env]
        map: echo from-env $CFGDIR
        """)
    monkeypatch.setenv("CLUSTERSHELL_CFGDIR", str(cfgdir))
    res = GroupResolverConfig(config_paths("groups.conf"))
    assert res.default_source_name == "env"
    assert res.group_nodes("g") == ["from-env", str(cfgdir)]
    assert sorted(res.sources()) == ["env", "xdg"]


# --- confdir / groupsdir ---------------------------------------------------

def test_confdir_files(conf, tmp_path):
    write(tmp_path / "groups.conf.d" / "b.conf", """
        [fromb]
        map: echo b-$CFGDIR
        """)
    write(tmp_path / "groups.conf.d" / "a.conf", """
        [froma]
        map: echo a
        list: basename $CFGDIR
        """)
    write(tmp_path / "groups.conf.d" / "ignored.conf.example", "[no]\nmap: x\n")
    write(tmp_path / "groups.conf.d" / ".hidden.conf", "[hidden]\nmap: x\n")
    res = conf("""
        [Main]
        confdir: $CFGDIR/groups.conf.d /no/such/dir
        [main]
        map: echo m
        """)
    # confdir files come first, sorted by name, then the main file
    assert res.sources() == ["froma", "fromb", "main"]
    assert res.default_source_name == "froma"
    assert res.grouplist() == ["groups.conf.d"]
    assert res.group_nodes("g", "fromb") == \
        ["b-%s" % (tmp_path / "groups.conf.d")]


def test_confdir_quoting_and_duplicates(conf, tmp_path):
    spaced = tmp_path / "dir with space"
    write(spaced / "x.conf", "[x]\nmap: echo x\n")
    res = conf("""
        [Main]
        default: x
        confdir: "%s" %s/../"dir with space"/
        """ % (spaced, spaced))
    # the same directory named twice is read once (no name collision)
    assert res.sources() == ["x"]


def test_groupsdir_is_confdir_alias(conf, tmp_path):
    write(tmp_path / "old" / "x.conf", "[old]\nmap: echo o\n")
    write(tmp_path / "new" / "x.conf", "[new]\nmap: echo n\n")
    res = conf("""
        [Main]
        groupsdir: %s
        confdir: %s
        """ % (tmp_path / "old", tmp_path / "new"))
    assert res.sources() == ["old"]


def test_confdir_collision(conf, tmp_path):
    write(tmp_path / "d" / "1.conf", "[dup]\nmap: echo 1\n")
    write(tmp_path / "d" / "2.conf", "[dup]\nmap: echo 2\n")
    res = conf("[Main]\nconfdir: %s\n" % (tmp_path / "d"))
    with pytest.raises(GroupResolverConfigError, match="'dup': name collision"):
        res.grouplist()


@pytest.mark.parametrize("option,label", [("confdir", "confdir"),
                                          ("groupsdir", "confdir"),
                                          ("autodir", "autodir")])
def test_dir_option_not_a_directory(conf, tmp_path, option, label):
    afile = write(tmp_path / "afile", "x")
    res = conf("[Main]\n%s: %s\n[s]\nmap: echo\n" % (option, afile))
    with pytest.raises(GroupResolverConfigError) as info:
        res.grouplist()
    assert str(info.value) == "Defined %s %s is not a directory" % (label, afile)


def test_confdir_parse_error_names_file(conf, tmp_path):
    bad = write(tmp_path / "d" / "bad.conf", "no header\n")
    res = conf("[Main]\nconfdir: %s\n" % (tmp_path / "d"))
    with pytest.raises(configparser.Error) as info:
        res.grouplist()
    assert bad in str(info.value)


def run_unprivileged(code):
    """Run Python code in a child that file modes apply to, even as root
    (the child loses the capabilities that bypass file permissions)."""
    command = [sys.executable, "-c",
               "import sys; sys.path.insert(0, %r)\n" % ROOT + code]
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without setpriv")
        caps = "-dac_override,-dac_read_search"
        command[:0] = [setpriv, "--inh-caps=" + caps, "--bounding-set=" + caps]
    proc = subprocess.run(command, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_unreadable_files_skipped(tmp_path):
    pytest.importorskip("yaml")
    secret = write(tmp_path / "d" / "secret.conf", "[secret]\nmap: echo s\n")
    write(tmp_path / "d" / "open.conf", "[open]\nmap: echo o\n")
    hidden = write(tmp_path / "y" / "a.yaml", "yhidden: {g: n1}\n")
    write(tmp_path / "y" / "b.yaml", "yopen: {g: n2}\n")
    os.chmod(secret, 0)
    os.chmod(hidden, 0)
    conf = write(tmp_path / "groups.conf", "[Main]\nconfdir: %s\nautodir: %s\n"
                 % (tmp_path / "d", tmp_path / "y"))
    out = run_unprivileged(
        "from clusterpy.NodeUtils import GroupResolverConfig\n"
        "res = GroupResolverConfig(%r)\n"
        "print(res.sources(), res.group_nodes('g', 'yopen'))\n" % conf)
    assert out.strip() == "['open', 'yopen'] ['n2']"


def test_flat_file_source_with_sed(conf, tmp_path):
    # the classic "local" source: upcalls reading $CFGDIR/groups.d/local.cfg
    write(tmp_path / "groups.d" / "local.cfg", """
        compute: node[1-8]
        login: node[9-10]
        all: node[1-10]
        """)
    res = conf(r"""
        [Main]
        default: local
        [local]
        map: sed -n 's/^$GROUP:\(.*\)/\1/p' $CFGDIR/groups.d/local.cfg
        all: sed -n 's/^all:\(.*\)/\1/p' $CFGDIR/groups.d/local.cfg
        list: sed -n 's/^\([0-9A-Za-z_-]*\):.*/\1/p' $CFGDIR/groups.d/local.cfg
        """)
    assert res.group_nodes("login") == ["node[9-10]"]
    assert res.all_nodes() == ["node[1-10]"]
    assert res.grouplist() == ["compute", "login", "all"]
    assert res.group_nodes("nothing") == []
