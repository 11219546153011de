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


def _no_timer_left(task):
    engine = task._engine
    assert engine.evlooprefcnt == 0
    assert not engine._tqueue and not engine._tother
    assert all(cell is None for cell in engine._tslots)


def test_a_timer_takes_attributes_and_weak_references(task):
    import weakref

    class Named(EventHandler):
        seen = []

        def ev_timer(self, timer):
            Named.seen.append(timer.name)

    timers = [task.timer(0.0, Named()) for _ in range(3)]
    for n, timer in enumerate(timers):
        timer.name = n
    refs = [weakref.ref(timer) for timer in timers]
    task.run()
    assert Named.seen == [0, 1, 2]
    assert [ref() for ref in refs] == timers
    assert all(timer.is_valid() for timer in timers)    # done, still bound
    _no_timer_left(task)


def test_a_burst_fires_in_deadline_then_arm_order(task):
    # more timers than one batch of records holds (8192)
    class Order(EventHandler):
        seen = []

        def ev_timer(self, timer):
            Order.seen.append(timer.n)

    handler = Order()
    timers = [task.timer(0.0, handler) for _ in range(20000)]
    for n, timer in enumerate(timers):
        timer.n = n
    for timer in timers[::7]:
        timer.set_nextfire(0.3)     # after all the others, in this order
    del timers, timer
    task.run()
    assert Order.seen == [n for n in range(20000) if n % 7] + list(range(0, 20000, 7))
    _no_timer_left(task)


def test_handlers_of_a_burst_invalidate_and_rearm_timers(task):
    class Busy(EventHandler):
        fired = []

        def ev_timer(self, timer):
            Busy.fired.append(timer.n)
            n = timer.n
            if n % 3 == 0 and n + 1 < len(timers):
                timers[n + 1].invalidate()      # a later record of the batch
            if n % 5 == 0 and Busy.fired.count(n) == 1:
                timer.set_nextfire(0.0)         # once more, after the burst
            if n == 7:
                timer.invalidate()              # itself, while firing

    handler = Busy()
    timers = [task.timer(0.0, handler) for _ in range(10000)]
    for n, timer in enumerate(timers):
        timer.n = n
    task.run()
    once = [n for n in range(10000) if not (n % 3 == 1 and (n - 1) % 3 == 0)]
    assert Busy.fired[:len(once)] == once
    again = sorted(Busy.fired[len(once):])
    assert again == [n for n in once if n % 5 == 0]
    assert not timers[1].is_valid() and not timers[7].is_valid()
    assert timers[0].is_valid()
    _no_timer_left(task)


def test_autoclose_and_repeating_timers_in_a_burst(task):
    class Count(EventHandler):
        fired = 0

        def ev_timer(self, timer):
            Count.fired += 1
            if timer is repeating and Count.fired > 2000:
                timer.invalidate()

    handler = Count()
    repeating = task.timer(0.0, handler, interval=0.01)
    closing = [task.timer(0.0, handler, autoclose=True) for _ in range(1000)]
    for _ in range(1000):
        task.timer(0.0, handler)
    task.run()
    assert Count.fired > 2000
    assert not repeating.is_valid()
    assert all(timer.is_valid() for timer in closing)
    _no_timer_left(task)


def test_a_burst_of_timers_beside_commands(task):
    class Both(EventHandler):
        fired = 0
        lines = []

        def ev_timer(self, timer):
            Both.fired += 1

        def ev_read(self, worker, node, sname, msg):
            Both.lines.append(msg)

    handler = Both()
    for n in range(5):
        task.shell("echo %d" % n, handler=handler)
    for _ in range(20000):
        task.timer(0.0, handler)
    task.run()
    assert Both.fired == 20000
    assert sorted(Both.lines) == [b"0", b"1", b"2", b"3", b"4"]
    _no_timer_left(task)


def test_a_timer_added_by_another_thread_fires_in_the_task_thread(task):
    import threading

    class Where(EventHandler):
        threads = []

        def ev_timer(self, timer):
            Where.threads.append(threading.current_thread())

    other = threading.Thread(target=lambda: task.timer(0.0, Where()))
    other.start()
    other.join()
    task.run()
    assert Where.threads == [threading.current_thread()]
    _no_timer_left(task)


def test_an_interval_set_by_its_handler_makes_a_one_shot_repeat(task):
    # (set as an attribute, not by set_nextfire(): ClusterShell re-arms it too)
    class Retime(EventHandler):
        fired = 0

        def ev_timer(self, timer):
            Retime.fired += 1
            timer.count = getattr(timer, "count", 0) + 1
            timer.interval = 0.01 if timer.count < 3 else -1

    for _ in range(100):
        task.timer(0.0, Retime())
    task.run()
    assert Retime.fired == 300
    _no_timer_left(task)


def test_timer_attributes_as_given(task):
    class Quiet(EventHandler):
        def ev_timer(self, timer):
            pass

    handler = Quiet()
    plain = task.timer(1.0, handler)
    closing = task.timer(2, handler, interval=3, autoclose=True)
    assert (plain.fire_delay, plain.interval, plain.autoclose, plain.eh) == \
        (1.0, -1.0, False, handler)
    assert (closing.fire_delay, closing.interval, closing.autoclose) == (2, 3, True)
    plain.invalidate()
    closing.invalidate()
    assert not plain.is_valid() and not closing.is_valid()
    task.run()      # nothing to run: the queue of timers to arm is let go
    _no_timer_left(task)


def test_an_engine_base_timer_made_directly_takes_attributes():
    import weakref

    from clusterpy.Engine.Engine import EngineBaseTimer

    timer = EngineBaseTimer(2.0, 1.0, True)
    timer.note = "mine"
    assert (timer.fire_delay, timer.interval, timer.autoclose) == (2.0, 1.0, True)
    assert timer.note == "mine" and weakref.ref(timer)() is timer
    assert not timer.is_valid()
    with pytest.raises(NotImplementedError):
        timer._fire()
