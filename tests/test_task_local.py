"""Task with local commands: buffers, return codes, events, timeouts, abort."""

import os
import signal
import sys
import time
import warnings

import pytest

from clusterpy.Event import EventHandler
from clusterpy.Task import TaskMsgTreeError, TimeoutError, task_self  # noqa: A004
from clusterpy.Worker.Exec import ExecWorker
from clusterpy.Worker.Popen import WorkerPopen
from clusterpy.Worker.Worker import FANOUT_UNLIMITED, WorkerError

from _events import Recorder


def test_local_buffer_and_retcode(task):
    worker = task.shell("echo hello; echo world")
    task.run()
    assert worker.read() == b"hello\nworld"
    assert worker.retcode() == 0
    assert task.max_retcode() == 0


def test_local_key(task):
    task.shell("printf 'a\\nb'", key="k1")
    task.shell("exit 3", key="k2")
    task.run()
    assert task.key_buffer("k1") == b"a\nb"
    assert task.key_retcode("k2") == 3
    assert task.max_retcode() == 3
    assert sorted(rc for rc, _ in task.iter_retcodes()) == [0, 3]
    with pytest.raises(KeyError):
        task.key_retcode("nope")


def test_empty_output_and_no_eol(task):
    empty = task.shell("true")
    noeol = task.shell("printf okay")
    task.run()
    assert empty.read() is None
    assert noeol.read() == b"okay"


def test_stderr_separate_or_merged(task):
    merged = task.shell("echo out; echo err >&2")
    separate = task.shell("echo out; echo err >&2", stderr=True)
    task.run()
    assert sorted(merged.read().split(b"\n")) == [b"err", b"out"]
    assert separate.read() == b"out"
    assert separate.error() == b"err"


def test_signal_gives_128_plus_signum(task):
    worker = task.shell("kill -TERM $$")
    task.run()
    assert worker.retcode() == 128 + signal.SIGTERM


def test_missing_command_through_shell(task):
    worker = task.shell("/nonexistent/cmd", stderr=True)
    task.run()
    assert worker.retcode() == 127
    assert b"/nonexistent/cmd" in worker.error()


def test_exec_worker_substitution_and_events(task):
    rec = Recorder()
    worker = task.shell("echo %h-%n; exit %n", nodes="n[0-2]", handler=rec, remote=False)
    assert isinstance(worker, ExecWorker)
    task.run()
    assert rec.kinds()[0] == "start"
    assert rec.kinds()[-1] == "close"
    assert sorted(e for e in rec.events if e[0] == "read") == [
        ("read", "n0", "stdout", b"n0-0"), ("read", "n1", "stdout", b"n1-1"),
        ("read", "n2", "stdout", b"n2-2")]
    for node in ("n0", "n1", "n2"):
        kinds = [e[0] for e in rec.events if len(e) > 1 and e[1] == node]
        assert kinds == ["pickup", "read", "hup"]
    assert task.node_buffer("n1") == b"n1-1"
    assert worker.node_retcode("n2") == 2
    assert sorted((rc, sorted(str(ns).split(","))) for rc, ns in worker.iter_retcodes()) == [
        (0, ["n0"]), (1, ["n1"]), (2, ["n2"])]
    assert rec.events[-1] == ("close", False)


def test_hosts_placeholder_runs_once(task):
    rec = Recorder()
    task.shell("echo %hosts", nodes="a,b", handler=rec, remote=False)
    task.run()
    assert sorted(e[1] for e in rec.events if e[0] == "pickup") == ["a", "b"]
    assert task.node_buffer("a") == b"a,b"
    assert task.node_buffer("b") == b"a,b"


def test_bad_placeholder(task):
    with pytest.raises(WorkerError):
        task.shell("echo %z", nodes="a", remote=False)
        task.run()
    task.abort()


