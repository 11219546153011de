"""ssh connection reuse (task info ssh_reuse, clusterpy/_sshmux.py) against
real sshds: the session's test sshd, and private ones a test starts, stops
and restarts.  Reuse is seen from the server side: a node reached through
its master shows the same client port in SSH_CONNECTION run after run."""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import pytest

import _sshd
from _sshd import only_on, recorder
from clusterpy import _sshmux
from clusterpy.NodeSet import NodeSet
from clusterpy.Worker.Rsh import _option_words
from clusterpy.Worker.Ssh import close_connections

REUSE_KEYS = ("ssh_reuse", "ssh_reuse_dir", "ssh_reuse_max")
PORT_CMD = 'set -- $SSH_CONNECTION; echo "$2"'


@pytest.fixture
def reuse_dir():
    """A short private socket directory; no master may outlive the test."""
    directory = tempfile.mkdtemp(prefix="cpmux-", dir="/tmp")
    yield directory
    try:
        close_connections_in(directory)
        assert not _sshmux.masters(directory), "masters left running"
        assert not os.listdir(directory), "sockets left"
    finally:
        shutil.rmtree(directory)


def close_connections_in(directory):
    return _sshmux.close_connections(None, directory)


@pytest.fixture
def reuse_task(ssh_task, reuse_dir):
    """ssh_task with reuse on (60 s) in reuse_dir; reuse keys restored."""
    saved = {key: ssh_task.info(key) for key in REUSE_KEYS}
    ssh_task.set_info("ssh_reuse", 60)
    ssh_task.set_info("ssh_reuse_dir", reuse_dir)
    yield ssh_task
    for key, value in saved.items():
        ssh_task.set_info(key, value)


def outcome(task, command, nodes, **kwargs):
    """{node: (events, stdout, stderr, rc)} of one run, and the worker."""
    rec = recorder()
    worker = task.shell(command, nodes=nodes, handler=rec, stderr=True, **kwargs)
    task.resume()
    result = {}
    for node in NodeSet(nodes):
        events = [ev for ev in rec.of(node) if ev[0] != "read"]
        reads = sorted(ev for ev in rec.of(node) if ev[0] == "read")
        rc = dict(worker.iter_node_retcodes()).get(node)
        result[node] = (events, reads, worker.node_buffer(node), worker.node_error(node), rc)
    return result, worker


def ports(task, nodes):
    """{node: client port seen by the node's sshd}."""
    worker = task.shell(PORT_CMD, nodes=nodes, stderr=True)
    task.resume()
    assert {rc for rc, _ in worker.iter_retcodes()} == {0}
    return {node: bytes(worker.node_buffer(node)) for node in NodeSet(nodes)}


def socket_of(task, node):
    return os.path.join(task.info("ssh_reuse_dir"), _sshmux.socket_name(
        node, task.info("ssh_user"), _option_words(task.info("ssh_options"), True)))


def master_of(task, node):
    path = socket_of(task, node)
    pids = [pid for pid, sock in _sshmux.masters(task.info("ssh_reuse_dir")) if sock == path]
    assert len(pids) == 1, (node, pids)
    return pids[0]


def wait_for(check, timeout=3.0):
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


# --- same results --------------------------------------------------------------

@pytest.fixture(params=["mux-client", "ssh-only"])
def mux_client(request, monkeypatch):
    """Reused connections through the mux client program, or through ssh
    alone (as where the program was not built)."""
    monkeypatch.setattr(_sshmux, "_PLAIN_CACHE", {})
    if request.param == "ssh-only":
        monkeypatch.setattr(_sshmux, "MUX_CLIENT", "/nonexistent/_sshmux_client")
    elif not os.access(_sshmux.MUX_CLIENT, os.X_OK):
        pytest.skip("the mux client is not built (python setup.py build_ext --inplace)")
    return request.param


def test_reuse_on_and_off_give_identical_results(ssh_task, reuse_dir, sshd, mux_client):
    nodes = "127.0.0.[2-6]"
    command = ("echo out; echo err >&2; printf tail; "
               + only_on(sshd, "127.0.0.3", "echo special; exit 3") + "; "
               + only_on(sshd, "127.0.0.6", "kill -9 $$"))
    fresh, _ = outcome(ssh_task, command, nodes)
    ssh_task.set_info("ssh_reuse_dir", reuse_dir)
    ssh_task.set_info("ssh_reuse", "yes")
    try:
        first, _ = outcome(ssh_task, command, nodes)
        assert len(_sshmux.masters(reuse_dir)) == 5
        before = ports(ssh_task, nodes)
        again, _ = outcome(ssh_task, command, nodes)
        assert ports(ssh_task, nodes) == before    # the same connections
    finally:
        ssh_task.set_info("ssh_reuse", 0)
        ssh_task.set_info("ssh_reuse_dir", "")
    assert fresh == first == again
    assert fresh["127.0.0.3"][4] == 3 and fresh["127.0.0.2"][2] == b"out\ntail"
    assert fresh["127.0.0.6"][4] == 255             # killed by a signal, as ssh says
    assert fresh["127.0.0.2"][0] == [("pickup", "127.0.0.2"), ("hup", "127.0.0.2", 0)]


