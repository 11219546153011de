"""Limits of the machine: open files (ulimit -n), processes (ulimit -u), a
full disk under --outdir and --rcopy, and many nodes.  A run either
completes (saying once what it had to change) or stops with a message that
names the problem; nothing is left running."""

import os
import pwd
import re
import resource
import shutil
import subprocess
import sys
import tempfile

import pytest

from _run import ROOT, Proc, clush_argv

GATHER_HEADER = b"---------------\n%s (%d)\n---------------\n"


def without_progress(err):
    """stderr less the progress indicator a long gathered run prints
    ("clush: 768/10000" pieces ending with a carriage return)."""
    return re.sub(rb"clush: +\d+/\d+\r| +\r", b"", err)


def _nofile(limit):
    def set_limit():
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))
    return set_limit


@pytest.mark.slow
def test_fanout_above_fd_limit_runs_with_what_fits(tmp_path):
    """ulimit -n 256, -f 512, 2,000 nodes: every node runs, one notice."""
    proc = Proc(clush_argv("-R", "exec", "-f", "512", "-w", "n[1-2000]", "-b", "echo ok"),
                tmp_path, preexec_fn=_nofile(256))
    code, out, err, took = proc.finish(timeout=120)
    assert code == 0
    assert out == GATHER_HEADER % (b"n[1-2000]", 2000) + b"ok\n"
    notice = without_progress(err).splitlines()
    assert len(notice) == 1
    assert notice[0].startswith(b"clush: fanout 512 needs 2048 file descriptors, more than "
                                b"the open files limit allows (ulimit -n 256, ")
    assert notice[0].endswith(b"running with fanout %s" % notice[0].split()[-1])
    assert proc.survivors() == []


def test_outdir_with_more_nodes_than_fds(tmp_path):
    """One open file per running node, not per node."""
    out_dir = tmp_path / "out"
    proc = Proc(clush_argv("-R", "exec", "-f", "16", "-w", "n[1-600]", "--outdir",
                           str(out_dir), "echo %h"), tmp_path, preexec_fn=_nofile(256))
    code, out, err, took = proc.finish(timeout=60)
    assert (code, err) == (0, b"")
    assert len(os.listdir(str(out_dir))) == 600
    assert (out_dir / "n599").read_bytes() == b"n599\n"


SCRIPT_EMFILE = """\
import errno, resource, sys
resource.setrlimit(resource.RLIMIT_NOFILE, (128, 128))
from clusterpy.Task import task_self
task = task_self()
task.set_info("fanout", 256)
for i in range(300):
    task.shell("sleep 0.5")
try:
    task.run()
except OSError as exc:
    print("OSError", errno.errorcode[exc.errno])
else:
    print("done", task.max_retcode())
"""


def test_task_fanout_above_fd_limit_raises_emfile(tmp_path):
    """The library stops the run with EMFILE (as ClusterShell does), and
    kills what it had started."""
    script = tmp_path / "emfile.py"
    script.write_text(SCRIPT_EMFILE)
    proc = Proc([sys.executable, str(script)], tmp_path)
    code, out, err, took = proc.finish(timeout=60)
    assert (code, out, err) == (0, b"OSError EMFILE\n", b"")
    assert proc.survivors() == []


def _as_nobody_with_nproc(limit):
    """preexec_fn: RLIMIT_NPROC, as an unprivileged user when run as root
    (root's processes are not limited)."""
    def drop():
        if os.getuid() == 0:
            nobody = pwd.getpwnam("nobody")
            os.setgroups([])
            os.setgid(nobody.pw_gid)
            os.setuid(nobody.pw_uid)
        resource.setrlimit(resource.RLIMIT_NPROC, (limit, limit))
    return drop


def _python_for_nobody():
    """An interpreter that the nobody user can run clusterpy with."""
    if os.getuid() != 0:
        return sys.executable
    for python in (sys.executable, "/usr/bin/python3"):
        try:
            check = subprocess.run([python, "-c", "import clusterpy._core"], cwd="/",
                                   env={"PYTHONPATH": ROOT}, capture_output=True,
                                   preexec_fn=_as_nobody_with_nproc(64))
        except OSError:
            continue    # not even executable by nobody
        if check.returncode == 0:
            return python
    pytest.skip("no interpreter the nobody user can import clusterpy with")


def test_process_limit(tmp_path):
    """ulimit -u: nodes whose command cannot fork report exit code 255 (or
    their shell's own error), the others complete; nothing hangs."""
    python = _python_for_nobody()
    home = tempfile.mkdtemp(prefix="clusterpy-nproc-")
    os.chmod(home, 0o777)
    argv = clush_argv("-R", "exec", "-f", "16", "-w", "n[1-30]", "-b",
                      "sleep 0.3; echo ok")
    argv[0] = python
    try:
        proc = Proc(argv, home, preexec_fn=_as_nobody_with_nproc(8))
        code, out, err, took = proc.finish(timeout=60)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    assert code == 0 and b"Traceback" not in err
    ran = out.count(b"ok\n")
    failed = [line for line in err.splitlines() if b"exited with exit code" in line]
    assert ran >= 1 and failed
    assert proc.survivors() == []
    assert took < 30


@pytest.fixture
def full_dir(tmp_path):
    """A directory on a 64 KiB tmpfs (mounting needs root)."""
    path = tmp_path / "full"
    path.mkdir()
    if shutil.which("mount") is None or subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(path)],
            capture_output=True).returncode != 0:
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    yield path
    subprocess.run(["umount", "-l", str(path)], check=True)


def test_outdir_on_full_disk(tmp_path, full_dir):
    proc = Proc(clush_argv("-R", "exec", "-w", "n[1-3]", "--outdir", str(full_dir),
                           "head -c 200000 /dev/zero | tr '\\0' x; echo; sleep 30"),
                tmp_path, stdout=subprocess.DEVNULL)
    code, out, err, took = proc.finish(timeout=30)
    assert code == 1
    assert err.startswith(b"ERROR: [Errno 28] No space left on device: '%s/n"
                          % str(full_dir).encode())
    assert len(err.splitlines()) == 1
    assert proc.survivors() == []
    assert took < 20


def test_rcopy_to_full_disk(sshd, tmp_path, full_dir):
    source = tmp_path / "big"
    source.write_bytes(os.urandom(100000))
    proc = Proc(clush_argv("-o", sshd.ssh_options, "-S", "-w", "node[1-2]", "--rcopy",
                           str(source), "--dest", str(full_dir)), tmp_path)
    code, out, err, took = proc.finish(timeout=60)
    assert code == 1
    assert b"No space left on device" in err
    assert b"clush: node1: exited with exit code 1" in err
    assert not sshd.client_pids(settle=2.0)


@pytest.mark.slow
def test_ten_thousand_local_nodes(tmp_path):
    """10,000 nodes at fanout 256: every node's output, gathered."""
    proc = Proc(clush_argv("-R", "exec", "-f", "256", "-w", "n[1-10000]", "-b", "echo ok"),
                tmp_path)
    code, out, err, took = proc.finish(timeout=300)
    assert (code, without_progress(err)) == (0, b"")
    assert out == GATHER_HEADER % (b"n[1-10000]", 10000) + b"ok\n"
    assert proc.survivors() == []
