"""clubak end to end: "node: line" text on stdin, the gathered output on
stdout checked byte for byte against ClusterShell 1.10.1's clubak, with
colours through a pseudo-terminal."""
import subprocess
import sys

import pytest

from _cli_run import ROOT, CliTool

SEP = b"---------------\n"
BLUE, RED, GREEN, BOLD, CYAN, END = (b"\x1b[94m", b"\x1b[91m", b"\x1b[92m",
                                     b"\x1b[1m", b"\x1b[96m", b"\x1b[0m")

SAMPLE = b"""\
web2: up 3 days
web1: up 3 days
db1: up 9 days
web1: load 0.1
web2: load 0.1
db1: load 0.9
web10: up 1 day
"""


@pytest.fixture
def clubak(tmp_path):
    return CliTool("clubak", tmp_path)


def block(nodes, *lines):
    """A header block as clubak prints it (no colour)."""
    return SEP + nodes + b"\n" + SEP + b"".join(line + b"\n" for line in lines)


def ok(result, out):
    assert (result.rc, result.out, result.err) == (0, out, b"")


def test_one_block_per_node_in_node_order(clubak):
    ok(clubak(stdin=SAMPLE),
       block(b"db1", b" up 9 days", b" load 0.9")
       + block(b"web1", b" up 3 days", b" load 0.1")
       + block(b"web2", b" up 3 days", b" load 0.1")
       + block(b"web10", b" up 1 day"))


@pytest.mark.parametrize("flag", ["-b", "-c", "--dshbak"])
def test_gathered_biggest_group_first(clubak, flag):
    ok(clubak(flag, stdin=SAMPLE),
       block(b"web[1-2] (2)", b" up 3 days", b" load 0.1")
       + block(b"db1", b" up 9 days", b" load 0.9")
       + block(b"web10", b" up 1 day"))


def test_line_mode(clubak):
    ok(clubak("-L", stdin=SAMPLE),
       b"db1:  up 9 days\ndb1:  load 0.9\nweb1:  up 3 days\nweb1:  load 0.1\n"
       b"web2:  up 3 days\nweb2:  load 0.1\nweb10:  up 1 day\n")


def test_gathered_line_mode(clubak):
    ok(clubak("-b", "-L", stdin=SAMPLE),
       b"web[1-2]:  up 3 days\nweb[1-2]:  load 0.1\ndb1:  up 9 days\n"
       b"db1:  load 0.9\nweb10:  up 1 day\n")


def test_no_label(clubak):
    ok(clubak("-N", "-b", stdin=SAMPLE),
       b" up 3 days\n load 0.1\n up 9 days\n load 0.9\n up 1 day\n")
    ok(clubak("-N", "-L", stdin=b"n2: b\nn1: a\n"), b" a\n b\n")


def test_quiet_drops_node_count(clubak):
    ok(clubak("-q", "-b", stdin=b"n1: x\nn2: x\n"), block(b"n[1-2]", b" x"))


def test_separator(clubak):
    ok(clubak("-S", "=>", "-b", stdin=b"n1=>a:b\nn2 => a:b\n"),
       block(b"n1", b"a:b") + block(b"n2", b" a:b"))
    ok(clubak("-S", " ", stdin=b"n1 hello world\n"),
       block(b"n1", b"hello world"))


def test_keys_may_be_node_sets(clubak):
    ok(clubak("-b", stdin=b"n[1-3]: x\nn4: x\nn2: y\n"),
       block(b"n[1,3-4] (3)", b" x") + block(b"n2", b" x", b" y"))


def test_keys_are_stripped_and_lines_keep_their_text(clubak):
    ok(clubak(stdin=b"  n1  :  spaced  \r\n"), block(b"n1", b"  spaced  "))


def test_interpret_keys_never(clubak):
    ok(clubak("--interpret-keys=never", stdin=b"b[1-2]: x\na b: y\n"),
       block(b"b[1-2]", b" x") + block(b"a b", b" y"))


