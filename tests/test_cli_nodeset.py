"""cluset / nodeset end to end: the command run in a new process with
arguments and stdin, stdout, stderr and exit code checked byte for byte
against what ClusterShell 1.10.1's cluset prints."""
import subprocess
import sys
import textwrap

import pytest

from _cli_run import ROOT, CliTool

USAGE = b"Usage: cluset [COMMAND] [OPTIONS] [ns1 [-ixX] ns2|...]\n\n"


@pytest.fixture
def cluset(tmp_path):
    return CliTool("cluset", tmp_path)


def ok(result, out):
    """Assert a successful run printing `out` and nothing on stderr."""
    assert (result.rc, result.out, result.err) == (0, out, b"")


def usage_error(result, prog, message):
    assert result.rc == 2
    assert result.out == b""
    assert result.err == (USAGE.replace(b"cluset", prog)
                          + prog + b": error: " + message + b"\n")


# commands on arguments

@pytest.mark.parametrize("args,out", [
    (["-f", "n3", "n1", "n2", "m"], b"m,n[1-3]\n"),
    (["-f", "n[01-03]", "n[4-5]"], b"n[4-5,01-03]\n"),
    (["-e", "n[1-3],m"], b"m n1 n2 n3\n"),
    (["-c", "n[1-10]", "n[5-20]"], b"20\n"),
    (["-c", ""], b"0\n"),
    (["-f", ""], b"\n"),
    (["-e", "a[1-2]b[1-2]"], b"a1b1 a1b2 a2b1 a2b2\n"),
    (["-f", "a1b1", "a1b2", "a2b1", "a2b2"], b"a[1-2]b[1-2]\n"),
    (["--count", "x[1-100/3]"], b"34\n"),
    (["--expand", "--separator=,", "n[1-3]"], b"n1,n2,n3\n"),
])
def test_commands_on_arguments(cluset, args, out):
    ok(cluset(*args), out)


def test_nodeset_is_the_same_command(tmp_path):
    result = CliTool("nodeset", tmp_path)("-f", "x2", "x1")
    ok(result, b"x[1-2]\n")


def test_runs_as_a_module(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "clusterpy.CLI.Nodeset",
                           "-c", "n[1-5]"], capture_output=True,
                          env={"PYTHONPATH": ROOT, "HOME": str(tmp_path)})
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, b"5\n", b"")


def test_multiline_argument_is_one_set_per_line(cluset):
    ok(cluset("-f", "b2\n\nb1\nb3\n"), b"b[1-3]\n")
    ok(cluset("-c", "n[1-4]", "-i", "n1\nn2\n"), b"2\n")


# standard input

def test_stdin_when_no_argument(cluset):
    ok(cluset("-f", stdin="n3 n1\nn2\n\nm5\n"), b"m5,n[1-3]\n")


def test_stdin_comments(cluset):
    ok(cluset("-e", stdin="n1 # n2\n# n3\nn4#n5\n"), b"n1 n4\n")


def test_stdin_last_line_without_newline_loses_a_character(cluset):
    # ClusterShell cuts every line before "#", or drops its last character
    ok(cluset("-f", stdin="node10"), b"node1\n")
    ok(cluset("-f", stdin="n1\nn2 # c"), b"n[1-2]\n")


def test_stdin_empty(cluset):
    ok(cluset("-c"), b"0\n")
    ok(cluset("-f", stdin="\n\n"), b"\n")


def test_stdin_dash_argument(cluset):
    ok(cluset("-f", "a1", "-", "a3", stdin="a2\n"), b"a[1-3]\n")
    ok(cluset("-f", "a[1-5]", "-x", "-", stdin="a2 a4\n"), b"a[1,3,5]\n")
    # -i given as an option applies to the (empty) stdin-less set first
    assert cluset("-f", "-i", "-", "a[1-5]", stdin="a[4-9]\n") == (
        0, b"a[1-5]\n", b"WARNING: empty left operand for set operation\n")
    ok(cluset("-f", "a[1-5]", "-i", "-", stdin="a[4-9]\n"), b"a[4-5]\n")


