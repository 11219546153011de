"""clusterpy.NodeUtils: group sources (dict, upcall) and GroupResolver.

Upcalls are real shell commands; a "call log" file that each command
appends to tells how many times a command really ran.
"""
import os
import signal
import subprocess
import sys
import threading
import time
import warnings

import pytest

from clusterpy import NodeUtils
from clusterpy.NodeUtils import (DEVNULL, PIPE, GroupResolver,
                                 GroupResolverError,
                                 GroupResolverIllegalCharError,
                                 GroupResolverSourceError, GroupSource,
                                 GroupSourceError, GroupSourceNoUpcall,
                                 GroupSourceQueryFailed, UpcallGroupSource)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class CallLog:
    """A file that upcalls append one line to, each time they run."""

    def __init__(self, path):
        self.path = str(path)

    def cmd(self, command, tag="x"):
        return "echo %s >> %s; %s" % (tag, self.path, command)

    def calls(self):
        try:
            with open(self.path) as stream:
                return stream.read().split()
        except FileNotFoundError:
            return []


@pytest.fixture
def log(tmp_path):
    return CallLog(tmp_path / "calls")


def test_constants_match_subprocess():
    assert PIPE == subprocess.PIPE and DEVNULL == subprocess.DEVNULL


def test_error_hierarchy():
    assert issubclass(GroupSourceNoUpcall, GroupSourceError)
    assert issubclass(GroupSourceQueryFailed, GroupSourceError)
    for cls in (NodeUtils.GroupResolverSourceError,
                NodeUtils.GroupResolverIllegalCharError,
                NodeUtils.GroupResolverConfigError):
        assert issubclass(cls, GroupResolverError)
    source = GroupSource("s")
    exc = GroupSourceError("boom", source)
    assert str(exc) == "boom" and exc.group_source is source


def test_import_is_lazy():
    code = ("import sys, clusterpy.NodeUtils\n"
            "heavy = ['subprocess', 'yaml', 'configparser', 'logging', 'shlex',"
            " 'glob']\n"
            "print([m for m in heavy if m in sys.modules])")
    out = subprocess.run([sys.executable, "-S", "-c",
                          "import sys; sys.path.insert(0, %r)\n" % ROOT + code],
                         stdout=subprocess.PIPE, check=True,
                         universal_newlines=True).stdout
    assert out.strip() == "[]"


# --- GroupSource -----------------------------------------------------------

def test_dict_source():
    source = GroupSource("mem", {"a": "n[1-2]", "b": ["n3", "n4"]}, "n[1-9]")
    assert source.name == "mem" and not source.has_reverse
    assert source.resolv_map("a") == "n[1-2]"
    assert source.resolv_map("b") == ["n3", "n4"]
    assert source.resolv_map("unknown") == ""
    assert sorted(source.resolv_list()) == ["a", "b"]
    assert source.resolv_all() == "n[1-9]"
    with pytest.raises(GroupSourceNoUpcall) as info:
        source.resolv_reverse("n1")
    assert info.value.group_source is source


def test_empty_dict_source():
    source = GroupSource("empty")
    assert source.groups == {} and source.resolv_list() == []
    with pytest.raises(GroupSourceNoUpcall, match="not available"):
        source.resolv_all()


# --- UpcallGroupSource -----------------------------------------------------

def test_upcall_substitutions(tmp_path):
    source = UpcallGroupSource(
        "src",
        map_upcall="echo map:$GROUP:$SOURCE:$CFGDIR",
        all_upcall="echo all:$SOURCE:${CFGDIR}",
        list_upcall="echo list:$SOURCE",
        reverse_upcall="echo rev:$NODE:$SOURCE",
        cfgdir=str(tmp_path))
    assert source.resolv_map("g1") == "map:g1:src:%s" % tmp_path
    assert source.resolv_all() == "all:src:%s" % tmp_path
    assert source.resolv_list() == "list:src"
    assert source.resolv_reverse("n7") == "rev:n7:src"
    assert source.has_reverse


def test_upcall_unknown_variables_left_to_shell(tmp_path, monkeypatch):
    monkeypatch.setenv("CP_UPCALL_VAR", "from-env")
    # $GROUP means nothing to list: the shell sees it (unset, empty)
    source = UpcallGroupSource(
        "s", map_upcall="echo $CP_UPCALL_VAR $$ $GROUP",
        list_upcall="echo [$GROUP]", cfgdir=str(tmp_path))
    # '$$' is an escaped '$': the shell gets a lone '$'
    assert source.resolv_map("g") == "from-env $ g"
    assert source.resolv_list() == "[]"


