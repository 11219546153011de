"""tree: tree mode, 1,000 simulated nodes behind 2 gateways.

The head reaches two gateways, 127.0.0.2 and 127.0.0.3, through the test
sshd (tests/_sshd.py); each gateway runs its 500 nodes with the exec worker
(``tree_default:distant_workername``: what ``clush -R exec`` does in tree
mode), so the nodes are simulated by local commands on the gateway.  Each
library drives its own gateways (``clusterpy.Gateway``, or ClusterShell's
own ``ClusterShell.Gateway``).  One run measures the head's wall time and
its own CPU (getrusage of itself: the gateways and commands are other
processes), then the same job flat, the head running the 1,000 commands
itself with the exec worker (``flat`` row): clusterpy's tree/flat ratio
reads off the two rows.  Output is gathered (message trees) and checked.
"""
import os
import sys
import tempfile

from bench._suite import Group, Metric
from bench.ssh import sshd

G = Group("tree", "tree mode: 1,000 nodes behind 2 gateways")

METRICS = (Metric("wall", "s", "tree wall"), Metric("cpu", "s", "tree head CPU"),
           Metric("flat", "s", "flat wall (exec on the head)"))


def _topology(lib, nodes):
    """A topology.conf for this host: 2 gateways, half of the nodes each."""
    half = nodes // 2
    root = lib.Task._getshorthostname()
    text = ("[routes]\n%s: 127.0.0.[2-3]\n127.0.0.2: n[1-%d]\n127.0.0.3: n[%d-%d]\n"
            % (root, half, half + 1, nodes))
    handle, path = tempfile.mkstemp(prefix="bench-topology-", suffix=".conf")
    with os.fdopen(handle, "w") as fh:
        fh.write(text)
    return path


def _check(worker, nodes, lines):
    retcodes = {rc: len(keys) for rc, keys in worker.iter_retcodes()}
    assert retcodes == {0: nodes}, retcodes
    if lines:
        gathered = list(worker.iter_buffers())
        assert len(gathered) == 1, len(gathered)
        msg, keys = gathered[0]
        assert len(keys) == nodes and len(list(msg.lines())) == lines, (len(keys), msg)


@G.child("{nodes} nodes × `seq 100` gathered, 2 gateways", key="seq", metrics=METRICS,
         args=dict(nodes=1000, fanout=64, command="seq 100", lines=100),
         quick=dict(nodes=200), needs=(sshd,))
@G.child("{nodes} nodes × `true`, 2 gateways", key="true", metrics=METRICS,
         args=dict(nodes=1000, fanout=64, command="true", lines=0),
         quick=dict(nodes=200), needs=(sshd,))
def tree_run(lib, nodes, fanout, command, lines, ssh_config, **_):
    import resource
    from time import perf_counter
    os.environ["CLUSTERSHELL_GW_PYTHON_EXECUTABLE"] = sys.executable
    logdir = tempfile.mkdtemp(prefix="bench-gwlog-")
    os.environ["CLUSTERSHELL_GW_LOG_DIR"] = logdir
    topology = _topology(lib, nodes)
    names = "n[1-%d]" % nodes
    try:
        task = lib.Task.task_self()
        task.set_info("fanout", fanout)
        task.set_info("ssh_options", "-F %s" % ssh_config)
        task.set_info("tree_default:distant_workername", "exec")
        task.set_default("stderr", True)
        task.load_topology(topology)
        usage = resource.getrusage(resource.RUSAGE_SELF)
        start = perf_counter()
        worker = task.shell(command, nodes=names)
        task.resume()
        wall = perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_SELF)
        _check(worker, nodes, lines)
        cpu = after.ru_utime - usage.ru_utime + after.ru_stime - usage.ru_stime
        # the same job flat: the head runs every command with the exec worker
        task.set_default("distant_worker", lib.module("Worker.Exec").ExecWorker)
        start = perf_counter()
        worker = task.shell(command, nodes=names, tree=False)
        task.resume()
        flat = perf_counter() - start
        _check(worker, nodes, lines)
    finally:
        os.unlink(topology)
        for name in os.listdir(logdir):
            os.unlink(os.path.join(logdir, name))
        os.rmdir(logdir)
    return {"wall": wall, "cpu": cpu, "flat": flat}
