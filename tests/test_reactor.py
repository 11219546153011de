"""The Reactor (clusterpy._reactor) with real processes, pipes and sockets.

Each test that takes the ``reactor`` fixture runs three times: epoll,
poll, and epoll with the waitpid exit path (no pidfd).
"""
import errno
import gc
import os
import signal
import socket
import threading
import time
from collections import defaultdict

import pytest

from clusterpy._reactor import (
    CP_EV_DATA, CP_EV_EOF, CP_EV_EXIT, CP_EV_LINES, CP_EV_SPAWNERR,
    CP_EV_START, CP_EV_TIMEOUT, CP_EV_TIMER, CP_EV_WAKE, CP_EV_WCLOSED,
    CP_EV_WRITTEN, CP_FD_CLOSE, CP_FD_READ, CP_FD_WRITE, CP_MODE_DISCARD,
    CP_MODE_RAW, CP_REC_WORDS, CP_SPAWN_ERR_DISCARD, CP_SPAWN_OUT_RAW,
    CP_SPAWN_STDERR_MERGE, CP_SPAWN_STDIN_NULL, CP_STDERR, CP_STDOUT,
    Reactor, live_reactors)

VARIANTS = {"epoll": {}, "poll": {"backend": "poll"},
            "waitpid": {"no_pidfd": True}}


@pytest.fixture(params=sorted(VARIANTS))
def reactor(request):
    r = Reactor(**VARIANTS[request.param])
    yield r
    held = {k: v for k, v in r.counters().items() if v}
    r.close()
    assert not held, "reactor resources left: %r" % held


def req(argv, env=None, cwd=None, flags=0, group=0, timeout=None):
    return (argv, env, cwd, flags, group, timeout)


def sh(script, **kw):
    return req(["sh", "-c", script], **kw)


class Loop:
    """Runs poll() and files every record by kind."""

    def __init__(self, r):
        self.r = r
        self.lines = defaultdict(list)      # (id, stream) -> [bytes]
        self.data = defaultdict(bytearray)  # (id, stream) -> raw bytes
        self.eof = {}                       # (id, stream) -> line count
        self.start, self.exit, self.spawnerr = {}, {}, {}
        self.timeouts = set()
        self.written = defaultdict(int)
        self.wclosed = {}
        self.timers = []
        self.wakes = 0
        self.empty_polls = 0
        self.order = []                     # (type, id, stream)

    def pump(self, timeout=0.1):
        words, arena = self.r.poll(timeout)
        if not words:
            self.empty_polls += 1
        for i in range(0, len(words), CP_REC_WORDS):
            kind, id_, a, b = words[i:i + CP_REC_WORDS]
            t, s = kind & 0xff, kind >> 8
            self.order.append((t, id_, s))
            if t == CP_EV_LINES:
                self.lines[id_, s].extend(arena[a:a + b].split(b"\n"))
            elif t == CP_EV_DATA:
                self.data[id_, s] += arena[a:a + b]
            elif t == CP_EV_EOF:
                self.eof[id_, s] = a
            elif t == CP_EV_START:
                self.start[id_] = a
            elif t == CP_EV_EXIT:
                self.exit[id_] = a
            elif t == CP_EV_SPAWNERR:
                self.spawnerr[id_] = a
            elif t == CP_EV_TIMEOUT:
                self.timeouts.add(id_)
            elif t == CP_EV_WRITTEN:
                self.written[id_] += a
            elif t == CP_EV_WCLOSED:
                self.wclosed[id_] = a
            elif t == CP_EV_TIMER:
                self.timers.append((id_, a))
            elif t == CP_EV_WAKE:
                self.wakes += 1
        return len(words) // CP_REC_WORDS

    def until(self, cond, timeout=30.0, step=0.1):
        deadline = time.monotonic() + timeout
        while not cond():
            assert time.monotonic() < deadline, "timed out waiting"
            self.pump(step)

    def ended(self, ids):
        ids = list(ids)
        return lambda: all(i in self.exit or i in self.spawnerr for i in ids)


# -- children -------------------------------------------------------------