def test_upcall_without_cfgdir_substitutes_none():
    source = UpcallGroupSource("s", map_upcall="echo $CFGDIR")
    assert source.resolv_map("g") == "None"


def test_upcall_runs_in_cfgdir_with_empty_stdin(tmp_path):
    source = UpcallGroupSource("s", map_upcall="pwd; cat", cfgdir=str(tmp_path))
    assert source.resolv_map("g") == str(tmp_path)


def test_upcall_output_stripped_keeps_inner_lines():
    source = UpcallGroupSource("s", map_upcall="printf '\\n  a b \\n c\\n\\n'")
    assert source.resolv_map("g") == "a b \n c"


def test_upcall_stderr_goes_through(capfd):
    source = UpcallGroupSource("s", map_upcall="echo n1; echo warning >&2")
    assert source.resolv_map("g") == "n1"
    assert "warning" in capfd.readouterr().err


def test_failing_upcall(log):
    command = log.cmd("echo partial; exit 3")
    source = UpcallGroupSource("s", map_upcall=command)
    with pytest.raises(GroupSourceQueryFailed) as info:
        source.resolv_map("g")
    assert str(info.value) == command
    assert info.value.group_source is source
    # failures are not cached: the next query runs the command again
    with pytest.raises(GroupSourceQueryFailed):
        source.resolv_map("g")
    assert len(log.calls()) == 2


def test_missing_cfgdir_is_query_failure(tmp_path):
    gone = str(tmp_path / "gone")
    source = UpcallGroupSource("s", map_upcall="echo a", cfgdir=gone)
    with pytest.raises(GroupSourceQueryFailed) as info:
        source.resolv_map("g")
    assert gone in str(info.value) and "echo a" in str(info.value)


def test_missing_upcalls():
    source = UpcallGroupSource("s", map_upcall="echo a")
    assert not source.has_reverse
    for call, name in ((source.resolv_all, "all"), (source.resolv_list, "list"),
                       (lambda: source.resolv_reverse("n"), "reverse")):
        with pytest.raises(GroupSourceNoUpcall) as info:
            call()
        assert str(info.value) == name and info.value.group_source is source
    bare = UpcallGroupSource("bare")
    with pytest.raises(GroupSourceNoUpcall, match="map"):
        bare.resolv_map("g")


def test_upcall_cache(log):
    source = UpcallGroupSource("s", map_upcall=log.cmd("echo n-$GROUP", "map"),
                               list_upcall=log.cmd("echo a b", "list"),
                               reverse_upcall=log.cmd("echo a", "rev"))
    assert source.cache_time == 3600
    for _ in range(3):
        assert source.resolv_map("a") == "n-a"
        assert source.resolv_map("b") == "n-b"
        assert source.resolv_list() == "a b"
        assert source.resolv_reverse("n1") == "a"
    assert sorted(log.calls()) == ["list", "map", "map", "rev"]
    assert sorted(source._cache["map"]) == ["a", "b"]
    assert list(source._cache["reverse"]) == ["n1"]
    source.clear_cache()
    assert source._cache == {"map": {}, "reverse": {}}
    source.resolv_map("a")
    assert log.calls().count("map") == 3


def test_upcall_cache_expiry(log):
    source = UpcallGroupSource("s", map_upcall=log.cmd("echo n1"),
                               cache_time=0.2)
    source.resolv_map("a")
    source.resolv_map("a")
    assert len(log.calls()) == 1
    time.sleep(0.3)
    source.resolv_map("a")
    assert len(log.calls()) == 2
    assert len(source._cache["map"]) == 1


def test_upcall_cache_time_zero(log):
    source = UpcallGroupSource("s", all_upcall=log.cmd("echo n1"),
                               map_upcall="true", cache_time=0)
    source.resolv_all()
    source.resolv_all()
    assert len(log.calls()) == 2


def test_reverse_key_is_node_string(log):
    class Node:
        def __str__(self):
            return "n5"
    source = UpcallGroupSource("s", map_upcall="true",
                               reverse_upcall=log.cmd("echo g-$NODE"))
    assert source.resolv_reverse(Node()) == "g-n5"
    assert source.resolv_reverse("n5") == "g-n5"
    assert len(log.calls()) == 1


def test_interrupted_upcall_leaves_no_child():
    source = UpcallGroupSource("s", map_upcall="exec sleep 30")
    timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
    start = time.monotonic()
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            source.resolv_map("g")
    finally:
        timer.join()
    assert time.monotonic() - start < 10
    # the leak fixture checks that the sleep child was killed and reaped


