#!/usr/bin/env python3
"""`verdict parse --summary` next to codecov's test-results-parser (PyPI), end to end, on the
same generated JUnit files, in the same run: wall time and peak RSS of each process, best of
REPEATS, and the ratio. Writes a Markdown table to target/side-by-side.md (spliced into
docs/benchmarks.md by `make bench-side-by-side`).

    scripts/parse_side_by_side.py VERDICT_BINARY PYTHON_WITH_TEST_RESULTS_PARSER
"""
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "target" / "parse-side-by-side"
REPEATS = 3
# 200k cases is a ~50 MB report (the size the issue measured); 1M cases, ~250 MB, shows that
# memory does not grow with the file.
SIZES = [200_000, 1_000_000]

CODECOV = """
import sys, test_results_parser
info = test_results_parser.parse_junit_xml(open(sys.argv[1], "rb").read())
print(len(info.testruns))
"""


def measure(cmd):
    """Best wall time (s) and the peak RSS (MiB) of that run."""
    best = None
    for _ in range(REPEATS):
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        err = proc.stderr.read().decode()
        if os.waitstatus_to_exitcode(status) != 0:
            sys.exit(f"{cmd[0]} failed: {err}")
        rss = usage.ru_maxrss / 1024
        if best is None or wall < best[0]:
            best = (wall, rss)
    return best


def main():
    verdict, python = sys.argv[1], sys.argv[2]
    OUT.mkdir(parents=True, exist_ok=True)
    rows = []
    for cases in SIZES:
        report = OUT / f"junit_{cases}.xml"
        if not report.exists():
            subprocess.run(
                ["cargo", "run", "-q", "--release", "-p", "verdict-formats",
                 "--example", "generate_junit", "--", str(cases), str(report)],
                check=True, cwd=ROOT,
            )
        mb = report.stat().st_size / 1e6
        v_wall, v_rss = measure([verdict, "parse", "--summary", str(report)])
        c_wall, c_rss = measure([python, "-c", CODECOV, str(report)])
        rows.append((cases, mb, v_wall, v_rss, c_wall, c_rss))
    lines = [
        "| cases | MB | verdict parse --summary: s (MB/s), peak RSS | codecov test-results-parser: s (MB/s), peak RSS | speed ratio |",
        "|---:|---:|---|---|---:|",
    ]
    for cases, mb, v_wall, v_rss, c_wall, c_rss in rows:
        lines.append(
            f"| {cases:,} | {mb:.0f} | {v_wall:.2f} ({mb / v_wall:.0f}), {v_rss:.0f} MiB "
            f"| {c_wall:.2f} ({mb / c_wall:.0f}), {c_rss:.0f} MiB | {c_wall / v_wall:.2f}× |"
        )
    table = "\n".join(lines) + "\n"
    (ROOT / "target" / "side-by-side.md").write_text(table)
    print(table)


if __name__ == "__main__":
    main()