def test_2000_children_fanout_64(reactor):
    reactor.set_fanout(64)
    reqs, expect = [], []
    for i in range(2000):
        if i % 10 == 0:
            reqs.append(sh("exit %d" % (i % 256)))
            expect.append(i % 256)
        else:
            reqs.append(req(["true" if i % 2 else "false"]))
            expect.append(0 if i % 2 else 1)
    ids = reactor.spawn(reqs)
    assert len(set(ids)) == 2000
    loop = Loop(reactor)
    running = peak = 0
    seen = 0
    deadline = time.monotonic() + 120
    while len(loop.exit) < 2000:
        assert time.monotonic() < deadline
        loop.pump(1)
        for t, _, _ in loop.order[seen:]:
            if t == CP_EV_START:
                running += 1
                peak = max(peak, running)
            elif t == CP_EV_EXIT:
                running -= 1
        seen = len(loop.order)
        assert reactor.counters()["children"] <= 64
    assert peak == 64
    assert [loop.exit[i] for i in ids] == expect
    assert not loop.spawnerr


def test_signal_exit_status(reactor):
    ids = reactor.spawn([req(["sleep", "30"]), sh("kill -KILL $$"),
                         sh("kill -TERM $$")])
    loop = Loop(reactor)
    loop.until(lambda: ids[0] in loop.start)
    reactor.kill(ids[0], signal.SIGTERM)
    loop.until(loop.ended(ids))
    assert [loop.exit[i] for i in ids] == [-signal.SIGTERM, -signal.SIGKILL,
                                          -signal.SIGTERM]
    reactor.poll(0)     # an ended child's id lasts until the next poll
    with pytest.raises(OSError) as exc:
        reactor.kill(ids[0], signal.SIGTERM)
    assert exc.value.errno == errno.ESTALE


def test_million_lines_in_order(reactor):
    (cid,) = reactor.spawn([sh("seq 1 400000 >&2 & seq 1 600000; wait")])
    loop = Loop(reactor)
    loop.until(loop.ended([cid]))
    assert loop.exit[cid] == 0
    for stream, n in ((CP_STDOUT, 600000), (CP_STDERR, 400000)):
        got = loop.lines[cid, stream]
        assert len(got) == n
        assert b"\n".join(got) == "\n".join(map(str, range(1, n + 1))).encode()
        assert loop.eof[cid, stream] == n
    # every line record came before EXIT
    assert loop.order[-1] == (CP_EV_EXIT, cid, 0)


def test_10mb_stderr_while_stdout_quiet(reactor):
    size = 10 * 1024 * 1024
    (cid,) = reactor.spawn([sh("yes 0123456789abcdefghijklmnopqrstuvwxyz"
                               " | head -c %d >&2; sleep 0.2" % size)])
    loop = Loop(reactor)
    loop.until(loop.ended([cid]))
    err = loop.lines[cid, CP_STDERR]
    assert sum(len(line) + 1 for line in err) - 1 == size   # last one partial
    assert set(err[:-1]) == {b"0123456789abcdefghijklmnopqrstuvwxyz"}
    assert (cid, CP_STDOUT) not in loop.lines
    assert loop.eof[cid, CP_STDOUT] == 0
    assert loop.exit[cid] == 0


def test_4mib_to_stdin(reactor, tmp_path):
    target = tmp_path / "out"
    (cid,) = reactor.spawn([req(["sh", "-c", 'cat > "$1"', "sh", str(target)])])
    payload = os.urandom(4 * 1024 * 1024)
    for off in range(0, len(payload), 1 << 20):     # some before START
        reactor.write(cid, payload[off:off + (1 << 20)])
    reactor.write_eof(cid)
    with pytest.raises(OSError) as exc:
        reactor.write(cid, b"too late")
    assert exc.value.errno == errno.EPIPE
    loop = Loop(reactor)
    loop.until(loop.ended([cid]))
    assert loop.exit[cid] == 0
    assert loop.written[cid] == len(payload)
    assert loop.wclosed[cid] == 0
    assert target.read_bytes() == payload


def test_write_many(reactor):
    ids = reactor.spawn([req(["cat"]) for _ in range(5)])
    reactor.abort(ids[4])
    assert reactor.write_many(ids, b"one\ntwo\n") == 4      # stale one skipped
    assert reactor.counters()["queued"] == 4 * 8
    for cid in ids[:4]:
        reactor.write_eof(cid)
    loop = Loop(reactor)
    loop.until(loop.ended(ids[:4]))
    for cid in ids[:4]:
        assert loop.lines[cid, CP_STDOUT] == [b"one", b"two"]
        assert loop.written[cid] == 8


