"""clush end to end: the command run as a user runs it, in a subprocess.

Commands run through the exec worker (``-R exec``) on made-up node names, or
through ssh on the test sshd (tests/_sshd.py).  Configuration files live in
a temporary directory named by CLUSTERSHELL_CFGDIR, and HOME points to a
temporary directory too, so that nothing of the machine's or the user's
configuration is read.  The expected bytes are those ClusterShell 1.10.1's
clush prints for the same run (established by running it side by side);
where ClusterShell's order of lines is not deterministic (nodes finishing
in any order), lines are compared sorted.
"""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

#: what the console script does (prog name "clush" in messages)
LAUNCHER = "import sys\nfrom clusterpy.CLI.Clush import main\nsys.exit(main())\n"

#: [Main] of the test clush.conf, before the test's own keys
MAIN_KEYS = (("fanout", "64"), ("connect_timeout", "10"), ("node_count", "yes"),
             ("maxrc", "no"), ("fd_max", "8192"))

MODES = """
[mode:quiet]
maxrc: yes
command_prefix: echo prefixed
"""

GROUPS_CONF = """\
[Main]
default: local

[local]
map: sed -n 's/^$GROUP: *//p' {dir}/groups.txt
all: sed -n 's/^all: *//p' {dir}/groups.txt
list: sed -n 's/^\\([a-z]*\\):.*/\\1/p' {dir}/groups.txt

[other]
map: echo o[1-2]
list: echo og
"""

GROUPS = "web: n[1-3]\ndb: n[4-5]\nall: n[1-6]\n"


class Clush:
    """Runs clush in a private environment (see the module docs)."""

    def __init__(self, base, clush_conf_extra=""):
        self.base = str(base)
        self.cfgdir = os.path.join(self.base, "cfg")
        self.home = os.path.join(self.base, "home")
        self.cwd = os.path.join(self.base, "cwd")
        for path in (self.cfgdir, self.home, self.cwd):
            os.makedirs(path)
        self.write_conf(clush_conf_extra)
        self.write("groups.conf", GROUPS_CONF.format(dir=self.cfgdir))
        self.write("groups.txt", GROUPS)
        self.script = os.path.join(self.base, "clush")
        with open(self.script, "w") as fh:
            fh.write(LAUNCHER)

    def write(self, name, text):
        path = os.path.join(self.cfgdir, name)
        with open(path, "w") as fh:
            fh.write(text)
        return path

    def write_conf(self, extra=""):
        """clush.conf: MAIN_KEYS, overridden or completed by `extra` (KEY:
        VALUE lines), and MODES."""
        keys = dict(MAIN_KEYS)
        for line in extra.splitlines():
            key, value = line.split(":", 1)
            keys[key.strip()] = value.strip()
        main = "".join("%s: %s\n" % item for item in keys.items())
        self.write("clush.conf", "[Main]\n" + main + MODES)

    def env(self, **extra):
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": self.home,
               "XDG_CONFIG_HOME": os.path.join(self.home, ".config"),
               "CLUSTERSHELL_CFGDIR": self.cfgdir, "PYTHONPATH": ROOT,
               "LANG": "C.UTF-8", "TERM": "dumb"}
        env.update(extra)
        return env

    def argv(self, args):
        return [sys.executable, self.script] + list(args)

    def run(self, *args, stdin=None, timeout=60, env=None):
        """(stdout, stderr, exit code) of clush ARGS (stdin: bytes, or
        /dev/null when None)."""
        proc = subprocess.run(self.argv(args), input=stdin,
                              stdin=subprocess.DEVNULL if stdin is None else None,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              cwd=self.cwd, env=self.env(**(env or {})), timeout=timeout)
        return proc.stdout, proc.stderr, proc.returncode

    def popen(self, *args, **kwargs):
        return subprocess.Popen(self.argv(args), cwd=self.cwd, env=self.env(),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kwargs)


def sorted_lines(data):
    return sorted(data.splitlines(True))


@pytest.fixture
def clush(tmp_path):
    return Clush(tmp_path)


def X(*args):
    """-R exec args."""
    return ("-R", "exec") + args


# --- output shapes -------------------------------------------------------

@pytest.mark.parametrize("args, out", [
    (X("-w", "n1", "echo", "ok"), b"n1: ok\n"),
    (X("-w", "n1", "-N", "echo", "ok", "ok"), b"ok ok\n"),
    (X("-w", "n1", "--nostdin", "cat"), b""),
    (X("-w", "n[1-5]", "-b", "echo hi"), b"---------------\nn[1-5] (5)\n---------------\nhi\n"),
    (X("-w", "n[1-3]", "-L", "echo a; echo b%n"),
     b"n1: a\nn1: b0\nn2: a\nn2: b1\nn3: a\nn3: b2\n"),
    (X("-w", "n[1-3]", "-bL", "echo a; echo b%n"), b"n[1-3]: a\nn1: b0\nn2: b1\nn3: b2\n"),
    (X("-w", "n[1-3]", "-BL", "echo a; echo err >&2; echo b%n"),
     b"n[1-3]: a\nn[1-3]: err\nn1: b0\nn2: b1\nn3: b2\n"),
    (X("-w", "n[1-3]", "-bN", "echo a%n"), b"a0\na1\na2\n"),
    (X("-w", "n[1-3]", "--diff", "echo a; echo b%n"),
     (b"--- n1\n+++ n2\n@@ -1,2 +1,2 @@\n a\n-b0\n+b1\n"
      b"--- n1\n+++ n3\n@@ -1,2 +1,2 @@\n a\n-b0\n+b2\n")),
    (X("-w", "n[1-3]", "-b", "-O", "node_count=no", "echo ok"),
     b"---------------\nn[1-3]\n---------------\nok\n"),
    (X("-w", "foo[1-2]-[1-2]", "--axis=1", "-b", "echo test"),
     b"---------------\nfoo[1-2]-1,foo[1-2]-2 (4)\n---------------\ntest\n"),
    (X("-w", "n1", "--color=always", "echo", "ok"), b"\x1b[94mn1: \x1b[0mok\n"),
    (X("-w", "n1", "-O", "color=always", "echo", "ok"), b"\x1b[94mn1: \x1b[0mok\n"),
    (X("-w", "n1", "-vN", "echo", "ok"), b"ok\n"),
])
def test_output(clush, args, out):
    assert clush.run(*args) == (out, b"", 0)


