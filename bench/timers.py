"""Timers: many task timers firing through an EventHandler.ev_timer.

Each scenario runs in a fresh interpreter and times from the first
task.timer() call to the end of the run.
"""
from time import perf_counter

from bench._suite import Group, Metric

G = Group("timers", "task timers")


@G.child("{timers:,} one-shot task.timer(0)", key="oneshot", args=dict(timers=100000),
         quick=dict(timers=10000),
         metrics=(Metric("time", "s", "first task.timer() to the end of the run"),
                  Metric("rate", "/s", "fires per second, first fire to last")))
def oneshot(lib, timers):
    class Fired(lib.Event.EventHandler):
        count = 0
        first = 0.0

        def ev_timer(self, timer):
            if not Fired.count:
                Fired.first = perf_counter()
            Fired.count += 1

    task = lib.Task.task_self()
    handler = Fired()
    start = perf_counter()
    for _ in range(timers):
        task.timer(0.0, handler)
    task.run()
    end = perf_counter()
    assert Fired.count == timers, Fired.count
    return {"time": end - start, "rate": (timers - 1) / max(end - Fired.first, 1e-9)}


@G.child("{oneshots:,} one-shot timers beside {repeating:,} repeating ones (1 ms), "
         "until every one-shot fired", key="mixed",
         args=dict(oneshots=100000, repeating=1000), quick=dict(oneshots=10000))
def mixed(lib, oneshots, repeating):
    class Fire(lib.Event.EventHandler):
        oneshots_fired = 0

        def ev_timer(self, timer):
            if timer.interval <= 0:
                Fire.oneshots_fired += 1
                if Fire.oneshots_fired == oneshots:
                    for other in repeaters:
                        other.invalidate()

    task = lib.Task.task_self()
    handler = Fire()
    start = perf_counter()
    repeaters = [task.timer(0.0, handler, 0.001) for _ in range(repeating)]
    for _ in range(oneshots):
        task.timer(0.0, handler)
    task.resume()
    elapsed = perf_counter() - start
    assert Fire.oneshots_fired == oneshots, Fire.oneshots_fired
    return elapsed