def test_write_takes_any_buffer_and_huge_timeouts(reactor):
    (cid,) = reactor.spawn([req(["cat"], timeout=1e12)])    # ~forever
    reactor.write(cid, bytearray(b"from bytearray\n"))
    reactor.write(cid, memoryview(b"xfrom memoryview\n")[1:])
    assert reactor.write_many([cid], bytearray(b"many\n")) == 1
    reactor.write_eof(cid)
    loop = Loop(reactor)
    loop.until(loop.ended([cid]))
    assert loop.lines[cid, CP_STDOUT] == [b"from bytearray", b"from memoryview",
                                          b"many"]
    reactor.timer_add(0)
    assert reactor.poll(1e12)[0][0] == CP_EV_TIMER      # no int overflow


def test_epipe_is_an_event(reactor):
    (cid,) = reactor.spawn([sh("exec 0<&-; sleep 0.3")])
    reactor.write(cid, b"x" * (1 << 20))
    loop = Loop(reactor)
    loop.until(loop.ended([cid]))
    assert loop.wclosed[cid] == errno.EPIPE
    assert loop.exit[cid] == 0
    assert reactor.counters()["queued"] == 0


def test_child_timeout(reactor):
    t0 = time.monotonic()
    (cid,) = reactor.spawn([sh("echo started; printf partial; exec sleep 30",
                               timeout=0.3)])
    loop = Loop(reactor)
    loop.until(loop.ended([cid]))
    assert 0.25 < time.monotonic() - t0 < 10
    assert cid in loop.timeouts
    assert loop.exit[cid] == -signal.SIGKILL
    assert loop.lines[cid, CP_STDOUT] == [b"started", b"partial"]
    assert (cid, CP_STDOUT) not in loop.eof
    kinds = [t for t, i, _ in loop.order if i == cid]
    assert kinds.index(CP_EV_TIMEOUT) < kinds.index(CP_EV_EXIT)


def test_abort_running_and_pending(reactor):
    reactor.set_fanout(1)
    ids = reactor.spawn([req(["sleep", "30"]), req(["true"])])
    loop = Loop(reactor)
    loop.until(lambda: ids[0] in loop.start)
    assert reactor.abort(ids[1]) is None
    t0 = time.monotonic()
    assert reactor.abort(ids[0]) == -signal.SIGKILL
    assert time.monotonic() - t0 < 2
    # until the next poll, the ids answer with their status; then stale
    assert reactor.abort(ids[0]) == -signal.SIGKILL
    assert reactor.child_status(ids[1]) == (True, None)
    before = len(loop.order)
    loop.pump(0.1)
    assert all(i not in ids for _, i, _ in loop.order[before:])
    with pytest.raises(OSError) as exc:
        reactor.abort(ids[0])
    assert exc.value.errno == errno.ESTALE


def test_ended_id_valid_until_next_poll(reactor):
    """A handler of the batch that reported an exit can still ask for it."""
    ids = reactor.spawn([sh("exit 5"), req(["clusterpy-no-such-command"]),
                         req(["sleep", "30"])])
    assert reactor.child_status(ids[0]) == (False, None)
    ended = {}
    deadline = time.monotonic() + 30
    while len(ended) < 2:
        assert time.monotonic() < deadline, "timed out waiting"
        words, _ = reactor.poll(0.1)
        batch = []
        for i in range(0, len(words), CP_REC_WORDS):
            kind, cid, a, _ = words[i:i + CP_REC_WORDS]
            if kind & 0xff in (CP_EV_EXIT, CP_EV_SPAWNERR):
                ended[cid] = a
                batch.append(cid)
        # in the same batch: status, abort (nothing done), writes refused
        for cid in batch:
            want = 5 if cid == ids[0] else None
            assert reactor.child_status(cid) == (True, want)
            assert reactor.abort(cid) == want
            with pytest.raises(OSError) as exc:
                reactor.write(cid, b"x")
            assert exc.value.errno == errno.EPIPE
        assert reactor.child_status(ids[2]) == (False, None)
    assert ended[ids[0]] == 5 and ids[1] in ended
    reactor.poll(0)
    for cid in ids[:2]:
        with pytest.raises(OSError) as exc:
            reactor.child_status(cid)
        assert exc.value.errno == errno.ESTALE
    assert reactor.abort_many([ids[2]]) == [-signal.SIGKILL]


