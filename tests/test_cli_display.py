"""CLI.Display: the output shapes shared by clush and clubak, checked
against the bytes ClusterShell 1.10.1 writes."""
import io
import sys

import pytest

from clusterpy.CLI.Config import ClushConfig
from clusterpy.CLI.Display import (STRING_ENCODING, THREE_CHOICES, VERB_DEBUG,
                                   VERB_QUIET, VERB_STD, VERB_VERB, Display,
                                   sys_stdin)
from clusterpy.CLI.OptionParser import OptionParser
from clusterpy.MsgTree import MsgTree
from clusterpy.NodeSet import NodeSet

from _cli_run import clush_options

SEP = "---------------"
BLUE, RED, END = "\x1b[94m", "\x1b[91m", "\x1b[0m"


def clubak_options(*args):
    parser = OptionParser("test")
    parser.install_display_options(verbose_options=True,
                                   separator_option=True, dshbak_compat=True,
                                   msgtree_mode=True)
    return parser.parse_args(list(args))[0]


def display(*args, color=False, config=None):
    disp = Display(clush_options(*args), config, color=color)
    disp.out, disp.err = io.StringIO(), io.StringIO()
    return disp


def message(*lines):
    """A MsgTree element holding these lines."""
    tree = MsgTree()
    for line in lines:
        tree.add("k", line)
    return tree["k"]