def test_direct_output_of_many_nodes(clush):
    out, err, rc = clush.run(*X("-w", "n[1-20]", "echo line1; echo line2"))
    expected = b"".join(b"n%d: line%d\n" % (i, j) for i in range(1, 21) for j in (1, 2))
    assert (sorted_lines(out), err, rc) == (sorted_lines(expected), b"", 0)
    # each node's own lines keep their order
    assert [line for line in out.splitlines() if line.startswith(b"n7:")] == \
        [b"n7: line1", b"n7: line2"]


def test_gathered_blocks_sorted_by_size_then_first_node(clush):
    script = "case %h in *[135]) echo odd;; *) echo even; echo more;; esac"
    out, err, rc = clush.run(*X("-w", "cs[01-05]", "-b", script))
    assert (out, err, rc) == (
        (b"---------------\ncs[01,03,05] (3)\n---------------\nodd\n"
         b"---------------\ncs[02,04] (2)\n---------------\neven\nmore\n"), b"", 0)


def test_gathered_blocks_ordered_by_return_code_first(clush):
    script = "case %h in *[13]) echo odd;; *) echo even; echo more;; esac; exit %n"
    out, err, rc = clush.run(*X("-w", "cs[01-04]", "-b", script))
    assert out == (b"---------------\ncs01\n---------------\nodd\n"
                   b"---------------\ncs02\n---------------\neven\nmore\n"
                   b"---------------\ncs03\n---------------\nodd\n"
                   b"---------------\ncs04\n---------------\neven\nmore\n")
    assert sorted_lines(err) == [b"clush: cs02: exited with exit code 1\n",
                                 b"clush: cs03: exited with exit code 2\n",
                                 b"clush: cs04: exited with exit code 3\n"]
    assert rc == 0


def test_gathered_stderr_is_printed_live_with_prefix(clush):
    out, err, rc = clush.run(*X("-w", "n[1-2]", "-b", "--color=always",
                                "echo ok; echo err >&2"))
    assert out == b"\x1b[94m---------------\nn[1-2] (2)\n---------------\x1b[0m\nok\n"
    assert sorted_lines(err) == [b"\x1b[91mn1: \x1b[0merr\n", b"\x1b[91mn2: \x1b[0merr\n"]
    assert rc == 0


def test_verbose_gathering_shows_lines_live_then_gathered(clush):
    out, err, rc = clush.run(*X("-w", "n[1-3]", "-vb", "echo hi"))
    live, gathered = out[:-len(b"---------------\nn[1-3] (3)\n---------------\nhi\n")], \
        out[-len(b"---------------\nn[1-3] (3)\n---------------\nhi\n"):]
    assert sorted_lines(live) == [b"n1: hi\n", b"n2: hi\n", b"n3: hi\n"]
    assert gathered == b"---------------\nn[1-3] (3)\n---------------\nhi\n"
    assert (err, rc) == (b"", 0)


def test_big_gathering(clush):
    out, err, rc = clush.run(*X("-w", "n[1-300]", "-b", "seq 1 50; [ %n -lt 100 ] || echo x"))
    numbers = b"".join(b"%d\n" % i for i in range(1, 51))
    assert out == (b"---------------\nn[101-300] (200)\n---------------\n" + numbers + b"x\n"
                   b"---------------\nn[1-100] (100)\n---------------\n" + numbers)
    # nothing but the progress line, if the run took more than 1.33 s
    assert (b"\n" in err, rc) == (False, 0)


# --- exit codes and their messages ----------------------------------------

@pytest.mark.parametrize("args, out, err, rc", [
    (X("-w", "n[1-3]", "-B", "echo out; echo err >&2; exit 2"),
     b"---------------\nn[1-3] (3)\n---------------\nout\nerr\n",
     b"clush: n[1-3] (3): exited with exit code 2\n", 0),
    (X("-w", "n[1-3]", "-b", "-q", "echo out; exit 2"),
     b"---------------\nn[1-3]\n---------------\nout\n",
     b"clush: n[1-3]: exited with exit code 2\n", 0),
    (X("-w", "n[1-3]", "-bS", "echo out; exit 2"),
     b"---------------\nn[1-3] (3)\n---------------\nout\n",
     b"clush: n[1-3] (3): exited with exit code 2\n", 2),
    (X("-w", "n[1-3]", "-bqS", "echo out; exit 2"),
     b"---------------\nn[1-3]\n---------------\nout\n", b"", 2),
    (X("-w", "n1", "-S", "exit 255"), b"", b"clush: n1: exited with exit code 255\n", 255),
    (X("-w", "n1", "--maxrc", "/bin/false"), b"", b"clush: n1: exited with exit code 1\n", 1),
    (X("-w", "n1", "-O", "maxrc=yes", "/bin/false"), b"",
     b"clush: n1: exited with exit code 1\n", 1),
    (X("-w", "n1", "--maxrc", "-O", "maxrc=no", "/bin/false"), b"",
     b"clush: n1: exited with exit code 1\n", 0),
    (X("-w", "n1", "-Sq", "exit 7"), b"", b"", 7),
    (X("-w", "n1", "-m", "quiet", "exit 3"), b"n1: prefixed exit 3\n", b"", 0),
    (X("-w", "n1", "-m", "quiet", "false"), b"n1: prefixed false\n", b"", 0),
])
def test_exit_codes(clush, args, out, err, rc):
    assert clush.run(*args) == (out, err, rc)