def test_abort_many(reactor):
    """One call aborts many: all killed first, reaped together, no records."""
    reactor.set_fanout(40)
    runners = [sh("trap '' TERM; echo up; sleep 30") if n % 2 else
               req(["sleep", "30"]) for n in range(40)]
    ids = reactor.spawn(runners + [req(["true"])] * 20)
    loop = Loop(reactor)
    loop.until(lambda: sum(1 for i in ids[:40] if i in loop.start) == 40
               and len(loop.lines) == 20)
    pids = [loop.start[i] for i in ids[:40]]
    t0 = time.monotonic()
    statuses = reactor.abort_many(ids + [ids[0], 12345])
    assert time.monotonic() - t0 < 1.5     # not a wait per child
    assert statuses == [-signal.SIGKILL] * 40 + [None] * 20 + [-signal.SIGKILL, None]
    counters = reactor.counters()
    assert counters["pending"] == counters["fds"] == counters["slots"] == 0
    assert reactor.abort_many([]) == []
    before = len(loop.order)
    # reaped (on a very slow machine, some by the orphan timer)
    loop.until(lambda: reactor.counters()["children"] == 0)
    for pid in pids:        # not even a zombie
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    loop.pump(0.1)
    assert all(i not in ids for _, i, _ in loop.order[before:])
    assert reactor.abort_many(ids[:3]) == [None] * 3     # stale now


def test_missing_and_unexecutable_binary(reactor, tmp_path):
    script = tmp_path / "noexec"
    script.write_text("#!/bin/sh\necho hi\n")
    script.chmod(0o644)
    ids = reactor.spawn([req(["clusterpy-no-such-command"]),
                         req(["/nonexistent/bin/x"]), req([str(script)]),
                         req(["pwd"], cwd=str(tmp_path / "missing"))])
    loop = Loop(reactor)
    loop.until(loop.ended(ids))
    assert [loop.spawnerr[i] for i in ids] == [errno.ENOENT, errno.ENOENT,
                                              errno.EACCES, errno.ENOENT]
    assert not loop.start and not loop.exit


def test_cwd_env_argv(reactor, tmp_path):
    (tmp_path / "here").mkdir()
    # one env dict per request, made on the fly: each must keep its own
    ids = reactor.spawn(req(["env"], env={"N": str(i)}) for i in range(20))
    loop = Loop(reactor)
    loop.until(loop.ended(ids))
    assert [loop.lines[cid, CP_STDOUT] for cid in ids] == [
        [b"N=%d" % i] for i in range(20)]
    ids = reactor.spawn([
        req(["pwd"], cwd=str(tmp_path / "here")),
        req(["env"], env={"A": "1", "B": "x y"}),
        req([b"printf", b"%s|", "\u00e9t\u00e9", b"\xff"]),
        req(["sh", "-c", "echo $0 $1", "zero", "one"], env={}),
    ])
    loop = Loop(reactor)
    loop.until(loop.ended(ids))
    assert loop.lines[ids[0], CP_STDOUT] == [str(tmp_path / "here").encode()]
    assert sorted(loop.lines[ids[1], CP_STDOUT]) == [b"A=1", b"B=x y"]
    assert loop.lines[ids[2], CP_STDOUT] == ["\u00e9t\u00e9|".encode() + b"\xff|"]
    assert loop.lines[ids[3], CP_STDOUT] == [b"zero one"]


def test_own_process_group_default_sigpipe_no_fd_leak(reactor):
    leak_r, leak_w = os.pipe()
    os.set_inheritable(leak_r, True)    # even inheritable fds stay behind
    try:
        ids = reactor.spawn([
            sh("echo $$ $(cut -d' ' -f5 /proc/$$/stat)"),
            sh("yes | head -n 1"),
            req(["ls", "/proc/self/fd"]),
        ])
        loop = Loop(reactor)
        loop.until(loop.ended(ids))
    finally:
        os.close(leak_r)
        os.close(leak_w)
    pid, pgid = loop.lines[ids[0], CP_STDOUT][0].split()
    assert int(pid) == int(pgid) == loop.start[ids[0]]
    assert int(pgid) != os.getpgrp()
    assert loop.lines[ids[1], CP_STDOUT] == [b"y"]
    assert (ids[1], CP_STDERR) not in loop.lines     # no "Broken pipe"
    assert loop.lines[ids[2], CP_STDOUT] == [b"0", b"1", b"2", b"3"]


