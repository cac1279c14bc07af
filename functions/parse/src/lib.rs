//! The parse function: S3 notifications of raw uploads in, test results in DynamoDB out (see
//! [`ingest`]), plus the scheduled sweep that re-drives files whose event was lost.

pub mod faults;
pub mod ingest;
pub mod metrics;

use aws_lambda_events::s3::S3Event;
use ingest::{Ingest, Outcome, Retry};
use serde::Deserialize;
use verdict_store::{now_ms, FileError, FileRef, FileState};

/// What the function is invoked with.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Event {
    /// An S3 notification: one or more `ObjectCreated` records.
    S3(S3Event),
    /// The schedule's constant input `{"sweep": {}}`.
    Sweep { sweep: SweepRequest },
    /// The `s3:TestEvent` S3 sends when a notification is configured: nothing to do.
    S3Test {
        #[serde(rename = "Event")]
        event: String,
    },
}

#[derive(Debug, Default, Deserialize)]
pub struct SweepRequest {
    /// Files registered less than this long ago are left alone (their event may be in flight).
    #[serde(default = "default_grace_seconds")]
    pub grace_seconds: u64,
    /// A file still `pending` without an object after this long is marked `failed`.
    #[serde(default = "default_abandon_seconds")]
    pub abandon_seconds: u64,
}

fn default_grace_seconds() -> u64 {
    15 * 60
}

fn default_abandon_seconds() -> u64 {
    24 * 3600
}

/// Object keys of the `ObjectCreated` records for our bucket, URL-decoded (S3 encodes keys in
/// notifications as form data: `+` is a space, `%XX` a byte).
pub fn object_keys(event: &S3Event, bucket: &str) -> Vec<String> {
    event
        .records
        .iter()
        .filter(|r| {
            r.event_name
                .as_deref()
                .is_some_and(|n| n.starts_with("ObjectCreated"))
        })
        .filter(|r| r.s3.bucket.name.as_deref() == Some(bucket))
        .filter_map(|r| r.s3.object.key.as_deref())
        .map(decode_key)
        .collect()
}

/// The notification S3 sends when `keys` are created in `bucket`, keys form-encoded (space as
/// `+`): the inverse of [`object_keys`]. The local stack plays S3 with it, and tests deliver it.
pub fn created_event(bucket: &str, keys: &[String]) -> S3Event {
    let records: Vec<serde_json::Value> = keys
        .iter()
        .map(|key| {
            let encoded: String = key
                .bytes()
                .map(|b| match b {
                    b' ' => "+".to_string(),
                    b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'/' | b'-' | b'_' | b'.' => {
                        (b as char).to_string()
                    }
                    other => format!("%{other:02X}"),
                })
                .collect();
            serde_json::json!({
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": "us-east-1",
                "eventTime": "1970-01-01T00:00:00.000Z",
                "eventName": "ObjectCreated:Put",
                "userIdentity": {"principalId": "local"},
                "requestParameters": {"sourceIPAddress": "127.0.0.1"},
                "responseElements": {},
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": "raw-uploads",
                    "bucket": {"name": bucket, "ownerIdentity": {"principalId": "local"}, "arn": format!("arn:aws:s3:::{bucket}")},
                    "object": {"key": encoded, "size": 0, "eTag": "", "sequencer": "0"}
                }
            })
        })
        .collect();
    serde_json::from_value(serde_json::json!({ "Records": records }))
        .expect("the record layout of an S3 notification")
}

fn decode_key(key: &str) -> String {
    let spaced = key.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8_lossy()
        .into_owned()
}

