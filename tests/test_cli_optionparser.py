"""CLI.OptionParser: the option sets of clush, cluset and clubak, their
types and checkers, as ClusterShell 1.10.1 defines them."""
import optparse

import pytest

from clusterpy.CLI.OptionParser import (Option, OptionParser, check_autostep,
                                        check_safestring)


def flags(parser):
    """{flag: (dest, action, type)} of every option of a parser."""
    table = {}
    for group in [parser] + parser.option_groups:
        for option in group.option_list:
            for flag in option._short_opts + option._long_opts:
                table[flag] = (option.dest, option.action, option.type)
    return table


def group_titles(parser):
    return [group.title for group in parser.option_groups]


def test_base_parser():
    parser = OptionParser("usage")
    assert flags(parser) == {
        "--version": (None, "version", None), "-h": (None, "help", None),
        "--help": (None, "help", None),
        "-s": ("groupsource", "store", "safestring"),
        "--groupsource": ("groupsource", "store", "safestring")}
    assert parser.get_version().endswith(" 1.10.1")
    # parsing stops at the first argument that is not an option
    opts, args = parser.parse_args(["-s", "src", "cmd", "-s", "x"])
    assert opts.groupsource == "src" and args == ["cmd", "-s", "x"]


def test_clush_option_set():
    parser = OptionParser("usage")
    parser.install_clush_config_options()
    parser.install_groupsconf_option()
    parser.install_nodes_options()
    parser.install_display_options(verbose_options=True)
    parser.install_filecopy_options()
    parser.install_connector_options()
    table = flags(parser)
    assert group_titles(parser) == ["Selecting target nodes",
                                    "Output behaviour", "File copying",
                                    "Connection options"]
    expected = {
        "-w": ("nodes", "append", "safestring"),
        "-x": ("exclude", "append", "safestring"),
        "-a": ("nodes_all", "store_true", None),
        "-g": ("group", "append", "safestring"),
        "-X": ("exgroup", "append", "safestring"),
        "-E": ("engine", "store", "choice"),
        "--hostfile": ("hostfile", "append", "string"),
        "--machinefile": ("hostfile", "append", "string"),
        "--topology": ("topofile", "store", "string"),
        "--pick": ("pick", "store", "int"),
        "-q": ("quiet", "store_true", None),
        "-v": ("verbose", "store_true", None),
        "-d": ("debug", "store_true", None),
        "-G": ("groupbase", "store_true", None),
        "-L": ("line_mode", "store_true", None),
        "-N": ("label", "store_false", None),
        "-P": ("progress", "store_true", None),
        "-b": ("gather", "store_true", None),
        "-B": ("gatherall", "store_true", None),
        "-r": ("regroup", "store_true", None),
        "--axis": ("axis", "store", "string"),
        "-S": ("maxrc", "store_true", None),
        "--color": ("whencolor", "store", "choice"),
        "--diff": ("diff", "store_true", None),
        "--outdir": ("outdir", "store", "string"),
        "--errdir": ("errdir", "store", "string"),
        "-c": ("copy", "callback", None),
        "--rcopy": ("rcopy", "callback", None),
        "--dest": ("dest_path", "store", "string"),
        "-p": ("preserve_flag", "store_true", None),
        "-f": ("fanout", "store", "int"),
        "--grooming": ("grooming_delay", "store", "float"),
        "-l": ("user", "store", "safestring"),
        "-o": ("options", "store", "string"),
        "-t": ("connect_timeout", "store", "float"),
        "-u": ("command_timeout", "store", "float"),
        "-m": ("mode", "store", "string"),
        "-R": ("worker", "store", "string"),
        "--remote": ("remote", "store", "choice"),
        "--conf": ("conf", "store", "string"),
        "-O": ("option", "append", "string"),
        "--groupsconf": ("groupsconf", "store", "string"),
    }
    for flag, spec in expected.items():
        assert table[flag] == spec, flag
    opts, _ = parser.parse_args([])
    assert (opts.engine, opts.hostfile, opts.option, opts.label,
            opts.gatherall, opts.groupbase, opts.regroup) == \
        ("auto", [], [], True, False, False, False)
    assert parser.get_option("-E").choices[:2] == ["auto", "epoll"]
    assert parser.get_option("--remote").choices == ("yes", "no")
    assert parser.get_option("--color").choices == ["", "never", "always",
                                                    "auto"]
    help_text = parser.format_help()
    assert "--engine" not in help_text and "--grooming" not in help_text


