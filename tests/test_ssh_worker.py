"""WorkerSsh running commands on nodes through the test sshd: results by
node, events, stdin broadcast, failures of single nodes, timeouts, abort,
fanout."""
import getpass
import os
import time

import pytest

from _sshd import abort_on_timer, only_on, recorder
from clusterpy.Event import EventHandler
from clusterpy.NodeSet import NodeSet
from clusterpy.Worker.Ssh import WorkerSsh


def by_nodes(pairs):
    """{bytes(message) or rc: NodeSet} from iter_buffers()/iter_retcodes()."""
    return {(msg if isinstance(msg, int) else bytes(msg)): NodeSet.fromlist(nodes)
            for msg, nodes in pairs}


def test_default_distant_worker_is_ssh(ssh_task):
    worker = ssh_task.shell("echo ok", nodes="node1")
    assert isinstance(worker, WorkerSsh)
    ssh_task.resume()
    assert worker.node_buffer("node1") == b"ok"
    assert ssh_task.run("false", nodes="node2").node_retcode("node2") == 1


def test_results_by_node(ssh_task):
    nodes = NodeSet("node[1-2],127.0.0.[2-3]")
    worker = ssh_task.shell("echo out; echo err >&2; exit 3", nodes=nodes, stderr=True)
    ssh_task.resume()
    for node in nodes:
        assert worker.node_buffer(node) == b"out"
        assert worker.node_error(node) == b"err"
        assert worker.node_retcode(node) == 3
    assert by_nodes(worker.iter_buffers()) == {b"out": nodes}
    assert by_nodes(worker.iter_errors()) == {b"err": nodes}
    assert by_nodes(worker.iter_retcodes()) == {3: nodes}
    assert dict(worker.iter_node_retcodes()) == {node: 3 for node in nodes}
    assert ssh_task.max_retcode() == 3
    with pytest.raises(KeyError):
        worker.node_retcode("node9")


def test_stderr_merged_by_default(ssh_task):
    ssh_task.set_default("stderr", False)
    worker = ssh_task.shell("echo out; echo err >&2", nodes="node1")
    ssh_task.resume()
    assert worker.node_buffer("node1") == b"out\nerr"
    assert worker.node_error("node1") is None


def test_different_outputs_are_gathered_by_message(ssh_task, sshd):
    nodes = "127.0.0.[2-5]"
    cmd = "echo common; " + only_on(sshd, "127.0.0.4", "echo special")
    worker = ssh_task.shell(cmd, nodes=nodes)
    ssh_task.resume()
    assert by_nodes(worker.iter_buffers()) == {
        b"common": NodeSet("127.0.0.[2-3,5]"), b"common\nspecial": NodeSet("127.0.0.4")}


def test_event_order_and_values_per_node(ssh_task):
    rec = recorder()
    nodes = NodeSet("node[1-3]")
    worker = ssh_task.shell("echo a; echo b >&2; printf c", nodes=nodes, handler=rec,
                            stderr=True)
    ssh_task.resume()
    assert rec.events[0] == ("start",)
    assert rec.events[-1] == ("close", False)
    assert rec.kinds().count("start") == rec.kinds().count("close") == 1
    for node in nodes:
        events = rec.of(node)
        assert events[0] == ("pickup", node)
        assert events[-1] == ("hup", node, 0)
        reads = events[1:-1]
        assert sorted(reads) == sorted([("read", node, "stdout", b"a"),
                                        ("read", node, "stderr", b"b"),
                                        ("read", node, "stdout", b"c")])
        # each stream keeps its own order
        assert [ev[3] for ev in reads if ev[2] == "stdout"] == [b"a", b"c"]
    assert worker.node_buffer("node2") == b"a\nc"


def test_many_lines_per_node(ssh_task):
    worker = ssh_task.shell("seq 1 20000", nodes="127.0.0.[2-4]")
    ssh_task.resume()
    expected = b"\n".join(b"%d" % i for i in range(1, 20001))
    for node in NodeSet("127.0.0.[2-4]"):
        assert worker.node_buffer(node) == expected


