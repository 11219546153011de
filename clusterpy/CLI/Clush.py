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
``main()`` reads the options and clush.conf, computes the target node set,
sets the Task up (fanout, timeouts, ssh settings, which streams are kept in
message trees) and hands the command to ``run_command()``, which picks an
output handler for the display mode and runs the Task.  Output gathering
(``-b``) relies on the Task's message trees: the handler prints nothing
until the worker closes, then walks the tree once; unless ``-v`` asks to see
lines as they come, such a handler defines no per-line callback for
standard output, so that gathered lines cost no Python call at all.

When both stdin and stdout are the foreground terminal, commands run in a
Task of their own thread while the main thread reads lines (``ttyloop()``):
the interactive prompt, or Enter/Ctrl-C while a command runs.  The command's
handler wakes the main thread with SIGUSR1 when the command is done
(_PromptWaker).  Otherwise everything runs in the main thread and stdin, if
it is not a terminal, is forwarded to every command by a reader thread
through a port.

Every command on nodes has its output handler wrapped in a ``_RunControl``,
which sees each node start and end: the Ctrl-C report, --fail-fast and
--retry live there; with retries it hands the output handler, at the very
end, a merged view of the attempts (_Attempts).  Signal handlers only take
note or raise; what Ctrl-C prints is printed from a loop (_Interrupt).
Errors end up in ``clush_excepthook()``, which prints the message, stops
whatever still runs and exits with ClusterShell's codes.
"""

import os
import signal
import sys
import threading
from os.path import abspath, dirname, exists, isdir, join
from time import monotonic, time

from clusterpy.CLI.Config import ClushConfig, ClushConfigError
from clusterpy.CLI.Display import (
    STRING_ENCODING,
    VERB_DEBUG,
    VERB_QUIET,
    VERB_STD,
    VERB_VERB,
    Display,
    sys_stdin,
)
from clusterpy.CLI.OptionParser import OptionParser
from clusterpy.CLI.Utils import bufnodeset_cmpkey, human_bi_bytes_unit, parse_fold_axis
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
    "StdInputHandler",
    "UpdatePromptException",
    "main",
]

#: the line reader of ttyloop() (tests replace it)
raw_input = input

#: seconds within which a second Ctrl-C aborts (two-step interrupt)
INTERRUPT_WINDOW = 1.0

_STDOUT = "stdout"
_STDERR = "stderr"


def __getattr__(name):
    # GENERIC_ERRORS imports most of the library: only when asked for
    if name == "GENERIC_ERRORS":
        from clusterpy.CLI import Error
        return Error.GENERIC_ERRORS
    raise AttributeError("module %r has no attribute %r" % (__name__, name))


def _prog_name():
    return os.path.basename(sys.argv[0])


def _nodes(names):
    """NodeSet of a list of node names."""
    return NodeSet._fromlist1(names)


def _counted(display, nodeset):
    """How a gathered exit code message names its nodes."""
    if display.verbosity > VERB_QUIET and len(nodeset) > 1:
        return "%s (%d)" % (nodeset, len(nodeset))
    return str(nodeset)


class UpdatePromptException(Exception):
    """Raised in the main thread (by signal_handler) when a command is done
    and the prompt must be shown again."""


class StdInputHandler(EventHandler):
    """Port handler passing what the stdin reader thread read on to the
    command's worker (EOF as an empty or None message)."""

    def __init__(self, worker):
        EventHandler.__init__(self)
        self.master_worker = worker

    def ev_msg(self, port, msg):
        if msg:
            self.master_worker.write(msg)
        else:
            self.master_worker.set_write_eof()


class OutputHandler(EventHandler):
    """What every clush output handler shares: the progress line (RunTimer)
    and the prompt wake-up of interactive sessions."""

    def __init__(self, prog=None):
        EventHandler.__init__(self)
        self._runtimer = None
        self._prog = prog or _prog_name()

    def runtimer_init(self, task, ntotal=0):
        """Show the `done/total` progress line while commands run."""
        self._runtimer = task.timer(1.33, RunTimer(task, ntotal, prog=self._prog),
                                    interval=1. / 3., autoclose=True)

    def _runtimer_clean(self):
        if self._runtimer:
            self._runtimer.eh.erase_line()

    def _runtimer_set_dirty(self):
        if self._runtimer:
            self._runtimer.eh.set_dirty()

    def _runtimer_finalize(self, worker):
        timer, self._runtimer = self._runtimer, None
        if timer:
            timer.eh.finalize(worker.task.default("USER_interactive"))
            timer.invalidate()

    def update_prompt(self, worker):
        """The command is done: let the main thread show its prompt."""
        task = worker.task
        task.set_default("USER_running", False)
        if task.default("USER_handle_SIGUSR1"):
            # to the main thread itself, whose wait it must interrupt
            signal.pthread_kill(threading.main_thread().ident, signal.SIGUSR1)

    def ev_start(self, worker):
        if self._runtimer:
            self._runtimer.eh.start_time = time()

    def ev_written(self, worker, node, sname, size):
        if self._runtimer:
            self._runtimer.eh.bytes_written += size

    def _ev_routing(self, worker, arg):
        """Tree mode: nodes sent again through another route."""
        self._display.vprint_err(VERB_DEBUG, "clush: _ev_routing: %s" % arg)
        if "reroute" in arg.get("event", ""):
            self._display.vprint_err(VERB_STD, "clush: rerouting commands for {targets} due "
                                     "to the failure of gateway {gateway}".format(**arg))
        elif arg.get("event") == "relaunched":
            self._display.vprint_err(VERB_VERB, "clush: {targets}: now through gateway "
                                     "{gateway}".format(**arg))

    def _exit_level(self):
        """Verbosity needed to see exit code and timeout messages."""
        return VERB_STD if self._display.maxrc else VERB_QUIET


class DirectOutputHandler(OutputHandler):
    """Prints each line as it comes, prefixed with its node."""

    def __init__(self, display, prog=None):
        OutputHandler.__init__(self, prog=prog)
        self._display = display

    def ev_read(self, worker, node, sname, msg):
        if sname == _STDOUT:
            self._display.print_line(node, msg)
        elif sname == _STDERR:
            self._display.print_line_error(node, msg)

    def ev_hup(self, worker, node, rc):
        if rc > 0:
            self._display.vprint_err(self._exit_level(), "%s: %s: exited with exit code %d"
                                     % (self._prog, node, rc))

    def ev_close(self, worker, timedout):
        if timedout:
            self._display.vprint_err(VERB_QUIET, "%s: %s: command timeout"
                                     % (self._prog, _nodes(worker.iter_keys_timeout())))
        self.update_prompt(worker)


class DirectOutputDirHandler(DirectOutputHandler):
    """Direct output, also written to one file per node in --outdir
    (standard output) and --errdir (standard error)."""

    def __init__(self, display, ns, prog=None):
        DirectOutputHandler.__init__(self, display, prog)
        self._ns = ns
        self._folders = {sname: folder for sname, folder in
                         ((_STDOUT, display.outdir), (_STDERR, display.errdir)) if folder}
        # every node's file is made now (empty for a silent node), but only
        # those of the running nodes that write are open: with thousands of
        # nodes, one open file per node would exhaust the fd limit
        self._files = {}
        for sname in self._folders:
            for node in ns:
                self._written(sname, node, lambda path: open(path, "wb").close())

    def _written(self, sname, node, action):
        """action(path) on a node's file; an OSError names the file."""
        path = join(self._folders[sname], node)
        try:
            return action(path)
        except OSError as exc:
            raise OSError(exc.errno, exc.strerror, path) from None

    def ev_read(self, worker, node, sname, msg):
        DirectOutputHandler.ev_read(self, worker, node, sname, msg)
        if sname in self._folders:
            fobj = self._files.get((sname, node))
            if fobj is None:
                fobj = self._files[(sname, node)] = \
                    self._written(sname, node, lambda path: open(path, "ab"))  # noqa: SIM115
            self._written(sname, node, lambda path: fobj.write(msg + b"\n"))

    def _close(self, key):
        fobj = self._files.pop(key)
        self._written(key[0], key[1], lambda path: fobj.close())

    def ev_hup(self, worker, node, rc):
        DirectOutputHandler.ev_hup(self, worker, node, rc)
        for sname in self._folders:
            if (sname, node) in self._files:
                self._close((sname, node))

    def ev_close(self, worker, timedout):
        DirectOutputHandler.ev_close(self, worker, timedout)
        for key in list(self._files):
            self._close(key)


