"""clusterpy.aio: Tasks run inside an asyncio event loop (asyncio.run in
each test), with real processes, the test sshd and the leak fixture."""
import asyncio
import os
import subprocess
import threading
import sys
import time

import pytest

from _sshd import recorder
from _tree import tree_fixture  # noqa: F401 (the "tree" fixture)
from clusterpy import aio
from clusterpy.Defaults import Defaults
from clusterpy.Event import EventHandler
from clusterpy.Task import AlreadyRunningError, TimeoutError as TaskTimeoutError, task_self
from clusterpy.Worker.Exec import ExecWorker
from _leaks import child_pids


@pytest.fixture
def task():
    """task_self() with local ExecWorker as the distant worker."""
    task = task_self()
    saved = task.default("distant_worker"), task.default("stderr"), task.info("fanout")
    task.set_default("distant_worker", ExecWorker)
    yield task
    task.set_default("distant_worker", saved[0])
    task.set_default("stderr", saved[1])
    task.set_info("fanout", saved[2])
    assert not task.running()


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 30))


def test_gather_100_local_commands(task):
    async def main():
        workers = [task.shell("echo %d; exit %d" % (i, i % 3)) for i in range(100)]
        return workers, await asyncio.gather(*(aio.wait(w) for w in workers))

    workers, results = run(main())
    for i, (worker, result) in enumerate(zip(workers, results)):
        assert result.worker is worker
        assert result.buffers == {worker: str(i).encode()}
        assert result.retcodes == {worker: i % 3}
        assert worker.retcode() == i % 3      # the worker API sees the same
    assert task.max_retcode() == 2


def test_distant_results_and_event_handler_callbacks(task):
    rec = recorder()

    async def main():
        worker = task.shell("echo out %h; echo err >&2; exit 2", nodes="n[1-3]",
                            handler=rec, stderr=True)
        return worker, await aio.wait(worker)

    worker, result = run(main())
    assert result.buffers == {"n%d" % i: b"out n%d" % i for i in (1, 2, 3)}
    assert result.errors == {"n%d" % i: b"err" for i in (1, 2, 3)}
    assert result.retcodes == {"n1": 2, "n2": 2, "n3": 2} and result.max_retcode == 2
    assert result.timeouts == frozenset()
    for node in ("n1", "n2", "n3"):
        kinds = [ev[0] for ev in rec.of(node)]
        assert kinds[0] == "pickup" and "read" in kinds and kinds[-1] == "hup"
    assert [ev[0] for ev in rec.events if ev[0] in ("start", "close")] == ["start", "close"]
    assert worker.node_buffer("n2") == b"out n2"


def test_run_whole_task_with_a_timer_on_the_loop_clock(task):
    fired = []

    class Tick(EventHandler):
        def ev_timer(self, timer):
            fired.append(time.monotonic())

    async def main():
        task.shell("echo a", nodes="x")
        start = time.monotonic()
        task.timer(0.2, Tick())
        result = await aio.run(task)
        return start, result

    start, result = run(main())
    assert result.buffers == {"x": b"a"} and result.retcodes == {"x": 0}
    assert len(fired) == 1 and 0.19 <= fired[0] - start < 1.0


def test_cancelled_run_leaves_no_child(task):
    before = child_pids()

    async def main():
        class Started(EventHandler):
            def ev_pickup(self, worker, node):
                if len(started) < 5:
                    started.append(node)
                if len(started) == 5 and not ready.done():
                    ready.set_result(None)

        started = []
        ready = asyncio.get_running_loop().create_future()
        worker = task.shell("sleep 30", nodes="n[1-5]", handler=Started())
        waiting = asyncio.ensure_future(aio.wait(worker))
        await ready
        assert len(child_pids() - before) == 5
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        # reaped when the cancellation goes on, not later
        assert child_pids() - before == set()
        return worker

    worker = run(main())
    assert not task.running()
    assert worker.num_timeout() == 0


