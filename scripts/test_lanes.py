#!/usr/bin/env python3
"""Runs every test of the workspace in two lanes, each with its own local stack.

`cargo test --workspace` runs one test binary after another against one DynamoDB Local, which
serves about one core's worth of requests: on a 2-core machine the suite used under one core on
average and took 23 minutes of tests. Here the test binaries are built once, then two lanes
(each `scripts/stack.sh run`, so each its own DynamoDB Local and SeaweedFS) take them from one
queue, longest first, and run them as cargo would (from their package's directory); the doc
tests are one more job. Each binary's output is kept and printed if it fails; at the end, a
line per job with its time.

    scripts/test_lanes.py [LANES]     (what `make unit` runs; LANES defaults to 2)
    scripts/test_lanes.py --lane DIR  (one lane: takes jobs from DIR until none is left)
"""

import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# The binaries that take minutes, longest first, so the two lanes end close together.
LONGEST_FIRST = [
    "query", "rollups", "ingest", "triage", "faults", "failure_rollups", "dashboard", "limits",
]


def test_binaries():
    """Builds every test target of the workspace; answers (name, executable, package dir)."""
    out = subprocess.run(
        ["cargo", "test", "--workspace", "--no-run", "--message-format=json-render-diagnostics"],
        cwd=ROOT, stdout=subprocess.PIPE, check=True, text=True,
    ).stdout
    found = []
    for line in out.splitlines():
        msg = json.loads(line)
        if msg.get("reason") != "compiler-artifact" or not msg.get("executable"):
            continue
        if not msg["profile"]["test"]:
            continue
        name = msg["target"]["name"]
        package_dir = os.path.dirname(msg["manifest_path"])
        found.append({
            "name": f"{os.path.relpath(package_dir, ROOT)}: {name}",
            "target": name,
            "argv": [msg["executable"]],
            "cwd": package_dir,
        })
    return found


def rank(job):
    target = job.get("target")
    return LONGEST_FIRST.index(target) if target in LONGEST_FIRST else len(LONGEST_FIRST)


def lane(queue):
    """Runs jobs of `queue` until every one is taken."""
    with open(os.path.join(queue, "jobs.json")) as f:
        jobs = json.load(f)
    for i, job in enumerate(jobs):
        try:
            os.mkdir(os.path.join(queue, f"taken-{i}"))
        except FileExistsError:
            continue
        started = time.monotonic()
        with open(os.path.join(queue, f"{i}.log"), "w") as log:
            rc = subprocess.run(job["argv"], cwd=job["cwd"], stdout=log, stderr=subprocess.STDOUT).returncode
        with open(os.path.join(queue, f"{i}.done"), "w") as f:
            json.dump({"rc": rc, "seconds": round(time.monotonic() - started, 1)}, f)


def main(lanes):
    jobs = sorted(test_binaries(), key=rank)
    jobs.append({
        "name": "doc tests",
        "argv": ["cargo", "test", "--workspace", "--doc"],
        "cwd": ROOT,
    })
    with tempfile.TemporaryDirectory(prefix="verdict-lanes-") as queue:
        with open(os.path.join(queue, "jobs.json"), "w") as f:
            json.dump(jobs, f)
        started = time.monotonic()
        running = []
        for _ in range(lanes):
            if running:
                # Each stack picks free ports as it starts: a few seconds apart, two cannot
                # pick the same before either has bound them.
                time.sleep(5)
            running.append(subprocess.Popen(
                [os.path.join(ROOT, "scripts/stack.sh"), "run", sys.executable,
                 os.path.abspath(__file__), "--lane", queue],
                cwd=ROOT,
            ))
        lane_rcs = [p.wait() for p in running]
        failed = []
        for i, job in enumerate(jobs):
            done = os.path.join(queue, f"{i}.done")
            if not os.path.exists(done):
                failed.append(job["name"])
                print(f"{job['name']}: not run", file=sys.stderr)
                continue
            with open(done) as f:
                result = json.load(f)
            print(f"{result['seconds']:7.1f} s  {job['name']}" + ("" if result["rc"] == 0 else "  FAILED"))
            if result["rc"] != 0:
                failed.append(job["name"])
                with open(os.path.join(queue, f"{i}.log")) as f:
                    sys.stderr.write(f.read())
        print(f"{time.monotonic() - started:7.1f} s  in all, {lanes} lanes")
        if any(lane_rcs):
            print(f"a lane's stack failed: {lane_rcs}", file=sys.stderr)
        if failed or any(lane_rcs):
            print(f"failed: {', '.join(failed)}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--lane":
        lane(sys.argv[2])
    else:
        sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 2))
