"""The benchmark suite's vocabulary: groups, scenarios, libraries, commands.

Theory of operation
-------------------
Every scenario is defined once, in the module of its group (bench/engine.py,
bench/output.py...), by a decorator of that module's ``Group``:

- ``micro``: ``fn(lib, **args)`` returns a callable; the harness times it in
  loops, every library in one fresh interpreter per scenario (NodeSet,
  MsgTree);
- ``child``: ``fn(lib, **args)`` does one run and returns its measure (a
  number, or a dict of numbers for several metrics); the harness runs it in
  a fresh interpreter each time (bench/_child.py);
- ``command``: ``fn(lib, **args)`` returns a ``Command``; the harness times
  that process from start to exit (the CLI tools).

The same function serves every library: ``lib`` is a ``Lib``, through which
the code reaches ``lib.Task``, ``lib.NodeSet``... of clusterpy or of
ClusterShell 1.10.1.  ``Peer``s are external programs doing the same job
(pdsh, xargs) or a raw shell pipeline giving the machine's limit; they are
timed wall clock beside the libraries.

bench/_harness.py measures, bench/test_bench.py hands the measures to
pytest-benchmark, bench/_report.py makes the table.

This module imports nothing at the top: bench/_child.py loads it in the
interpreters where import time is measured.
"""

#: group modules, in table order; each defines one Group
GROUP_MODULES = ("engine", "output", "timers", "nodeset", "msgtree", "memory",
                 "imports", "ssh", "tree", "cli", "aio")

#: every Group, by name, in the order the modules were loaded
GROUPS = {}


def load():
    """Import the group modules; return every scenario in table order."""
    for module in GROUP_MODULES:
        __import__("bench." + module)
    return [scenario for group in GROUPS.values() for scenario in group.scenarios]


class Unavailable(Exception):
    """Raised by a resource provider that cannot start here (the reason):
    the scenarios needing it are not run, which is no failure."""


def find(key):
    """The scenario of that key, among the groups loaded so far."""
    for group in GROUPS.values():
        for scenario in group.scenarios:
            if scenario.key == key:
                return scenario
    raise KeyError(key)


class Lib(object):
    """One library under test, by package name ("clusterpy" or
    "ClusterShell"), found in directory `path`.  ``lib.Task``,
    ``lib.NodeSet``... import and return that library's module;
    ``lib.module("Worker.Exec")`` reaches nested ones."""

    def __init__(self, name, path=None):
        self.name = name
        self.path = path

    def module(self, dotted):
        fullname = self.name + "." + dotted
        __import__(fullname)
        import sys
        return sys.modules[fullname]

    def __getattr__(self, attr):
        if attr[:1].isupper():
            return self.module(attr)
        raise AttributeError(attr)

    def cli(self, tool):
        """argv prefix running this library's CLI tool ("Clush", "Nodeset")."""
        import sys
        return [sys.executable, "-m", "%s.CLI.%s" % (self.name, tool)]

    def has_module(self, dotted):
        """Reason why module `dotted` is missing from this library, or None."""
        import os
        base = os.path.join(self.path, self.name, *dotted.split("."))
        if os.path.exists(base + ".py") or os.path.isdir(base):
            return None
        return "%s.%s does not exist yet" % (self.name, dotted)


class Command(object):
    """An external process: `argv` (a list) or `shell` (a /bin/sh script),
    `input` bytes for its stdin, `env` additions to its environment."""

    def __init__(self, argv=None, shell=None, input=None, env=None):
        self.argv = argv if argv is not None else ["/bin/sh", "-c", shell]
        self.input = input
        self.env = env or {}


class Peer(object):
    """A program beside the libraries.  `label` and `make` see the
    scenario's arguments: ``label.format(**args)``, ``make(**args)``
    returning a Command.  `binary` must be on PATH for it to run."""

    def __init__(self, label, make, binary=None):
        self.label = label
        self.make = make
        self.binary = binary


class Metric(object):
    """One measured quantity of a scenario: `name` (the key in the dict a
    child returns), `unit` ("s" or "kB"), `label` appended to the row title
    when a scenario has several, `guard`: checked by --compare;
    `of_wall(wall, **args)`: the value of a peer timed `wall` seconds, start
    to exit (default: the wall time itself for a time in "s", no value
    otherwise), for a first metric that is not a time."""

    def __init__(self, name, unit="s", label="", guard=True, of_wall=None):
        self.name = name
        self.unit = unit
        self.label = label
        self.guard = guard
        if of_wall is None and unit == "s":
            of_wall = _wall_itself
        self.of_wall = of_wall


def _wall_itself(wall, **_):
    return wall


TIME = (Metric("time"),)


class Scenario(object):
    """One row (or one row per metric) of the table; see the module
    documentation.  `args` are the full-size arguments, `quick` the ones a
    --quick run replaces; `needs` are resource providers (generator
    functions yielding a dict of extra keyword arguments, started once per
    session); `requires(lib)` says why `lib` cannot run it (or None);
    `same_output`: a command's stdout must be the same for every library."""

    def __init__(self, group, kind, key, title, func, args, quick, metrics, peers,
                 needs, requires, same_output):
        self.group = group
        self.kind = kind
        self.key = "%s/%s" % (group.name, key)
        self.title = title
        self.func = func
        self.args = args
        self.quick = quick
        self.metrics = metrics
        self.peers = peers
        self.needs = needs
        self.requires = requires
        self.same_output = same_output

    def arguments(self, quick):
        args = dict(self.args)
        if quick:
            args.update(self.quick)
        return args

    def label(self, quick):
        return self.title.format(**self.arguments(quick))

    def contenders(self):
        return ["clusterpy", "ClusterShell"] + [peer.label for peer in self.peers]


def _slug(text):
    out = []
    for char in text.lower():
        if char.isalnum():
            out.append(char)
        elif out and out[-1] != "-":
            out.append("-")
    return "".join(out).strip("-")


class Group(object):
    """The scenarios of one mechanism; its decorators register them."""

    def __init__(self, name, doc):
        self.name = name
        self.doc = doc
        self.scenarios = []
        GROUPS[name] = self

    def _register(self, kind, title, key=None, args=None, quick=None, metrics=TIME,
                  peers=(), needs=(), requires=None, same_output=False):
        def decorate(func):
            scenario = Scenario(self, kind, key or _slug(title), title, func, args or {},
                                quick or {}, metrics, tuple(peers), tuple(needs), requires,
                                same_output)
            if any(other.key == scenario.key for other in self.scenarios):
                raise ValueError("two scenarios named %s" % scenario.key)
            self.scenarios.append(scenario)
            return func
        return decorate

    def micro(self, title, **options):
        return self._register("micro", title, **options)

    def child(self, title, **options):
        return self._register("child", title, **options)

    def command(self, title, **options):
        return self._register("command", title, **options)


# -- helpers for scenario code -------------------------------------------------

def exec_task(lib, fanout=64):
    """The calling thread's task of `lib`, set as clush sets it for local
    commands: ExecWorker as the distant worker, stderr kept apart."""
    task = lib.Task.task_self()
    task.set_default("distant_worker", lib.module("Worker.Exec").ExecWorker)
    task.set_default("stderr", True)
    task.set_info("fanout", fanout)
    return task


def nodes_range(first, count):
    """Node set text of `count` nodes numbered from `first`."""
    return "n[%d-%d]" % (first, first + count - 1)
