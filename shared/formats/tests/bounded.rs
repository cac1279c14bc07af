//! A poison report costs one failed file, never the memory of the machine: each bound of
//! `ParseLimits` fails a crafted input with its own error, and the peak memory the parse used
//! (counted by this test binary's allocator) stays under the bound, however large the input.
#![allow(unsafe_code)] // the counting allocator below

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Read;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use verdict_formats::{for_each_case, ErrorKind, Format, ParseError, ParseLimits};

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is passed to the system allocator unchanged; only sizes are counted.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        PEAK.fetch_max(live, Ordering::Relaxed);
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        System.dealloc(ptr, layout);
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Peak memory is process-wide: one measured parse at a time.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

const MIB: usize = 1024 * 1024;

/// Parses `input` (streamed, never held whole) and returns its error and the peak of memory
/// allocated during the parse, above what was live before it.
fn parse_measured(
    input: impl Read,
    format: Option<Format>,
    limits: &ParseLimits,
) -> (ParseError, usize) {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let result = for_each_case(input, format, limits, &mut |_| {});
    let peak = PEAK.load(Ordering::Relaxed) - before;
    match result {
        Ok(outcome) => panic!("accepted as {:?}", outcome.format),
        Err(e) => (e, peak),
    }
}

/// `head`, then `body` repeated to `total` bytes, then `tail`: a large input made as it is read.
fn generated(head: &str, body: &str, total: u64, tail: &str) -> impl Read {
    let body = body.as_bytes().to_vec();
    let repeats = total / body.len() as u64;
    std::io::Cursor::new(head.as_bytes().to_vec())
        .chain(Repeat {
            body,
            left: repeats,
            at: 0,
        })
        .chain(std::io::Cursor::new(tail.as_bytes().to_vec()))
}

struct Repeat {
    body: Vec<u8>,
    left: u64,
    at: usize,
}

impl Read for Repeat {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let mut n = 0;
        while n < buf.len() && self.left > 0 {
            let take = (self.body.len() - self.at).min(buf.len() - n);
            buf[n..n + take].copy_from_slice(&self.body[self.at..self.at + take]);
            n += take;
            self.at += take;
            if self.at == self.body.len() {
                self.at = 0;
                self.left -= 1;
            }
        }
        Ok(n)
    }
}

const GIB: u64 = 1 << 30;

/// A few times the cap on one buffered piece: a buffer doubles as it grows (and is copied when
/// it moves), and a line is copied once into a string; never anything like the input's size.
fn under_the_piece_cap(peak: usize) -> bool {
    peak < ParseLimits::DEFAULT.max_node_bytes * 6
}

#[test]
fn a_gigabyte_comment_cdata_doctype_or_attribute_with_angle_brackets_inside_fails_early() {
    let cases = [
        ("<testsuite><!--", "a<b>c", "--></testsuite>"),
        ("<testsuite><![CDATA[", "a<b>c", "]]></testsuite>"),
        ("<!DOCTYPE testsuite [", "<!-- x -->", "]><testsuite/>"),
        ("<testsuite name=\"", "a<b>c", "\"/>"),
        (
            "<testsuite><testcase name=\"a\"><system-out>",
            "text ",
            "</system-out></testcase></testsuite>",
        ),
    ];
    for (head, body, tail) in cases {
        let (e, peak) = parse_measured(
            generated(head, body, GIB, tail),
            Some(Format::Junit),
            &ParseLimits::DEFAULT,
        );
        assert_eq!(e.kind, ErrorKind::LimitExceeded, "{head}: {e}");
        assert!(e.position.is_some_and(|p| p.line == Some(1)), "{head}: {e}");
        assert!(under_the_piece_cap(peak), "{head}: peak {} MiB", peak / MIB);
    }
}

#[test]
fn a_gigabyte_line_fails_early_naming_its_line() {
    for (format, head, body) in [
        (Format::Tap, "TAP version 13\n1..1\nok 1 - ", "x"),
        (
            Format::Gotest,
            "{\"Action\":\"run\",\"Test\":\"T\"}\n{\"Action\":\"output\",\"Output\":\"",
            "x",
        ),
    ] {
        let (e, peak) = parse_measured(
            generated(head, body, GIB, "\n"),
            Some(format),
            &ParseLimits::DEFAULT,
        );
        assert_eq!(e.kind, ErrorKind::LimitExceeded, "{format}: {e}");
        assert!(e.reason.contains("a line"), "{format}: {e}");
        let line = e.position.and_then(|p| p.line);
        assert!(matches!(line, Some(2 | 3)), "{format}: {e}");
        assert!(
            under_the_piece_cap(peak),
            "{format}: peak {} MiB",
            peak / MIB
        );
    }
}

#[test]
fn a_gigabyte_json_string_fails_early_with_its_position() {
    let head = "{\"results\": {\"tool\": {\"name\": \"x\"}, \"tests\": [{\"name\": \"";
    let (e, peak) = parse_measured(
        generated(head, "x\\\"", GIB, "\"}]}}"),
        Some(Format::Ctrf),
        &ParseLimits::DEFAULT,
    );
    assert_eq!(e.kind, ErrorKind::LimitExceeded, "{e}");
    assert!(e.reason.contains("a JSON string"), "{e}");
    assert_eq!(e.position.and_then(|p| p.line), Some(1), "{e}");
    assert!(under_the_piece_cap(peak), "peak {} MiB", peak / MIB);
}