def test_kill_reaches_grandchildren(reactor):
    (cid,) = reactor.spawn([sh("sleep 30 & echo $!; wait")])
    loop = Loop(reactor)
    loop.until(lambda: (cid, CP_STDOUT) in loop.lines)
    grandchild = int(loop.lines[cid, CP_STDOUT][0])
    reactor.kill(cid, signal.SIGKILL)
    loop.until(loop.ended([cid]))
    assert loop.exit[cid] == -signal.SIGKILL
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            with open("/proc/%d/stat" % grandchild) as fh:
                if fh.read().rsplit(")", 1)[1].split()[0] in "ZX":
                    break
        except OSError:
            break
        time.sleep(0.01)
    else:
        pytest.fail("grandchild %d survived" % grandchild)


def test_modes_raw_discard_merge(reactor):
    ids = reactor.spawn([
        sh("printf 'a\\nb'", flags=CP_SPAWN_OUT_RAW),
        sh("seq 1 1000 >&2; echo kept", flags=CP_SPAWN_ERR_DISCARD),
        sh("echo out; echo err >&2", flags=CP_SPAWN_STDERR_MERGE | CP_SPAWN_STDIN_NULL),
        sh("sleep 0.2; seq 1 5"),
    ])
    reactor.stream_mode(ids[3], CP_STDOUT, CP_MODE_DISCARD)
    with pytest.raises(OSError):
        reactor.stream_mode(ids[2], CP_STDERR, CP_MODE_RAW)   # merged: none
    with pytest.raises(OSError) as exc:
        reactor.write(ids[2], b"x")                            # no stdin
    assert exc.value.errno == errno.EPIPE
    loop = Loop(reactor)
    loop.until(loop.ended(ids))
    assert bytes(loop.data[ids[0], CP_STDOUT]) == b"a\nb"
    assert (ids[1], CP_STDERR) not in loop.lines
    assert loop.eof[ids[1], CP_STDERR] == 1000
    assert loop.lines[ids[1], CP_STDOUT] == [b"kept"]
    assert loop.lines[ids[2], CP_STDOUT] == [b"out", b"err"]
    assert (ids[2], CP_STDERR) not in loop.eof
    assert loop.eof[ids[3], CP_STDOUT] == 5
    assert (ids[3], CP_STDOUT) not in loop.lines


def test_line_rules_and_pieces():
    with Reactor(line_max=64, arena_cap=4096) as r:
        (cid,) = r.spawn([sh("printf 'a\\r\\nb\\rc\\n\\n'; head -c 150 /dev/zero"
                             " | tr '\\0' x; echo; printf last")])
        loop = Loop(r)
        loop.until(loop.ended([cid]))
        assert loop.lines[cid, CP_STDOUT] == [
            b"a", b"b\rc", b"", b"x" * 64, b"x" * 64, b"x" * 22, b"last"]


def test_small_event_array_loses_nothing():
    with Reactor(ev_cap=4) as r:
        ids = r.spawn([sh("seq 1 3000; seq 1 2000 >&2") for _ in range(8)])
        loop = Loop(r)
        loop.until(loop.ended(ids))
        for cid in ids:
            assert loop.lines[cid, CP_STDOUT] == [b"%d" % i for i in range(1, 3001)]
            assert loop.lines[cid, CP_STDERR] == [b"%d" % i for i in range(1, 2001)]


def test_groups(reactor):
    g = reactor.group_new(2)
    ids = reactor.spawn([req(["sleep", "0.05"], group=g) for _ in range(6)]
                        + [req(["true"])])
    assert reactor.counters()["groups"] == 1
    with pytest.raises(OSError) as exc:
        reactor.group_free(g)
    assert exc.value.errno == errno.EBUSY
    loop = Loop(reactor)
    running = peak = seen = 0
    while not loop.ended(ids)():
        loop.pump(0.1)
        for t, i, _ in loop.order[seen:]:
            if i in ids[:6]:
                running += (t == CP_EV_START) - (t == CP_EV_EXIT)
                peak = max(peak, running)
        seen = len(loop.order)
    assert peak == 2
    reactor.group_free(g)
    with pytest.raises(OSError):
        reactor.spawn([req(["true"], group=g)])


# -- user fds ---------------------------------------------------------------

