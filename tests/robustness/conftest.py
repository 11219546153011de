"""The robustness suite (see README.md, "What it survives").

Slow cases are marked ``slow``: plain ``pytest`` (and CI) runs them;
``pytest -m "not slow"`` leaves them out.
"""
import pytest

from _run import Proc


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: a robustness case of several seconds")


@pytest.fixture(autouse=True)
def _kill_leftovers():
    """Whatever a failed test left running is killed and reaped before the
    leak check."""
    yield
    while Proc.started_procs:
        Proc.started_procs.pop().cleanup()
