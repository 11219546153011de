"""CLI end to end: clush and cluset as a user runs them.

Each run is a whole process, ``python -m <library>.CLI.Clush`` or
``.Nodeset``, interpreter start-up included, its output drained from a
pipe; outputs that do not depend on timing must be the same bytes for
both libraries.  Both read an empty configuration directory (no
clush.conf, no groups.conf) and a private HOME.  ``pdsh -R exec`` runs
the same local commands beside clush.
"""
import random

from bench._suite import Command, Group, Peer, nodes_range

G = Group("cli", "CLI end to end")


def config_dir():
    """Resource: an empty configuration directory and HOME for the tools."""
    import os
    import tempfile
    with tempfile.TemporaryDirectory(prefix="clusterpy-bench-cli-") as base:
        cfgdir = os.path.join(base, "cfg")
        os.mkdir(cfgdir)
        yield {"cli_env": {"CLUSTERSHELL_CFGDIR": cfgdir, "HOME": base,
                           "XDG_CONFIG_HOME": os.path.join(base, ".config")}}


def _tool(name):
    return lambda lib: lib.has_module("CLI." + name)


PDSH = Peer("pdsh -R exec -f 64",
            lambda nodes, command, **_: Command(
                ["pdsh", "-R", "exec", "-f", "64", "-w", nodes_range(1, nodes),
                 "sh", "-c", command]),
            binary="pdsh")

CLUSH = dict(needs=(config_dir,), requires=_tool("Clush"))


@G.command("`clush --version` (start-up)", key="clush-version", args=dict(options=["--version"]),
           same_output=True, **CLUSH)
@G.command("`clush -R exec -w n[1-{nodes}] '{command}'` (lines as they come)",
           key="clush-lines", args=dict(nodes=200, command="seq 100", options=[]),
           quick=dict(nodes=50), peers=(PDSH,), **CLUSH)
@G.command("`clush -R exec -w n[1-{nodes}] -b '{command}'`", key="clush-b-seq",
           args=dict(nodes=1000, command="seq 100", options=["-b"]), quick=dict(nodes=200),
           same_output=True, **CLUSH)
@G.command("`clush -R exec -w n[1-{nodes}] -b {command}`", key="clush-b-true",
           args=dict(nodes=1000, command="true", options=["-b"]), quick=dict(nodes=200),
           same_output=True, peers=(PDSH,), **CLUSH)
def clush(lib, options, cli_env, nodes=None, command=None):
    argv = lib.cli("Clush") + options
    if nodes:
        argv += ["-R", "exec", "-w", nodes_range(1, nodes), command]
    return Command(argv, env=cli_env)


_NAMES = {}


def names(count, dims):
    """`count` node names in a fixed random order, one a line (bytes):
    node<i>, or r<i>n<j> for two dimensions."""
    if (count, dims) not in _NAMES:
        if dims == 1:
            items = ["node%d" % i for i in range(count)]
        else:
            items = ["r%dn%d" % (i // 400, i % 400) for i in range(count)]
        random.Random(dims).shuffle(items)
        _NAMES[count, dims] = ("\n".join(items) + "\n").encode()
    return _NAMES[count, dims]


CLUSET = dict(needs=(config_dir,), requires=_tool("Nodeset"), same_output=True)


@G.command("`cluset -c a` (start-up)", key="cluset-startup", args=dict(options=["-c", "a"]),
           **CLUSET)
@G.command("`cluset -c node[0-999999] -x node[1-999999/3]`", key="cluset-c",
           args=dict(options=["-c", "node[0-999999]", "-x", "node[1-999999/3]"]), **CLUSET)
@G.command("`cluset -e node[0-999999]`", key="cluset-e",
           args=dict(options=["-e", "node[0-999999]"]), **CLUSET)
@G.command("`cluset -f` of {count:,} 2D names on stdin", key="cluset-f-2d",
           args=dict(options=["-f"], count=100000, dims=2), quick=dict(count=10000), **CLUSET)
@G.command("`cluset -f` of {count:,} names on stdin", key="cluset-f",
           args=dict(options=["-f"], count=100000, dims=1), quick=dict(count=10000), **CLUSET)
def cluset(lib, options, cli_env, count=0, dims=1):
    return Command(lib.cli("Nodeset") + options, env=cli_env,
                   input=names(count, dims) if count else None)