def test_failures_and_timeouts_are_unchanged(reuse_task, sshd, mux_client):
    nodes = "127.0.0.[2-3],cp-refused"
    command = only_on(sshd, "127.0.0.3", "sleep 5")
    runs = []
    for reuse in (0, 60, 60):
        reuse_task.set_info("ssh_reuse", reuse)
        started = time.monotonic()
        result, worker = outcome(reuse_task, command, nodes, timeout=0.5)
        assert time.monotonic() - started < 4
        runs.append((result, sorted(worker.iter_keys_timeout())))
    assert runs[0] == runs[1] == runs[2]
    result, timeouts = runs[0]
    assert timeouts == ["127.0.0.3"]
    assert result["cp-refused"][4] == 255 and b"Connection refused" in result["cp-refused"][3]
    assert result["127.0.0.2"][4] == 0


def test_second_run_goes_through_the_mux_client(reuse_task, mux_client):
    lines = []
    reuse_task.set_info("print_debug", lambda task, line: lines.append(line))
    reuse_task.set_info("debug", True)
    for _ in range(2):
        worker = reuse_task.shell("echo ok", nodes="node1")
        reuse_task.resume()
        assert worker.node_buffer("node1") == b"ok"
    first, second = [line for line in lines if line.startswith("SSHCLIENT: ")]
    assert " ".join(first.split()[1:3]) != _sshmux.MUX_CLIENT
    assert (second.split()[1] == _sshmux.MUX_CLIENT) == (mux_client == "mux-client")


def test_ssh_n_gives_the_command_an_empty_stdin(reuse_task, sshd, mux_client):
    reuse_task.set_info("ssh_options", sshd.ssh_options + " -n")
    for _ in range(2):
        worker = reuse_task.shell("cat; echo end", nodes="node[1-2]")
        worker.write(b"not for cat\n")
        reuse_task.resume()
        assert worker.node_buffer("node2") == b"end"


def test_stdin_reaches_commands_through_masters(reuse_task, mux_client):
    for _ in range(2):
        worker = reuse_task.shell("cat", nodes="node[1-3]")
        worker.write(b"line one\nline two\n")
        worker.set_write_eof()
        reuse_task.resume()
        assert worker.node_buffer("node2") == b"line one\nline two"
    assert len(_sshmux.masters(reuse_task.info("ssh_reuse_dir"))) == 3


# --- recovery -----------------------------------------------------------------------

def test_killed_master_falls_back_to_a_fresh_connection(reuse_task, mux_client):
    nodes = "127.0.0.[2-4]"
    before = ports(reuse_task, nodes)
    os.kill(master_of(reuse_task, "127.0.0.3"), signal.SIGKILL)
    wait_for(lambda: len(_sshmux.masters(reuse_task.info("ssh_reuse_dir"))) == 2)
    assert os.path.exists(socket_of(reuse_task, "127.0.0.3"))     # stale socket left
    result, _ = outcome(reuse_task, "echo ok", nodes)
    assert {node: r[2:] for node, r in result.items()} == {
        node: (b"ok", None, 0) for node in NodeSet(nodes)}
    after = ports(reuse_task, nodes)
    assert after["127.0.0.2"] == before["127.0.0.2"]
    assert after["127.0.0.3"] != before["127.0.0.3"]                 # a new master
    assert len(_sshmux.masters(reuse_task.info("ssh_reuse_dir"))) == 3


