"""bash completion of clush and cluset (bash_completion.d/).

The completion functions run in a child bash that loads the system's
bash-completion library and our script.  The tools they ask (cluset
--completion, clush --help...) are clusterpy's own, run through small
wrappers put first on PATH, with a group configuration written for the
test.  Most tests call _clush/_cluset as readline does (COMP_WORDS cut at
the word-break characters, the function given the command, the current
and the previous word) and read COMPREPLY back; a few type a line into an
interactive bash on a pseudo-terminal, press Tab and read the edited line,
to see what readline finally makes of the candidates.
"""
import os
import pty
import re
import select
import shutil
import subprocess
import sys
import tarfile
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPTS = os.path.join(ROOT, "bash_completion.d")
BASH = shutil.which("bash")
LIBRARY = next((path for path in (
    "/usr/share/bash-completion/bash_completion",
    "/usr/local/share/bash-completion/bash_completion",
    "/etc/bash_completion") if os.access(path, os.R_OK)), None)

needs_bash = pytest.mark.skipif(BASH is None, reason="bash is not installed")
needs_library = pytest.mark.skipif(
    BASH is None or LIBRARY is None,
    reason="bash or the bash-completion library is not installed "
           "(apt-get install bash-completion)")

# Group sources of the test: "local" (the default) and "second".
GROUPS_CONF = """\
[Main]
default: local

[local]
map: sed -n 's/^$GROUP: //p' $CFGDIR/local.txt
list: sed -n 's/: .*//p' $CFGDIR/local.txt

[second]
map: sed -n 's/^$GROUP: //p' $CFGDIR/second.txt
list: sed -n 's/: .*//p' $CFGDIR/second.txt
"""
LOCAL_GROUPS = "compute: node[1-4]\ngpu: gpu[1-2]\n"
SECOND_GROUPS = "io: io[1-2]\nlogin: login1\n"
GROUP_WORDS = ["@local:", "@second:", "@compute ", "@gpu "]
ALL_NODES = ["gpu1 ", "gpu2 ", "node1 ", "node2 ", "node3 ", "node4 "]
COMMAND = "cpcompl-probe-cmd"   # an executable of the test's bin directory

# Call a completion function as readline would and print COMPREPLY,
# one NUL after each candidate.
DRIVER = r'''
library=$1 script=$2 func=$3; shift 3
BASH_COMPLETION_USER_FILE=/dev/null
. "$library"
. "$script"
COMP_WORDS=("$@")
COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
COMP_POINT=${#COMP_LINE}
"$func" "${COMP_WORDS[0]}" "${COMP_WORDS[COMP_CWORD]}" \
    "${COMP_WORDS[COMP_CWORD - 1]}"
for candidate in "${COMPREPLY[@]}"; do
    printf '%s\0' "$candidate"
done
'''


def run(argv, **options):
    """Run argv to its end; the CompletedProcess, output captured."""
    return subprocess.run(argv, capture_output=True, check=False, **options)


def comp_words(line):
    """COMP_WORDS for the command line `line`, cursor at its end: bash cuts
    at blanks, and makes each run of word-break characters a word of its
    own ('@' is no break once bash-completion is loaded)."""
    words = re.findall(r"""[^\s"'><=;|&(:]+|["'><=;|&(:]+""", line)
    if not line or line[-1].isspace():
        words.append("")
    return words


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    """A home directory with the group configuration, and a bin directory
    holding clush and cluset wrappers plus an executable named COMMAND."""
    home = tmp_path_factory.mktemp("completion")
    cfgdir = home / "cfg"
    cfgdir.mkdir()
    (cfgdir / "groups.conf").write_text(GROUPS_CONF)
    (cfgdir / "local.txt").write_text(LOCAL_GROUPS)
    (cfgdir / "second.txt").write_text(SECOND_GROUPS)
    bindir = home / "bin"
    bindir.mkdir()
    for tool, module in (("clush", "Clush"), ("cluset", "Nodeset")):
        (bindir / tool).write_text(
            f'#!/bin/sh\nexec "{sys.executable}" -m clusterpy.CLI.{module} "$@"\n')
    (bindir / COMMAND).write_text("#!/bin/sh\n")
    for path in bindir.iterdir():
        path.chmod(0o755)
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("BASH_", "COMP_", "XDG_"))}
    env.update(HOME=str(home), CLUSTERSHELL_CFGDIR=str(cfgdir),
               PYTHONPATH=ROOT, INPUTRC="/dev/null",
               PATH=str(bindir) + os.pathsep + os.environ.get("PATH", ""))
    return {"home": home, "env": env}


