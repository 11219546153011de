"""Engine timers: arming in batches, and what a burst leaves behind."""
import pytest

from clusterpy.Event import EventHandler
from clusterpy.Task import task_self


@pytest.fixture
def task():
    task = task_self()
    yield task
    assert not task.running()


def test_a_timer_rearmed_twice_before_its_pass_fires_once(task):
    class Count(EventHandler):
        fired = 0

        def ev_timer(self, timer):
            Count.fired += 1
            if Count.fired == 1:
                # twice in the same pass: one C timer must remain
                timer.set_nextfire(0.05)
                timer.set_nextfire(0.01)

    timer = task.timer(5, handler=Count())
    timer.set_nextfire(0.05)
    timer.set_nextfire(0.01)
    task.run()
    assert Count.fired == 2
    assert not task._engine._ids


def test_a_timer_handler_raising_in_a_burst_raises_its_own_error(task):
    class Boom(EventHandler):
        fired = 0

        def ev_timer(self, timer):
            Boom.fired += 1
            if Boom.fired == 1:
                raise KeyError("boom")

    handler = Boom()
    for _ in range(1000):
        task.timer(0.0, handler)
    with pytest.raises(KeyError):
        task.run()
    assert Boom.fired == 1
    assert not task._engine._ids
