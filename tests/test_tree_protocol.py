"""The tree protocol's own checks: the version both ends announce, and the
channel reader fed random and truncated input (Hypothesis)."""

import os
import subprocess
import sys

from hypothesis import given, settings, HealthCheck
from hypothesis import strategies as st

from clusterpy.Communication import Channel, ConfigurationMessage, ControlMessage
from clusterpy.Communication import StdOutMessage, RetcodeMessage, ErrorMessage, ACKMessage
from clusterpy.Communication import MessageProcessingError, PROTOCOL_VERSION, version_mismatch
from clusterpy.Communication import StdErrMessage
from clusterpy.NodeSet import NodeSet
from clusterpy.Topology import TopologyGraph
from _tree import ROOT, tree_fixture  # noqa: F401 (the "tree" fixture)


def _rcs(worker):
    return {str(nodes): rc for rc, nodes in worker.iter_retcodes()}


def test_version_rule():
    assert version_mismatch("1.10.1", "1.10.1", "gw") is None
    assert version_mismatch("1.10.1", "1.10.3", "gw") is None
    assert version_mismatch("1.10.1", "1.9.2", "gw1") == (
        "tree protocol version mismatch: head speaks 1.10.1, gateway gw1 speaks 1.9.2")
    assert "gateway gw speaks (none)" in version_mismatch("1.10.1", None, "gw")


def test_head_reports_gateway_of_another_version_and_fails_over(tree):
    """127.0.0.2 answers as a 1.9.2 gateway: the error names both sides,
    under its name, and its nodes run through 127.0.0.3 of the same group."""
    tree.topology("127.0.0.[2-3]: 127.0.0.[10-13]", root_to="127.0.0.[2-3]")
    old = ('<?xml version="1.0" encoding="utf-8"?>\\n<channel version="1.9.2">\\n')
    program = tree.script("old-gw", 'case "$SSH_CONNECTION" in *" 127.0.0.2 %d")\n'
                          "  printf '%s'; exec cat >/dev/null;; esac\n"
                          "exec %s -m clusterpy.Gateway\n" % (tree.sshd.port, old,
                                                              sys.executable))
    tree.gateway_program(program)
    task = tree.task
    worker = task.shell("echo hi", nodes="127.0.0.[10-13]", stderr=True)
    task.resume()
    assert _rcs(worker) == {"127.0.0.[10-13]": 0}
    assert worker.node_error("127.0.0.2") == (
        b"tree protocol version mismatch: head speaks %s, gateway 127.0.0.2 speaks 1.9.2"
        % PROTOCOL_VERSION.encode())


def _gateway_answer(head_doc):
    env = dict(os.environ, PYTHONPATH=ROOT, CLUSTERSHELL_GW_LOG_DIR="/nonexistent")
    proc = subprocess.run([sys.executable, "-m", "clusterpy.Gateway"], input=head_doc,
                          capture_output=True, env=env, timeout=30)
    return proc.stdout.decode()


def _cfg(version):
    graph = TopologyGraph()
    graph.add_route(NodeSet("head"), NodeSet("gw1"))
    graph.add_route(NodeSet("gw1"), NodeSet("n[1-4]"))
    cfg = ConfigurationMessage("gw1")
    cfg.version = version
    cfg.data_encode(graph.to_tree("head"))
    return cfg.xml()


def test_gateway_refuses_head_of_another_version():
    doc = (b'<?xml version="1.0" encoding="utf-8"?>\n<channel version="1.10.1">'
           + _cfg("1.11.0") + b"\n")
    answer = _gateway_answer(doc)
    assert ('reason="tree protocol version mismatch: head speaks 1.11.0, gateway gw1 '
            'speaks %s"></message>\n</channel>' % PROTOCOL_VERSION) in answer, answer
    assert '<message type="ERR"' in answer
    assert 'type="ACK"' not in answer