def test_removed_socket_gives_a_new_master_and_cleanup_finds_the_old(reuse_task):
    before = ports(reuse_task, "node[1-2]")
    orphan = master_of(reuse_task, "node1")
    os.unlink(socket_of(reuse_task, "node1"))
    result, _ = outcome(reuse_task, "echo ok", "node[1-2]")
    assert result["node1"][2:] == (b"ok", None, 0)
    after = ports(reuse_task, "node[1-2]")
    assert after["node1"] != before["node1"] and after["node2"] == before["node2"]
    path = socket_of(reuse_task, "node1")
    titled = [pid for pid, sock in _sshmux.masters(reuse_task.info("ssh_reuse_dir"))
              if sock == path]
    assert orphan in titled and len(titled) == 2      # the orphan keeps its title
    assert close_connections(task=reuse_task) == 3                   # orphan included
    assert not _sshmux.masters(reuse_task.info("ssh_reuse_dir"))
    assert not os.path.exists("/proc/%d" % orphan) or _sshmux._gone(orphan)


def _descendants(pid):
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        try:
            for tid in os.listdir("/proc/%d/task" % current):
                with open("/proc/%d/task/%s/children" % (current, tid)) as fh:
                    kids = [int(p) for p in fh.read().split()]
                    found += kids
                    todo += kids
        except OSError:
            continue
    return found


@pytest.fixture
def own_sshd():
    why = _sshd.missing_binaries()
    if why:
        pytest.skip(why)
    server = _sshd.Sshd().start()
    yield server
    server.stop()


def test_sshd_restart_between_runs(reuse_task, own_sshd, tmp_path, mux_client):
    reuse_task.set_info("ssh_options", own_sshd.ssh_options)
    nodes = "127.0.0.[2-4]"
    before = ports(reuse_task, nodes)
    assert len(_sshmux.masters(reuse_task.info("ssh_reuse_dir"))) == 3
    # the listener stops: only the masters' connections remain
    sessions = _descendants(own_sshd.proc.pid)
    own_sshd.proc.terminate()
    own_sshd.proc.wait()
    own_sshd.proc = None
    assert ports(reuse_task, nodes) == before
    source = tmp_path / "motd"
    source.write_bytes(b"copied through a master\n")
    dest = tmp_path / "dest"
    dest.mkdir()
    worker = reuse_task.copy(str(source), str(dest) + "/", nodes=nodes)
    reuse_task.resume()
    assert dict(worker.iter_node_retcodes()) == {node: 0 for node in NodeSet(nodes)}
    assert (dest / "motd").read_bytes() == b"copied through a master\n"
    back = tmp_path / "back"
    back.mkdir()
    worker = reuse_task.rcopy(str(source), str(back), nodes=nodes)
    reuse_task.resume()
    assert sorted(os.listdir(back)) == ["motd.%s" % node for node in NodeSet(nodes)]
    # a node without a master: a fresh connection, refused
    worker = reuse_task.shell("true", nodes="127.0.0.9", stderr=True)
    reuse_task.resume()
    assert worker.node_retcode("127.0.0.9") == 255
    assert b"Connection refused" in bytes(worker.node_error("127.0.0.9"))
    # the whole sshd goes, then comes back on the same port
    for pid in sessions:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    wait_for(lambda: not _sshmux.masters(reuse_task.info("ssh_reuse_dir")))
    assert own_sshd._launch()
    result, _ = outcome(reuse_task, "echo back", nodes)
    assert {r[2:] for r in result.values()} == {(b"back", None, 0)}
    assert set(ports(reuse_task, nodes).values()).isdisjoint(before.values())
    close_connections(task=reuse_task)


# --- bounds, races, hangs ------------------------------------------------------------

def test_many_nodes_at_once(reuse_task):
    nodes = NodeSet.fromlist("127.0.1.%d" % i for i in range(1, 65))
    reuse_task.set_info("fanout", 64)
    first = ports(reuse_task, nodes)
    assert len(_sshmux.masters(reuse_task.info("ssh_reuse_dir"))) == 64
    assert ports(reuse_task, nodes) == first


class _FewStartupsSshd(_sshd.Sshd):
    """A private sshd taking at most 4 unauthenticated connections."""

    def _server_config(self, extra=()):
        return _sshd.Sshd._server_config(self, extra).replace("MaxStartups 1024",
                                                              "MaxStartups 4")


def test_reused_connections_are_not_new_startups(reuse_task):
    server = _FewStartupsSshd().start()
    try:
        reuse_task.set_info("ssh_options", server.ssh_options)
        nodes = NodeSet.fromlist("127.0.2.%d" % i for i in range(1, 13))
        reuse_task.set_info("fanout", 4)             # within MaxStartups
        first = ports(reuse_task, nodes)
        reuse_task.set_info("fanout", 12)            # beyond it: only sessions
        assert ports(reuse_task, nodes) == first
        assert len(_sshmux.masters(reuse_task.info("ssh_reuse_dir"))) == 12
        close_connections(task=reuse_task)
    finally:
        server.stop()