class DirectProgressOutputHandler(DirectOutputHandler):
    """Direct output with the progress line (-P)."""

    def ev_read(self, worker, node, sname, msg):
        self._runtimer_clean()
        if sname == _STDOUT:
            self._display.print_line(node, msg)
        elif sname == _STDERR:
            self._display.print_line_error(node, msg)

    def ev_close(self, worker, timedout):
        self._runtimer_clean()
        DirectOutputHandler.ev_close(self, worker, timedout)


class CopyOutputHandler(DirectProgressOutputHandler):
    """Handler of the copy workers of one --copy/--rcopy (one per source);
    the last one to close reports the timeouts."""

    def __init__(self, display, reverse=False, prog=None):
        DirectOutputHandler.__init__(self, display, prog=prog)
        self.reverse = reverse

    def ev_close(self, worker, timedout):
        for rc, nodes in worker.iter_retcodes():
            if rc == 0:
                if self.reverse:
                    text = "%s:`%s' -> `%s'" % (nodes, worker.source, worker.dest)
                else:
                    text = "`%s' -> %s:`%s'" % (worker.source, nodes, worker.dest)
                self._display.vprint(VERB_VERB, text)
                break
        task = worker.task
        left = task.default("USER_copies") - 1
        task.set_default("USER_copies", left)
        if left == 0:
            self._runtimer_finalize(worker)
            DirectOutputHandler.ev_close(self, worker, timedout)


class GatherOutputHandler(OutputHandler):
    """Prints nothing but standard error until the worker closes, then the
    output gathered by identical messages (-b, -B, --diff)."""

    def __init__(self, display, prog=None):
        OutputHandler.__init__(self, prog=prog)
        self._display = display

    def ev_read(self, worker, node, sname, msg):
        if sname == _STDOUT:
            if self._display.verbosity == VERB_VERB:
                self._display.print_line(node, worker.current_msg)
        elif sname == _STDERR:
            self._print_error_line(node, msg)

    def _print_error_line(self, node, msg):
        self._runtimer_clean()
        self._display.print_line_error(node, msg)
        self._runtimer_set_dirty()

    def ev_close(self, worker, timedout):
        self._runtimer_finalize(worker)
        display = self._display
        erased = False
        # iter_retcodes() and iter_buffers() give NodeSets
        for _, nodes in sorted(worker.iter_retcodes()):
            left = nodes.copy()
            gathered = sorted(worker.iter_buffers(frozenset(nodes)), key=bufnodeset_cmpkey)
            for msg, nodeset in gathered:
                if not erased:
                    self._runtimer_clean()
                    erased = True
                display.print_gather(nodeset, msg)
                left.difference_update(nodeset)
            if left:
                display.print_gather_finalize(left)
        display.flush()
        self._close_common(worker)
        self.update_prompt(worker)

    def _close_common(self, worker):
        """Exit code and timeout messages of a gathered run."""
        display = self._display
        level = self._exit_level()
        for rc, nodes in worker.iter_retcodes():
            if rc != 0:
                display.vprint_err(level, "%s: %s: exited with exit code %d"
                                   % (self._prog, _counted(display, nodes), rc))
        if worker.num_timeout() > 0:
            display.vprint_err(level, "%s: %s: command timeout"
                               % (self._prog, _nodes(worker.iter_keys_timeout())))


class _NoLiveOutput:
    """For gathering handlers when standard output lines are not shown as
    they come (no -v): no ev_read, so that the worker gathers them without
    a Python call; standard error lines come through ev_error."""

    ev_read = EventHandler.ev_read

    def ev_error(self, worker):
        self._print_error_line(worker.current_node, worker.current_errmsg)


class _QuietGatherOutputHandler(_NoLiveOutput, GatherOutputHandler):
    """GatherOutputHandler without a per-line call for standard output."""


class SortedOutputHandler(GatherOutputHandler):
    """Gathered output printed line by line, node after node (-L)."""

    def ev_close(self, worker, timedout):
        self._runtimer_finalize(worker)
        display = self._display
        for _, nodes in sorted(worker.iter_retcodes()):
            buffers = dict(worker.iter_node_buffers(frozenset(nodes)))
            for node in nodes:
                msg = buffers.get(node)
                if msg is not None:
                    display.print_gather(node, msg)
        self._close_common(worker)
        self.update_prompt(worker)


class _QuietSortedOutputHandler(_NoLiveOutput, SortedOutputHandler):
    """SortedOutputHandler without a per-line call for standard output."""


class LiveGatherOutputHandler(GatherOutputHandler):
    """-b -L: line number N is printed, gathered, as soon as every node
    still running has printed its line N."""

    def __init__(self, display, nodes, prog=None):
        assert nodes is not None, "cannot gather local command"
        GatherOutputHandler.__init__(self, display, prog=prog)
        self._nodes = NodeSet(nodes)
        self._nodecnt = dict.fromkeys(self._nodes, 0)
        self._mtreeq = []       # one MsgTree per line number not yet printed
        self._offload = 0       # line numbers printed so far

    def ev_read(self, worker, node, sname, msg):
        if sname != _STDOUT:
            GatherOutputHandler.ev_read(self, worker, node, sname, msg)
            return
        count = self._nodecnt[node] = self._nodecnt[node] + 1
        if len(self._mtreeq) < count - self._offload:
            self._mtreeq.append(MsgTree())
        self._mtreeq[count - self._offload - 1].add(node, msg)
        self._live_line()

    def ev_hup(self, worker, node, rc):
        if self._mtreeq and node not in self._mtreeq[0]:
            # this node has no more lines: stop waiting for it
            self._nodes.remove(node)
            self._live_line()

    def _print_tree(self, tree):
        gathered = [(msg, NodeSet.fromlist(keys)) for msg, keys in tree.walk()]
        gathered.sort(key=bufnodeset_cmpkey)
        for msg, nodeset in gathered:
            self._display.print_gather(nodeset, msg)

    def _live_line(self):
        queue = self._mtreeq
        while queue and len(queue[0]) == len(self._nodes):
            self._offload += 1
            self._runtimer_clean()
            self._print_tree(queue.pop(0))
            self._runtimer_set_dirty()

    def ev_close(self, worker, timedout):
        self._runtimer_finalize(worker)
        for tree in self._mtreeq:
            self._print_tree(tree)
        self._close_common(worker)
        self.update_prompt(worker)