def test_interpret_keys_auto_gives_up_on_first_bad_key(clubak):
    # "z[" is no node set: from then on, every key is taken as is, and
    # nodes print in input order
    ok(clubak(stdin=b"n[1-2]: x\nz[: y\nm1: w\n"),
       block(b"n1", b" x") + block(b"n2", b" x") + block(b"z[", b" y")
       + block(b"m1", b" w"))
    # a blank is no reason to give up: "a b" is a node name
    ok(clubak(stdin=b"n2: x\na b: y\n"), block(b"a b", b" y")
       + block(b"n2", b" x"))


def test_interpret_keys_always_refuses_bad_keys(clubak):
    result = clubak("--interpret-keys=always", stdin=b"n1: x\na[1-: y\n")
    assert result == (1, b"", b'clubak: Parse error: missing bracket: '
                              b'"a[1-"\n')


def test_axis(clubak):
    lines = b"a1b1: x\na1b2: x\na2b1: x\na2b2: x\n"
    ok(clubak("-b", "--axis=1", stdin=lines),
       block(b"a[1-2]b1,a[1-2]b2 (4)", b" x"))
    ok(clubak("-b", "--axis=2", stdin=lines),
       block(b"a1b[1-2],a2b[1-2] (4)", b" x"))


def test_fast_mode(clubak):
    ok(clubak("-F", "-b", stdin=SAMPLE),
       block(b"web[1-2] (2)", b" up 3 days", b" load 0.1")
       + block(b"db1", b" up 9 days", b" load 0.9")
       + block(b"web10", b" up 1 day"))


def test_trace_mode(clubak):
    ok(clubak("-T", stdin=b"n1: a\nn2: a\nn1: b\nn2: c\nn3: z\n"),
       block(b"n3", b" z")
       + block(b"n[1-2] (2)", b" a")
       + b"  " + SEP + b"  n2\n  " + SEP + b"   c\n"
       + b"  " + SEP + b"  n1\n  " + SEP + b"   b\n")


def test_trace_line_mode(clubak):
    ok(clubak("-T", "-L", stdin=b"n1: a\nn2: a\nn1: b\n"),
       b"n[1-2]:\n a\n b\n")


def test_diff(clubak):
    ok(clubak("--diff", stdin=b"n1: a\nn2: a\nn1: b\nn2: c\nn3: a\nn3: b\n"),
       b"--- n[1,3] (2)\n+++ n2\n@@ -1,2 +1,2 @@\n  a\n- b\n+ c\n")


def test_diff_colors(clubak):
    ok(clubak("--diff", "--color=always", stdin=b"n1: a\nn2: b\n"),
       BOLD + b"--- n1" + END + b"\n" + BOLD + b"+++ n2" + END + b"\n"
       + CYAN + b"@@ -1 +1 @@" + END + b"\n"
       + RED + b"- a" + END + b"\n" + GREEN + b"+ b" + END + b"\n")


def test_undecodable_bytes_are_replaced(clubak):
    ok(clubak(stdin=b"n1: caf\xe9\n"), block(b"n1", b" caf\xef\xbf\xbd"))


def test_verbose_echoes_input(clubak):
    ok(clubak("-v", stdin=b"n1: x\n"), b"INPUT n1: x\n" + block(b"n1", b" x"))


def test_debug_summary_on_stderr(clubak):
    result = clubak("-d", "-b", stdin=b"n1: x\nn1: y\n")
    assert result == (0, b"INPUT n1: x\nINPUT n1: y\n" + block(b"n1", b" x",
                                                               b" y"),
                      b"clubak: line_mode=False gather=True tree_depth=2\n")


def test_empty_input(clubak):
    ok(clubak(), b"")
    ok(clubak("-b"), b"")


