//! `verdict`: see what Verdict makes of a report (`parse`), upload reports from CI (`upload`),
//! keep a run's report (`report`), administer projects and tokens (`admin`).

mod admin;
mod ci;
mod client;
mod export;
mod parse;
mod report;
mod upload;
mod wait;

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
    /// Upload reports to Verdict from CI (or anywhere).
    Upload(upload::Args),
    /// Write a run's report as one self-contained HTML page (a CI artifact).
    Report(export::Args),
    /// Administer projects and tokens (talks to DynamoDB directly).
    #[command(subcommand)]
    Admin(admin::Admin),
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Parse(args) => parse::run(&args),
        Command::Upload(args) => upload::run(&args),
        Command::Report(args) => export::run(&args),
        Command::Admin(command) => admin::run(command),
    }
}
