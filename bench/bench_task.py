"""Task and Worker speed: clusterpy beside ClusterShell 1.10.1, same scenarios.

    python bench/bench_task.py [--repeat N] [scenario ...]

Each measurement runs in a fresh interpreter (one per library, scenario and
repeat, alternating libraries) with the settings clush uses: ExecWorker as
the distant worker, stderr kept apart, fanout 64.  The table gives medians;
"ratio" is how many times better clusterpy is (rates: ours / theirs; times:
theirs / ours).  A shell peer (xargs, a pipeline) gives the machine's pace.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

from bench._peer import CS_DIR, clustershell  # noqa: E402

# scenario name -> (description, unit, higher is better)
SCENARIOS = {
    "spawn": ("task.shell('true', nodes='n[1-1000]') + run()", "nodes/s", True),
    "ev_read": ("1 command x 100,000 lines of 64 bytes, ev_read counting", "lines/s", True),
    "gather": ("10 commands x 10,000 lines into the msgtree + iter_buffers()", "lines/s",
               True),
    "stdin": ("4 MiB in 64 KiB writes to 8 x 'cat > /dev/null'", "s", False),
    "timers": ("100,000 one-shot task.timer()", "timers/s", True),
    "import": ("import <lib>.Task", "ms", False),
}


def scenario_code(lib, name):
    """Python source measuring scenario `name` with library `lib`; prints
    the figure."""
    setup = """
import time
from {lib}.Task import task_self
from {lib}.Event import EventHandler
from {lib}.Worker.Exec import ExecWorker
task = task_self()
task.set_default("distant_worker", ExecWorker)
task.set_default("stderr", True)
task.set_info("fanout", 64)
""".format(lib=lib)
    body = {
        "spawn": """
t0 = time.perf_counter()
task.shell("true", nodes="n[1-1000]")
task.run()
dt = time.perf_counter() - t0
assert task.max_retcode() == 0
print(1000 / dt)
""",
        "ev_read": """
class Count(EventHandler):
    n = 0
    def ev_read(self, worker, node, sname, msg):
        self.n += 1
count = Count()
cmd = "awk 'BEGIN{for(i=0;i<100000;i++) printf \\"%063d\\\\n\\", i}'"
t0 = time.perf_counter()
task.shell(cmd, handler=count)
task.run()
dt = time.perf_counter() - t0
assert count.n == 100000, count.n
print(100000 / dt)
""",
        "gather": """
t0 = time.perf_counter()
for i in range(10):
    task.shell("seq 10000", nodes="n%d" % i)
task.run()
n = sum(len(list(msg.lines())) * len(keys) for msg, keys in task.iter_buffers())
dt = time.perf_counter() - t0
assert n == 100000, n
print(100000 / dt)
""",
        "stdin": """
chunk = b"x" * 65535 + b"\\n"
t0 = time.perf_counter()
workers = [task.shell("cat > /dev/null") for _ in range(8)]
for _ in range(64):
    for w in workers:
        w.write(chunk)
for w in workers:
    w.set_write_eof()
task.run()
dt = time.perf_counter() - t0
assert task.max_retcode() == 0
print(dt)
""",
        "timers": """
class Fired(EventHandler):
    n = 0
    def ev_timer(self, timer):
        Fired.n += 1
h = Fired()
t0 = time.perf_counter()
for i in range(100000):
    task.timer(0.0, handler=h)
task.run()
dt = time.perf_counter() - t0
assert Fired.n == 100000, Fired.n
print(100000 / dt)
""",
    }
    if name == "import":
        return "import time\nt0 = time.perf_counter()\nimport %s.Task\n" \
               "print((time.perf_counter() - t0) * 1000)\n" % lib
    return setup + body[name]


def measure(lib, name):
    env = dict(os.environ)
    # imports from .pyc files, as an installed package does (a warm-up run
    # writes them)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    paths = [ROOT] if lib == "clusterpy" else [CS_DIR]
    env["PYTHONPATH"] = os.pathsep.join(paths + [env.get("PYTHONPATH", "")])
    proc = subprocess.run([sys.executable, "-c", scenario_code(lib, name)], env=env,
                          capture_output=True, text=True, timeout=600, cwd="/")
    if proc.returncode != 0:
        raise RuntimeError("%s/%s failed:\n%s" % (lib, name, proc.stderr))
    return float(proc.stdout.split()[-1])


def peer(name):
    """The machine's pace for a scenario, from plain shell tools, or None."""
    if name == "spawn":
        t0 = time.perf_counter()
        subprocess.run("seq 1000 | xargs -P 64 -n 1 sh -c true", shell=True, check=True)
        return "xargs -P 64: %.0f/s" % (1000 / (time.perf_counter() - t0))
    if name in ("ev_read", "gather"):
        t0 = time.perf_counter()
        subprocess.run("seq 100000 | cat > /dev/null", shell=True, check=True)
        return "seq | cat: %.0f lines/s" % (100000 / (time.perf_counter() - t0))
    return None


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("scenarios", nargs="*", default=list(SCENARIOS))
    args = parser.parse_args()
    have_cs = clustershell() is not None
    libs = ["clusterpy"] + (["ClusterShell"] if have_cs else [])
    for lib in libs:
        measure(lib, "import")  # warm-up: compile and cache bytecode
    print("| scenario | clusterpy | ClusterShell 1.10.1 | ratio | machine |")
    print("|---|---|---|---|---|")
    for name in args.scenarios:
        desc, unit, higher = SCENARIOS[name]
        runs = {lib: [] for lib in libs}
        for _ in range(args.repeat):
            for lib in libs:
                runs[lib].append(measure(lib, name))
        ours = statistics.median(runs["clusterpy"])
        if have_cs:
            theirs = statistics.median(runs["ClusterShell"])
            ratio = ours / theirs if higher else theirs / ours
            cs_cell, ratio_cell = "%.4g %s" % (theirs, unit), "%.1fx" % ratio
        else:
            cs_cell = ratio_cell = "n/a"
        print("| %s | %.4g %s | %s | %s | %s |" % (desc, ours, unit, cs_cell, ratio_cell,
                                                 peer(name) or ""))
        sys.stdout.flush()
    print(json.dumps({"python": sys.version.split()[0], "cpus": os.cpu_count()}))


if __name__ == "__main__":
    main()