def test_iter_buffers_gathers(task):
    task.shell("echo same", nodes="n[1-5]", remote=False)
    task.shell("echo other", nodes="m1", remote=False)
    task.run()
    got = sorted((bytes(msg), sorted(keys)) for msg, keys in task.iter_buffers())
    assert got == [(b"other", ["m1"]), (b"same", ["n1", "n2", "n3", "n4", "n5"])]
    assert [sorted(keys) for msg, keys in task.iter_buffers(match_keys=["n2", "m1"])] in (
        [["n2"], ["m1"]], [["m1"], ["n2"]])


def _big_lines_command(count, width, odd_node=None, odd_line=None):
    """Shell printing `count` lines of `width` 'x' bytes (plus newline);
    on `odd_node`, line number `odd_line` is made of 'y' instead."""
    odd = ""
    if odd_node is not None:
        odd = ' if (n == "%s" && i == %d) t = substr(s, 1, %d) "y"; else' % (
            odd_node, odd_line, width - 1)
    return ("awk -v n=%%h 'BEGIN{s=\"x\"; while (length(s) < %d) s = s s; s = substr(s, 1, %d);"
            " for (i = 0; i < %d; i++) {%s t = s; print t}}'" % (width, width, count, odd))


def test_big_identical_lines_are_kept_once(task):
    width = 100000
    task.shell(_big_lines_command(4, width), nodes="n[1-6]", remote=False)
    task.run()
    groups = [(list(msg.lines()), sorted(keys)) for msg, keys in task.iter_buffers()]
    assert len(groups) == 1
    lines, keys = groups[0]
    assert keys == ["n%d" % i for i in range(1, 7)]
    assert lines == [b"x" * width] * 4
    assert task.node_buffer("n3") == b"\n".join([b"x" * width] * 4)
    # one bytes object per line, whatever the number of nodes
    tree = task._msgtree("stdout")
    assert len({id(part) for parts in tree._keys.values() for part in parts}) <= 4


def test_big_lines_differing_on_one_node(task):
    width = 100000
    task.shell(_big_lines_command(3, width, "n2", 1), nodes="n[1-4]", remote=False)
    task.run()
    groups = sorted((list(msg.lines()), sorted(keys)) for msg, keys in task.iter_buffers())
    x, y = b"x" * width, b"x" * (width - 1) + b"y"
    assert groups == [([x, x, x], ["n1", "n3", "n4"]), ([x, y, x], ["n2"])]
    tree = task._msgtree("stdout")
    tree.remove(lambda key: key[1] in ("n1", "n3"))
    assert sorted(sorted(keys) for _, keys in task.iter_buffers()) == [["n2"], ["n4"]]


def test_worker_timeout(task):
    rec = Recorder()
    worker = task.shell("echo start; sleep 10", nodes="n[1-2]", handler=rec, timeout=0.3,
                        remote=False)
    t0 = time.monotonic()
    task.run()
    assert time.monotonic() - t0 < 5
    assert task.num_timeout() == 2
    assert sorted(task.iter_keys_timeout()) == ["n1", "n2"]
    assert worker.did_timeout()
    assert not [e for e in rec.events if e[0] == "hup"]
    assert rec.events[-1] == ("close", True)
    assert task.node_buffer("n1") == b"start"


def test_task_timeout_raises(task):
    task.shell("sleep 10")
    t0 = time.monotonic()
    with pytest.raises(TimeoutError):
        task.run(timeout=0.3)
    assert time.monotonic() - t0 < 5


def test_abort_worker_from_read(task):
    class AbortOnRead(EventHandler):
        def ev_read(self, worker, node, sname, msg):
            worker.abort()
            worker.abort()  # harmless

    task.shell("echo ok; sleep 30", nodes="localhost", handler=AbortOnRead(), remote=False)
    t0 = time.monotonic()
    task.run()
    assert time.monotonic() - t0 < 5
    assert task.max_retcode() is None
    assert task.node_buffer("localhost") == b"ok"


