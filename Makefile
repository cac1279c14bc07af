# Verdict: the commands a developer and CI run. `make test` is what CI runs (.ci/run).
SHELL := /bin/bash
CARGO ?= cargo

# CI builds from a fresh clone once: incremental compilation's caches only cost it time there.
ifeq ($(CI),true)
export CARGO_INCREMENTAL := 0
endif

.PHONY: test fmt-check ui web-unit lint infra-check runners unit build corpus-report bench bench-side-by-side bench-api bench-web bench-ingest bench-ingest-limits bench-scale bench-windows dev

## test: formatting check, the dashboard's build and unit tests, clippy with -D warnings, and
## every test (unit, corpus, property, the reports of real test runners, the integration tests
## against DynamoDB Local and SeaweedFS, and the dashboard in Chromium, installed and started
## here).
test: fmt-check ui web-unit lint infra-check runners unit

## ui: the dashboard (functions/web/ui) built into functions/web/ui/dist, which the web function
## builds into its binary: npm packages from the lockfile, the API client typed from
## functions/query/openapi.json, the type check, Vite. Every cargo build of the workspace needs it.
ui:
	scripts/web.sh build

## web-unit: the dashboard's own logic (formatting, URL state, grouping) with vitest.
web-unit:
	scripts/web.sh unit

## runners: the real test runners whose reports the format tests read (Debian, PyPI, npm).
runners:
	scripts/runners.sh install

## infra-check: cfn-lint on the SAM template, the template checked against the code, and the
## Lambda builds checked to carry no test support (the AWS-call recorder, the table dump).
infra-check:
	scripts/stack.sh install
	.tools/venv/bin/cfn-lint infra/template.yaml
	.tools/venv/bin/python infra/check_template.py
	@if $(CARGO) tree $(LAMBDA_PACKAGES) -e normal,build,features -i verdict-store --prefix none | grep -q '"test-support"'; then \
		echo "a Lambda build enables verdict-store's test-support feature" >&2; exit 1; fi

## build: one arm64 Lambda zip per function under target/lambda/ (cargo-lambda from PyPI);
## their sizes go to docs/benchmarks.md.
LAMBDA_PACKAGES := -p verdict-parse-fn -p verdict-upload-fn -p verdict-retention-fn -p verdict-query-fn -p verdict-web-fn
build: ui
	scripts/stack.sh install-build
	PATH="$(CURDIR)/.tools/venv/bin:$$PATH" $(CARGO) lambda build --profile lambda --arm64 --output-format zip $(LAMBDA_PACKAGES)
	python3 scripts/lambda_sizes.py target/lambda > target/lambda-sizes.md
	python3 scripts/splice.py docs/benchmarks.md lambda-sizes target/lambda-sizes.md

fmt-check:
	$(CARGO) fmt --all -- --check

lint: ui
	$(CARGO) clippy --workspace --all-targets -- -D warnings

## unit: every test (scripts/test_lanes.py: the test binaries built once and run in LANES lanes,
## each with its own local stack), recording the AWS calls each function makes; then
## infra/check_iam.py checks each recorded call against that function's IAM policy in the
## template. Two lanes take about 60% of the time of one on 2 cores (963 s against ~1,530 s of
## tests); LANES=1 runs one binary after another.
AWS_CALLS := $(CURDIR)/target/aws-calls
LANES ?= 2
unit: ui
	rm -rf $(AWS_CALLS)
	scripts/stack.sh install
	VERDICT_AWS_CALLS=$(AWS_CALLS) python3 scripts/test_lanes.py $(LANES)
	.tools/venv/bin/python infra/check_iam.py $(AWS_CALLS)

## corpus-report: rewrite the per-format table of docs/formats.md from the corpus test.
corpus-report:
	VERDICT_CORPUS_REPORT=$(CURDIR)/target/corpus-table.md $(CARGO) test -p verdict-formats --test corpus -- --nocapture >/dev/null
	python3 scripts/splice.py docs/formats.md corpus-table target/corpus-table.md

## bench: parser throughput against a bare quick-xml loop (criterion); figures go to docs/benchmarks.md.
bench:
	$(CARGO) bench -p verdict-formats --bench junit

## bench-side-by-side: `verdict parse --summary` (release build) against codecov's
## test-results-parser (PyPI) end to end on the same generated files, wall time and peak RSS;
## the table goes to docs/benchmarks.md.
bench-side-by-side:
	scripts/runners.sh install
	$(CARGO) build --release -p verdict-cli
	python3 scripts/parse_side_by_side.py target/release/verdict .tools/runners/venv/bin/python
	python3 scripts/splice.py docs/benchmarks.md side-by-side target/side-by-side.md

## bench-api: 8 concurrent clients on the local query API for 30 s; p50/p99 per endpoint to docs/benchmarks.md.
bench-api:
	scripts/stack.sh run $(CARGO) bench -p verdict-tests --bench api_load
	python3 scripts/splice.py docs/benchmarks.md api-load target/api-load.md

## bench-web: the dashboard's first-load bytes and the time until a 100k-test run's page and a
## 1,000-run project's runs page are usable, in Chromium on the local stack; to docs/benchmarks.md.
bench-web: ui
	scripts/stack.sh run $(CARGO) bench -p verdict-tests --bench web_load
	python3 scripts/splice.py docs/benchmarks.md web-load target/web-load.md

## bench-ingest: ingest of a generated 100k-test file into DynamoDB Local against a raw
## BatchWriteItem loop, and the parse function's peak memory; the table goes to docs/benchmarks.md.
bench-ingest:
	scripts/stack.sh run $(CARGO) bench -p verdict-tests --bench ingest
	python3 scripts/splice.py docs/benchmarks.md ingest-bench target/ingest-bench.md

## bench-ingest-limits: the same, ingestion and the raw loop both behind the limits proxy at
## AWS's own limits per partition key (issue 16's fourth benchmark); to docs/benchmarks.md.
bench-ingest-limits:
	VERDICT_BENCH_LIMITS=aws scripts/stack.sh run $(CARGO) bench -p verdict-tests --bench ingest
	python3 scripts/splice.py docs/benchmarks.md ingest-bench-limits target/ingest-bench-limits.md

## bench-scale: ingestion under AWS's per-partition limits (the limits proxy, at 50 WCU/s per
## partition key, a twentieth of AWS's): a large file written by several invocations, a red build
## of long traces, 500 shards at once, each against the floor its limits allow; the table goes to docs/benchmarks.md,
## what a result costs and the reference team's month to docs/cost.md.
bench-scale:
	scripts/stack.sh run $(CARGO) bench -p verdict-tests --bench scale
	python3 scripts/splice.py docs/benchmarks.md scale-bench target/scale-bench.md
	python3 scripts/splice.py docs/cost.md cost-bench target/cost-bench.md

## bench-windows: the slowest tests, a test's page and a page of flaky tests over 90 days of
## 100,000 tests run 1,000 times a day (rollup objects put as those runs leave them, one test in
## 100 failing now and then), cold, warm and on the next day, against merging every object of
## the window; the table goes to docs/benchmarks.md.
bench-windows:
	scripts/stack.sh run $(CARGO) bench -p verdict-tests --bench windows
	python3 scripts/splice.py docs/benchmarks.md windows-bench target/windows-bench.md

## dev: the whole stack on 127.0.0.1 (API and dashboard on PORT, default 3000) until Ctrl-C; it
## prints the dashboard's sign-in link; tokens in .verdict/dev.env.
dev: ui
	$(CARGO) build -p verdict-local -p verdict-cli
	scripts/stack.sh run $(CARGO) run -q -p verdict-local --bin verdict-dev