def test_user_fd_pipe_read_and_write(reactor):
    rfd, wfd = os.pipe()
    rid = reactor.fd_add(rfd, CP_FD_READ | CP_FD_CLOSE)
    wid = reactor.fd_add(wfd, CP_FD_WRITE | CP_FD_CLOSE)
    reactor.write(wid, b"one\r\ntwo\n")
    reactor.write(wid, b"three")
    reactor.write_eof(wid)
    loop = Loop(reactor)
    loop.until(lambda: (rid, 0) in loop.eof)
    assert loop.lines[rid, 0] == [b"one", b"two", b"three"]
    assert loop.eof[rid, 0] == 3
    assert loop.wclosed[wid] == 0 and loop.written[wid] == 14
    with pytest.raises(OSError) as exc:
        reactor.fd_remove(rid)      # ended by itself after EOF
    assert exc.value.errno == errno.ESTALE


def test_partial_line_taken_before_dropping_a_stream(reactor):
    rfd, wfd = os.pipe()
    rid = reactor.fd_add(rfd, CP_FD_READ | CP_FD_CLOSE)
    os.write(wfd, b"whole\nunfinished")
    loop = Loop(reactor)
    loop.until(lambda: loop.lines[rid, 0])
    assert loop.lines[rid, 0] == [b"whole"]
    assert reactor.partial(rid) == b"unfinished"
    assert reactor.partial(rid) == b""
    reactor.fd_remove(rid)
    os.close(wfd)


def test_poll_view_slices_survive_partial(reactor):
    """poll_view() gives a buffer over the arena, sliced into bytes; taking
    a partial line meanwhile (from a handler) does not write into it."""
    rfd, wfd = os.pipe()
    rid = reactor.fd_add(rfd, CP_FD_READ | CP_FD_CLOSE)
    os.write(wfd, b"first\nsecond\nunfinished")
    got = []
    for _ in range(100):
        words, buf = reactor.poll_view(1.0)
        for i in range(0, len(words), CP_REC_WORDS):
            kind, id_, a, b = words[i:i + CP_REC_WORDS]
            if kind & 0xff == CP_EV_LINES and id_ == rid:
                assert reactor.partial(rid) == b"unfinished"
                got.append(buf[a:a + b])
        if got:
            break
    assert got == [b"first\nsecond"] and type(got[0]) is bytes
    assert reactor.partial(rid) == b""
    reactor.fd_remove(rid)
    os.close(wfd)


def test_user_fd_socketpair(reactor):
    ours, theirs = socket.socketpair()
    theirs.settimeout(10)
    try:
        sid = reactor.fd_add(ours.fileno(), CP_FD_READ | CP_FD_WRITE)
        reactor.write(sid, b"ping\n")
        loop = Loop(reactor)
        loop.until(lambda: loop.written[sid] == 5)
        assert theirs.recv(16) == b"ping\n"
        theirs.sendall(b"pong\nlast")
        theirs.shutdown(socket.SHUT_WR)
        loop.until(lambda: (sid, 0) in loop.eof)
        assert loop.lines[sid, 0] == [b"pong", b"last"]
        reactor.write_eof(sid)
        loop.until(lambda: sid in loop.wclosed)
        assert theirs.recv(16) == b""       # our side shut down for writing
    finally:
        ours.close()
        theirs.close()


# -- timers, wake-ups, signals -------------------------------------------------

def test_timers(reactor):
    t3 = reactor.timer_add(0.06)
    t1 = reactor.timer_add(0.02)
    t2 = reactor.timer_add(0.04)
    rep = reactor.timer_add(0.01, 0.01)
    gone = reactor.timer_add(0.01)
    moved = reactor.timer_add(0.01)
    reactor.timer_cancel(gone)
    reactor.timer_set(moved, 0.1)
    loop = Loop(reactor)
    loop.until(lambda: any(i == moved for i, _ in loop.timers), step=0.5)
    oneshots = [i for i, a in loop.timers if i != rep]
    assert oneshots == [t1, t2, t3, moved]
    assert all(a == 0 for i, a in loop.timers if i != rep)
    assert sum(1 for i, a in loop.timers if i == rep and a == 1) >= 5
    assert gone not in dict(loop.timers)
    with pytest.raises(OSError) as exc:
        reactor.timer_set(t1, 1)        # a fired one-shot's id is over
    assert exc.value.errno == errno.ESTALE
    reactor.timer_cancel(rep)
    assert reactor.counters()["timers"] == 0