def test_abort_worker_with_pending_clients_closes_it(task):
    rec = Recorder()

    class AbortFirst(Recorder):
        def ev_read(self, worker, node, sname, msg):
            worker.abort()

        def ev_close(self, worker, timedout):
            rec.events.append(("close", timedout))

    task.set_info("fanout", 2)
    task.shell("echo %h; sleep 30", nodes="n[1-10]", handler=AbortFirst(), remote=False)
    t0 = time.monotonic()
    task.run()
    assert time.monotonic() - t0 < 5
    assert rec.events == [("close", False)]


def test_task_abort_from_handler(task):
    class AbortTask(EventHandler):
        def ev_read(self, worker, node, sname, msg):
            worker.task.abort()

    task.shell("echo go; sleep 30", handler=AbortTask())
    task.shell("sleep 30")
    t0 = time.monotonic()
    task.run()
    assert time.monotonic() - t0 < 5


def test_exception_in_handler_propagates_and_cleans_up(task):
    class Boom(EventHandler):
        def ev_read(self, worker, node, sname, msg):
            raise ValueError("boom")

    task.shell("echo x; sleep 30", handler=Boom())
    task.shell("sleep 30")
    with pytest.raises(ValueError):
        task.run()
    assert not task.running()


def test_write_and_eof(task):
    rec = Recorder()
    worker = task.shell("cat", handler=rec)
    worker.write(b"line one\n")
    worker.write(b"line two\n")
    worker.set_write_eof()
    task.run()
    assert worker.read() == b"line one\nline two"
    written = sum(e[3] for e in rec.events if e[0] == "written")
    assert written == len(b"line one\nline two\n")


def test_write_from_handler(task):
    class Echo(EventHandler):
        count = 0

        def ev_start(self, worker):
            worker.write(b"ping\n")

        def ev_read(self, worker, node, sname, msg):
            self.count += 1
            if self.count < 3:
                worker.write(b"again\n")
            else:
                worker.set_write_eof()

    echo = Echo()
    worker = task.shell("cat", handler=echo)
    task.run()
    assert echo.count == 3
    assert worker.read() == b"ping\nagain\nagain"


def test_stdin_disabled(task):
    worker = task.shell("cat; echo done", stdin=False)
    task.run()
    assert worker.read() == b"done"


def test_broadcast_write_to_exec_worker(task):
    worker = task.shell("cat", nodes="n[1-20]", remote=False)
    worker.write(b"to all\n")
    worker.set_write_eof()
    task.run()
    assert [(bytes(m), len(k)) for m, k in task.iter_buffers()] == [(b"to all", 20)]


class Concurrency(EventHandler):
    """Counts the commands running at once, and the most seen."""

    def __init__(self):
        EventHandler.__init__(self)
        self.running = self.most = 0

    def ev_pickup(self, worker, node):
        self.running += 1
        self.most = max(self.most, self.running)

    def ev_hup(self, worker, node, rc):
        self.running -= 1


def test_fanout_is_respected(task):
    task.set_info("fanout", 3)
    count = Concurrency()
    task.shell("sleep 0.05", nodes="n[1-12]", handler=count, remote=False)
    task.run()
    assert count.most == 3
    assert task.max_retcode() == 0


def test_worker_fanout(task):
    task.set_info("fanout", 2)
    count = Concurrency()
    worker = ExecWorker(nodes="n[1-10]", handler=count, command="sleep 0.1")
    worker._fanout = FANOUT_UNLIMITED
    task.schedule(worker)
    task.run()
    assert count.most == 10


def test_autoclose_worker_does_not_hold_the_task(task):
    worker = task.shell("sleep 30", autoclose=True)
    short = task.shell("echo short")
    t0 = time.monotonic()
    task.run()
    assert time.monotonic() - t0 < 5
    assert short.read() == b"short"
    assert worker.read() is None
    task.abort()  # ends the autoclose command