def test_maxrc_is_the_largest_code(clush):
    out, err, rc = clush.run(*X("-w", "n[1-5]", "-S", "exit %n"))
    assert sorted_lines(err) == [b"clush: n%d: exited with exit code %d\n" % (i + 1, i)
                                 for i in range(1, 5)]
    assert (out, rc) == (b"", 4)


def test_killed_command_counts_128_plus_signal(clush):
    assert clush.run(*X("-w", "n1", "-S", "kill -TERM $$")) == \
        (b"", b"clush: n1: exited with exit code 143\n", 143)


@pytest.mark.parametrize("args, out, err, rc", [
    (X("-w", "n[1-3]", "-u", "1", "-b", "echo x; [ %n = 0 ] || sleep 5"),
     b"---------------\nn1\n---------------\nx\n", b"clush: n[2-3]: command timeout\n", 0),
    (X("-w", "n[1-3]", "-u", "1", "-bS", "echo x; [ %n = 0 ] || sleep 5"),
     b"---------------\nn1\n---------------\nx\n", b"clush: n[2-3]: command timeout\n", 255),
    (X("-w", "n[1-3]", "-u", "1", "-S", "[ %n = 0 ] || sleep 5"),
     b"", b"clush: n[2-3]: command timeout\n", 255),
    (X("-w", "n[1-3]", "-u", "1", "-qS", "[ %n = 0 ] || sleep 5"),
     b"", b"clush: n[2-3]: command timeout\n", 255),
    (X("-w", "n[1-2]", "-u", "1", "-L", "echo x; [ %n = 0 ] || sleep 5"),
     b"n1: x\n", b"clush: n2: command timeout\n", 0),
])
def test_command_timeout(clush, args, out, err, rc):
    assert clush.run(*args) == (out, err, rc)


def test_command_timeout_from_clush_conf(clush):
    clush.write_conf("command_timeout: 1\n")
    assert clush.run(*X("-w", "n[1-2]", "[ %n = 0 ] || sleep 5")) == \
        (b"", b"clush: n2: command timeout\n", 0)


# --- errors ------------------------------------------------------------------

USAGE = b"Usage: clush [options] command\n\n"


@pytest.mark.parametrize("args, err, rc", [
    (X("-w", "@nope", "-b", "echo hi"), USAGE + b"clush: error: No node to run on.\n", 2),
    (X("-w", "n[1-3]", "-x", "n[1-3]", "true"), USAGE + b"clush: error: No node to run on.\n", 2),
    (X("true"), USAGE + b"clush: error: No node to run on.\n", 2),
    (X("-w", "n1", "-s", "nosrc", "-g", "foo", "true"),
     b'clush: Unknown group source: "nosrc"\n', 1),
    (X("-w", "n[1-3", "true"), b'clush: Parse error: missing bracket: "n[1-3"\n', 1),
    (("-R", "foo", "-w", "n1", "true"), b"ERROR: Could not load worker 'foo'\n", 1),
    (X("-w", "n1", "-m", "foo", "true"), b'ERROR: invalid mode "foo" (available: quiet)\n', 1),
    (X("-w", "n1", "-O", "foo", "true"),
     b"ERROR: (Config Main.foo): invalid -O/--option value\n", 1),
    (X("-w", "n1", "-O", "color=bad", "true"),
     b"ERROR: (Config Main.color): choose from ['', 'never', 'always', 'auto']\n", 1),
    (X("-w", "n1", "-O", "fanout=many", "true"),
     b"ERROR: (Config Main.fanout): invalid literal for int() with base 10: 'many'\n", 1),
    (X("-w", "n1", "--hostfile", "/nonexist", "true"),
     b"ERROR: [Errno 2] No such file or directory: '/nonexist'\n", 1),
    (X("-w", "n1", "--bogus", "true"), USAGE + b"clush: error: no such option: --bogus\n", 2),
    (X("-w", "n1", "-f", "x", "true"),
     USAGE + b"clush: error: option -f: invalid integer value: 'x'\n", 2),
    (X("-w", "n1", "-c"),
     USAGE + b"clush: error: --[r]copy option requires at least one argument\n", 2),
    (X("-w", "n1", "--diff", "-L", "true"),
     USAGE + b"clush: error: option mismatch (diff not supported in line_mode)\n", 2),
    (X("-w", "n1", "--color=foo", "true"),
     USAGE + b"clush: error: option --color: invalid choice: 'foo' (choose from '', "
     b"'never', 'always', 'auto')\n", 2),
    (X("-w", "n1", "-c", "/nonexist"), b'ERROR: file "/nonexist" not found\n', 1),
    (X("-w", "n1", "--rcopy", "/etc/passwd", "--dest", "/nonexist"),
     b'ERROR: directory "/nonexist" not found\n', 1),
    (X("-w", "n1", "--rcopy", "/etc/passwd", "--dest", "/etc/passwd"),
     b'ERROR: destination "/etc/passwd" is not a directory\n', 1),
    (X("-w", "n1", "-w", "-x", "true"), USAGE + b"clush: error: option -w: invalid value: '-x'\n",
     2),
])
def test_errors(clush, args, err, rc):
    assert clush.run(*args) == (b"", err, rc)


