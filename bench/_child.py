"""The fresh interpreter in which scenarios run.

    python -m bench._child "{'module': ..., 'key': ..., 'lib': ..., 'args': {...}}"
    python -m bench._child "{'module': ..., 'key': ..., 'libs': [...], 'args': {...},
                             'repeat': N, 'target': SECONDS}"

The argument is a dict literal written by bench/_harness.py: the module
defining the scenario, the scenario's key, its arguments.  With 'lib',
one run of a child scenario; its measure goes to stdout as the last line,
``BENCH-RESULT <repr>``.  Nothing but this module, bench/_suite.py and the
scenario's module is imported before the scenario runs (they import
nothing at the top), so that an import-time scenario measures the
library's imports alone.

With 'libs', a micro scenario: every library's callable is built here,
then timed in loops lasting about `target` seconds (the first call, which
sizes the loop, is the warm-up), `repeat` rounds, the libraries taking
turns; the result maps each library to its seconds per call, one value a
round.  One interpreter per micro scenario keeps each one's heap (what the
garbage collector walks) independent of the scenarios run before it.
"""
import sys


def main():
    spec = eval(sys.argv[1], {"__builtins__": {}})   # a literal from the harness
    __import__(spec["module"])
    from bench._suite import Lib, find
    func = find(spec["key"]).func
    if "libs" in spec:
        result = micro(func, [Lib(name) for name in spec["libs"]], spec["args"],
                       spec["repeat"], spec["target"])
    else:
        result = func(Lib(spec["lib"]), **spec["args"])
    sys.stdout.write("BENCH-RESULT %r\n" % (result,))
    sys.stdout.flush()


def micro(func, libs, args, repeat, target):
    import gc
    from time import perf_counter
    calls = [func(lib, **args) for lib in libs]
    loops = []
    for call in calls:
        start = perf_counter()
        call()
        once = perf_counter() - start
        loops.append(max(1, int(target / once)) if once < target else 1)
        if once > 1.0:      # a slow call: fewer rounds
            repeat = max(3, repeat // 2)
    samples = {lib.name: [] for lib in libs}
    order = list(range(len(libs)))
    for round_no in range(repeat):
        shift = round_no % len(order)
        for index in order[shift:] + order[:shift]:
            call, count = calls[index], loops[index]
            gc.collect()
            start = perf_counter()
            for _ in range(count):
                call()
            samples[libs[index].name].append((perf_counter() - start) / count)
    return samples


if __name__ == "__main__":
    main()
