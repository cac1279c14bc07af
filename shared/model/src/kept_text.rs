//! An attempt's long text kept apart from its test item. A test item is billed by the kilobyte
//! on every write and again in every index it is in, and a red build's failing tests carry
//! traces and captured output of several KB each: the store keeps that text in the bucket, and
//! the item an excerpt and where the whole is ([`KeptText`]). Reading a test's detail puts the
//! whole back ([`Attempt::restore_text`]).

use crate::text::cap_text;
use crate::{failure_fingerprint, Attempt};
use serde::{Deserialize, Serialize};

/// An attempt whose message, details and output hold at most this many bytes together keeps
/// them in its item: most failures, and every pass without output.
pub const INLINE_TEXT_BYTES: usize = 512;

/// What an item keeps of a longer attempt's message (or of its details, when it has none).
pub const EXCERPT_BYTES: usize = 160;

/// Where the whole text of an attempt is: a byte range of one of the segments in the bucket of
/// the file that wrote the attempt, holding its [`AttemptText`] as JSON. The segment is named by
/// its number alone (the store knows the run and the file), and it is stored as a bare array
/// (`[segment, offset, len, fingerprint]`): a test item pays for every byte.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "KeptTuple", into = "KeptTuple")]
pub struct KeptText {
    /// The segment's number, from 0 in the file's order.
    pub segment: u32,
    /// The range's first byte.
    pub offset: u64,
    /// The range's length in bytes.
    pub len: u64,
    /// The fingerprint of the whole text, for a failed attempt: its excerpt would give another.
    pub fingerprint: Option<String>,
}

/// [`KeptText`] as stored.
#[derive(Serialize, Deserialize)]
struct KeptTuple(u32, u64, u64, Option<String>);

impl From<KeptTuple> for KeptText {
    fn from(KeptTuple(segment, offset, len, fingerprint): KeptTuple) -> KeptText {
        KeptText {
            segment,
            offset,
            len,
            fingerprint,
        }
    }
}

impl From<KeptText> for KeptTuple {
    fn from(kept: KeptText) -> KeptTuple {
        KeptTuple(kept.segment, kept.offset, kept.len, kept.fingerprint)
    }
}

/// The free text of an attempt in whole, as kept apart.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttemptText {
    /// The message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The details (a stack trace).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
    /// What the test wrote to stdout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stdout: Option<String>,
    /// What the test wrote to stderr.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stderr: Option<String>,
}

impl Attempt {
    /// The bytes of its message, details and output together.
    pub fn text_len(&self) -> usize {
        [&self.message, &self.details, &self.stdout, &self.stderr]
            .into_iter()
            .map(|t| t.as_ref().map_or(0, String::len))
            .sum()
    }

    /// Moves its text apart when it holds more than [`INLINE_TEXT_BYTES`]: `keep` stores the
    /// whole text and answers where. The attempt keeps an excerpt of its message, or of its
    /// details when it has no message (so it still says why it failed, and a result picks the
    /// same attempt to show), and the fingerprint of the whole. Answers whether it moved anything; an attempt within the
    /// bound, or moved before, is left as it is.
    pub fn keep_text_apart(&mut self, keep: impl FnOnce(&AttemptText) -> KeptText) -> bool {
        if self.kept.is_some() || self.text_len() <= INLINE_TEXT_BYTES {
            return false;
        }
        let text = AttemptText {
            message: self.message.take(),
            details: self.details.take(),
            stdout: self.stdout.take(),
            stderr: self.stderr.take(),
        };
        let mut kept = keep(&text);
        kept.fingerprint = if self.status.is_failure() {
            failure_fingerprint(
                self.failure_type.as_deref(),
                text.message.as_deref(),
                text.details.as_deref(),
            )
        } else {
            None
        };
        // One excerpt says why: of the message, or of the details when there is no message.
        let excerpt = |t: &Option<String>| t.clone().map(|t| cap_text(t, EXCERPT_BYTES));
        self.message = excerpt(&text.message);
        if self.message.is_none() {
            self.details = excerpt(&text.details);
        }
        self.kept = Some(kept);
        true
    }