def test_unreadable_clush_conf_directory(clush):
    clush.write_conf("confdir: %s\n" % os.path.join(clush.cfgdir, "groups.txt"))
    assert clush.run(*X("-w", "n1", "true")) == \
        (b"", b"ERROR: Defined confdir %s/groups.txt is not a directory\n"
         % clush.cfgdir.encode(), 1)


def test_version(clush):
    assert clush.run("--version") == (b"clush 1.10.1\n", b"", 0)


def test_python_m_names_the_module_file(clush):
    proc = subprocess.run([sys.executable, "-m", "clusterpy.CLI.Clush", "-R", "exec", "-w",
                           "n1", "-S", "exit 3"], stdin=subprocess.DEVNULL,
                          capture_output=True, env=clush.env(), cwd=clush.cwd, timeout=60)
    assert (proc.stdout, proc.stderr, proc.returncode) == \
        (b"", b"Clush.py: n1: exited with exit code 3\n", 3)


# --- node selection ---------------------------------------------------------------

@pytest.mark.parametrize("args, out", [
    (X("-g", "web", "-b", "echo hi"), b"---------------\nn[1-3] (3)\n---------------\nhi\n"),
    (X("-a", "-X", "db", "-b", "echo hi"),
     b"---------------\nn[1-3,6] (4)\n---------------\nhi\n"),
    (X("-w", "@web,@db", "-x", "n2", "-rb", "echo hi"),
     b"---------------\n@db,n[1,3] (4)\n---------------\nhi\n"),
    (X("-w", "@web", "-G", "-rb", "echo hi"), b"---------------\n@web (3)\n---------------\nhi\n"),
    (X("-s", "other", "-g", "og", "-b", "echo hi"),
     b"---------------\no[1-2] (2)\n---------------\nhi\n"),
    (X("-w", "@other:og", "-b", "echo hi"), b"---------------\no[1-2] (2)\n---------------\nhi\n"),
    (X("-w", "n[1-4]", "-x", "n[2-3]", "-w", "n9", "-b", "echo hi"),
     b"---------------\nn[1,4,9] (3)\n---------------\nhi\n"),
])
def test_node_selection(clush, args, out):
    assert clush.run(*args) == (out, b"", 0)


def test_groupsconf_option(clush):
    path = os.path.join(clush.base, "custom.conf")
    with open(path, "w") as fh:
        fh.write("[Main]\ndefault: custom\n[custom]\nmap: echo custom[7-9]\n")
    assert clush.run(*X("--groupsconf", path, "-w", "@foo", "-bL", "echo ok")) == \
        (b"custom[7-9]: ok\n", b"", 0)


def test_hostfile(clush):
    first = os.path.join(clush.base, "hosts1")
    second = os.path.join(clush.base, "hosts2")
    with open(first, "w") as fh:
        fh.write("n1 n2\n\nn3\n")
    with open(second, "w") as fh:
        fh.write("n[7-8]\n")
    assert clush.run(*X("--hostfile", first, "--machinefile", second, "-b", "echo hi")) == \
        (b"---------------\nn[1-3,7-8] (5)\n---------------\nhi\n", b"", 0)


def test_pick(clush):
    out, err, rc = clush.run(*X("-w", "n[1-10]", "--pick", "3", "echo hi"))
    names = {line.split(b":")[0] for line in out.splitlines()}
    assert len(names) == 3 and names <= {b"n%d" % i for i in range(1, 11)}
    assert (err, rc) == (b"", 0)


def test_pick_verbose_prints_picked_nodes(clush):
    out, err, rc = clush.run(*X("-w", "n1", "--pick", "1", "-v", "echo hi"))
    # more than the node set: nothing to pick, nothing said
    assert (out, err, rc) == (b"n1: hi\n", b"", 0)
    out, err, rc = clush.run(*X("-w", "n[1-2]", "--pick", "1", "-v", "echo hi"))
    first, rest = out.split(b"\n", 1)
    assert first in (b"\x1b[92mPicked random nodes: n1\x1b[0m",
                     b"\x1b[92mPicked random nodes: n2\x1b[0m")
    assert rest == first[-6:-4] + b": hi\n"


def test_warns_about_shell_globbing(clush):
    open(os.path.join(clush.cwd, "n1"), "w").close()
    assert clush.run(*X("-w", "n1", "echo", "ok")) == \
        (b"n1: ok\n", (b"Warning: using '-w n1' and local path 'n1' exists, was it "
                       b"expanded by the shell?\n"), 0)
    assert clush.run(*X("-w", "n[1-2]", "-x", "n1", "-q", "echo", "ok")) == (b"n2: ok\n", b"", 0)


# --- configuration -----------------------------------------------------------

def test_conf_option_and_confdir(clush):
    other = os.path.join(clush.base, "other.conf")
    with open(other, "w") as fh:
        fh.write("[Main]\nnode_count: no\n")
    args = X("-b", "-w", "foo[1-10]", "echo ok")
    assert clush.run(*args)[0] == b"---------------\nfoo[1-10] (10)\n---------------\nok\n"
    assert clush.run("--conf", other, *args)[0] == \
        b"---------------\nfoo[1-10]\n---------------\nok\n"
    confd = os.path.join(clush.cfgdir, "clush.conf.d")
    os.mkdir(confd)
    with open(os.path.join(confd, "modes.conf"), "w") as fh:
        fh.write("[mode:loud]\ncommand_prefix: echo LOUD\n")
    clush.write_conf("confdir: $CFGDIR/clush.conf.d\n")
    assert clush.run(*X("-w", "n1", "-m", "loud", "hi")) == (b"n1: LOUD hi\n", b"", 0)
    assert clush.run(*X("-w", "n1", "-m", "nope", "hi")) == \
        (b"", b'ERROR: invalid mode "nope" (available: quiet loud)\n', 1)