def test_cancelled_whole_run(task):
    async def main():
        task.shell("sleep 30", nodes="n[1-3]")
        task.shell("sleep 30")
        running = asyncio.ensure_future(aio.run(task))
        await asyncio.sleep(0.2)
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running

    before = child_pids()
    run(main())
    assert child_pids() - before == set()


def test_wait_for_timeout_aborts_cleanly(task):
    async def main():
        slow = task.shell("sleep 30", nodes="n[1-2]")
        quick = task.shell("sleep 0.3; echo done", nodes="q")
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(aio.wait(slow), 0.1)
        # the rest of the run goes on
        result = await aio.wait(quick)
        # and the task runs again afterwards
        again = await aio.shell("echo again", nodes="r")
        return result, again

    before = child_pids()
    result, again = run(main())
    assert result.buffers == {"q": b"done"}
    assert again.buffers == {"r": b"again"}
    assert child_pids() - before == set()


def test_run_timeout_raises_task_timeout_error(task):
    async def main():
        task.shell("sleep 30", nodes="n[1-2]")
        with pytest.raises(TaskTimeoutError):
            await aio.run(task, timeout=0.2)

    run(main())
    assert task.num_timeout() == 2


def test_ev_read_raising_surfaces_in_the_awaiting_coroutine(task):
    class Boom(EventHandler):
        def ev_read(self, worker, node, sname, msg):
            raise ValueError("bad line %r" % msg)

    async def main():
        bad = task.shell("echo x; sleep 30", nodes="b", handler=Boom())
        other = task.shell("sleep 30", nodes="o")
        results = await asyncio.gather(aio.wait(bad), aio.wait(other), aio.run(task),
                                       return_exceptions=True)
        return results

    before = child_pids()
    results = run(main())
    assert [type(r) for r in results] == [ValueError] * 3
    assert "bad line b'x'" in str(results[0])
    assert child_pids() - before == set()
    assert not task.running()


def test_lines_as_they_arrive(task):
    async def main():
        worker = task.shell("echo a; sleep 0.3; echo b", nodes="n[1-2]")
        seen = []
        async for node, line in aio.lines(worker):
            seen.append((node, line, time.monotonic()))
        return seen

    seen = run(main())
    assert sorted((node, line) for node, line, _ in seen) == [("n1", b"a"), ("n1", b"b"),
                                                  ("n2", b"a"), ("n2", b"b")]
    first_a = min(when for _, line, when in seen if line == b"a")
    last_b = max(when for _, line, when in seen if line == b"b")
    assert last_b - first_a >= 0.25      # "a" came before the command ended


def test_lines_back_pressure_bounds_memory(task):
    count = 200000      # about 1.3 MB of output, many times maxbytes

    async def main():
        worker = task.shell("seq %d" % count, nodes="n1")
        stream = aio.lines(worker, maxbytes=16384)
        await asyncio.sleep(0.5)
        # the consumer lags: reading stopped, the command blocks on its pipe
        assert stream._size < 16384 + 65536 + 64
        assert not worker.started or not aio._closed(worker)
        numbers = []
        async for _node, line in stream:
            numbers.append(int(line))
            assert stream._size < 16384 + 65536 + 64
        return numbers

    task.set_default("stdout_msgtree", False)
    try:
        numbers = run(main())
    finally:
        task.set_default("stdout_msgtree", True)
    assert numbers == list(range(1, count + 1))


def test_lines_of_stderr_and_leaving_early(task):
    async def main():
        worker = task.shell("seq 1000 >&2; echo out", nodes="n1", stderr=True)
        stream = aio.lines(worker, sname="stderr", maxbytes=64)
        async for _node, line in stream:
            if line == b"10":
                break
        # leaving early: the worker goes on, its results stay complete
        return await aio.wait(worker)

    result = run(main())
    assert result.buffers == {"n1": b"out"}
    assert result.errors["n1"].split(b"\n")[-1] == b"1000"


