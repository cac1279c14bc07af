//! What `verdict upload --wait` says of a run, as terminal text and as a Markdown job summary:
//! pure functions of the API's documents (the run, its comparison with its base, its failed and
//! flaky tests).

use serde_json::Value;
use std::fmt::Write;

/// Everything the report is made from, as the API answered it.
pub(crate) struct RunReport<'a> {
    /// The run's key.
    pub(crate) run_key: &'a str,
    /// `GET /v1/runs/{run}`.
    pub(crate) run: &'a Value,
    /// `GET /v1/runs/{run}/compare` (`base` null: nothing to compare with).
    pub(crate) compare: &'a Value,
    /// The run's failed and errored tests (`GET /v1/runs/{run}/tests?status=failed,error`).
    pub(crate) failed: &'a [Value],
    /// The run's flaky tests.
    pub(crate) flaky: &'a [Value],
    /// Where the dashboard is (links to the run and to each test).
    pub(crate) dashboard: &'a str,
}

fn text(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

fn first_line(v: &Value) -> &str {
    text(v).lines().next().unwrap_or("")
}

fn count(v: &Value) -> u64 {
    v.as_u64().unwrap_or(0)
}

/// A test as people name it: its class and name.
fn test_name(test: &Value) -> String {
    match text(&test["classname"]) {
        "" => text(&test["name"]).to_string(),
        class => format!("{class} {}", text(&test["name"])),
    }
}

impl RunReport<'_> {
    fn has_base(&self) -> bool {
        !self.compare["base"].is_null()
    }

    /// The tests of one change of the comparison, and how many there are in all.
    fn change(&self, name: &str) -> (&[Value], u64) {
        let listed = self.compare[name].as_array().map_or(&[][..], Vec::as_slice);
        (listed, count(&self.compare["counts"][name]))
    }

    /// New failures: against the base, or every failure when there is none.
    pub(crate) fn new_failures(&self) -> u64 {
        if self.has_base() {
            self.change("new_failures").1
        } else {
            let s = &self.run["summary"];
            count(&s["failed"]) + count(&s["errors"])
        }
    }

    fn summary_line(&self) -> String {
        let s = &self.run["summary"];
        format!(
            "run {}: {} tests, {} passed, {} failed, {} errors, {} skipped, {} flaky",
            self.run_key,
            count(&s["tests"]),
            count(&s["passed"]),
            count(&s["failed"]),
            count(&s["errors"]),
            count(&s["skipped"]),
            count(&s["flaky"])
        )
    }

    fn base_line(&self) -> String {
        let base = &self.compare["base"];
        let c = &self.compare["counts"];
        format!(
            "compared with run {} ({}): {} new failures, {} still failing, {} fixed, {} newly flaky",
            text(&base["run_id"]),
            reason(text(&base["reason"]), &base["branch"]),
            count(&c["new_failures"]),
            count(&c["still_failing"]),
            count(&c["fixed"]),
            count(&c["newly_flaky"])
        )
    }

    /// The terminal report: the changes against the base (or the failures), then the summary.
    pub(crate) fn to_text(&self) -> String {
        let mut out = String::new();
        if self.has_base() {
            let lines = [
                ("new_failures", "NEW FAILURE"),
                ("still_failing", "STILL FAILING"),
                ("fixed", "FIXED"),
            ];
            for (change, label) in lines {
                let (tests, total) = self.change(change);
                for test in tests {
                    let since = match &test["failing_since"] {
                        Value::Null => String::new(),
                        s => format!(" (since run {}, {})", text(&s["run_id"]), runs(s)),
                    };
                    let message = first_line(&test["message"]);
                    let message = if message.is_empty() || change == "fixed" {
                        String::new()
                    } else {
                        format!(": {message}")
                    };
                    let _ = writeln!(out, "{label} {}{since}{message}", test_name(test));
                }
                more(&mut out, tests.len(), total, label);
            }
        } else {
            for test in self.failed {
                let _ = writeln!(
                    out,
                    "FAILED {}: {}",
                    test_name(test),
                    first_line(&test["message"])
                );
            }
        }
        let _ = writeln!(out, "{}", self.summary_line());
        if self.has_base() {
            let _ = writeln!(out, "{}", self.base_line());
        }
        out
    }

    fn run_link(&self, run_key: &str) -> String {
        format!("{}/runs/{}", self.dashboard, run_key)
    }

    fn test_link(&self, test: &Value) -> String {
        format!(
            "[{}]({}/tests/{})",
            cell(&test_name(test)),
            self.dashboard,
            text(&test["test_id"])
        )
    }

    /// The Markdown job summary (GitHub's step summary, a Buildkite annotation, a file).
    pub(crate) fn to_markdown(&self) -> String {
        let s = &self.run["summary"];
        let status = text(&self.run["run"]["status"]);
        let mut md = format!(
            "## Verdict: run [{}]({}) {}\n\n",
            cell(self.run_key),
            self.run_link(self.run_key),
            status
        );
        md.push_str("| Tests | Passed | Failed | Errors | Skipped | Flaky | Pass rate |\n");
        md.push_str("|---:|---:|---:|---:|---:|---:|---:|\n");
        let rate = self.run["run"]["pass_rate"]
            .as_f64()
            .map_or_else(|| "–".to_string(), |r| format!("{:.1}%", r * 100.0));
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {rate} |\n",
            count(&s["tests"]),
            count(&s["passed"]),
            count(&s["failed"]),
            count(&s["errors"]),
            count(&s["skipped"]),
            count(&s["flaky"])
        );
        if self.has_base() {
            let base = &self.compare["base"];
            let c = &self.compare["counts"];
            let _ = writeln!(
                md,
                "Compared with run [{}]({}) ({}): **{} new failures**, {} still failing, {} fixed, {} newly flaky.\n",
                cell(text(&base["run_id"])),
                self.run_link(text(&base["run_id"])),
                reason(text(&base["reason"]), &base["branch"]),
                count(&c["new_failures"]),
                count(&c["still_failing"]),
                count(&c["fixed"]),
                count(&c["newly_flaky"]),
            );
            self.table(&mut md, "New failures", "new_failures");
            self.table(&mut md, "Still failing", "still_failing");
            self.table(&mut md, "Fixed", "fixed");
        } else if !self.failed.is_empty() {
            md.push_str("No earlier run to compare with.\n\n");
            self.rows(&mut md, "Failures", self.failed, self.new_failures(), false);
        }
        if !self.flaky.is_empty() {
            let total = count(&s["flaky"]);
            self.rows(&mut md, "Flaky", self.flaky, total, false);
        }
        md
    }

    fn table(&self, md: &mut String, title: &str, change: &str) {
        let (tests, total) = self.change(change);
        self.rows(md, title, tests, total, change == "still_failing");
    }

    fn rows(&self, md: &mut String, title: &str, tests: &[Value], total: u64, since: bool) {
        if tests.is_empty() {
            return;
        }
        let _ = writeln!(md, "### {title} ({total})\n");
        if since {
            md.push_str("| Test | Failing since | Message |\n|---|---|---|\n");
        } else {
            md.push_str("| Test | Message |\n|---|---|\n");
        }
        for test in tests {
            let message = cell(first_line(&test["message"]));
            if since {
                let s = &test["failing_since"];
                let since = match s {
                    Value::Null => "–".to_string(),
                    _ => format!(
                        "[{}]({}) ({})",
                        cell(text(&s["run_id"])),
                        self.run_link(text(&s["run_id"])),
                        runs(s)
                    ),
                };
                let _ = writeln!(md, "| {} | {since} | {message} |", self.test_link(test));
            } else {
                let _ = writeln!(md, "| {} | {message} |", self.test_link(test));
            }
        }
        let shown = tests.len() as u64;
        if total > shown {
            let _ = writeln!(
                md,
                "\n… and {} more in [the run]({}).",
                total - shown,
                self.run_link(self.run_key)
            );
        }
        md.push('\n');
    }
}

