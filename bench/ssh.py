"""ssh: the distant worker against the private test sshd (tests/_sshd.py).

The nodes are loopback addresses 127.0.0.1, 127.0.0.2, ... all served by
the one test sshd; each run checks that every node returned 0 and all its
lines.  Each library runs in a fresh interpreter, which reports the wall
time of the run and its own CPU time (getrusage of itself, not of the ssh
children: what the library costs the machine).  ``pdsh -R ssh`` runs the
same command with the same ssh configuration.
"""
import os
import sys

from bench._suite import Command, Group, Metric, Peer, Unavailable

G = Group("ssh", "ssh worker against the test sshd")

METRICS = (Metric("wall", "s", "wall"), Metric("cpu", "s", "own CPU"))


def sshd():
    """Resource: a running test sshd; gives ssh_config and pdsh_env."""
    tests = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests")
    if tests not in sys.path:
        sys.path.insert(0, tests)
    import _sshd
    server = _sshd.Sshd()
    try:
        server.start()
    except _sshd.SshdError as exc:
        raise Unavailable("the test sshd cannot start: %s"
                          % str(exc).splitlines()[0]) from exc
    try:
        yield {"ssh_config": server.config, "pdsh_env": server.pdsh_env()}
    finally:
        server.stop()


def node_list(count):
    """`count` loopback addresses from 127.0.0.1 on, 128 per /24."""
    return ["127.0.%d.%d" % (i // 128, i % 128 + 1) for i in range(count)]


PDSH = Peer("pdsh -R ssh -f {fanout}",
            lambda nodes, fanout, command, pdsh_env, **_: Command(
                ["pdsh", "-R", "ssh", "-b", "-f", str(fanout), "-w", ",".join(node_list(nodes)),
                 command], env=pdsh_env),
            binary="pdsh")


@G.child("{nodes} nodes × 1,000 lines, fanout {fanout}", key="lines", metrics=METRICS,
         args=dict(nodes=256, fanout=64, lines=1000,
                   command="seq -f 'output line %g of this node' 1 1000"),
         quick=dict(nodes=64), needs=(sshd,), peers=(PDSH,))
@G.child("{nodes} nodes × `true`, fanout {fanout}", key="true", metrics=METRICS,
         args=dict(nodes=256, fanout=64, lines=0, command="true"),
         quick=dict(nodes=64), needs=(sshd,), peers=(PDSH,))
def ssh_run(lib, nodes, fanout, command, lines, ssh_config, **_):
    import resource
    from time import perf_counter
    names = lib.NodeSet.NodeSet.fromlist(node_list(nodes))
    task = lib.Task.task_self()
    task.set_info("fanout", fanout)
    task.set_info("ssh_options", "-F %s" % ssh_config)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    start = perf_counter()
    worker = task.shell(command, nodes=names)
    task.resume()
    wall = perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_SELF)
    retcodes = {rc: len(keys) for rc, keys in worker.iter_retcodes()}
    assert retcodes == {0: nodes}, retcodes
    if lines:
        for msg, keys in worker.iter_buffers():
            assert len(list(msg.lines())) == lines and len(keys) == nodes, (len(keys), msg)
    cpu = after.ru_utime - usage.ru_utime + after.ru_stime - usage.ru_stime
    return {"wall": wall, "cpu": cpu}