def test_logger_reports_upcalls(caplog):
    import logging
    source = UpcallGroupSource("s", map_upcall="echo n1")
    with caplog.at_level(logging.DEBUG, logger="clusterpy.NodeUtils"):
        source.resolv_map("g")
    text = caplog.text
    assert "EXEC 'echo n1'" in text and "READ 'n1'" in text
    mine = logging.getLogger("mine")
    source.logger = mine
    assert source.logger is mine


# --- mapall ----------------------------------------------------------------

def mapall_source(log, text, **kwargs):
    command = log.cmd("printf '%s'" % text.replace("\n", "\\n"), "mapall")
    return UpcallGroupSource("m", mapall_upcall=command, **kwargs)


def test_mapall_serves_map_and_list(log):
    source = mapall_source(log, "a: n1\n\n  b: n[2-3]  \nempty:\n")
    assert source.resolv_map("a") == "n1"
    assert source.resolv_map("b") == "n[2-3]"
    assert source.resolv_map("empty") == ""
    assert source.resolv_map("unknown") == ""
    assert source.resolv_list() == "a b empty"
    assert log.calls() == ["mapall"]


def test_mapall_duplicate_lines_unioned(log):
    source = mapall_source(log, "a: n1\nb: x\na: n2\na:\n")
    assert source.resolv_map("a") == "n1,n2"
    assert source.resolv_list() == "a b"


@pytest.mark.parametrize("bad", ["no colon here", ": n1", "two words: n1"])
def test_mapall_bad_line(log, bad):
    source = mapall_source(log, "a: n1\n%s\n" % bad)
    with pytest.raises(GroupSourceQueryFailed) as info:
        source.resolv_map("a")
    assert "mapall: invalid line %r" % bad in str(info.value)
    # bad output is not kept: the next query asks again
    with pytest.raises(GroupSourceQueryFailed):
        source.resolv_list()
    assert log.calls() == ["mapall", "mapall"]


def test_mapall_with_map_fallback(log):
    source = UpcallGroupSource(
        "m", mapall_upcall=log.cmd("echo 'a: n1'", "mapall"),
        map_upcall=log.cmd("echo other-$GROUP", "map"))
    assert source.resolv_map("a") == "n1"
    assert source.resolv_map("b") == "other-b"
    assert source.resolv_map("b") == "other-b"
    assert log.calls() == ["mapall", "map"]


def test_mapall_takes_precedence_over_list(log):
    source = UpcallGroupSource(
        "m", mapall_upcall=log.cmd("echo 'a: n1'", "mapall"),
        list_upcall=log.cmd("echo listed", "list"), cache_time=0.2)
    assert source.resolv_list() == "a"
    time.sleep(0.3)
    assert source.resolv_list() == "a"
    assert log.calls() == ["mapall", "mapall"]


def test_mapall_expiry_replaces_groups(tmp_path, log):
    data = tmp_path / "groups"
    data.write_text("a: v1\nold: x1\n")
    source = UpcallGroupSource("m", mapall_upcall=log.cmd("cat %s" % data),
                               cache_time=0.2)
    assert source.resolv_map("old") == "x1"
    data.write_text("a: v2\nnew: y\n")
    assert source.resolv_map("a") == "v1"  # still cached
    time.sleep(0.3)
    assert source.resolv_map("a") == "v2"
    assert source.resolv_map("old") == ""
    assert source.resolv_list() == "a new"
    source.clear_cache()
    data.write_text("c: z\n")
    assert source.resolv_list() == "c"
    assert len(log.calls()) == 3


def test_mapall_failure_retried(tmp_path):
    data = tmp_path / "groups"
    data.write_text("")
    source = UpcallGroupSource("m", mapall_upcall="test -s %s && cat %s"
                               % (data, data))
    with pytest.raises(GroupSourceQueryFailed):
        source.resolv_list()
    data.write_text("a: n1\n")
    assert source.resolv_list() == "a"


def test_mapall_does_not_give_all(log):
    source = mapall_source(log, "a: n1\n")
    with pytest.raises(GroupSourceNoUpcall):
        source.resolv_all()
    assert log.calls() == []


# --- GroupResolver ---------------------------------------------------------