def test_verbose_run_mode_messages(clush):
    assert clush.run(*X("-w", "n1", "-v", "-m", "quiet", "exit 3")) == \
        ((b"[quiet] run mode activated\n[quiet] command prefix: ['echo', 'prefixed']\n"
          b"n1: prefixed exit 3\n"), b"", 0)
    assert clush.run(*X("-w", "n1", "-O", "command_prefix=echo", "-v", "foobar")) == \
        (b"[None] command prefix: ['echo']\nn1: foobar\n", b"", 0)


def test_fanout_and_verbosity_from_clush_conf(clush):
    clush.write_conf("verbosity: 0\nfanout: 1\n")
    # one at a time: the second node starts after the first has ended
    script = "date +%%s.%%N; sleep 0.3; date +%%s.%%N"
    out, err, rc = clush.run(*X("-w", "n[1-2]", "-b", "-O", "node_count=yes", script))
    # verbosity 0: no node count in headers
    assert out.count(b"---------------\nn1\n") == 1 and b"(" not in out
    times = [float(line) for line in out.splitlines() if line[:1].isdigit()]
    first, second = sorted((times[0:2], times[2:4]))
    assert second[0] >= first[1]
    assert (err, rc) == (b"", 0)


def test_debug_output(clush):
    out, err, rc = clush.run(*X("-w", "n[1-2]", "-b", "-d", "-O", "fd_max=%d" % 4096,
                                "echo hi"))
    lines = out.splitlines()
    assert b"User interaction: False" in lines
    assert b"Create STDIN worker: True" in lines
    assert b'clush: nodeset=n[1-2] fanout=64 [timeout conn=10.0 cmd=0.0] command="echo hi"' \
        in lines
    assert lines.count(b"EXECCLIENT: echo hi") == 2
    assert sorted(line for line in lines if line.endswith(b"'hi'")) == \
        [b"n1: b'hi'", b"n2: b'hi'"]
    assert lines[-4:] == [b"---------------", b"n[1-2] (2)", b"---------------", b"hi"]
    assert err.startswith(b"DEBUG:root:clush: STARTING DEBUG\n")
    assert rc == 0


# --- stdin ----------------------------------------------------------------------

def test_stdin_goes_to_every_node(clush):
    assert clush.run(*X("-w", "n[1-3]", "-b", "cat"), stdin=b"a\nb") == \
        (b"---------------\nn[1-3] (3)\n---------------\na\nb\n", b"", 0)
    assert clush.run(*X("-w", "n[1-3]", "-n", "-b", "cat"), stdin=b"a\nb") == (b"", b"", 0)
    assert clush.run(*X("-w", "n1", "--nostdin", "cat"), stdin=b"dummy") == (b"", b"", 0)


def test_binary_and_big_stdin(clush):
    data = os.urandom(300000)
    out, err, rc = clush.run(*X("-w", "n[1-4]", "-b", "md5sum"), stdin=data)
    import hashlib
    digest = hashlib.md5(data).hexdigest().encode()
    assert (out, err, rc) == (b"---------------\nn[1-4] (4)\n---------------\n" + digest
                              + b"  -\n", b"", 0)


def test_stdin_from_a_fifo(clush):
    fifo = os.path.join(clush.base, "fifo")
    os.mkfifo(fifo)
    with open(fifo, "r+b", 0) as writer:  # open both ends without blocking
        with open(fifo, "rb", 0) as reader:
            proc = subprocess.Popen(clush.argv(X("-w", "n1", "-v", "cat")), stdin=reader,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    cwd=clush.cwd, env=clush.env())
        writer.write(b"0123456789")
    out, err = proc.communicate(timeout=60)
    assert (out, err, proc.returncode) == (b"n1: 0123456789\n", b"", 0)


# --- progress --------------------------------------------------------------------

def test_progress_line(clush):
    out, err, rc = clush.run(*X("-w", "n[1-3]", "-b", "sleep 2"))
    assert (out, err, rc) == (b"", b"clush: 0/3\r           \rclush: 3/3\r", 0)
    out, err, rc = clush.run(*X("-w", "n[1-3]", "-P", "sleep 2; echo x"))
    assert sorted_lines(out) == [b"n1: x\n", b"n2: x\n", b"n3: x\n"]
    assert (err, rc) == (b"clush: 0/3\r           \r", 0)
    out, err, rc = clush.run(*X("-w", "n[1-3]", "-P", "-q", "sleep 2"))
    assert (out, err, rc) == (b"", b"", 0)


def test_progress_line_with_write_rate(clush):
    out, err, rc = clush.run(*X("-w", "n1", "-P", "sleep 2; cat"), stdin=b"A" * 8)
    assert out == b"n1: AAAAAAAA\n"
    assert err.startswith(b"clush: 0/1 write: ") and b" B/s\r" in err
    assert err.endswith(b"\r") and rc == 0


# --- files -------------------------------------------------------------------------

def test_outdir_errdir(clush):
    outdir = os.path.join(clush.base, "out")
    errdir = os.path.join(clush.base, "err")
    out, err, _ = clush.run(*X("-w", "n[1-2]", "--outdir", outdir, "--errdir", errdir,
                               "echo o%n; echo e%n >&2"))
    assert sorted_lines(out) == [b"n1: o0\n", b"n2: o1\n"]
    assert sorted_lines(err) == [b"n1: e0\n", b"n2: e1\n"]
    for folder, text in ((outdir, "o"), (errdir, "e")):
        assert sorted(os.listdir(folder)) == ["n1", "n2"]
        for rank, node in enumerate(("n1", "n2")):
            with open(os.path.join(folder, node)) as fh:
                assert fh.read() == "%s%d\n" % (text, rank)


