"""clush in tree mode: --topology, topology.conf of the configuration
directory, -R exec on the gateways, --remote=no, a failed gateway."""

import os
import subprocess
import sys

import pytest

from _tree import ROOT, wait_no_gateways

CLUSH = "import sys; sys.argv[0] = 'clush'; from clusterpy.CLI.Clush import main; main()"


@pytest.fixture
def clush(sshd, tmp_path):
    from clusterpy.Task import _getshorthostname
    root = _getshorthostname()
    cfgdir = tmp_path / "cfg"
    cfgdir.mkdir()
    logdir = tmp_path / "gwlogs"
    logdir.mkdir()
    env = {key: value for key, value in os.environ.items()
           if not key.startswith("CLUSTERSHELL_")}
    env.update(HOME=str(tmp_path), CLUSTERSHELL_CFGDIR=str(cfgdir), PYTHONPATH=ROOT,
               CLUSTERSHELL_GW_PYTHON_EXECUTABLE=sys.executable,
               CLUSTERSHELL_GW_LOG_DIR=str(logdir))

    def topology(*routes, name="topology.conf", root_to="127.0.0.[2-3]"):
        path = (cfgdir if name == "topology.conf" else tmp_path) / name
        path.write_text("[routes]\n%s: %s\n%s\n" % (root, root_to, "\n".join(routes)))
        return str(path)

    def run(*args):
        argv = [sys.executable, "-c", CLUSH, "-o", "-F %s" % sshd.config] + list(args)
        proc = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, capture_output=True,
                              timeout=60)
        return proc.stdout.decode(), proc.stderr.decode(), proc.returncode

    run.topology = topology
    yield run
    assert not wait_no_gateways(str(logdir)), "gateway processes left running"


def test_topology_option_and_exec_on_gateways(clush):
    topo = clush.topology("127.0.0.2: n[1-5]", "127.0.0.3: n[6-10]", name="topo.conf")
    out, err, rc = clush("--topology", topo, "-R", "exec", "-w", "n[1-10]", "-b", "-v",
                         'echo "$SSH_CONNECTION" | cut -d" " -f3')
    assert rc == 0, err
    assert "clush: enabling tree topology (2 gateways)" in err
    # -R exec ran on the gateways: each node's command is a child of its
    # gateway, reached at 127.0.0.2 or 127.0.0.3
    assert "---------------\nn[1-5] (5)\n---------------\n127.0.0.2\n" in out
    assert "---------------\nn[6-10] (5)\n---------------\n127.0.0.3\n" in out


def test_topology_conf_found_and_ssh_from_gateway(clush):
    clush.topology("127.0.0.2: 127.0.0.[10-11]", root_to="127.0.0.2")
    out, err, rc = clush("-w", "127.0.0.[10-11]", "-S", 'echo "$SSH_CONNECTION" | cut -d" " -f3;'
                         " exit 4")
    assert rc == 4
    assert sorted(out.splitlines()) == ["127.0.0.10: 127.0.0.10", "127.0.0.11: 127.0.0.11"]
    assert sorted(err.splitlines()) == ["clush: 127.0.0.10: exited with exit code 4",
                                        "clush: 127.0.0.11: exited with exit code 4"]


def test_remote_no_runs_on_gateway(clush):
    clush.topology("127.0.0.2: 127.0.0.[10-11]", root_to="127.0.0.2")
    out, err, rc = clush("-w", "127.0.0.[10-11]", "--remote=no", "-L",
                         'echo %h "$(echo "$SSH_CONNECTION" | cut -d" " -f3)"')
    assert rc == 0, err
    assert out.splitlines() == ["127.0.0.10: 127.0.0.10 127.0.0.2",
                                "127.0.0.11: 127.0.0.11 127.0.0.2"]


def test_unreachable_gateway(clush):
    clush.topology("cp-refused: n[1-2]", "127.0.0.3: n3", root_to="cp-refused,127.0.0.3")
    out, err, rc = clush("-R", "exec", "-w", "n[1-3]", "-S", "echo ok")
    assert rc == os.EX_PROTOCOL
    assert out.splitlines() == ["n3: ok"]
    assert "n1: gateway cp-refused is unreachable" in err
    assert "cp-refused: " in err and "refused" in err
    assert "clush: n1: exited with exit code 76" in err
    assert "clush: n2: exited with exit code 76" in err


def test_gateway_module_from_option_clush_conf_and_defaults_conf(clush, tmp_path):
    """The gateway program's module: -O tree_gateway_module=..., then the
    [Main] key of clush.conf, then [task.default] of defaults.conf."""
    clush.topology("127.0.0.2: n[1-2]", root_to="127.0.0.2")
    cfgdir = tmp_path / "cfg"
    (cfgdir / "defaults.conf").write_text("[task.default]\ntree_gateway_module: fromdefaults\n")
    out, err, rc = clush("-S", "-R", "exec", "-w", "n[1-2]", "-b", "true")
    assert "No module named fromdefaults" in err, err
    assert rc == os.EX_PROTOCOL
    (cfgdir / "clush.conf").write_text("[Main]\ntree_gateway_module: fromclushconf\n")
    out, err, rc = clush("-S", "-R", "exec", "-w", "n[1-2]", "-b", "true")
    assert "No module named fromclushconf" in err, err
    out, err, rc = clush("-O", "tree_gateway_module=clusterpy.Gateway", "-R", "exec",
                         "-w", "n[1-2]", "-b", "echo ok")
    assert (rc, out) == (0, "---------------\nn[1-2] (2)\n---------------\nok\n"), err


def test_nodes_spread_over_the_gateways_that_answer(clush):
    """A route of three gateways, one refusing connections: its nodes are
    run again through the two others, every node ends, -v says where."""
    clush.topology("cp-refused,127.0.0.[2-3]: n[1-12]", root_to="cp-refused,127.0.0.[2-3]")
    out, err, rc = clush("-S", "-v", "-R", "exec", "-w", "n[1-12]", "-b",
                         'echo "$SSH_CONNECTION" | cut -d" " -f3')
    assert rc == 0, err
    import re
    groups = {value: nodes for nodes, value in
              re.findall(r"-{15}\n(\S+) \(\d+\)\n-{15}\n(\S+)\n", out)}
    assert set(groups) == {"127.0.0.2", "127.0.0.3"}, out
    from clusterpy.NodeSet import NodeSet
    spread = [NodeSet(nodes) for nodes in groups.values()]
    assert len(spread[0]) == len(spread[1]) == 6 and spread[0] | spread[1] == NodeSet("n[1-12]")
    assert "clush: rerouting commands for n[9-12] due to the failure of gateway cp-refused" \
        in err, err
    assert "clush: n[9-10]: now through gateway 127.0.0.2" in err and \
        "clush: n[11-12]: now through gateway 127.0.0.3" in err, err