def test_timers(task):
    class Tick(EventHandler):
        def __init__(self):
            self.fired = []

        def ev_timer(self, timer):
            self.fired.append(time.monotonic())
            if len(self.fired) == 3:
                timer.invalidate()

    once, repeat = Tick(), Tick()
    t0 = time.monotonic()
    task.timer(0.05, handler=once)
    rtimer = task.timer(0.01, handler=repeat, interval=0.02)
    task.run()
    assert len(once.fired) == 1 and once.fired[0] - t0 >= 0.05
    assert len(repeat.fired) == 3
    assert not rtimer.is_valid()


def test_timer_order_and_set_nextfire(task):
    order = []

    class Named(EventHandler):
        def __init__(self, name):
            self.name = name

        def ev_timer(self, timer):
            order.append(self.name)
            if self.name == "again" and order.count("again") == 1:
                timer.set_nextfire(0.2)

    for name in ("a", "b", "c"):
        task.timer(0.05, handler=Named(name))
    task.timer(0.0, handler=Named("again"))
    task.run()
    # equal deadlines fire in the order they were armed; set_nextfire re-arms
    assert order == ["again", "a", "b", "c", "again"]


def test_autoclose_timer(task):
    class Tick(EventHandler):
        count = 0

        def ev_timer(self, timer):
            Tick.count += 1

    task.timer(0.01, handler=Tick(), interval=0.01, autoclose=True)
    task.shell("sleep 0.2")
    task.run()
    assert 2 <= Tick.count <= 40


def test_legacy_handler_signatures_warn(task):
    class Legacy(EventHandler):
        def __init__(self):
            self.reads = []

        def ev_read(self, worker):
            self.reads.append(worker.current_msg)

        def ev_hup(self, worker):
            self.rc = worker.current_rc

    legacy = Legacy()
    task.shell("echo a; echo b", handler=legacy)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        task.run()
    assert legacy.reads == [b"a", b"b"]
    assert legacy.rc == 0
    assert len(caught) == 3 and all(issubclass(w.category, DeprecationWarning) for w in caught)


def test_huge_output_discarded_without_reader(task):
    task.set_default("stdout_msgtree", False)
    try:
        worker = task.shell("seq 1000000")
        task.run()
        assert worker.retcode() == 0
        with pytest.raises(TaskMsgTreeError):
            task.iter_buffers()
    finally:
        task.set_default("stdout_msgtree", True)


def test_many_lines_through_ev_read(task):
    class Count(EventHandler):
        n = 0
        last = None

        def ev_read(self, worker, node, sname, msg):
            self.n += 1
            self.last = msg

    count = Count()
    task.shell("seq 200000", handler=count)
    task.run()
    assert count.n == 200000 and count.last == b"200000"


def test_engine_names():
    from clusterpy.Engine.Factory import PreferredEngine
    info = {}
    assert PreferredEngine("poll", info).identifier == "poll"
    assert info["engine"] == "poll"
    assert PreferredEngine("auto", {}).identifier == "epoll"
    assert PreferredEngine("select", {})._backend == "poll"
    with pytest.raises(KeyError):
        PreferredEngine("nope", {})


def test_epolling_replaced_by_a_poll_only_poller():
    # ClusterShell's own tests swap EngineEPoll.epolling for an object with
    # just poll(); its errors must come out of runloop()
    import errno
    from clusterpy.Engine.EPoll import EngineEPoll

    class BadPoller(object):
        def poll(self, *args):
            raise IOError(errno.EBADF, "injected error")

    engine = EngineEPoll({})
    engine.epolling.close()
    engine.epolling = BadPoller()
    engine.evlooprefcnt = 1
    with pytest.raises(IOError):
        engine.runloop(None)


