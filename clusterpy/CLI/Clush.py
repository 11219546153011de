"""clush: run a command (or copy files) on many nodes at once.

The options, configuration (clush.conf), output bytes and exit codes are
ClusterShell 1.10.1's.  On top of them, four additions:

``--json``
    one JSON object per line on stdout for each node as it ends (with
    ``-b``: for each group of nodes that ended the same way, at the end).
two-step Ctrl-C
    when stderr is a terminal, a first Ctrl-C prints the nodes still
    running and for how long; a second one within a second aborts.
``-k``/``--fail-fast``
    stop every command at the first node whose command fails.
``--retry N``
    run the command again, up to N times, on the nodes where it exited
    with 255 (ssh's code for a failed connection).

Theory of operation
-------------------
``main()`` parses the options, configures (clush.conf, the display, the
target node set), builds the run (a ClushRun: the Task set up, the state
every part of the run shares), executes it and exits with its status.
Each concept lives in the module named after it; this one keeps
ClusterShell's public names, re-exported from there (those the import of
this module does not need are imported on first use, see _LAZY):

- ``_clush_main``: main()'s steps;
- ``_clush_options``: the options, their checks, the target node set;
- ``_clush_setup``: the Task's settings (ssh, worker, tree, fd limit);
- ``_clush_run``: the run object, and how a command or copy is started;
- ``_clush_output``: the output handlers, one per display mode, and the
  progress line; ``_clush_json``: the --json handler;
- ``_clush_control``: the wrapper of every command's handler that adds
  --fail-fast, --retry and the Ctrl-C report;
- ``_clush_interrupt``: Ctrl-C (two-step or not), SIGTERM and SIGHUP;
- ``_clush_tty``: the interactive prompt, when stdin and stdout are the
  terminal (commands then run in a thread of their own);
- ``_clush_stdin``: stdin forwarded to the commands, when not a terminal;
- ``_clush_exit``: the exit, and the message and code of each error.
"""

# ruff: noqa: F401 (ClusterShell's clush has these names: re-exported)
import os
import signal
import sys
import threading
import time
from os.path import abspath, dirname, exists, isdir, join

from clusterpy.CLI.Config import ClushConfig, ClushConfigError
from clusterpy.CLI.Display import VERB_DEBUG, VERB_QUIET, VERB_STD, VERB_VERB, Display, sys_stdin
from clusterpy.CLI.OptionParser import OptionParser
from clusterpy.CLI.Utils import bufnodeset_cmpkey, human_bi_bytes_unit, parse_fold_axis
from clusterpy.CLI._clush_output import (
    CopyOutputHandler,
    DirectOutputDirHandler,
    DirectOutputHandler,
    DirectProgressOutputHandler,
    GatherOutputHandler,
    LiveGatherOutputHandler,
    OutputHandler,
    RunTimer,
    SortedOutputHandler,
)
from clusterpy.Defaults import DEFAULTS, _load_workerclass
from clusterpy.Event import EventHandler
from clusterpy.MsgTree import MsgTree
from clusterpy.NodeSet import (
    RESOLVER_NOGROUP,
    NodeSet,
    NodeSetParseError,
    set_std_group_resolver_config,
    std_group_resolver,
)
from clusterpy.Task import Task, task_self

__all__ = [
    "RESOLVER_NOGROUP",
    "VERB_DEBUG",
    "VERB_QUIET",
    "VERB_STD",
    "VERB_VERB",
    "CopyOutputHandler",
    "DirectOutputDirHandler",
    "DirectOutputHandler",
    "DirectProgressOutputHandler",
    "GatherOutputHandler",
    "LiveGatherOutputHandler",
    "OutputHandler",
    "RunTimer",
    "SortedOutputHandler",
    "StdInputHandler",  # noqa: F822 (in _LAZY)
    "UpdatePromptException",  # noqa: F822 (in _LAZY)
    "main",
]

# ClusterShell's names (and the modules its clush imports) that the import
# of this module does not need: imported on first use
_LAZY = {
    "clush_exit": "_clush_exit", "clush_excepthook": "_clush_exit",
    "run_command": "_clush_run", "run_copy": "_clush_run", "run_rcopy": "_clush_run",
    "set_fdlimit": "_clush_setup", "ask_pass": "_clush_setup",
    "UpdatePromptException": "_clush_tty", "signal_handler": "_clush_tty",
    "get_history_file": "_clush_tty", "readline_setup": "_clush_tty",
    "ttyloop": "_clush_tty", "raw_input": "_clush_tty",
    "StdInputHandler": "_clush_stdin", "bind_stdin": "_clush_stdin",
    "GENERIC_ERRORS": "Error", "handle_generic_error": "Error",
}
_LAZY_ALIASES = {"_stdin_thread_start": ("_clush_stdin", "stdin_reader")}
_LAZY_STDLIB = ("getpass", "logging", "random", "resource", "shlex")


def __getattr__(name):
    import importlib
    if name in _LAZY or name in _LAZY_ALIASES:
        module, attr = _LAZY_ALIASES.get(name, (_LAZY.get(name), name))
        return getattr(importlib.import_module("clusterpy.CLI." + module), attr)
    if name in _LAZY_STDLIB:
        return importlib.import_module(name)
    if name == "print_function":
        import __future__
        return __future__.print_function
    raise AttributeError("module %r has no attribute %r" % (__name__, name))


def __dir__():
    return sorted(set(globals()) | set(_LAZY) | set(_LAZY_ALIASES) | set(_LAZY_STDLIB)
                  | {"print_function"})


def main():
    """clush's entry point (the steps: _clush_main)."""
    from clusterpy.CLI._clush_main import main
    # ClusterShell's test hook: set, it makes clush read the terminal
    main(user_interaction=hasattr(sys.modules[__name__], "_f_user_interaction"))


if __name__ == "__main__":
    main()
