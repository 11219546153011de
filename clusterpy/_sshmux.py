"""ssh connection reuse: OpenSSH ControlMaster connections owned by clusterpy.

Theory of operation
-------------------
With the task info key ``ssh_reuse`` set (a persist time in seconds, or
``yes`` for DEFAULT_PERSIST), every ssh and scp client of WorkerSsh gets
``-oControlMaster=auto -oControlPath=DIR/NAME -oControlPersist=Ns``: the
first client to a node authenticates as usual, then OpenSSH forks the
connection off as a background master (its stdin, stdout and stderr on
/dev/null, in a session of its own) and runs the command through it; later
clients to that node only open a channel on the master (no key exchange,
no authentication).  A master ends by itself once it has been idle for the
persist time, and removes its socket.

- DIR is private to the user (0700, owned by them, checked every time),
  NAME a 20-hex-digit hash of what makes a connection different (node,
  user, ssh options), so that the socket path stays far below the 108
  bytes of a unix socket address even with the 17 characters ssh appends
  to its temporary name.
- Recovery is OpenSSH's own: a socket without a master (killed master)
  is unlinked by the next client, which then connects directly; a removed
  socket means a direct connection that becomes the new master.  No
  client ever uses ``ControlMaster=no`` with a path, which prints an error
  for a stale socket.
- Hangs avoided: within a process, at most one client per node may
  create a master at a time (two creators would race on the socket and
  the loser would print "ControlSocket ... already exists"); others for
  that node use the master if it answers, else connect directly
  (``ControlPath=none``).  A client whose options hold ``-v`` creates no
  master: ssh keeps stderr open in a master started with ``-v``, and the
  worker would wait for its EOF until the master expires.
- Bounded: at most ``ssh_reuse_max`` sockets in DIR; the nodes beyond it
  connect directly.  Masters get ``ServerAliveInterval`` (unless the
  user's options set it) so that a master whose node died silently ends
  within about three intervals instead of leaving clients waiting.
- Fast path: a client to a node whose master is up runs the small
  program built from csrc/sshmux/client.c instead of ssh: it speaks the mux
  protocol itself (hello, session request, the three fds, exit status),
  which saves the ssh process's start-up (libraries, configuration: most
  of a reused connection's client time), and execs the ssh command line
  when the master does not open the session, so that failures and
  recovery stay ssh's own.  Used only for plain sessions: no tty, no
  forwarding or control options on the command line, and ``ssh -G`` (run
  once per set of options) showing no RequestTTY, RemoteCommand,
  SessionType or ForkAfterAuthentication.
- Owned: ``masters()`` finds them by the title OpenSSH gives a master
  process (``ssh: DIR/NAME [mux]``), ``close_connections()`` ends them
  (all, or some nodes') and removes what is left in DIR.
"""

import errno
import hashlib
import os
import socket
import stat
import threading
import time
from typing import Any, Callable, Iterable, List, Optional, Tuple

#: persist time (seconds) of ``ssh_reuse = yes``
DEFAULT_PERSIST = 600
#: default bound on the number of masters (``ssh_reuse_max``)
DEFAULT_MAX = 512
#: ServerAliveInterval of masters when connect_timeout gives none
DEFAULT_ALIVE = 10
#: a unix socket path holds 107 bytes (108 with the final NUL)
_SUN_PATH_MAX = 107
#: ssh binds "PATH.XXXXXXXXXXXXXXXX" first, then links it to PATH
_SSH_TEMP_SUFFIX = 17
_NAME_LEN = 20
#: longest directory the socket names fit in
DIR_MAX = _SUN_PATH_MAX - _SSH_TEMP_SUFFIX - 1 - _NAME_LEN

#: short ssh options taking an argument (the rest of the word or the next)
_ARG_FLAGS = frozenset("BbcDEeFIiJLlmOoPpQRSWw")
#: the mux client program (csrc/sshmux/client.c), when it was built
MUX_CLIENT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_sshmux_client")
#: ssh flags a plain session never has (tty, forwarding, control, no command)
_NOT_PLAIN_FLAGS = frozenset("tNWLRDfsMSOGv")
#: -o options the mux client would not honour as ssh does
_NOT_PLAIN_OPTIONS = ("controlmaster", "controlpath", "controlpersist", "requesttty",
                      "remotecommand", "sessiontype", "stdinnull", "forkafterauthentication")
