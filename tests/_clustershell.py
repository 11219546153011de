"""ClusterShell 1.10.1 for the interoperation tests, in a virtualenv of its
own, made on first use from the package index and kept between runs.

The venv is built from this interpreter (same Python version, so that a
process started from it can also import this checkout with PYTHONPATH),
under ``$CLUSTERPY_TEST_CS_VENV`` or ``~/.cache/clusterpy-tests/
clustershell-1.10.1``.  A test asking for it is skipped only when pip
cannot reach the index; any other failure of the install fails the test.

``python tests/_clustershell.py`` makes the venv ahead of the tests (CI).
"""

import fcntl
import os
import shutil
import subprocess
import sys

VERSION = "1.10.1"
VENV = os.environ.get("CLUSTERPY_TEST_CS_VENV") or os.path.expanduser(
    "~/.cache/clusterpy-tests/clustershell-" + VERSION)

# what pip prints when it cannot talk to the index
_OFFLINE = ("NewConnectionError", "Max retries exceeded", "Temporary failure in name resolution",
            "Network is unreachable", "No matching distribution found", "ConnectTimeout",
            "Could not find a version that satisfies", "ProxyError", "SSLError")


class Unavailable(Exception):
    """The package index cannot be reached."""


def _python():
    return os.path.join(VENV, "bin", "python")


def _installed_version():
    try:
        proc = subprocess.run([_python(), "-c",
                               "import ClusterShell; print(ClusterShell.__version__)"],
                              capture_output=True, text=True, timeout=30)
    except OSError:
        return None
    return proc.stdout.strip() if proc.returncode == 0 else None


def _install():
    if os.path.isdir(VENV):
        shutil.rmtree(VENV)
    subprocess.run([sys.executable, "-m", "venv", VENV], check=True,
                   capture_output=True, timeout=120)
    proc = subprocess.run([_python(), "-m", "pip", "install", "-q",
                           "ClusterShell==" + VERSION], capture_output=True, text=True,
                          timeout=300)
    if proc.returncode != 0:
        shutil.rmtree(VENV, ignore_errors=True)
        text = proc.stderr.strip() or proc.stdout.strip()
        if any(word in text for word in _OFFLINE):
            raise Unavailable(text.splitlines()[-1] if text else "pip failed")
        raise RuntimeError("pip install ClusterShell==%s failed:\n%s" % (VERSION, text))


def clustershell_python() -> str:
    """The interpreter of the ClusterShell 1.10.1 venv, installed if needed
    (Unavailable when the index cannot be reached)."""
    os.makedirs(os.path.dirname(VENV), exist_ok=True)
    with open(VENV + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)     # one installer at a time
        if _installed_version() != VERSION:
            _install()
            if _installed_version() != VERSION:
                raise RuntimeError("%s: no ClusterShell %s after pip install"
                                   % (VENV, VERSION))
    return _python()


if __name__ == "__main__":
    try:
        print(clustershell_python())
    except Unavailable as exc:
        print("ClusterShell %s not installed, the package index is unreachable: %s"
              % (VERSION, exc), file=sys.stderr)
        sys.exit(0)