class _JsonOutputHandler(OutputHandler):
    """--json: one JSON object per line on stdout.

    Per node, as each ends: {"node", "rc", "timed_out", "start", "end",
    "stdout", "stderr"}; with gathering, at the end, one object per group
    of nodes that ended with the same code and output: {"nodes", "count",
    "rc", "timed_out", "start", "end", "stdout", "stderr"}.  Lines are lists
    of strings, times seconds since the epoch; rc is null for a node that
    timed out or was stopped.
    """

    def __init__(self, display, gather, prog=None):
        import json
        OutputHandler.__init__(self, prog=prog)
        self._display = display
        self._dumps = json.dumps
        self._gather = gather
        self._runs = {}         # node -> [stdout, stderr, start]
        self._ended = []        # gathered mode: (node, rc, timed_out, run, end)

    def ev_pickup(self, worker, node):
        self._runs[node] = ([], [], time())

    def ev_read(self, worker, node, sname, msg):
        run = self._runs.get(node)
        if run is not None:
            lines = run[1] if sname == _STDERR else run[0]
            lines.append(msg.decode(STRING_ENCODING, errors="replace"))

    def _end(self, node, rc, timed_out):
        run = self._runs.pop(node, None)
        if run is None:
            return
        if self._gather:
            self._ended.append((node, rc, timed_out, run, time()))
        else:
            self._emit({"node": node, "rc": rc, "timed_out": timed_out,
                        "start": run[2], "end": time(),
                        "stdout": run[0], "stderr": run[1]})

    def _emit(self, obj):
        self._display.out.write(self._dumps(obj) + "\n")

    def ev_hup(self, worker, node, rc):
        self._end(node, rc, False)
        if not self._gather and rc > 0:
            self._display.vprint_err(self._exit_level(), "%s: %s: exited with exit code %d"
                                     % (self._prog, node, rc))

    def ev_close(self, worker, timedout):
        self._runtimer_finalize(worker)
        timed_out = _nodes(worker.iter_keys_timeout())
        for node in timed_out:
            self._end(node, None, True)
        for node in _nodes(self._runs):
            self._end(node, None, False)
        if self._gather:
            self._emit_groups()
            GatherOutputHandler._close_common(self, worker)
        elif timed_out:
            self._display.vprint_err(VERB_QUIET, "%s: %s: command timeout"
                                     % (self._prog, timed_out))
        self.update_prompt(worker)

    def _emit_groups(self):
        groups = {}
        for node, rc, timed_out, (out, err, start), end in self._ended:
            key = (rc, timed_out, tuple(out), tuple(err))
            group = groups.get(key)
            if group is None:
                groups[key] = [[node], start, end]
            else:
                group[0].append(node)
                group[1] = min(group[1], start)
                group[2] = max(group[2], end)
        self._ended = []
        order = []
        for key, (names, start, end) in groups.items():
            nodeset = _nodes(names)
            rank = (key[0] is None, key[0] or 0) + bufnodeset_cmpkey((None, nodeset))
            order.append((rank, key, nodeset, start, end))
        order.sort(key=lambda item: item[0])
        for _, (rc, timed_out, out, err), nodeset, start, end in order:
            self._emit({"nodes": str(nodeset), "count": len(nodeset), "rc": rc,
                        "timed_out": timed_out, "start": start, "end": end,
                        "stdout": list(out), "stderr": list(err)})


class _Attempts:
    """The results of a command run in several attempts (--retry), seen as
    one worker: each node counts with its last attempt only."""

    def __init__(self, task):
        self.task = task
        self._parts = []        # (worker, node names whose result is final)

    def add(self, worker, final):
        self._parts.append((worker, frozenset(final)))

    def iter_retcodes(self, match_keys=None):
        merged = {}
        for worker, final in self._parts:
            for node, rc in worker.iter_node_retcodes():
                if node in final and (match_keys is None or node in match_keys):
                    merged.setdefault(rc, []).append(node)
        for rc, names in merged.items():
            yield rc, _nodes(names)

    def _merge(self, method, match_keys):
        merged = {}
        order = []
        for worker, final in self._parts:
            keys = final if match_keys is None else final.intersection(match_keys)
            if not keys:
                continue
            for msg, nodes in getattr(worker, method)(keys):
                names = merged.get(id(msg))
                if names is None:
                    merged[id(msg)] = names = []
                    order.append((msg, names))
                names.extend(nodes)
        return order

    def iter_buffers(self, match_keys=None):
        for msg, names in self._merge("iter_buffers", match_keys):
            yield msg, _nodes(names)

    def iter_node_buffers(self, match_keys=None):
        for worker, final in self._parts:
            keys = final if match_keys is None else final.intersection(match_keys)
            if keys:
                yield from worker.iter_node_buffers(keys)

    def iter_keys_timeout(self):
        for worker, final in self._parts:
            for node in worker.iter_keys_timeout():
                if node in final:
                    yield node

    def num_timeout(self):
        return sum(1 for _ in self.iter_keys_timeout())

    def max_retcode(self):
        codes = [rc for rc, _ in self.iter_retcodes()]
        return max(codes) if codes else None


class _RunControl(EventHandler):
    """Wraps the output handler of one command to add what ClusterShell's
    clush does not have: start times for the Ctrl-C report, --fail-fast and
    --retry.  The callbacks it does not need go straight to the wrapped
    handler (bound as attributes), at no cost per line."""

    def __init__(self, inner, task, nodes, prog, fail_fast=False, retries=0):
        EventHandler.__init__(self)
        self.inner = inner
        self.task = task
        self.prog = prog
        self.nodes = NodeSet(nodes)
        self.fail_fast = fail_fast
        self.retries = retries
        self.attempt = 1
        self.failed = None              # (node, rc) stopping a --fail-fast run
        self.stopped = NodeSet()        # nodes a --fail-fast run did not finish
        self.results = _Attempts(task)
        self.muted = False              # interrupted: nothing more to show
        self.done = False               # the last attempt has ended
        self.starts = {}                # running node -> monotonic start time
        self.waiting = set(self.nodes)  # nodes not started yet
        self._retry = []
        self._targets = self.nodes      # nodes of the current attempt
        self._rerun = None              # (command, kwargs) for the next attempt
        self._written = []              # stdin given so far, for next attempts
        self._eof = False
        self._workers = []
        for name in ("ev_start", "ev_read", "ev_error", "ev_written", "ev_timeout",
                     "_ev_routing"):
            method = getattr(inner, name, None)
            if method is not None and method.__func__ is not getattr(EventHandler, name, None):
                setattr(self, name, method)

    def launch(self, command, **kwargs):
        """Schedule the command on the nodes (kwargs: of Task.shell)."""
        self._rerun = (command, kwargs)
        return self._schedule(self.nodes)

    def _schedule(self, nodes):
        command, kwargs = self._rerun
        worker = self.task.shell(command, nodes=nodes, handler=self, **kwargs)
        self._targets = nodes
        # a new attempt gets the same stdin
        for buf in self._written:
            worker.write(buf)
        if self._eof:
            worker.set_write_eof()
        self._workers.append(worker)
        return worker

    def write(self, buf):
        """Write to the command's stdin (on every node, every attempt)."""
        if self.retries:
            self._written.append(buf)
        for worker in self._workers:
            worker.write(buf)

    def set_write_eof(self):
        """Close the command's stdin once what was written has gone."""
        self._eof = True
        for worker in self._workers:
            worker.set_write_eof()

    def ev_pickup(self, worker, node):
        self.waiting.discard(node)
        self.starts[node] = monotonic()
        self.inner.ev_pickup(worker, node)

    def ev_hup(self, worker, node, rc):
        self.starts.pop(node, None)
        if rc == 255 and self.attempt <= self.retries:
            self._retry.append(node)
            return
        self.inner.ev_hup(worker, node, rc)
        if rc and self.fail_fast and self.failed is None:
            self.failed = (node, rc)
            self.stopped = NodeSet.fromlist(list(self.starts) + list(self.waiting))
            for running in self._workers:
                running.abort()

    def ev_close(self, worker, timedout):
        if self.muted:
            self.done = True
            return
        retry, self._retry = self._retry, []
        final = set(self._targets)
        final.difference_update(retry)
        self.results.add(worker, final)
        if retry and self.failed is None:
            self.attempt += 1
            nodes = _nodes(retry)
            self.inner._display.vprint_err(
                VERB_VERB, "%s: %s: exited with exit code 255, retrying (attempt %d/%d)"
                % (self.prog, nodes, self.attempt, self.retries + 1))
            self.waiting.update(retry)
            self._schedule(nodes)
            return
        self.starts.clear()
        self.done = True
        if self.failed is not None:
            node, rc = self.failed
            text = "%s: fail-fast: %s exited with exit code %d" % (self.prog, node, rc)
            if self.stopped:
                text += ", stopped %s" % self.stopped
            self.inner._display.vprint_err(VERB_QUIET, text)
        self.inner.ev_close(self.results if len(self._workers) > 1 else worker,
                            timedout or self.results.num_timeout() > 0)

    def mute(self):
        """The command is interrupted: show nothing more."""
        self.muted = True
        self.inner._runtimer_clean()

    def max_retcode(self):
        """Largest final return code of the command (None if none)."""
        if len(self._workers) > 1:
            return self.results.max_retcode()
        return self.task.max_retcode()

    def num_timeout(self):
        return self.results.num_timeout()

    def progress_report(self):
        """Lines telling which nodes run, since when, and which wait."""
        now = monotonic()
        by_age = {}
        for node, start in dict(self.starts).items():
            by_age.setdefault(int(now - start), []).append(node)
        running = _nodes([node for nodes in by_age.values() for node in nodes])
        lines = ["%s: in progress(%d): %s" % (self.prog, len(running), running)]
        for age in sorted(by_age, reverse=True):
            lines.append("%s: %s: running for %ds" % (self.prog, _nodes(by_age[age]), age))
        waiting = set(self.waiting)
        if waiting:
            lines.append("%s: pending(%d): %s" % (self.prog, len(waiting), _nodes(waiting)))
        return lines


