"""Tree mode against ClusterShell 1.10.1: a clusterpy head driving
ClusterShell gateways, and a ClusterShell head driving clusterpy gateways
(same wire protocol, docs/tree-protocol.md)."""

import json
import os
import subprocess
import sys

import pytest

from _clustershell import Unavailable, clustershell_python
from _tree import ROOT, tree_fixture  # noqa: F401 (the "tree" fixture)


@pytest.fixture(scope="module", name="cs_python")
def cs_python_fixture():
    """The interpreter of ClusterShell 1.10.1's own venv (tests/_clustershell.py)."""
    try:
        return clustershell_python()
    except Unavailable as exc:
        pytest.skip("ClusterShell 1.10.1 cannot be installed, the package index is "
                    "unreachable: %s" % exc)


def _console_script(tree, name):
    """The program pip makes for the [project.scripts] entry `name` of
    pyproject.toml, for this interpreter (the checkout is not installed)."""
    with open(os.path.join(ROOT, "pyproject.toml")) as fh:
        for line in fh:
            key, sep, value = line.partition("=")
            if sep and key.strip() == name:
                module, func = value.strip().strip('"').split(":")
                break
        else:
            raise AssertionError("no %s in [project.scripts]" % name)
    path = tree.tmp / name
    path.write_text("#!%s\nimport sys\nfrom %s import %s\nsys.exit(%s())\n"
                    % (sys.executable, module, func, func))
    path.chmod(0o755)
    return str(path)


def _mixed_gateways(tree, cs_python, clustershell_at):
    """A gateway program running ClusterShell 1.10.1's gateway on the
    addresses `clustershell_at` and clusterpy's elsewhere, whatever module
    the head names (as on a site where each gateway has its own install)."""
    cases = "".join('    *" %s %d") exec %s -m ClusterShell.Gateway;;\n'
                    % (address, tree.sshd.port, cs_python) for address in clustershell_at)
    return tree.script("mixed-gw", 'case "$SSH_CONNECTION" in\n%s  esac\n'
                       'exec %s -m clusterpy.Gateway\n' % (cases, sys.executable))


def test_clusterpy_head_clustershell_gateway(tree, cs_python):
    python = cs_python
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


def _run_cs_head(tree, python, topo, command, nodes, timeout):
    env = dict(os.environ, PYTHONPATH=ROOT)
    proc = subprocess.run([python, "-c", _CS_HEAD, tree.sshd.ssh_options, str(topo), command,
                           nodes, str(timeout)], capture_output=True, text=True, env=env,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_clustershell_head_clusterpy_gateway(tree, cs_python):
    python = cs_python
    topo = tree.topology("127.0.0.2: 127.0.0.[10-12]")
    # ClusterShell starts "<python> -m ClusterShell.Gateway -Bu": the
    # packaged clusterpy-gateway program runs clusterpy's gateway instead
    tree.gateway_program(_console_script(tree, "clusterpy-gateway"))
    command = "seq 3; echo oops >&2; %s; %s" % (tree.only_on("127.0.0.11", "exit 9"),
                                                tree.only_on("127.0.0.12", "sleep 5"))
    result = _run_cs_head(tree, python, topo, command, "127.0.0.[10-12]", 2)
    assert result["rc"] == {"127.0.0.10": 0, "127.0.0.11": 9}
    assert result["out"] == {"127.0.0.[10-12]": "1\n2\n3"}
    assert result["err"] == {"127.0.0.[10-12]": "oops"}
    assert result["timeout"] == ["127.0.0.12"]


def test_copy_and_rcopy_through_clustershell_gateway(tree, cs_python):
    python = cs_python
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


def _gateway_logs(tree):
    logs = {}
    for name in os.listdir(tree.logdir):
        with open(os.path.join(tree.logdir, name)) as fh:
            logs[name] = fh.read()
    return "".join(logs.values())


def test_mixed_two_level_tree_clusterpy_head(tree, cs_python):
    """clusterpy head -> ClusterShell gateway 127.0.0.2 -> clusterpy
    gateway 127.0.0.3 -> nodes."""
    tree.topology("127.0.0.2: 127.0.0.3", "127.0.0.3: 127.0.0.[10-12]")
    tree.gateway_program(_mixed_gateways(tree, cs_python, ["127.0.0.2"]))
    tree.monkeypatch.setenv("CLUSTERSHELL_GW_LOG_LEVEL", "DEBUG")
    task = tree.task
    worker = task.shell("cat; echo e >&2; %s" % tree.only_on("127.0.0.12", "exit 4"),
                        nodes="127.0.0.[10-12]", stderr=True)
    worker.write(b"through two\n")
    worker.set_write_eof()
    task.resume()
    assert {str(n): rc for rc, n in worker.iter_retcodes()} == {"127.0.0.[10-11]": 0,
                                                               "127.0.0.12": 4}
    assert [(bytes(m), str(n)) for m, n in worker.iter_buffers()] == [
        (b"through two", "127.0.0.[10-12]")]
    assert worker.node_error("127.0.0.11") == b"e"
    log = _gateway_logs(tree)
    assert " ClusterShell.Gateway DEBUG " in log and " clusterpy.Gateway DEBUG " in log


def test_mixed_two_level_tree_clustershell_head(tree, cs_python):
    """ClusterShell head -> clusterpy gateway 127.0.0.2 -> ClusterShell
    gateway 127.0.0.3 -> nodes."""
    topo = tree.topology("127.0.0.2: 127.0.0.3", "127.0.0.3: 127.0.0.[10-12]")
    tree.gateway_program(_mixed_gateways(tree, cs_python, ["127.0.0.3"]))
    tree.monkeypatch.setenv("CLUSTERSHELL_GW_LOG_LEVEL", "DEBUG")
    command = "seq 2; %s" % tree.only_on("127.0.0.11", "exit 3")
    result = _run_cs_head(tree, cs_python, topo, command, "127.0.0.[10-12]", 20)
    assert result["rc"] == {"127.0.0.[10,12]": 0, "127.0.0.11": 3}
    assert result["out"] == {"127.0.0.[10-12]": "1\n2"}
    log = _gateway_logs(tree)
    assert " ClusterShell.Gateway DEBUG " in log and " clusterpy.Gateway DEBUG " in log