@pytest.mark.parametrize("stdin,message", [
    (b"n1: ok\nno separator here\n",
     b'clubak: not enough values to unpack (expected 2, got 1): "no '
     b'separator here"'),
    (b" : x\n", b'clubak: no node found: " : x"'),
])
def test_bad_input_lines(clubak, stdin, message):
    assert clubak(stdin=stdin) == (1, b"", message + b"\n")


@pytest.mark.parametrize("args,message", [
    (["-F", "-T"], b"incompatible tree options"),
    (["-F", "-L"], b"incompatible tree options"),
    (["--diff", "-L"], b"option mismatch (diff not supported in line_mode)"),
    (["--color=sometimes"],
     b"option --color: invalid choice: 'sometimes' (choose from '', "
     b"'never', 'always', 'auto')"),
    (["--nope"], b"no such option: --nope"),
])
def test_usage_errors(clubak, args, message):
    result = clubak(*args, stdin=b"n1: x\n")
    assert result == (2, b"", b"Usage: clubak [options]\n\nclubak: error: "
                              + message + b"\n")


def test_groups(clubak):
    clubak.write_config("groups.conf",
                        "[Main]\ndefault: site\nconfdir:\nautodir:\n"
                        "[site]\nmap: echo n[1-2]\nlist: echo pair\n")
    lines = b"n1: x\nn2: x\nn3: y\n"
    ok(clubak("-r", stdin=lines),
       block(b"@pair (2)", b" x") + block(b"n3", b" y"))
    ok(clubak("-b", "-r", "-L", stdin=lines), b"@pair:  x\nn3:  y\n")
    ok(clubak("-b", stdin=b"@pair: x\n"), block(b"n[1-2] (2)", b" x"))


def test_version(clubak):
    ok(clubak("--version"), b"clubak 1.10.1\n")


def test_runs_as_a_module(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "clusterpy.CLI.Clubak", "-b"],
                          input=b"n2: x\nn1: x\n", capture_output=True,
                          env={"PYTHONPATH": ROOT, "HOME": str(tmp_path)})
    assert (proc.returncode, proc.stdout, proc.stderr) == (
        0, block(b"n[1-2] (2)", b" x"), b"")


# colours

def colored_block(nodes, *lines):
    return (BLUE + SEP + nodes + b"\n" + SEP[:-1] + END + b"\n"
            + b"".join(line + b"\n" for line in lines))


def test_colors_on_a_terminal(clubak):
    result = clubak.on_terminal("-b", stdin=b"n1: x\nn2: x\n")
    assert result == (0, colored_block(b"n[1-2] (2)", b" x"), b"")
    result = clubak.on_terminal("-L", stdin=b"n1: x\n")
    assert result == (0, BLUE + b"n1: " + END + b" x\n", b"")


def test_no_colors_on_a_terminal_when_asked(clubak):
    plain = block(b"n1", b" x")
    assert clubak.on_terminal(stdin=b"n1: x\n", NO_COLOR="1").out == plain
    assert clubak.on_terminal("--color=never", stdin=b"n1: x\n").out == plain
    assert clubak.on_terminal(stdin=b"n1: x\n", CLICOLOR="0").out == plain


def test_color_option_beats_no_color(clubak):
    result = clubak.on_terminal("--color=always", stdin=b"n1: x\n",
                                NO_COLOR="1")
    assert result.out == colored_block(b"n1", b" x")


def test_colors_off_a_terminal(clubak):
    ok(clubak(stdin=b"n1: x\n"), block(b"n1", b" x"))
    ok(clubak("--color=always", stdin=b"n1: x\n"), colored_block(b"n1", b" x"))
    ok(clubak(stdin=b"n1: x\n", CLICOLOR_FORCE="1"),
       colored_block(b"n1", b" x"))
    ok(clubak(stdin=b"n1: x\n", CLICOLOR_FORCE="1", NO_COLOR=""),
       block(b"n1", b" x"))
