"""ssh: the distant worker against the private test sshd (tests/_sshd.py).

The nodes are loopback addresses 127.0.0.1, 127.0.0.2, ... all served by
the one test sshd; each run checks that every node returned 0 and all its
lines.  Each library runs in a fresh interpreter, which reports the wall
time of the run and its own CPU time (getrusage of itself, not of the ssh
children: what the library costs the machine).  ``pdsh -R ssh`` runs the
same command with the same ssh configuration; parallel-ssh (libssh2 in
process, bench/_pssh.py) runs it from a virtualenv of its own, made in
~/.cache/clusterpy-bench/pssh-venv on first use (never the project's
environment; CLUSTERPY_BENCH_PSSH=PYTHON picks another interpreter,
``=none`` leaves it out).

The ``reuse`` rows time a second run over reused connections: clusterpy
with ``ssh_reuse`` on, ClusterShell with the same OpenSSH ControlMaster
options set by hand in ``ssh_options`` (what a ClusterShell user would
do), each after an untimed run that opens (or refreshes) the masters.
"""
import os
import subprocess
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
        yield {"ssh_config": server.config, "pdsh_env": server.pdsh_env(),
               "ssh_port": server.port, "ssh_key": server.key}
    finally:
        server.stop()


def mux_dirs():
    """Resource: private socket directories for reused connections
    (cp/ for clusterpy, cs/ for ClusterShell); their masters end after."""
    import shutil
    import tempfile
    base = tempfile.mkdtemp(prefix="cpb-", dir="/tmp")
    for name in ("cp", "cs"):
        os.mkdir(os.path.join(base, name), 0o700)
    try:
        yield {"mux_dir": base}
    finally:
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        if root not in sys.path:
            sys.path.insert(0, root)
        from clusterpy import _sshmux
        for name in ("cp", "cs"):
            _sshmux.close_connections(None, os.path.join(base, name))
        shutil.rmtree(base, ignore_errors=True)


PSSH_VENV = os.path.expanduser("~/.cache/clusterpy-bench/pssh-venv")
PSSH_PYTHON = os.environ.get("CLUSTERPY_BENCH_PSSH", os.path.join(PSSH_VENV, "bin", "python"))


def pssh():
    """Resource: the interpreter running parallel-ssh, installed with pip
    into its own virtualenv when missing (the peer is left out if that
    fails)."""
    if PSSH_PYTHON != "none" and not os.path.exists(PSSH_PYTHON) \
            and PSSH_PYTHON.startswith(PSSH_VENV):
        try:
            subprocess.run([sys.executable, "-m", "venv", PSSH_VENV], check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            subprocess.run([PSSH_PYTHON, "-m", "pip", "install", "-q", "parallel-ssh"],
                           check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        except (OSError, subprocess.CalledProcessError):
            pass
    yield {}


def node_list(count):
    """`count` loopback addresses from 127.0.0.1 on, 128 per /24."""
    return ["127.0.%d.%d" % (i // 128, i % 128 + 1) for i in range(count)]


PDSH = Peer("pdsh -R ssh -f {fanout}",
            lambda nodes, fanout, command, pdsh_env, **_: Command(
                ["pdsh", "-R", "ssh", "-b", "-f", str(fanout), "-w", ",".join(node_list(nodes)),
                 command], env=pdsh_env),
            binary="pdsh")

PSSH = Peer("parallel-ssh pool {fanout}",
            lambda nodes, fanout, command, ssh_port, ssh_key, **_: Command(
                [PSSH_PYTHON, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                           "_pssh.py"),
                 str(ssh_port), ssh_key, str(fanout), ",".join(node_list(nodes)), command]),
            binary=PSSH_PYTHON)


@G.child("{nodes} nodes × 1,000 lines, fanout {fanout}", key="lines", metrics=METRICS,
         args=dict(nodes=256, fanout=64, lines=1000,
                   command="seq -f 'output line %g of this node' 1 1000"),
         quick=dict(nodes=64), needs=(sshd,), peers=(PDSH,))
@G.child("{nodes} nodes × `true`, fanout {fanout}", key="true", metrics=METRICS,
         args=dict(nodes=256, fanout=64, lines=0, command="true"),
         quick=dict(nodes=64), needs=(sshd, pssh), peers=(PDSH, PSSH))
@G.child("{nodes} nodes × `true`, fanout {fanout}", key="true-64", metrics=METRICS,
         args=dict(nodes=64, fanout=64, lines=0, command="true"),
         needs=(sshd, pssh), peers=(PDSH, PSSH))
def ssh_run(lib, nodes, fanout, command, lines, ssh_config, **_):
    task = lib.Task.task_self()
    task.set_info("ssh_options", "-F %s" % ssh_config)
    return _timed_run(lib, task, nodes, fanout, command, lines)


@G.child("{nodes} nodes × `true`, fanout {fanout}, reused connections (2nd+ run)",
         key="reuse", metrics=METRICS,
         args=dict(nodes=256, fanout=64, lines=0, command="true"),
         quick=dict(nodes=64), needs=(sshd, mux_dirs, pssh), peers=(PDSH, PSSH))
@G.child("{nodes} nodes × `true`, fanout {fanout}, reused connections (2nd+ run)",
         key="reuse-64", metrics=METRICS,
         args=dict(nodes=64, fanout=64, lines=0, command="true"),
         needs=(sshd, mux_dirs, pssh), peers=(PDSH, PSSH))
def ssh_reuse_run(lib, nodes, fanout, command, lines, ssh_config, mux_dir, **_):
    task = lib.Task.task_self()
    if lib.name == "clusterpy":
        task.set_info("ssh_options", "-F %s" % ssh_config)
        task.set_info("ssh_reuse", 600)
        task.set_info("ssh_reuse_dir", os.path.join(mux_dir, "cp"))
    else:
        task.set_info("ssh_options", "-F %s -oControlMaster=auto -oControlPath=%s/cs/%%C "
                                     "-oControlPersist=600" % (ssh_config, mux_dir))
    _timed_run(lib, task, nodes, fanout, command, lines)     # opens the masters
    return _timed_run(lib, task, nodes, fanout, command, lines)


def _timed_run(lib, task, nodes, fanout, command, lines):
    import resource
    from time import perf_counter
    names = lib.NodeSet.NodeSet.fromlist(node_list(nodes))
    task.set_info("fanout", fanout)
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