def test_copy_with_the_exec_worker(clush):
    source = os.path.join(clush.base, "src.txt")
    with open(source, "w") as fh:
        fh.write("content\n")
    dest = os.path.join(clush.base, "dst")
    os.mkdir(dest)
    assert clush.run(*X("-w", "n[1-2]", "-c", source, "--dest", dest + "/%h.txt")) == \
        (b"", b"", 0)
    assert sorted(os.listdir(dest)) == ["n1.txt", "n2.txt"]
    # (one node: two local "nodes" would write the same file at once)
    assert clush.run(*X("-w", "n1", "-v", "-c", source, "--dest", dest + "/")) == \
        (("`%s' -> n1:`%s/'\n" % (source, dest)).encode(), b"", 0)
    with open(os.path.join(dest, "src.txt")) as fh:
        assert fh.read() == "content\n"


def test_copy_timeout(clush):
    source = os.path.join(clush.base, "src.txt")
    with open(source, "w") as fh:
        fh.write("x")
    fake_cp = os.path.join(clush.base, "bin")
    os.mkdir(fake_cp)
    with open(os.path.join(fake_cp, "cp"), "w") as fh:
        fh.write("#!/bin/sh\nsleep 5\n")
    os.chmod(os.path.join(fake_cp, "cp"), 0o755)
    path = fake_cp + os.pathsep + os.environ.get("PATH", "")
    assert clush.run(*X("-w", "n1", "-u", "0.5", "-c", source), env={"PATH": path}) == \
        (b"", b"clush: n1: command timeout\n", 0)


# --- --json ---------------------------------------------------------------------

def json_lines(out):
    objects = [json.loads(line) for line in out.decode().splitlines()]
    for obj in objects:
        assert isinstance(obj.pop("start"), float) <= isinstance(obj.pop("end"), float)
    return objects


def test_json_per_node(clush):
    t0 = time.time()
    out, err, rc = clush.run(*X("-w", "n[1-3]", "--json",
                                "echo out%n; echo é; echo err >&2; exit %n"))
    objects = [json.loads(line) for line in out.decode().splitlines()]
    for obj in objects:
        assert t0 <= obj["start"] <= obj["end"] <= time.time()
    assert sorted(json_lines(out), key=lambda obj: obj["node"]) == [
        {"node": "n%d" % (i + 1), "rc": i, "timed_out": False,
         "stdout": ["out%d" % i, "é"], "stderr": ["err"]} for i in range(3)]
    assert list(objects[0]) == ["node", "rc", "timed_out", "start", "end", "stdout", "stderr"]
    assert sorted_lines(err) == [b"clush: n2: exited with exit code 1\n",
                                 b"clush: n3: exited with exit code 2\n"]
    assert rc == 0


def test_json_gathered(clush):
    out, err, rc = clush.run(*X("-w", "n[1-5]", "--json", "-b", "-S",
                                "echo out; [ %n -lt 2 ] || exit 3"))
    objects = [json.loads(line) for line in out.decode().splitlines()]
    assert list(objects[0]) == ["nodes", "count", "rc", "timed_out", "start", "end", "stdout",
                                "stderr"]
    assert json_lines(out) == [
        {"nodes": "n[1-2]", "count": 2, "rc": 0, "timed_out": False, "stdout": ["out"],
         "stderr": []},
        {"nodes": "n[3-5]", "count": 3, "rc": 3, "timed_out": False, "stdout": ["out"],
         "stderr": []}]
    assert (err, rc) == (b"clush: n[3-5] (3): exited with exit code 3\n", 3)


def test_json_timeouts_and_merged_stderr(clush):
    out, err, rc = clush.run(*X("-w", "n[1-3]", "--json", "-B", "-u", "1",
                                "echo x; echo y >&2; [ %n = 0 ] || sleep 5"))
    assert json_lines(out) == [
        {"nodes": "n1", "count": 1, "rc": 0, "timed_out": False, "stdout": ["x", "y"],
         "stderr": []},
        {"nodes": "n[2-3]", "count": 2, "rc": None, "timed_out": True, "stdout": ["x", "y"],
         "stderr": []}]
    assert (err, rc) == (b"clush: n[2-3]: command timeout\n", 0)
    out, err, rc = clush.run(*X("-w", "n[1-2]", "--json", "-u", "1", "[ %n = 0 ] || sleep 5"))
    assert json_lines(out) == [
        {"node": "n1", "rc": 0, "timed_out": False, "stdout": [], "stderr": []},
        {"node": "n2", "rc": None, "timed_out": True, "stdout": [], "stderr": []}]
    assert (err, rc) == (b"clush: n2: command timeout\n", 0)


@pytest.mark.parametrize("extra, what", [
    (("-L",), b"-L"), (("--diff",), b"--diff"), (("--outdir", "x"), b"--outdir/--errdir"),
    (("-c", "/etc/passwd"), b"--copy/--rcopy")])
def test_json_option_mismatch(clush, extra, what):
    assert clush.run(*X("-w", "n1", "--json") + extra + ("true",)) == \
        (b"", USAGE + b"clush: error: option mismatch (--json not supported with "
         + what + b")\n", 2)


# --- --fail-fast ----------------------------------------------------------------

