"""Hypothesis fuzzing of the node set and range set parsers, and of cluset:
malformed ranges, huge numbers, deep brackets, odd characters.  Every input
gives a set (whose text parses back to the same set) or a parse error of
ClusterShell's classes; never another exception, a hang or a huge
allocation (sets of 10**20 nodes are a few intervals)."""

import contextlib
import io
import shlex
import sys
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clusterpy.NodeSet import RESOLVER_NOGROUP, NodeSet, NodeSetParseError
from clusterpy.RangeSet import RangeSet, RangeSetND, RangeSetParseError

#: the time one input may take, everything included (a bound, not a timing)
BOUND = 5.0

PIECES = ["n", "node", "x", "[", "]", "-", ",", "/", "0", "1", "9", "00", "007",
          "99999999999999999999", "18446744073709551616", "9223372036854775807",
          "@", ":", "!", "&", "^", " ", "%", "%s", "%d", "*", "\x00", "\t", "\n", ";",
          "[1-3]", "-1", "--", "/0", "/1", "/-2", "/4194304", "0-0", "1-0", "3-1", "[]",
          "[,]", "[-]", "1e5", "+", "_", ".", "\\", "'", '"', "{", "}", "\u00e9",
          "\u0663", "\u00a0", "[0-99999999999999999999]", "[1-10/3]", "-[2-3]"]

deep_brackets = st.integers(1, 80).map(lambda depth: "n" + "[" * depth + "1-3" + "]" * depth)
many_axes = st.integers(1, 14).map(lambda dims: "n" + "-".join(["[1-2]"] * dims))
texts = (st.lists(st.sampled_from(PIECES), max_size=25).map("".join)
         | st.text(max_size=40) | deep_brackets | many_axes)
FUZZ = settings(max_examples=150, deadline=None, derandomize=True, database=None,
                suppress_health_check=list(HealthCheck))


def _bounded(func, *args):
    started = time.monotonic()
    func(*args)
    assert time.monotonic() - started < BOUND


def _nodeset_roundtrip(text):
    try:
        nodes = NodeSet(text, resolver=RESOLVER_NOGROUP)
    except NodeSetParseError:
        return
    folded = str(nodes)
    size = nodes._size()
    if text.isascii():
        # (non-ASCII digits print as ASCII ones, as in ClusterShell)
        again = NodeSet(folded, resolver=RESOLVER_NOGROUP)
        assert (str(again), again._size()) == (folded, size)
    if size <= 1000:
        assert len(list(nodes)) == size
    nodes[0:3]
    assert sum(part._size() for part in nodes.split(3)) == size
    assert (nodes | nodes)._size() == size and not nodes - nodes


@FUZZ
@given(texts)
def test_nodeset_parser(text):
    _bounded(_nodeset_roundtrip, text)


def _rangeset_roundtrip(text):
    try:
        ranges = RangeSet(text)
    except RangeSetParseError:
        return
    assert RangeSet(str(ranges)) == ranges
    assert ranges._size() >= 0


@FUZZ
@given(texts)
def test_rangeset_parser(text):
    _bounded(_rangeset_roundtrip, text)


@FUZZ
@given(st.lists(st.lists(texts, min_size=1, max_size=3), min_size=1, max_size=3))
def test_rangesetnd_parser(vectors):
    def build():
        try:
            ranges = RangeSetND(vectors)
        except (RangeSetParseError, ValueError):
            return  # vectors of different dimensions: ValueError, as ClusterShell
        str(ranges)
        ranges._size()
    _bounded(build)


COMMANDS = ["-c", "-e", "-f", "-R -f", "-R -e", "--split 3 -f", "-I 0-2 -f", "--pick 2 -f",
            "--autostep auto -f", "--autostep 2 -f", "--contiguous -f", "-x n[1-5] -f",
            "-i n[1-5] -f", "-X n[1-5] -f", "-S : -e", "-O <%s> -e", "--axis 2 -f", "-r"]


def cluset(args):
    """cluset ARGS in this process: (exit code, stdout, stderr)."""
    from clusterpy.CLI.Nodeset import main
    out, err = io.StringIO(), io.StringIO()
    saved = sys.argv
    sys.argv = ["cluset"] + args
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main()
            except SystemExit as exc:
                code = exc.code
    finally:
        sys.argv = saved
    return code, out.getvalue(), err.getvalue()


@settings(max_examples=100, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
@given(st.sampled_from(COMMANDS), texts)
def test_cluset(command, text):
    started = time.monotonic()
    code, out, err = cluset(shlex.split(command) + ["--", text] if text.startswith("-")
                            else shlex.split(command) + [text])
    assert time.monotonic() - started < BOUND
    assert code in (0, 1, 2), (code, err)
    assert "Traceback" not in err
    if code == 1:
        # one line, after cluset's warnings if any
        assert len([line for line in err.splitlines()
                    if not line.startswith("WARNING: ")]) == 1, err


@pytest.mark.parametrize("args, message", [
    (["-e", "n[1-99999999999999999999]"],
     "ERROR: range too large to expand: 99999999999999999999 elements (at most 1000000000)\n"),
    (["-e", "n[1-2-3-4-5]"],
     "cluset: Parse error: bad range: \"too many '-' in range : \"1-2-3-4-5\"\"\n"),
    (["-f", "n[" * 200 + "1"], None),
])
def test_cluset_clear_errors(args, message):
    code, out, err = cluset(args)
    assert code == 1 and out == ""
    if message is not None:
        assert err == message
    assert len(err.splitlines()) == 1


def test_cluset_huge_sets_answer():
    assert cluset(["-c", "n[1-99999999999999999999]"]) == (0, "99999999999999999999\n", "")
    assert cluset(["-f", "n[1-99999999999999999999]", "-x", "n[2-99999999999999999998]"]) \
        == (0, "n[1,99999999999999999999]\n", "")
    assert cluset(["--split", "2", "-f", "n[1-99999999999999999999]"])[1] == \
        "n[1-50000000000000000000]\nn[50000000000000000001-99999999999999999999]\n"


def test_len_of_huge_set_is_a_clear_error():
    nodes = NodeSet("n[1-99999999999999999999]")
    with pytest.raises(OverflowError, match=r"^range too large: 99999999999999999999 elements"):
        len(nodes)
    assert nodes._size() == 99999999999999999999
    assert nodes[-1] == "n99999999999999999999"
