//! A fault proxy between the SDK and a local engine, answering as AWS does when it is having a
//! bad day. DynamoDB Local never throttles, never cancels a transaction for a conflict and never
//! loses a response; SeaweedFS never answers 503. On loopback, in front of either, this proxy
//! forwards each request and, with a seeded probability, instead:
//!
//! - DynamoDB: answers `ThrottlingException` or `ProvisionedThroughputExceededException` (400),
//!   500 or 503; cancels a `TransactWriteItems` with `TransactionConflict`; writes only half a
//!   `BatchWriteItem` and hands the rest back as `UnprocessedItems`;
//! - S3: answers 503 `SlowDown`; resets a `GetObject` in the middle of its body;
//! - either: adds latency; resets the connection before forwarding; or forwards the request,
//!   lets the engine apply it, and drops the response (the write happened, the caller cannot know).
//!
//! Its limits mode ([`FaultProxy::start_limited`], `limits.rs`) answers instead as AWS does
//! when a partition key is over its throughput.
//!
//! One connection per request (`Connection: close` both ways) keeps the framing simple: the
//! engine's response is read to its end. DynamoDB Local does not check signatures, so a
//! `BatchWriteItem` body may be cut; S3 requests are forwarded byte for byte.

use crate::limits::{Admission, IndexKey, Limiter, Limits, LimitsReport};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the proxy may do instead of a plain forward.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Fault {
    Throttling,
    ThroughputExceeded,
    InternalError,
    Unavailable,
    TransactionConflict,
    UnprocessedItems,
    SlowDown,
    ResetMidBody,
    Latency,
    ResetBeforeForward,
    DropResponseAfterApply,
}

impl Fault {
    /// Every fault, for a plan that may inject any.
    pub const ALL: [Fault; 11] = [
        Fault::Throttling,
        Fault::ThroughputExceeded,
        Fault::InternalError,
        Fault::Unavailable,
        Fault::TransactionConflict,
        Fault::UnprocessedItems,
        Fault::SlowDown,
        Fault::ResetMidBody,
        Fault::Latency,
        Fault::ResetBeforeForward,
        Fault::DropResponseAfterApply,
    ];

    /// Whether AWS could answer `call` this way.
    fn applies_to(self, call: &Call) -> bool {
        let dynamodb = call.service == Service::DynamoDb;
        match self {
            Fault::Throttling
            | Fault::ThroughputExceeded
            | Fault::InternalError
            | Fault::Unavailable => dynamodb,
            Fault::TransactionConflict => call.operation == "TransactWriteItems",
            Fault::UnprocessedItems => call.operation == "BatchWriteItem",
            Fault::SlowDown => !dynamodb,
            Fault::ResetMidBody => call.operation == "GetObject",
            Fault::Latency | Fault::ResetBeforeForward => true,
            // A lost response matters for a write; S3's and DynamoDB's reads are retried alike.
            Fault::DropResponseAfterApply => matches!(
                call.operation.as_str(),
                "PutItem"
                    | "UpdateItem"
                    | "DeleteItem"
                    | "BatchWriteItem"
                    | "TransactWriteItems"
                    | "PutObject"
            ),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Service {
    DynamoDb,
    S3,
}

/// One request as the proxy sees it.
#[derive(Debug, Clone)]
struct Call {
    service: Service,
    operation: String,
}

/// Which faults, how often (a probability per request), from which seed; optionally only for
/// some operations, after so many requests, and at most so many in all.
#[derive(Debug, Clone)]
pub struct Plan {
    pub seed: u64,
    pub rate: f64,
    pub faults: Vec<Fault>,
    pub operations: Option<Vec<&'static str>>,
    pub max_faults: Option<u64>,
    /// Requests a fault applies to that are let through before the first fault.
    pub skip: u64,
}

impl Plan {
    /// `fault` on exactly the `n`-th request (from 0) it applies to, and on no other.
    pub fn nth(fault: Fault, n: u64) -> Plan {
        Plan {
            seed: 1,
            rate: 1.0,
            faults: vec![fault],
            operations: None,
            max_faults: Some(1),
            skip: n,
        }
    }
}

/// A running proxy: its endpoint for the SDK, and what it injected so far.
pub struct FaultProxy {
    pub endpoint: String,
    state: Arc<State>,
}

impl FaultProxy {
    /// Listens on a free loopback port and forwards to `upstream` (`http://host:port`).
    pub async fn start(upstream: &str, plan: Plan) -> FaultProxy {
        FaultProxy::serve_on(upstream, plan, None).await
    }

    /// A proxy in front of DynamoDB Local that enforces `limits` on every partition key value
    /// of the table and of `indexes` (see `limits.rs`), and injects no fault.
    pub async fn start_limited(
        upstream: &str,
        limits: Limits,
        indexes: Vec<IndexKey>,
    ) -> FaultProxy {
        let plan = Plan {
            rate: 0.0,
            ..Plan::nth(Fault::Latency, 0)
        };
        FaultProxy::serve_on(upstream, plan, Some(Limiter::new(limits, indexes))).await
    }

    /// What the limits mode did so far (nothing without it).
    pub fn limits_report(&self) -> LimitsReport {
        self.state
            .limiter
            .as_ref()
            .map(Limiter::report)
            .unwrap_or_default()
    }

    async fn serve_on(upstream: &str, plan: Plan, limiter: Option<Limiter>) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let upstream = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string();
        let state = Arc::new(State {
            upstream,
            rng: Mutex::new(plan.seed | 1),
            skipped: AtomicU64::new(0),
            plan: Mutex::new(plan),
            injected: Mutex::default(),
            limiter,
        });
        let serving = Arc::clone(&state);
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let state = Arc::clone(&serving);
                tokio::spawn(async move {
                    // A client that went away mid-exchange is no concern of the proxy.
                    let _ = state.serve(client).await;
                });
            }
        });
        FaultProxy { endpoint, state }
    }

    /// From now on, `plan` (its `skip` counted from now).
    pub fn replan(&self, plan: Plan) {
        *self.state.rng.lock().unwrap() = plan.seed | 1;
        self.state.skipped.store(0, Ordering::Relaxed);
        *self.state.plan.lock().unwrap() = plan;
    }

    /// How many times each fault was injected.
    pub fn injected(&self) -> std::collections::BTreeMap<Fault, u64> {
        self.state.injected.lock().unwrap().clone()
    }
}

