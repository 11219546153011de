"""CLI.Error and CLI.Utils: the one-line messages and exit codes of the
tools' generic errors, and the small helpers."""
import configparser
import errno
import sys

import pytest

from clusterpy.CLI import Error
from clusterpy.CLI.Utils import (GIBI, KIBI, MEBI, TEBI, bufnodeset_cmpkey,
                                 human_bi_bytes_unit, nodeset_cmpkey,
                                 parse_fold_axis)
from clusterpy.NodeSet import NodeSet, NodeSetExternalError, NodeSetParseError
from clusterpy.NodeUtils import (GroupResolverConfigError,
                                 GroupResolverIllegalCharError,
                                 GroupResolverSourceError, GroupSource,
                                 GroupSourceError, GroupSourceNoUpcall)
from clusterpy.RangeSet import RangeSetParseError


@pytest.fixture
def handle(monkeypatch, capsys):
    """handle_generic_error as run by a tool named "tool": (rc, stderr)."""
    monkeypatch.setattr(sys, "argv", ["/usr/bin/tool", "arg"])

    def run(exc):
        rc = Error.handle_generic_error(exc)
        out, err = capsys.readouterr()
        assert out == ""
        return rc, err
    return run


SOURCE = GroupSource("site")


@pytest.mark.parametrize("exc,message", [
    (NodeSetParseError("n[", "missing bracket"),
     'tool: Parse error: missing bracket: "n["\n'),
    (RangeSetParseError("1-x", "bad"), 'tool: Parse error: bad : "1-x"\n'),
    (NodeSetExternalError("no all"), "tool: External error: no all\n"),
    (GroupResolverIllegalCharError("a@b"),
     'tool: Illegal group character: "a@b"\n'),
    (GroupResolverConfigError("bad file"),
     "tool: Group resolver error: bad file\n"),
    (GroupResolverSourceError("zz"), 'tool: Unknown group source: "zz"\n'),
    (GroupSourceNoUpcall("list", SOURCE),
     'tool: No list upcall defined for group source "site"\n'),
    (GroupSourceError("it failed", SOURCE), "tool: Group error: it failed\n"),
    (configparser.NoSectionError("Main"), "tool: No section: 'Main'\n"),
    (TypeError("bad type"), "tool: bad type\n"),
    (ValueError("bad value"), "tool: bad value\n"),
    (OSError(errno.ENOENT, "No such file or directory", "/x"),
     "ERROR: [Errno 2] No such file or directory: '/x'\n"),
])
def test_messages(handle, exc, message):
    assert isinstance(exc, Error.GENERIC_ERRORS)
    assert handle(exc) == (1, message)


def test_engine_and_worker_errors(handle):
    from clusterpy.Engine.Engine import EngineNotSupportedError
    from clusterpy.Worker.EngineClient import EngineClientError
    from clusterpy.Worker.Worker import WorkerError
    assert handle(EngineNotSupportedError("kqueue")) == (
        1, "tool: I/O events engine 'kqueue' not supported on this host\n")
    assert handle(EngineClientError("gone")) == (
        1, "tool: EngineClientError: gone\n")
    assert handle(WorkerError("no worker")) == (1, "tool: no worker\n")


def test_broken_pipe_is_quiet(handle):
    assert handle(BrokenPipeError(errno.EPIPE, "Broken pipe")) == (1, "")


def test_too_many_open_files_shows_limits(handle):
    from resource import RLIMIT_NOFILE, getrlimit
    assert Error.RLIMIT_NOFILE == RLIMIT_NOFILE
    rc, err = handle(OSError(errno.EMFILE, "Too many open files"))
    assert rc == 1
    assert err == ("ERROR: [Errno 24] Too many open files\nERROR: maximum "
                   "number of open file descriptors: soft=%d hard=%d\n"
                   % getrlimit(RLIMIT_NOFILE))


def test_interrupt(handle):
    assert handle(KeyboardInterrupt()) == (130, "")


def test_generic_errors_is_a_tuple_of_classes():
    errors = Error.GENERIC_ERRORS
    assert errors is Error.GENERIC_ERRORS
    assert all(isinstance(cls, type) for cls in errors)
    assert KeyboardInterrupt in errors and OSError in errors
    assert not isinstance(RuntimeError("x"), errors)
    with pytest.raises(AttributeError):
        Error.NOT_THERE  # noqa: B018


def test_tool_modules_expose_generic_errors():
    from clusterpy.CLI import Clubak, Nodeset
    assert Nodeset.GENERIC_ERRORS is Error.GENERIC_ERRORS
    assert Clubak.GENERIC_ERRORS is Error.GENERIC_ERRORS
    assert Clubak.MODE_DEFER == 0 and Clubak.MODE_TRACE == 2


@pytest.mark.parametrize("axis,result", [
    ("1", (0,)), ("1-3", (0, 1, 2)), ("0,2", (1,)), ("2,4", (1, 3)),
    ("-1", [-1]), ("-2", [-2]),
])
def test_parse_fold_axis(axis, result):
    assert parse_fold_axis(axis) == result


def test_parse_fold_axis_errors():
    with pytest.raises(RangeSetParseError):
        parse_fold_axis("x")
    with pytest.raises(ValueError):
        parse_fold_axis("-x")


@pytest.mark.parametrize("value,text", [
    (0, "0 B"), (1023, "1023 B"), (1024, "1.00 KiB"), (1536, "1.50 KiB"),
    (5 * MEBI, "5.00 MiB"), (3 * GIBI + GIBI / 4, "3.25 GiB"),
    (2 * TEBI, "2.00 TiB"), (KIBI * TEBI, "1024.00 TiB"),
])
def test_human_bi_bytes_unit(value, text):
    assert human_bi_bytes_unit(value) == text


def test_nodeset_sort_keys():
    sets = [NodeSet("b[1-2]"), NodeSet("a5"), NodeSet("c[1-3]"),
            NodeSet("a[3-4]")]
    assert [str(ns) for ns in sorted(sets, key=nodeset_cmpkey)] == \
        ["c[1-3]", "a[3-4]", "b[1-2]", "a5"]
    bufs = [(b"x", ns) for ns in sets]
    assert [str(buf[1]) for buf in sorted(bufs, key=bufnodeset_cmpkey)] == \
        ["c[1-3]", "a[3-4]", "b[1-2]", "a5"]
