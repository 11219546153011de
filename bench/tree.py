"""tree: tree mode, 1,000 and 10,000 simulated nodes behind 2 or 4 gateways.

The head reaches its gateways, 127.0.0.2 to 127.0.0.5, through the test
sshd (tests/_sshd.py); each gateway runs its share of the nodes with the
exec worker (``tree_default:distant_workername``: what ``clush -R exec``
does in tree mode), so the nodes are simulated by local commands on the
gateway.  Each library drives its own gateways (``clusterpy.Gateway``, or
ClusterShell's own ``ClusterShell.Gateway``).  One run measures the head's
wall time, its own CPU (getrusage of itself: the gateways and commands are
other processes) and its peak RSS, then the same job flat, the head running
every command itself with the exec worker (``flat`` row): clusterpy's
tree/flat ratio reads off the two rows.  On clusterpy's side, the
``csgw`` rows are a clusterpy head driving ClusterShell 1.10.1 gateways
(``tree_gateway_module``: ``ClusterShell.Gateway``).  Output is gathered
(message trees) and checked.
"""
import os
import sys
import tempfile

from bench._suite import Group, Metric
from bench.ssh import sshd

G = Group("tree", "tree mode: simulated nodes behind gateways (exec on the gateways)")

METRICS = (Metric("wall", "s", "tree wall"), Metric("cpu", "s", "tree head CPU"),
           Metric("rss", "kB", "tree head peak RSS"),
           Metric("flat", "s", "flat wall (exec on the head)"))
CSGW_METRICS = METRICS + (Metric("csgw", "s", "wall, clusterpy head, ClusterShell gateways"),
                          Metric("csgw_cpu", "s", "head CPU, clusterpy head, ClusterShell "
                                 "gateways"))


def _topology(lib, nodes, gateways):
    """A topology.conf for this host: `gateways` gateways sharing the nodes."""
    root = lib.Task._getshorthostname()
    gws = "127.0.0.[2-%d]" % (gateways + 1)
    text = "[routes]\n%s: %s\n%s: n[1-%d]\n" % (root, gws, gws, nodes)
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


def _scenarios():
    """(key, title, args, quick, metrics) of the matrix: nodes x gateways x
    command; the clusterpy head over ClusterShell gateways at 1,000 nodes."""
    for nodes in (1000, 10000):
        for gateways in (2, 4):
            for key, command, lines in (("true", "true", 0), ("seq", "seq 1000", 1000)):
                title = "{nodes} nodes × `%s`%s, {gateways} gateways" % (
                    command, " gathered" if lines else "")
                csgw = nodes == 1000
                yield ("%s-%dk-%dgw" % (key, nodes // 1000, gateways), title,
                       dict(nodes=nodes, gateways=gateways, fanout=64, command=command,
                            lines=lines, csgw=csgw),
                       dict(nodes=nodes // 5), CSGW_METRICS if csgw else METRICS)


def _run(lib, task, command, names, nodes, lines):
    import resource
    from time import perf_counter
    usage = resource.getrusage(resource.RUSAGE_SELF)
    start = perf_counter()
    worker = task.shell(command, nodes=names)
    task.resume()
    wall = perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_SELF)
    _check(worker, nodes, lines)
    cpu = after.ru_utime - usage.ru_utime + after.ru_stime - usage.ru_stime
    return wall, cpu


def tree_run(lib, nodes, gateways, fanout, command, lines, csgw, ssh_config, **_):
    import resource
    from time import perf_counter
    os.environ["CLUSTERSHELL_GW_PYTHON_EXECUTABLE"] = sys.executable
    logdir = tempfile.mkdtemp(prefix="bench-gwlog-")
    os.environ["CLUSTERSHELL_GW_LOG_DIR"] = logdir
    topology = _topology(lib, nodes, gateways)
    names = "n[1-%d]" % nodes
    result = {}
    try:
        task = lib.Task.task_self()
        task.set_info("fanout", fanout)
        task.set_info("ssh_options", "-F %s" % ssh_config)
        task.set_info("tree_default:distant_workername", "exec")
        task.set_default("stderr", True)
        task.load_topology(topology)
        result["wall"], result["cpu"] = _run(lib, task, command, names, nodes, lines)
        result["rss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        if csgw and lib.name == "clusterpy":
            from bench import _peer
            if _peer.clustershell() is not None:
                saved = os.environ.get("PYTHONPATH")
                os.environ["PYTHONPATH"] = _peer.CS_DIR + (":" + saved if saved else "")
                task.set_default("tree_gateway_module", "ClusterShell.Gateway")
                try:
                    result["csgw"], result["csgw_cpu"] = _run(lib, task, command, names,
                                                              nodes, lines)
                finally:
                    task.set_default("tree_gateway_module", "clusterpy.Gateway")
                    if saved is None:
                        del os.environ["PYTHONPATH"]
                    else:
                        os.environ["PYTHONPATH"] = saved
        # the same job flat: the head runs every command with the exec worker
        task.set_default("distant_worker", lib.module("Worker.Exec").ExecWorker)
        start = perf_counter()
        worker = task.shell(command, nodes=names, tree=False)
        task.resume()
        result["flat"] = perf_counter() - start
        _check(worker, nodes, lines)
    finally:
        os.unlink(topology)
        for name in os.listdir(logdir):
            os.unlink(os.path.join(logdir, name))
        os.rmdir(logdir)
    return result


for _key, _title, _args, _quick, _metrics in _scenarios():
    G.child(_title, key=_key, metrics=_metrics, args=_args, quick=_quick,
            needs=(sshd,))(tree_run)