@pytest.fixture
def no_color_env(monkeypatch):
    for name in ("NO_COLOR", "CLICOLOR", "CLICOLOR_FORCE"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_constants():
    assert (VERB_QUIET, VERB_STD, VERB_VERB, VERB_DEBUG) == (0, 1, 2, 3)
    assert THREE_CHOICES == ["", "never", "always", "auto"]
    assert STRING_ENCODING == "utf-8"
    assert Display.SEP == SEP
    assert Display.COLOR_STDOUT_FMT % "x" == BLUE + "x" + END
    assert Display.COLOR_STDERR_FMT % "x" == RED + "x" + END
    assert Display.COLOR_RESULT_FMT % "x" == "\x1b[92mx" + END


def test_defaults_from_clubak_options():
    disp = Display(clubak_options())
    assert not disp.gather and not disp.line_mode and not disp.regroup
    assert disp.label is True and disp.node_count is True
    assert disp.verbosity == VERB_STD and disp.maxrc is False
    assert disp.groupsource is None and disp.noprefix is False


@pytest.mark.parametrize("args,level", [
    ([], VERB_STD), (["-q"], VERB_QUIET), (["-v"], VERB_VERB),
    (["-d"], VERB_DEBUG), (["-q", "-d"], VERB_DEBUG),
])
def test_verbosity_from_options(args, level):
    assert display(*args).verbosity == level


def test_prefixed_lines():
    disp = display()
    disp.print_line(NodeSet("n1"), b"hello")
    disp.print_line_error("n2", b"oops \xff")
    assert disp.out.getvalue() == "n1: hello\n"
    assert disp.err.getvalue() == "n2: oops \ufffd\n"


def test_unprefixed_lines():
    disp = display("-N")
    disp.print_line("n1", b"hello")
    disp.print_line_error("n1", b"oops")
    assert (disp.out.getvalue(), disp.err.getvalue()) == ("hello\n", "oops\n")


def test_colored_lines():
    disp = display("--color=always", color=None)
    disp.print_line("n1", b"x")
    disp.print_line_error("n1", b"y")
    assert disp.out.getvalue() == BLUE + "n1: " + END + "x\n"
    assert disp.err.getvalue() == RED + "n1: " + END + "y\n"


def test_gathered_block_with_count():
    disp = display("-b")
    disp.print_gather("n[1-3]", message(b"a", b"b"))
    disp.print_gather(NodeSet("m1"), b"c\n")
    assert disp.out.getvalue() == (SEP + "\nn[1-3] (3)\n" + SEP + "\na\nb\n"
                                   + SEP + "\nm1\n" + SEP + "\nc\n\n")


def test_block_count_hidden_when_quiet_or_configured_off(tmp_path):
    disp = display("-q", "-b")
    disp.print_gather("n[1-2]", b"x")
    assert disp.out.getvalue() == SEP + "\nn[1-2]\n" + SEP + "\nx\n"
    conf = tmp_path / "clush.conf"
    conf.write_text("[Main]\nnode_count: no\n")
    config = ClushConfig(clush_options(), str(conf))
    disp = display(config=config)
    assert disp.node_count is False
    assert disp.format_header(NodeSet("n[1-2]")) == \
        SEP + "\nn[1-2]\n" + SEP + "\n"


def test_header_indent_and_color():
    disp = display("--color=always", color=None)
    assert disp.format_header(NodeSet("n[1-2]"), 2) == (
        BLUE + "  " + SEP + "\n  n[1-2] (2)\n  " + SEP + END + "\n")
    assert display("-N").format_header(NodeSet("n1")) == ""


def test_line_mode_property_switches_output():
    disp = display("-b")
    assert disp.line_mode is False
    disp.line_mode = True
    assert disp.line_mode is True
    disp.print_gather("n[1-2]", [b"a", b"\xffb"])
    disp.line_mode = False
    disp.print_gather("n3", b"c")
    assert disp.out.getvalue() == ("n[1-2]: a\nn[1-2]: \ufffdb\n"
                                   + SEP + "\nn3\n" + SEP + "\nc\n")


def test_line_mode_without_label():
    disp = display("-L", "-N")
    disp.print_gather("n1", message(b"a", b"b"))
    assert disp.out.getvalue() == "a\nb\n"


def test_raw_keys():
    disp = display("-b")
    disp.print_gather_keys(["some key"], b"x")
    assert disp.out.getvalue() == SEP + "\nsome key\n" + SEP + "\nx\n"


def test_diff_against_first_message():
    disp = display("--diff")
    assert disp.gather
    disp.print_gather("n[1-2]", message(b"same", b"old"))
    assert disp.out.getvalue() == ""
    disp.print_gather("n3", message(b"same", b"new"))
    assert disp.out.getvalue() == ("--- n[1-2] (2)\n+++ n3\n@@ -1,2 +1,2 @@\n"
                                   " same\n-old\n+new\n")


def test_diff_finalize_and_flush():
    disp = display("--diff")
    disp.print_gather("n1", message(b"a"))
    disp.print_gather_finalize(NodeSet("n2"))
    assert disp.out.getvalue() == "--- n1\n+++ n2\n@@ -1 +0,0 @@\n-a\n"
    disp.flush()
    disp.out = io.StringIO()
    disp.print_gather("n5", message(b"b"))
    disp.print_gather_finalize(NodeSet("n6"))
    assert disp.out.getvalue() == "--- n5\n+++ n6\n@@ -1 +0,0 @@\n-b\n"


def test_diff_refuses_line_mode():
    with pytest.raises(ValueError, match="diff not supported in line_mode"):
        Display(clush_options("--diff", "-L"))


def test_regroup_uses_groups(tmp_path):
    from clusterpy.NodeSet import set_std_group_resolver
    from clusterpy.NodeUtils import GroupResolverConfig
    conf = tmp_path / "groups.conf"
    conf.write_text("[Main]\ndefault: s\n[s]\nmap: echo n[1-2]\n"
                    "list: echo pair\n")
    set_std_group_resolver(GroupResolverConfig(str(conf)))
    try:
        for args, name in ((["-r"], "@pair"), (["-r", "-s", "s"], "@s:pair"),
                           (["-r", "-G", "-s", "s"], "@pair")):
            disp = display("-b", *args)
            disp.print_gather("n[1-2]", b"x")
            assert disp.out.getvalue() == (SEP + "\n" + name + " (2)\n" + SEP
                                           + "\nx\n")
        disp = display("-b")
        disp.print_gather("n[1-2]", b"x")
        assert disp.out.getvalue() == SEP + "\nn[1-2] (2)\n" + SEP + "\nx\n"
    finally:
        set_std_group_resolver(None)


def test_vprint(capsys):
    disp = display("-v")
    disp.vprint(VERB_VERB, "shown")
    disp.vprint(VERB_DEBUG, "hidden")
    disp.vprint_err(VERB_STD, "err shown")
    disp.vprint_err(VERB_DEBUG, "err hidden")
    assert capsys.readouterr() == ("shown\n", "err shown\n")


@pytest.mark.parametrize("env,whencolor,expected", [
    ({}, None, False),                   # not a terminal
    ({}, "always", True),
    ({}, "never", False),
    ({"CLICOLOR_FORCE": "1"}, None, True),
    ({"CLICOLOR_FORCE": "0"}, None, False),
    ({"CLICOLOR_FORCE": "1"}, "never", False),
    ({"NO_COLOR": ""}, "always", True),
    ({"NO_COLOR": "1", "CLICOLOR_FORCE": "1"}, None, False),
    ({"CLICOLOR": "1"}, None, False),    # only on a terminal
])
def test_color_choice(no_color_env, env, whencolor, expected):
    for name, value in env.items():
        no_color_env.setenv(name, value)
    options = clush_options(*(["--color=" + whencolor] if whencolor else []))
    assert Display(options)._color is expected


def test_color_given_is_overridden_by_the_environment(no_color_env):
    # without --color nor clush.conf, the environment decides even when
    # the caller passes color=True (here: not a terminal, so no colour)
    assert Display(clush_options(), color=True)._color is False
    assert Display(clush_options(), color=False)._color is False


def test_color_from_config(no_color_env, tmp_path):
    conf = tmp_path / "clush.conf"
    conf.write_text("[Main]\ncolor: never\n")
    options = clush_options()
    config = ClushConfig(options, str(conf))
    # clush passes the colour it decided from the config
    assert Display(options, config, color=True)._color is True
    no_color_env.setenv("CLICOLOR_FORCE", "1")
    conf.write_text("[Main]\ncolor: auto\n")
    config = ClushConfig(options, str(conf))
    assert Display(options, config, color=False)._color is False
    assert Display(options, config)._color is True


def test_streams_become_line_buffered(monkeypatch):
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    monkeypatch.setattr(sys, "stdout", out)
    disp = Display(clush_options(), color=False)
    assert disp.out is out and out.line_buffering


def test_sys_stdin_is_binary(monkeypatch):
    raw = io.BytesIO(b"x")
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(raw))
    assert sys_stdin() is raw
    monkeypatch.setattr(sys, "stdin", raw)
    assert sys_stdin() is raw
