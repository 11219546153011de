"""python -m bench: run the benchmark suite, print the comparison table.

    python -m bench                      # the whole suite (takes a while)
    python -m bench engine output        # some groups
    python -m bench nodeset -k fold      # scenarios whose id holds "fold"
    python -m bench --quick              # smaller sizes, fewer runs: a smoke run
    python -m bench --readme --save      # refresh README.md's table and bench/baseline.json
    python -m bench --compare            # fail if a row got >20% slower relative to ClusterShell

It runs ``pytest bench/ --benchmark-only`` (pytest's output goes to stderr)
and prints the Markdown table on stdout.  Exit status: 0; 1 when --compare
finds a regression; 2 on bad usage; 3 when a scenario failed.
"""
import argparse
import os
import shlex
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from bench import _report, _suite  # noqa: E402


def parse_args(argv):
    _suite.load()
    parser = argparse.ArgumentParser(
        prog="python -m bench", description="clusterpy against ClusterShell 1.10.1: "
        "run the benchmark suite and print the comparison table.")
    parser.add_argument("groups", nargs="*", metavar="GROUP",
                        help="groups to run (default: all): " + ", ".join(_suite.GROUPS))
    parser.add_argument("-k", dest="select", metavar="EXPR",
                        help="only the scenarios matching this pytest -k expression")
    parser.add_argument("--quick", action="store_true",
                        help="smaller sizes and 3 runs: a smoke run, not for the README")
    parser.add_argument("--repeat", type=int, metavar="N",
                        help="runs per scenario and contender (default 5; quick 3)")
    parser.add_argument("--readme", action="store_true",
                        help="write the table into README.md between its bench-table markers")
    parser.add_argument("--save", action="store_true",
                        help="save the run as the baseline (bench/baseline.json)")
    parser.add_argument("--compare", action="store_true",
                        help="compare the run with the baseline; exit 1 if a scenario got more "
                        "than 20%% slower relative to ClusterShell")
    parser.add_argument("--baseline", metavar="PATH", default=_report.default_paths()[1],
                        help="baseline file for --save and --compare (default: %(default)s)")
    parser.add_argument("--json", metavar="PATH", help="also write the whole run to PATH")
    parser.add_argument("--load", metavar="PATH",
                        help="do not run: show (and --readme/--save/--compare) a run saved "
                        "with --json")
    args = parser.parse_args(argv)
    unknown = [name for name in args.groups if name not in _suite.GROUPS]
    if unknown:
        parser.error("unknown group(s) %s; groups: %s"
                     % (", ".join(unknown), ", ".join(_suite.GROUPS)))
    partial = args.groups or args.select or args.quick or args.repeat
    if (args.readme or args.save) and partial and not args.load:
        parser.error("--readme and --save take a full run of the whole suite "
                     "(no group, -k, --quick or --repeat)")
    return args


def run_suite(args, command):
    """Run the suite through pytest; return (run dict, pytest's status)."""
    import importlib.util
    if importlib.util.find_spec("pytest_benchmark") is None:
        sys.stderr.write("python -m bench needs pytest and pytest-benchmark: "
                         "pip install -e '.[bench]'\n")
        return None, 2
    with tempfile.TemporaryDirectory(prefix="clusterpy-bench-") as tmp:
        results = os.path.join(tmp, "run.json")
        argv = [sys.executable, "-m", "pytest", os.path.join(ROOT, "bench"),
                "--benchmark-only", "--benchmark-sort=name", "-q", "-p", "no:cacheprovider",
                "--bench-results", results, "--bench-command", command,
                "--rootdir", ROOT]
        if args.groups:
            argv += ["-m", " or ".join(args.groups)]
        if args.select:
            argv += ["-k", args.select]
        if args.quick:
            argv.append("--bench-quick")
        if args.repeat:
            argv += ["--bench-repeat", str(args.repeat)]
        status = subprocess.call(argv, cwd=ROOT, stdout=sys.stderr)
        if not os.path.exists(results):
            return None, status
        return _report.load(results), status


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    shown = [arg for index, arg in enumerate(argv)     # --json only says where to write
             if arg != "--json" and not arg.startswith("--json=")
             and (index == 0 or argv[index - 1] != "--json")]
    command = " ".join(["python -m bench"] + [shlex.quote(arg) for arg in shown])
    status = 0
    if args.load:
        run = _report.load(args.load)
    else:
        run, status = run_suite(args, command)
        if run is None:
            sys.stderr.write("python -m bench: the suite produced no result (pytest status "
                             "%d)\n" % status)
            return 3
    table = _report.markdown(run)
    sys.stdout.write(table)
    if args.json:
        _report.save(run, args.json)
    failed = status not in (0, 5)     # 5: pytest selected nothing
    if failed and (args.readme or args.save):
        sys.stderr.write("python -m bench: a scenario failed (see above): README and "
                         "baseline left as they were\n")
    elif args.readme:
        _report.update_readme(_report.default_paths()[0], table)
    if args.save and not failed:
        _report.save(run, args.baseline)
    if args.compare:
        if not os.path.exists(args.baseline):
            sys.stderr.write("python -m bench: no baseline at %s (make one with --save)\n"
                             % args.baseline)
            return 2
        lines, regressions = _report.compare(run, _report.load(args.baseline))
        sys.stdout.write("\n" + "\n".join(lines) + "\n")
        if regressions and not failed:
            return 1
    return 3 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
