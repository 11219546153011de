"""Tree mode when things go wrong: unreachable, dying, silent and garbage
speaking gateways, and aborts from event handlers.  Every node must get a
result, nothing may hang, and no ssh or gateway process may be left."""

import os
import time

import pytest

from _events import Recorder
from _tree import tree_fixture  # noqa: F401 (the "tree" fixture)


def _rcs(worker):
    return {str(nodes): rc for rc, nodes in worker.iter_retcodes()}


def test_unreachable_gateway_fails_its_nodes_only(tree):
    tree.topology("cp-refused: 127.0.0.[10-11]", "127.0.0.3: 127.0.0.12",
                  root_to="cp-refused,127.0.0.3")
    task = tree.task
    worker = task.shell("echo hi", nodes="127.0.0.[10-12]", stderr=True)
    start = time.monotonic()
    task.resume()
    assert time.monotonic() - start < 10
    assert _rcs(worker) == {"127.0.0.[10-11]": os.EX_PROTOCOL, "127.0.0.12": 0}
    assert worker.node_buffer("127.0.0.12") == b"hi"
    assert worker.node_error("127.0.0.10") == b"gateway cp-refused is unreachable"
    # the gateway's own error (ssh's) is shown under its name, not dropped
    assert b"refused" in worker.node_error("cp-refused")


def test_failover_to_other_gateway_of_group(tree):
    tree.topology("cp-refused,127.0.0.3: 127.0.0.[10-13]", root_to="cp-refused,127.0.0.3")
    task = tree.task
    worker = task.shell("echo hi", nodes="127.0.0.[10-13]")
    task.resume()
    assert _rcs(worker) == {"127.0.0.[10-13]": 0}
    assert worker.node_buffer("127.0.0.13") == b"hi"


def test_gateway_dying_mid_run(tree):
    tree.topology("127.0.0.2: 127.0.0.[10-11]", "127.0.0.3: 127.0.0.12",
                  root_to="127.0.0.[2-3]")
    task = tree.task
    # remote=False: the command is a child of the gateway process; on
    # 127.0.0.10 it kills its gateway after the channel is set up
    kill = tree.only_on("127.0.0.2", '[ %h = 127.0.0.10 ] && kill -9 $PPID')
    worker = task.shell("%s; sleep 0.5; echo alive" % kill, nodes="127.0.0.[10-12]",
                        remote=False)
    task.resume()
    rcs = _rcs(worker)
    assert rcs["127.0.0.12"] == 0
    assert rcs["127.0.0.[10-11]"] == os.EX_PROTOCOL
    assert worker.node_buffer("127.0.0.12") == b"alive"


def test_garbage_answering_gateway(tree):
    tree.topology("127.0.0.2: 127.0.0.[10-11]")
    program = tree.script("garbage", "echo 'this is not <xml'; exec cat >/dev/null\n")
    tree.gateway_program(program)
    task = tree.task
    worker = task.shell("true", nodes="127.0.0.[10-11]", stderr=True)
    start = time.monotonic()
    task.resume()
    assert time.monotonic() - start < 10
    assert _rcs(worker) == {"127.0.0.[10-11]": os.EX_PROTOCOL}
    assert worker.node_error("127.0.0.2")   # the parse error, under the gateway


def test_silent_gateway_hits_connect_timeout(tree):
    tree.topology("127.0.0.2: 127.0.0.10")
    program = tree.script("silent", "exec cat >/dev/null\n")
    tree.gateway_program(program)
    task = tree.task
    task.set_info("connect_timeout", 1)
    worker = task.shell("true", nodes="127.0.0.10", stderr=True)
    start = time.monotonic()
    task.resume()
    assert time.monotonic() - start < 6
    assert worker.node_retcode("127.0.0.10") == os.EX_PROTOCOL
    assert b"connect timeout" in worker.node_error("127.0.0.2")


def test_gateway_error_before_setup_is_shown(tree):
    tree.topology("127.0.0.2: 127.0.0.10")
    tree.gateway_program(tree.script("broken", "echo 'gateway: no python here' >&2; exit 3\n"))
    task = tree.task
    worker = task.shell("true", nodes="127.0.0.10", stderr=True)
    task.resume()
    assert worker.node_error("127.0.0.2") == b"gateway: no python here"
    assert worker.node_retcode("127.0.0.10") == os.EX_PROTOCOL


