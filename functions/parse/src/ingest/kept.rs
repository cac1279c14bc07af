//! Long attempt text kept apart from the test items (`verdict_model::KeptText`), in segments
//! that follow the file's order: a test item then holds an excerpt and a range of a segment,
//! and a red build's failing test costs a write unit or two instead of one per KB of its trace.
//!
//! A segment's content is a function of the file alone: every invocation reads the file from
//! its start and passes every result through here, those an earlier invocation wrote too, so
//! a segment begins at the same result and holds the same bytes whichever invocation puts it.
//! An invocation puts each segment that holds a result it takes, the last one when it ends, and
//! before the file's progress or commit is recorded: once a result counts as written, the text
//! its item points to is there.

use verdict_model::{KeptText, TestResult};
use verdict_store::{kept_text_key, FileRef};

/// A segment is closed once it holds this many bytes: the next result with text to keep starts
/// the next one. An invocation holds one segment in memory at a time.
pub(super) const SEGMENT_BYTES: usize = 4 << 20;

/// A segment to put: its key and content.
pub(super) struct Segment {
    pub(super) key: String,
    pub(super) body: Vec<u8>,
}

/// The segments of one file, filled in the file's order.
pub(super) struct Segments {
    file: FileRef,
    /// Results before this one (in the file's order) were written by earlier invocations.
    first_taken: usize,
    /// Results seen so far.
    seen: usize,
    number: u32,
    body: Vec<u8>,
    /// Whether the segment being filled holds text of a result this invocation may write.
    holds_taken: bool,
}

impl Segments {
    pub(super) fn new(file: &FileRef, first_taken: usize) -> Segments {
        Segments {
            file: file.clone(),
            first_taken,
            seen: 0,
            number: 0,
            body: Vec::new(),
            holds_taken: false,
        }
    }

    /// Moves the long text of the file's next result apart, into the segment being filled.
    /// Answers the segment this closes, when it holds a result this invocation may write
    /// (one that holds only results written before was put whole by the invocation that wrote
    /// the last of them).
    pub(super) fn keep(&mut self, result: &mut TestResult) -> Option<Segment> {
        let taken = self.seen >= self.first_taken;
        self.seen += 1;
        if result
            .attempts
            .iter()
            .all(|a| a.kept.is_some() || a.text_len() <= verdict_model::INLINE_TEXT_BYTES)
        {
            return None;
        }
        let closed = match self.body.len() >= SEGMENT_BYTES {
            true => self.close(),
            false => None,
        };
        let (segment, body) = (self.number, &mut self.body);
        for attempt in &mut result.attempts {
            attempt.keep_text_apart(|text| {
                let offset = body.len() as u64;
                // Text that is a String serializes; nothing here can fail.
                let _ = serde_json::to_writer(&mut *body, text);
                KeptText {
                    segment,
                    offset,
                    len: body.len() as u64 - offset,
                    fingerprint: None,
                }
            });
        }
        result.derive();
        self.holds_taken |= taken;
        closed
    }

    /// The segment being filled, to put when the invocation ends, if it holds a result this
    /// invocation may have written.
    pub(super) fn last(mut self) -> Option<Segment> {
        self.close()
    }

    fn close(&mut self) -> Option<Segment> {
        let body = std::mem::take(&mut self.body);
        let key = kept_text_key(&self.file.run, &self.file.file_id, self.number);
        let holds_taken = std::mem::take(&mut self.holds_taken);
        self.number += 1;
        holds_taken.then_some(Segment { key, body })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use verdict_model::{Attempt, Limits, Status, TestCase};
    use verdict_store::{FileId, ProjectName, RunKey, RunRef};

    fn file() -> FileRef {
        FileRef {
            run: RunRef {
                project: ProjectName::parse("acme").unwrap(),
                run_key: RunKey::parse("r1").unwrap(),
            },
            file_id: FileId::parse(&"0".repeat(32)).unwrap(),
        }
    }

    /// Result `i`: failing with a trace of `trace` bytes, or passing when 0.
    fn result(i: usize, trace: usize) -> TestResult {
        let mut attempt = Attempt::new(Status::Failed, 1);
        attempt.details = Some("x".repeat(trace));
        if trace == 0 {
            attempt = Attempt::new(Status::Passed, 1);
        }
        let case = TestCase {
            classname: "C".into(),
            name: format!("t{i}"),
            attempts: vec![attempt],
            ..TestCase::default()
        };
        TestResult::from_case(case, &Limits::DEFAULT).unwrap()
    }

    /// Every segment an invocation starting at `first_taken` puts, over `results`.
    fn put(results: &[TestResult], first_taken: usize) -> (Vec<TestResult>, Vec<Segment>) {
        let mut segments = Segments::new(&file(), first_taken);
        let mut out = Vec::new();
        let mut put = Vec::new();
        for r in results {
            let mut r = r.clone();
            put.extend(segments.keep(&mut r));
            out.push(r);
        }
        put.extend(segments.last());
        (out, put)
    }

    #[test]
    fn segments_are_the_same_whichever_invocation_puts_them() {
        // 3 KB of trace each (4 MiB in about 1,400), passes between them: four segments.
        let results: Vec<TestResult> = (0..7_000)
            .map(|i| result(i, if i % 3 == 0 { 0 } else { 3_000 }))
            .collect();
        let (whole, all) = put(&results, 0);
        assert_eq!(all.len(), 4);
        assert!(all[..3].iter().all(|s| s.body.len() >= SEGMENT_BYTES));
        let by_key: std::collections::HashMap<&str, &[u8]> = all
            .iter()
            .map(|s| (s.key.as_str(), s.body.as_slice()))
            .collect();
        // Continued from result 3,000 (inside the second segment): it puts the second segment
        // again, whole and the same, and the ones after; its results point where the first
        // invocation's did.
        let (continued, again) = put(&results, 3_000);
        assert_eq!(
            again.iter().map(|s| s.key.as_str()).collect::<Vec<_>>(),
            all[1..].iter().map(|s| s.key.as_str()).collect::<Vec<_>>()
        );
        for segment in &again {
            assert_eq!(segment.body.as_slice(), by_key[segment.key.as_str()]);
        }
        assert_eq!(continued, whole);
        // Every kept range holds its result's text.
        let kept = whole[1].attempts[0].kept.as_ref().unwrap();
        let body = by_key[kept_text_key(&file().run, &file().file_id, kept.segment).as_str()];
        let range = &body[kept.offset as usize..(kept.offset + kept.len) as usize];
        let text: verdict_model::AttemptText = serde_json::from_slice(range).unwrap();
        assert_eq!(text.details.unwrap().len(), 3_000);
        assert_eq!(whole[1].fingerprint, results[1].fingerprint);
    }

    #[test]
    fn a_file_without_long_text_puts_nothing() {
        let results: Vec<TestResult> = (0..100).map(|i| result(i, i % 2 * 100)).collect();
        let (out, put) = put(&results, 0);
        assert!(put.is_empty());
        assert_eq!(out, results);
    }
}