def test_polling_replaced_by_a_poll_only_poller():
    import errno
    from clusterpy.Engine.Poll import EnginePoll

    seen = []

    class BadPoller(object):
        def poll(self, timeout=None):
            seen.append(timeout)
            raise OSError(errno.EBADF, "poller gone")

    engine = EnginePoll({})
    engine.polling.close()
    engine.polling = BadPoller()
    engine.evlooprefcnt = 1
    with pytest.raises(OSError, match="poller gone"):
        engine.runloop(2.5)
    assert len(seen) == 1 and 2000 < seen[0] <= 2500     # milliseconds


class _FakeSelect(object):
    """Stands for the select module in clusterpy.Engine.Select: counts the
    calls, raises `fail` (an OSError) from the first `times` of them."""

    error = OSError

    def __init__(self, fail=None, times=0):
        self.calls = []
        self.fail, self.times = fail, times

    def select(self, *args):
        self.calls.append(args)
        if len(self.calls) <= self.times:
            raise self.fail
        return [], [], []


@pytest.fixture
def fake_select():
    import clusterpy.Engine.Select as select_engine
    real = select_engine.select
    fakes = []

    def install(*args):
        fakes.append(_FakeSelect(*args))
        select_engine.select = fakes[-1]
        return fakes[-1]

    yield install
    select_engine.select = real


def test_select_replaced_errors_come_out_of_runloop(fake_select, caplog):
    # as ClusterShell 1.10.1 code does to simulate a failing select():
    # replace the module's name "select" with an object whose select() raises
    import errno
    from clusterpy.Engine.Select import EngineSelect

    fake = fake_select(OSError(errno.EINVAL, "injected error"), 1)
    engine = EngineSelect({})
    engine.evlooprefcnt = 1
    try:
        with pytest.raises(OSError, match="injected error"):
            engine.runloop(None)
    finally:
        engine.release()
    assert fake.calls == [([], [], [], 0)]
    assert "Increase RLIMIT_NOFILE?" in caplog.text


def _echo_in_new_thread(engine):
    """Run 'echo %h' on n[1-3] in the task_self() of a new thread made with
    DEFAULTS.engine set to `engine`; return that task's engine name and its
    sorted outputs."""
    import threading
    from clusterpy.Defaults import DEFAULTS
    results = {}

    def in_thread():
        DEFAULTS.engine = engine
        try:
            task = task_self()
        finally:
            DEFAULTS.engine = "auto"
        worker = task.shell("echo %h", nodes="n[1-3]", remote=False)
        task.run()
        results["engine"] = task.info("engine")
        results["out"] = sorted(bytes(m) for m, _ in worker.iter_buffers())
        task.abort(kill=True)

    thread = threading.Thread(target=in_thread)
    thread.start()
    thread.join()
    assert DEFAULTS.engine == "auto"
    return results


def test_select_replaced_eintr_retries_and_commands_still_run(fake_select):
    import errno

    fake = fake_select(InterruptedError(errno.EINTR, "interrupted"), 2)
    results = _echo_in_new_thread("select")
    assert results == {"engine": "select", "out": [b"n1", b"n2", b"n3"]}
    # the two EINTR passes were started again, then each pass asked again
    assert len(fake.calls) > 2 and all(c == ([], [], [], 0) for c in fake.calls)


@pytest.mark.parametrize("engine", ["epoll", "poll", "select"])
def test_each_engine_runs_commands(engine):
    results = _echo_in_new_thread(engine)
    assert results == {"engine": engine, "out": [b"n1", b"n2", b"n3"]}


def test_tree_option_runs_directly_without_topology(task):
    worker = task.shell("echo %h", nodes="n1", tree=True, remote=False)
    task.run()
    assert worker.node_buffer("n1") == b"n1"


def test_popen_needs_a_command():
    with pytest.raises(ValueError):
        WorkerPopen(None)


def test_resume_twice_in_a_row(task):
    first = task.shell("echo 1")
    task.run()
    second = task.shell("echo 2")
    task.run()
    assert second.read() == b"2"
    assert first.read() is None  # results are per run


