"""Errors that end a command-line tool with a one-line message.

``GENERIC_ERRORS`` is the tuple of exception classes a tool catches at the
top (``except GENERIC_ERRORS as exc: sys.exit(handle_generic_error(exc))``);
handle_generic_error prints ClusterShell 1.10.1's message for the error on
stderr and returns the exit code (1, or 130 after Ctrl-C).

The tuple is built on first access, so that a tool that only needs it when
something fails (cluset) does not import the engine and worker modules at
start-up.
"""

import errno
import os
import sys
from resource import RLIMIT_NOFILE, getrlimit
from typing import Callable, List, Tuple, Type

__all__ = ["GENERIC_ERRORS",  # noqa: F822 (lazy, see __getattr__)
           "RLIMIT_NOFILE", "handle_generic_error"]

_Rule = Tuple[Tuple[Type[BaseException], ...], Callable[[str, BaseException], str]]
_RULES: List[_Rule] = []


def _tree_errors() -> tuple:
    """Tree mode error classes, when tree mode modules exist."""
    found = []
    for modname, clsname in (("clusterpy.Propagation", "RouteResolvingError"),
                             ("clusterpy.Topology", "TopologyError")):
        try:
            module = __import__(modname, fromlist=[clsname])
        except ImportError:
            continue
        found.append(getattr(module, clsname))
    return tuple(found)


def _rules() -> List[_Rule]:
    """(classes, message builder) pairs, in the order they are tried."""
    if _RULES:
        return _RULES
    from configparser import Error as ConfigError

    from clusterpy.Engine.Engine import EngineNotSupportedError
    from clusterpy.NodeSet import NodeSetExternalError, NodeSetParseError
    from clusterpy.NodeUtils import (GroupResolverConfigError,
                                     GroupResolverIllegalCharError,
                                     GroupResolverSourceError,
                                     GroupSourceError, GroupSourceNoUpcall)
    from clusterpy.RangeSet import RangeSetParseError
    from clusterpy.Worker.EngineClient import EngineClientError
    from clusterpy.Worker.Worker import WorkerError

    _RULES.extend([
        ((EngineNotSupportedError,),
         lambda prog, exc: "%s: I/O events engine '%s' not supported on this "
                           "host" % (prog, exc.engineid)),
        ((EngineClientError,),
         lambda prog, exc: "%s: EngineClientError: %s" % (prog, exc)),
        ((NodeSetExternalError,),
         lambda prog, exc: "%s: External error: %s" % (prog, exc)),
        ((NodeSetParseError, RangeSetParseError),
         lambda prog, exc: "%s: Parse error: %s" % (prog, exc)),
        ((GroupResolverIllegalCharError,),
         lambda prog, exc: '%s: Illegal group character: "%s"' % (prog, exc)),
        ((GroupResolverConfigError,),
         lambda prog, exc: "%s: Group resolver error: %s" % (prog, exc)),
        ((GroupResolverSourceError,),
         lambda prog, exc: '%s: Unknown group source: "%s"' % (prog, exc)),
        ((GroupSourceNoUpcall,),
         lambda prog, exc: '%s: No %s upcall defined for group source "%s"'
                           % (prog, exc, exc.group_source.name)),
        ((GroupSourceError,),
         lambda prog, exc: "%s: Group error: %s" % (prog, exc)),
        (_tree_errors(),
         lambda prog, exc: "%s: TREE MODE: %s" % (prog, exc)),
        ((ConfigError, TypeError, ValueError, WorkerError),
         lambda prog, exc: "%s: %s" % (prog, exc)),
    ])
    return _RULES


def _generic_errors() -> tuple:
    classes = []
    for types, _ in _rules():
        classes.extend(types)
    return tuple(classes) + (OSError, KeyboardInterrupt)


def __getattr__(name: str):
    # PEP 562: GENERIC_ERRORS is computed when first asked for
    if name == "GENERIC_ERRORS":
        value = _generic_errors()
        globals()[name] = value
        return value
    raise AttributeError("module %r has no attribute %r" % (__name__, name))


def handle_generic_error(excobj: BaseException) -> int:
    """Print the message of a GENERIC_ERRORS exception on stderr (nothing
    for a broken pipe or Ctrl-C) and return the exit code for it."""
    if isinstance(excobj, KeyboardInterrupt):
        return 128 + 2  # SIGINT
    prog = os.path.basename(sys.argv[0])
    for types, message in _rules():
        if isinstance(excobj, types):
            print(message(prog, excobj), file=sys.stderr)
            return 1
    assert isinstance(excobj, OSError), "not a GENERIC_ERRORS exception"
    if excobj.errno != errno.EPIPE:
        print("ERROR: %s" % excobj, file=sys.stderr)
        if excobj.errno == errno.EMFILE:
            print("ERROR: maximum number of open file descriptors: "
                  "soft=%d hard=%d" % getrlimit(RLIMIT_NOFILE),
                  file=sys.stderr)
    return 1