def test_bound_on_masters(reuse_task):
    reuse_task.set_info("ssh_reuse_max", 2)
    for _ in range(2):
        result, _ = outcome(reuse_task, "echo ok", "node[1-5]")
        assert {r[2:] for r in result.values()} == {(b"ok", None, 0)}
        assert len(_sshmux.masters(reuse_task.info("ssh_reuse_dir"))) == 2
        assert len(os.listdir(reuse_task.info("ssh_reuse_dir"))) == 2


def test_concurrent_workers_on_the_same_nodes(reuse_task):
    workers = [reuse_task.shell("echo w%d" % i, nodes="node[1-4]", stderr=True)
               for i in range(3)]
    reuse_task.resume()
    for i, worker in enumerate(workers):
        assert dict(worker.iter_node_retcodes()) == dict.fromkeys(NodeSet("node[1-4]"), 0)
        assert list(worker.iter_errors()) == []           # no "ControlSocket ... exists"
        assert bytes(worker.node_buffer("node3")) == b"w%d" % i
    assert len(_sshmux.masters(reuse_task.info("ssh_reuse_dir"))) == 4


def test_verbose_ssh_creates_no_master_and_does_not_hang(reuse_task, sshd):
    reuse_task.set_info("ssh_options", sshd.ssh_options + " -v")
    started = time.monotonic()
    worker = reuse_task.shell("echo ok", nodes="node[1-2]", stderr=True)
    reuse_task.resume()
    assert time.monotonic() - started < 5
    assert worker.node_buffer("node1") == b"ok"
    assert b"debug1:" in bytes(worker.node_error("node1"))
    assert not _sshmux.masters(reuse_task.info("ssh_reuse_dir"))


def test_masters_hold_no_pipe_of_the_worker(reuse_task):
    ports(reuse_task, "node[1-2]")
    for pid, _ in _sshmux.masters(reuse_task.info("ssh_reuse_dir")):
        targets = {os.readlink("/proc/%d/fd/%d" % (pid, fd)) for fd in (0, 1, 2)}
        assert targets == {"/dev/null"}


# --- cleanup ---------------------------------------------------------------------

def test_close_connections_of_some_nodes_then_all(reuse_task, sshd):
    ports(reuse_task, "node[1-4]")
    directory = reuse_task.info("ssh_reuse_dir")
    assert close_connections("node[1-2]", reuse_task) == 2
    assert len(_sshmux.masters(directory)) == 2 and len(os.listdir(directory)) == 2
    assert close_connections(task=reuse_task) == 2
    assert _sshmux.masters(directory) == [] and os.listdir(directory) == []
    assert not sshd.client_pids(settle=1.0)
    assert close_connections(task=reuse_task) == 0


def test_masters_expire_with_their_persist_time(reuse_task):
    reuse_task.set_info("ssh_reuse", 1)
    ports(reuse_task, "node1")
    assert len(_sshmux.masters(reuse_task.info("ssh_reuse_dir"))) == 1
    wait_for(lambda: not _sshmux.masters(reuse_task.info("ssh_reuse_dir")), timeout=5)
    assert os.listdir(reuse_task.info("ssh_reuse_dir")) == []


# --- settings ----------------------------------------------------------------------

@pytest.mark.parametrize("value, seconds", [
    (None, 0), (False, 0), (0, 0), ("no", 0), ("off", 0), ("", 0), (True, 600),
    ("yes", 600), ("on", 600), (30, 30), (2.5, 3), ("45", 45), ("10m", 600), ("1h", 3600),
    ("90s", 90)])
def test_parse_reuse(value, seconds):
    assert _sshmux.parse_reuse(value) == seconds


@pytest.mark.parametrize("value", ["abc", "-5", "10x", "nan", "inf", -1])
def test_parse_reuse_rejects(value):
    with pytest.raises(ValueError, match="ssh_reuse: invalid value"):
        _sshmux.parse_reuse(value)


def test_private_dir_checks(tmp_path):
    made = _sshmux.private_dir(str(tmp_path / "d"))
    assert os.stat(made).st_mode & 0o777 == 0o700
    os.chmod(made, 0o755)
    with pytest.raises(ValueError, match="open to other users"):
        _sshmux.private_dir(made)
    os.symlink(made, str(tmp_path / "link"))
    with pytest.raises(ValueError, match="not a directory"):
        _sshmux.private_dir(str(tmp_path / "link"))
    with pytest.raises(ValueError, match="characters long"):
        _sshmux.private_dir("/tmp/" + "x" * 80)


