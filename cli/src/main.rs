//! `verdict`: see what Verdict makes of a report (`parse`).

mod parse;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "verdict",
    version,
    about = "Verdict test-results service command line"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Parse report files and print one JSON object per file.
    Parse(parse::Args),
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Parse(args) => parse::run(&args),
    }
}