class RunTimer(EventHandler):
    """Timer handler printing `clush: done/total` on stderr (-P, -b...)."""

    def __init__(self, task, total, prog=None):
        EventHandler.__init__(self)
        self.task = task
        self.total = total
        self.cnt_last = -1
        self.tslen = len(str(total))
        self.wholelen = 0
        self.started = False
        self.start_time = 0
        self.bytes_written = 0
        self._prog = prog or _prog_name()

    def ev_timer(self, timer):
        self.update()

    def set_dirty(self):
        """Print the line again at the next tick."""
        self.cnt_last = -1

    def erase_line(self):
        """Blank the progress line out."""
        if self.wholelen:
            sys.stderr.write(" " * self.wholelen + "\r")
            self.wholelen = 0

    def update(self):
        """Print the progress line if something changed."""
        rate = ""
        if self.bytes_written > 0:
            speed = self.bytes_written / (time() - self.start_time)
            rate = " write: %s/s" % human_bi_bytes_unit(speed)
        # clients not done yet, and in tree mode the nodes behind gateways
        task = self.task
        count = len(task._engine.clients())
        gwinfo = ""
        if task.gateways:
            active = set()
            for gateway, (_, metaworkers) in task.gateways.items():
                for metaworker in metaworkers:
                    active.update(metaworker.gwtargets.get(gateway, ()))
            count += len(active) - len(task.gateways)
            gwinfo = " gw %d" % len(task.gateways)
        if self.bytes_written > 0 or count != self.cnt_last:
            self.cnt_last = count
            width = self.tslen
            line = "%s: %*d/%*d%s%s\r" % (self._prog, width, self.total - count, width,
                                          self.total, gwinfo, rate)
            self.wholelen = len(line)
            sys.stderr.write(line)
            self.started = True

    def finalize(self, force_cr):
        """Print the final `total/total` (ending with a newline when
        `force_cr`, else a carriage return)."""
        if not self.started:
            return
        self.erase_line()
        width = self.tslen
        sys.stderr.write("%s: %*d/%*d%s" % (self._prog, width, self.total, width,
                                            self.total, "\n" if force_cr else "\r"))


def signal_handler(signum, frame):
    """SIGUSR1 handler of the main thread: wakes ttyloop() up."""
    if signum == signal.SIGUSR1:
        signal.signal(signal.SIGUSR1, signal.SIG_IGN)
        raise UpdatePromptException()


def get_history_file():
    """Path of the interactive mode's readline history."""
    return join(os.environ["HOME"], ".clush_history")


def readline_setup():
    """Set readline up (tab completion off, history loaded)."""
    import readline
    readline.set_completer_delims("")
    readline.parse_and_bind("tab: complete")
    try:
        readline.read_history_file(get_history_file())
    except OSError:
        pass  # no history yet


class _SecondInterrupt(KeyboardInterrupt):
    """The Ctrl-C that aborts, in two-step mode."""


#: signals that end clush as Ctrl-C does, and make it exit with 128+signal
END_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