def test_clubak_option_set():
    parser = OptionParser("usage")
    parser.install_groupsconf_option()
    parser.install_display_options(verbose_options=True,
                                   separator_option=True, dshbak_compat=True,
                                   msgtree_mode=True)
    table = flags(parser)
    assert table["-c"] == table["-b"] == table["--dshbak"] == \
        ("gather", "store_true", None)
    assert table["-S"] == ("separator", "store", "string")
    assert table["-F"] == ("fast_mode", "store_true", None)
    assert table["-T"] == ("trace_mode", "store_true", None)
    assert table["--interpret-keys"] == ("interpret_keys", "store", "choice")
    assert "-P" not in table and "--maxrc" not in table
    opts, _ = parser.parse_args([])
    assert (opts.separator, opts.interpret_keys) == (":", "auto")


def test_display_options_without_debug():
    parser = OptionParser("usage")
    parser.install_display_options(debug_option=False)
    table = flags(parser)
    assert "-d" not in table and "-q" not in table and "-P" in table


def test_dshbak_display_conflicts_with_file_copy():
    parser = OptionParser("usage")
    parser.install_display_options(dshbak_compat=True)
    with pytest.raises(optparse.OptionConflictError):
        parser.install_filecopy_options()


def test_nodeset_option_set():
    parser = OptionParser("usage")
    parser.install_nodeset_commands()
    parser.install_nodeset_operations()
    parser.install_nodeset_options()
    assert group_titles(parser) == ["Commands", "Operations", "Options"]
    table = flags(parser)
    assert table["-l"] == ("list", "count", None)
    assert table["-L"] == ("listall", "count", None)
    assert table["--groupsources"] == table["--list-sources"] == \
        ("groupsources", "store_true", None)
    assert table["--index"] == ("index", "store", "string")
    assert table["-x"] == ("sub_nodes", "append", "string")
    assert table["-i"] == ("and_nodes", "append", "string")
    assert table["-X"] == ("xor_nodes", "append", "string")
    assert table["--autostep"] == ("autostep", "store", "autostep")
    assert table["-I"] == ("slice_rangeset", "store", "string")
    assert table["--split"] == ("maxsplit", "store", "int")
    assert table["-O"] == ("output_format", "store", "string")
    assert table["-R"] == ("rangeset", "store_true", None)
    opts, _ = parser.parse_args(["-lll", "-LL"])
    assert (opts.list, opts.listall, opts.separator, opts.output_format,
            opts.sub_nodes, opts.completion, opts.count) == \
        (3, 2, " ", "%s", [], False, False)
    assert "--completion" not in parser.format_help()


def test_copy_switch_lets_options_follow_files():
    parser = OptionParser("usage")
    parser.install_nodes_options()
    parser.install_filecopy_options()
    opts, args = parser.parse_args(["-w", "n1", "-c", "a", "-p", "b",
                                    "--dest", "/tmp"])
    assert (opts.copy, opts.preserve_flag, opts.dest_path, args) == \
        (True, True, "/tmp", ["a", "b"])


@pytest.mark.parametrize("value,result", [
    ("4", 4), ("0", 0), ("50%", 0.5), ("100%", 1.0), ("auto", "auto"),
])
def test_check_autostep(value, result):
    assert check_autostep(None, "--autostep", value) == result


@pytest.mark.parametrize("value", ["x", "%", "4.5", ""])
def test_check_autostep_refuses(value):
    with pytest.raises(optparse.OptionValueError) as info:
        check_autostep(None, "--autostep", value)
    assert str(info.value) == (
        "option --autostep: invalid value: %r, should be node count, node "
        "percentage or 'auto'" % value)


def test_check_safestring():
    assert check_safestring(None, "-w", "n[1-2]") == "n[1-2]"
    for value in ("", "-x"):
        with pytest.raises(optparse.OptionValueError) as info:
            check_safestring(None, "-w", value)
        assert str(info.value) == "option -w: invalid value: %r" % value


def test_option_class_types():
    assert Option.TYPES[-2:] == ("autostep", "safestring")
    assert Option.TYPE_CHECKER["safestring"] is check_safestring
    assert Option.TYPE_CHECKER["int"] is optparse.Option.TYPE_CHECKER["int"]
    # optparse's own table is left alone
    assert "safestring" not in optparse.Option.TYPE_CHECKER
