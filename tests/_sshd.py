"""A private OpenSSH server for the test suite (and the ssh group of bench/).

Theory of operation
-------------------
``Sshd.start()`` makes a temporary directory, generates host keys and user
keys in it with ssh-keygen, writes an sshd_config and an ssh_config there,
then runs ``/usr/sbin/sshd -D -e -f sshd_config`` on a free port, listening
on every IPv4 address so that 127.0.0.1, 127.0.0.2, ... all reach it (the
authorized key only accepts clients from 127.0.0.0/8).  ``stop()`` ends it
and removes the directory.  Nothing reads or writes the machine's own sshd
configuration, host keys or ``~/.ssh``.

Every client (ssh, scp, and pdsh through its ssh module) reads the written
ssh_config with ``-F``; it holds the port, the key, host key checking off,
batch mode and quiet logging, and maps test host names:

- ``node*`` and ``localhost``: 127.0.0.1 (the test sshd);
- ``cp-refused``: a port nobody listens on (connection refused);
- ``cp-silent``: a port that accepts TCP but never speaks (the fixture
  keeps that socket open, never accepting: connect_timeout applies);
- ``cp-blackhole``: 192.0.2.1 (TEST-NET-1: unroutable);
- ``cp-wrongkey``: the test sshd, offered only a key it does not accept.
"""

import os
import shutil
import socket
import subprocess
import tempfile
import time

SSHD = "/usr/sbin/sshd"
SSH_KEYGEN = shutil.which("ssh-keygen") or "/usr/bin/ssh-keygen"
PRIVSEP_DIR = "/run/sshd"

#: server options that newer OpenSSH releases have and older ones reject
_OPTIONAL_SERVER_OPTIONS = (
    # 9.8+: would lock 127.0.0.1 out after the failure tests
    ("PerSourcePenalties", "no"),
    # bash sources ~/.bashrc for commands run by sshd, unless it is a
    # nested shell: keep the login user's rc files (slow, noisy) out
    ("SetEnv", "SHLVL=1"),
)


class SshdError(RuntimeError):
    """The test sshd could not be set up or started."""


