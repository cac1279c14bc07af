//! Streams a generated JUnit report of N test cases (default 2,000,000, about 500 MB) through
//! the parser without holding it, turning every case into a `TestResult` and dropping it, as
//! the ingest path does. Run under `/usr/bin/time -v` to read the peak RSS
//! (`scripts/bench_report.py` does).

#[path = "../tests/support/generate.rs"]
mod generate;

use std::io::Read;

/// Counts the bytes the parser pulls.
struct Counted<R> {
    inner: R,
    bytes: u64,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }
}

fn main() {
    let cases: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(2_000_000);
    let limits = verdict_formats::ParseLimits::DEFAULT;
    let mut input = Counted {
        inner: generate::JunitGenerator::new(cases),
        bytes: 0,
    };
    let mut results = 0u64;
    let started = std::time::Instant::now();
    verdict_formats::for_each_case(&mut input, None, &limits, &mut |case| {
        results += u64::from(verdict_model::TestResult::from_case(case, &limits.text).is_some());
    })
    .expect("the generated report parses");
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{{\"bytes\": {}, \"results\": {results}, \"seconds\": {secs:.3}, \"mb_per_s\": {:.1}}}",
        input.bytes,
        input.bytes as f64 / 1e6 / secs
    );
}