def test_lines_after_start_is_refused(task):
    async def main():
        worker = task.shell("sleep 0.2", nodes="n1")
        waiting = asyncio.ensure_future(aio.wait(worker))
        await asyncio.sleep(0.1)
        with pytest.raises(aio.AioError, match="already started"):
            aio.lines(worker)
        await waiting

    run(main())


def test_stdin_written_from_a_coroutine(task):
    async def main():
        worker = task.shell("cat", nodes="n[1-2]")
        waiting = asyncio.ensure_future(aio.wait(worker))
        await asyncio.sleep(0.1)
        worker.write(b"hello\n")
        worker.set_write_eof()
        return await waiting

    assert run(main()).buffers == {"n1": b"hello", "n2": b"hello"}


def test_copy(task, tmp_path):
    source = tmp_path / "src"
    source.write_bytes(b"payload")

    async def main():
        worker = task.copy(str(source), str(tmp_path / "dst-%h"), nodes="n[1-2]")
        return await aio.wait(worker)

    result = run(main())
    assert result.retcodes == {"n1": 0, "n2": 0}
    assert (tmp_path / "dst-n1").read_bytes() == b"payload"


def test_several_tasks_at_once_poll_backend_for_one(task):
    defaults = Defaults([])
    defaults.engine = "poll"
    other = aio.new_task(defaults)
    try:
        assert other is not task and other._engine.identifier == "poll"
        other.set_default("distant_worker", ExecWorker)
        other.set_info("fanout", 2)
        task.set_info("fanout", 8)

        async def main():
            mine = task.shell("sleep 0.2; echo %h", nodes="a[1-8]")
            theirs = other.shell("sleep 0.2; echo %h", nodes="b[1-4]")
            start = time.monotonic()
            results = await asyncio.gather(aio.wait(mine), aio.wait(theirs))
            return results, time.monotonic() - start

        (mine, theirs), elapsed = run(main())
        assert mine.buffers == {"a%d" % i: b"a%d" % i for i in range(1, 9)}
        assert theirs.buffers == {"b%d" % i: b"b%d" % i for i in range(1, 5)}
        assert 0.35 < elapsed < 2.0      # fanout 2: two rounds for the poll task
        assert task_self() is task
    finally:
        other.abort(kill=True)


def test_task_running_in_a_thread_is_refused(task):
    from clusterpy.Task import Task
    other = Task()
    other.shell("sleep 0.5")
    other.resume()
    time.sleep(0.1)
    try:
        async def main():
            with pytest.raises(AlreadyRunningError, match="already running"):
                await aio.run(other)

        run(main())
    finally:
        other.join()
        other.abort(kill=True)
        other.thread.join()


def test_task_of_another_thread_is_refused():
    from clusterpy.Task import Task
    other = Task()      # its own thread, idle
    try:
        async def main():
            with pytest.raises(aio.AioError, match="belongs to"):
                await aio.run(other)

        run(main())
        assert not other._run_lock.locked()
    finally:
        other.abort(kill=True)
        other.thread.join()


def test_worker_not_scheduled_is_refused():
    async def main():
        with pytest.raises(aio.AioError, match="not scheduled"):
            await aio.wait(ExecWorker("n1", None, command="true"))

    run(main())


def test_loop_closed_under_a_running_worker(task):
    loop = asyncio.new_event_loop()

    async def start():
        aio.lines(task.shell("sleep 30", nodes="n1"))   # nobody awaits it
        await asyncio.sleep(0.1)

    before = child_pids()
    loop.run_until_complete(start())
    loop.close()        # without asyncio.run()'s cleanup: the run is left behind
    assert task.running()

    async def again():
        with pytest.raises(aio.AioError, match="was closed while its workers ran"):
            await aio.run(task)
        return await aio.shell("echo ok", nodes="n2")

    assert run(again()).buffers == {"n2": b"ok"}
    assert child_pids() - before == set()


