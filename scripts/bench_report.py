#!/usr/bin/env python3
"""Writes docs/benchmarks.md from the numbers of one run: criterion's estimates of the JUnit
benchmark (run `make bench` first) and the peak RSS of streaming a ~500 MB generated report.

Every figure is a ratio against a baseline measured in the same run (the bare quick-xml 0.37
event loop over the same bytes)."""
import json, os, re, subprocess, sys, datetime, textwrap

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
units_by_group = {}
for group in ("junit_10k", "junit_100k"):
    base = estimate(group, "bare_quick_xml_0_37")
    for name, what in (("bare_quick_xml_0_37", "bare quick-xml 0.37 event loop (baseline)"),
                       ("bare_quick_xml_0_42", "bare quick-xml 0.42 event loop"),
                       ("stream_results", "Verdict streaming: every case to a TestResult (id, params, caps, fingerprint)"),
                       ("full_parse", "Verdict full parse: detection, results, attempts merged, summary"),
                       ("part_cases", "part alone: the parser to test cases (no ids, no fingerprints)"),
                       ("part_test_ids", "part alone: a SHA-256 test id per case"),
                       ("part_fingerprints", "part alone: a fingerprint per failed attempt"),
                       ("floor_digests", "floor: bare loop + SHA-256 of every id and fingerprint input, nothing else"),
                       ("floor_owned_results", "floor: as above + the owned strings of every result")):
        mbs = estimate(group, name)
        rows.append(f"| {group} | {what} | {mbs:,.0f} | {mbs / base:.2f} |")
    # Times in units of the bare loop's time over the same file.
    units = {name: base / estimate(group, name) for name in
             ("part_test_ids", "part_fingerprints", "floor_digests", "floor_owned_results")}
    units_by_group[group] = units

# The budget argument, on 10k cases (their parts stay in the CPU's caches, see below).
units = units_by_group["junit_10k"]
owned = units["floor_owned_results"] - units["floor_digests"]
fingerprints = units["part_fingerprints"]
test_ids = units["part_test_ids"]
besides_reading = fingerprints + owned
digests = units["floor_digests"] - 1
floor_ratio = 1 / units["floor_owned_results"]
budget_verdict = (
    f"The second floor, which parses nothing, runs at {floor_ratio:.2f} of the bare loop"
    + (", under the target: " if floor_ratio < 0.5 else ": ")
    + "with quick-xml reading the bytes, the bare loop, the digests and the results' strings "
    + f"take {units['floor_owned_results']:.2f} of the 2.00 units, before any of the parsing (tags, "
    + "attributes, unescaping, UTF-8 checks, attempts) or the fingerprints' normalising pass. "
    + f"Without any reader at all, the fingerprints as implemented and the owned strings "
    + f"still take {besides_reading:.2f} of the 2.00. So 0.5 would need a reader several times faster than "
    + "quick-xml's own bare loop that also leaves room for that normalising pass; what this "
    + "issue's full parse includes (ids, fingerprints, attempts into owned results) does not fit "
    + "in the budget here."
)
budget_verdict = textwrap.fill(budget_verdict, 96, break_on_hyphens=False)

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

**Target not met, and not reachable by this definition on this machine: full parse ≥ 50% of
the bare loop (issue 2 is blocked on it).** The streaming parse runs at the ratio shown above.
The "part alone" rows split it, each measured over the same file: the parser to test cases (the
XML walker, one small element tree per `<testcase>`, attribute and text unescaping, UTF-8
checks, positions), the SHA-256 test ids, and the failure fingerprints (a one-pass normaliser
and SHA-256 over type, message and the top 8 stack lines). The two "floor" rows do no parsing at
all: they run the bare loop, then only what any parser that produces these results must also
do: a SHA-256 digest of every test's identity and of every failed attempt's fingerprint input
(on a CPU with SHA instructions), then the owned strings each result holds.

In units of the bare loop's time over the same 10k-case file, a full parse at 0.5 has a budget
of 2.00, and:

| work | units of the bare loop's time |
|---|---:|
| the SHA-256 digests alone (floor rows) | {digests:.2f} |
| the owned strings of the results (floor rows) | {owned:.2f} |
| the fingerprints as implemented (normalising pass and digest) | {fingerprints:.2f} |
| the test ids as implemented (digest, hex, string) | {test_ids:.2f} |

{budget_verdict}
Reaching 0.5 needs a decision on what the full parse includes: fingerprints computed outside
the parse (when a failed result is stored), or the target restated against these floors
(see the issue note). For scale, the streaming parse is hundreds of times faster than ingestion
into DynamoDB (see Ingest below), so parsing does not limit Verdict.
(At 100k cases the parts read test cases held in memory that no longer fit the CPU's caches,
which is why those rows are slower than at 10k; the 10k figures are the fair ones.)

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
