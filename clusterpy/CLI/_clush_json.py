"""clush --json: one JSON object per line on stdout.

Per node, as each ends: {"node", "rc", "timed_out", "start", "end",
"stdout", "stderr"}; with gathering (-b), at the end, one object per group
of nodes that ended with the same code and output: {"nodes", "count",
"rc", "timed_out", "start", "end", "stdout", "stderr"}.  Lines are lists of
strings, times seconds since the epoch; rc is null for a node that timed
out or was stopped.  Imported only when --json is given.
"""

import json
from time import time

from clusterpy.CLI.Display import STRING_ENCODING, VERB_QUIET
from clusterpy.CLI.Utils import bufnodeset_cmpkey
from clusterpy.CLI._clush_output import STDERR, OutputHandler, nodes_of


class JsonOutputHandler(OutputHandler):
    """The output handler of --json (see the module docs)."""

    def __init__(self, display, gather, prog=None):
        OutputHandler.__init__(self, prog=prog)
        self._display = display
        self._gather = gather
        self._runs = {}         # node -> [stdout, stderr, start]
        self._ended = []        # gathered mode: (node, rc, timed_out, run, end)

    def ev_pickup(self, worker, node):
        self._runs[node] = ([], [], time())

    def ev_read(self, worker, node, sname, msg):
        run = self._runs.get(node)
        if run is not None:
            lines = run[1] if sname == STDERR else run[0]
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
        self._display.out.write(json.dumps(obj) + "\n")

    def ev_hup(self, worker, node, rc):
        self._end(node, rc, False)
        if not self._gather and rc > 0:
            self._print_exit(self._exit_level(), node, rc)

    def ev_close(self, worker, timedout):
        self._runtimer_finalize(worker)
        timed_out = nodes_of(worker.iter_keys_timeout())
        for node in timed_out:
            self._end(node, None, True)
        for node in nodes_of(self._runs):
            self._end(node, None, False)
        if self._gather:
            self._emit_groups()
            self._close_common(worker)
        elif timed_out:
            self._print_timeout(VERB_QUIET, worker)
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
            nodeset = nodes_of(names)
            rank = (key[0] is None, key[0] or 0) + bufnodeset_cmpkey((None, nodeset))
            order.append((rank, key, nodeset, start, end))
        order.sort(key=lambda item: item[0])
        for _, (rc, timed_out, out, err), nodeset, start, end in order:
            self._emit({"nodes": str(nodeset), "count": len(nodeset), "rc": rc,
                        "timed_out": timed_out, "start": start, "end": end,
                        "stdout": list(out), "stderr": list(err)})