    /// Puts back the whole text that [`Attempt::keep_text_apart`] moved.
    pub fn restore_text(&mut self, text: AttemptText) {
        self.message = text.message;
        self.details = text.details;
        self.stdout = text.stdout;
        self.stderr = text.stderr;
        self.kept = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Limits, Status, TestCase, TestResult};

    fn failed(message: &str, details: &str, stdout: &str) -> Attempt {
        Attempt {
            message: Some(message.into()),
            details: Some(details.into()),
            stdout: Some(stdout.into()),
            failure_type: Some("AssertionError".into()),
            ..Attempt::new(Status::Failed, 5)
        }
    }

    fn result(attempts: Vec<Attempt>) -> TestResult {
        let case = TestCase {
            classname: "C".into(),
            name: "t".into(),
            attempts,
            ..TestCase::default()
        };
        TestResult::from_case(case, &Limits::DEFAULT).unwrap()
    }

    fn kept_at(store: &mut Vec<u8>) -> impl FnMut(&AttemptText) -> KeptText + '_ {
        |text| {
            let offset = store.len() as u64;
            serde_json::to_writer(&mut *store, text).unwrap();
            KeptText {
                segment: 0,
                offset,
                len: store.len() as u64 - offset,
                fingerprint: None,
            }
        }
    }

    #[test]
    fn long_text_moves_apart_and_comes_back_whole_with_the_same_result() {
        let trace = "at a.b.C.method(C.java:10)\n".repeat(40);
        let whole = result(vec![
            failed("expected 1 but was 2", &trace, &"log line\n".repeat(50)),
            Attempt::new(Status::Passed, 3),
        ]);
        let mut apart = whole.clone();
        let mut store = Vec::new();
        for attempt in &mut apart.attempts {
            attempt.keep_text_apart(kept_at(&mut store));
        }
        apart.derive();
        let kept = apart.attempts[0].kept.clone().expect("moved apart");
        assert!(apart.attempts[1].kept.is_none(), "a bare pass stays");
        assert_eq!(
            apart.attempts[0].message.as_deref(),
            Some("expected 1 but was 2")
        );
        assert_eq!(apart.attempts[0].details, None, "the message says why");
        assert_eq!(apart.attempts[0].stdout, None);
        assert_eq!(
            (apart.fingerprint.as_ref(), apart.flaky),
            (whole.fingerprint.as_ref(), true),
            "the whole text's fingerprint"
        );
        let range = &store[kept.offset as usize..(kept.offset + kept.len) as usize];
        apart.attempts[0].restore_text(serde_json::from_slice(range).unwrap());
        apart.derive();
        assert_eq!(apart, whole);
    }

    #[test]
    fn details_without_a_message_keep_an_excerpt_of_them() {
        let mut attempt = Attempt::new(Status::Failed, 1);
        attempt.details = Some("at a.b.C.method(C.java:10)\n".repeat(40));
        assert!(attempt.keep_text_apart(kept_at(&mut Vec::new())));
        assert_eq!(attempt.message, None);
        let excerpt = attempt.details.expect("an excerpt of the details");
        assert!(
            excerpt.starts_with("at a.b.C.method")
                && excerpt.len() <= EXCERPT_BYTES + crate::text::TRUNCATION_MARKER.len()
        );
    }

    #[test]
    fn short_text_stays_in_the_attempt() {
        let mut attempt = failed("boom", "at x", "");
        assert!(!attempt.keep_text_apart(|_| panic!("nothing to keep apart")));
        assert_eq!(attempt.message.as_deref(), Some("boom"));
    }

    #[test]
    fn an_excerpt_keeps_saying_why_so_the_same_attempt_is_shown() {
        // Only output, long, on the first failure; a short message on the second: the second
        // is shown (it says why), before and after the first's output moves apart.
        let mut output_only = Attempt::new(Status::Failed, 1);
        output_only.stdout = Some("x".repeat(2_000));
        let whole = result(vec![output_only, failed("why", "", "")]);
        let mut apart = whole.clone();
        let mut store = Vec::new();
        assert!(apart.attempts[0].keep_text_apart(kept_at(&mut store)));
        apart.derive();
        assert_eq!(apart.message.as_deref(), Some("why"));
        assert_eq!(apart.fingerprint, whole.fingerprint);
    }
}
