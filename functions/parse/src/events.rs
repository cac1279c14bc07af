//! What the parse function is invoked with: S3 notifications of raw uploads, the sweep's
//! schedule, and S3's test event.

use crate::sweep::SweepRequest;
use aws_lambda_events::s3::S3Event;
use serde::Deserialize;

/// What the function is invoked with.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Event {
    /// An S3 notification: one or more `ObjectCreated` records.
    S3(S3Event),
    /// The schedule's constant input `{"sweep": {}}`.
    Sweep {
        /// What the sweep looks at.
        sweep: SweepRequest,
    },
    /// The `s3:TestEvent` S3 sends when a notification is configured: nothing to do.
    S3Test {
        /// Always `s3:TestEvent`.
        #[serde(rename = "Event")]
        event: String,
    },
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

    fn event(records: &[serde_json::Value]) -> Event {
        serde_json::from_value(serde_json::json!({ "Records": records })).unwrap()
    }

    #[test]
    fn keys_are_form_decoded_from_every_created_record_of_our_bucket() {
        let Event::S3(s3) = event(&[
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
