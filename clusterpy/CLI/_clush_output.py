"""clush's output handlers: how a command's output reaches the screen.

One handler per command (one per --copy/--rcopy), picked by
output_handler() for the display mode: direct (lines as they come, -P with
the progress line, --outdir/--errdir also to files), gathered (-b, -B,
--diff: nothing but standard error until the worker closes, then one walk
of the Task's message tree), sorted (-L) and live gathered (-b -L).  Unless
-v asks to see lines as they come, a gathering handler defines no per-line
callback for standard output, so that gathered lines cost no Python call.

A handler reports to the run (``handler.run``, a ClushRun): the command is
done, the session is interactive, how many copies are left.  The progress
line (``clush: done/total``) is a RunTimer, a timer of the Task.
"""

import os
import signal
import sys
import threading
from os.path import exists, join
from time import time

from clusterpy.CLI.Display import VERB_DEBUG, VERB_QUIET, VERB_STD, VERB_VERB
from clusterpy.CLI.Utils import bufnodeset_cmpkey, human_bi_bytes_unit
from clusterpy.Event import EventHandler
from clusterpy.MsgTree import MsgTree
from clusterpy.NodeSet import NodeSet

STDOUT = "stdout"
STDERR = "stderr"


def prog_name():
    return os.path.basename(sys.argv[0])


def nodes_of(names):
    """NodeSet of a list of node names."""
    return NodeSet._fromlist1(names)


def counted(display, nodeset):
    """How a gathered exit code message names its nodes."""
    if display.verbosity > VERB_QUIET and len(nodeset) > 1:
        return "%s (%d)" % (nodeset, len(nodeset))
    return str(nodeset)


def gateway_targets(task, gateway):
    """Tree mode: the nodes `gateway` still runs commands on."""
    active = set()
    for metaworker in task.gateways[gateway][1]:
        active.update(metaworker.gwtargets.get(gateway, ()))
    return active


class OutputHandler(EventHandler):
    """What every clush output handler shares: the progress line (RunTimer),
    the exit code and timeout messages, and telling the run when the
    command is done."""

    #: the ClushRun this handler reports to; a handler made by other code
    #: adopts its task's defaults (USER_*), as ClusterShell's clush reads them
    run = None

    def __init__(self, prog=None):
        EventHandler.__init__(self)
        self._runtimer = None
        self._prog = prog or prog_name()

    def _run_of(self, worker):
        if self.run is None:
            from clusterpy.CLI._clush_run import ClushRun
            self.run = ClushRun.adopt(worker.task, getattr(self, "_display", None))
        return self.run

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
            timer.eh.finalize(self._run_of(worker).interactive)
            timer.invalidate()

    def update_prompt(self, worker):
        """The command is done: let the main thread show its prompt."""
        run = self._run_of(worker)
        run.running = False
        if run.handle_sigusr1:
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

    def _print_exit(self, level, nodes, rc):
        self._display.vprint_err(level, "%s: %s: exited with exit code %d"
                                 % (self._prog, nodes, rc))

    def _print_timeout(self, level, worker):
        self._display.vprint_err(level, "%s: %s: command timeout"
                                 % (self._prog, nodes_of(worker.iter_keys_timeout())))

    def _close_common(self, worker):
        """Exit code and timeout messages of a gathered run."""
        level = self._exit_level()
        for rc, nodes in worker.iter_retcodes():
            if rc != 0:
                self._print_exit(level, counted(self._display, nodes), rc)
        if worker.num_timeout() > 0:
            self._print_timeout(level, worker)


class DirectOutputHandler(OutputHandler):
    """Prints each line as it comes, prefixed with its node."""

    def __init__(self, display, prog=None):
        OutputHandler.__init__(self, prog=prog)
        self._display = display

    def ev_read(self, worker, node, sname, msg):
        if sname == STDOUT:
            self._display.print_line(node, msg)
        elif sname == STDERR:
            self._display.print_line_error(node, msg)

    def ev_hup(self, worker, node, rc):
        if rc > 0:
            self._print_exit(self._exit_level(), node, rc)

    def ev_close(self, worker, timedout):
        if timedout:
            self._print_timeout(VERB_QUIET, worker)
        self.update_prompt(worker)


class DirectOutputDirHandler(DirectOutputHandler):
    """Direct output, also written to one file per node in --outdir
    (standard output) and --errdir (standard error)."""

    def __init__(self, display, ns, prog=None):
        DirectOutputHandler.__init__(self, display, prog)
        self._ns = ns
        self._folders = {sname: folder for sname, folder in
                         ((STDOUT, display.outdir), (STDERR, display.errdir)) if folder}
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
        DirectOutputHandler.ev_read(self, worker, node, sname, msg)

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
        run = self._run_of(worker)
        run.copies -= 1
        if run.copies == 0:
            self._runtimer_finalize(worker)
            DirectOutputHandler.ev_close(self, worker, timedout)


class GatherOutputHandler(OutputHandler):
    """Prints nothing but standard error until the worker closes, then the
    output gathered by identical messages (-b, -B, --diff)."""

    def __init__(self, display, prog=None):
        OutputHandler.__init__(self, prog=prog)
        self._display = display

    def ev_read(self, worker, node, sname, msg):
        if sname == STDOUT:
            if self._display.verbosity == VERB_VERB:
                self._display.print_line(node, worker.current_msg)
        elif sname == STDERR:
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
        if sname != STDOUT:
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
        self._prog = prog or prog_name()

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
            for gateway in task.gateways:
                active.update(gateway_targets(task, gateway))
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


def output_handler(run, ns):
    """The output handler of a command of `run` on `ns` (None: a local
    command)."""
    display, task = run.display, run.task
    verbosity = display.verbosity
    progress = display.progress and verbosity > VERB_QUIET
    if run.json and ns is not None:
        from clusterpy.CLI._clush_json import JsonOutputHandler
        handler = JsonOutputHandler(display, display.gather)
    elif (display.gather or display.line_mode) and ns is not None:
        live = verbosity == VERB_VERB
        if display.gather and display.line_mode:
            handler = LiveGatherOutputHandler(display, ns)
        elif display.line_mode:
            handler = SortedOutputHandler(display) if live else _QuietSortedOutputHandler(display)
        else:
            handler = GatherOutputHandler(display) if live else _QuietGatherOutputHandler(display)
        progress = progress or verbosity in (VERB_STD, VERB_VERB)
    elif progress:
        handler = DirectProgressOutputHandler(display)
    elif (display.outdir or display.errdir) and ns is not None:
        for folder in (display.outdir, display.errdir):
            if folder and not exists(folder):
                os.makedirs(folder)
        handler = DirectOutputDirHandler(display, ns)
    else:
        handler = DirectOutputHandler(display)
    handler.run = run
    if progress:
        handler.runtimer_init(task, len(ns))
    return handler


def copy_handler(run, ns, sources, reverse):
    """The one handler of the copy workers of --copy (--rcopy: reverse)."""
    run.running = True
    run.copies = len(sources)
    handler = CopyOutputHandler(run.display, reverse)
    handler.run = run
    if run.display.verbosity in (VERB_STD, VERB_VERB):
        handler.runtimer_init(run.task, len(ns) * len(sources))
    return handler
