"""The benchmark suite's table, README section and regression guard
(bench/_report.py, python -m bench --load): their logic, on made-up runs.
No benchmark runs here."""
import json
import os
import subprocess
import sys

import pytest

from bench import _report

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def scenario(key, ours, theirs, unit="s", args=None, guard=True, missing=None,
             peers=None):
    """A harness result dict: one metric, samples per round."""
    samples = {}
    if ours:
        samples["clusterpy"] = [{"time": value} for value in ours]
    if theirs:
        samples["ClusterShell"] = [{"time": value} for value in theirs]
    for label, values in (peers or {}).items():
        samples[label] = [{"time": value} for value in values]
    return {"key": key, "group": key.split("/")[0], "kind": "child", "title": key,
            "args": args or {"n": 1},
            "metrics": [{"name": "time", "unit": unit, "label": "", "guard": guard}],
            "peers": list(peers or {}), "samples": samples, "missing": missing or {},
            "error": None}


def run(*scenarios):
    return {"machine": {"cpus": 2, "cpu_model": "test CPU", "loadavg": [3.0, 2.0, 1.0],
                        "python": "3.x", "clusterpy": "0.1.0", "ClusterShell": "1.10.1",
                        "system": "Linux", "date": "2000-01-01"},
            "quick": False, "repeat": 3, "command": "python -m bench", "scenarios": list(scenarios)}


def test_ratio_is_median_of_paired_rounds():
    # rounds: 10/1, 30/2, 20/4 -> ratios 10, 15, 5 -> median 10
    row, = _report.rows(run(scenario("engine/a", [1, 2, 4], [10, 30, 20])))
    assert row["ratio"] == 10
    assert row["clusterpy"] == 2 and row["ClusterShell"] == 20


def test_zero_memory_does_not_divide_by_zero():
    row, = _report.rows(run(scenario("memory/a", [0, 0, 0], [400, 400, 400], unit="kB")))
    assert row["ratio"] == 100      # against one 4 kB page


def test_compare_flags_rows_more_than_20_percent_slower_relative_to_clusterpy():
    baseline = run(scenario("engine/a", [1, 1, 1], [10, 10, 10]),
                   scenario("engine/b", [1, 1, 1], [10, 10, 10]),
                   scenario("engine/c", [1, 1, 1], [10, 10, 10]))
    # a: both twice slower, same ratio; b: ratio 10 -> 8.5 (17.6%);
    # c: ratio 10 -> 8 (25% slower relative to ClusterShell)
    new = run(scenario("engine/a", [2, 2, 2], [20, 20, 20]),
              scenario("engine/b", [1, 1, 1], [8.5, 8.5, 8.5]),
              scenario("engine/c", [1.25, 1.25, 1.25], [10, 10, 10]))
    lines, count = _report.compare(new, baseline)
    assert count == 1
    text = "\n".join(lines)
    assert "engine/c" in text and "25% slower" in text
    assert "engine/a" not in text and "engine/b" not in text


def test_compare_skips_other_sizes_and_unguarded_rows():
    baseline = run(scenario("engine/a", [1], [10], args={"n": 1000}),
                   scenario("memory/b", [1], [10], guard=False))
    new = run(scenario("engine/a", [5], [10], args={"n": 100}),
              scenario("memory/b", [5], [10], guard=False))
    lines, count = _report.compare(new, baseline)
    assert count == 0
    assert "engine/a (sizes differ" in lines[-1]
    assert "memory/b" not in "\n".join(lines)


def test_table_rows_groups_peers_and_missing():
    table = _report.markdown(run(
        scenario("engine/a", [0.5], [2.0], peers={"xargs -P 64": [0.25]}),
        scenario("cli/b", [], [], missing={"clusterpy": "no CLI yet"})))
    assert "load average 3.00 2.00 1.00 at start (a busy machine" in table
    assert "| **engine** | | | | |" in table
    assert "| engine/a | 500 ms | 2.00 s | 4.00× | xargs -P 64: 250 ms |" in table
    assert "| cli/b | n/a | n/a | n/a | not run: clusterpy: no CLI yet |" in table


def test_update_readme_rewrites_between_the_markers_only(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("# title\n\nbefore\n%s\nold table\n%s\nafter\n"
                      % (_report.README_BEGIN, _report.README_END), encoding="utf-8")
    _report.update_readme(str(readme), "new table\n")
    assert readme.read_text(encoding="utf-8") == (
        "# title\n\nbefore\n%s\nnew table\n%s\nafter\n"
        % (_report.README_BEGIN, _report.README_END))


def test_update_readme_without_markers_is_an_error(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("no markers\n", encoding="utf-8")
    with pytest.raises(ValueError, match="bench-table"):
        _report.update_readme(str(readme), "table\n")
    assert readme.read_text(encoding="utf-8") == "no markers\n"


def _bench(*args):
    return subprocess.run([sys.executable, "-m", "bench"] + list(args), cwd=ROOT,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.parametrize("theirs, status", [(10, 0), (5, 1)])
def test_command_compare_exit_status(tmp_path, theirs, status):
    base, new = tmp_path / "base.json", tmp_path / "new.json"
    base.write_text(json.dumps(run(scenario("engine/a", [1, 1], [10, 10]))))
    new.write_text(json.dumps(run(scenario("engine/a", [1, 1], [theirs, theirs]))))
    proc = _bench("--load", str(new), "--compare", "--baseline", str(base))
    assert proc.returncode == status, proc.stderr
    assert "| engine/a |" in proc.stdout
    assert ("1 scenario(s) more than 20% slower" in proc.stdout) == bool(status)


def test_command_refuses_partial_runs_for_readme_and_baseline(tmp_path):
    proc = _bench("engine", "--save")
    assert proc.returncode == 2
    assert "--readme and --save take a full run" in proc.stderr


def test_command_compare_without_baseline(tmp_path):
    new = tmp_path / "new.json"
    new.write_text(json.dumps(run(scenario("engine/a", [1], [10]))))
    proc = _bench("--load", str(new), "--compare", "--baseline",
                  str(tmp_path / "missing.json"))
    assert proc.returncode == 2
    assert "no baseline at" in proc.stderr
