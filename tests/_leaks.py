"""Reactor resource accounting for the autouse leak fixture (conftest.py).

Only reactors that are still open are checked (a closed one owns nothing),
and only if clusterpy._reactor was imported at all, so that test modules
that never touch the reactor do not pay for loading the C module.
"""
import sys


def reactor_leaks():
    """[(reactor, {counter: value})] for open reactors owning anything."""
    module = sys.modules.get("clusterpy._reactor")
    if module is None:
        return []
    leaks = []
    for reactor in module.live_reactors():
        held = {name: value for name, value in reactor.counters().items() if value}
        if held:
            leaks.append((reactor, held))
    return leaks
