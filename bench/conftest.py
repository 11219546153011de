"""pytest plugin of the benchmark suite (``pytest bench/ --benchmark-only``).

Adds the suite's options, one marker per group (``-m engine``), the
session's Harness, and, at the end, the Markdown comparison table of what
was measured (and its JSON with --bench-results, which ``python -m bench``
reads).
"""
import argparse
import json
import shlex

import pytest

from bench import _report, _suite
from bench._harness import Harness

_HARNESS = pytest.StashKey()


def pytest_addoption(parser):
    group = parser.getgroup("bench", "clusterpy benchmark suite")
    group.addoption("--bench-quick", action="store_true",
                    help="smaller sizes and fewer runs, for a smoke run")
    group.addoption("--bench-repeat", type=int, default=None, metavar="N",
                    help="runs per contender and scenario (default 5, quick 3)")
    group.addoption("--bench-results", metavar="PATH",
                    help="write the run (machine, samples) as JSON to PATH")
    # the command line python -m bench was given, for the table's header
    group.addoption("--bench-command", default=None, help=argparse.SUPPRESS)


def pytest_configure(config):
    _suite.load()
    for name, group in _suite.GROUPS.items():
        config.addinivalue_line("markers", "%s: benchmarks of %s" % (name, group.doc))
    config.stash[_HARNESS] = Harness(quick=config.getoption("bench_quick"),
                                     repeat=config.getoption("bench_repeat"))


def pytest_unconfigure(config):
    harness = config.stash.get(_HARNESS, None)
    if harness is not None:
        harness.close()


@pytest.fixture(scope="session")
def bench_harness(request):
    return request.config.stash[_HARNESS]


def _run(config):
    harness = config.stash[_HARNESS]
    command = config.getoption("bench_command") or "pytest " + " ".join(
        shlex.quote(arg) for arg in config.invocation_params.args)
    ordered = [harness.results[s.key] for s in _suite.load() if s.key in harness.results]
    return {"machine": harness.machine, "quick": harness.quick, "repeat": harness.repeat,
            "command": command, "scenarios": ordered}


@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(terminalreporter, config):
    run = _run(config)
    if not run["scenarios"]:
        return
    terminalreporter.write_sep("=", "clusterpy against ClusterShell")
    terminalreporter.write(_report.markdown(run))


def pytest_sessionfinish(session):
    path = session.config.getoption("bench_results")
    if path:
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(_run(session.config), fh, ensure_ascii=False)
