"""The comparison table, the README section, the regression guard.

A run is a JSON-ready dict: ``machine`` (bench/_harness.py machine()),
``quick``, ``repeat``, ``command`` and ``scenarios`` (the harness's result
dicts, in table order, with every sample).  Everything here reads that
dict, so that a saved run can be shown or compared again.

The ratio of a row is the median over the rounds of ClusterShell's value
divided by clusterpy's in the same round: above 1, clusterpy is faster
(or smaller) by that factor.  Rows compare by ratio, never by absolute
value, since machines differ.
"""
import json
import os
import statistics

README_BEGIN = "<!-- bench-table:begin -->"
README_END = "<!-- bench-table:end -->"

#: smallest denominator of a ratio, by unit: a memory page, a nanosecond;
#: "x" is a ratio itself (bench/aio.py)
FLOOR = {"kB": 4, "s": 1e-9, "x": 1e-9, "B": 1, "/s": 1e-9}

#: units where more is better (a rate): their ratio is ours over theirs
HIGHER = ("/s",)

#: a row regresses when its ratio falls below baseline / (1 + SLOWER)
SLOWER = 0.20


def rows(run):
    """One dict per table row (a scenario, or a metric of one): key,
    group, title, unit, clusterpy, ClusterShell, ratio, peers
    [(label, value)], guard, args, note (why a contender is missing)."""
    out = []
    for result in run["scenarios"]:
        samples = result["samples"]
        multi = len(result["metrics"]) > 1
        for index, metric in enumerate(result["metrics"]):
            name = metric["name"]
            values = {who: [sample[name] for sample in runs]
                      for who, runs in samples.items() if runs and name in runs[0]}
            row = {
                "key": result["key"] + (":" + name if multi else ""),
                "group": result["group"],
                "title": result["title"] + (", " + metric["label"] if multi else ""),
                "unit": metric["unit"], "guard": metric["guard"], "args": result["args"],
                "clusterpy": _median(values.get("clusterpy")),
                "ClusterShell": _median(values.get("ClusterShell")),
                "ratio": _paired_ratio(values.get("clusterpy"), values.get("ClusterShell"),
                                       FLOOR[metric["unit"]])
                if metric["unit"] in HIGHER else
                _paired_ratio(values.get("ClusterShell"), values.get("clusterpy"),
                              FLOOR[metric["unit"]]),
                "peers": [(label, _median(values.get(label))) for label in result["peers"]
                          if values.get(label)] if index == 0 else [],
                "note": result.get("error") or "; ".join(
                    "%s: %s" % item for item in sorted(result["missing"].items())),
            }
            out.append(row)
    return out


def _median(values):
    return statistics.median(values) if values else None


def _paired_ratio(theirs, ours, floor):
    if not theirs or not ours:
        return None
    return statistics.median(t / max(o, floor) for t, o in zip(theirs, ours))


def fmt(value, unit):
    if value is None:
        return "n/a"
    if unit == "x":
        return "%.2f×" % value
    if unit == "B":
        return "{:,.0f} B".format(value)
    if unit == "/s":
        return "{:,.0f}/s".format(value)
    if unit == "kB":
        return "%.1f MB" % (value / 1024.0) if value >= 10240 else "%d kB" % value
    if value < 1e-3:
        return "%.1f µs" % (value * 1e6)
    if value < 1:
        return "%.1f ms" % (value * 1e3) if value < 0.1 else "%.0f ms" % (value * 1e3)
    return "%.2f s" % value


def fmt_ratio(ratio):
    if ratio is None:
        return "n/a"
    return "%.0f×" % ratio if ratio >= 100 else "%.1f×" % ratio if ratio >= 10 else \
        "%.2f×" % ratio