class _Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP: the run stops at once (every command's process
    group killed, what is due printed, as for Ctrl-C), then clush exits
    with 128+signal."""

    def __init__(self, signum):
        KeyboardInterrupt.__init__(self, signum)
        self.signum = signum


def _end_signal(signum, frame):
    raise _Terminated(signum)


def _catch_end_signals():
    """Install the END_SIGNALS handler (a signal ignored when clush starts,
    as under nohup, stays ignored)."""
    for signum in END_SIGNALS:
        if signal.getsignal(signum) is not signal.SIG_IGN:
            signal.signal(signum, _end_signal)


class _Interrupt(EventHandler):
    """Two-step Ctrl-C: the first press reports on the running command,
    a second one within INTERRUPT_WINDOW seconds aborts it.

    The SIGINT handler only takes note or raises: it may run in the middle
    of anything (holding a lock, writing to stderr), so that the report is
    printed later by report(), from the loop waiting for the command: the
    engine's, through a timer that also wakes it every AWAKE_PERIOD
    seconds, or ttyloop()'s.  The command to report on is `control` (a
    _RunControl), set by run_command()."""

    AWAKE_PERIOD = 0.1

    def __init__(self, display):
        EventHandler.__init__(self)
        self.display = display
        self.control = None
        self.last = None
        self.pending = False

    def sigint(self, signum, frame):
        """The SIGINT handler."""
        control = self.control
        if control is None or control.done:
            raise KeyboardInterrupt()
        now = monotonic()
        if self.last is not None and now - self.last <= INTERRUPT_WINDOW:
            control.muted = True
            raise _SecondInterrupt()
        self.last = now
        self.pending = True

    def report(self):
        """Print what runs and what waits, if Ctrl-C asked for it."""
        control = self.control
        if not self.pending or control is None:
            return
        self.pending = False
        if control.done:
            return
        lines = ["%s: interrupt (^C again within %gs to abort)"
                 % (control.prog, INTERRUPT_WINDOW)]
        lines.extend(control.progress_report())
        control.inner._runtimer_clean()
        for line in lines:
            self.display.vprint_err(VERB_QUIET, line)
        control.inner._runtimer_set_dirty()

    def keep_awake(self, task):
        """Report, and wake the engine of `task` (run by the main thread)
        up, every AWAKE_PERIOD seconds: a signal that comes while the engine
        does not wait in the kernel (and so does not interrupt the wait)
        would otherwise have its handler run at the next event only."""
        task.timer(self.AWAKE_PERIOD, self, interval=self.AWAKE_PERIOD, autoclose=True)

    def ev_timer(self, timer):
        self.report()


def _interrupted(task, display, nodes, signum=signal.SIGINT):
    """KeyboardInterrupt for an interrupted command, after printing what
    was gathered so far; it names the nodes that did not complete (and the
    signal that stopped it, `signum`)."""
    error = KeyboardInterrupt()
    error.signum = signum
    try:
        _print_interrupted(task, display, nodes, signum, error)
    except OSError:
        pass    # the terminal is gone (SIGHUP) or the reader left
    return error


def _print_interrupted(task, display, nodes, signum, error):
    done = NodeSet()
    if display.gather and task.default("stdout_msgtree"):
        warned = False
        gathered = sorted(((msg, _nodes(keys)) for msg, keys in task.iter_buffers()),
                          key=bufnodeset_cmpkey)
        for msg, nodeset in gathered:
            if not warned:
                warned = True
                caught = "keyboard interrupt" if signum == signal.SIGINT \
                    else signal.Signals(signum).name
                display.vprint_err(VERB_STD, "Warning: Caught %s!" % caught)
            display.print_gather(nodeset, msg)
    level = VERB_STD if display.maxrc else VERB_QUIET
    for rc, names in task.iter_retcodes():
        nodeset = _nodes(names)
        done.add(nodeset)
        if rc != 0 and display.gather:
            text = nodeset
            if len(nodeset) > 1:
                text = "%s (%d)" % (nodeset, len(nodeset))
            display.vprint_err(level, "clush: %s: exited with exit code %d" % (text, rc))
    if nodes is not None:
        error.uncompleted_nodes = NodeSet(nodes) - done
    if display.gather and task.num_timeout() > 0:
        display.vprint_err(level, "clush: %s: command timeout"
                           % _nodes(task.iter_keys_timeout()))


def _running_report(task, display):
    """Enter pressed while a command runs: print what runs and waits."""
    started, waiting = NodeSet(), NodeSet()
    for client in task._engine.clients():
        (started if client.registered else waiting).add(client.key)
    pending = ""
    if waiting:
        pending = "\nclush: pending(%d): %s" % (len(waiting), waiting)
    display.vprint_err(VERB_QUIET, "clush: interrupt (^C to abort task)")
    gateways = task.gateways
    if gateways:
        pending += "\nclush: [tree] open gateways(%d): %s" % (len(gateways),
                                                              NodeSet.fromlist(gateways))
    display.vprint_err(VERB_QUIET, "clush: in progress(%d): %s%s"
                       % (len(started), started, pending))
    for gateway, (_, metaworkers) in gateways.items():
        active = set()
        for metaworker in metaworkers:
            active.update(metaworker.gwtargets.get(gateway, ()))
        if active:
            display.vprint_err(VERB_QUIET, "clush: [tree] in progress(%d) on %s: %s"
                               % (len(active), gateway, NodeSet.fromlist(active)))


def _prompt_command(task, display, ns, line):
    """Handle a prompt line that changes the session rather than running a
    command (+nodes, -nodes, @nodes, =, ?).  Returns (ns, done, show_ns):
    done when the line needs nothing more."""
    lowered = line.lower()
    head = lowered[:1]
    try:
        if head == "+":
            ns.update(lowered[1:])
        elif head == "-":
            ns.difference_update(lowered[1:])
        elif head == "@":
            ns = NodeSet(lowered[1:])
        elif lowered == "=":
            display.gather = not display.gather
            display.vprint(VERB_STD, "Switching to %s output format"
                           % ("gathered" if display.gather else "standard"))
            task.set_default("stdout_msgtree", display.gather or display.line_mode)
            return ns, True, False
        elif head != "?":
            return ns, False, False
    except NodeSetParseError:
        display.vprint_err(VERB_QUIET, "clush: nodeset parse error (ignoring)")
    return ns, True, True


class _PromptWaker:
    """Wakes ttyloop() up when the command of the task thread is done (its
    handler sends SIGUSR1 to the main thread).

    While a command runs, the main thread waits for a line in select()
    rather than in readline, with signal.set_wakeup_fd() on a pipe of its
    own: a signal that comes just before the wait is not missed (readline
    only sees those that interrupt it), and no signal handler raises inside
    readline (where a second pending signal turns the exception into a
    SystemError)."""

    def __init__(self, task):
        self.task = task
        self.armed = False
        self._saved = None
        self._pipe = None

    def __enter__(self):
        self._pipe = os.pipe()
        for fd in self._pipe:
            os.set_blocking(fd, False)
        self._saved = (signal.signal(signal.SIGUSR1, self._handle),
                       signal.set_wakeup_fd(self._pipe[1], warn_on_full_buffer=False))
        return self

    def __exit__(self, *exc):
        self.armed = False
        signal.set_wakeup_fd(self._saved[1])
        signal.signal(signal.SIGUSR1, self._saved[0])
        for fd in self._pipe:
            os.close(fd)

    def _handle(self, signum, frame):
        if self.armed:
            self.armed = False
            raise UpdatePromptException()

    def wait_line(self, prompt, running):
        """raw_input(prompt), or UpdatePromptException once the command
        is done (`running`: one is running now)."""
        self.armed = True
        try:
            if running:
                self._wait_input()
            return raw_input(prompt)
        finally:
            self.armed = False

    def _wait_input(self):
        """Return once stdin has a line to read; UpdatePromptException when
        the command is done first."""
        import select
        try:
            fileno = sys.stdin.fileno()
        except (AttributeError, OSError, ValueError):
            return  # not a real file: leave it to raw_input
        wake = self._pipe[0]
        interrupt = self.task.default("USER_interrupt")
        while self.task.default("USER_running"):
            if interrupt is not None:
                interrupt.report()
            ready = select.select([fileno, wake], [], [])[0]
            if wake in ready:
                while True:
                    try:
                        if not os.read(wake, 512):
                            break
                    except BlockingIOError:
                        break
            elif ready:
                return
        raise UpdatePromptException()


def ttyloop(task, nodeset, timeout, display, remote, trytree):
    """Read lines from the terminal: the interactive mode's prompt, or
    Enter/Ctrl-C while a command (run by the task thread) is running."""
    if task.default("USER_handle_SIGUSR1"):
        with _PromptWaker(task) as waker:
            return _ttyloop(task, nodeset, timeout, display, remote, trytree, waker)
    return _ttyloop(task, nodeset, timeout, display, remote, trytree, None)


def _ttyloop(task, nodeset, timeout, display, remote, trytree, waker):
    interactive = task.default("USER_interactive")
    readline = None
    if interactive:
        try:
            import readline
            readline_setup()
        except ImportError:
            readline = None
        display.vprint(VERB_STD, "Enter 'quit' to leave this interactive mode")
    ns = NodeSet(nodeset)
    show_ns = True
    line = ""
    while task.default("USER_running") or (interactive and line.lower() != "quit"):
        try:
            running = task.default("USER_running")
            if not running and not interactive:
                return
            prompt = ""
            if interactive and not running:
                if show_ns:
                    display.vprint(VERB_QUIET, "Working with nodes: %s" % ns)
                    show_ns = False
                prompt = "clush> "
            if waker is None:
                line = raw_input(prompt)
            else:
                line = waker.wait_line(prompt, running)
        except EOFError:
            print()
            return
        except UpdatePromptException:
            if task.default("USER_interactive"):
                continue
            return
        except KeyboardInterrupt as error:
            if isinstance(error, _SecondInterrupt) or not display.gather \
                    or not task.default("USER_running"):
                raise
            # ClusterShell's single Ctrl-C: what was gathered, then exit
            raise _stop_command(task, display, task.default("USER_control"), ns,
                                getattr(error, "signum", signal.SIGINT))
        if task.default("USER_running"):
            _running_report(task, display)
            continue
        ns, done, show_ns = _prompt_command(task, display, ns, line)
        if done:
            continue
        if line.lower().startswith("!") and line.strip():
            run_command(task, line[1:], None, timeout, display, remote, trytree)
        elif line.lower() != "quit" and line:
            if readline is not None:
                readline.write_history_file(get_history_file())
            prefix = task.default("USER_command_prefix")
            if prefix:
                import shlex
                line = "%s %s" % (" ".join(shlex.split(prefix)), line)
            run_command(task, line, ns, timeout, display, remote, trytree)


def _stop_command(task, display, control, nodes, signum=signal.SIGINT):
    """Stop the running command after printing what it gathered so far;
    return the KeyboardInterrupt to raise (see _interrupted)."""
    if control is not None:
        control.mute()
    if task.thread is threading.current_thread():
        # the engine stops the commands as the exception goes through it
        return _interrupted(task, display, nodes, signum)
    task.suspend()
    try:
        if not task.default("USER_running"):
            error = KeyboardInterrupt()
            error.signum = signum
            return error
        error = _interrupted(task, display, nodes, signum)
    finally:
        task.resume()
    task.abort()
    task.join()
    return error


def _stdin_reader(port, display):
    """Stdin reader thread: stdin's data as port messages, then None."""
    try:
        fileno = sys_stdin().fileno()
        while True:
            # big reads, as ssh does; os.read returns what is there
            buf = os.read(fileno, 65536)
            if not buf:
                break
            port.msg(buf)
    except OSError as exc:
        display.vprint(VERB_VERB, "stdin: %s" % exc)
    port.msg(None)


