//! Load check of the query API (`make bench-api`): the local API (the Lambdas' handlers behind
//! the local server, DynamoDB Local behind them) with 60 seeded runs of 50 tests over 90 days and
//! two runs of 10,000 tests (the second compared with the first), driven by 8
//! concurrent clients for 30 s over a mix of endpoints, then for 10 s over each endpoint alone,
//! with 8 clients and with one. Writes p50/p99 latency per endpoint to
//! target/api-load.md. Not a test: nothing here asserts a time.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use verdict_store::now_ms;
use verdict_tests::{run_ref, settle, upload_at, LocalApi};

const RUNS: usize = 60;
const CLIENTS: usize = 8;
const SECONDS: u64 = 30;
const ALONE_SECONDS: u64 = 10;

fn report(i: usize) -> String {
    let mut xml = String::from("<testsuite name=\"s\">");
    for t in 0..50 {
        let body = if (i + t).is_multiple_of(17) {
            "<failure message=\"boom\"/>"
        } else {
            ""
        };
        xml.push_str(&format!(
            "<testcase classname=\"c{}\" name=\"t{t}\" time=\"0.{t:02}\">{body}</testcase>",
            t % 5
        ));
    }
    xml.push_str("</testsuite>");
    xml
}

fn big_report(fail_every: usize) -> String {
    let mut xml = String::from("<testsuite name=\"big\">");
    for t in 0..10_000 {
        let body = if t % fail_every == 0 {
            "<failure message=\"boom\"/>"
        } else {
            ""
        };
        xml.push_str(&format!(
            "<testcase classname=\"b{}\" name=\"t{t}\" time=\"0.001\">{body}</testcase>",
            t % 20
        ));
    }
    xml.push_str("</testsuite>");
    xml
}