def test_ssh_failures_are_reported_per_node(ssh_task):
    ssh_task.set_info("connect_timeout", 2)
    nodes = "node1,cp-refused,cp-wrongkey,cp-silent"
    start = time.monotonic()
    worker = ssh_task.shell("echo ok", nodes=nodes, stderr=True)
    ssh_task.resume()
    assert time.monotonic() - start < 15
    assert worker.node_buffer("node1") == b"ok"
    assert worker.node_retcode("node1") == 0
    assert b"Connection refused" in worker.node_error("cp-refused")
    assert b"Permission denied" in worker.node_error("cp-wrongkey")
    assert b"timed out" in worker.node_error("cp-silent")
    for node in ("cp-refused", "cp-wrongkey", "cp-silent"):
        assert worker.node_retcode(node) == 255
        assert worker.node_buffer(node) is None
    assert by_nodes(worker.iter_retcodes()) == {
        0: NodeSet("node1"), 255: NodeSet("cp-refused,cp-wrongkey,cp-silent")}


def test_unroutable_node_ends_within_connect_timeout(ssh_task):
    ssh_task.set_info("connect_timeout", 1)
    start = time.monotonic()
    worker = ssh_task.shell("echo ok", nodes="cp-blackhole,node1")
    ssh_task.resume()
    assert time.monotonic() - start < 10
    assert worker.node_retcode("cp-blackhole") == 255
    assert worker.node_buffer("node1") == b"ok"


def test_remote_command_failures(ssh_task, sshd):
    nodes = "127.0.0.[2-4]"
    cmd = "%s; %s; echo alive" % (only_on(sshd, "127.0.0.3", "no-such-command-cp; exit $?"),
                                  only_on(sshd, "127.0.0.4", "kill -9 $$"))
    worker = ssh_task.shell(cmd, nodes=nodes, stderr=True)
    ssh_task.resume()
    assert worker.node_retcode("127.0.0.2") == 0
    assert worker.node_buffer("127.0.0.2") == b"alive"
    # a missing command: 127, as the remote shell says
    assert worker.node_retcode("127.0.0.3") == 127
    assert b"not found" in worker.node_error("127.0.0.3")
    assert worker.node_buffer("127.0.0.3") is None
    # killed by a signal on the remote side: ssh reports 255
    assert worker.node_retcode("127.0.0.4") == 255
    assert worker.node_buffer("127.0.0.4") is None
    worker = ssh_task.shell("no-such-command-cp", nodes="node1")
    ssh_task.resume()
    assert worker.node_retcode("node1") == 127


def test_stdin_broadcast(ssh_task):
    rec = recorder()
    nodes = NodeSet("node[1-4]")
    worker = ssh_task.shell("cat; echo end", nodes=nodes, handler=rec)
    worker.write(b"line 1\n")
    worker.write(b"line 2\n")
    worker.set_write_eof()
    ssh_task.resume()
    for node in nodes:
        assert worker.node_buffer(node) == b"line 1\nline 2\nend"
        written = sum(ev[3] for ev in rec.of(node) if ev[0] == "written")
        assert written == 14


def test_write_from_a_handler_to_another_worker(ssh_task):
    class Relay(EventHandler):
        def __init__(self, target):
            EventHandler.__init__(self)
            self.target = target

        def ev_read(self, worker, node, sname, msg):
            self.target.write(node.encode() + b":" + msg + b"\n")
            self.target.set_write_eof()

    reader = ssh_task.shell("cat", nodes="node1")
    ssh_task.shell("sleep 0.5; echo foobar", nodes="node2", handler=Relay(reader))
    ssh_task.resume()
    assert reader.node_buffer("node1") == b"node2:foobar"