def test_fail_fast_stops_the_other_nodes(clush):
    marks = os.path.join(clush.base, "marks")
    os.mkdir(marks)
    script = "[ %h != n3 ] || exit 5; sleep 0.5; touch {}/%h".format(marks)
    out, err, rc = clush.run(*X("-w", "n[1-6]", "-f", "3", "-k", script))
    assert (out, rc) == (b"", 5)
    # n3 fails at once, n[1-2] still running, n[4-6] waiting (fanout 3)
    assert err == (b"clush: n3: exited with exit code 5\n"
                   b"clush: fail-fast: n3 exited with exit code 5, stopped n[1-2,4-6]\n")
    time.sleep(0.7)
    assert os.listdir(marks) == []


def test_fail_fast_gathered_shows_what_completed(clush):
    # n1 ends at once, n3 fails a little later, the others are stopped
    script = "echo hi; case %h in n1) ;; n3) sleep 0.5; exit 2;; *) sleep 5;; esac"
    out, err, rc = clush.run(*X("-w", "n[1-4]", "-b", "--fail-fast", script))
    assert out == (b"---------------\nn1\n---------------\nhi\n"
                   b"---------------\nn3\n---------------\nhi\n")
    assert err == (b"clush: fail-fast: n3 exited with exit code 2, stopped n[2,4]\n"
                   b"clush: n3: exited with exit code 2\n")
    assert rc == 2


def test_fail_fast_without_failure(clush):
    assert clush.run(*X("-w", "n[1-3]", "-b", "-k", "echo hi")) == \
        (b"---------------\nn[1-3] (3)\n---------------\nhi\n", b"", 0)


# --- --retry ----------------------------------------------------------------------

#: fails (exit 255) on n3 and n4 the first `n` times it runs there
FLAKY = ("echo hi; f={dir}/%h; case %h in n[34]) c=$(cat $f 2>/dev/null || echo 0); "
         "if [ $c -lt {n} ]; then echo $((c + 1)) > $f; echo fail >&2; exit 255; fi;; esac")


def test_retry_until_success(clush):
    script = FLAKY.format(dir=clush.base, n=2)
    out, err, rc = clush.run(*X("-w", "n[1-4]", "--retry", "2", "-b", "-v", "-S", script))
    live, gathered = out.split(b"---------------\n", 1)
    assert sorted_lines(live) == sorted_lines(b"n1: hi\nn2: hi\n" + b"n3: hi\nn4: hi\n" * 3)
    assert gathered == b"n[1-4] (4)\n---------------\nhi\n"
    assert sorted_lines(err) == sorted_lines(
        b"n3: fail\nn4: fail\n"
        b"clush: n[3-4]: exited with exit code 255, retrying (attempt 2/3)\n"
        b"n3: fail\nn4: fail\n"
        b"clush: n[3-4]: exited with exit code 255, retrying (attempt 3/3)\n")
    assert err.index(b"attempt 2/3") < err.index(b"attempt 3/3")
    assert rc == 0


def test_retry_gives_up(clush):
    script = FLAKY.format(dir=clush.base, n=5)
    out, err, rc = clush.run(*X("-w", "n[1-4]", "--retry", "1", "-bS", script))
    assert out == (b"---------------\nn[1-2] (2)\n---------------\nhi\n"
                   b"---------------\nn[3-4] (2)\n---------------\nhi\n")
    assert sorted_lines(err) == sorted_lines(b"n3: fail\nn4: fail\n" * 2 +
                                             b"clush: n[3-4] (2): exited with exit code 255\n")
    assert rc == 255


def test_retry_direct_and_json(clush):
    script = FLAKY.format(dir=clush.base, n=1)
    out, err, rc = clush.run(*X("-w", "n[3-4]", "--retry", "1", "-S", script))
    assert sorted_lines(out) == [b"n3: hi\n", b"n3: hi\n", b"n4: hi\n", b"n4: hi\n"]
    assert (sorted_lines(err), rc) == ([b"n3: fail\n", b"n4: fail\n"], 0)
    os.unlink(os.path.join(clush.base, "n3"))
    os.unlink(os.path.join(clush.base, "n4"))
    out, err, rc = clush.run(*X("-w", "n[3-4]", "--retry", "1", "--json", script))
    assert sorted(json_lines(out), key=lambda obj: obj["node"]) == [
        {"node": node, "rc": 0, "timed_out": False, "stdout": ["hi"], "stderr": []}
        for node in ("n3", "n4")]


def test_retry_feeds_stdin_again(clush):
    script = FLAKY.format(dir=clush.base, n=1).replace("echo hi", "cat")
    out, err, rc = clush.run(*X("-w", "n[3-4]", "--retry", "1", "-b", script), stdin=b"data\n")
    assert out == b"---------------\nn[3-4] (2)\n---------------\ndata\n"
    assert (sorted_lines(err), rc) == ([b"n3: fail\n", b"n4: fail\n"], 0)


@pytest.mark.parametrize("args, err", [
    (("--retry", "-1"), b"clush: error: option --retry: invalid value: -1\n"),
    (("--retry", "x"), b"clush: error: option --retry: invalid integer value: 'x'\n"),
    (("--retry", "1", "-c", "/etc/passwd"),
     b"clush: error: option mismatch (--retry not supported with --copy/--rcopy)\n"),
    (("-k", "--rcopy", "/etc/passwd"),
     b"clush: error: option mismatch (--fail-fast not supported with --copy/--rcopy)\n"),
])
def test_addition_option_errors(clush, args, err):
    assert clush.run(*X("-w", "n1") + args) == (b"", USAGE + err, 2)


# --- signals (not on a terminal: ClusterShell's single Ctrl-C) ------------------