/// Handles one invocation. `Err` makes Lambda retry the whole event: only for transient
/// failures, and only after every record was tried (the settled ones answer at once next time).
pub async fn handle(
    ingest: &Ingest,
    event: Event,
    request_id: &str,
) -> Result<Vec<Outcome>, Retry> {
    match event {
        Event::S3(event) => {
            let keys = object_keys(&event, ingest.store().bucket());
            let results = futures_util::future::join_all(
                keys.iter().map(|key| ingest.ingest_key(key, request_id)),
            )
            .await;
            let mut outcomes = Vec::new();
            let mut retry = None;
            for (key, result) in keys.iter().zip(results) {
                match result {
                    Ok(outcome) => {
                        tracing::info!(key, ?outcome, "ingested");
                        outcomes.push(outcome);
                    }
                    Err(err) => {
                        tracing::warn!(key, error = %err, "will retry");
                        retry = Some(err);
                    }
                }
            }
            retry.map_or(Ok(outcomes), Err)
        }
        Event::Sweep { sweep } => sweep_files(ingest, &sweep, request_id).await,
        Event::S3Test { event } => {
            tracing::info!(event, "S3 test event ignored");
            Ok(Vec::new())
        }
    }
}

/// Re-drives unsettled files older than the grace period: those whose object arrived are
/// ingested (a live lease makes the claim say busy, and the file is left to its owner); those
/// whose object never arrived are marked failed once abandoned. The sweep never waits for a
/// file writing alone in a run: it drives that file itself, so a file that must wait for it is
/// tried again once the others are through (and else by the next sweep).
pub async fn sweep_files(
    ingest: &Ingest,
    request: &SweepRequest,
    request_id: &str,
) -> Result<Vec<Outcome>, Retry> {
    let now = now_ms();
    let store = ingest.store();
    let files = store
        .unsettled_files(now.saturating_sub(request.grace_seconds * 1000))
        .await?;
    let mut outcomes = Vec::new();
    let mut waiting = Vec::new();
    // Uploaded files this pass could not settle (busy, or waiting for their run's lone writer).
    let mut left = Vec::new();
    for file in files {
        let key = file.object_key();
        if store.raw_exists(&key).await? {
            match ingest.ingest_key_waiting(&key, request_id, 0).await {
                Ok(outcome) => outcomes.push(outcome),
                Err(Retry::Busy { .. }) => left.push(file),
                Err(Retry::WaitingForWriter { .. }) => waiting.push(file),
                Err(err) => return Err(err),
            }
        } else if let Some(outcome) = abandon(ingest, &file, request, request_id, now).await? {
            outcomes.push(outcome);
        }
    }
    for file in waiting {
        match ingest
            .ingest_key_waiting(&file.object_key(), request_id, 0)
            .await
        {
            Ok(outcome) => outcomes.push(outcome),
            Err(Retry::Busy { .. } | Retry::WaitingForWriter { .. }) => left.push(file),
            Err(err) => return Err(err),
        }
    }
    let mut stuck = 0;
    for file in &left {
        if store.get_file(file).await?.is_some_and(|item| {
            !item.state.is_settled() && item.created_ms + metrics::UNSETTLED_AFTER_MS <= now
        }) {
            stuck += 1;
        }
    }
    metrics::emit(
        store.table(),
        metrics::UNSETTLED_FILES,
        stuck,
        serde_json::json!({}),
    );
    tracing::info!(settled = outcomes.len(), stuck, "sweep finished");
    Ok(outcomes)
}