def test_stdin_closed_when_task_stdin_is_off(ssh_task):
    worker = ssh_task.shell("cat; echo done", nodes="node1", stdin=False)
    ssh_task.resume()
    assert worker.node_buffer("node1") == b"done"


def test_worker_timeout_on_one_node(ssh_task, sshd):
    rec = recorder()
    nodes = "127.0.0.[2-4]"
    cmd = "echo start; %s; echo end" % only_on(sshd, "127.0.0.3", "sleep 30")
    start = time.monotonic()
    worker = ssh_task.shell(cmd, nodes=nodes, handler=rec, timeout=4)
    ssh_task.resume()
    assert time.monotonic() - start < 20
    assert worker.num_timeout() == 1
    assert list(worker.iter_keys_timeout()) == ["127.0.0.3"]
    assert ssh_task.num_timeout() == 1
    assert worker.did_timeout()
    assert worker.node_buffer("127.0.0.3") == b"start"
    for node in ("127.0.0.2", "127.0.0.4"):
        assert worker.node_buffer(node) == b"start\nend"
        assert worker.node_retcode(node) == 0
    assert not [ev for ev in rec.of("127.0.0.3") if ev[0] == "hup"]
    assert rec.events[-2:] == [("timeout",), ("close", True)]


def test_abort_from_a_timer_ends_every_ssh(ssh_task, sshd):
    rec = recorder()
    worker = ssh_task.shell("echo up; sleep 30", nodes="node[1-6]", handler=rec)
    aborter = abort_on_timer(worker)
    ssh_task.timer(2.0, handler=aborter)
    start = time.monotonic()
    ssh_task.resume()
    assert aborter.fired
    assert time.monotonic() - start < 15
    assert sshd.client_pids() == []
    assert rec.kinds().count("hup") == 0
    assert rec.events[-1] == ("close", False)
    assert list(worker.iter_retcodes()) == []


def test_abort_before_run_is_harmless(ssh_task):
    worker = ssh_task.shell("sleep 1", nodes="node1")
    worker.abort()
    WorkerSsh("node1", command="sleep 1", handler=None, timeout=None).abort()
    ssh_task.resume()
    assert list(worker.iter_retcodes()) == []


def test_fanout_bounds_ssh_processes(ssh_task, sshd):
    """500 nodes at fanout 64: never more than 64 ssh at once, by the
    events and by the processes seen running."""

    class Count(EventHandler):
        def __init__(self):
            EventHandler.__init__(self)
            self.running = self.max_running = self.hups = 0
            self.max_children = 0

        def ev_pickup(self, worker, node):
            self.running += 1
            self.max_running = max(self.max_running, self.running)

        def ev_hup(self, worker, node, rc):
            self.running -= 1
            self.hups += 1

        def ev_timer(self, timer):
            running = _running_children() - {sshd.proc.pid}
            self.max_children = max(self.max_children, len(running))

    ssh_task.set_info("fanout", 64)
    count = Count()
    nodes = NodeSet("127.0.[0-1].[1-250]")
    worker = ssh_task.shell("true", nodes=nodes, handler=count)
    ssh_task.timer(0.05, handler=count, interval=0.05, autoclose=True)
    ssh_task.resume()
    assert count.hups == 500
    assert count.max_running == 64
    assert 1 < count.max_children <= 64
    assert by_nodes(worker.iter_retcodes()) == {0: nodes}


def _running_children():
    """Pids of this process's children, zombies left out."""
    pids = set()
    for tid in os.listdir("/proc/self/task"):
        try:
            with open("/proc/self/task/%s/children" % tid) as fh:
                pids.update(int(pid) for pid in fh.read().split())
        except OSError:
            pass
    running = set()
    for pid in pids:
        try:
            with open("/proc/%d/stat" % pid, "rb") as fh:
                stat = fh.read()
        except OSError:
            continue
        if stat[stat.rfind(b")") + 2:][:1] != b"Z":
            running.add(pid)
    return running