def test_stdin_empty_operand_is_not_applied(cluset):
    # an operation reading nothing from stdin leaves the set alone
    ok(cluset("-f", "a[1-3]", "-i", "-"), b"a[1-3]\n")


def test_big_stdin(cluset):
    names = "\n".join("rack%dnode%d" % (idx % 7, idx) for idx in range(20000))
    result = cluset("-c", stdin=names + "\n")
    ok(result, b"20000\n")
    evens = "\n".join("n%d" % idx for idx in range(0, 50000, 2))
    result = cluset("-f", stdin=evens + "\n")
    assert result.rc == 0 and result.err == b""
    assert result.out.startswith(b"n[0,2,4,") and result.out.count(b",") == 24999
    ok(cluset("-f", "--autostep=auto", stdin=evens + "\n"), b"n[0-49998/2]\n")


# operations

def test_operations_in_argument_order(cluset):
    ok(cluset("-f", "n[1-10]", "-x", "n[2-3]", "-i", "n[1-8]",
              "-X", "n[7-12]"), b"n[1,4-6,9-12]\n")


def test_operation_options_before_arguments(cluset):
    # -x/-i/-X given before the first set apply to the stdin set
    ok(cluset("-f", "-x", "n2", stdin="n[1-3]\n"), b"n[1,3]\n")


def test_operation_on_empty_set_warns(cluset):
    result = cluset("-f", "-i", "n1")
    assert result == (0, b"\n",
                      b"WARNING: empty left operand for set operation\n")
    ok(cluset("-q", "-f", "-X", "n1"), b"n1\n")


def test_operation_missing_operand(cluset):
    assert cluset("-f", "n1", "-x") == (1, b"",
                                        b"ERROR: pop from empty list\n")


# output shaping

@pytest.mark.parametrize("args,out", [
    (["-e", "-O", "%s.ib", "n[1-2]"], b"n1.ib n2.ib\n"),
    (["-f", "-O", "%s-ipmi", "n[1-3]", "m1"], b"m1-ipmi,n[1-3]-ipmi\n"),
    (["-c", "-O", "total=%s", "n[1-3]"], b"total=3\n"),
    (["-e", "-S", "\\n", "n[1-3]"], b"n1\nn2\nn3\n"),
    (["-e", "-S", "\\t|", "n[1-2]"], b"n1\t|n2\n"),
    (["-f", "-I", "0,2-3", "n[10-19]"], b"n[10,12-13]\n"),
    (["-f", "-I", "-1", "n[10-19]"], b"\n"),
    (["-e", "-I", "40", "n[10-19]"], b"\n"),
    (["-f", "--split=3", "n[1-10]"], b"n[1-4]\nn[5-7]\nn[8-10]\n"),
    (["-c", "--split=4", "n[1-2]"], b"1\n1\n"),
    (["-f", "--split=0", "n[1-3]"], b"n[1-3]\n"),
    (["-f", "--contiguous", "n[1-3,5,7-8]", "m"], b"m\nn[1-3]\nn5\nn[7-8]\n"),
    (["-f", "--autostep=3", "n1", "n3", "n5", "n6"], b"n[1-5/2,6]\n"),
    (["-f", "--autostep=auto", "n[1-9/2]"], b"n[1-9/2]\n"),
    (["-f", "--autostep=auto", "n[1-9/2]", "n20"], b"n[1,3,5,7,9,20]\n"),
    (["-f", "--autostep=50%", "n[1-9/2]", "n20"], b"n[1-9/2,20]\n"),
    (["-f", "--axis=1", "a[1-2]b[1-2]"], b"a[1-2]b1,a[1-2]b2\n"),
    (["-f", "--axis=-1", "a[1-2]b[1-2]"], b"a1b[1-2],a2b[1-2]\n"),
    (["--index", "n13", "n[10-19]"], b"3\n"),
    (["--index", "n13", "-O", "#%s", "n[10-19]"], b"#3\n"),
])
def test_output_shaping(cluset, args, out):
    ok(cluset(*args), out)


