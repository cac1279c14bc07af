//! The AWS calls each function makes, recorded for the IAM check (compiled only with the
//! `test-support` feature, so the Lambda builds have no trace of it).
//!
//! A store made for one function ([`Store::serving`]) carries an SDK interceptor that, when
//! `VERDICT_AWS_CALLS` names a directory, appends one JSON line per distinct call to
//! `{dir}/{pid}.jsonl`: the function, the service, the operation, what it touched (the table
//! or an index; the bucket and the first segment of the key) and the HTTP status it got.
//! `infra/check_iam.py` reads those lines after the tests and checks every one against that
//! function's policy in `infra/template.yaml`. A store not made for a function (the test
//! harness creating tables, dumping them) records nothing.

use crate::Store;
use aws_sdk_dynamodb::config::interceptors::{
    BeforeDeserializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_types::config_bag::{Storable, StoreReplace};
use serde_json::{json, Value};
use std::collections::HashSet;
use std::io::Write;
use std::sync::Mutex;

/// The directory calls are recorded in; unset, nothing is recorded.
const CALLS_DIR: &str = "VERDICT_AWS_CALLS";
/// For a process that is one function (the `verdict admin` binary under test): its name, so
/// every store it connects records as that function.
pub(crate) const CALLS_FUNCTION: &str = "VERDICT_AWS_CALLS_FUNCTION";

impl Store {
    /// This store, recording its calls as made by `function` (`parse`, `upload`, `query`,
    /// `retention`, `admin`: the names `infra/check_iam.py` knows).
    pub fn serving(self, function: &str) -> Store {
        let Ok(dir) = std::env::var(CALLS_DIR) else {
            return self;
        };
        let recorder = Recorder {
            function: function.to_string(),
            dir: dir.into(),
        };
        let s3 = self
            .s3
            .config()
            .to_builder()
            .interceptor(recorder.clone())
            .build();
        Store {
            s3: aws_sdk_s3::Client::from_conf(s3),
            ..self.with_table_interceptor(recorder)
        }
    }
}

#[derive(Debug, Clone)]
struct Recorder {
    function: String,
    dir: std::path::PathBuf,
}

/// A call seen before it was sent, waiting for its response's status.
#[derive(Debug, Clone)]
struct Sent(Value);

impl Storable for Sent {
    type Storer = StoreReplace<Sent>;
}

impl Intercept for Recorder {
    fn name(&self) -> &'static str {
        "verdict-aws-call-recorder"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(metadata) = cfg.load::<Metadata>() else {
            return Ok(());
        };
        let request = context.request();
        let body = request.body().bytes().unwrap_or_default();
        let service = metadata.service().to_ascii_lowercase();
        let mut call = match service.as_str() {
            "dynamodb" => dynamodb_call(body),
            _ => s3_call(request.uri(), body),
        };
        call["function"] = json!(self.function);
        call["service"] = json!(service);
        call["operation"] = json!(metadata.name());
        // A presigned request stops here (a client sends it later): its signature needs the
        // permission as much as a sent request does.
        self.write(&call);
        cfg.interceptor_state().store_put(Sent(call));
        Ok(())
    }

    fn read_before_deserialization(
        &self,
        context: &BeforeDeserializationInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(Sent(call)) = cfg.load::<Sent>() {
            let mut call = call.clone();
            call["status"] = json!(context.response().status().as_u16());
            self.write(&call);
        }
        Ok(())
    }
}

impl Recorder {
    /// Appends `call` unless this process already wrote the same line.
    fn write(&self, call: &Value) {
        static SEEN: Mutex<Option<HashSet<String>>> = Mutex::new(None);
        let line = call.to_string();
        let mut seen = SEEN.lock().unwrap_or_else(|e| e.into_inner());
        if !seen.get_or_insert_with(HashSet::new).insert(line.clone()) {
            return;
        }
        let path = self.dir.join(format!("{}.jsonl", std::process::id()));
        let written = std::fs::create_dir_all(&self.dir).and_then(|()| {
            let mut file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)?;
            writeln!(file, "{line}")
        });
        if let Err(e) = written {
            panic!("recording AWS calls to {}: {e}", path.display());
        }
    }
}

/// What a DynamoDB request touches: its index, or for a transaction the kind of each item
/// (IAM checks a transaction item by item: a Put needs `PutItem`, and so on).
fn dynamodb_call(body: &[u8]) -> Value {
    let request: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let items: Vec<&str> = request["TransactItems"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|item| item.as_object()?.keys().next().map(String::as_str))
        .collect();
    json!({"index": request["IndexName"], "items": items})
}

/// What an S3 request touches: the first segment of each key it names (path-style URLs, as
/// the local stack uses; a `DeleteObjects` body lists its keys).
fn s3_call(uri: &str, body: &[u8]) -> Value {
    let (path, query) = uri
        .split_once("://")
        .map_or(uri, |(_, rest)| rest)
        .split_once('/')
        .map_or(("", ""), |(_, path)| {
            path.split_once('?').unwrap_or((path, ""))
        });
    let key = path.split_once('/').map_or("", |(_, key)| key);
    let listed = query
        .split('&')
        .find_map(|pair| pair.strip_prefix("prefix="))
        .map(|p| p.replace("%2F", "/"));
    let mut prefixes: Vec<String> = String::from_utf8_lossy(body)
        .split("<Key>")
        .skip(1)
        .map(|rest| first_segment(rest.split('<').next().unwrap_or_default()))
        .collect();
    if !key.is_empty() {
        prefixes.push(first_segment(key));
    }
    if let Some(listed) = listed {
        prefixes.push(first_segment(&listed));
    }
    prefixes.sort();
    prefixes.dedup();
    json!({"prefixes": prefixes})
}

/// `raw/acme/...` → `raw/`; a key without a `/` is its own prefix.
fn first_segment(key: &str) -> String {
    match key.split_once('/') {
        Some((first, _)) => format!("{first}/"),
        None => key.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_calls_name_the_key_prefixes_they_touch() {
        assert_eq!(
            s3_call("http://127.0.0.1:1/bucket/raw/acme/r/f?x-id=GetObject", b""),
            json!({"prefixes": ["raw/"]})
        );
        assert_eq!(
            s3_call(
                "http://127.0.0.1:1/bucket?list-type=2&prefix=views%2Facme",
                b""
            ),
            json!({"prefixes": ["views/"]})
        );
        assert_eq!(
            s3_call(
                "http://127.0.0.1:1/bucket?delete",
                b"<Delete><Object><Key>raw/a/b</Key></Object><Object><Key>views/a</Key></Object></Delete>"
            ),
            json!({"prefixes": ["raw/", "views/"]})
        );
    }

    #[test]
    fn dynamodb_calls_name_their_index_and_transaction_items() {
        assert_eq!(
            dynamodb_call(br#"{"TableName":"t","IndexName":"runs"}"#),
            json!({"index": "runs", "items": []})
        );
        assert_eq!(
            dynamodb_call(br#"{"TransactItems":[{"Put":{}},{"ConditionCheck":{}}]}"#),
            json!({"index": null, "items": ["Put", "ConditionCheck"]})
        );
    }
}
