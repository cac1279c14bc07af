//! The dashboard's budgets (`make bench-web`): on the local stack, a project of 1,000 runs over
//! 90 days and one run of 100,000 tests, then functions/web/ui/bench/load.mjs in Chromium: the
//! bytes of the first load (gzipped, as served), the time until the run page shows its counts
//! and first page of tests, and until the runs page shows its runs and trend charts, each next
//! to the API requests that view needs timed alone in the same run. Writes target/web-load.md.
//! Not a test: nothing here asserts a time.

use std::process::Command;
use verdict_parse_fn::ingest::Ingest;
use verdict_store::now_ms;
use verdict_tests::{run_ref, settle, upload_at, LocalApi};

const RUNS: usize = 1_000;
const BIG_RUN_TESTS: usize = 100_000;

fn small_report(i: usize) -> String {
    let mut xml = String::from("<testsuite name=\"s\">");
    for t in 0..20 {
        let body = if (i + t).is_multiple_of(23) {
            "<failure message=\"boom\"/>"
        } else {
            ""
        };
        xml.push_str(&format!(
            "<testcase classname=\"c\" name=\"t{t}\" time=\"0.{t:02}\">{body}</testcase>"
        ));
    }
    xml.push_str("</testsuite>");
    xml
}

fn big_report() -> String {
    let mut xml = String::with_capacity(BIG_RUN_TESTS * 90);
    xml.push_str("<testsuite name=\"big\">");
    for t in 0..BIG_RUN_TESTS {
        let body = if t % 500 == 0 {
            "<failure message=\"assertion failed\">at big.rs:1</failure>"
        } else {
            ""
        };
        xml.push_str(&format!(
            "<testcase classname=\"pkg.C{}\" name=\"test_{t}\" time=\"0.{:03}\">{body}</testcase>",
            t % 97,
            t % 1000
        ));
    }
    xml.push_str("</testsuite>");
    xml
}

/// Uploads `xml` as run `run` of `acme` at `at_ms` and ingests it.
async fn ingest(api: &LocalApi, ingest: &Ingest, run: &str, i: usize, xml: &str, at_ms: u64) {
    let file = upload_at(
        &api.store,
        &run_ref("acme", run),
        i,
        "r.xml",
        xml.as_bytes(),
        at_ms,
    )
    .await;
    settle(ingest, &file.object_key()).await;
}

#[tokio::main]
async fn main() {
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        return;
    }
    let api = LocalApi::start(verdict_upload_fn::Limits::default()).await;
    let ingester = Ingest::new(api.store.clone().serving("parse"), Default::default());
    let now = now_ms();
    let span = 89 * 86_400_000 / RUNS as u64;
    for i in 0..RUNS {
        let at = now - (RUNS - i) as u64 * span;
        ingest(
            &api,
            &ingester,
            &format!("run-{i:04}"),
            i,
            &small_report(i),
            at,
        )
        .await;
    }
    ingest(&api, &ingester, "big", RUNS, &big_report(), now).await;

    let ui = concat!(env!("CARGO_MANIFEST_DIR"), "/../functions/web/ui");
    let out = Command::new("node")
        .arg("bench/load.mjs")
        .current_dir(ui)
        .env("VERDICT_WEB_URL", &api.base)
        .env("VERDICT_READ_TOKEN", &api.read_token)
        .env("VERDICT_BIG_RUN", "big")
        .output()
        .expect("run node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../target/web-load.md");
    std::fs::write(path, stdout.as_bytes()).unwrap();
    print!("{stdout}");
}