class _AbortOn(Recorder):
    def __init__(self, event):
        Recorder.__init__(self)
        self.event = event

    def _maybe_abort(self, worker, event):
        if event == self.event:
            self.event = None
            worker.abort()

    def ev_start(self, worker):
        Recorder.ev_start(self, worker)
        self._maybe_abort(worker, "start")

    def ev_pickup(self, worker, node):
        Recorder.ev_pickup(self, worker, node)
        self._maybe_abort(worker, "pickup")

    def ev_read(self, worker, node, sname, msg):
        Recorder.ev_read(self, worker, node, sname, msg)
        self._maybe_abort(worker, "read")

    def ev_hup(self, worker, node, rc):
        Recorder.ev_hup(self, worker, node, rc)
        self._maybe_abort(worker, "hup")


@pytest.mark.parametrize("event", ["start", "pickup", "read", "hup"])
def test_abort_from_handler(tree, event):
    tree.topology("127.0.0.2: 127.0.0.[10-12]")
    task = tree.task
    rec = _AbortOn(event)
    command = "%s; echo line; sleep 5" % tree.only_on("127.0.0.10", "echo early; exit 0")
    worker = task.shell(command, nodes="127.0.0.[10-12]", handler=rec)
    start = time.monotonic()
    task.resume()
    assert time.monotonic() - start < 4.5
    assert rec.events[-1] == ("close", False)
    assert rec.kinds().count("close") == 1
    # every node has one end: its return code, or 76 for the aborted ones
    hups = [ev[1] for ev in rec.events if ev[0] == "hup"]
    assert sorted(hups) == ["127.0.0.10", "127.0.0.11", "127.0.0.12"]
    assert set(rc for rc, _ in worker.iter_retcodes()) <= {0, os.EX_PROTOCOL}
    assert task.gateways == {}


def test_hung_gateway_times_out_on_the_head(tree):
    tree.topology("127.0.0.2: 127.0.0.10")
    task = tree.task
    task.set_info("connect_timeout", 2)
    # the command (a child of the gateway: remote=False) stops its gateway
    # for a while: no result comes, the head gives up on its own after the
    # command timeout plus the connect timeout
    worker = task.shell("kill -STOP $PPID; sleep 3.5; kill -CONT $PPID", nodes="127.0.0.10",
                        remote=False, timeout=0.5)
    start = time.monotonic()
    task.resume()
    assert time.monotonic() - start < 3.4
    assert list(worker.iter_keys_timeout()) == ["127.0.0.10"]
    assert list(worker.iter_retcodes()) == []


def test_task_abort_from_handler(tree):
    tree.topology("127.0.0.2: 127.0.0.[10-11]")
    task = tree.task

    class Aborter(Recorder):
        def ev_read(self, worker, node, sname, msg):
            Recorder.ev_read(self, worker, node, sname, msg)
            worker.task.abort()

    rec = Aborter()
    task.shell("echo go; sleep 5", nodes="127.0.0.[10-11]", handler=rec)
    start = time.monotonic()
    task.resume()
    assert time.monotonic() - start < 4.5
    assert ("read", "127.0.0.10", "stdout", b"go") in rec.events or \
        ("read", "127.0.0.11", "stdout", b"go") in rec.events
    assert task.gateways == {}


def test_gateway_error_message_after_setup(tree):
    tree.topology("127.0.0.2: 127.0.0.[10-11]")
    answer = ('<?xml version="1.0" encoding="utf-8"?>\\n'
              '<channel version="1.10.1"><message type="ACK" msgid="0" ack="0"></message>\\n'
              '<message type="ERR" msgid="1" reason="cannot run that"></message>\\n')
    tree.gateway_program(tree.script("erring", "printf '%s'; exec cat >/dev/null\n" % answer))
    task = tree.task
    worker = task.shell("true", nodes="127.0.0.[10-11]", stderr=True)
    task.resume()
    assert worker.node_error("127.0.0.2") == b"cannot run that"
    assert _rcs(worker) == {"127.0.0.[10-11]": os.EX_PROTOCOL}
