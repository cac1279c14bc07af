//! How far an invocation got with a file before it stopped to let the next one continue:
//! recorded on the file item under the invocation's lease, which it then gives back. The next
//! invocation skips the results already written and starts its sums from these.

use super::attr as file_attr;
use super::lease::ClaimCount;
use crate::attrs::{get_map, get_u64, n, Expr, Item};
use crate::counts::{summary_from, Delta, COUNTERS};
use crate::keys::FileRef;
use crate::{Store, StoreError};
use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::HashMap;
use verdict_model::Summary;

/// The progress map's own attributes.
mod attr {
    pub(super) const WRITTEN: &str = "written";
    pub(super) const COUNTS: &str = "counts";
    pub(super) const CONTRIBUTION: &str = "contribution";
}

/// A file's results written so far: the first `written` in the order the file gives them
/// (each written in full), and what they add up to.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Progress {
    /// Results written, from the file's first.
    pub written: u64,
    /// Their counts.
    pub counts: Summary,
    /// The sum of their deltas to the run.
    pub contribution: Delta,
}

impl Progress {
    pub(crate) fn to_attr(&self) -> AttributeValue {
        AttributeValue::M(HashMap::from([
            (attr::WRITTEN.to_string(), n(self.written)),
            (attr::COUNTS.to_string(), Delta::of(&self.counts).to_attr()),
            (attr::CONTRIBUTION.to_string(), self.contribution.to_attr()),
        ]))
    }

    pub(crate) fn from_item(item: &Item) -> Option<Progress> {
        let map = get_map(item, file_attr::PROGRESS)?;
        Some(Progress {
            written: get_u64(map, attr::WRITTEN),
            counts: get_map(map, attr::COUNTS)
                .map(|m| summary_from(COUNTERS.map(|k| get_u64(m, k))))
                .unwrap_or_default(),
            contribution: get_map(map, attr::CONTRIBUTION)
                .map(Delta::from_item)
                .unwrap_or_default(),
        })
    }
}

impl Store {
    /// Records `progress` on a file we hold the lease of and gives the lease back, so the next
    /// delivery (or the sweep) claims it at once and continues from there, the claim counting
    /// toward the file's bound as `count` says. `Ok(false)` when the lease was lost meanwhile.
    pub async fn checkpoint_file(
        &self,
        file: &FileRef,
        owner: &str,
        progress: &Progress,
        count: ClaimCount,
    ) -> Result<bool, StoreError> {
        let mut e = Expr::default();
        let sets = vec![
            e.set(file_attr::PROGRESS, progress.to_attr()),
            e.set(file_attr::LEASE_UNTIL, n(0)),
        ];
        let update = count.update(&mut e, sets);
        let condition = super::lease::held_by(&mut e, owner);
        self.updated_if("CheckpointFile", file.item_key(), update, condition, e)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_reads_back_as_written() {
        let progress = Progress {
            written: 1_234,
            counts: Summary {
                tests: 1_234,
                passed: 1_200,
                failed: 34,
                duration_ms: 99,
                ..Summary::default()
            },
            contribution: Delta([1, 2, 3, 4, 5, 6, 7, 8, -9]),
        };
        let item: Item = HashMap::from([(file_attr::PROGRESS.to_string(), progress.to_attr())]);
        assert_eq!(Progress::from_item(&item), Some(progress));
        assert_eq!(Progress::from_item(&HashMap::new()), None);
    }
}