def bind_stdin(worker, display):
    """Forward stdin (not a terminal) to `worker`: a daemon thread reads it
    and sends what it reads to a port of the worker's task."""
    assert sys.stdin is not None and not sys.stdin.isatty()
    port = worker.task.port(handler=StdInputHandler(worker), autoclose=True)
    reader = threading.Thread(None, _stdin_reader, args=(port, display))
    # the thread may be left blocked in read() when the commands are done
    reader.daemon = True
    reader.start()


def _output_handler(task, display, ns):
    """The output handler of a command on `ns` (None: a local command)."""
    verbosity = display.verbosity
    if task.default("USER_json") and ns is not None:
        handler = _JsonOutputHandler(display, display.gather)
        if display.progress and verbosity > VERB_QUIET:
            handler.runtimer_init(task, len(ns))
        return handler
    gather, line_mode = display.gather, display.line_mode
    if (gather or line_mode) and ns is not None:
        live = verbosity == VERB_VERB
        if gather and line_mode:
            handler = LiveGatherOutputHandler(display, ns)
        elif line_mode:
            handler = SortedOutputHandler(display) if live else _QuietSortedOutputHandler(display)
        else:
            handler = GatherOutputHandler(display) if live else _QuietGatherOutputHandler(display)
        if verbosity in (VERB_STD, VERB_VERB) or (display.progress and verbosity > VERB_QUIET):
            handler.runtimer_init(task, len(ns))
        return handler
    if display.progress and verbosity > VERB_QUIET:
        handler = DirectProgressOutputHandler(display)
        handler.runtimer_init(task, len(ns))
        return handler
    if (display.outdir or display.errdir) and ns is not None:
        for folder in (display.outdir, display.errdir):
            if folder and not exists(folder):
                os.makedirs(folder)
        return DirectOutputDirHandler(display, ns)
    return DirectOutputHandler(display)


def run_command(task, cmd, ns, timeout, display, remote, trytree):
    """Run `cmd` on the nodes `ns` (locally when None) and display its
    output; returns when it is done, or at once if the task has a thread
    of its own."""
    task.set_default("USER_running", True)
    handler = _output_handler(task, display, ns)
    stdin = task.default("USER_stdin_worker")
    password = task.default("USER_password_prompt")
    options = {"timeout": timeout, "remote": remote, "tree": None if trytree else False,
                   "stdin": bool(stdin or password is not None)}
    if ns is None:
        control = None
        worker = task.shell(cmd, handler=handler, **options)
        worker.set_key("LOCAL")
    else:
        control = _RunControl(handler, task, ns, handler._prog,
                              fail_fast=task.default("USER_fail_fast"),
                              retries=task.default("USER_retry") or 0)
        worker = control.launch(cmd, **options)
    task.set_default("USER_control", control)
    interrupt = task.default("USER_interrupt")
    if interrupt is not None:
        interrupt.control = control
    stdin_of = control or worker
    if password:
        stdin_of.write(password.encode() + b"\n")
    if stdin:
        bind_stdin(stdin_of, display)
    elif password:
        # stdin was only opened for the password
        stdin_of.set_write_eof()
    task.resume()


def _copy_handler(task, display, ns, sources, reverse):
    task.set_default("USER_running", True)
    task.set_default("USER_copies", len(sources))
    handler = CopyOutputHandler(display, reverse)
    if display.verbosity in (VERB_STD, VERB_VERB):
        handler.runtimer_init(task, len(ns) * len(sources))
    return handler


def run_copy(task, sources, dests, ns, timeout, preserve_flag, display):
    """Copy each local source to its destination on the nodes."""
    handler = _copy_handler(task, display, ns, sources, False)
    for source in sources:
        if not exists(source):
            display.vprint_err(VERB_QUIET, 'ERROR: file "%s" not found' % source)
            clush_exit(1, task)
        task.copy(source, dests.pop(0), ns, handler=handler, timeout=timeout,
                  preserve=preserve_flag)
    task.resume()


def run_rcopy(task, sources, dests, ns, timeout, preserve_flag, display):
    """Copy each source of the nodes into a local directory (one file per
    node, named after the source and the node)."""
    for dest in dests:
        if not exists(dest):
            display.vprint_err(VERB_QUIET, 'ERROR: directory "%s" not found' % dest)
            clush_exit(1, task)
        if not isdir(dest):
            display.vprint_err(VERB_QUIET, 'ERROR: destination "%s" is not a directory'
                               % dest)
            clush_exit(1, task)
    handler = _copy_handler(task, display, ns, sources, True)
    for source in sources:
        task.rcopy(source, dests.pop(0), ns, handler=handler, timeout=timeout,
                   stderr=True, preserve=preserve_flag)
    task.resume()


def set_fdlimit(fd_max, display):
    """Set the soft limit of open files to fd_max (at most the hard one)."""
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard < fd_max:
        display.vprint_err(VERB_VERB, "Warning: fd_max set to %d but max open files hard "
                                      "limit is %d" % (fd_max, hard))
    wanted = min(hard, fd_max)
    if soft == wanted:
        return
    display.vprint(VERB_DEBUG, "Changing max open files soft limit from %d to %d"
                   % (soft, wanted))
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    except (ValueError, OSError) as exc:
        display.vprint_err(VERB_VERB, "Warning: Failed to set max open files limit to "
                                      "%d (%s)" % (wanted, exc))


#: file descriptors a running command holds (stdin, stdout, stderr, pidfd)
FDS_PER_COMMAND = 4
#: descriptors kept free for the rest (a spawn's child ends, config files...)
FDS_RESERVED = 16


