//! `verdict report --html FILE`: a run's report as one self-contained HTML page, to keep as a CI
//! artifact (the API's `GET /v1/runs/{run}/export?format=html`).

use crate::ci;
use crate::client::{with_retries, ApiArgs, Client};
use clap::Args as ClapArgs;
use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(ClapArgs)]
pub(crate) struct Args {
    #[command(flatten)]
    api: ApiArgs,
    /// Run key (default: derived from the CI environment, as `verdict upload` derives it).
    #[arg(long)]
    run: Option<String>,
    /// Where to write the page.
    #[arg(long, value_name = "FILE")]
    html: PathBuf,
}

pub(crate) fn run(args: &Args) -> ExitCode {
    let env: HashMap<String, String> = std::env::vars().collect();
    let run_key = match args.run.as_deref() {
        Some(run) => ci::sanitize(run),
        None => ci::detect(&env, ci::now_secs(), ci::from_git).run_key,
    };
    let client = Client::new(&args.api, Duration::from_secs(60));
    let path = format!("/v1/runs/{run_key}/export?format=html");
    let written = with_retries(|| client.get_text(&path)).and_then(|page| {
        std::fs::write(&args.html, page).map_err(|e| format!("{}: {e}", args.html.display()))
    });
    match written {
        Ok(()) => {
            eprintln!("run {run_key}: report written to {}", args.html.display());
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("verdict report: {message}");
            ExitCode::from(3)
        }
    }
}