#: `ssh -G` settings a plain session has (missing ones are fine)
_PLAIN_SETTINGS = {"requesttty": ("auto", "no", "false"), "sessiontype": ("default",),
                   "remotecommand": ("none",), "forkafterauthentication": ("no", "false")}

_TRUE = ("yes", "true", "on")
_FALSE = ("no", "false", "off", "")
_UNITS = {"s": 1, "m": 60, "h": 3600}


class ReuseError(ValueError):
    """An ssh_reuse setting that cannot be used (the message says which)."""


def parse_reuse(value: Any) -> int:
    """Persist seconds for an ``ssh_reuse`` value, 0 meaning off: a number
    of seconds (``600``, ``10m``, ``1h``), a boolean or yes/no/on/off."""
    if value is None or value is False:
        return 0
    if value is True:
        return DEFAULT_PERSIST
    if isinstance(value, (int, float)):
        seconds = value
    else:
        text = str(value).strip().lower()
        if text in _TRUE:
            return DEFAULT_PERSIST
        if text in _FALSE:
            return 0
        scale = _UNITS.get(text[-1:], None)
        try:
            seconds = float(text[:-1] if scale else text) * (scale or 1)
        except ValueError:
            seconds = -1
    if not 0 <= seconds < 1e9:          # negative, nan, inf, absurd
        raise ReuseError("ssh_reuse: invalid value %r (seconds such as 600 or 10m, or yes/no)"
                         % (value,))
    return int(seconds + 0.999) if seconds else 0


def default_dir() -> str:
    """$XDG_RUNTIME_DIR/clusterpy-ssh, or /tmp/clusterpy-ssh-UID."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and os.path.isabs(runtime) and len(runtime) + 14 <= DIR_MAX:
        try:
            st = os.stat(runtime)
            if st.st_uid == os.getuid() and not st.st_mode & 0o077:
                return os.path.join(runtime, "clusterpy-ssh")
        except OSError:
            pass
    return "/tmp/clusterpy-ssh-%d" % os.getuid()


def private_dir(directory: Optional[str] = None, create: bool = True) -> str:
    """The socket directory (`directory` or default_dir()), made if
    missing, checked: a real directory of ours, mode 0700, short enough
    for socket paths.  Raises ReuseError saying what is wrong."""
    path = os.path.abspath(os.path.expanduser(directory or default_dir()))
    if len(path) > DIR_MAX:
        raise ReuseError("ssh_reuse_dir: %s is %d characters long, more than the %d that "
                         "leave room for ssh's socket names (108-byte unix socket paths)"
                         % (path, len(path), DIR_MAX))
    if create:
        try:
            os.mkdir(path, 0o700)
            os.chmod(path, 0o700)       # whatever the umask took away
        except FileExistsError:
            pass
        except OSError as exc:
            raise ReuseError("ssh_reuse_dir: cannot create %s: %s" % (path, exc.strerror))
    try:
        st = os.lstat(path)
    except OSError as exc:
        raise ReuseError("ssh_reuse_dir: %s: %s" % (path, exc.strerror))
    if not stat.S_ISDIR(st.st_mode):
        raise ReuseError("ssh_reuse_dir: %s is not a directory (or is a symbolic link)" % path)
    if st.st_uid != os.getuid():
        raise ReuseError("ssh_reuse_dir: %s belongs to uid %d, not to you" % (path, st.st_uid))
    if st.st_mode & 0o077:
        raise ReuseError("ssh_reuse_dir: %s is open to other users (mode %o, want 700)"
                         % (path, stat.S_IMODE(st.st_mode)))
    return path


#: ssh flags that change a session, not its connection (left out of the hash)
_SESSION_FLAGS = frozenset(("-T", "-t", "-tt", "-n", "-q"))


def socket_name(node: str, user: Optional[str], options: Iterable[str]) -> str:
    """The socket file name of a connection: a hash of what sets it apart
    (node, user, option words but the session-only ones)."""
    words = [word for word in options if word not in _SESSION_FLAGS]
    text = "\0".join([node, user or ""] + words)
    return hashlib.blake2b(text.encode("utf-8", "surrogateescape"),
                           digest_size=_NAME_LEN // 2).hexdigest()


def _flags(words: Iterable[str]):
    """(flag, argument or None) of each short option in ssh words."""
    words = iter(words)
    for word in words:
        if word[:1] != "-" or word[:2] == "--":
            continue
        for index, flag in enumerate(word[1:]):
            if flag in _ARG_FLAGS:
                rest = word[index + 2:]
                yield flag, rest if rest else next(words, "")
                break
            yield flag, None


def has_verbose(words: Iterable[str]) -> bool:
    """Whether ssh command words hold -v (alone or among short flags)."""
    return any(flag == "v" for flag, _ in _flags(words))


_PLAIN_CACHE = {}


def plain_session(words: Tuple[str, ...], node: str) -> Optional[str]:
    """The mux client's FLAGS argument if ssh command `words` (program
    and options, before the node) make a plain session, else None."""
    if words in _PLAIN_CACHE:
        return _PLAIN_CACHE[words]
    flags = None
    if os.access(MUX_CLIENT, os.X_OK):
        flags = _plain_flags(words, node)
    if len(_PLAIN_CACHE) > 64:
        _PLAIN_CACHE.clear()
    _PLAIN_CACHE[words] = flags
    return flags


def _plain_flags(words, node):
    import subprocess
    stdin_null = False
    for flag, arg in _flags(words[1:]):
        if flag in _NOT_PLAIN_FLAGS:
            return None
        if flag == "n":
            stdin_null = True
        name = (arg or "").replace("=", " ").split(None, 1)[:1]
        if flag == "o" and name and name[0].lower() in _NOT_PLAIN_OPTIONS:
            return None
    try:
        proc = subprocess.run(list(words) + ["-G", node], stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    if proc.returncode != 0:
        return None
    for line in proc.stdout.decode(errors="replace").splitlines():
        key, _, value = line.partition(" ")
        if key in _PLAIN_SETTINGS and value.lower() not in _PLAIN_SETTINGS[key]:
            return None
        if key == "stdinnull" and value.lower() in ("yes", "true"):
            stdin_null = True
    return "n" if stdin_null else "-"


def _answers(path: str) -> bool:
    """Whether a master listens on socket `path`."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(path)
        return True
    except OSError:
        return False
    finally:
        sock.close()