def test_asyncio_run_ending_under_a_running_worker(task):
    errors = []

    async def main():
        asyncio.get_running_loop().set_exception_handler(
            lambda loop, context: errors.append(context["message"]))
        aio.lines(task.shell("sleep 30", nodes="n1"))
        await asyncio.sleep(0.1)
        # returning: asyncio.run() cancels the run's guard, which aborts it

    before = child_pids()
    asyncio.run(main())
    assert child_pids() - before == set()
    assert not task.running()
    assert errors and "stopped under running clusterpy workers" in errors[0]


def test_ssh_worker_through_the_test_sshd(ssh_task):
    rec = recorder()

    async def main():
        worker = ssh_task.shell("echo $((6 * 7)); exit 4", nodes="node[1-2]", handler=rec)
        seen = [item async for item in aio.lines(worker)]
        return seen, await aio.wait(worker)

    seen, result = run(main())
    assert sorted(seen) == [("node1", b"42"), ("node2", b"42")]
    assert result.buffers == {"node1": b"42", "node2": b"42"}
    assert result.retcodes == {"node1": 4, "node2": 4}
    assert sorted(ev[1] for ev in rec.events if ev[0] == "hup") == ["node1", "node2"]


def test_ssh_worker_cancelled_leaves_no_client(ssh_task, sshd):
    async def main():
        worker = ssh_task.shell("sleep 30", nodes="node1")
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(aio.wait(worker), 1.0)

    run(main())
    assert not sshd.client_pids(settle=2.0)


