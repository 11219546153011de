"""Signals to clush and to scripts using Task: the run stops, every
command's process group is killed, clush prints what is due and exits with
128+signal; a script killed outright leaves no command behind either (the
parent-death signal of each child)."""

import os
import signal
import sys
import textwrap

import pytest

from _run import Proc, clush_argv, files_in, wait_for

#: signal, exit code, message
ENDINGS = [(signal.SIGTERM, 143, b"Terminated by SIGTERM"),
           (signal.SIGHUP, 129, b"Terminated by SIGHUP"),
           (signal.SIGINT, 130, b"Keyboard interrupt")]
NODES = 20


def _gathered(out):
    return out == b"---------------\nn[1-%d] (%d)\n---------------\nhi\n" % (NODES, NODES)


@pytest.mark.parametrize("signum, rc, message", ENDINGS, ids=lambda v: str(v))
def test_clush_signal_mid_run(tmp_path, signum, rc, message):
    marks = tmp_path / "started"
    marks.mkdir()
    proc = Proc(clush_argv("-R", "exec", "-w", "n[1-%d]" % NODES, "-b",
                           "echo hi; touch %s/%%h; exec sleep 30" % marks), tmp_path)
    wait_for(lambda: files_in(marks) == NODES, what="every command started")
    wait_for(lambda: len(proc_children(proc)) >= NODES, what="sleeps running")
    proc.signal(signum)
    code, out, err, took = proc.finish()
    assert code == rc
    assert message in err and b"Traceback" not in err
    if signum != signal.SIGINT:
        # as Ctrl-C in a terminal does: the gathered output, the nodes
        assert b"(n[1-%d] did not complete)" % NODES in err
        assert _gathered(out) or out == b""
    assert proc.survivors() == []
    assert took < 20


def proc_children(proc):
    from _run import session_members
    return [pid for pid in session_members(proc.sid) if pid != proc.proc.pid]


@pytest.mark.parametrize("signum, rc, message", ENDINGS, ids=lambda v: str(v))
def test_clush_signal_at_start(tmp_path, signum, rc, message):
    """Whenever it comes (here: while Python starts, or as the first
    commands start), nothing is left running."""
    proc = Proc(clush_argv("-R", "exec", "-w", "n[1-50]", "-f", "5", "exec sleep 30"),
                tmp_path)
    wait_for(lambda: len(proc_children(proc)) >= 1, what="a first command")
    proc.signal(signum)
    code, out, err, took = proc.finish()
    assert code == rc and message in err
    assert proc.survivors() == []


def test_clush_sigterm_before_any_command(tmp_path):
    proc = Proc(clush_argv("-R", "exec", "-w", "n[1-5]", "exec sleep 30"), tmp_path)
    proc.signal(signal.SIGTERM)
    code, out, err, took = proc.finish()
    # the default action (before clush's handler is in place) or clush's own
    assert code in (-signal.SIGTERM, 143)
    assert b"Traceback" not in err
    assert proc.survivors() == []


def test_clush_sigterm_during_copy(tmp_path):
    """cp blocked reading a FIFO: the copy never ends by itself."""
    fifo = tmp_path / "source"
    os.mkfifo(str(fifo))
    dest = tmp_path / "dest"
    dest.mkdir()
    proc = Proc(clush_argv("-R", "exec", "-w", "n[1-4]", "-c", str(fifo), "--dest",
                           str(dest)), tmp_path)
    wait_for(lambda: len(proc_children(proc)) >= 4, what="4 cp running")
    proc.signal(signal.SIGTERM)
    code, out, err, took = proc.finish()
    assert code == 143 and b"Terminated by SIGTERM" in err
    assert proc.survivors() == []


def test_clush_sighup_under_nohup_is_ignored(tmp_path):
    """A signal ignored when clush starts stays ignored (nohup)."""
    marks = tmp_path / "started"
    marks.mkdir()
    argv = ["nohup"] + clush_argv("-R", "exec", "-w", "n[1-3]", "-b",
                                  "touch %s/%%h; sleep 0.5; echo done" % marks)
    proc = Proc(argv, tmp_path)
    wait_for(lambda: files_in(marks) == 3, what="every command started")
    proc.signal(signal.SIGHUP)
    code, out, err, took = proc.finish()
    assert code == 0 and out.endswith(b"\ndone\n")


# --- scripts using Task ----------------------------------------------------

SCRIPT = textwrap.dedent("""\
    import sys
    from clusterpy.Task import Task, task_self, task_terminate_on_signals
    how, marks = sys.argv[1], sys.argv[2]
    if how != "bare":
        task_terminate_on_signals()
    task = Task() if how == "thread" else task_self()
    for i in range(8):
        task.shell("touch %s/%d; exec sleep 30" % (marks, i))
    try:
        task.resume()
        if how == "thread":
            task.join()
    finally:
        print("finally ran", flush=True)
""")


@pytest.mark.parametrize("how", ["main", "thread"])
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_script_task_terminate_on_signals(tmp_path, how, signum):
    script = tmp_path / "script.py"
    script.write_text(SCRIPT)
    marks = tmp_path / "started"
    marks.mkdir()
    proc = Proc([sys.executable, str(script), how, str(marks)], tmp_path)
    wait_for(lambda: files_in(marks) == 8, what="every command started")
    proc.signal(signum)
    code, out, err, took = proc.finish()
    assert (code, out, err) == (128 + signum, b"finally ran\n", b"")
    assert proc.survivors() == []


@pytest.mark.parametrize("how", ["bare", "thread"])
def test_script_killed_outright_leaves_no_command(tmp_path, how):
    """SIGKILL: no Python code runs; the kernel sends each child the
    parent-death signal (`exec sleep`: the child is the command itself)."""
    script = tmp_path / "script.py"
    script.write_text(SCRIPT)
    marks = tmp_path / "started"
    marks.mkdir()
    proc = Proc([sys.executable, str(script), how, str(marks)], tmp_path)
    wait_for(lambda: files_in(marks) == 8, what="every command started")
    wait_for(lambda: len(proc_children(proc)) >= 8, what="sleeps running")
    proc.signal(signal.SIGKILL)
    code, out, err, took = proc.finish()
    assert code == -signal.SIGKILL
    assert proc.survivors() == []


def _controlling_terminal():
    import fcntl
    import termios
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


@pytest.mark.parametrize("controlling", [True, False], ids=["controlling", "other"])
@pytest.mark.parametrize("signum, rc, message", ENDINGS[:2], ids=lambda v: str(v))
def test_clush_signal_on_a_terminal(tmp_path, signum, rc, message, controlling):
    """stdin and stdout on a terminal: on clush's controlling one, the
    commands run in a thread of their own while the main thread reads the
    terminal; on another one (no job control), in the main thread."""
    import pty
    import tty
    marks = tmp_path / "started"
    marks.mkdir()
    master, slave = pty.openpty()
    tty.setraw(slave)
    try:
        proc = Proc(clush_argv("-R", "exec", "-w", "n[1-5]", "-b",
                               "touch %s/%%h; exec sleep 30" % marks), tmp_path,
                    stdin=slave, stdout=slave,
                    preexec_fn=_controlling_terminal if controlling else None)
    finally:
        os.close(slave)
    try:
        wait_for(lambda: files_in(marks) == 5, what="every command started")
        wait_for(lambda: len(proc_children(proc)) >= 5, what="sleeps running")
        proc.signal(signum)
        code, out, err, took = proc.finish()
    finally:
        os.close(master)
    assert code == rc and message in err and b"Traceback" not in err
    assert proc.survivors() == []