# -- in-process bookkeeping: who may create a master right now ---------------

_LOCK = threading.Lock()
#: socket path -> number of our running clients allowed to create it
_CREATING = {}


def _release(path: str) -> None:
    with _LOCK:
        left = _CREATING.get(path, 0) - 1
        if left > 0:
            _CREATING[path] = left
        else:
            _CREATING.pop(path, None)


class Plan(object):
    """Connection reuse for the clients of one worker: built once from the
    task's info, then asked per node for the ssh options to add."""

    def __init__(self, info: Callable[..., Any]) -> None:
        self.persist = parse_reuse(info("ssh_reuse", 0))
        if not self.persist:
            return
        self.directory = private_dir(info("ssh_reuse_dir", None) or None)
        limit = info("ssh_reuse_max", DEFAULT_MAX)
        try:
            self.limit = int(limit)
        except (TypeError, ValueError):
            raise ReuseError("ssh_reuse_max: invalid value %r (a number of masters)" % (limit,))
        timeout = info("connect_timeout", 0) or 0
        self.alive = max(1, int(timeout)) if timeout > 0 else DEFAULT_ALIVE
        self._existing = None
        self._budget = 0

    def _take_inventory(self) -> None:
        """What DIR holds now; if it is full, stale sockets are removed first."""
        names = set(os.listdir(self.directory))
        if len(names) >= self.limit:
            for name in list(names):
                path = os.path.join(self.directory, name)
                if "." in name:             # ssh's temporary name while it binds
                    continue
                if not _answers(path) and not _CREATING.get(path):
                    _unlink(path)
                    names.discard(name)
        with _LOCK:
            creating = [p for p in _CREATING if os.path.dirname(p) == self.directory]
        pending = len(set(os.path.basename(p) for p in creating) - names)
        self._existing = names
        self._budget = self.limit - len(names) - pending

    def options(self, node: str, user: Optional[str], options: Any,
                words: Iterable[str]) -> Tuple[List[str], Optional[str], Optional[str]]:
        """(ssh -o words, socket path to release when the client is done
        or None, socket path of the node's master if it was there, else
        None) for a client to `node`; `words` are the ssh command words
        already given (-v)."""
        if has_verbose(words):
            return (["-oControlMaster=no", "-oControlPath=none"], None, None)
        if self._existing is None:
            self._take_inventory()
        name = socket_name(node, user, options)
        path = os.path.join(self.directory, name)
        with _LOCK:
            creating = _CREATING.get(path, 0)
            usable = creating == 0 and (name in self._existing or self._budget > 0)
            if usable:
                if name not in self._existing:
                    self._budget -= 1
                _CREATING[path] = 1
        if not usable and creating and _answers(path):
            return (self._words(path), None, path)
        if not usable:
            return (["-oControlMaster=no", "-oControlPath=none"], None, None)
        return (self._words(path), path, path if name in self._existing else None)

    def _words(self, path: str) -> List[str]:
        return ["-oControlMaster=auto", "-oControlPath=%s" % path.replace("%", "%%"),
                "-oControlPersist=%ds" % self.persist,
                "-oServerAliveInterval=%d" % self.alive, "-oServerAliveCountMax=3"]

    @staticmethod
    def release(path: Optional[str]) -> None:
        """A client given `path` by options() is done."""
        if path is not None:
            _release(path)


