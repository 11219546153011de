"""The benchmark suite as pytest-benchmark tests: one item per scenario
and contender (clusterpy, ClusterShell, each peer).

The first item of a scenario measures every contender, alternating run by
run (bench/_harness.py); each item then hands its contender's samples to
pytest-benchmark, which replays them through a clock that advances by
exactly one sample per round.  So pytest-benchmark's statistics, groups
and --benchmark-json/--benchmark-compare describe the very runs of the
table.  For a scenario whose first metric is not a time (memory), the
items replay the wall time of the runs; the figures are in extra_info.
"""
import pytest

from bench import _suite

_clock = [0.0]


def replay_clock():
    """pytest-benchmark's timer for these tests: see the module doc."""
    return _clock[0]


def _cases():
    for scenario in _suite.load():
        for contender in scenario.contenders():
            yield pytest.param(
                scenario, contender, id="%s:%s" % (scenario.key, contender.split()[0].strip(":")),
                marks=[getattr(pytest.mark, scenario.group.name),
                       pytest.mark.benchmark(group=scenario.key, timer=replay_clock)])


@pytest.mark.parametrize("scenario, contender", _cases())
def test_bench(benchmark, bench_harness, scenario, contender):
    result = bench_harness.measure(scenario)
    label = contender.format(**result["args"])
    runs = result["samples"].get(label)
    if not runs:
        pytest.skip(result["error"] or result["missing"].get(label)
                    or result["missing"].get("clusterpy") or "not run")
    metric = result["metrics"][0]
    name = metric["name"] if metric["unit"] == "s" else "process"
    benchmark.extra_info.update(title=result["title"], contender=label,
                                **{m["name"] + "_" + m["unit"]: [run.get(m["name"])
                                                                 for run in runs]
                                   for m in result["metrics"]})
    values = iter([run[name] for run in runs])

    def step():
        _clock[0] += next(values)
    benchmark.pedantic(step, rounds=len(runs), iterations=1)
