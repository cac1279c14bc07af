//! Parser throughput on generated JUnit reports of 10k and 100k test cases, next to bare
//! quick-xml event loops (0.37, which Verdict uses, and 0.42) over the same bytes in the same
//! run, and the parts of the full parse measured alone over the same file (the parser to test
//! cases, the SHA-256 test ids, the failure fingerprints), which bound what the whole can reach.
//! `scripts/bench_report.py` turns criterion's estimates into `docs/benchmarks.md`.

#[path = "../tests/support/generate.rs"]
mod generate;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use sha2::{Digest, Sha256};
use std::hint::black_box;
use verdict_formats::{for_each_case, parse, Format, ParseLimits};
use verdict_model::{
    failure_fingerprint, split_params, test_id, Attempt, TestCase, TestIdentity, TestResult,
};

fn bare_quick_xml_037(bytes: &[u8]) -> usize {
    let mut reader = quick_xml::Reader::from_reader(bytes);
    let mut buf = Vec::new();
    let mut events = 0;
    loop {
        match reader.read_event_into(&mut buf) {
            Ok(quick_xml::events::Event::Eof) => return events,
            Ok(_) => events += 1,
            Err(e) => panic!("{e}"),
        }
        buf.clear();
    }
}

fn bare_quick_xml_042(bytes: &[u8]) -> usize {
    let mut reader = quick_xml_042::Reader::from_reader(bytes);
    let mut buf = Vec::new();
    let mut events = 0;
    loop {
        match reader.read_event_into(&mut buf) {
            Ok(quick_xml_042::events::Event::Eof) => return events,
            Ok(_) => events += 1,
            Err(e) => panic!("{e}"),
        }
        buf.clear();
    }
}

fn junit(c: &mut Criterion) {
    let limits = ParseLimits::DEFAULT;
    for cases in [10_000usize, 100_000] {
        let bytes = generate::JunitGenerator::bytes(cases);
        let mut group = c.benchmark_group(format!("junit_{}k", cases / 1000));
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.sample_size(if cases > 50_000 { 10 } else { 20 });
        group.bench_function(BenchmarkId::new("bare_quick_xml_0_37", cases), |b| {
            b.iter(|| bare_quick_xml_037(black_box(&bytes)));
        });
        group.bench_function(BenchmarkId::new("bare_quick_xml_0_42", cases), |b| {
            b.iter(|| bare_quick_xml_042(black_box(&bytes)));
        });
        // Streaming: every case becomes a TestResult (id, params, capped text, fingerprint)
        // and is dropped, as the ingest path does.
        group.bench_function(BenchmarkId::new("stream_results", cases), |b| {
            b.iter(|| {
                let mut n = 0usize;
                for_each_case(
                    black_box(bytes.as_slice()),
                    Some(Format::Junit),
                    &limits,
                    &mut |case| {
                        n += TestResult::from_case(case, &limits.text)
                            .map_or(0, |r| r.test_id.len());
                    },
                )
                .unwrap();
                n
            });
        });
        // Full parse: detection, results, reruns merged into attempts, summary.
        group.bench_function(BenchmarkId::new("full_parse", cases), |b| {
            b.iter(|| {
                parse(black_box(bytes.as_slice()), None, &limits)
                    .unwrap()
                    .summary
            });
        });
        // The parts, each alone over the same file (throughput is the file's bytes, so each
        // reads as the rate the whole could reach if the rest cost nothing).
        group.bench_function(BenchmarkId::new("part_cases", cases), |b| {
            b.iter(|| {
                let mut n = 0usize;
                for_each_case(
                    black_box(bytes.as_slice()),
                    Some(Format::Junit),
                    &limits,
                    &mut |case| n += case.attempts.len(),
                )
                .unwrap();
                n
            });
        });
        let mut parsed: Vec<TestCase> = Vec::new();
        for_each_case(
            bytes.as_slice(),
            Some(Format::Junit),
            &limits,
            &mut |case| parsed.push(case),
        )
        .unwrap();
        group.bench_function(BenchmarkId::new("part_test_ids", cases), |b| {
            b.iter(|| {
                parsed
                    .iter()
                    .map(|case| {
                        test_id(&TestIdentity {
                            suite: "",
                            classname: &case.classname,
                            file: case.file.as_deref(),
                            name: &case.name,
                        })
                        .len()
                    })
                    .sum::<usize>()
            });
        });
        let failed: Vec<&Attempt> = parsed
            .iter()
            .flat_map(|case| &case.attempts)
            .filter(|a| a.status.is_failure())
            .collect();
        group.bench_function(BenchmarkId::new("part_fingerprints", cases), |b| {
            b.iter(|| {
                failed
                    .iter()
                    .filter_map(|a| {
                        failure_fingerprint(
                            a.failure_type.as_deref(),
                            a.message.as_deref(),
                            a.details.as_deref(),
                        )
                    })
                    .count()
            });
        });
        // The floor: what any parser that produces Verdict's ids and fingerprints must do at
        // least, with no parsing at all. The bare loop over the bytes, a SHA-256 of each case's
        // identity and of each failed attempt's fingerprint input (type, message, top stack
        // lines; not normalised), nothing allocated. Then the same plus the owned strings a
        // result holds (its hex id, class name, name, base name, and a failure's message and
        // details), allocated and freed once each.
        let identities: Vec<String> = parsed
            .iter()
            .map(|case| format!("{}::{}", case.classname, case.name))
            .collect();
        let fingerprint_inputs: Vec<String> = failed
            .iter()
            .map(|a| {
                let top: Vec<&str> = a.details.as_deref().unwrap_or("").lines().take(8).collect();
                [
                    a.failure_type.as_deref().unwrap_or(""),
                    a.message.as_deref().unwrap_or(""),
                    &top.join("\n"),
                ]
                .join("\0")
            })
            .collect();
        let digests = || {
            let mut n = bare_quick_xml_037(black_box(&bytes));
            for id in &identities {
                n += usize::from(Sha256::digest(id.as_bytes())[0]);
            }
            for input in &fingerprint_inputs {
                n += usize::from(Sha256::digest(input.as_bytes())[0]);
            }
            n
        };
        group.bench_function(BenchmarkId::new("floor_digests", cases), |b| {
            b.iter(digests);
        });
        group.bench_function(BenchmarkId::new("floor_owned_results", cases), |b| {
            b.iter(|| {
                let mut n = digests();
                for case in &parsed {
                    let id = "0".repeat(64);
                    let base = split_params(&case.name).0.to_string();
                    let owned = [id, case.classname.clone(), case.name.clone(), base];
                    n += black_box(owned).iter().map(String::len).sum::<usize>();
                }
                for a in &failed {
                    let owned = [a.message.clone(), a.details.clone()];
                    n += black_box(owned)
                        .iter()
                        .flatten()
                        .map(String::len)
                        .sum::<usize>();
                }
                n
            });
        });
        group.finish();
    }
}

criterion_group!(benches, junit);
criterion_main!(benches);