def test_pick_keeps_that_many_nodes(cluset):
    result = cluset("-e", "--pick=3", "n[1-100]")
    assert result.rc == 0 and result.err == b""
    picked = result.out.split()
    assert len(set(picked)) == 3
    assert all(name.startswith(b"n") and 1 <= int(name[1:]) <= 100
               for name in picked)
    ok(cluset("-c", "--pick=50", "n[1-3]"), b"3\n")


@pytest.mark.parametrize("separator", ["'", "\\", "\\x"])
def test_invalid_separator(cluset, separator):
    result = cluset("-e", "-S", separator, "n1")
    assert result == (1, b"", b"ERROR: invalid separator\n")


# range sets

@pytest.mark.parametrize("args,out", [
    (["-R", "-f", "3", "1-2", "5"], b"1-3,5\n"),
    (["-R", "-e", "1-3,10"], b"1 2 3 10\n"),
    (["-R", "-c", "1-100/2"], b"50\n"),
    (["-R", "-f", "1-4", "-x", "2"], b"1,3-4\n"),
    (["-R", "-e", "-I", "1-2", "0-9"], b"1 2\n"),
    (["-R", "-f", "--contiguous", "1-3,5"], b"1-3\n5\n"),
    (["-R", "--index", "05", "01-10"], b"4\n"),
])
def test_rangeset_mode(cluset, args, out):
    ok(cluset(*args), out)




# errors

@pytest.mark.parametrize("arg,message", [
    ("n[1-", b'cluset: Parse error: missing bracket: "n[1-"'),
    ("n]", b'cluset: Parse error: illegal closing bracket: "n]"'),
    ("n[3-1]", b'cluset: Parse error: bad range: "invalid values in range : '
               b'"3-1""'),
])
def test_parse_errors(cluset, arg, message):
    assert cluset("-f", arg) == (1, b"", message + b"\n")


def test_rangeset_parse_error(cluset):
    assert cluset("-R", "-f", "1-x") == (
        1, b"", b'cluset: Parse error: cannot convert string to integer : '
                b'"1-x"\n')


@pytest.mark.parametrize("args,message", [
    ([], b"No command specified."),
    (["-c", "-f", "n1"], b"Multiple commands not allowed."),
    (["--index", "n1", "-e", "n1"], b"Multiple commands not allowed."),
    (["-R", "-r", "1"], b"-a/-r only supported in NodeSet mode"),
    (["-R", "-a", "-c"], b"-a/-r only supported in NodeSet mode"),
    (["-f", "--split=2", "--contiguous", "n1"],
     b"incompatible splitting options (split, contiguous)"),
    (["-e", "--axis=1", "n1"],
     b"--axis option is only supported when folding nodeset"),
    (["-R", "-f", "--axis=1", "1"],
     b"--axis option is only supported when folding nodeset"),
    (["--index", "n1", "--pick=1", "n1"],
     b"--index cannot be combined with --pick"),
    (["--bogus"], b"no such option: --bogus"),
    (["-f", "--autostep=x", "n1"],
     b"option --autostep: invalid value: 'x', should be node count, node "
     b"percentage or 'auto'"),
    (["-f", "--split=two", "n1"],
     b"option --split: invalid integer value: 'two'"),
    (["-s", "-c", "n1"], b"option -s: invalid value: '-c'"),
])
def test_usage_errors(cluset, args, message):
    usage_error(cluset(*args), b"cluset", message)


def test_usage_error_names_the_tool(tmp_path):
    usage_error(CliTool("nodeset", tmp_path)(), b"nodeset",
                b"No command specified.")


@pytest.mark.parametrize("args,message", [
    (["--index", "n42", "n[1-9]"], b"ERROR: 'n42' is not in nodeset"),
    (["--index", "n[1-2]", "n[1-9]"],
     b"ERROR: index() argument must be a single node"),
    (["-R", "--index", "42", "1-9"], b"ERROR: 42 is not in RangeSet"),
    (["-f", "-O", "x", "n1"],
     b"cluset: not all arguments converted during string formatting"),
    (["-c", "-O", "%s%s", "n1"],
     b"cluset: not enough arguments for format string"),
])
def test_runtime_errors(cluset, args, message):
    assert cluset(*args) == (1, b"", message + b"\n")