def test_wake_from_another_thread(reactor):
    thread = threading.Timer(0.2, reactor.wake)
    thread.start()
    t0 = time.monotonic()
    words, _ = reactor.poll(None)       # would block for ever otherwise
    thread.join()
    assert time.monotonic() - t0 < 5
    assert words == [CP_EV_WAKE, 0, 0, 0]


def test_eintr_runs_handler_and_loop_goes_on(reactor):
    hits = []
    old = signal.signal(signal.SIGALRM, lambda *a: hits.append(1))
    try:
        tid = reactor.timer_add(0.5)
        signal.setitimer(signal.ITIMER_REAL, 0.05, 0.05)
        loop = Loop(reactor)
        loop.until(lambda: loop.timers, step=None)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    assert loop.timers == [(tid, 0)]
    assert len(hits) >= 3
    assert loop.empty_polls >= 3        # EINTR returned ([], b"")


# -- the Reactor object ------------------------------------------------------

def test_close_kills_everything_and_is_idempotent():
    r = Reactor()
    r.set_fanout(2)
    ids = r.spawn([sh("sleep 30 & sleep 30") for _ in range(4)])
    loop = Loop(r)
    loop.until(lambda: len(loop.start) == 2)
    rfd, wfd = os.pipe()
    r.fd_add(rfd, CP_FD_READ | CP_FD_CLOSE)
    r.timer_add(100, 1)
    r.write(ids[3], b"queued")
    assert r.counters()["children"] == 2 and r.counters()["pending"] == 2
    assert r in live_reactors()
    r.close()
    r.close()
    os.close(wfd)
    assert r.closed and r not in live_reactors()
    r.wake()                            # harmless once closed
    with pytest.raises(ValueError):
        r.poll(0)
    with pytest.raises(ValueError):
        r.spawn([req(["true"])])
    for pid in loop.start.values():
        with pytest.raises(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)


def test_context_manager_and_attributes():
    with Reactor(backend="poll", no_pidfd=True) as r:
        assert r.backend == "poll" and not r.closed
        assert r.counters() == dict.fromkeys(
            ("slots", "fds", "children", "pending", "timers", "groups", "queued"), 0)
        assert r.poll(0) == ([], b"")
        assert r.spawn([]) == []
    assert r.closed
    with pytest.raises(ValueError):
        Reactor(backend="kqueue")
    with pytest.raises(ValueError):
        Reactor(line_max=1 << 20, arena_cap=1 << 20)


def test_unclosed_reactor_warns_and_frees():
    r = Reactor()
    r.spawn([req(["sleep", "30"])])
    while not r.counters()["children"]:
        r.poll(0.1)
    with pytest.warns(ResourceWarning):
        del r
        gc.collect()
    # the fixture checks that the child was killed and reaped


def test_bad_requests_raise_oserror(reactor):
    with pytest.raises(OSError) as exc:
        reactor.spawn([req([])])
    assert exc.value.errno == errno.EINVAL
    with pytest.raises(OSError) as exc:
        reactor.spawn([req(["true"], group=99)])
    assert exc.value.errno == errno.EINVAL
    with pytest.raises(OSError) as exc:
        reactor.write(12345, b"x")
    assert exc.value.errno == errno.ESTALE
    with pytest.raises(OSError) as exc:
        reactor.fd_add(-1, CP_FD_READ)
    assert exc.value.errno == errno.EBADF
    assert reactor.counters()["pending"] == 0


def test_poll_batch_columns_match_the_words(reactor):
    """poll_batch() decodes a batch into columns: type, stream, id, a, b,
    the same records the raw words hold."""
    from clusterpy._reactor import CP_EV_EXIT, CP_EV_LINES
    ids = reactor.spawn([sh("echo out; echo err >&2; exit 3"), sh("exit 0")])
    lines, statuses = {}, {}
    for _ in range(1000):
        batch = reactor.poll_batch(1.0)
        types, streams, cids, avals, bvals, arena = batch
        assert len(types) == len(streams) == len(cids) == len(avals) == len(bvals)
        for etype, stream, cid, a, b in zip(types, streams, cids, avals, bvals):
            if etype == CP_EV_LINES:
                lines[cid, stream] = arena[a:a + b]
            elif etype == CP_EV_EXIT:
                statuses[cid] = a
        if len(statuses) == 2:
            break
    assert lines == {(ids[0], 1): b"out", (ids[0], 2): b"err"}
    assert statuses == {ids[0]: 3, ids[1]: 0}