def test_readme_example_runs(tmp_path):
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with open(os.path.join(root, "README.md")) as fh:
        text = fh.read()
    code = text.split("<!-- aio-example:begin -->\n```python\n")[1].split("```\n")[0]
    script = tmp_path / "example.py"
    script.write_text(code)
    env = dict(os.environ, PYTHONPATH=root)
    proc = subprocess.run([sys.executable, str(script)], env=env, capture_output=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr.decode()
    out = proc.stdout.decode().splitlines()
    # lines as they arrive: the nodes' order is the machine's
    assert sorted(out[:3]) == ["n%d hello from n%d" % (i, i) for i in (1, 2, 3)]
    assert sorted(out[3:6]) == ["n%d bye" % i for i in (1, 2, 3)]
    assert out[6:9] == ["3 b'n7' []", "slow nodes aborted", "{'here': 0}"]


def test_rsh_worker_through_the_test_sshd(ssh_task, sshd):
    from clusterpy.Worker.Rsh import WorkerRsh
    ssh_task.set_info("rsh_path", "ssh")
    ssh_task.set_info("rsh_options", sshd.ssh_options)

    async def main():
        worker = WorkerRsh("node[1-2]", None, command="echo r; exit 5")
        ssh_task.schedule(worker)
        return await aio.wait(worker)

    result = run(main())
    assert result.buffers == {"node1": b"r", "node2": b"r"}
    assert result.retcodes == {"node1": 5, "node2": 5}


def test_pdsh_worker_through_the_test_sshd(ssh_task, pdsh_sshd):
    from clusterpy.Worker.Pdsh import WorkerPdsh

    async def main():
        worker = WorkerPdsh("node[1-3]", None, command="echo p; exit 2")
        ssh_task.schedule(worker)
        seen = sorted([item async for item in aio.lines(worker)])
        return seen, await aio.wait(worker)

    seen, result = run(main())
    assert seen == [("node%d" % i, b"p") for i in (1, 2, 3)]
    assert result.retcodes == {"node1": 2, "node2": 2, "node3": 2}


@pytest.mark.parametrize("where", ["coroutine", "thread"])
def test_task_abort(task, where):
    async def main():
        worker = task.shell("sleep 30", nodes="n[1-3]")
        waiting = asyncio.ensure_future(aio.wait(worker))
        running = asyncio.ensure_future(aio.run(task))
        await asyncio.sleep(0.2)
        if where == "coroutine":
            task.abort()
        else:
            aborter = threading.Thread(target=task.abort)
            aborter.start()
            while aborter.is_alive():
                await asyncio.sleep(0.01)
        return await waiting, await running

    before = child_pids()
    result, whole = run(main())
    assert child_pids() - before == set()
    assert result.retcodes == {} and whole.retcodes == {}
    assert not task.running()
    # the task works again
    assert run(aio.shell("echo again", nodes="n1")).buffers == {"n1": b"again"}


def test_awaiting_an_autoclose_worker_fails_clearly_when_the_run_ends(task):
    async def main():
        task.shell("sleep 0.1", nodes="n1")
        lazy = task.shell("sleep 30", nodes="z1", autoclose=True)
        with pytest.raises(aio.AioError, match="autoclose"):
            await aio.wait(lazy)
        lazy.abort()
        await aio.run(task)     # as after task.run(): the next run ends it all

    before = child_pids()
    run(main())
    assert child_pids() - before == set()


def test_no_busy_polling(task, monkeypatch):
    from clusterpy.Engine.Engine import Engine
    passes = []
    step = Engine.step

    def counting_step(self):
        passes.append(time.monotonic())
        return step(self)

    monkeypatch.setattr(Engine, "step", counting_step)

    class Tick(EventHandler):
        def ev_timer(self, timer):
            pass

    async def main():
        task.shell("sleep 0.6", nodes="n[1-4]")
        task.timer(0.1, Tick(), interval=0.2, autoclose=True)
        cpu = time.process_time()
        await aio.run(task)
        return time.process_time() - cpu

    cpu = run(main())
    # a few passes: the spawns, the exits, three or four timer ticks
    assert len(passes) < 20, len(passes)
    assert cpu < 0.3


def test_timed_out_nodes_in_the_result(task):
    async def main():
        worker = task.shell("case %h in slow*) sleep 30;; esac; echo %h", nodes="slow[1-2],ok1",
                            timeout=0.3)
        return await aio.wait(worker)

    result = run(main())
    assert result.timeouts == frozenset({"slow1", "slow2"})
    assert result.retcodes == {"ok1": 0}
    assert result.buffers == {"ok1": b"ok1"}


def test_event_loop_in_another_thread():
    from clusterpy.Task import task_terminate
    outcome = {}

    def body():
        async def main():
            mine = task_self()
            mine.set_default("distant_worker", ExecWorker)
            return await aio.shell("echo %h", nodes="t[1-3]", task=mine)

        try:
            outcome["result"] = asyncio.run(main())
        finally:
            task_terminate()

    thread = threading.Thread(target=body)
    thread.start()
    thread.join(30)
    assert outcome["result"].buffers == {"t%d" % i: b"t%d" % i for i in (1, 2, 3)}


def test_tree_worker_through_gateways(tree):
    """Tree mode under asyncio: per-node lines and results relayed by a real
    gateway on the test sshd, and a cancelled tree run leaves no gateway."""
    from _tree import wait_no_gateways
    from clusterpy.Worker.Tree import TreeWorker
    tree.topology("127.0.0.2: 127.0.0.[10-11]")
    task = tree.task

    async def main():
        worker = task.shell('echo "$SSH_CONNECTION" | cut -d" " -f3; exit 4',
                            nodes="127.0.0.[10-11]")
        assert isinstance(worker, TreeWorker)
        seen = sorted([(node, line) async for node, line in aio.lines(worker)])
        result = await aio.wait(worker)
        slow = task.shell("sleep 30", nodes="127.0.0.[10-11]")
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(aio.wait(slow), 2)
        return seen, result

    seen, result = run(main())
    assert seen == [("127.0.0.10", b"127.0.0.10"), ("127.0.0.11", b"127.0.0.11")]
    assert result.retcodes == {"127.0.0.10": 4, "127.0.0.11": 4}
    assert result.buffers["127.0.0.10"] == b"127.0.0.10"
    assert not wait_no_gateways(tree.logdir)