async fn abandon(
    ingest: &Ingest,
    file: &FileRef,
    request: &SweepRequest,
    request_id: &str,
    now: u64,
) -> Result<Option<Outcome>, Retry> {
    let store = ingest.store();
    let Some(item) = store.get_file(file).await? else {
        return Ok(None);
    };
    if item.state != FileState::Pending || item.created_ms + request.abandon_seconds * 1000 > now {
        return Ok(None);
    }
    let verdict_store::Claim::Claimed(_) = store.claim_file(file, request_id, now, 60_000).await?
    else {
        return Ok(None);
    };
    let error = FileError::of_file(
        "not_uploaded",
        format!(
            "no object arrived within {} s of the upload being registered",
            request.abandon_seconds
        ),
    );
    store.fail_file(file, request_id, &error, now).await?;
    Ok(Some(Outcome::Failed(error)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(event_name: &str, bucket: &str, key: &str) -> serde_json::Value {
        serde_json::json!({
            "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
            "eventTime": "2026-11-21T00:00:00.000Z", "eventName": event_name,
            "userIdentity": {"principalId": "P"}, "requestParameters": {"sourceIPAddress": "1.2.3.4"},
            "responseElements": {},
            "s3": {"s3SchemaVersion": "1.0", "configurationId": "c",
                   "bucket": {"name": bucket, "ownerIdentity": {"principalId": "O"}, "arn": "arn:aws:s3:::b"},
                   "object": {"key": key, "size": 10, "eTag": "e", "sequencer": "1"}}
        })
    }

    fn event(records: Vec<serde_json::Value>) -> Event {
        serde_json::from_value(serde_json::json!({ "Records": records })).unwrap()
    }

    #[test]
    fn keys_are_form_decoded_from_every_created_record_of_our_bucket() {
        let Event::S3(s3) = event(vec![
            record("ObjectCreated:Put", "bkt", "raw/p/run+1/a%2Bb%25c"),
            record(
                "ObjectCreated:CompleteMultipartUpload",
                "bkt",
                "raw/p/%C3%A9t%C3%A9/x",
            ),
            record("ObjectRemoved:Delete", "bkt", "raw/p/r/gone"),
            record("ObjectCreated:Put", "other-bucket", "raw/p/r/theirs"),
            record("ObjectCreated:Copy", "bkt", "raw/p/with%20space/y"),
        ]) else {
            panic!("not an S3 event");
        };
        assert_eq!(
            object_keys(&s3, "bkt"),
            ["raw/p/run 1/a+b%c", "raw/p/été/x", "raw/p/with space/y"]
        );
    }

    #[test]
    fn created_events_decode_back_to_their_keys() {
        let keys = vec!["raw/p/r/a b+c%d/é".to_string(), "raw/p/r/plain".to_string()];
        assert_eq!(object_keys(&created_event("bkt", &keys), "bkt"), keys);
    }

    #[test]
    fn the_s3_test_event_and_the_sweep_schedule_are_recognised() {
        let test: Event = serde_json::from_value(serde_json::json!({
            "Service": "Amazon S3", "Event": "s3:TestEvent", "Time": "2026-11-21T00:00:00.000Z",
            "Bucket": "bkt", "RequestId": "R", "HostId": "H"
        }))
        .unwrap();
        assert!(matches!(test, Event::S3Test { event } if event == "s3:TestEvent"));
        let sweep: Event = serde_json::from_value(serde_json::json!({"sweep": {}})).unwrap();
        assert!(matches!(
            sweep,
            Event::Sweep { sweep } if sweep.grace_seconds == 900 && sweep.abandon_seconds == 86_400
        ));
        assert!(serde_json::from_value::<Event>(serde_json::json!({"what": 1})).is_err());
    }
}

#[cfg(test)]
mod sample_events {
    use super::*;

    #[test]
    fn the_sample_events_in_events_are_what_the_function_accepts() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../events");
        let read = |name: &str| -> Event {
            serde_json::from_str(&std::fs::read_to_string(format!("{dir}/{name}")).unwrap())
                .unwrap_or_else(|e| panic!("{name}: {e}"))
        };
        let Event::S3(put) = read("s3-put.json") else {
            panic!("s3-put.json is not an S3 event")
        };
        assert_eq!(
            object_keys(&put, "verdict-dev"),
            ["raw/demo/sample-1/0123456789abcdef0123456789abcdef"]
        );
        assert!(matches!(read("s3-test.json"), Event::S3Test { .. }));
        assert!(matches!(read("sweep.json"), Event::Sweep { .. }));
    }
}