def wait_for_pids(path, count, timeout=20.0):
    """Wait until the file `path` lists `count` pids; return them."""
    deadline = time.monotonic() + timeout
    pids = []
    while len(pids) < count and time.monotonic() < deadline:
        time.sleep(0.02)
        try:
            with open(path) as fh:
                pids = [int(pid) for pid in fh.read().split()]
        except OSError:
            pass
    return pids


def wait_gone(pids, timeout=5.0):
    deadline = time.monotonic() + timeout
    left = set(pids)
    while left and time.monotonic() < deadline:
        for pid in list(left):
            try:
                with open("/proc/%d/stat" % pid) as fh:
                    if fh.read().split(")")[-1].split()[0] == "Z":
                        left.discard(pid)
            except OSError:
                left.discard(pid)
        time.sleep(0.02)
    return left


@pytest.mark.parametrize("gather", [(), ("-b",)])
def test_sigint_aborts_and_kills_the_commands(clush, gather):
    pids = os.path.join(clush.base, "pids")
    proc = clush.popen(*X("-w", "n[1-3]", "-q", "--nostdin") + gather +
                       ("echo $$ >> %s; echo start; exec sleep 30" % pids,),
                       stdin=subprocess.DEVNULL)
    wait_for_pids(pids, 3)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert (err, proc.returncode) == (b"Keyboard interrupt.\n", 130)
    assert out == (b"" if gather else b"n1: start\nn2: start\nn3: start\n") or \
        sorted_lines(out) == [b"n1: start\n", b"n2: start\n", b"n3: start\n"]
    assert not wait_gone(wait_for_pids(pids, 3))


# --- ssh, on the test sshd ----------------------------------------------------

@pytest.fixture
def ssh_clush(tmp_path, sshd):
    """clush whose clush.conf reaches the test sshd (ssh and scp)."""
    run = Clush(tmp_path, "ssh_options: {0}\nscp_options: {0}\n".format(sshd.ssh_options))
    yield run
    assert not sshd.client_pids(settle=2.0), "ssh clients left running"


def test_ssh_command(ssh_clush):
    assert ssh_clush.run("-w", "node[1-3]", "-b", "echo", "ok") == \
        (b"---------------\nnode[1-3] (3)\n---------------\nok\n", b"", 0)
    assert ssh_clush.run("-w", "node1", "-R", "ssh", "cat", stdin=b"via ssh\n") == \
        (b"node1: via ssh\n", b"", 0)


def test_ssh_options_user_and_timeouts(ssh_clush, sshd):
    import pwd
    user = pwd.getpwuid(os.getuid()).pw_name
    # -o replaces ssh_options
    assert ssh_clush.run("-w", "node1", "-l", user, "-t", "5", "-u", "30", "-o",
                         sshd.ssh_options + " -oForwardX11=no", "id -un") == \
        (b"node1: %s\n" % user.encode(), b"", 0)
    out, _, _ = ssh_clush.run("-w", "node1", "-o", "-oForwardX11=no", "-d", "-t", "3", "true")
    assert b"\nSSHCLIENT: ssh -oForwardX11=no -oForwardAgent=no -oForwardX11=no " \
           b"-oConnectTimeout=3 -oBatchMode=yes node1 true\n" in out


def test_ssh_connection_failure(ssh_clush, sshd):
    out, err, rc = ssh_clush.run("-w", "cp-refused,node1", "-S", "echo ok")
    assert out == b"node1: ok\n"
    assert err.endswith(b"clush: cp-refused: exited with exit code 255\n")
    assert b"cp-refused: ssh: connect to host 127.0.0.1 port %d: Connection refused\n" \
        % sshd.refused_port in err
    assert rc == 255


def test_ssh_connect_timeout(ssh_clush):
    out, err, rc = ssh_clush.run("-w", "cp-silent", "-t", "1", "-S", "echo ok")
    assert (out, rc) == (b"", 255)
    assert err.endswith(b"clush: cp-silent: exited with exit code 255\n")


def test_ssh_retry_shows_attempts(ssh_clush):
    out, err, rc = ssh_clush.run("-w", "cp-refused,node1", "--retry", "2", "-v", "-b", "-S",
                                 "echo ok")
    assert out == b"node1: ok\n---------------\nnode1\n---------------\nok\n"
    assert b"clush: cp-refused: exited with exit code 255, retrying (attempt 2/3)\n" in err
    assert b"clush: cp-refused: exited with exit code 255, retrying (attempt 3/3)\n" in err
    assert err.endswith(b"clush: cp-refused: exited with exit code 255\n")
    assert rc == 255


def test_ssh_copy_and_rcopy(ssh_clush):
    source = os.path.join(ssh_clush.base, "file.txt")
    with open(source, "w") as fh:
        fh.write("payload\n")
    dest = os.path.join(ssh_clush.base, "dest")
    os.mkdir(dest)
    assert ssh_clush.run("-w", "node1", "-c", source, "--dest", dest) == (b"", b"", 0)
    with open(os.path.join(dest, "file.txt")) as fh:
        assert fh.read() == "payload\n"
    back = os.path.join(ssh_clush.base, "back")
    os.mkdir(back)
    assert ssh_clush.run("-w", "node[1-2]", "-v", "--rcopy", source, "--dest", back) == \
        (("node[1-2]:`%s' -> `%s'\n" % (source, back)).encode(), b"", 0)
    assert sorted(os.listdir(back)) == ["file.txt.node1", "file.txt.node2"]


def test_ssh_fail_fast(ssh_clush):
    out, err, rc = ssh_clush.run("-w", "node[1-3]", "-k", "-b",
                                 'case "$SSH_CONNECTION" in *) exit 4;; esac')
    assert (out, rc) == (b"", 4)
    assert err.startswith(b"clush: fail-fast: node")