def _free_port():
    """A TCP port that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _keygen(path, comment):
    subprocess.run([SSH_KEYGEN, "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", path],
                   check=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                   stderr=subprocess.PIPE)


def _write(path, text, mode=0o600):
    with open(path, "w") as fh:
        fh.write(text)
    os.chmod(path, mode)


def missing_binaries():
    """Why the test sshd cannot run here ('' when it can)."""
    if not os.access(SSHD, os.X_OK):
        return "%s is not installed (apt-get install openssh-server)" % SSHD
    for tool in ("ssh", "scp"):
        if shutil.which(tool) is None:
            return "%s is not installed (apt-get install openssh-client)" % tool
    if not os.access(SSH_KEYGEN, os.X_OK):
        return "ssh-keygen is not installed (apt-get install openssh-client)"
    return ""


class Sshd(object):
    """A running test sshd; see the module documentation."""

    host = "127.0.0.1"

    def __init__(self):
        self.tmpdir = None
        self.port = None
        self.proc = None
        self.key = None
        self.wrong_key = None
        self.config = None
        self.refused_port = None
        self._silent = None
        self._log = None

    # what clients use

    @property
    def ssh_options(self):
        """Value for the ssh_options / scp_options task info keys."""
        return "-F %s" % self.config

    def pdsh_env(self):
        """Environment variables making pdsh use ssh with our config
        (PDSH_SSH_ARGS_APPEND is left free: WorkerPdsh sets it)."""
        return {"PDSH_RCMD_TYPE": "ssh",
                "PDSH_SSH_ARGS": "-2 -a -x -F %s -l%%u %%h" % self.config}

    def ssh_argv(self, node, command):
        """Plain ssh command line to `node` running `command`."""
        return ["ssh", "-F", self.config, node, command]

    def client_pids(self, settle=0.0):
        """Pids of live processes (anyone's children) whose command line
        names our ssh_config: ssh and scp clients, and pdsh's ssh children.
        Waits up to `settle` seconds for them to go."""
        needle = self.config.encode()
        deadline = time.monotonic() + settle
        while True:
            pids = []
            for entry in os.listdir("/proc"):
                if not entry.isdigit():
                    continue
                try:
                    with open("/proc/%s/cmdline" % entry, "rb") as fh:
                        if needle in fh.read():
                            pids.append(int(entry))
                except OSError:
                    continue
            if not pids or time.monotonic() >= deadline:
                return pids
            time.sleep(0.02)

    def log(self):
        """What sshd wrote to its log so far."""
        try:
            with open(os.path.join(self.tmpdir, "sshd.log"), errors="replace") as fh:
                return fh.read()
        except OSError:
            return ""

    # life cycle

    def start(self, attempts=3):
        """Set up and start sshd; raise SshdError saying why it cannot."""
        why = missing_binaries()
        if why:
            raise SshdError(why)
        self.tmpdir = tempfile.mkdtemp(prefix="clusterpy-sshd-")
        try:
            self._prepare()
            for _ in range(attempts):
                self.port = _free_port()
                self._write_configs()
                if self._launch():
                    return self
            raise SshdError("sshd did not start; its log:\n" + self.log())
        except BaseException:
            self.stop()
            raise

    def stop(self):
        """Stop sshd and remove everything the fixture made."""
        proc, self.proc = self.proc, None
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self._silent is not None:
            self._silent.close()
            self._silent = None
        if self._log is not None:
            self._log.close()
            self._log = None
        if self.tmpdir is not None:
            shutil.rmtree(self.tmpdir, ignore_errors=True)
            self.tmpdir = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # inner workings

    def _path(self, name):
        return os.path.join(self.tmpdir, name)

    def _prepare(self):
        if not os.path.isdir(PRIVSEP_DIR):
            try:
                os.makedirs(PRIVSEP_DIR, 0o755)
            except OSError as exc:
                raise SshdError("sshd needs its privilege separation directory %s: %s"
                                % (PRIVSEP_DIR, exc))
        _keygen(self._path("host_ed25519_key"), "clusterpy-test-host")
        self.key = self._path("id_ed25519")
        _keygen(self.key, "clusterpy-test-user")
        self.wrong_key = self._path("id_wrong")
        _keygen(self.wrong_key, "clusterpy-test-unauthorized")
        with open(self.key + ".pub") as fh:
            pubkey = fh.read().strip()
        _write(self._path("authorized_keys"), 'from="127.0.0.0/8" %s\n' % pubkey)
        self._silent = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._silent.bind(("127.0.0.1", 0))
        self._silent.listen(1)
        self.refused_port = _free_port()
        self._log = open(self._path("sshd.log"), "ab")  # noqa: SIM115 (closed by stop())

    def _server_config(self, extra=()):
        lines = [
            "Port %d" % self.port,
            "ListenAddress 0.0.0.0",
            "AddressFamily inet",
            "HostKey %s" % self._path("host_ed25519_key"),
            "PidFile %s" % self._path("sshd.pid"),
            "AuthorizedKeysFile %s" % self._path("authorized_keys"),
            "StrictModes no",
            "PermitRootLogin prohibit-password",
            "PubkeyAuthentication yes",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "HostbasedAuthentication no",
            "UsePAM no",
            "UseDNS no",
            "MaxStartups 1024",
            "MaxSessions 1024",
            "MaxAuthTries 10",
            "LoginGraceTime 30",
            "PrintMotd no",
            "PrintLastLog no",
            "X11Forwarding no",
            "AllowAgentForwarding no",
            "AllowTcpForwarding no",
            "PermitUserEnvironment no",
            "Subsystem sftp internal-sftp",
            "LogLevel ERROR",
        ]
        lines.extend("%s %s" % item for item in extra)
        return "\n".join(lines) + "\n"

    def _write_configs(self):
        config = self._path("sshd_config")
        extra = [item for item in _OPTIONAL_SERVER_OPTIONS
                 if self._server_accepts(config, item)]
        _write(config, self._server_config(extra))
        self.config = self._path("ssh_config")
        _write(self.config, self._client_config())

    def _server_accepts(self, config, item):
        """Whether this sshd knows the option `item` (checked with -t)."""
        _write(config, self._server_config([item]))
        return subprocess.run([SSHD, "-t", "-f", config], stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL).returncode == 0

    def _client_config(self):
        return """\
Host cp-refused
    HostName 127.0.0.1
    Port {refused}
Host cp-silent
    HostName 127.0.0.1
    Port {silent}
Host cp-blackhole
    HostName 192.0.2.1
Host cp-wrongkey
    HostName 127.0.0.1
    IdentityFile {wrong}
Host * !cp-wrongkey
    IdentityFile {key}
Host node* localhost
    HostName 127.0.0.1
Host *
    Port {port}
    IdentitiesOnly yes
    IdentityAgent none
    UserKnownHostsFile /dev/null
    GlobalKnownHostsFile /dev/null
    StrictHostKeyChecking no
    CheckHostIP no
    UpdateHostKeys no
    BatchMode yes
    LogLevel ERROR
    AddressFamily inet
    ConnectionAttempts 1
    KexAlgorithms curve25519-sha256,curve25519-sha256@libssh.org
    ControlMaster no
    ControlPath none
    PreferredAuthentications publickey
    PasswordAuthentication no
    KbdInteractiveAuthentication no
    HostbasedAuthentication no
    GSSAPIAuthentication no
""".format(refused=self.refused_port, silent=self._silent.getsockname()[1],
           wrong=self.wrong_key, key=self.key, port=self.port)

    def _launch(self, timeout=10.0):
        """Start sshd; True once it greets, False if it died (port taken)."""
        self.proc = subprocess.Popen([SSHD, "-D", "-e", "-f", self._path("sshd_config")],
                                     stdin=subprocess.DEVNULL, stdout=self._log,
                                     stderr=self._log, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.proc = None
                return False
            if self._greets():
                return True
            time.sleep(0.02)
        raise SshdError("sshd did not answer on port %d within %gs; its log:\n%s"
                        % (self.port, timeout, self.log()))

    def _greets(self):
        try:
            with socket.create_connection((self.host, self.port), timeout=1.0) as sock:
                return sock.recv(64).startswith(b"SSH-")
        except OSError:
            return False


# helpers for the distant worker tests

def only_on(server, address, command):
    """Shell snippet running `command` only on the node reached at
    loopback `address` (all nodes are this machine: sshd tells them apart
    by the address the client connected to, in SSH_CONNECTION)."""
    return 'case "$SSH_CONNECTION" in *" %s %d") %s;; esac' % (address, server.port, command)


def recorder():
    """A new _events.Recorder (kept here for the distant-worker tests)."""
    from _events import Recorder
    return Recorder()


def abort_on_timer(worker):
    """A clusterpy EventHandler for a task timer: aborts `worker` when the
    timer fires (twice: the second abort must do nothing)."""
    from clusterpy.Event import EventHandler

    class AbortOnTimer(EventHandler):
        fired = False

        def ev_timer(self, timer):
            worker.abort()
            worker.abort()
            self.fired = True

    return AbortOnTimer()


def shell_with_default_worker(task, workername, command, nodes):
    """Run `command` on `nodes` with task.shell() while the task's
    distant_workername default is `workername`; return the worker."""
    saved = task.default("distant_workername")
    task.set_default("distant_workername", workername)
    try:
        worker = task.shell(command, nodes=nodes)
        task.resume()
    finally:
        task.set_default("distant_workername", saved)
    return worker
