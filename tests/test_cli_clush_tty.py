"""clush on a terminal: the interactive mode and Ctrl-C, through a
pseudo-terminal that is clush's controlling terminal (pty.fork()).

The terminal echoes what is typed and turns "\\n" into "\\r\\n"; TERM=dumb
keeps readline from sending escape sequences.  Each step waits for what
clush prints before typing on, so that transcripts are deterministic; they
are ClusterShell 1.10.1's, except where clusterpy's two-step Ctrl-C
(clush's own addition) is what is tested.
"""

import os
import pty
import re
import select
import signal
import time

import pytest
from test_cli_clush import Clush, X, wait_for_pids, wait_gone


class Terminal:
    """A clush process on a pseudo-terminal."""

    def __init__(self, clush, args, stdout_pipe=None):
        argv = clush.argv(args)
        env = clush.env()
        pid, fd = pty.fork()
        if pid == 0:  # child: exec at once, whatever happens
            try:
                if stdout_pipe is not None:
                    os.dup2(stdout_pipe, 1)
                os.chdir(clush.cwd)
                os.execve(argv[0], argv, env)
            finally:
                os._exit(127)
        self.pid, self.fd = pid, fd
        self.data = b""
        self.pos = 0
        self.status = None

    def _read(self, deadline):
        """Read what is there (until deadline); False at end of file."""
        left = max(0.0, deadline - time.monotonic())
        if not select.select([self.fd], [], [], left)[0]:
            return True
        try:
            chunk = os.read(self.fd, 4096)
        except OSError:  # EIO: the other side is closed
            return False
        self.data += chunk
        return bool(chunk)

    def expect(self, pattern, timeout=20.0):
        """Wait for bytes (or a compiled regex) after what was expected
        last; return the text up to its end."""
        deadline = time.monotonic() + timeout
        while True:
            if isinstance(pattern, bytes):
                end = self.data.find(pattern, self.pos)
                end = -1 if end < 0 else end + len(pattern)
            else:
                match = pattern.search(self.data, self.pos)
                end = match.end() if match else -1
            if end >= 0:
                text, self.pos = self.data[self.pos:end], end
                return text
            if time.monotonic() > deadline or not self._read(deadline):
                raise AssertionError("%r not seen in %r" % (pattern, self.data[self.pos:]))

    def send(self, text):
        os.write(self.fd, text)

    def finish(self, timeout=20.0):
        """Read until clush exits; return (the rest of the output, exit code)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self._read(deadline):
            pass
        self.close()
        return self.data[self.pos:], self.status

    def close(self):
        if self.status is None:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
                if pid == 0:
                    os.kill(self.pid, signal.SIGKILL)
                    pid, status = os.waitpid(self.pid, 0)
                self.status = os.waitstatus_to_exitcode(status)
            finally:
                os.close(self.fd)


@pytest.fixture
def clush(tmp_path):
    return Clush(tmp_path)


@pytest.fixture
def terminal(clush):
    """terminal(*args) starts clush on a pseudo-terminal."""
    started = []

    def start(*args, **kwargs):
        term = Terminal(clush, args, **kwargs)
        started.append(term)
        return term

    yield start
    for term in started:
        term.close()


PROMPT = b"clush> "


def test_interactive_session(terminal, clush):
    term = terminal(*X("-w", "n1"))
    steps = [b"echo hi", b"=", b"+n[2-3]", b"echo hi", b"-n1", b"@n7", b"?", b"!echo local",
             b"+N[", b"", b"!false"]
    term.expect(PROMPT)
    for line in steps:
        term.send(line + b"\n")
        term.expect(PROMPT)
    term.send(b"quit\n")
    rest, status = term.finish()
    assert term.data == (
        b"Enter 'quit' to leave this interactive mode\r\n"
        b"Working with nodes: n1\r\n"
        b"clush> echo hi\r\nn1: hi\r\n"
        b"clush> =\r\nSwitching to gathered output format\r\n"
        b"clush> +n[2-3]\r\nWorking with nodes: n[1-3]\r\n"
        b"clush> echo hi\r\n---------------\r\nn[1-3] (3)\r\n---------------\r\nhi\r\n"
        b"clush> -n1\r\nWorking with nodes: n[2-3]\r\n"
        b"clush> @n7\r\nWorking with nodes: n7\r\n"
        b"clush> ?\r\nWorking with nodes: n7\r\n"
        b"clush> !echo local\r\nLOCAL: local\r\n"
        b"clush> +N[\r\nclush: nodeset parse error (ignoring)\r\nWorking with nodes: n7\r\n"
        b"clush> \r\n"
        b"clush> !false\r\nclush: LOCAL: exited with exit code 1\r\n"
        b"clush> quit\r\n")
    assert (rest, status) == (b"quit\r\n", 0)
    with open(os.path.join(clush.home, ".clush_history"), "rb") as fh:
        history = fh.read().splitlines()
    # written before each command run on the nodes
    assert history == [b"echo hi", b"=", b"+n[2-3]", b"echo hi"]


def test_interactive_end_of_file(terminal):
    term = terminal(*X("-w", "n1", "-q"))
    assert term.expect(PROMPT) == b"Working with nodes: n1\r\nclush> "
    term.send(b"\x04")
    assert term.finish() == (b"\r\n", 0)


def test_interactive_ctrl_c_at_the_prompt(terminal):
    term = terminal(*X("-w", "n1", "-q"))
    term.expect(PROMPT)
    # readline prints the prompt before it waits for keys: a signal in
    # between is only seen at the next key (in Python's readline module)
    time.sleep(0.5)
    term.send(b"\x03")
    assert term.finish() == (b"Keyboard interrupt.\r\n", 130)


def test_interactive_mode_needs_a_terminal_for_output(terminal):
    read_end, write_end = os.pipe()
    try:
        term = terminal(*X("-w", "n1"), stdout_pipe=write_end)
    finally:
        os.close(write_end)
    rest, status = term.finish()
    with os.fdopen(read_end, "rb") as out:
        assert out.read() == b""
    assert (rest, status) == (b"ERROR: interactive mode requires a tty\r\n", 1)


def test_nostdin_is_refused_in_interactive_mode(terminal):
    term = terminal(*X("-w", "n1", "--nostdin"))
    assert term.finish() == ((b"Usage: clush [options] command\r\n\r\n"
                              b"clush: error: illegal option `--nostdin' in that case\r\n"), 2)


def test_enter_shows_what_runs(terminal):
    term = terminal(*X("-w", "n[1-2]", "-q", "echo start; sleep 2; echo done"))
    for _ in range(2):
        term.expect(b": start\r\n")
    term.send(b"\n")
    assert term.expect(b"n[1-2]\r\n") == \
        b"\r\nclush: interrupt (^C to abort task)\r\nclush: in progress(2): n[1-2]\r\n"
    rest, status = term.finish()
    assert sorted(rest.splitlines(True)) == [b"n1: done\r\n", b"n2: done\r\n"]
    assert status == 0


def test_password_prompt(terminal):
    term = terminal(*X("-w", "n1", "-O", "password_prompt=yes", "cat"))
    term.expect(b"Password: ")
    term.send(b"s3cret\n")
    assert term.finish() == (b"\r\nn1: s3cret\r\n", 0)


# --- the two-step Ctrl-C (clusterpy's addition) --------------------------------

REPORT = re.compile(rb"\^Cclush: interrupt \(\^C again within 1s to abort\)\r\n"
                    rb"clush: in progress\(3\): n\[1-3\]\r\n"
                    rb"clush: n\[1-3\]: running for [01]s\r\n")

SLEEPER = "echo $$ >> {pids}; echo start; exec sleep 30"


def started(term, count=3):
    for _ in range(count):
        term.expect(b"start\r\n")


def pids_of(clush):
    """The pids the three SLEEPER commands wrote."""
    return wait_for_pids(os.path.join(clush.base, "pids"), 3)


@pytest.mark.parametrize("nostdin", [(), ("--nostdin",)])
def test_first_ctrl_c_reports_second_aborts(terminal, clush, nostdin):
    # with --nostdin, the command runs in the main thread (no prompt thread)
    term = terminal(*X("-w", "n[1-3]") + nostdin
                    + (SLEEPER.format(pids=os.path.join(clush.base, "pids")),))
    started(term)
    term.send(b"\x03")
    term.expect(REPORT)
    term.send(b"\x03")
    assert term.finish() == (b"^CKeyboard interrupt (n[1-3] did not complete).\r\n", 130)
    assert not wait_gone(pids_of(clush))


def test_second_ctrl_c_prints_gathered_output_so_far(terminal, clush):
    term = terminal(*X("-w", "n[1-3]", "-b", "-q",
                       SLEEPER.format(pids=os.path.join(clush.base, "pids"))))
    pids = pids_of(clush)
    term.send(b"\x03")
    term.expect(REPORT)
    term.send(b"\x03")
    assert term.finish() == (
        (b"^C---------------\r\nn[1-3]\r\n---------------\r\nstart\r\n"
         b"Keyboard interrupt (n[1-3] did not complete).\r\n"), 130)
    assert not wait_gone(pids)


def test_one_ctrl_c_lets_the_command_finish(terminal):
    term = terminal(*X("-w", "n[1-3]", "-f", "2", "echo start; sleep 1.5"))
    started(term, 2)
    term.send(b"\x03")
    report = term.expect(re.compile(rb"pending\(1\): n3\r\n"))
    assert re.match(rb"\^Cclush: interrupt \(\^C again within 1s to abort\)\r\n"
                    rb"clush: in progress\(2\): n\[1-2\]\r\n"
                    rb"clush: n\[1-2\]: running for [01]s\r\n"
                    rb"clush: pending\(1\): n3\r\n$", report)
    assert term.finish() == (b"n3: start\r\n", 0)


def test_ctrl_c_presses_far_apart_only_report(terminal, clush):
    term = terminal(*X("-w", "n[1-3]", "--nostdin",
                       SLEEPER.format(pids=os.path.join(clush.base, "pids"))))
    started(term)
    term.send(b"\x03")
    term.expect(REPORT)
    time.sleep(1.2)
    term.send(b"\x03")
    term.expect(re.compile(rb"running for [12]s\r\n"))
    term.send(b"\x03")
    assert term.finish() == (b"^CKeyboard interrupt (n[1-3] did not complete).\r\n", 130)
    assert not wait_gone(pids_of(clush))
