"""Benchmark of the cluset command, end to end (interpreter start-up
included), clusterpy against ClusterShell 1.10.1's cluset.

Scenarios (each a fresh process, the same argv and stdin for both):
  1. `cluset -f` of 100,000 node names in random order, read from stdin;
  2. `cluset -f` of 100,000 two-dimension names (rack/node) from stdin;
  3. `cluset -e node[0-999999]` (1,000,000 names written to a pipe);
  4. `cluset -c` of a 1,000,000-node set minus a stepped one;
  5. `cluset -c a` alone: start-up cost.
Then the import time of clusterpy.CLI.Nodeset (python -X importtime).

Prints a Markdown table of medians over RUNS runs (default 5); the two
tools alternate run by run so that both see the same machine load.  The
ratio is ClusterShell's time over clusterpy's: above 1 means clusterpy is
faster.

    python bench/bench_cli_nodeset.py          # RUNS=9 for more runs
    CLUSTERPY_BENCH_CS=none python bench/bench_cli_nodeset.py
"""
import os
import random
import re
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from bench._peer import clustershell_cmd, clustershell_env  # noqa: E402

RUNS = int(os.environ.get("RUNS", "5"))
NAMES = 100000


def _names_1d():
    names = ["node%d" % idx for idx in range(NAMES)]
    random.Random(1).shuffle(names)
    return ("\n".join(names) + "\n").encode()


def _names_2d():
    names = ["r%dn%d" % (idx // 400, idx % 400) for idx in range(NAMES)]
    random.Random(2).shuffle(names)
    return ("\n".join(names) + "\n").encode()


SCENARIOS = [
    ("`cluset -f` of 100,000 names on stdin", ["-f"], _names_1d),
    ("`cluset -f` of 100,000 2D names on stdin", ["-f"], _names_2d),
    ("`cluset -e node[0-999999]`", ["-e", "node[0-999999]"], None),
    ("`cluset -c node[0-999999] -x node[1-999999/3]`",
     ["-c", "node[0-999999]", "-x", "node[1-999999/3]"], None),
    ("`cluset -c a` (start-up)", ["-c", "a"], None),
]


def ours_cmd():
    return [sys.executable, "-m", "clusterpy.CLI.Nodeset"]


def _with_bytecode(env):
    """Let the runs cache compiled modules (an installed package has
    them), so that start-up is not spent compiling."""
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def ours_env():
    env = _with_bytecode(dict(os.environ))
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    return env


def timed_run(argv, env, stdin):
    """Wall time of one run; the output is read fully, then checked."""
    t0 = time.perf_counter()
    proc = subprocess.run(argv, input=stdin, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - t0
    if proc.returncode:
        raise SystemExit("%s failed: %s" % (argv, proc.stderr.decode()))
    return elapsed, proc.stdout


def import_time_ms(argv_python, env, module):
    """Cumulative import time of module, in ms (median of RUNS)."""
    samples = []
    for _ in range(RUNS):
        proc = subprocess.run(argv_python + ["-X", "importtime", "-c",
                                             "import " + module],
                              env=env, stderr=subprocess.PIPE,
                              stdout=subprocess.DEVNULL, check=True)
        last = proc.stderr.decode().strip().splitlines()[-1]
        samples.append(int(re.split(r"\s*\|\s*", last)[1]) / 1000.0)
    return statistics.median(samples)


def main():
    peer = clustershell_cmd("Nodeset")
    peer_env = _with_bytecode(clustershell_env()) if peer else None
    rows = []
    for title, args, make_stdin in SCENARIOS:
        stdin = make_stdin() if make_stdin else b""
        ours, theirs = [], []
        # one untimed run each first: bytecode and page cache warm
        timed_run(ours_cmd() + args, ours_env(), stdin)
        if peer:
            timed_run(peer + args, peer_env, stdin)
        for _ in range(RUNS):
            elapsed, out = timed_run(ours_cmd() + args, ours_env(), stdin)
            ours.append(elapsed)
            if peer:
                elapsed, peer_out = timed_run(peer + args, peer_env, stdin)
                theirs.append(elapsed)
                if peer_out != out:
                    raise SystemExit("outputs differ for %s" % title)
        mine = statistics.median(ours)
        if theirs:
            ref = statistics.median(theirs)
            rows.append("| %s | %.3f s | %.3f s | %.1fx |"
                        % (title, mine, ref, ref / mine))
        else:
            rows.append("| %s | %.3f s | n/a | n/a |" % (title, mine))
    mine = import_time_ms([sys.executable], ours_env(), "clusterpy.CLI.Nodeset")
    if peer:
        ref = import_time_ms([sys.executable], peer_env,
                             "ClusterShell.CLI.Nodeset")
        rows.append("| import CLI.Nodeset | %.1f ms | %.1f ms | %.1fx |"
                    % (mine, ref, ref / mine))
    else:
        rows.append("| import CLI.Nodeset | %.1f ms | n/a | n/a |" % mine)

    print("cluset benchmark (medians of %d runs, %d CPUs, outputs checked "
          "equal)\n" % (RUNS, os.cpu_count()))
    print("| scenario | clusterpy | ClusterShell | ratio |")
    print("|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