@pytest.mark.parametrize("text, value", [("10m", 600), ("yes", True), ("off", False),
                                         ("90", 90)])
def test_defaults_conf_key(tmp_path, text, value):
    from clusterpy.Defaults import Defaults
    conf = tmp_path / "defaults.conf"
    conf.write_text("[task.info]\nssh_reuse: %s\nssh_reuse_max: 7\n" % text)
    defaults = Defaults(str(conf))
    assert defaults.ssh_reuse == value and defaults.ssh_reuse_max == 7
    assert _sshmux.parse_reuse(defaults.ssh_reuse) == _sshmux.parse_reuse(value)
    conf.write_text("[task.info]\nssh_reuse: soon\n")
    with pytest.raises(ValueError, match="ssh_reuse"):
        Defaults(str(conf))


def test_bad_setting_is_a_worker_error(ssh_task):
    from clusterpy.Worker.Worker import WorkerError
    ssh_task.set_info("ssh_reuse", 60)
    ssh_task.set_info("ssh_reuse_dir", "/tmp")
    try:
        with pytest.raises(WorkerError, match="open to other users"):
            ssh_task.shell("true", nodes="node1")
            ssh_task.resume()
    finally:
        ssh_task.set_info("ssh_reuse", 0)
        ssh_task.set_info("ssh_reuse_dir", "")


def test_plain_session_words():
    plain = _sshmux._plain_flags
    assert plain(("ssh", "-oControlPath=x"), "node1") is None
    assert plain(("ssh", "-o", "RequestTTY force"), "node1") is None
    assert plain(("ssh", "-t"), "node1") is None and plain(("ssh", "-L", "1:h:2"), "n") is None
    assert plain(("ssh", "-o"), "node1") is None          # ssh -G fails: no fast path


def test_plain_session_flags(sshd, tmp_path):
    plain = _sshmux._plain_flags
    assert plain(("ssh", "-F", sshd.config, "-T"), "node1") == "-"
    assert plain(("ssh", "-nF", sshd.config), "node1") == "n"
    config = tmp_path / "cfg"
    config.write_text("Host *\n    RequestTTY force\n")
    assert plain(("ssh", "-F", str(config)), "node1") is None


def test_has_verbose():
    assert _sshmux.has_verbose(["-v"]) and _sshmux.has_verbose(["-4v"])
    assert _sshmux.has_verbose(["-F", "cfg", "-vvv"])
    assert not _sshmux.has_verbose(["-F", "-v", "-oLogLevel=v", "-l", "v", "--v"])


# --- clush ----------------------------------------------------------------------------

def clush(sshd, tmp_path, *args):
    env = dict(os.environ, CLUSTERSHELL_CFGDIR=str(tmp_path), HOME=str(tmp_path))
    env.pop("XDG_CONFIG_HOME", None)
    proc = subprocess.run([sys.executable, "-m", "clusterpy.CLI.Clush", "-o",
                           sshd.ssh_options] + list(args), env=env, capture_output=True,
                          timeout=60, stdin=subprocess.DEVNULL)
    return proc.returncode, proc.stdout, proc.stderr


def test_clush_option_and_close_connections(sshd, reuse_dir, tmp_path):
    base = ("-w", "node[1-3],cp-refused", "-b", "--retry", "1", "echo hi")
    fresh = clush(sshd, tmp_path, *base)
    reuse = ("-O", "ssh_reuse=60", "-O", "ssh_reuse_dir=" + reuse_dir)
    assert clush(sshd, tmp_path, *(reuse + base)) == fresh
    assert len(_sshmux.masters(reuse_dir)) == 3
    assert clush(sshd, tmp_path, *(reuse + base)) == fresh
    assert b"hi" in fresh[1] and b"cp-refused" in fresh[2]
    rc, out, err = clush(sshd, tmp_path, "-v", "-O", "ssh_reuse_dir=" + reuse_dir,
                         "-w", "node1", "--close-connections")
    assert (rc, out, err) == (0, b"", b"clush: 1 ssh connection(s) closed\n")
    assert len(_sshmux.masters(reuse_dir)) == 2
    (tmp_path / "clush.conf").write_text("[Main]\nssh_reuse_dir: %s\n" % reuse_dir)
    assert clush(sshd, tmp_path, "--close-connections") == (0, b"", b"")
    assert not _sshmux.masters(reuse_dir) and not os.listdir(reuse_dir)
    rc, _, err = clush(sshd, tmp_path, "-O", "ssh_reuse=soon", "-w", "node1", "true")
    assert rc == 1 and b"ssh_reuse: invalid value 'soon'" in err
