"""ClusterShell 1.10.1 as a peer for side-by-side benchmarks.

Benchmarks run each scenario on clusterpy and, when it can be had, on
ClusterShell 1.10.1 in the same run.  ClusterShell is installed with
``pip --target`` into a cache directory (never into the environment, so its
console scripts cannot shadow clusterpy's), then imported from there.

    from bench._peer import clustershell, clustershell_cmd
    CS = clustershell()            # the ClusterShell package, or None
    clustershell_cmd("Clush")      # argv prefix running its clush, or None

Set CLUSTERPY_BENCH_CS to use another directory, or to "none" to skip the
peer entirely.
"""
import importlib
import os
import subprocess
import sys

VERSION = "1.10.1"
CS_DIR = os.environ.get("CLUSTERPY_BENCH_CS",
                        os.path.expanduser("~/.cache/clusterpy-bench/ClusterShell-" + VERSION))


def _install():
    if os.path.isdir(os.path.join(CS_DIR, "ClusterShell")):
        return True
    try:
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps",
                        "--target", CS_DIR, "ClusterShell==" + VERSION],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except (OSError, subprocess.CalledProcessError):
        return False
    return os.path.isdir(os.path.join(CS_DIR, "ClusterShell"))


def clustershell():
    """Return the imported ClusterShell package (1.10.1), or None."""
    if CS_DIR == "none":
        return None
    if "ClusterShell" in sys.modules and not getattr(sys.modules["ClusterShell"],
                                                     "_clusterpy_alias", False):
        return sys.modules["ClusterShell"]
    if not _install():
        return None
    if CS_DIR not in sys.path:
        sys.path.append(CS_DIR)
    try:
        module = importlib.import_module("ClusterShell")
    except ImportError:
        return None
    if getattr(module, "__version__", None) != VERSION:
        return None
    return module


def clustershell_cmd(tool):
    """argv prefix that runs ClusterShell's CLI tool ("Clush", "Nodeset",
    "Clubak") in a subprocess, or None.  Use with clustershell_env()."""
    if CS_DIR == "none" or not _install():
        return None
    return [sys.executable, "-m", "ClusterShell.CLI." + tool]


def clustershell_env(env=None):
    """Environment for clustershell_cmd(): ClusterShell's directory first."""
    env = dict(os.environ if env is None else env)
    env["PYTHONPATH"] = CS_DIR + os.pathsep + env.get("PYTHONPATH", "")
    return env