def test_resolver_default_source():
    source = GroupSource("mem", {"a": "n1 n2\nn3", "b": ["x1", "x[2-3]"]},
                         "n[1-3] x[1-3]")
    res = GroupResolver(source)
    assert res.default_source_name == "mem"
    assert res.sources() == ["mem"]
    assert res.group_nodes("a") == ["n1", "n2", "n3"]
    assert res.group_nodes("b") == ["x1,x[2-3]"]
    assert res.group_nodes("a", "mem") == ["n1", "n2", "n3"]
    assert res.group_nodes("zz") == []
    assert res.all_nodes() == ["n[1-3]", "x[1-3]"]
    assert sorted(res.grouplist()) == ["a", "b"]
    assert not res.has_node_groups()
    with pytest.raises(GroupSourceNoUpcall):
        res.node_groups("n1")


def test_resolver_without_sources():
    res = GroupResolver()
    assert res.sources() == [] and res.default_source_name is None
    assert not res.has_node_groups() and not res.has_node_groups("x")
    with pytest.raises(GroupResolverSourceError, match="<default>"):
        res.grouplist()
    with pytest.raises(GroupResolverSourceError, match="nope"):
        res.group_nodes("a", "nope")
    with pytest.raises(GroupResolverSourceError, match="^x$"):
        res.default_source_name = "x"


def test_resolver_sources_order_and_collision():
    first, second, third = (GroupSource(n) for n in ("first", "second", "third"))
    res = GroupResolver(third)
    res.add_source(first)
    res.add_source(second)
    assert res.sources() == ["third", "first", "second"]
    res.default_source_name = "second"
    assert res.default_source_name == "second"
    assert res.sources() == ["second", "third", "first"]
    with pytest.raises(ValueError, match="GroupSource 'first': name collision"):
        res.add_source(GroupSource("first"))
    # sources but no default: listed as added
    bare = GroupResolver()
    bare.add_source(first)
    bare.add_source(second)
    assert bare.sources() == ["first", "second"]
    with pytest.raises(GroupResolverSourceError):
        bare.group_nodes("g")
    assert bare.group_nodes("g", "first") == []


def test_resolver_reverse(log):
    source = UpcallGroupSource("u", map_upcall="echo n1",
                               reverse_upcall=log.cmd("echo 'g1 g2'; echo g3"))
    res = GroupResolver(source)
    assert res.has_node_groups() and res.has_node_groups("u")
    assert not res.has_node_groups("other")
    assert res.node_groups("n1") == ["g1", "g2", "g3"]
    assert res.node_groups("n1", "u") == ["g1", "g2", "g3"]
    assert len(log.calls()) == 1


def test_resolver_illegal_chars():
    source = UpcallGroupSource("u", map_upcall="echo n1",
                               list_upcall="echo good 'b*d' '@x,'",
                               reverse_upcall="echo 'ok !bad'")
    res = GroupResolver(source, illegal_chars=set("@,!*"))
    with pytest.raises(GroupResolverIllegalCharError) as info:
        res.grouplist()
    assert str(info.value) == "*"
    with pytest.raises(GroupResolverIllegalCharError, match="^!$"):
        res.node_groups("n1")
    # node lists are not checked
    assert res.group_nodes("any") == ["n1"]
    lax = GroupResolver(source)
    assert lax.grouplist() == ["good", "b*d", "@x,"]


def test_resolver_illegal_chars_from_list_source():
    res = GroupResolver(GroupSource("m", {"fine": "n1", "no@pe": "n2"}),
                        illegal_chars={"@"})
    with pytest.raises(GroupResolverIllegalCharError, match="@"):
        res.grouplist()


def test_resolver_late_init_runs_once():
    class Counting(GroupResolver):
        inits = 0

        def _late_init(self):
            super()._late_init()
            Counting.inits += 1
            self.add_source(GroupSource("late", {"g": "n1"}))
            self.default_source_name = "late"

    res = Counting()
    assert Counting.inits == 0
    assert res.group_nodes("g") == ["n1"]
    assert res.sources() == ["late"]
    assert res.default_source_name == "late"
    assert Counting.inits == 1


def test_init_decorator_is_public():
    class Custom(GroupResolver):
        def _late_init(self):
            super()._late_init()
            self.ready = True

        @GroupResolver.init
        def is_ready(self):
            return self.ready

    assert Custom().is_ready() is True
    assert Custom.is_ready.__name__ == "is_ready"


def test_set_verbosity_deprecated():
    source = UpcallGroupSource("u", map_upcall="echo n1")
    res = GroupResolver(source)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res.set_verbosity(2)
    assert caught and caught[0].category is DeprecationWarning
    assert source.verbosity == 2
