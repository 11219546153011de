"""Run control: what clush adds around the output handler of a command.

Every command on nodes has its output handler wrapped in a RunControl,
which sees each node start and end.  It keeps the start times the two-step
Ctrl-C report prints (progress_report()), stops every node at the first
failure (--fail-fast, -k) and runs the command again on the nodes where it
exited with 255, ssh's code for a failed connection (--retry N).  With
retries, the output handler gets at the very end a merged view of the
attempts (Attempts) in place of the worker: each node counts with its last
attempt only.
"""

from time import monotonic

from clusterpy.CLI.Display import VERB_QUIET, VERB_VERB
from clusterpy.CLI._clush_output import nodes_of
from clusterpy.Event import EventHandler
from clusterpy.NodeSet import NodeSet


class Attempts:
    """The results of a command run in several attempts (--retry), seen as
    one worker: each node counts with its last attempt only."""

    def __init__(self, task):
        self.task = task
        self._parts = []        # (worker, node names whose result is final)

    def add(self, worker, final):
        self._parts.append((worker, frozenset(final)))

    def _final_keys(self, final, match_keys):
        return final if match_keys is None else final.intersection(match_keys)

    def iter_retcodes(self, match_keys=None):
        merged = {}
        for worker, final in self._parts:
            for node, rc in worker.iter_node_retcodes():
                if node in final and (match_keys is None or node in match_keys):
                    merged.setdefault(rc, []).append(node)
        for rc, names in merged.items():
            yield rc, nodes_of(names)

    def iter_buffers(self, match_keys=None):
        merged = {}
        order = []
        for worker, final in self._parts:
            keys = self._final_keys(final, match_keys)
            if not keys:
                continue
            for msg, nodes in worker.iter_buffers(keys):
                names = merged.get(id(msg))
                if names is None:
                    merged[id(msg)] = names = []
                    order.append((msg, names))
                names.extend(nodes)
        for msg, names in order:
            yield msg, nodes_of(names)

    def iter_node_buffers(self, match_keys=None):
        for worker, final in self._parts:
            keys = self._final_keys(final, match_keys)
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


class RunControl(EventHandler):
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
        self.results = Attempts(task)
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
            nodes = nodes_of(retry)
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
        running = nodes_of([node for nodes in by_age.values() for node in nodes])
        lines = ["%s: in progress(%d): %s" % (self.prog, len(running), running)]
        for age in sorted(by_age, reverse=True):
            lines.append("%s: %s: running for %ds" % (self.prog, nodes_of(by_age[age]), age))
        waiting = set(self.waiting)
        if waiting:
            lines.append("%s: pending(%d): %s" % (self.prog, len(waiting), nodes_of(waiting)))
        return lines
