//! Writes a generated JUnit report (the benchmark's generator) to a file, for the side-by-side
//! comparison of `verdict parse` with other parsers (`scripts/parse_side_by_side.py`):
//! `cargo run --release -p verdict-formats --example generate_junit -- CASES PATH`.

#[path = "../tests/support/generate.rs"]
mod generate;

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(cases), Some(path)) = (args.next().and_then(|c| c.parse().ok()), args.next()) else {
        eprintln!("usage: generate_junit CASES PATH");
        std::process::exit(2);
    };
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    std::io::copy(&mut generate::JunitGenerator::new(cases), &mut out)?;
    Ok(())
}