def plan_for(worker: Any) -> Optional[Plan]:
    """The worker's Plan (made on first use), None when reuse is off."""
    plan = worker.__dict__.get("_sshmux_plan", False)
    if plan is False:
        plan = Plan(worker.task.info)
        if not plan.persist:
            plan = None
        worker._sshmux_plan = plan
    return plan


# -- masters: finding and ending them ----------------------------------------

def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError as exc:
        if exc.errno != errno.ENOENT:
            raise


def masters(directory: Optional[str] = None) -> List[Tuple[int, str]]:
    """(pid, socket path) of the user's ssh masters whose socket is (or
    was) in `directory`, found by their process title."""
    path = os.path.abspath(os.path.expanduser(directory or default_dir()))
    prefix = ("ssh: %s/" % path).encode()
    uid = os.getuid()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if os.stat("/proc/" + entry).st_uid != uid:
                continue
            with open("/proc/%s/cmdline" % entry, "rb") as fh:
                title = fh.read(4096)
        except OSError:
            continue
        if title.startswith(prefix):
            sock = title[len("ssh: "):].split(b" [mux]", 1)[0].split(b"\0", 1)[0]
            found.append((int(entry), os.fsdecode(sock)))
    return found


def _gone(pid: int) -> bool:
    try:
        with open("/proc/%d/stat" % pid, "rb") as fh:
            return fh.read().split(b") ", 1)[1][:1] == b"Z"
    except (OSError, IndexError):
        return True


def close_connections(paths: Optional[Iterable[str]] = None, directory: Optional[str] = None,
                      wait: float = 0.5) -> int:
    """End the masters of DIR (only those of socket `paths` if given):
    SIGTERM, then SIGKILL for those still there after `wait` seconds (a
    master just starting may not have its handlers yet); remove their
    sockets (all of DIR's with no `paths`); return how many ended."""
    try:
        directory = private_dir(directory, create=False)
    except ReuseError:
        if directory is not None and not os.path.exists(os.path.expanduser(directory)):
            return 0
        raise
    wanted = None if paths is None else set(paths)
    victims = [(pid, path) for pid, path in masters(directory)
               if wanted is None or path in wanted]
    for pid, _ in victims:
        _signal(pid, 15)
    deadline = time.monotonic() + wait
    left = [pid for pid, _ in victims]
    while left and time.monotonic() < deadline:
        time.sleep(0.01)
        left = [pid for pid in left if not _gone(pid)]
    for pid in left:
        _signal(pid, 9)
    deadline = time.monotonic() + 2.0
    while left and time.monotonic() < deadline:
        time.sleep(0.005)
        left = [pid for pid in left if not _gone(pid)]
    for name in os.listdir(directory):
        path = os.path.join(directory, name)
        if wanted is None or path in wanted:
            _unlink(path)
    return len(victims)


def _signal(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass
