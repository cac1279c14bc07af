//! The retention function: deletes every run older than its project's retention, items and raw
//! objects, then the duration rollups of the days those runs were of, in pages within a time
//! budget. Where it stopped is recorded by the data itself: a run
//! loses its run item last, so the next invocation finds the unfinished run first (oldest first
//! on the runs index) and carries on. Running it again deletes nothing twice and never fails on
//! what is already gone. DynamoDB TTL and the bucket's lifecycle rule are the backstops.

#![warn(missing_docs)]

use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};
use verdict_store::{now_ms, retention_cutoff, Store, StoreError};

/// The schedule's input (every field optional).
#[derive(Debug, Deserialize)]
pub struct Request {
    /// Report what would be deleted without deleting.
    #[serde(default)]
    pub dry_run: bool,
    /// Items deleted per page (one Query of keys, then BatchWriteItem requests of 25).
    #[serde(default = "default_page_items")]
    pub page_items: usize,
}

fn default_page_items() -> usize {
    1000
}

/// When to stop: before the Lambda deadline, or (tests) after a number of delete pages.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    /// Stop before this instant (the Lambda deadline less a margin).
    pub deadline: Option<Instant>,
    /// Stop after this many pages of deletes (tests).
    pub pages: Option<usize>,
}

impl Budget {
    /// Until `remaining` minus a margin for the page in flight.
    pub fn until(remaining: Duration) -> Budget {
        Budget {
            deadline: Some(Instant::now() + remaining.saturating_sub(Duration::from_secs(60))),
            pages: None,
        }
    }

    fn spend(&mut self) -> bool {
        if self.deadline.is_some_and(|d| Instant::now() >= d) {
            return false;
        }
        match &mut self.pages {
            Some(0) => false,
            Some(n) => {
                *n -= 1;
                true
            }
            None => true,
        }
    }
}

/// What one project's pass removed (or, dry, would remove).
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct ProjectReport {
    /// The project.
    pub project: String,
    /// Its retention, in days.
    pub retention_days: u32,
    /// Runs removed.
    pub runs: u64,
    /// Table items removed.
    pub items: u64,
    /// Objects removed.
    pub objects: u64,
}

/// What a retention pass did.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// Whether nothing was deleted, only counted.
    pub dry_run: bool,
    /// Per project.
    pub projects: Vec<ProjectReport>,
    /// False when the budget ran out first: the next invocation continues.
    pub finished: bool,
}

/// Runs looked at per Query of the runs index.
const RUNS_PER_QUERY: i32 = 25;
/// Runs a dry run reports per project.
const DRY_RUN_RUNS: i32 = 1000;

/// Deletes (or with `dry_run` counts) what is past each project's retention, within `budget`.
pub async fn run(
    store: &Store,
    request: &Request,
    mut budget: Budget,
) -> Result<Report, StoreError> {
    let now = now_ms();
    let mut report = Report {
        dry_run: request.dry_run,
        ..Report::default()
    };
    for project in store.list_projects().await? {
        let cutoff = retention_cutoff(now, project.retention_days);
        let mut counts = ProjectReport {
            project: project.name.to_string(),
            retention_days: project.retention_days,
            ..ProjectReport::default()
        };
        if request.dry_run {
            for run in store
                .expired_runs(&project.name, cutoff, DRY_RUN_RUNS)
                .await?
            {
                let would = store.count_run(&run).await?;
                counts.runs += 1;
                counts.items += would.items;
                counts.objects += would.objects;
            }
            let rollups = store
                .expired_duration_rollups(&project.name, cutoff, usize::MAX)
                .await?;
            counts.objects += rollups.len() as u64;
        } else {
            loop {
                let runs = store
                    .expired_runs(&project.name, cutoff, RUNS_PER_QUERY)
                    .await?;
                if runs.is_empty() {
                    break;
                }
                for run in runs {
                    loop {
                        if !budget.spend() {
                            log(&counts, false);
                            report.projects.push(counts);
                            return Ok(report);
                        }
                        let deleted = store.delete_run(&run, request.page_items.max(1)).await?;
                        counts.items += deleted.items;
                        counts.objects += deleted.objects;
                        if deleted.run_finished {
                            counts.runs += 1;
                            break;
                        }
                    }
                }
            }
            // The days the runs deleted were of: their duration rollups, a page at a time.
            loop {
                let rollups = store
                    .expired_duration_rollups(&project.name, cutoff, request.page_items.max(1))
                    .await?;
                if rollups.is_empty() {
                    break;
                }
                if !budget.spend() {
                    log(&counts, false);
                    report.projects.push(counts);
                    return Ok(report);
                }
                store.delete_duration_rollups(&rollups).await?;
                counts.objects += rollups.len() as u64;
            }
        }
        log(&counts, request.dry_run);
        report.projects.push(counts);
    }
    report.finished = true;
    Ok(report)
}

fn log(counts: &ProjectReport, dry_run: bool) {
    tracing::info!(
        project = counts.project,
        retention_days = counts.retention_days,
        runs = counts.runs,
        items = counts.items,
        objects = counts.objects,
        dry_run,
        "retention"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sample_schedule_inputs_parse() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../events");
        let read = |name: &str| -> Request {
            serde_json::from_str(&std::fs::read_to_string(format!("{dir}/{name}")).unwrap())
                .unwrap()
        };
        let plain = read("retention.json");
        assert!(!plain.dry_run);
        assert_eq!(plain.page_items, 1000);
        let dry = read("retention-dry-run.json");
        assert!(dry.dry_run);
        assert_eq!(dry.page_items, 500);
    }

    #[test]
    fn a_budget_of_pages_runs_out() {
        let mut budget = Budget {
            deadline: None,
            pages: Some(2),
        };
        assert!(budget.spend() && budget.spend() && !budget.spend());
        let mut late = Budget::until(Duration::from_secs(30));
        assert!(!late.spend(), "less than the margin left: stop at once");
    }
}
