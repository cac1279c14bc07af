//! `format=html` of a run's export: one self-contained page to keep as a CI artifact. Inline
//! CSS and SVG, no script, no request to anywhere: it reads the same opened from a disk years
//! later. Pure: the run, its results and its comparison in, the page out.

use crate::export::xml_escape as esc;
use std::collections::HashMap;
use std::fmt::Write;
use verdict_http::rfc3339;
use verdict_model::{Status, Summary};
use verdict_store::{Comparison, Run, TestRow};

/// The run's base and what changed against it.
pub(crate) struct Changes<'a> {
    pub(crate) base: &'a Run,
    pub(crate) comparison: &'a Comparison,
}

const STYLE: &str = "
:root{color-scheme:light dark;--bg:#fff;--fg:#1b1f24;--muted:#57606a;--line:#d0d7de;--panel:#f6f8fa;--ok:#1a7f37;--bad:#cf222e;--flaky:#8250df;--skip:#8c959f}
@media (prefers-color-scheme:dark){:root{--bg:#0d1117;--fg:#e6edf3;--muted:#9da7b3;--line:#30363d;--panel:#161b22;--ok:#3fb950;--bad:#ff7b72;--flaky:#bc8cff;--skip:#6e7681}}
body{font-family:system-ui,sans-serif;background:var(--bg);color:var(--fg);margin:0 auto;max-width:1100px;padding:1rem;line-height:1.45}
h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:1.6rem}
.muted{color:var(--muted)}code,pre{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.85em}
pre{background:var(--panel);border:1px solid var(--line);border-radius:6px;padding:.5rem;white-space:pre-wrap;overflow-wrap:anywhere}
dl.counts{display:grid;grid-template-columns:repeat(auto-fit,minmax(7rem,1fr));gap:.5rem}
dl.counts div{border:1px solid var(--line);border-radius:8px;padding:.3rem .6rem}dl.counts dt{font-size:.8em;color:var(--muted)}dl.counts dd{margin:0;font-size:1.5rem;font-weight:700}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.3rem .5rem;border-bottom:1px solid var(--line);vertical-align:top}
thead th{background:var(--panel);font-size:.85em}.num{text-align:right;white-space:nowrap}
.s-passed{color:var(--ok)}.s-failed,.s-error{color:var(--bad)}.s-flaky,.s-xpassed{color:var(--flaky)}.s-skipped,.s-xfailed{color:var(--skip)}
svg text{fill:currentColor;font-size:12px}
";

/// The page.
pub(crate) fn html_report(run: &Run, rows: &[TestRow], changes: Option<&Changes<'_>>) -> String {
    let key = esc(run.run.run_key.as_str());
    let s = &run.summary;
    let mut out = String::with_capacity(4096 + rows.len() * 200);
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>Run {key}: {}</title><style>{STYLE}</style></head><body>\n\
         <h1>Run <code>{key}</code>: <span class=\"s-{status}\">{status}</span></h1>\n",
        run.status().as_str(),
        status = run.status().as_str(),
    );
    let m = &run.metadata;
    let facts: Vec<String> = [
        Some(format!("started {}", rfc3339(run.created_ms))),
        m.branch.as_ref().map(|b| format!("branch {}", esc(b))),
        m.commit_sha
            .as_ref()
            .map(|c| format!("commit <code>{}</code>", esc(c))),
        m.build_url
            .as_ref()
            .map(|u| format!("<a href=\"{}\">CI build</a>", esc(u))),
    ]
    .into_iter()
    .flatten()
    .collect();
    let _ = writeln!(out, "<p class=\"muted\">{}</p>", facts.join(" · "));
    counts(&mut out, s, run.summary.pass_rate());
    outcome_bar(&mut out, s);
    let by_id: HashMap<&str, &TestRow> = rows.iter().map(|r| (r.test_id.as_str(), r)).collect();
    if let Some(changes) = changes {
        changed(&mut out, changes, &by_id);
    }
    failures(&mut out, rows);
    slowest(&mut out, rows);
    table(&mut out, rows);
    out.push_str("<p class=\"muted\">Written by Verdict.</p>\n</body></html>\n");
    out
}

