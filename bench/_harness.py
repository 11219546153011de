"""Measurement: every contender of a scenario, alternating run by run.

Theory of operation
-------------------
``Harness.measure(scenario)`` builds one runner per contender (clusterpy,
ClusterShell 1.10.1 when it can be had, each peer whose program is
installed), then calls them round after round, the order rotating each
round so that every contender meets the same machine load and none is
always first.  A runner returns one sample: a dict metric -> value.

- child scenarios run in a fresh interpreter per sample (bench/_child.py),
  with bytecode caching on and the .pyc written beforehand, so that both
  libraries import the way an installed package does;
- micro scenarios run all libraries in one fresh interpreter per scenario,
  which takes the turns itself, each sample a loop calibrated to last about
  20 ms (5 ms in quick mode), divided by its length;
- commands and peers are timed from start to exit, their stdout drained.

Results are plain dicts (JSON-ready), kept by scenario key; a failure is
kept too, so that the other items of that scenario report it at once.
Resources (the test sshd, a config directory) start on first need and stop
in ``close()``.
"""
import ast
import contextlib
import os
import platform
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from bench import _peer  # noqa: E402
from bench._suite import Lib, Unavailable  # noqa: E402

#: seconds a child or command may take before the run counts as failed
TIMEOUT = 900


def child_env(*paths, extra=None):
    """Environment for a measured interpreter: `paths` first on
    PYTHONPATH, bytecode caching on (the machine may turn it off)."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPATH"] = os.pathsep.join(list(paths) + [env.get("PYTHONPATH", "")]).rstrip(
        os.pathsep)
    env.update(extra or {})
    return env


class ScenarioError(RuntimeError):
    """A contender failed a scenario (bad exit, wrong result, timeout)."""


def _run(argv, env, input=None, cwd=ROOT):
    """Run argv; return (wall seconds, stdout).  Raises ScenarioError."""
    start = time.perf_counter()
    try:
        proc = subprocess.run(argv, input=input, env=env, cwd=cwd, timeout=TIMEOUT,
                              stdin=None if input is not None else subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    except subprocess.TimeoutExpired:
        raise ScenarioError("%s: no exit after %d s" % (" ".join(argv), TIMEOUT)) from None
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise ScenarioError("%s exited with %d:\n%s" % (
            " ".join(argv)[:300], proc.returncode,
            proc.stderr.decode(errors="replace")[-2000:]))
    return wall, proc.stdout


class Harness(object):
    """Measures scenarios; see the module documentation."""

    def __init__(self, quick=False, repeat=None):
        self.quick = quick
        self.repeat = repeat or (3 if quick else 5)
        self.results = {}
        self.machine = machine()
        self._libs = None
        self._resources = {}
        self._stack = contextlib.ExitStack()
        self._compiled = False

    # libraries and resources

    def libs(self):
        """{name: Lib or reason it is missing}."""
        if self._libs is None:
            self._libs = {"clusterpy": Lib("clusterpy", ROOT)}
            if _peer.clustershell() is not None:
                self._libs["ClusterShell"] = Lib("ClusterShell", _peer.CS_DIR)
            else:
                self._libs["ClusterShell"] = "ClusterShell %s cannot be had" % _peer.VERSION
        return self._libs

    def _resource(self, provider):
        if provider not in self._resources:
            self._resources[provider] = self._stack.enter_context(
                contextlib.contextmanager(provider)())
        return self._resources[provider]

    def _compile(self):
        """Write the .pyc of both libraries and of bench/ once, as the first
        import of an installed package would."""
        if self._compiled:
            return
        self._compiled = True
        paths = [os.path.join(ROOT, "clusterpy"), os.path.join(ROOT, "bench")]
        if isinstance(self.libs()["ClusterShell"], Lib):
            paths.append(os.path.join(_peer.CS_DIR, "ClusterShell"))
        _run([sys.executable, "-m", "compileall", "-q"] + paths, child_env())

    def close(self):
        self._stack.close()
        self._resources.clear()

    # runners: () -> sample dict

    def _child(self, spec, paths, what):
        """Run bench/_child.py with `spec`; return (its result, wall time)."""
        self._compile()
        argv = [sys.executable, "-m", "bench._child", repr(spec)]
        wall, out = _run(argv, child_env(*paths))
        last = out.decode(errors="replace").strip().splitlines()[-1:]
        if not last or not last[0].startswith("BENCH-RESULT "):
            raise ScenarioError("%s printed no result: %r" % (what, out[-500:]))
        return ast.literal_eval(last[0][len("BENCH-RESULT "):]), wall

    def _lib_runner(self, scenario, lib, args):
        primary = scenario.metrics[0].name
        if scenario.kind == "child":
            spec = {"module": scenario.func.__module__, "key": scenario.key,
                    "lib": lib.name, "args": args}

            def run():
                value, wall = self._child(spec, (lib.path, ROOT),
                                          "%s/%s" % (lib.name, scenario.key))
                sample = value if isinstance(value, dict) else {primary: value}
                sample["process"] = wall     # the whole interpreter's life
                return sample
            return run
        self._compile()
        command = scenario.func(lib, **args)
        return self._command_runner(command, child_env(lib.path, extra=command.env),
                                    primary)

    def _micro(self, scenario, libs, args):
        """Samples of a micro scenario: all libraries in one fresh
        interpreter, taking turns (see bench/_child.py)."""
        spec = {"module": scenario.func.__module__, "key": scenario.key,
                "libs": [lib.name for lib in libs], "args": args, "repeat": self.repeat,
                "target": 0.005 if self.quick else 0.02}
        times, _ = self._child(spec, [lib.path for lib in libs] + [ROOT], scenario.key)
        primary = scenario.metrics[0].name
        return {name: [{primary: value} for value in values] for name, values in times.items()}

    @staticmethod
    def _command_runner(command, env, primary):
        def run():
            wall, out = _run(command.argv, env, command.input)
            run.last_output = out
            return {primary: wall}
        return run

    @staticmethod
    def _peer_runner(command, env, metric, args):
        """A peer's runs: its wall time ("process") and, when the first
        metric can be had from it (Metric.of_wall), that metric."""
        def run():
            wall, _ = _run(command.argv, env, command.input)
            sample = {"process": wall}
            if metric.of_wall is not None:
                sample[metric.name] = metric.of_wall(wall, **args)
            return sample
        return run

    def _runners(self, scenario, args):
        """{contender: runner}, {contender: reason it cannot run}, [Lib]."""
        runners, missing, libs = {}, {}, []
        for name, lib in self.libs().items():
            why = _unable(scenario, lib)
            if why:
                missing[name] = why
                continue
            libs.append(lib)
            if scenario.kind != "micro":
                runners[name] = self._lib_runner(scenario, lib, args)
        for peer in scenario.peers:
            label = peer.label.format(**args)
            if peer.binary and not shutil.which(peer.binary):
                missing[label] = "%s is not installed" % peer.binary
                continue
            command = peer.make(**args)
            env = dict(os.environ, **command.env)
            runners[label] = self._peer_runner(command, env, scenario.metrics[0], args)
        return runners, missing, libs

    # measuring

    def measure(self, scenario):
        """The result dict of `scenario` (measured on first call)."""
        if scenario.key in self.results:
            return self.results[scenario.key]
        args = scenario.arguments(self.quick)
        result = {
            "key": scenario.key, "group": scenario.group.name, "kind": scenario.kind,
            "title": scenario.label(self.quick), "args": args,
            "metrics": [{"name": m.name, "unit": m.unit, "label": m.label, "guard": m.guard}
                        for m in scenario.metrics],
            "peers": [peer.label.format(**args) for peer in scenario.peers],
            "samples": {}, "missing": {}, "error": None,
        }
        self.results[scenario.key] = result
        try:
            why = _unable(scenario, self.libs()["clusterpy"])
            if why:     # nothing to compare with: run nobody
                result["missing"] = {"clusterpy": why}
                return result
            try:
                for provider in scenario.needs:
                    args.update(self._resource(provider))
            except Unavailable as exc:
                result["missing"] = {"clusterpy": str(exc)}
                return result
            runners, result["missing"], libs = self._runners(scenario, args)
            if scenario.kind == "micro":
                result["samples"] = self._micro(scenario, libs, args)
            else:
                result["samples"] = self._rounds(runners)
            if scenario.same_output:
                self._check_same_output(runners, scenario)
        except Exception as exc:
            # the table's note: the exception's last line (pytest shows all)
            lines = [line for line in str(exc).splitlines() if line.strip()] or [""]
            result["error"] = "%s: %s" % (type(exc).__name__, lines[-1].strip()[:200])
            raise
        return result

    def _rounds(self, runners):
        names = list(runners)
        samples = {name: [] for name in names}
        for round_no in range(self.repeat):
            shift = round_no % len(names)
            for name in names[shift:] + names[:shift]:
                samples[name].append(runners[name]())
        return samples

    @staticmethod
    def _check_same_output(runners, scenario):
        outputs = {name: getattr(run, "last_output", None) for name, run in runners.items()
                   if name in ("clusterpy", "ClusterShell")}
        if len(set(outputs.values())) > 1:
            raise ScenarioError("%s: clusterpy and ClusterShell print different output"
                                % scenario.key)


def _unable(scenario, lib):
    """Why `lib` (a Lib, or the reason it is missing) cannot run
    `scenario`, or None."""
    if not isinstance(lib, Lib):
        return lib
    return scenario.requires(lib) if scenario.requires else None


def machine():
    """What the table says about the machine the run happened on."""
    model = ""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    import clusterpy
    cs = _peer.clustershell()
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model or platform.processor() or platform.machine(),
        "loadavg": list(os.getloadavg()),
        "python": platform.python_version(),
        "clusterpy": clusterpy.__version__,
        "ClusterShell": getattr(cs, "__version__", None),
        "system": "%s %s" % (platform.system(), platform.release()),
        "date": time.strftime("%Y-%m-%d"),
    }
