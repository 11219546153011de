"""The test sshd fixture (tests/_sshd.py), checked with plain ssh, scp and
pdsh subprocesses: what the distant worker tests rely on."""
import hashlib
import os
import subprocess
import time

import pytest


def run(argv, **kwargs):
    return subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=60,
                          **kwargs)


def test_ssh_runs_commands_on_mapped_names_and_loopback_addresses(sshd):
    for node in ("node1", "node42", "localhost", "127.0.0.1", "127.0.0.2", "127.0.1.7"):
        res = run(sshd.ssh_argv(node, "echo hello; exit 3"))
        assert (res.returncode, res.stdout, res.stderr) == (3, b"hello\n", b""), node


def test_ssh_options_string_works_with_ssh_and_scp(sshd, tmp_path):
    src = tmp_path / "src"
    src.write_bytes(os.urandom(100000))
    dst = tmp_path / "dst"
    opts = sshd.ssh_options.split()
    res = run(["scp"] + opts + [str(src), "[node3]:%s" % dst])
    assert res.returncode == 0, res.stderr
    assert dst.read_bytes() == src.read_bytes()
    res = run(["ssh"] + opts + ["node3", "sha1sum %s" % dst])
    assert res.stdout.split()[0].decode() == hashlib.sha1(src.read_bytes()).hexdigest()


def test_failure_hosts(sshd):
    res = run(sshd.ssh_argv("cp-wrongkey", "true"))
    assert res.returncode == 255 and b"Permission denied" in res.stderr
    res = run(sshd.ssh_argv("cp-refused", "true"))
    assert res.returncode == 255 and b"Connection refused" in res.stderr
    start = time.monotonic()
    res = run(["ssh", "-F", sshd.config, "-oConnectTimeout=1", "cp-silent", "true"])
    assert res.returncode == 255 and b"timed out" in res.stderr
    assert time.monotonic() - start < 10


def test_clients_never_touch_home_ssh_dir(sshd):
    home_ssh = os.path.expanduser("~/.ssh")

    def state():
        if not os.path.isdir(home_ssh):
            return None
        return sorted((name, os.stat(os.path.join(home_ssh, name)).st_mtime_ns)
                      for name in os.listdir(home_ssh))

    before = state()
    assert run(sshd.ssh_argv("127.0.0.9", "true")).returncode == 0
    assert state() == before
    with open(sshd.config) as fh:
        assert "~" not in fh.read()


def test_pdsh_through_ssh(pdsh_sshd):
    res = run(["pdsh", "-w", "node[1-3]", "echo hi; exit 4"])
    assert sorted(res.stdout.splitlines()) == [b"node1: hi", b"node2: hi", b"node3: hi"]
    # pdsh reports each remote failure on stderr
    assert res.stderr.count(b"exited with exit code 4") == 3


def test_pdsh_reports_unreachable_node(pdsh_sshd):
    res = run(["pdsh", "-w", "node1,cp-refused", "echo hi"])
    assert res.stdout.splitlines() == [b"node1: hi"]
    assert b"cp-refused: ssh exited with exit code 255" in res.stderr


def test_pdcp_and_rpdcp_through_ssh(pdsh_sshd, tmp_path):
    src = tmp_path / "payload"
    src.write_bytes(b"payload\n")
    outdir = tmp_path / "out"
    outdir.mkdir()
    res = run(["pdcp", "-w", "node1", str(src), str(outdir / "copied")])
    assert res.returncode == 0, res.stderr
    assert (outdir / "copied").read_bytes() == b"payload\n"
    back = tmp_path / "back"
    back.mkdir()
    res = run(["rpdcp", "-w", "node[1-2]", str(src), str(back)])
    assert res.returncode == 0, res.stderr
    assert sorted(os.listdir(back)) == ["payload.node1", "payload.node2"]


def test_sshd_can_be_started_and_stopped_alone(tmp_path):
    import _sshd
    if _sshd.missing_binaries():
        pytest.skip(_sshd.missing_binaries())
    with _sshd.Sshd() as server:
        tmpdir, proc = server.tmpdir, server.proc
        assert run(server.ssh_argv("node1", "echo ok")).stdout == b"ok\n"
    assert proc.returncode is not None
    assert not os.path.exists(tmpdir)