fn counts(out: &mut String, s: &Summary, pass_rate: Option<f64>) {
    out.push_str("<dl class=\"counts\">");
    let rate = pass_rate.map_or("—".to_string(), |r| format!("{:.1} %", r * 100.0));
    for (label, value) in [
        ("Tests", s.tests.to_string()),
        ("Passed", s.passed.to_string()),
        ("Failed", s.failed.to_string()),
        ("Errors", s.errors.to_string()),
        ("Skipped", s.skipped.to_string()),
        ("Flaky", s.flaky.to_string()),
        ("Pass rate", rate),
        (
            "Test time",
            format!("{:.1} s", s.duration_ms as f64 / 1000.0),
        ),
    ] {
        let _ = write!(out, "<div><dt>{label}</dt><dd>{value}</dd></div>");
    }
    out.push_str("</dl>\n");
}

/// The outcomes as one stacked bar, labelled in words for those who do not see it.
fn outcome_bar(out: &mut String, s: &Summary) {
    let parts = [
        ("passed", s.passed - s.flaky.min(s.passed), "var(--ok)"),
        ("flaky", s.flaky, "var(--flaky)"),
        ("failed", s.failed + s.errors, "var(--bad)"),
        ("skipped", s.skipped + s.xfailed, "var(--skip)"),
    ];
    let total: u64 = parts.iter().map(|p| p.1).sum();
    if total == 0 {
        return;
    }
    let label: Vec<String> = parts
        .iter()
        .filter(|p| p.1 > 0)
        .map(|p| format!("{} {}", p.1, p.0))
        .collect();
    let _ = write!(
        out,
        "<svg role=\"img\" aria-label=\"{}\" viewBox=\"0 0 1000 24\" width=\"100%\" height=\"24\" preserveAspectRatio=\"none\">",
        label.join(", ")
    );
    let mut x = 0.0;
    for (name, n, colour) in parts {
        if n == 0 {
            continue;
        }
        let w = n as f64 * 1000.0 / total as f64;
        let _ = write!(
            out,
            "<rect x=\"{x:.2}\" y=\"0\" width=\"{w:.2}\" height=\"24\" style=\"fill:{colour}\"><title>{n} {name}</title></rect>"
        );
        x += w;
    }
    out.push_str("</svg>\n");
}

fn changed(out: &mut String, changes: &Changes<'_>, by_id: &HashMap<&str, &TestRow>) {
    let c = changes.comparison;
    let _ = writeln!(
        out,
        "<h2>Against run <code>{}</code></h2>\n<p class=\"muted\">{} new failures, {} still failing, {} fixed, {} newly flaky, {} new tests, {} removed.</p>",
        esc(changes.base.run.run_key.as_str()),
        c.new_failures.len(),
        c.still_failing.len(),
        c.fixed.len(),
        c.newly_flaky.len(),
        c.new_tests.len(),
        c.removed_tests.len(),
    );
    for (title, ids) in [
        ("New failures", &c.new_failures),
        ("Still failing", &c.still_failing),
        ("Fixed", &c.fixed),
    ] {
        if ids.is_empty() {
            continue;
        }
        let _ = write!(out, "<h3>{title} ({})</h3><ul>", ids.len());
        for id in ids.iter().take(100) {
            if let Some(r) = by_id.get(id.as_str()) {
                let _ = write!(
                    out,
                    "<li>{} <span class=\"muted\">{}</span></li>",
                    esc(&r.name),
                    esc(&r.classname)
                );
            }
        }
        if ids.len() > 100 {
            let _ = write!(out, "<li class=\"muted\">and {} more</li>", ids.len() - 100);
        }
        out.push_str("</ul>\n");
    }
}

fn is_failing(r: &TestRow) -> bool {
    matches!(r.status, Status::Failed | Status::Error | Status::Xpassed)
}

fn failures(out: &mut String, rows: &[TestRow]) {
    let failing: Vec<&TestRow> = rows.iter().filter(|r| is_failing(r)).collect();
    if failing.is_empty() {
        return;
    }
    let _ = writeln!(out, "<h2>Failures ({})</h2>", failing.len());
    for r in failing {
        let _ = writeln!(
            out,
            "<h3><span class=\"s-{status}\">{status}</span> {} <span class=\"muted\">{}</span></h3><pre>{}</pre>",
            esc(&r.name),
            esc(&r.classname),
            esc(r.message.as_deref().unwrap_or("(no message)")),
            status = r.status.as_str(),
        );
    }
}