def test_debug_print(task):
    lines = []
    task.set_info("print_debug", lambda t, s: lines.append(s))
    task.set_info("debug", True)
    try:
        task.shell("echo dbg")
        task.run()
    finally:
        task.set_info("debug", False)
    assert "POPEN: echo dbg" in lines
    assert "LINE b'dbg'" in lines


if sys.platform != "linux":  # pragma: no cover
    pytestmark = pytest.mark.skip("Linux only")


def test_task_usable_after_a_timer_handler_raised(task):
    class Boom(EventHandler):
        def ev_timer(self, timer):
            raise ValueError("from a timer")

    task.timer(0.01, handler=Boom())
    with pytest.raises(ValueError):
        task.run()
    worker = task.shell("echo again", nodes="n1", remote=False)
    task.run(timeout=10)
    assert worker.node_buffer("n1") == b"again"


def test_clear_removes_every_client_even_if_a_handler_raises(task):
    class FailOnHup(EventHandler):
        def ev_hup(self, worker, node, rc):
            raise RuntimeError("hup")

    class AbortSoon(EventHandler):
        def ev_timer(self, timer):
            task.abort()

    # the first command has ended (its hup pending) when the task aborts
    task.shell("true", handler=FailOnHup(), autoclose=True)
    task.shell("sleep 30")
    task.timer(0.3, handler=AbortSoon())
    t0 = time.monotonic()
    try:
        task.run()
    except RuntimeError:
        pass
    assert time.monotonic() - t0 < 10
    assert not task._engine._clients


def test_fanout_change_during_run_applies_to_waiting_nodes(task):
    class Count(EventHandler):
        running = 0
        most_after = 0
        changed = False

        def ev_pickup(self, worker, node):
            Count.running += 1
            if Count.changed:
                Count.most_after = max(Count.most_after, Count.running)

        def ev_hup(self, worker, node, rc):
            Count.running -= 1

    class Shrink(EventHandler):
        def ev_timer(self, timer):
            task.set_info("fanout", 1)
            Count.changed = True

    task.set_info("fanout", 4)
    task.shell("sleep 0.2", nodes="n[1-12]", handler=Count(), remote=False)
    task.timer(0.1, handler=Shrink())
    task.run()
    # the 4 first ones were running at the change; every node started after
    # it ran alone
    assert Count.changed and Count.most_after == 1
    assert task.max_retcode() == 0


def test_out_of_fds_raises_and_leaves_nothing(task):
    import errno
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    used = len(os.listdir("/proc/self/fd"))
    task.set_info("fanout", 1000)
    for _ in range(100):
        task.shell("sleep 0.2")
    resource.setrlimit(resource.RLIMIT_NOFILE, (used + 40, hard))
    try:
        with pytest.raises(OSError) as exc:
            task.run()
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert exc.value.errno == errno.EMFILE
    assert not task._engine._clients


def test_signals_wake_the_reactor_during_a_run(task):
    seen = []

    class Peek(EventHandler):
        def ev_timer(self, timer):
            fd = signal.set_wakeup_fd(-1)
            signal.set_wakeup_fd(fd)
            seen.append(fd)

    before = signal.set_wakeup_fd(-1)
    signal.set_wakeup_fd(before)
    task.timer(0.01, handler=Peek())
    task.run()
    after = signal.set_wakeup_fd(-1)
    signal.set_wakeup_fd(after)
    assert seen and seen[0] != -1 and seen[0] != before
    assert after == before


def test_signal_handler_runs_while_the_loop_waits(task):
    fired = []

    def on_alarm(signum, frame):
        fired.append(time.monotonic())

    previous = signal.signal(signal.SIGALRM, on_alarm)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.05, 0.05)
        task.shell("sleep 0.5")
        task.run()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert len(fired) >= 5