struct State {
    upstream: String,
    plan: Mutex<Plan>,
    rng: Mutex<u64>,
    /// Applicable requests seen, for [`Plan::skip`].
    skipped: AtomicU64,
    injected: Mutex<std::collections::BTreeMap<Fault, u64>>,
    limiter: Option<Limiter>,
}

/// A request read from the client: head (request line and headers) and body.
struct Request {
    head: String,
    body: Vec<u8>,
}

impl State {
    /// A number in [0, 1) from the seeded sequence (xorshift64*).
    fn next(&self) -> f64 {
        let mut x = self.rng.lock().unwrap();
        *x ^= *x >> 12;
        *x ^= *x << 25;
        *x ^= *x >> 27;
        (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A fault for `call`, at the plan's rate among the requests one of its faults applies to.
    fn choose(&self, call: &Call) -> Option<Fault> {
        let plan = self.plan.lock().unwrap().clone();
        if let Some(ops) = &plan.operations {
            if !ops.contains(&call.operation.as_str()) {
                return None;
            }
        }
        let applicable: Vec<Fault> = plan
            .faults
            .iter()
            .copied()
            .filter(|f| f.applies_to(call))
            .collect();
        if applicable.is_empty() {
            return None;
        }
        if self.skipped.fetch_add(1, Ordering::Relaxed) < plan.skip {
            return None;
        }
        if self.next() >= plan.rate {
            return None;
        }
        let mut injected = self.injected.lock().unwrap();
        if plan
            .max_faults
            .is_some_and(|max| injected.values().sum::<u64>() >= max)
        {
            return None;
        }
        let fault = applicable[(self.next() * applicable.len() as f64) as usize];
        *injected.entry(fault).or_default() += 1;
        Some(fault)
    }

    async fn serve(&self, mut client: TcpStream) -> std::io::Result<()> {
        let request = read_request(&mut client).await?;
        let call = describe(&request);
        if let (Some(limiter), Service::DynamoDb) = (&self.limiter, call.service) {
            let response = self.limited(limiter, &call, request).await?;
            return client.write_all(&response).await;
        }
        let Some(fault) = self.choose(&call) else {
            let response = self.forward(&request).await?;
            return client.write_all(&response).await;
        };
        match fault {
            Fault::Latency => {
                tokio::time::sleep(Duration::from_millis(200)).await;
                let response = self.forward(&request).await?;
                client.write_all(&response).await
            }
            Fault::ResetBeforeForward => reset(client),
            Fault::DropResponseAfterApply => {
                self.forward(&request).await?;
                reset(client)
            }
            Fault::ResetMidBody => {
                let response = self.forward(&request).await?;
                let cut = header_end(&response)
                    .map_or(response.len() / 2, |h| h + (response.len() - h) / 2);
                client.write_all(&response[..cut]).await?;
                client.flush().await?;
                reset(client)
            }
            Fault::UnprocessedItems => {
                let response = self.half_a_batch(&request).await?;
                client.write_all(&response).await
            }
            other => client.write_all(&error_response(other)).await,
        }
    }

    /// Sends `request` to the engine on a connection of its own and reads the whole answer.
    async fn forward(&self, request: &Request) -> std::io::Result<Vec<u8>> {
        let mut upstream = TcpStream::connect(&self.upstream).await?;
        upstream
            .write_all(with_connection_close(&request.head).as_bytes())
            .await?;
        upstream.write_all(&request.body).await?;
        let mut response = Vec::new();
        upstream.read_to_end(&mut response).await?;
        Ok(with_connection_close_response(response))
    }

    /// Forwards `request` within `limiter`'s limits: refused, or forwarded (as the limiter
    /// changed it) and charged from the answer.
    async fn limited(
        &self,
        limiter: &Limiter,
        call: &Call,
        request: Request,
    ) -> std::io::Result<Vec<u8>> {
        let Ok(body) = serde_json::from_slice::<serde_json::Value>(&request.body) else {
            return self.forward(&request).await;
        };
        let (body, charge) = match limiter.admit(&call.operation, body) {
            Admission::Throttled => return Ok(error_response(Fault::ThroughputExceeded)),
            Admission::Forward { body, charge } => (body, charge),
        };
        self.forward_changed(&request.head, &body, |answer| {
            limiter.settle(charge, answer);
        })
        .await
    }

    /// Forwards the JSON `body` with `head`'s headers and, when the engine answers 200 with a
    /// JSON object, answers with that object as `change` leaves it; any other answer as it came.
    async fn forward_changed(
        &self,
        head: &str,
        body: &serde_json::Value,
        change: impl FnOnce(&mut serde_json::Value),
    ) -> std::io::Result<Vec<u8>> {
        let bytes = serde_json::to_vec(body).unwrap_or_default();
        let head = set_content_length(head, bytes.len());
        let response = self.forward(&Request { head, body: bytes }).await?;
        let Some(start) = header_end(&response) else {
            return Ok(response);
        };
        let mut answer: serde_json::Value =
            serde_json::from_slice(&response[start..]).unwrap_or_default();
        if !response.starts_with(b"HTTP/1.1 200") || !answer.is_object() {
            return Ok(response);
        }
        change(&mut answer);
        Ok(json_response(200, "OK", &answer))
    }

    /// Forwards the first half of a `BatchWriteItem`'s requests and answers with the rest as
    /// `UnprocessedItems`, as DynamoDB does when some partitions are over their throughput.
    async fn half_a_batch(&self, request: &Request) -> std::io::Result<Vec<u8>> {
        let mut body: serde_json::Value = serde_json::from_slice(&request.body).unwrap_or_default();
        let mut unprocessed = serde_json::Map::new();
        if let Some(tables) = body["RequestItems"].as_object_mut() {
            for (table, writes) in tables.iter_mut() {
                if let Some(list) = writes.as_array_mut() {
                    let rest = list.split_off(list.len().div_ceil(2));
                    if !rest.is_empty() {
                        unprocessed.insert(table.clone(), rest.into());
                    }
                }
            }
            tables.retain(|_, w| w.as_array().is_some_and(|l| !l.is_empty()));
        }
        self.forward_changed(&request.head, &body, |answer| {
            answer["UnprocessedItems"] = unprocessed.into();
        })
        .await
    }
}

async fn read_request(client: &mut TcpStream) -> std::io::Result<Request> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    let head_end = loop {
        if let Some(end) = header_end(&buf) {
            break end;
        }
        let n = client.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let length = header(&head, "content-length")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = buf[head_end..].to_vec();
    while body.len() < length {
        let n = client.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Ok(Request { head, body })
}

fn describe(request: &Request) -> Call {
    if let Some(target) = header(&request.head, "x-amz-target") {
        return Call {
            service: Service::DynamoDb,
            operation: target.rsplit('.').next().unwrap_or_default().to_string(),
        };
    }
    let line = request.head.lines().next().unwrap_or_default();
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default();
    let target = parts.next().unwrap_or_default();
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let has_key = path.trim_start_matches('/').contains('/');
    let operation = match (method, has_key) {
        ("GET", true) => "GetObject",
        ("HEAD", true) => "HeadObject",
        ("PUT", true) if query.contains("partNumber") => "UploadPart",
        ("PUT", true) => "PutObject",
        ("DELETE", true) => "DeleteObject",
        ("POST", false) if query.contains("delete") => "DeleteObjects",
        ("GET", false) => "ListObjectsV2",
        ("PUT", false) => "CreateBucket",
        _ => "Other",
    };
    Call {
        service: Service::S3,
        operation: operation.to_string(),
    }
}

/// The answer AWS gives for `fault`, as the service that gives it writes it.
fn error_response(fault: Fault) -> Vec<u8> {
    let dynamodb = |status: u16, reason: &str, kind: &str, message: &str| {
        json_response(
            status,
            reason,
            &serde_json::json!({
                "__type": format!("com.amazonaws.dynamodb.v20120810#{kind}"),
                "message": message,
            }),
        )
    };
    match fault {
        Fault::Throttling => dynamodb(
            400,
            "Bad Request",
            "ThrottlingException",
            "Rate of requests exceeds the allowed throughput.",
        ),
        Fault::ThroughputExceeded => dynamodb(
            400,
            "Bad Request",
            "ProvisionedThroughputExceededException",
            "The level of configured provisioned throughput for the table was exceeded.",
        ),
        Fault::InternalError => dynamodb(
            500,
            "Internal Server Error",
            "InternalServerError",
            "Internal server error",
        ),
        Fault::Unavailable => dynamodb(
            503,
            "Service Unavailable",
            "ServiceUnavailable",
            "Service unavailable",
        ),
        Fault::TransactionConflict => json_response(
            400,
            "Bad Request",
            &serde_json::json!({
                "__type": "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
                "Message": "Transaction cancelled, please refer cancellation reasons for specific reasons [TransactionConflict]",
                "CancellationReasons": [
                    {"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item"},
                    {"Code": "None"}, {"Code": "None"}, {"Code": "None"},
                ],
            }),
        ),
        _ => {
            let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SlowDown</Code>\
                        <Message>Please reduce your request rate.</Message></Error>";
            format!(
                "HTTP/1.1 503 Slow Down\r\nContent-Type: application/xml\r\nContent-Length: {}\r\n\
                 Connection: close\r\n\r\n{body}",
                body.len()
            )
            .into_bytes()
        }
    }
}

fn json_response(status: u16, reason: &str, body: &serde_json::Value) -> Vec<u8> {
    let body = body.to_string();
    format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/x-amz-json-1.0\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Closes the connection with a reset, as a dropped connection looks to the client.
// A zero linger (the reset) never blocks on drop, which is what tokio deprecates it for.
#[allow(deprecated)]
fn reset(client: TcpStream) -> std::io::Result<()> {
    client.set_linger(Some(Duration::ZERO))?;
    drop(client);
    Ok(())
}

fn header_end(bytes: &[u8]) -> Option<usize> {
    bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|p| p + 4)
}

fn header<'h>(head: &'h str, name: &str) -> Option<&'h str> {
    head.lines().skip(1).find_map(|line| {
        let (k, v) = line.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// The head with `Connection: close` (replacing any `Connection` header).
fn with_connection_close(head: &str) -> String {
    let mut lines: Vec<&str> = head
        .trim_end()
        .lines()
        .filter(|l| !l.to_ascii_lowercase().starts_with("connection:"))
        .collect();
    lines.push("Connection: close");
    format!("{}\r\n\r\n", lines.join("\r\n"))
}

fn with_connection_close_response(response: Vec<u8>) -> Vec<u8> {
    let Some(end) = header_end(&response) else {
        return response;
    };
    let head = String::from_utf8_lossy(&response[..end]).into_owned();
    let mut out = with_connection_close(&head).into_bytes();
    out.extend_from_slice(&response[end..]);
    out
}

fn set_content_length(head: &str, length: usize) -> String {
    let lines: Vec<String> = head
        .trim_end()
        .lines()
        .map(|l| {
            if l.to_ascii_lowercase().starts_with("content-length:") {
                format!("Content-Length: {length}")
            } else {
                l.to_string()
            }
        })
        .collect();
    format!("{}\r\n\r\n", lines.join("\r\n"))
}
