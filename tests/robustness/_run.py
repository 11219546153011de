"""Helpers of the robustness suite: clush and scripts run as a user runs
them (a new process in a session of its own, in a private configuration
directory), and what is left of them afterwards.

``Proc`` starts the program with ``start_new_session=True``: every process it
starts, whatever process group it puts it in, stays in that session, so
``Proc.survivors()`` finds anything left behind by reading /proc (zombies do
not count: they are dead, waiting for init to reap them).
"""

import os
import signal
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

#: how clush is started (its console script does the same)
CLUSH = ("import sys; sys.argv[0] = 'clush'; from clusterpy.CLI.Clush import main; "
         "sys.exit(main())")


def clush_argv(*args):
    return [sys.executable, "-c", CLUSH] + list(args)


def env(home, **extra):
    """An environment with no configuration of the machine or the user."""
    cfg = os.path.join(str(home), "cfg")
    os.makedirs(cfg, exist_ok=True)
    with open(os.path.join(cfg, "clush.conf"), "w") as fh:
        fh.write("[Main]\nfanout: 64\nconnect_timeout: 10\nfd_max: 8192\n")
    values = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home),
              "XDG_CONFIG_HOME": os.path.join(str(home), "xdg"),
              "CLUSTERSHELL_CFGDIR": cfg, "PYTHONPATH": ROOT, "LANG": "C.UTF-8"}
    values.update(extra)
    return values


def session_members(sid):
    """Pids of the live (not zombie) processes of session `sid`."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as fh:
                stat = fh.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if fields[0] != "Z" and int(fields[3]) == sid:
            found.append(int(entry))
    return found


class Proc:
    """A program run in a session of its own; see the module docs."""

    #: every Proc started, for the suite's clean-up fixture (conftest.py)
    started_procs = []

    def __init__(self, argv, home, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                 preexec_fn=None, **extra_env):
        self.started = time.monotonic()
        self.proc = subprocess.Popen(argv, stdin=stdin, stdout=stdout,
                                     stderr=subprocess.PIPE, cwd=str(home),
                                     env=env(home, **extra_env), start_new_session=True,
                                     preexec_fn=preexec_fn)
        self.sid = self.proc.pid
        Proc.started_procs.append(self)

    def cleanup(self):
        """Kill what is left (after a failed test) and reap the program."""
        self.kill_session()
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.communicate()

    def signal(self, signum):
        self.proc.send_signal(signum)

    def finish(self, timeout=30):
        """(exit code, stdout, stderr, seconds since start); the session is
        killed if the program is still running after `timeout`."""
        try:
            out, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill_session()
            self.proc.communicate()
            raise AssertionError("still running after %gs" % timeout)
        return self.proc.returncode, out, err, time.monotonic() - self.started

    def survivors(self, settle=2.0):
        """What still runs in the session (waiting up to `settle` seconds for
        killed processes to go); whatever is found is killed afterwards."""
        deadline = time.monotonic() + settle
        while True:
            left = session_members(self.sid)
            if not left or time.monotonic() > deadline:
                break
            time.sleep(0.02)
        if left:
            self.kill_session()
        return left

    def kill_session(self):
        for pid in session_members(self.sid):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass


def wait_for(predicate, timeout=10.0, what="condition"):
    """Poll predicate() until true; AssertionError after timeout seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("%s not reached within %gs" % (what, timeout))
        time.sleep(0.01)


def files_in(path):
    try:
        return len(os.listdir(str(path)))
    except OSError:
        return 0