def test_gateway_takes_version_from_start_tag_of_clustershell_head():
    """A ClusterShell 1.10.1 head puts its version in the start tag only."""
    cfg = _cfg("x").replace(b' version="x"', b"")
    doc = b'<?xml version="1.0" encoding="utf-8"?>\n<channel version="1.10.1">' + cfg + b"\n"
    answer = _gateway_answer(doc)
    assert '<message type="ACK" ' in answer, answer
    doc = doc.replace(b'<channel version="1.10.1">', b'<channel version="1.8.4">')
    assert "head speaks 1.8.4" in _gateway_answer(doc)


# --- the reader fuzzed -------------------------------------------------------

class _Stream(object):
    """What the channel writes to, and whether it closed its worker."""

    def __init__(self):
        self.written = []
        self.aborted = False

    def write(self, data, sname=None):
        self.written.append(data)

    def abort(self):
        self.aborted = True


class _Reader(Channel):
    def __init__(self, initiator):
        Channel.__init__(self, initiator=initiator)
        self.worker = _Stream()
        self.got = []

    def start(self):
        pass

    def recv(self, msg):
        self.got.append(msg)
        if msg.has_payload and msg.data is not None:
            try:
                msg.data_decode()
            except MessageProcessingError:
                pass


def _stream():
    msgs = []
    out = StdOutMessage("n[1-3]", b"line 1\nline 2", 7)
    msgs.append(out.xml())
    msgs.append(StdErrMessage("n2", b"\xff\x00err", 7).xml())
    msgs.append(RetcodeMessage("n[1-3]", 3, 7).xml())
    msgs.append(ACKMessage(4).xml())
    msgs.append(ErrorMessage("bad <thing> & \"quotes\"").xml())
    ctl = ControlMessage(9)
    ctl.action, ctl.target = "shell", "n[1-2]"
    ctl.data_encode({"cmd": "echo", "taskinfo": {"fanout": 3}})
    msgs.append(ctl.xml())
    return (b'<?xml version="1.0" encoding="utf-8"?>\n<channel version="1.10.1">'
            + b"\n".join(msgs) + b"\n</channel>\n")


_VALID = _stream()


def _feed(data, initiator):
    reader = _Reader(initiator)
    for line in data.split(b"\n"):
        reader.ev_read(reader.worker, "gw", reader.SNAME_READER, line)
    return reader


def test_reader_reads_the_whole_stream():
    reader = _feed(_VALID, True)
    assert [m.ident for m in reader.got] == ["CHA", "OUT", "SER", "RET", "ACK", "ERR", "CTL",
                                             "END"]
    assert reader.got[1].data_decode() == b"line 1\nline 2"
    assert reader.got[5].reason == 'bad <thing> & "quotes"'


def _check_outcome(reader, data):
    """Either every message was read, or the channel stopped with an error
    (ERR answered by a gateway side, a stderr message on a head side)."""
    if reader._dead and not (reader.got and reader.got[-1].ident == "END"):
        if reader.initiator:
            assert reader.got and reader.got[-1].ident == "SER", reader.got
        else:
            assert b'type="ERR"' in reader.worker.written[-1]
        assert reader.worker.aborted


@settings(max_examples=150, deadline=2000, suppress_health_check=[HealthCheck.too_slow])
@given(cut=st.integers(min_value=0, max_value=len(_VALID)),
       flips=st.lists(st.tuples(st.integers(min_value=0, max_value=len(_VALID) - 1),
                                st.integers(min_value=0, max_value=255)), max_size=4),
       initiator=st.booleans())
def test_reader_on_truncated_and_damaged_streams(cut, flips, initiator):
    data = bytearray(_VALID[:cut])
    for pos, value in flips:
        if pos < len(data):
            data[pos] = value
    reader = _feed(bytes(data), initiator)
    _check_outcome(reader, data)


@settings(max_examples=150, deadline=2000, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=300) | st.text(
    alphabet='<>/="& \n\tabcmesagtypdinlhCFGOUTRESACK0123456789;', max_size=300).map(
        lambda text: text.encode()), initiator=st.booleans())
def test_reader_on_random_input(data, initiator):
    head = b'<?xml version="1.0" encoding="utf-8"?>\n<channel version="1.10.1">'
    for stream in (data, head + data):
        reader = _feed(stream, initiator)
        _check_outcome(reader, stream)
