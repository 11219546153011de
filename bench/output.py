"""Output: reading the lines of many commands.

Each scenario runs in a fresh interpreter and times task.shell() to the
last line read: an ev_read handler called once per line (the message tree
off, as clush does when it prints lines as they come), or lines gathered
into the task's message tree and read back with iter_buffers() /
iter_errors() (clush -b).  The limit is the raw shell pipeline: the same
commands, each piped into ``cat > /dev/null``, all at once.
"""
from time import perf_counter

from bench._suite import Command, Group, Peer, exec_task, nodes_range

G = Group("output", "reading lines: ev_read, gathering, large lines, stderr")


def _pipeline(nodes, command, workers=1, **_):
    count = nodes * workers
    return Command(shell="for i in $(seq %d); do { %s; } 2>&1 | cat > /dev/null & done; wait"
                   % (count, command))


LIMIT = (Peer("limit: {nodes}× `cmd | cat > /dev/null`", _pipeline),)
LIMIT_WORKERS = (Peer("limit: {workers}× `cmd | cat > /dev/null`", _pipeline),)


def _lines_of(count, width):
    """Shell command printing `count` lines of `width` bytes (newline
    included).  No '%' in it: the workers read '%' as a placeholder."""
    return ("awk 'BEGIN{s=\"x\"; while (length(s) < %d) s = s s; s = substr(s, 1, %d); "
            "for (i = 0; i < %d; i++) print s}'" % (width - 1, width - 1, count))


@G.child("ev_read per line: {nodes} nodes × `{command}`", key="ev-read-64",
         args=dict(nodes=64, command="seq 10000", lines=10000),
         quick=dict(command="seq 1000", lines=1000), peers=LIMIT)
@G.child("ev_read per line: 1 command × {lines:,} lines of 64 bytes", key="ev-read-1",
         args=dict(nodes=1, command=_lines_of(100000, 64), lines=100000),
         quick=dict(command=_lines_of(10000, 64), lines=10000), peers=LIMIT)
def ev_read(lib, nodes, command, lines):
    class Count(lib.Event.EventHandler):
        seen = 0

        def ev_read(self, worker, node, sname, msg):
            Count.seen += 1

    task = exec_task(lib)
    task.set_default("stdout_msgtree", False)
    start = perf_counter()
    task.shell(command, nodes=nodes_range(1, nodes), handler=Count())
    task.run()
    elapsed = perf_counter() - start
    assert Count.seen == nodes * lines, Count.seen
    return elapsed


@G.child("stderr-heavy: {nodes} nodes × `{command}`, gathered, then iter_errors()",
         key="stderr", args=dict(workers=1, nodes=64, command="seq 10000 >&2", lines=10000,
                                 stream="stderr"),
         quick=dict(command="seq 1000 >&2", lines=1000), peers=LIMIT)
@G.child("large lines: {nodes} nodes × {lines} lines of 256 KiB, gathered", key="large-lines",
         args=dict(workers=1, nodes=8, command=_lines_of(64, 256 * 1024), lines=64),
         quick=dict(command=_lines_of(8, 256 * 1024), lines=8), peers=LIMIT)
@G.child("gather into the message tree: {workers} workers × `{command}`, "
         "then iter_buffers()", key="gather-workers",
         args=dict(workers=10, nodes=1, command="seq 10000", lines=10000),
         quick=dict(command="seq 1000", lines=1000), peers=LIMIT_WORKERS)
@G.child("gather into the message tree: {nodes} nodes × `{command}`, then iter_buffers()",
         key="gather-64", args=dict(workers=1, nodes=64, command="seq 20000", lines=20000),
         quick=dict(command="seq 2000", lines=2000), peers=LIMIT)
def gather(lib, workers, nodes, command, lines, stream="stdout"):
    task = exec_task(lib)
    start = perf_counter()
    for index in range(workers):
        task.shell(command, nodes=nodes_range(index * nodes + 1, nodes))
    task.run()
    buffers = task.iter_buffers() if stream == "stdout" else task.iter_errors()
    total = sum(len(list(msg.lines())) * len(keys) for msg, keys in buffers)
    elapsed = perf_counter() - start
    assert total == workers * nodes * lines, total
    return elapsed