/// The ten slowest tests as horizontal bars.
fn slowest(out: &mut String, rows: &[TestRow]) {
    let mut slow: Vec<&TestRow> = rows.iter().filter(|r| r.duration_ms > 0).collect();
    slow.sort_by(|a, b| b.duration_ms.cmp(&a.duration_ms).then(a.name.cmp(&b.name)));
    slow.truncate(10);
    let Some(longest) = slow.first().map(|r| r.duration_ms) else {
        return;
    };
    let height = slow.len() * 22;
    let _ = write!(
        out,
        "<h2>Slowest tests</h2>\n<svg role=\"img\" aria-label=\"The {} slowest tests\" viewBox=\"0 0 1000 {height}\" width=\"100%\">",
        slow.len()
    );
    for (i, r) in slow.iter().enumerate() {
        let y = i * 22;
        let w = (r.duration_ms as f64 / longest as f64 * 600.0).max(1.0);
        let _ = write!(
            out,
            "<rect x=\"0\" y=\"{}\" width=\"{w:.1}\" height=\"16\" style=\"fill:var(--flaky);opacity:.6\"/>\
             <text x=\"{:.1}\" y=\"{}\">{:.2} s {}</text>",
            y + 2,
            w + 6.0,
            y + 14,
            r.duration_ms as f64 / 1000.0,
            esc(&r.name),
        );
    }
    out.push_str("</svg>\n");
}

fn table(out: &mut String, rows: &[TestRow]) {
    let _ = writeln!(
        out,
        "<h2>All tests ({})</h2>\n<table><thead><tr><th>Status</th><th>Test</th><th>Class</th><th class=\"num\">Duration</th><th>Message</th></tr></thead><tbody>",
        rows.len()
    );
    for r in rows {
        let shown = if r.flaky { "flaky" } else { r.status.as_str() };
        let message = r
            .message
            .as_deref()
            .and_then(|m| m.lines().next())
            .unwrap_or("");
        let _ = writeln!(
            out,
            "<tr><td class=\"s-{shown}\">{shown}</td><td>{}</td><td>{}</td><td class=\"num\">{} ms</td><td>{}</td></tr>",
            esc(&r.name),
            esc(&r.classname),
            r.duration_ms,
            esc(message),
        );
    }
    out.push_str("</tbody></table>\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use verdict_store::settled_run;

    fn row(name: &str, status: Status, ms: u64, message: Option<&str>) -> TestRow {
        TestRow {
            test_id: format!("id-{name}"),
            classname: "c".into(),
            duration_ms: ms,
            message: message.map(str::to_string),
            ..TestRow::bare(name, "r", status, 0)
        }
    }

    fn run(key: &str, summary: Summary) -> Run {
        let mut run = settled_run(key, 0, summary);
        run.metadata.branch = Some("main".into());
        run
    }

    #[test]
    fn the_page_holds_counts_changes_failures_and_every_test_escaped_and_self_contained() {
        let rows = vec![
            row("ok", Status::Passed, 1200, None),
            row(
                "<script>",
                Status::Failed,
                5,
                Some("expected <1> & got \"2\"\n  at x"),
            ),
        ];
        let summary = Summary {
            tests: 2,
            passed: 1,
            failed: 1,
            duration_ms: 1205,
            ..Summary::default()
        };
        let here = run("r2", summary);
        let base = run("r1", Summary::default());
        let comparison = Comparison {
            new_failures: vec!["id-<script>".into()],
            ..Comparison::default()
        };
        let page = html_report(
            &here,
            &rows,
            Some(&Changes {
                base: &base,
                comparison: &comparison,
            }),
        );
        assert!(page.starts_with("<!doctype html>"));
        assert!(page.contains("<dt>Failed</dt><dd>1</dd>"));
        assert!(page.contains("<dt>Pass rate</dt><dd>50.0 %</dd>"));
        assert!(page.contains("Against run <code>r1</code>"));
        assert!(page.contains("<h3>New failures (1)</h3><ul><li>&lt;script&gt;"));
        assert!(page.contains("expected &lt;1&gt; &amp; got &quot;2&quot;"));
        assert!(page.contains("aria-label=\"1 passed, 1 failed\""));
        assert!(page.contains("<h2>All tests (2)</h2>"));
        // Nothing to run and nothing to fetch.
        assert!(!page.contains("<script"));
        assert!(!page.contains("src="));
        assert!(!page.contains("http"));
    }
}