def test_fanout_across_workers(ssh_task):
    ssh_task.set_info("fanout", 2)
    workers = [ssh_task.shell("echo %d" % i, nodes="node1") for i in range(10)]
    ssh_task.resume()
    assert [w.node_buffer("node1") for w in workers] == [b"%d" % i for i in range(10)]


def test_no_placeholder_substitution_in_ssh_commands(ssh_task):
    # as ClusterShell: %h and %n are only replaced by the exec worker
    worker = ssh_task.shell("echo %h %n", nodes="node1")
    ssh_task.resume()
    assert worker.node_buffer("node1") == b"%h %n"


def test_shell_escapes_reach_the_remote_shell(ssh_task):
    worker = ssh_task.shell(r"export CSTEST=foobar; /bin/echo \$CSTEST | sed 's/\ foo/bar/'",
                            nodes="node1")
    worker2 = ssh_task.shell(r"export CSTEST=foobar; /bin/echo $CSTEST", nodes="node2")
    ssh_task.resume()
    assert worker.node_buffer("node1") == b"$CSTEST"
    assert worker2.node_buffer("node2") == b"foobar"


def test_ssh_path_user_and_quoted_options(ssh_task, sshd):
    ssh_task.set_info("ssh_path", "/usr/bin/ssh -C")
    ssh_task.set_info("ssh_user", getpass.getuser())
    ssh_task.set_info("ssh_options", sshd.ssh_options + " -o 'ServerAliveInterval 30'")
    worker = ssh_task.shell("id -un", nodes="node1")
    ssh_task.resume()
    assert worker.node_buffer("node1") == getpass.getuser().encode()
    assert worker.node_retcode("node1") == 0


def test_tilde_is_expanded_in_path_and_options(ssh_task, sshd, tmp_path, monkeypatch):
    (tmp_path / "bin").mkdir()
    os.symlink("/usr/bin/ssh", str(tmp_path / "bin" / "myssh"))
    os.symlink(sshd.config, str(tmp_path / "cfg"))
    monkeypatch.setenv("HOME", str(tmp_path))
    ssh_task.set_info("ssh_path", "~/bin/myssh")
    ssh_task.set_info("ssh_options", "-F ~/cfg")
    worker = ssh_task.shell("echo tilde", nodes="node1")
    ssh_task.resume()
    assert worker.node_buffer("node1") == b"tilde"


def test_missing_ssh_binary_gives_255_for_every_node(ssh_task):
    ssh_task.set_info("ssh_path", "/nonexistent/ssh")
    worker = ssh_task.shell("echo ok", nodes="node[1-3]")
    ssh_task.resume()
    assert by_nodes(worker.iter_retcodes()) == {255: NodeSet("node[1-3]")}
    assert ssh_task.max_retcode() == 255


def test_debug_prints_the_ssh_command_line(ssh_task, sshd):
    lines = []
    ssh_task.set_info("print_debug", lambda task, line: lines.append(line))
    ssh_task.set_info("debug", True)
    ssh_task.set_info("connect_timeout", 5)
    ssh_task.shell("echo hi", nodes="node1")
    ssh_task.resume()
    expected = ("SSHCLIENT: ssh -F %s -oForwardAgent=no -oForwardX11=no "
                "-oConnectTimeout=5 -oBatchMode=yes node1 echo hi" % sshd.config)
    assert expected in lines
    assert "node1: b'hi'" in lines     # as ClusterShell prints it


def test_explicit_worker_needs_a_command_or_a_source(ssh_task):
    with pytest.raises(ValueError):
        WorkerSsh("node1", None, None)
    worker = WorkerSsh("node[1-2]", command="/bin/echo alright", handler=None, timeout=10)
    ssh_task.schedule(worker)
    ssh_task.resume()
    assert worker.command == "/bin/echo alright"
    assert by_nodes(worker.iter_buffers()) == {b"alright": NodeSet("node[1-2]")}