def header(run):
    machine = run["machine"]
    load = machine["loadavg"]
    busy = load[0] > 0.25 * machine["cpus"]
    lines = [
        "Made by `%s`%s, %s." % (run["command"], " (quick mode: smaller sizes)"
                                 if run["quick"] else "", machine["date"]),
        "",
        "Machine: %d CPUs (%s), %s, load average %.2f %.2f %.2f at start%s; Python %s, "
        "clusterpy %s, ClusterShell %s." % (
            machine["cpus"], machine["cpu_model"], machine["system"], load[0], load[1],
            load[2], " (a busy machine shared with other jobs: expect noise of 20% and "
                     "more on single rows)" if busy else "",
            machine["python"], machine["clusterpy"], machine["ClusterShell"] or "n/a"),
        "",
        "Medians of %d runs per row, the libraries alternating run by run, bytecode "
        "cached: engine, output, timers, memory, import, ssh and aio rows run a fresh interpreter "
        "per run and time themselves from inside; nodeset and msgtree rows run both "
        "libraries in one fresh interpreter per scenario, in loops of about 20 ms; cli rows "
        "time whole processes, start-up included. Ratio: ClusterShell's value over "
        "clusterpy's in the same round, median over the rounds (above 1: clusterpy faster "
        "or smaller). Peers and the machine's limit run the same job, timed wall clock." %
        run["repeat"],
    ]
    return "\n".join(lines)


def markdown(run):
    """The header and the Markdown table of a run."""
    out = [header(run), "",
           "| scenario | clusterpy | ClusterShell 1.10.1 | ratio | peer or limit |",
           "|---|--:|--:|--:|---|"]
    group = None
    for row in rows(run):
        if row["group"] != group:
            group = row["group"]
            out.append("| **%s** | | | | |" % group)
        peers = "; ".join("%s: %s" % (label, fmt(value, row["unit"]))
                          for label, value in row["peers"])
        if row["clusterpy"] is None:
            peers = "not run: " + (row["note"] or "no result")
        elif row["note"] and not peers:
            peers = row["note"]
        cells = [row["title"], fmt(row["clusterpy"], row["unit"]),
                 fmt(row["ClusterShell"], row["unit"]), fmt_ratio(row["ratio"]), peers]
        out.append("| %s |" % " | ".join(cell.replace("|", "\\|") for cell in cells))
    return "\n".join(out) + "\n"


def update_readme(path, text):
    """Replace what lies between the bench-table markers of `path`."""
    with open(path, encoding="utf-8") as fh:
        content = fh.read()
    begin, end = content.find(README_BEGIN), content.find(README_END)
    if begin < 0 or end < begin:
        raise ValueError("%s has no %s ... %s section" % (path, README_BEGIN, README_END))
    content = content[:begin + len(README_BEGIN)] + "\n" + text + content[end:]
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(content)


def save(run, path):
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(run, fh, indent=1, ensure_ascii=False)
        fh.write("\n")


def load(path):
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def compare(run, baseline):
    """(lines of text, number of regressions): the rows whose ratio fell
    more than SLOWER below the baseline's, and the rows not compared."""
    before = {row["key"]: row for row in rows(baseline)}
    regressions, lines, skipped = [], [], []
    for row in rows(run):
        old = before.get(row["key"])
        if old is None or not row["guard"]:
            continue
        if old["args"] != row["args"]:
            skipped.append("%s (sizes differ from the baseline's)" % row["key"])
            continue
        if row["ratio"] is None or old["ratio"] is None:
            continue
        change = old["ratio"] / row["ratio"] - 1.0
        if change > SLOWER:
            regressions.append("- %s: ratio %s -> %s, %.0f%% slower relative to "
                               "ClusterShell" % (row["title"], fmt_ratio(old["ratio"]),
                                                 fmt_ratio(row["ratio"]), change * 100))
    if regressions:
        lines.append("%d scenario(s) more than %d%% slower relative to ClusterShell than "
                     "in the baseline:" % (len(regressions), SLOWER * 100))
        lines.extend(regressions)
    else:
        lines.append("No scenario more than %d%% slower relative to ClusterShell than in "
                     "the baseline." % (SLOWER * 100))
    if skipped:
        lines.append("Not compared: " + ", ".join(skipped))
    return lines, len(regressions)


def default_paths():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return (os.path.join(root, "README.md"),
            os.path.join(root, "bench", "baseline.json"))
