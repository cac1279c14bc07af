#!/usr/bin/env python3
"""Writes docs/benchmarks.md from the numbers of one run: criterion's estimates of the JUnit
benchmark (run `make bench` first) and the peak RSS of streaming a ~500 MB generated report.

Every figure is a ratio against a baseline measured in the same run (the bare quick-xml 0.37
event loop over the same bytes)."""
import json, os, re, subprocess, sys, datetime

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
crit = os.path.join(root, "target", "criterion")

def estimate(group, name):
    d = os.path.join(crit, group, name)
    sub = [x for x in os.listdir(d) if x.isdigit()][0]
    with open(os.path.join(d, sub, "new", "estimates.json")) as f:
        mean_ns = json.load(f)["mean"]["point_estimate"]
    with open(os.path.join(d, sub, "new", "benchmark.json")) as f:
        throughput = json.load(f)["throughput"]["Bytes"]
    return throughput / (mean_ns / 1e9) / 1e6  # MB/s

rows = []
ceilings = []
for group in ("junit_10k", "junit_100k"):
    base = estimate(group, "bare_quick_xml_0_37")
    for name, what in (("bare_quick_xml_0_37", "bare quick-xml 0.37 event loop (baseline)"),
                       ("bare_quick_xml_0_42", "bare quick-xml 0.42 event loop"),
                       ("stream_results", "Verdict streaming: every case to a TestResult (id, params, caps, fingerprint)"),
                       ("full_parse", "Verdict full parse: detection, results, attempts merged, summary"),
                       ("part_cases", "part alone: the parser to test cases (no ids, no fingerprints)"),
                       ("part_test_ids", "part alone: a SHA-256 test id per case"),
                       ("part_fingerprints", "part alone: a fingerprint per failed attempt")):
        mbs = estimate(group, name)
        rows.append(f"| {group} | {what} | {mbs:,.0f} | {mbs / base:.2f} |")
    # Were the parser as fast as the bare loop itself, the ids and fingerprints alone would
    # still cost their time: the best ratio the full parse could reach with them as they are.
    ceiling = 1 / (1 + base / estimate(group, "part_test_ids") + base / estimate(group, "part_fingerprints"))
    ceilings.append(f"{group}: {ceiling:.2f}")

binary = os.path.join(root, "target", "release", "examples", "stream")
subprocess.run(["cargo", "build", "--release", "-q", "-p", "verdict-formats", "--example", "stream"], check=True, cwd=root)
out = subprocess.run(["/usr/bin/time", "-v", binary, "2000000"], capture_output=True, text=True, check=True)
stream = json.loads(out.stdout)
rss_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", out.stderr).group(1))
small = subprocess.run(["/usr/bin/time", "-v", binary, "20000"], capture_output=True, text=True, check=True)
small_rss_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", small.stderr).group(1))
small_bytes = json.loads(small.stdout)["bytes"]

table = "\n".join(rows)
section = f"""## Parsing (issue 2)

Measured {datetime.date.today().isoformat()} on this project's machine (2 cores), one run of
`make bench` then `python3 scripts/bench_report.py`. Inputs are generated JUnit reports
(`shared/formats/tests/support/generate.rs`): ~10% failures with multi-line messages and stack
traces, captured output on a quarter of the cases, parametrized names, pytest-style reruns and
Surefire `<flakyFailure>`s (10k cases ≈ 2.5 MB, 100k ≈ 25 MB).

| input | what | MB/s | ratio to bare quick-xml 0.37 |
|---|---|---:|---:|
{table}

**quick-xml version.** 0.37's bare loop is faster than 0.42's on the same bytes in the same run
(see the table), so Verdict stays on 0.37.

**Target not met: full parse ≥ 50% of the bare loop.** The streaming parse runs at the ratio
shown above, well under 0.5. The "part alone" rows split it, each measured over the same file:
the parser to test cases (the XML walker, one small element tree per `<testcase>`, attribute and
text unescaping, UTF-8 checks, positions), the SHA-256 test ids, and the failure fingerprints
(normalising regex and SHA-256 over type, message and the top 8 stack lines). Even if the
parser cost no more than the bare loop itself, the ids and fingerprints as they are would hold
the full parse to at most {", ".join(ceilings)} of the baseline. (The parts read test cases
parsed beforehand and held in memory: for 100k cases their strings are no longer in the CPU's
caches, which is why the 100k id row is slower than the 10k one; the 10k bound is the fair one.)
The rest of the gap is the parser (tree building and copies) and building the results (their
strings and capped text). A specialised scanner borrowing from the read buffer, ids hashed
without intermediate strings and a normalising pass without the regex would narrow it, but by
these figures 0.5 also needs the fingerprint, which alone takes more than twice the bare loop's
time on this input, to be computed outside the parse (lazily, when a failure is stored); that
changes what "full parse" includes, so it is left open (issue note).

**Memory independent of file size (target met).** Streaming a generated report of
{stream['bytes'] / 1e6:,.0f} MB ({stream['results']:,} results, {stream['mb_per_s']:.0f} MB/s through
a generator) peaks at **{rss_kb / 1024:.1f} MB RSS**; a {small_bytes / 1e6:,.1f} MB report peaks at
{small_rss_kb / 1024:.1f} MB (target: 500 MB under 64 MB). The property test
`shared/formats/tests/props.rs` asserts it with a counting allocator (peak for 200k cases under
16 MiB and under twice the peak for 20k). `verdict parse` itself keeps every result to print
them, so its memory grows with the number of tests, not with the bytes of output.
"""

path = os.path.join(root, "docs", "benchmarks.md")
text = open(path).read() if os.path.exists(path) else "# Benchmarks\n\nEvery figure here was measured; each section says how to measure it again.\n\n"
start = text.find("## Parsing (issue 2)")
if start >= 0:
    end = text.find("\n## ", start + 1)
    text = text[:start] + section + (text[end + 1:] if end >= 0 else "")
else:
    text = text.rstrip("\n") + "\n\n" + section
open(path, "w").write(text)
print(f"wrote {path}")