/// A gzip member holding `bytes` of small XML comments (thousands of times smaller packed).
fn gzip_member(bytes: usize) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let comment = b"<!--x-->";
    for _ in 0..bytes / comment.len() {
        std::io::Write::write_all(&mut gz, comment).unwrap();
    }
    gz.finish().unwrap()
}

#[test]
fn a_gzip_bomb_fails_fast_as_too_large() {
    let mut head = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut head, b"<testsuites><testsuite name=\"s\">").unwrap();
    let head = head.finish().unwrap();
    let member = gzip_member(4 * MIB);
    // 2,560 members of 4 MiB: 10 GiB of text from about 10 MB.
    let compressed = member.len() * 2560;
    let bomb = std::io::Cursor::new(head).chain(Repeat {
        body: member.clone(),
        left: 2560,
        at: 0,
    });
    // The ratio is judged past 8 MiB here (64 MiB by default) to keep the test quick.
    let mut limits = ParseLimits::DEFAULT;
    limits.inflation.ratio_after = 8 << 20;
    let (e, peak) = parse_measured(bomb, None, &limits);
    assert_eq!(e.kind, ErrorKind::TooLarge, "{e}");
    assert!(e.reason.contains("ratio"), "{e}");
    assert!(
        peak < 8 * MIB,
        "peak {} MiB for a {} MB bomb",
        peak / MIB,
        compressed / 1_000_000
    );

    // Past the size cap too, however well it compresses (the ratio check off).
    limits.inflation.max_bytes = 24 << 20;
    limits.inflation.max_ratio = u64::MAX;
    let big = Repeat {
        body: member,
        left: 64,
        at: 0,
    };
    let (e, peak) = parse_measured(big, Some(Format::Junit), &limits);
    assert_eq!(e.kind, ErrorKind::TooLarge, "{e}");
    assert!(e.reason.contains(&format!("{} bytes", 24 << 20)), "{e}");
    assert!(peak < 8 * MIB, "peak {} MiB", peak / MIB);
}

#[test]
fn bad_character_references_and_a_bare_ampersand_are_errors_with_positions() {
    for bad in ["&#0;", "&#xD800;", "&#99999999;", "a & b", "&#x;"] {
        let xml = format!("<testsuite>\n<testcase name=\"{bad}\"/></testsuite>");
        let e = verdict_formats::parse(xml.as_bytes(), None, &ParseLimits::DEFAULT)
            .err()
            .unwrap_or_else(|| panic!("{bad} accepted"));
        assert!(
            matches!(
                e.kind,
                ErrorKind::Entity | ErrorKind::Malformed | ErrorKind::Encoding
            ),
            "{bad}: {e}"
        );
        assert_eq!(e.position.and_then(|p| p.line), Some(2), "{bad}: {e}");
    }
}

#[test]
fn nan_infinite_and_huge_durations_read_as_bounded_numbers() {
    let xml = "<testsuite><testcase name=\"a\" time=\"NaN\"/><testcase name=\"b\" time=\"inf\"/>\
               <testcase name=\"c\" time=\"1e400\"/><testcase name=\"d\" time=\"-5\"/>\
               <testcase name=\"e\" time=\"1e200\"/></testsuite>";
    let report = verdict_formats::parse(xml.as_bytes(), None, &ParseLimits::DEFAULT).unwrap();
    assert_eq!(report.summary.tests, 5);
    for r in &report.results {
        assert!(
            r.duration_ms <= verdict_model::MAX_DURATION_MS,
            "{}: {}",
            r.name,
            r.duration_ms
        );
    }
    let ctrf = r#"{"results": {"tool": {"name": "x"}, "tests": [
        {"name": "a", "status": "passed", "duration": 1e300},
        {"name": "b", "status": "passed", "duration": -1}]}}"#;
    let report = verdict_formats::parse(ctrf.as_bytes(), None, &ParseLimits::DEFAULT).unwrap();
    assert!(report
        .results
        .iter()
        .all(|r| r.duration_ms <= verdict_model::MAX_DURATION_MS));
}

#[test]
fn json_that_is_too_deep_out_of_range_or_trailing_garbage_is_a_typed_error() {
    let ctrf =
        |tests: &str| format!(r#"{{"results": {{"tool": {{"name": "x"}}, "tests": [{tests}]}}}}"#);
    let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
    let cases = [
        ctrf(&format!(
            r#"{{"name": "a", "status": "passed", "extra": {deep}}}"#
        )),
        ctrf(r#"{"name": "a", "status": "passed", "duration": 123456789012345678901234567890}"#),
        ctrf(r#"{"name": "\ud800", "status": "passed"}"#),
        format!("{} trailing", ctrf(r#"{"name": "a", "status": "passed"}"#)),
    ];
    for case in &cases {
        match verdict_formats::parse(case.as_bytes(), Some(Format::Ctrf), &ParseLimits::DEFAULT) {
            Err(e) => assert!(
                matches!(e.kind, ErrorKind::Malformed | ErrorKind::Encoding),
                "{case}: {e}"
            ),
            // A huge number read as a float is a duration like any other, capped.
            Ok(report) => assert!(report
                .results
                .iter()
                .all(|r| r.duration_ms <= verdict_model::MAX_DURATION_MS)),
        }
    }
}