def run_completion(sandbox, line):
    """(COMPREPLY list, stderr text) for `line`, cursor at its end."""
    words = comp_words(line)
    script = os.path.join(SCRIPTS, words[0])
    env = dict(sandbox["env"], COMP_LINE=line)
    proc = run([BASH, "-c", DRIVER, "driver", LIBRARY, script, "_" + words[0],
                *words], cwd=str(sandbox["home"]), env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr.decode()
    return proc.stdout.decode().split("\0")[:-1], proc.stderr.decode()


@pytest.fixture
def complete(sandbox):
    """complete(line) -> the candidates offered at the end of `line`."""
    return lambda line: run_completion(sandbox, line)[0]


# --- the files ---------------------------------------------------------------

@needs_bash
@pytest.mark.parametrize("name", ["clush", "cluset"])
def test_script_is_valid_bash(name):
    path = os.path.join(SCRIPTS, name)
    assert os.path.isfile(path)
    proc = run([BASH, "-n", path], timeout=60)
    assert proc.returncode == 0, proc.stderr.decode()


@needs_library
@pytest.mark.parametrize("name", ["clush", "cluset"])
def test_either_file_registers_both_tools(name):
    """bash-completion loads the file named after the command; each name
    sets up the completion of both tools."""
    code = ('. "$1"; . "$2"; complete -p clush cluset'
            '; declare -F _clush _cluset')
    proc = run([BASH, "-c", code, "bash", LIBRARY, os.path.join(SCRIPTS, name)],
               timeout=60)
    assert proc.returncode == 0, proc.stderr.decode()
    assert proc.stdout.decode().splitlines() == [
        "complete -o nospace -F _clush clush",
        "complete -o nospace -F _cluset cluset", "_clush", "_cluset"]


def test_sdist_ships_the_scripts(tmp_path):
    """Both names are regular files in a source distribution (built from a
    copy of the checkout, which it would otherwise write into)."""
    pytest.importorskip("setuptools")
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md"):
        shutil.copy(os.path.join(ROOT, name), str(source / name))
    for name in ("clusterpy", "csrc", "bash_completion.d"):
        shutil.copytree(os.path.join(ROOT, name), str(source / name),
                        symlinks=True, ignore=shutil.ignore_patterns(
                            "__pycache__", "*.so", "*.o", "_core.c"))
    proc = run([sys.executable, "setup.py", "-q", "sdist", "-d", str(tmp_path)],
               cwd=str(source), timeout=300)
    assert proc.returncode == 0, proc.stderr.decode()
    (archive,) = tmp_path.glob("*.tar.gz")
    with open(os.path.join(SCRIPTS, "clush"), "rb") as stream:
        script = stream.read()
    with tarfile.open(str(archive)) as tar:
        shipped = {member.name.partition("/")[2]: member
                   for member in tar.getmembers()}
        for name in ("clush", "cluset"):
            member = shipped["bash_completion.d/" + name]
            assert member.isfile()
            assert tar.extractfile(member).read() == script


# --- clush: options and their fixed values -----------------------------------

@needs_library
def test_clush_lists_its_options(complete):
    reply = complete("clush -")
    for option in ("--diff ", "-w ", "-b ", "--dshbak ", "--groupsource ",
                   "--hostfile ", "--machinefile ", "--color ", "--json "):
        assert option in reply
    assert len(reply) == len(set(reply))
    assert not [word for word in reply if "," in word or "=" in word]
    assert complete("clush --d") == ["--debug ", "--dshbak ", "--diff ",
                                     "--dest "]
    assert all(word.startswith("--") for word in complete("clush --"))


@needs_library
@pytest.mark.parametrize("line", ["clush -b -", "clush --diff -",
                                  "clush -b -w node1 -", "clush -bq -",
                                  "clush -c file1 -"])
def test_clush_flags_do_not_take_the_next_word(complete, line):
    assert "--diff " in complete(line)


@needs_library
def test_clush_fixed_values(complete):
    assert complete("clush --color ") == ["never ", "always ", "auto "]
    assert complete("clush --color=a") == ["always ", "auto "]
    assert complete("clush -R ") == ["ssh ", "exec ", "rsh "]
    assert complete("clush --worker e") == ["exec "]
    # only lowercase short options are split from a glued value, as in
    # ClusterShell
    assert complete("clush -Re") == []


@needs_library
def test_clush_glued_value_keeps_its_option(complete):
    assert complete("clush -wnode") == ["-wnode1 ", "-wnode2 ", "-wnode3 ",
                                        "-wnode4 "]
    assert complete("clush -gco") == ["-gcompute "]
    assert complete("clush -s second -wlo") == ["-wlogin1 "]
    # readline replaces only what follows the ":"
    assert complete("clush -w@second:i") == ["io "]
    # a flag glued to more letters gets nothing, like ClusterShell
    assert complete("clush -bg") == []
    assert complete("clush -b") == []


@needs_library
def test_clush_options_without_completed_values(complete):
    """ClusterShell's script completes nothing after these (no mode list
    after -m, no file names after --hostfile or --dest)."""
    for line in ("clush -f ", "clush -m ", "clush -l ", "clush -o ",
                 "clush -t ", "clush --hostfile ", "clush -c a --dest "):
        assert complete(line) == [], line


# --- clush: nodes, groups, group sources ---------------------------------------

@needs_library
def test_clush_nodes_groups_and_sources(complete):
    assert complete("clush -w ") == GROUP_WORDS + ALL_NODES
    assert complete("clush -b -w @") == GROUP_WORDS
    assert complete("clush -w no") == ALL_NODES[2:]
    assert complete("clush -x ") == GROUP_WORDS
    for line in ("clush -g ", "clush --group ", "clush -X "):
        assert complete(line) == ["local:", "second:", "compute ", "gpu "]


@needs_library
def test_clush_source_typed_in_the_word(complete):
    # readline replaces only what follows the ":", so that is what comes back
    assert complete("clush -w @second:") == ["io ", "login "]
    assert complete("clush -w @second:l") == ["login "]
    assert complete("clush -g second:") == ["io ", "login "]


@needs_library
@pytest.mark.parametrize("given", ["-s second", "--groupsource second",
                                   "--groupsource=second", "-ssecond"])
def test_clush_source_given_by_option(complete, given):
    assert complete(f"clush {given} -w ") == ["@io ", "@login ", "io1 ",
                                              "io2 ", "login1 "]
    assert complete(f"clush {given} -g ") == ["io ", "login "]


@needs_library
def test_clush_group_sources(complete):
    assert complete("clush -s ") == ["local ", "second "]
    assert complete("clush --groupsource s") == ["second "]
    assert complete("clush --groupsource=") == ["local ", "second "]


@needs_library
def test_clush_unknown_source_offers_nothing_quietly(sandbox):
    reply, errors = run_completion(sandbox, "clush -s nosuch -w ")
    assert reply == []
    assert errors == ""


# --- clush: the remote command, files to copy ----------------------------------

@needs_library
@pytest.mark.parametrize("before", [
    "-w node1", "-b -w node1", "--diff -w node1", "-g gpu", "-w node1 -b",
    "-w node1 --", "-a", "--hostfile hosts", "--group=gpu", "-wnode1",
    "-bw node1", "-w @second:io", "--groupsource=second -w @io"])
def test_clush_command_names(complete, before):
    assert COMMAND in complete(f"clush {before} cpcompl-pro")


@needs_library
def test_clush_no_command_without_targets(complete):
    assert complete("clush cpcompl-pro") == []
    assert complete("clush -b cpcompl-pro") == []


@needs_library
def test_clush_command_arguments(complete, tmp_path):
    (tmp_path / "cpcompl-data.txt").write_text("")
    reply = complete(f"clush -w @second:io ls {tmp_path}/cpcompl-d")
    assert reply == [f"{tmp_path}/cpcompl-data.txt"]
    # after the command name, dashes are the command's, not clush's
    assert "--diff " not in complete(f"clush -w node1 {COMMAND} -")


@needs_library
@pytest.mark.parametrize("copy", ["-c", "--copy", "--rcopy", "-w node1 -c",
                                  "-bc", "-c file1"])
def test_clush_copy_mode_completes_files(complete, tmp_path, copy):
    (tmp_path / "cpcompl-file").write_text("")
    (tmp_path / "cpcompl-dir").mkdir()
    reply = complete(f"clush {copy} {tmp_path}/cpcompl-")
    assert sorted(reply) == [f"{tmp_path}/cpcompl-dir",
                             f"{tmp_path}/cpcompl-file"]


@needs_library
def test_clush_copy_mode_takes_options_after_files(complete):
    assert complete("clush -c file1 -w @") == GROUP_WORDS


# --- cluset ----------------------------------------------------------------------

@needs_library
def test_cluset_lists_its_options(complete):
    reply = complete("cluset -")
    for option in ("--fold ", "-e ", "--expand ", "--list-sources ",
                   "--groupsources ", "--autostep "):
        assert option in reply
    assert len(reply) == len(set(reply))
    assert not [word for word in reply if "," in word or "=" in word]
    assert complete("cluset --list-s") == ["--list-sources "]
    assert all(word.startswith("--") for word in complete("cluset --"))
    assert "--fold " in complete("cluset ")


@needs_library
@pytest.mark.parametrize("option", ["-c", "--count", "-e", "--expand", "-f",
                                    "--fold", "--index", "-x", "--exclude",
                                    "-i", "--intersection", "-X", "--xor"])
def test_cluset_node_sets(complete, option):
    assert complete(f"cluset {option} ") == GROUP_WORDS + ALL_NODES


@needs_library
def test_cluset_sources_and_groups(complete):
    assert complete("cluset -G -e @") == GROUP_WORDS
    assert complete("cluset -f @second:") == ["io ", "login "]
    assert complete("cluset -s second -f @") == ["@io ", "@login "]
    assert complete("cluset --groupsource=second -f @") == ["@io ",
                                                            "@login "]
    assert complete("cluset -s ") == ["local ", "second "]
    assert complete("cluset --groupsource=s") == ["second "]


@needs_library
def test_cluset_after_flags_and_operands(complete):
    assert "--fold " in complete("cluset -a ")
    assert "--fold " in complete("cluset -e node1 ")   # -e's set is given
    assert complete("cluset -e node1 -x no") == ALL_NODES[2:]
    # the word before the cursor decides, even when it followed -e
    assert complete("cluset -e -x no") == ALL_NODES[2:]
    assert complete("cluset -f - -i no") == ALL_NODES[2:]
    assert "--fold " in complete("cluset --autostep=3 ")
    # past a plain operand or "--", and after value options, nothing
    for line in ("cluset node1 ", "cluset -- ", "cluset -I ",
                 "cluset --autostep "):
        assert complete(line) == [], line


# --- through readline, on a terminal ---------------------------------------------

class Terminal:
    """An interactive bash on a pseudo-terminal, completion loaded; Ctrl-T
    prints the line being edited between << and >>."""

    RC = r"""PS1='$ '
BASH_COMPLETION_USER_FILE=/dev/null
. "%s"
. "%s"
bind 'set enable-bracketed-paste off' 2>/dev/null
bind 'set bell-style none'
bind -x '"\C-t": printf "\n<<%%s>>\n" "$READLINE_LINE"'
"""

    def __init__(self, sandbox):
        rcfile = sandbox["home"] / "bashrc"
        rcfile.write_text(self.RC % (LIBRARY, os.path.join(SCRIPTS, "clush")))
        env = dict(sandbox["env"], TERM="dumb")
        self.pid, self.fd = pty.fork()
        if self.pid == 0:   # the child: exec bash, or leave at once
            try:
                os.chdir(str(sandbox["home"]))
                os.execve(BASH, [BASH, "--noprofile", "--rcfile",
                                 str(rcfile), "-i"], env)
            finally:
                os._exit(127)

    def _read_until(self, pattern, timeout=60):
        seen = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match = re.search(pattern, seen)
            if match:
                return match
            ready, _, _ = select.select([self.fd], [], [], 0.2)
            if ready:
                try:
                    seen += os.read(self.fd, 4096)
                except OSError:   # EIO: the shell is gone
                    break
        raise AssertionError(f"no {pattern!r} in {seen!r}")

    def tab(self, line):
        """The line after typing `line` then Tab."""
        os.write(self.fd, line.encode() + b"\t")
        # the completion runs before readline reads the next key
        os.write(self.fd, b"\x14")
        text = self._read_until(rb"<<(.*?)>>").group(1).decode()
        os.write(self.fd, b"\x15")   # clear the line for the next one
        return text

    def close(self):
        try:
            os.write(self.fd, b"\x15exit\n")
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                pid, _ = os.waitpid(self.pid, os.WNOHANG)
                if pid:
                    return
                try:
                    os.read(self.fd, 4096)   # keep the shell from blocking
                except OSError:
                    pass
                time.sleep(0.05)
            os.kill(self.pid, 9)
            os.waitpid(self.pid, 0)
        finally:
            os.close(self.fd)


@pytest.fixture
def terminal(sandbox):
    term = Terminal(sandbox)
    yield term
    term.close()


@needs_library
def test_readline_inserts_the_candidates(terminal, tmp_path):
    (tmp_path / "cpcompl-only-file").write_text("")
    cases = [
        ("clush --col", "clush --color "),
        ("clush --color=al", "clush --color=always "),
        ("clush -s se", "clush -s second "),
        ("clush -w @sec", "clush -w @second:"),
        ("clush -w @second:lo", "clush -w @second:login "),
        ("clush -w@second:lo", "clush -w@second:login "),
        ("clush -gcomp", "clush -gcompute "),
        ("clush -w @second:io cpcompl-pro",
         f"clush -w @second:io {COMMAND} "),
        ("clush --groupsource=second -w @io cpcompl-pro",
         f"clush --groupsource=second -w @io {COMMAND} "),
        (f"clush -c {tmp_path}/cpcompl-on",
         f"clush -c {tmp_path}/cpcompl-only-file "),
        ("cluset -f @second:lo", "cluset -f @second:login "),
        ("cluset --list-so", "cluset --list-sources "),
    ]
    for typed, expected in cases:
        assert terminal.tab(typed) == expected, typed