def test_version(cluset):
    ok(cluset("--version"), b"cluset 1.10.1\n")


def test_help_lists_every_option(cluset):
    result = cluset("--help")
    assert result.rc == 0 and result.err == b""
    assert result.out.startswith(USAGE + b"Options:\n")
    for flag in (b"--count", b"--expand", b"--fold", b"--list", b"--list-all",
                 b"--regroup", b"--index=NODE", b"--list-sources",
                 b"--groupsources", b"--exclude", b"--intersection", b"--xor",
                 b"--all", b"--autostep", b"--rangeset", b"--groupbase",
                 b"--separator", b"--output-format=FORMAT", b"--slice",
                 b"--split", b"--contiguous", b"--axis=RANGESET",
                 b"--pick=N", b"--groupsconf=FILE", b"--groupsource"):
        assert flag in result.out
    assert b"--completion" not in result.out
    for title in (b"Commands:", b"Operations:", b"Options:"):
        assert b"\n  " + title + b"\n" in result.out


def test_broken_pipe_is_quiet(cluset):
    # a reader that goes away: exit 1, nothing on stderr
    proc = subprocess.Popen(cluset.argv() + ["-e", "n[1-400000]"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=cluset.env({}))
    proc.stdout.read(10)
    proc.stdout.close()
    err = proc.stderr.read()
    proc.stderr.close()
    assert proc.wait(timeout=60) == 1
    assert err == b""


# node groups

GROUPS_CONF = """\
[Main]
default: local
confdir:
autodir: {cfgdir}/groups.d

[local]
map: sed -n 's/^$GROUP: *//p' {cfgdir}/local.txt
all: echo n[1-12],login[1-2]
list: sed -n 's/^\\([a-z]*\\):.*/\\1/p' {cfgdir}/local.txt

[nolist]
map: echo z[1-3]

[failing]
map: exit 3
list: echo g1 g2
"""

LOCAL_TXT = """\
compute: n[1-8]
gpu: n[7-10]
login: login[1-2]
"""

ROLES_YAML = """\
roles:
  adm: 'a[1-2]'
  io: 'a[3-4]'
"""


@pytest.fixture
def groups(cluset):
    cluset.write_config("groups.conf",
                        GROUPS_CONF.format(cfgdir=cluset.cfgdir))
    cluset.write_config("local.txt", LOCAL_TXT)
    cluset.write_config("groups.d/roles.yaml", ROLES_YAML)
    return cluset


@pytest.mark.parametrize("args,out", [
    (["-f", "@gpu"], b"n[7-10]\n"),
    (["-f", "@compute", "-x", "@gpu"], b"n[1-6]\n"),
    (["-c", "@compute,@login"], b"10\n"),
    (["-f", "@roles:adm", "@roles:io"], b"a[1-4]\n"),
    (["-s", "roles", "-f", "@io"], b"a[3-4]\n"),
    (["-f", "@roles:*"], b"a[1-4]\n"),
    (["-a", "-f"], b"login[1-2],n[1-12]\n"),
    (["-a", "-c", "-x", "@compute"], b"6\n"),
    (["-r", "n[1-10]"], b"@compute,n[9-10]\n"),
    (["-r", "n[7-10]"], b"@gpu\n"),
    (["-r", "n[1-8]", "login1"], b"@compute,login1\n"),
    (["-r", "-s", "roles", "a[1-4]"], b"@roles:adm,@roles:io\n"),
    (["-r", "-G", "-s", "roles", "a[1-4]"], b"@adm,@io\n"),
    (["-l"], b"@compute\n@gpu\n@login\n"),
    (["-ll"], b"@compute n[1-8]\n@gpu n[7-10]\n@login login[1-2]\n"),
    (["-lll"], b"@compute n[1-8] 8\n@gpu n[7-10] 4\n@login login[1-2] 2\n"),
    (["-l", "n8"], b"@compute\n@gpu\n"),
    (["-ll", "n[6-9]"], b"@compute n[6-8]\n@gpu n[7-9]\n"),
    (["-lll", "n[6-9]"], b"@compute n[6-8] 3/8\n@gpu n[7-9] 3/4\n"),
    (["-l", "-s", "roles"], b"@roles:adm\n@roles:io\n"),
    (["-l", "-G", "-s", "roles"], b"@adm\n@io\n"),
    (["-ll", "-s", "roles"], b"@roles:adm a[1-2]\n@roles:io a[3-4]\n"),
    (["--list-sources"], b"local (default)\nroles\nnolist\nfailing\n"),
    (["--groupsources", "-q"], b"local\nroles\nnolist\nfailing\n"),
    (["-s", "roles", "--list-sources"],
     b"roles (default)\nlocal\nnolist\nfailing\n"),
    (["--completion"],
     b"@local:\n@roles:\n@nolist:\n@failing:\n@compute\n@gpu\n@login\n"),
    (["--completion", "@login"],
     b"@local:\n@roles:\n@nolist:\n@failing:\n@compute\n@gpu\n@login\n"
     b"login1 login2\n"),
    (["--completion", "-s", "roles"], b"@roles:adm\n@roles:io\n"),
])
def test_groups(groups, args, out):
    ok(groups(*args), out)


def test_list_all_sources_warns_on_missing_list_upcall(groups):
    result = groups("-L")
    assert result == (0, b"@compute\n@gpu\n@login\n@roles:adm\n@roles:io\n"
                         b"@failing:g1\n@failing:g2\n",
                      b"Warning: No list upcall defined for group source "
                      b"nolist\n")


@pytest.mark.parametrize("args,message", [
    (["-f", "@nosuch:x"], b'cluset: Unknown group source: "nosuch"'),
    (["-s", "nosuch", "-f", "n1"], b'cluset: Unknown group source: "nosuch"'),
    (["-l", "-s", "nolist"],
     b'cluset: No list upcall defined for group source "nolist"'),
    (["-a", "-s", "nolist", "-f"],
     b"cluset: External error: Not enough working methods (all or map + "
     b"list) to get all nodes"),
])
def test_group_errors(groups, args, message):
    assert groups(*args) == (1, b"", message + b"\n")


def test_failing_upcall(groups):
    result = groups("-f", "@failing:g1")
    assert result.rc == 1 and result.out == b""
    assert result.err == b'cluset: Parse error: exit 3: "@failing:g1"\n'


def test_groupsconf_option(cluset, tmp_path):
    path = tmp_path / "other.conf"
    path.write_text(textwrap.dedent("""\
        [Main]
        default: mine
        [mine]
        map: echo x[1-3]
        list: echo grp
        """))
    ok(cluset("--groupsconf", str(path), "-f", "@grp"), b"x[1-3]\n")
    ok(cluset("--groupsconf", str(path), "-ll"), b"@grp x[1-3]\n")


def test_without_group_configuration(cluset):
    missing = "/nonexistent/groups.conf"
    for args in (["-f", "@g"], ["-l"]):
        assert cluset("--groupsconf", missing, *args) == (
            1, b"", b'cluset: Unknown group source: "<default>"\n')
    ok(cluset("--groupsconf", missing, "--list-sources"), b"")


def test_rangeset_mode_ignores_group_source(groups):
    result = groups("-R", "-s", "roles", "-f", "1-2")
    assert result == (0, b"1-2\n",
                      b'WARNING: option group source "roles" ignored\n')
    ok(groups("-R", "-s", "roles", "-q", "-f", "1-2"), b"1-2\n")
    # the source must exist all the same
    assert groups("-R", "-s", "x", "-q", "-f", "1-2") == (
        1, b"", b'cluset: Unknown group source: "x"\n')
