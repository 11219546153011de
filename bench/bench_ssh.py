"""Distant worker benchmark: ssh fanout against a private test sshd.

256 nodes (loopback addresses 127.0.0.1-127.0.1.128, all served by the
sshd of tests/_sshd.py, which allows many concurrent startups) run a
command at fanout 64:

- ``true``: connection handling only;
- 1,000 lines of output per node: output gathering as well.

clusterpy and ClusterShell 1.10.1 each run in a subprocess of their own, so
that each one's own CPU time (getrusage RUSAGE_SELF over the run: not the
ssh children's) is measured apart; wall time covers the whole run.
``pdsh -R ssh -f 64`` runs the same scenario beside them (wall time only).
Every run checks that each node returned 0 (and all its lines).

    python3 bench/bench_ssh.py [--runs N] [--nodes N]

Prints a Markdown table of medians.
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

# name: (remote command, lines each node prints, table label)
SCENARIOS = {
    "true": ("true", 0, "`true`"),
    "lines": ("seq -f 'output line %g of this node' 1 1000", 1000, "1,000 lines"),
}


def node_list(count):
    """`count` loopback addresses from 127.0.0.1 on, 128 per /24."""
    return ["127.0.%d.%d" % (i // 128, i % 128 + 1) for i in range(count)]


# child side: one library, one run

def child(lib, scenario, config, count):
    sys.path.insert(0, ROOT)
    if lib == "clusterpy":
        from clusterpy.NodeSet import NodeSet
        from clusterpy.Task import task_self
    else:
        from bench._peer import clustershell
        if clustershell() is None:
            print(json.dumps(None))
            return
        from ClusterShell.NodeSet import NodeSet
        from ClusterShell.Task import task_self
    command, lines, _ = SCENARIOS[scenario]
    nodes = NodeSet.fromlist(node_list(count))
    task = task_self()
    task.set_info("fanout", 64)
    task.set_info("ssh_options", "-F %s" % config)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    worker = task.shell(command, nodes=nodes)
    task.resume()
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime - usage.ru_utime) + (after.ru_stime - usage.ru_stime)
    rcs = {rc: len(keys) for rc, keys in worker.iter_retcodes()}
    ok = rcs == {0: count}
    if ok and lines:
        ok = all(len(bytes(msg).split(b"\n")) == lines and len(keys) == count
                 for msg, keys in worker.iter_buffers())
    print(json.dumps({"wall": wall, "cpu": cpu, "ok": ok, "rcs": rcs}))


def run_child(lib, scenario, config, count):
    out = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", lib,
                          scenario, config, str(count)],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, check=True,
                         cwd=ROOT).stdout
    result = json.loads(out.decode().strip().splitlines()[-1])
    if result is not None and not result["ok"]:
        raise SystemExit("%s/%s: wrong results: %r" % (lib, scenario, result))
    return result


def run_pdsh(scenario, sshd, count):
    command = SCENARIOS[scenario][0]
    env = dict(os.environ, **sshd.pdsh_env())
    start = time.perf_counter()
    res = subprocess.run(["pdsh", "-b", "-f", "64", "-w", ",".join(node_list(count)), command],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=env)
    wall = time.perf_counter() - start
    if res.returncode or res.stderr:
        raise SystemExit("pdsh failed: %r" % res.stderr[-500:])
    return wall


# parent side

def median(values):
    return statistics.median(values) if values else None


def fmt(value):
    return "n/a" if value is None else "%.2f" % value


def ratio(mine, theirs):
    return "n/a" if mine is None or not theirs else "%.2f" % (mine / theirs)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--nodes", type=int, default=256)
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        lib, scenario, config, count = args.child
        child(lib, scenario, config, int(count))
        return
    sys.path.insert(0, os.path.join(ROOT, "tests"))
    import _sshd
    have_pdsh = subprocess.run(["sh", "-c", "command -v pdsh"],
                               stdout=subprocess.DEVNULL).returncode == 0
    rows = []
    with _sshd.Sshd() as sshd:
        for scenario in SCENARIOS:
            got = {"clusterpy": [], "ClusterShell": [], "pdsh": []}
            for _ in range(args.runs):
                got["clusterpy"].append(run_child("clusterpy", scenario, sshd.config,
                                                  args.nodes))
                peer = run_child("ClusterShell", scenario, sshd.config, args.nodes)
                if peer is not None:
                    got["ClusterShell"].append(peer)
                if have_pdsh:
                    got["pdsh"].append(run_pdsh(scenario, sshd, args.nodes))
            rows.append((scenario, got))
    print("%d nodes, fanout 64, median of %d runs; CPU is each library's own process"
          % (args.nodes, args.runs))
    print()
    print("| scenario | clusterpy | ClusterShell | ratio | pdsh -R ssh |")
    print("|---|---|---|---|---|")
    for scenario, got in rows:
        label = "%d nodes x %s" % (args.nodes, SCENARIOS[scenario][2])
        pdsh = median(got["pdsh"])
        for metric in ("wall", "cpu"):
            mine = median([r[metric] for r in got["clusterpy"]])
            theirs = median([r[metric] for r in got["ClusterShell"]])
            print("| %s, %s (s) | %s | %s | %s | %s |"
                  % (label, "wall" if metric == "wall" else "own CPU", fmt(mine), fmt(theirs),
                     ratio(mine, theirs), fmt(pdsh) if metric == "wall" else "-"))


if __name__ == "__main__":
    main()