def fitting_fanout(fanout, nodes, display):
    """The fanout to run `nodes` commands with: `fanout`, or less when
    the open files limit (ulimit -n) cannot hold that many commands at
    once, which is then said once on stderr."""
    import resource
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if soft == resource.RLIM_INFINITY or min(fanout, nodes) * FDS_PER_COMMAND < soft / 2:
        return fanout   # far from it: no need to count the open fds
    try:
        used = len(os.listdir("/proc/self/fd")) - 1
    except OSError:
        used = 16
    fits = max(1, (soft - used - FDS_RESERVED) // FDS_PER_COMMAND)
    if min(fanout, nodes) <= fits:
        return fanout
    display.vprint_err(VERB_QUIET, "clush: fanout %d needs %d file descriptors, more than "
                       "the open files limit allows (ulimit -n %d, %d in use): running "
                       "with fanout %d" % (fanout, fanout * FDS_PER_COMMAND, soft, used, fits))
    return fits


def ask_pass():
    """Read a password on the terminal (run modes with password_prompt)."""
    import getpass
    return getpass.getpass()


def _stop_all_tasks():
    """Abort every task (killing what they still run), best effort."""
    with Task._task_lock:
        tasks = list(Task._tasks.values())
    for task in tasks:
        try:
            task.abort(kill=True)
        except Exception:  # noqa: BLE001, S110 (exiting anyway: stop the others)
            pass


def clush_exit(status, task=None):
    """Exit with `status`: through the task (aborted, then joined) if
    given, else at once, once every task is stopped."""
    if task:
        task.abort()
        task.join()
        sys.exit(status)
    _stop_all_tasks()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    # no interpreter clean-up: a stdin reader thread may be blocked
    os._exit(status)


def clush_excepthook(extype, exp, traceback):
    """sys.excepthook (and the tasks' excepthook) of clush: the message and
    exit code of each error, as ClusterShell's clush prints them."""
    from clusterpy.CLI.Error import GENERIC_ERRORS, handle_generic_error
    if isinstance(exp, ClushConfigError):
        print("ERROR: %s" % exp, file=sys.stderr)
        clush_exit(1)
    elif isinstance(exp, KeyboardInterrupt):
        signum = getattr(exp, "signum", signal.SIGINT)
        for ended in (signal.SIGINT,) + END_SIGNALS:
            signal.signal(ended, signal.SIG_IGN)    # exiting: no second one
        what = "Keyboard interrupt" if signum == signal.SIGINT \
            else "Terminated by %s" % signal.Signals(signum).name
        nodes = getattr(exp, "uncompleted_nodes", None)
        try:
            if nodes:
                print("%s (%s did not complete)." % (what, nodes), file=sys.stderr)
            else:
                print("%s." % what, file=sys.stderr)
        except OSError:
            pass    # the terminal is gone (SIGHUP)
        clush_exit(128 + signum)
    elif isinstance(exp, GENERIC_ERRORS):
        clush_exit(handle_generic_error(exp))
    # a bug: the traceback, then out (an idle task thread would keep the
    # interpreter from exiting)
    task_self().default_excepthook(extype, exp, traceback)
    clush_exit(1)


def _parser():
    parser = OptionParser("%prog [options] command")
    parser.add_option("-n", "--nostdin", action="store_true", dest="nostdin",
                      help="do not forward standard input to the commands")
    # in --help order
    for install in (parser.install_groupsconf_option, parser.install_clush_config_options,
                    parser.install_nodes_options):
        install()
    parser.install_display_options(verbose_options=True)
    for install in (parser.install_filecopy_options, parser.install_connector_options):
        install()
    import optparse
    group = optparse.OptionGroup(parser, "clusterpy additions")
    group.add_option("--json", action="store_true", dest="json", default=False,
                     help="print one JSON object per node (per group of nodes "
                          "with -b) on stdout")
    group.add_option("-k", "--fail-fast", action="store_true", dest="fail_fast",
                     default=False, help="stop everything at the first node "
                                         "whose command fails")
    group.add_option("--retry", action="store", dest="retry", type="int", default=0,
                     metavar="N", help="run the command again, up to N times, on "
                                       "the nodes where it exited with 255")
    parser.add_ssh_reuse_options(group)
    parser.add_option_group(group)
    return parser


def _check_additions(parser, options, interactive):
    """Option errors of --json, --fail-fast and --retry."""
    if options.retry < 0:
        parser.error("option --retry: invalid value: %d" % options.retry)
    copying = options.copy or options.rcopy
    if options.json:
        for given, name in ((options.line_mode, "-L"), (options.diff, "--diff"),
                            (options.outdir or options.errdir, "--outdir/--errdir"),
                            (copying, "--copy/--rcopy"), (interactive, "interactive mode")):
            if given:
                parser.error("option mismatch (--json not supported with %s)" % name)
    if copying:
        for given, name in ((options.fail_fast, "--fail-fast"), (options.retry, "--retry")):
            if given:
                parser.error("option mismatch (%s not supported with --copy/--rcopy)"
                             % name)


def _listed_nodes(options, display):
    """(nodes, excluded nodes) given by -w, --hostfile and -x."""
    picked = [NodeSet(nodes) for nodes in options.nodes or ()]
    excluded = [NodeSet(nodes) for nodes in options.exclude or ()]
    for flag, nodesets in (("w", picked), ("x", excluded)):
        for nodes in nodesets:
            if len(nodes) == 1 and exists(str(nodes)):
                display.vprint_err(VERB_STD, "Warning: using '-%s %s' and local path '%s' "
                                             "exists, was it expanded by the shell?"
                                   % (flag, nodes, nodes))
    for path in options.hostfile:
        from_file = NodeSet()
        with open(path) as hostfile:
            for line in hostfile.read().splitlines():
                from_file.updaten(line.split())
        display.vprint_err(VERB_DEBUG, "Using nodeset %s from hostfile %s"
                           % (from_file, path))
        picked.append(from_file)
    return NodeSet.fromlist(picked), NodeSet.fromlist(excluded)


def _target_nodes(parser, options, config, display, nodes, exclude):
    """The node set to run on: `nodes` with -a and -g, less `exclude` and
    -X, then --pick."""
    if options.nodes_all:
        everything = NodeSet.fromall()
        display.vprint(VERB_DEBUG, "Adding nodes from option -a: %s" % everything)
        nodes.add(everything)
    for groups, target, verb in ((options.group, nodes, "Adding nodes from option -g"),
                                 (options.exgroup, exclude, "Excluding nodes from option -X")):
        if groups:
            for group in NodeSet.fromlist(groups, resolver=RESOLVER_NOGROUP):
                members = NodeSet("@" + group)
                display.vprint(VERB_DEBUG, "%s %s: %s" % (verb, group, members))
                target.update(members)
    nodes.difference_update(exclude)
    if len(nodes) < 1:
        parser.error("No node to run on.")
    if options.pick and options.pick < len(nodes):
        import random
        nodes.intersection_update(",".join(random.sample(list(nodes), options.pick)))
        if config.verbosity >= VERB_VERB:
            print(Display.COLOR_RESULT_FMT % ("Picked random nodes: %s" % nodes))
    return nodes


def _color(config, options):
    """Colours wanted by clush.conf (True/False): "auto" means stdout is a
    terminal, and stderr too unless -B merges it."""
    whencolor = config.color
    if whencolor != "auto":
        return whencolor == "always"
    return sys.stdout.isatty() and (options.gatherall or sys.stderr.isatty())


def _foreground_tty(stream):
    """Whether `stream` is the terminal of the foreground process group."""
    try:
        return stream is not None and stream.isatty() \
            and os.tcgetpgrp(stream.fileno()) == os.getpgrp()
    except OSError:
        return False    # ENOTTY: a terminal, but not our controlling one


def _configure_connections(task, config):
    """ssh/rsh settings and timeouts (of the run mode, if any)."""
    for key in ("ssh_user", "ssh_path", "ssh_options", "scp_path", "scp_options",
                "rsh_path", "rcp_path", "rsh_options"):
        value = getattr(config, key)
        if value:
            task.set_info(key, value)
    task.set_info("connect_timeout", config.connect_timeout)
    task.set_info("command_timeout", config.command_timeout)
    # clusterpy's ssh connection reuse (-O ssh_reuse=SECONDS...)
    for key in ("ssh_reuse", "ssh_reuse_max", "ssh_reuse_dir"):
        value = getattr(config, key)
        if value:
            task.set_info(key, value)
    if config.tree_gateway_module:
        task.set_default("tree_gateway_module", config.tree_gateway_module)


def _close_connections(task, parser, options, config, display, nodes, exclude):
    """--close-connections: end the reused ssh connections (of the nodes
    given, if any) and exit."""
    from clusterpy.Worker.Ssh import close_connections
    _configure_connections(task, config)
    if nodes or options.nodes_all or options.group:
        nodes = _target_nodes(parser, options, config, display, nodes, exclude)
    else:
        nodes = None
    closed = close_connections(nodes, task)
    display.vprint_err(VERB_VERB, "clush: %d ssh connection(s) closed" % closed)
    clush_exit(0, task)


def _set_worker(task, options, config, display):
    """-R/--worker and tree mode (--topology, or a topology.conf found by
    the task).  In tree mode, -R names the worker the gateways use for
    their nodes (see docs/compat.md); the task still reaches its gateways
    with its distant worker.  Returns whether commands may go through
    gateways."""
    tree_mode = bool(options.topofile) or task._default_tree_is_enabled()
    if options.topofile:
        task.load_topology(options.topofile)
    if options.worker:
        try:
            workerclass = _load_workerclass(options.worker)
            if tree_mode and options.remote != "no":
                task.set_info("tree_default:distant_workername", options.worker)
            else:
                key = "local_worker" if options.remote == "no" else "distant_worker"
                task.set_default(key, workerclass)
        except (ImportError, AttributeError):
            display.vprint_err(VERB_QUIET, "ERROR: Could not load worker '%s'"
                               % options.worker)
            clush_exit(1, task)
    if tree_mode and config.verbosity >= VERB_VERB:
        roots = len(task.topology.root.nodeset)
        gateways = task.topology.inner_node_count() - roots
        print("clush: enabling tree topology (%d gateways)" % gateways, file=sys.stderr)
    return tree_mode or options.worker is None


def _copy_destinations(options, args):
    """Destination of each source of --copy/--rcopy, and the debug text."""
    if options.dest_path:
        dests = [options.dest_path] * len(args)
    elif options.copy:
        # a trailing '/' marks a directory
        dests = [join(dirname(abspath(arg)), "") for arg in args]
    else:
        dests = [dirname(abspath(arg)) for arg in args]
    what = "copy" if options.copy else "rcopy"
    return dests, "%s sources=%s dest=%s" % (what, args, dests)


def main():
    """clush's entry point."""
    sys.excepthook = clush_excepthook
    _catch_end_signals()
    parser = _parser()
    options, args = parser.parse_args()
    set_std_group_resolver_config(options.groupsconf)
    config = ClushConfig(options, options.conf)

    import logging
    debug = config.verbosity >= VERB_DEBUG
    logging.basicConfig(level=logging.DEBUG if debug else logging.CRITICAL)
    if debug:
        logging.debug("clush: STARTING DEBUG")  # noqa: LOG015 (ClusterShell's output)

    try:
        display = Display(options, config, _color(config, options))
    except ValueError as exc:
        parser.error("option mismatch (%s)" % exc)

    if options.groupsource:
        std_group_resolver().default_source_name = options.groupsource
    nodes, exclude = _listed_nodes(options, display)
    DEFAULTS.engine = options.engine
    if options.axis:
        DEFAULTS.fold_axis = parse_fold_axis(options.axis)

    task = task_self()
    task.set_info("debug", config.verbosity >= VERB_DEBUG)
    if options.close_connections:
        _close_connections(task, parser, options, config, display, nodes, exclude)
    nodeset_base = _target_nodes(parser, options, config, display, nodes, exclude)
    set_fdlimit(config.fd_max, display)

    copying = options.copy or options.rcopy
    interactive = not args and not copying
    stdin_tty = _foreground_tty(sys.stdin)
    if interactive and not stdin_tty:
        # no command and stdin is not a terminal: read commands from stdin,
        # without a pseudo-terminal on the ssh side
        interactive = False
        config._set_main("ssh_options", (config.ssh_options or "") + " -T")
    if options.nostdin and interactive:
        parser.error("illegal option `--nostdin' in that case")
    _check_additions(parser, options, interactive)

    user_interaction = hasattr(sys.modules[__name__], "_f_user_interaction")
    if not options.nostdin:
        user_interaction |= stdin_tty and _foreground_tty(sys.stdout)
    display.vprint(VERB_DEBUG, "User interaction: %s" % user_interaction)
    if user_interaction:
        # the main thread reads the terminal, commands run in a thread of
        # their own, which leaves SIGINT and SIGUSR1 to the main thread
        signal.signal(signal.SIGUSR1, signal.SIG_IGN)
        mask = signal.pthread_sigmask(signal.SIG_BLOCK,
                                      (signal.SIGINT, signal.SIGUSR1) + END_SIGNALS)
        try:
            task = Task()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
    task.set_default("USER_handle_SIGUSR1", user_interaction)
    task.excepthook = sys.excepthook
    task.set_default("USER_stdin_worker",
                     not (sys.stdin is None or sys.stdin.isatty() or options.nostdin
                          or user_interaction))
    display.vprint(VERB_DEBUG, "Create STDIN worker: %s" % task.default("USER_stdin_worker"))
    task.set_info("debug", config.verbosity >= VERB_DEBUG)
    # as ClusterShell's clush does, the fanout is read before the run mode
    task.set_info("fanout", fitting_fanout(config.fanout, len(nodeset_base), display))

    if options.mode:
        display.vprint(VERB_DEBUG, "ClushConfig parsed: %s" % config.parsed)
        display.vprint(VERB_DEBUG, "Available run modes: %s" % " ".join(config.modes()))
        config.set_mode(options.mode)
        display.vprint(VERB_VERB, "[%s] run mode activated" % options.mode)

    command_prefix = config.command_prefix
    if command_prefix:
        import shlex
        task.set_default("USER_command_prefix", command_prefix)
        prefix = shlex.split(command_prefix)
        display.vprint(VERB_VERB, "[%s] command prefix: %s" % (options.mode, prefix))
        args = prefix + args
    if config.password_prompt:
        display.vprint(VERB_VERB, "[%s] password prompt enabled" % options.mode)
        task.set_default("USER_password_prompt", ask_pass())

    trytree = _set_worker(task, options, config, display)
    if options.grooming_delay:
        if config.verbosity >= VERB_VERB:
            print(Display.COLOR_RESULT_FMT % ("Grooming delay: %f" % options.grooming_delay),
                  file=sys.stderr)
        task.set_info("grooming_delay", options.grooming_delay)
    elif options.rcopy:
        task.set_info("grooming_delay", 0)
    _configure_connections(task, config)

    task.set_default("stderr", not options.gatherall)
    task.set_default("stdout_msgtree", (display.gather or display.line_mode)
                     and not options.json)
    task.set_default("stderr_msgtree", False)
    timeout = config.command_timeout if config.command_timeout > 0 else -1
    task.set_default("USER_interactive", interactive)
    task.set_default("USER_running", False)
    task.set_default("USER_json", options.json)
    task.set_default("USER_fail_fast", options.fail_fast)
    task.set_default("USER_retry", options.retry)
    task.set_default("USER_control", None)
    interrupt = _Interrupt(display) if sys.stderr.isatty() else None
    task.set_default("USER_interrupt", interrupt)

    if copying and not args:
        parser.error("--[r]copy option requires at least one argument")
    if copying:
        dests, operation = _copy_destinations(options, args)
    else:
        operation = 'command="%s"' % " ".join(args)
    display.vprint(VERB_DEBUG, "clush: nodeset=%s fanout=%d [timeout conn=%.1f cmd=%.1f] %s"
                   % (nodeset_base, config.fanout, config.connect_timeout,
                      config.command_timeout, operation))
    if not interactive and display.verbosity >= VERB_DEBUG and task.topology:
        print(Display.COLOR_RESULT_FMT % "-" * 15)
        print(Display.COLOR_RESULT_FMT % task.topology, end="")
        print(Display.COLOR_RESULT_FMT % "-" * 15)

    previous_sigint = None
    if interrupt is not None:
        previous_sigint = signal.signal(signal.SIGINT, interrupt.sigint)
        if not user_interaction:
            interrupt.keep_awake(task)
    try:
        if not interactive:
            if options.copy:
                run_copy(task, args, dests, nodeset_base, timeout, options.preserve_flag,
                         display)
            elif options.rcopy:
                run_rcopy(task, args, dests, nodeset_base, timeout, options.preserve_flag,
                          display)
            else:
                run_command(task, " ".join(args), nodeset_base, timeout, display,
                            options.remote != "no", trytree)
        if user_interaction:
            ttyloop(task, nodeset_base, timeout, display, options.remote != "no", trytree)
        elif interactive:
            display.vprint_err(VERB_QUIET, "ERROR: interactive mode requires a tty")
            clush_exit(1, task)
    except (_SecondInterrupt, _Terminated) as error:
        control = task.default("USER_control")
        raise _stop_command(task, display, control, getattr(control, "nodes", None),
                            getattr(error, "signum", signal.SIGINT))
    finally:
        if previous_sigint is not None:
            signal.signal(signal.SIGINT, previous_sigint)
    clush_exit(_exit_status(task, config), task)


def _exit_status(task, config):
    """clush's exit code once the command is done."""
    control = task.default("USER_control")
    if control is not None and control.failed is not None:
        return control.failed[1]
    if not config.maxrc:
        return 0
    if control is not None:
        status, timeouts = control.max_retcode(), control.num_timeout()
    else:
        status, timeouts = task.max_retcode(), task.num_timeout()
    return 255 if timeouts > 0 else status


if __name__ == "__main__":
    main()
