"""Tree mode against ClusterShell 1.10.1: a clusterpy head driving
ClusterShell gateways, and a ClusterShell head driving clusterpy gateways
(same wire protocol, docs/tree-protocol.md)."""

import json
import os
import subprocess
import sys

import pytest

from _tree import CS_PYTHON, ROOT, tree_fixture  # noqa: F401 (the "tree" fixture)


def _clustershell_python():
    """The interpreter of a ClusterShell 1.10.1 install, or skip."""
    if not os.access(CS_PYTHON, os.X_OK):
        pytest.skip("ClusterShell 1.10.1 is not installed in %s" % os.path.dirname(
            os.path.dirname(CS_PYTHON)))
    proc = subprocess.run([CS_PYTHON, "-c", "import ClusterShell; print(ClusterShell.__version__)"],
                          capture_output=True, text=True)
    if proc.returncode != 0 or proc.stdout.strip() != "1.10.1":
        pytest.skip("no ClusterShell 1.10.1 in %s: %s" % (CS_PYTHON, proc.stderr.strip()))
    return CS_PYTHON


def test_clusterpy_head_clustershell_gateway(tree):
    python = _clustershell_python()
    tree.topology("127.0.0.2: 127.0.0.[10-11]")
    tree.gateway_program(python)
    task = tree.task
    task.set_default("tree_gateway_module", "ClusterShell.Gateway")
    tree.monkeypatch.setenv("CLUSTERSHELL_GW_LOG_LEVEL", "DEBUG")
    worker = task.shell("cat; echo err >&2; %s; exit 2" % tree.only_on("127.0.0.11", "exit 6"),
                        nodes="127.0.0.[10-11]", stderr=True)
    worker.write(b"in\n")
    worker.set_write_eof()
    task.resume()
    assert {str(n): rc for rc, n in worker.iter_retcodes()} == {"127.0.0.10": 2,
                                                               "127.0.0.11": 6}
    assert worker.node_buffer("127.0.0.10") == b"in"
    assert worker.node_error("127.0.0.11") == b"err"
    with open(os.path.join(tree.logdir, "%s.gw.log" % tree.root)) as fh:
        log = fh.read()
    assert " ClusterShell.Gateway DEBUG " in log and " clusterpy." not in log


_CS_HEAD = r"""
import json, sys
from ClusterShell.Task import task_self
task = task_self()
task.set_info("ssh_options", sys.argv[1])
task.load_topology(sys.argv[2])
worker = task.shell(sys.argv[3], nodes=sys.argv[4], stderr=True, timeout=float(sys.argv[5]))
task.resume()
print(json.dumps({"rc": {str(n): rc for rc, n in worker.iter_retcodes()},
                  "out": {str(n): bytes(m).decode() for m, n in worker.iter_buffers()},
                  "err": {str(n): bytes(m).decode() for m, n in worker.iter_errors()},
                  "timeout": sorted(worker.iter_keys_timeout())}))
"""


def test_clustershell_head_clusterpy_gateway(tree):
    python = _clustershell_python()
    topo = tree.topology("127.0.0.2: 127.0.0.[10-12]")
    # ClusterShell starts "<python> -m ClusterShell.Gateway -Bu": the
    # program named here runs clusterpy's gateway instead
    tree.gateway_program(tree.script("clusterpy-gw", 'exec %s -m clusterpy.Gateway\n'
                                     % sys.executable))
    command = "seq 3; echo oops >&2; %s; %s" % (tree.only_on("127.0.0.11", "exit 9"),
                                                tree.only_on("127.0.0.12", "sleep 5"))
    env = dict(os.environ, PYTHONPATH=ROOT)
    proc = subprocess.run([python, "-c", _CS_HEAD, tree.sshd.ssh_options, str(topo), command,
                           "127.0.0.[10-12]", "2"], capture_output=True, text=True, env=env,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["rc"] == {"127.0.0.10": 0, "127.0.0.11": 9}
    assert result["out"] == {"127.0.0.[10-12]": "1\n2\n3"}
    assert result["err"] == {"127.0.0.[10-12]": "oops"}
    assert result["timeout"] == ["127.0.0.12"]


def test_copy_and_rcopy_through_clustershell_gateway(tree):
    python = _clustershell_python()
    tree.topology("127.0.0.2: 127.0.0.10")
    tree.gateway_program(python)
    task = tree.task
    task.set_default("tree_gateway_module", "ClusterShell.Gateway")
    src = tree.tmp / "tree"
    src.mkdir()
    (src / "f").write_bytes(b"\x00copied\xff" * 100)
    dest = tree.tmp / "copied"
    dest.mkdir()
    worker = task.copy(str(src), str(dest) + "/", nodes="127.0.0.10")
    task.resume()
    assert worker.node_retcode("127.0.0.10") == 0
    assert (dest / "tree" / "f").read_bytes() == b"\x00copied\xff" * 100
    back = tree.tmp / "back"
    back.mkdir()
    worker = task.rcopy(str(dest / "tree"), str(back), nodes="127.0.0.10")
    task.resume()
    assert worker.node_retcode("127.0.0.10") == 0
    assert (back / ("tree.%s" % tree.root) / "f").read_bytes() == b"\x00copied\xff" * 100
