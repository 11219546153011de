"""Run clusterpy's command-line tools as a user would: a new process, the
tool's name as argv[0], bytes on stdin, and an environment of its own
(HOME, XDG_CONFIG_HOME and CLUSTERSHELL_CFGDIR in a temporary directory,
no colour variables) so that no configuration of the machine leaks in.

CLUSTERPY_TEST_PEER=DIR runs DIR/cluset, DIR/clubak... instead (for
instance ClusterShell's own scripts), to check that the expectations of
the tests are ClusterShell's behaviour.
"""
import collections
import os
import pty
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_MODULES = {"cluset": "Nodeset", "nodeset": "Nodeset", "clubak": "Clubak"}
_DROPPED = ("NO_COLOR", "CLICOLOR", "CLICOLOR_FORCE", "CLUSTERSHELL_CFGDIR",
            "XDG_CONFIG_HOME", "PYTHONHASHSEED")

Result = collections.namedtuple("Result", "rc out err")


class CliTool(object):
    """One command-line tool, run in a sandbox directory."""

    def __init__(self, name, sandbox):
        self.name = name
        self.home = str(sandbox)
        self.cfgdir = os.path.join(self.home, "cfg")
        os.makedirs(self.cfgdir, exist_ok=True)

    def argv(self):
        peer = os.environ.get("CLUSTERPY_TEST_PEER")
        if peer:
            return [os.path.join(peer, self.name)]
        code = ("import sys; sys.argv[0] = %r; from clusterpy.CLI.%s import "
                "main; main()" % (self.name, _MODULES[self.name]))
        return [sys.executable, "-c", code]

    def env(self, extra):
        env = {key: value for key, value in os.environ.items()
               if key not in _DROPPED}
        env.update(HOME=self.home, CLUSTERSHELL_CFGDIR=self.cfgdir,
                   XDG_CONFIG_HOME=os.path.join(self.home, "xdg"),
                   PYTHONPATH=ROOT)
        env.update(extra)
        return env

    def write_config(self, name, text):
        """Write a file of the configuration directory; return its path."""
        path = os.path.join(self.cfgdir, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as stream:
            stream.write(text)
        return path

    def __call__(self, *args, stdin=b"", **env):
        """Run the tool; returns Result(rc, stdout bytes, stderr bytes)."""
        if isinstance(stdin, str):
            stdin = stdin.encode()
        proc = subprocess.run(self.argv() + list(args), input=stdin,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              env=self.env(env), cwd=self.home, timeout=60)
        return Result(proc.returncode, proc.stdout, proc.stderr)

    def on_terminal(self, *args, stdin=b"", **env):
        """Run the tool with stdout on a pseudo-terminal (stdin and stderr
        are pipes); returns Result with the terminal's bytes as out."""
        master, slave = pty.openpty()
        try:
            # raw mode: keep "\n" as is (no "\r\n" translation)
            import tty
            tty.setraw(slave)
            proc = subprocess.Popen(self.argv() + list(args),
                                    stdin=subprocess.PIPE, stdout=slave,
                                    stderr=subprocess.PIPE,
                                    env=self.env(env), cwd=self.home)
        finally:
            os.close(slave)
        try:
            proc.stdin.write(stdin)
            proc.stdin.close()
            chunks = []
            while True:
                try:
                    chunk = os.read(master, 65536)
                except OSError:   # EIO: every slave end is closed
                    break
                if not chunk:
                    break
                chunks.append(chunk)
            err = proc.stderr.read()
            proc.stderr.close()
            rc = proc.wait(timeout=60)
        finally:
            os.close(master)
        return Result(rc, b"".join(chunks), err)


def clush_options(*args):
    """clush's option values for command-line `args`, as parsed by
    clusterpy's OptionParser with clush's config, display and connector
    options (no process started)."""
    from clusterpy.CLI.OptionParser import OptionParser
    parser = OptionParser("test")
    parser.install_clush_config_options()
    parser.install_display_options(verbose_options=True)
    parser.install_connector_options()
    return parser.parse_args(list(args))[0]