/// "2 runs", or "200+ runs" when the history read ended while still failing.
fn runs(since: &Value) -> String {
    let n = count(&since["runs"]);
    let plus = if since["complete"] == false { "+" } else { "" };
    let unit = if n == 1 && plus.is_empty() {
        "run"
    } else {
        "runs"
    };
    format!("{n}{plus} {unit}")
}

fn reason(reason: &str, branch: &Value) -> String {
    let branch = text(branch);
    match reason {
        "previous_on_branch" => format!("the previous run on {branch}"),
        "base_branch" => format!("the newest run of the base branch {branch}"),
        "given" => "as asked".to_string(),
        _ => "the previous run".to_string(),
    }
}

fn more(out: &mut String, shown: usize, total: u64, label: &str) {
    if total > shown as u64 {
        let _ = writeln!(out, "{label}: … and {} more", total - shown as u64);
    }
}

/// Text safe in a Markdown table cell: pipes escaped, no line breaks, no HTML.
fn cell(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace('<', "&lt;")
        .replace(['\n', '\r'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn cells_never_break_a_table() {
        assert_eq!(cell("a|b\nc<d>"), "a\\|b c&lt;d>");
    }

    #[test]
    fn without_a_base_every_failure_is_new() {
        let run =
            json!({"run": {"status": "failed"}, "summary": {"tests": 3, "failed": 1, "errors": 1}});
        let compare = json!({"base": null, "counts": null});
        let failed =
            [json!({"classname": "c", "name": "t", "message": "boom\nat x", "test_id": "ab"})];
        let report = RunReport {
            run_key: "r1",
            run: &run,
            compare: &compare,
            failed: &failed,
            flaky: &[],
            dashboard: "https://v.example",
        };
        assert_eq!(report.new_failures(), 2);
        assert!(report.to_text().starts_with("FAILED c t: boom\n"));
        let md = report.to_markdown();
        assert!(
            md.contains("| [c t](https://v.example/tests/ab) | boom |"),
            "{md}"
        );
    }
}
