"""clusterpy.install_as_clustershell(): unchanged ClusterShell scripts run on
clusterpy.  Each case runs in a fresh interpreter so that sys.modules starts
clean."""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_python(code):
    env = dict(os.environ)
    # the clusterpy under test first; never a real ClusterShell
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p and "ClusterShell" not in p)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, timeout=60)
    return proc.returncode, proc.stdout, proc.stderr


def test_unchanged_script_runs_on_clusterpy():
    rc, out, err = run_python("""
import clusterpy
clusterpy.install_as_clustershell()
from ClusterShell.Task import task_self
from ClusterShell.NodeSet import NodeSet
from ClusterShell.Event import EventHandler
import ClusterShell.Task, clusterpy.Task
assert ClusterShell.Task is clusterpy.Task
assert ClusterShell.__version__ == "1.10.1"
task = task_self()
task.shell("echo %h", nodes="n[1-3]", remote=False)
task.run()
for buf, nodes in task.iter_buffers():
    print(NodeSet.fromlist(nodes), buf.message().decode())
""")
    assert rc == 0, err
    assert sorted(out.split("\n")) == ["", "n1 n1", "n2 n2", "n3 n3"]


def test_submodules_are_the_same_objects():
    rc, out, err = run_python("""
import clusterpy
clusterpy.install_as_clustershell()
clusterpy.install_as_clustershell()  # idempotent
from ClusterShell.Worker.Exec import ExecWorker
from ClusterShell import NodeSet as alias_module
import clusterpy.Worker.Exec, clusterpy.NodeSet
assert ExecWorker is clusterpy.Worker.Exec.ExecWorker
assert alias_module is clusterpy.NodeSet
print("ok")
""")
    assert rc == 0, err
    assert out == "ok\n"


def test_importing_clusterpy_loads_no_submodule():
    rc, out, err = run_python("""
import sys, clusterpy
print(sorted(m for m in sys.modules if m.startswith("clusterpy.")))
""")
    assert rc == 0, err
    assert out == "[]\n"


# made with ClusterShell 1.10.1: pickle.dumps(NodeSet("node[1-5,9],x3"), 2) and
# pickle.dumps(RangeSet("01-05,9"), 2); they name ClusterShell's modules
CS_NODESET_PICKLE = (
    "gAJjQ2x1c3RlclNoZWxsLk5vZGVTZXQKTm9kZVNldApxACmBcQF9cQIoWAkAAABfYXV0b3N0ZXBxA05YBwAAAF9s"
    "ZW5ndGhxBEsAWAkAAABfcGF0dGVybnNxBX1xBihYBgAAAG5vZGUlc3EHY0NsdXN0ZXJTaGVsbC5SYW5nZVNldApS"
    "YW5nZVNldApxCFgFAAAAMS01LDlxCYVxClJxC31xDChYBwAAAHBhZGRpbmdxDU5oA0dUskmtJZTDfVgIAAAAX3Zl"
    "cnNpb25xDksEdWJYAwAAAHglc3EPaAhYAQAAADNxEIVxEVJxEn1xEyhoDU5oA0dUskmtJZTDfWgOSwR1YnVYCQAA"
    "AGZvbGRfYXhpc3EUTmgOSwJ1Yi4=")
CS_RANGESET_PICKLE = (
    "gAJjQ2x1c3RlclNoZWxsLlJhbmdlU2V0ClJhbmdlU2V0CnEAWAcAAAA5LDAxLTA1cQGFcQJScQN9cQQoWAcAAABw"
    "YWRkaW5ncQVLAlgJAAAAX2F1dG9zdGVwcQZHVLJJrSWUw31YCAAAAF92ZXJzaW9ucQdLBHViLg==")


def test_clustershell_pickles_load_without_clustershell():
    rc, out, err = run_python("""
import base64, pickle
import clusterpy.NodeSet
ns = pickle.loads(base64.b64decode(%r))
rs = pickle.loads(base64.b64decode(%r))
print(type(ns).__module__, ns, type(rs).__module__, rs)
""" % (CS_NODESET_PICKLE, CS_RANGESET_PICKLE))
    assert rc == 0, err
    assert out == "clusterpy.NodeSet node[1-5,9],x3 clusterpy.RangeSet 9,01-05\n"