/// `clients` clients cycling over `endpoints` for `seconds`: each request's milliseconds, sorted,
/// by endpoint.
fn drive(
    api: &LocalApi,
    clients: usize,
    endpoints: &[(&'static str, String)],
    seconds: u64,
) -> BTreeMap<&'static str, Vec<f64>> {
    let samples: Arc<Mutex<BTreeMap<&'static str, Vec<f64>>>> = Arc::default();
    let deadline = Instant::now() + Duration::from_secs(seconds);
    std::thread::scope(|scope| {
        for c in 0..clients {
            let samples = samples.clone();
            scope.spawn(move || {
                let agent = ureq::Agent::new_with_config(
                    ureq::Agent::config_builder()
                        .http_status_as_error(false)
                        .build(),
                );
                let mut i = c;
                while Instant::now() < deadline {
                    let (name, path) = &endpoints[i % endpoints.len()];
                    i += 1;
                    let start = Instant::now();
                    let mut response = agent
                        .get(&format!("{}{path}", api.base))
                        .header("Authorization", &format!("Bearer {}", api.read_token))
                        .call()
                        .expect("request");
                    let _ = response.body_mut().read_to_vec();
                    assert_eq!(response.status().as_u16(), 200, "{path}");
                    let ms = start.elapsed().as_secs_f64() * 1000.0;
                    samples.lock().unwrap().entry(*name).or_default().push(ms);
                }
            });
        }
    });
    let mut samples = samples.lock().unwrap().clone();
    for ms in samples.values_mut() {
        ms.sort_by(|a, b| a.total_cmp(b));
    }
    samples
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    sorted[((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1]
}

#[tokio::main]
async fn main() {
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        return;
    }
    let api = LocalApi::start(verdict_upload_fn::Limits::default()).await;
    let now = now_ms();
    let ingest = verdict_parse_fn::ingest::Ingest::new(
        api.store.clone().serving("parse"),
        Default::default(),
    );
    for i in 0..RUNS {
        let file = upload_at(
            &api.store,
            &run_ref("acme", &format!("run-{i:03}")),
            i,
            "r.xml",
            report(i).as_bytes(),
            // One every 35 hours: the 90-day trend has a run on most of its days.
            now - (RUNS - i) as u64 * 35 * 3_600_000,
        )
        .await;
        settle(&ingest, &file.object_key()).await;
    }
    // Two runs of 10,000 tests on the branch, the second compared with the first: 1 in 50 fails
    // in the first, 1 in 40 in the second.
    for (i, (key, every)) in [("big-base", 50), ("big", 40)].into_iter().enumerate() {
        let file = upload_at(
            &api.store,
            &run_ref("acme", key),
            RUNS + i,
            "big.xml",
            big_report(every).as_bytes(),
            now - 20_000 + i as u64 * 10_000,
        )
        .await;
        settle(&ingest, &file.object_key()).await;
    }
    let endpoints: Vec<(&'static str, String)> = vec![
        ("GET /v1/runs", "/v1/runs?limit=50".into()),
        ("GET /v1/runs/{run}", "/v1/runs/run-030".into()),
        (
            "GET /v1/runs/{run}/tests",
            "/v1/runs/run-030/tests?status=failed,error".into(),
        ),
        (
            "GET /v1/tests/{id}/history",
            format!(
                "/v1/tests/{}/history?limit=50",
                verdict_model::test_id(&verdict_model::TestIdentity {
                    suite: "s",
                    classname: "c0",
                    file: None,
                    name: "t0"
                })
            ),
        ),
        ("GET /v1/stats", "/v1/stats?window=1d".into()),
        (
            "GET /v1/runs/{run}/compare (10k tests each)",
            "/v1/runs/big/compare".into(),
        ),
        ("GET /v1/trends (90 days)", "/v1/trends?window=90d".into()),
        ("GET /v1/flaky", "/v1/flaky".into()),
        (
            "GET /v1/tests/{id}",
            format!(
                "/v1/tests/{}",
                verdict_model::test_id(&verdict_model::TestIdentity {
                    suite: "s",
                    classname: "c0",
                    file: None,
                    name: "t0"
                })
            ),
        ),
        ("GET /v1/failures", "/v1/failures?since=2000-01-01".into()),
        (
            "GET /v1/tests/slowest (90 days)",
            "/v1/tests/slowest?window=90d".into(),
        ),
    ];
    // The clients block; the local API's tasks go on on the runtime's other threads.
    let mixed = tokio::task::block_in_place(|| drive(&api, CLIENTS, &endpoints, SECONDS));
    // Each endpoint alone for a while, with as many clients and with one: what the endpoint
    // itself takes, apart from waiting behind the others, and with no other request in flight.
    let mut alone = [BTreeMap::new(), BTreeMap::new()];
    for (name, path) in &endpoints {
        let only = [(*name, path.clone())];
        for (clients, figures) in [CLIENTS, 1].into_iter().zip(alone.iter_mut()) {
            figures.extend(tokio::task::block_in_place(|| {
                drive(&api, clients, &only, ALONE_SECONDS)
            }));
        }
    }
    let mut md = format!(
        "| endpoint | mixed: requests | p50 ms | p99 ms | alone, {CLIENTS} clients: p50 ms | p99 ms \
         | alone, 1 client: p50 ms | p99 ms |\n|---|---:|---:|---:|---:|---:|---:|---:|\n"
    );
    let quantiles = |ms: &[f64]| format!("{:.1} | {:.1}", quantile(ms, 0.5), quantile(ms, 0.99));
    for (name, ms) in &mixed {
        let alone = alone.each_ref().map(|figures| {
            figures
                .get(name)
                .map_or("— | —".to_string(), |ms| quantiles(ms))
        });
        md.push_str(&format!(
            "| `{name}` | {} | {} | {} | {} |\n",
            ms.len(),
            quantiles(ms),
            alone[0],
            alone[1]
        ));
    }
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../target/api-load.md");
    std::fs::File::create(path)
        .and_then(|mut f| f.write_all(md.as_bytes()))
        .expect("write target/api-load.md");
    print!("{md}");
}
