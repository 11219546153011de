"""Benchmark of the clush command, end to end (interpreter start-up included).

Scenarios, clusterpy's clush against ClusterShell 1.10.1's in the same run:
  1. ``clush -R exec -w n[1-1000] -b true``: 1,000 local commands (fanout 64
     by default), output gathering on;
  2. ``clush -R exec -w n[1-1000] -b 'seq 100'``: the same with each node
     printing 100 lines, gathered;
  3. ``clush -R exec -w n[1-200] 'seq 100'``: 200 nodes printing 100 lines
     each, printed as they come (``node: line``);
  4. ``clush --version``: start-up and option parsing only.

Both run as ``python -m <package>.CLI.Clush`` with stdin from /dev/null and
stdout/stderr to pipes that are drained; clusterpy's and ClusterShell's runs
alternate, so that both see the same machine load.  Prints a Markdown table
of medians over RUNS runs (default 5); the ratio is ClusterShell's time over
clusterpy's (above 1: clusterpy is faster).  Then the import time of
clusterpy.CLI.Clush (``python -X importtime``) and of its biggest imports.

    python bench/bench_cli_clush.py               # RUNS=9 for more runs
    CLUSTERPY_BENCH_CS=none python bench/bench_cli_clush.py   # no ClusterShell
"""
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from bench._peer import clustershell_cmd, clustershell_env  # noqa: E402

RUNS = int(os.environ.get("RUNS", "5"))

SCENARIOS = [
    ("-R exec -w n[1-1000] -b true", ["-R", "exec", "-w", "n[1-1000]", "-b", "true"]),
    ("-R exec -w n[1-1000] -b 'seq 100'", ["-R", "exec", "-w", "n[1-1000]", "-b", "seq 100"]),
    ("-R exec -w n[1-200] 'seq 100'", ["-R", "exec", "-w", "n[1-200]", "seq 100"]),
    ("--version", ["--version"]),
]


def isolated_env(base):
    """Environment reading no clush.conf or groups.conf but an empty one."""
    cfgdir = os.path.join(base, "cfg")
    os.makedirs(cfgdir, exist_ok=True)
    env = dict(os.environ)
    env.update({"CLUSTERSHELL_CFGDIR": cfgdir, "HOME": base,
                "XDG_CONFIG_HOME": os.path.join(base, ".config")})
    return env


def runner(argv, env):
    """A function running argv once; it checks the exit code."""
    def run():
        proc = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, env=env)
        if proc.returncode != 0:
            raise RuntimeError("%s failed (%d): %s" % (argv, proc.returncode,
                                                       proc.stderr[-500:]))
        return proc.stdout
    return run


def timed(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def medians(fns):
    """Median wall time of RUNS calls of each fn (None skipped), the fns
    alternating run by run."""
    runs = [[timed(fn) if fn else None for fn in fns] for _ in range(RUNS)]
    return [statistics.median(col) if col[0] is not None else None for col in zip(*runs)]


def import_time(env):
    """(cumulative microseconds of importing clusterpy.CLI.Clush, [(module,
    cumulative us)] of its direct imports), from python -X importtime."""
    proc = subprocess.run([sys.executable, "-X", "importtime", "-c",
                           "import clusterpy.CLI.Clush"], env=env,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=True)
    children = []
    for line in proc.stderr.decode().splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cumulative, name = line[len("import time:"):].split("|")
        if not cumulative.strip().isdigit():
            continue  # the header line
        depth = (len(name) - len(name.lstrip())) // 2
        if depth == 0:
            if name.strip() == "clusterpy.CLI.Clush":
                return int(cumulative), children
            children = []
        elif depth == 1:
            children.append((name.strip(), int(cumulative)))
    raise RuntimeError("clusterpy.CLI.Clush not in the import times")


def main():
    with tempfile.TemporaryDirectory(prefix="bench-clush-") as base:
        env = isolated_env(base)
        env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
        ours = [sys.executable, "-m", "clusterpy.CLI.Clush"]
        peer = clustershell_cmd("Clush")
        peer_env = clustershell_env(isolated_env(base)) if peer else None
        rows = []
        for title, args in SCENARIOS:
            fns = [runner(ours + args, env), runner(peer + args, peer_env) if peer else None]
            mine, theirs = medians(fns)
            rows.append((title, mine, theirs))
        print("| scenario (clush ...) | clusterpy | ClusterShell 1.10.1 | ratio |")
        print("|---|---|---|---|")
        for title, mine, theirs in rows:
            if theirs is None:
                print("| `%s` | %.3f s | n/a | n/a |" % (title, mine))
            else:
                print("| `%s` | %.3f s | %.3f s | %.1fx |" % (title, mine, theirs,
                                                             theirs / mine))
        print()
        print("Medians of %d runs, interpreter start-up included." % RUNS)
        total, children = import_time(env)
        print()
        print("Import of clusterpy.CLI.Clush (python -X importtime): %.1f ms; "
              "its biggest direct imports:" % (total / 1000.0))
        print()
        print("| module | cumulative |")
        print("|---|---|")
        for name, us in sorted(children, key=lambda item: -item[1])[:6]:
            print("| %s | %.1f ms |" % (name, us / 1000.0))


if __name__ == "__main__":
    main()
