"""Tasks in other threads: resume, join, wait, abort, suspend, ports."""

import threading
import time

import pytest

from clusterpy.Event import EventHandler
from clusterpy.Task import Task, task_self, task_wait


@pytest.fixture
def other_task():
    """A Task running in a thread of its own, destroyed after the test."""
    task = Task()
    yield task
    task.abort(kill=True)
    task.thread.join(5)
    assert not task.thread.is_alive()


def test_new_task_gets_its_own_thread(other_task):
    assert other_task is not task_self()
    assert other_task.thread is not threading.current_thread()
    assert Task(thread=other_task.thread) is other_task


def test_resume_from_another_thread_then_wait(other_task):
    worker = other_task.shell("echo from thread")
    other_task.resume()
    task_wait()
    assert worker.read() == b"from thread"


def test_join(other_task):
    worker = other_task.shell("sleep 0.2; echo joined")
    other_task.resume()
    other_task.join()
    assert worker.read() == b"joined"


def test_abort_from_another_thread(other_task):
    started = threading.Event()

    class Started(EventHandler):
        def ev_pickup(self, worker, node):
            started.set()

    other_task.shell("sleep 30", handler=Started())
    t0 = time.monotonic()
    other_task.resume()
    assert started.wait(5)
    other_task.abort()
    other_task.join()
    assert time.monotonic() - t0 < 10
    assert not other_task.running()


def test_port_messages_between_threads(other_task):
    received = []

    class Receiver(EventHandler):
        def ev_msg(self, port, msg):
            received.append((msg, threading.current_thread()))
            if len(received) == 3:
                port.task.abort()

    receiver = Receiver()
    port = other_task.port(handler=receiver)
    port.task = other_task
    other_task.resume()
    for n in range(3):
        assert port.msg("msg %d" % n)  # waits until delivered
    other_task.join()
    assert [m for m, _ in received] == ["msg 0", "msg 1", "msg 2"]
    assert all(t is other_task.thread for _, t in received)


def test_set_info_from_another_thread_is_applied_in_the_task(other_task):
    other_task.set_info("USER_key", "value")  # dispatched: applied when it runs
    other_task.timer(0.05, handler=EventHandler())
    other_task.resume()
    other_task.join()
    assert other_task.info("USER_key") == "value"


def test_suspend_and_resume(other_task):
    ticks = []

    class Tick(EventHandler):
        def ev_timer(self, timer):
            ticks.append(time.monotonic())
            if len(ticks) == 6:
                timer.invalidate()

    other_task.timer(0.0, handler=Tick(), interval=0.05)
    other_task.resume()
    while not ticks:
        time.sleep(0.01)
    assert other_task.suspend()
    count = len(ticks)
    time.sleep(0.3)
    assert len(ticks) == count  # nothing ran while suspended
    other_task.resume()
    other_task.join()
    assert len(ticks) == 6


def test_excepthook_of_thread_task(other_task):
    caught = []
    other_task.excepthook = lambda etype, value, tb: caught.append(value)

    class Boom(EventHandler):
        def ev_read(self, worker, node, sname, msg):
            raise RuntimeError("in thread")

    other_task.shell("echo x", handler=Boom())
    other_task.resume()
    other_task.thread.join(5)
    assert [str(e) for e in caught] == ["in thread"]


def test_results_survive_an_unhandled_exception_in_the_thread(other_task):
    # the thread ends at once after the exception: whatever the timing, the
    # joiner still reads the line gathered before the handler raised
    other_task.excepthook = lambda etype, value, tb: None

    class Boom(EventHandler):
        def ev_read(self, worker, node, sname, msg):
            raise RuntimeError("in thread")

    other_task.shell("echo kept", key="k", handler=Boom())
    other_task.resume()
    other_task.join()
    other_task.thread.join(5)
    assert not other_task.thread.is_alive()
    assert other_task.key_buffer("k") == b"kept"
