//! The occurrences of one failure across a project's runs: the `fingerprint` index, whose
//! entries for one failure are spread over 16 partitions ([`fingerprint_pks`]). A page Queries
//! them all at once, each from the cursor on, and merges their rows by sort key (run time, run,
//! test id: unique across the partitions). A row is given only when no partition that stopped
//! early can still hold one that comes before it, so pages follow one another in order.

use crate::attrs::{get_s, s, Item};
use crate::cursor::{Cursor, OccurrencesListing};
use crate::keys::{fingerprint_pks, time_floor, ProjectName};
use crate::queries::{test_row, OccurrenceFilter, Page, TestRow, TIME_MAX_MS};
use crate::results::attr as test_attr;
use crate::{Store, StoreError};
use futures_util::future::try_join_all;
use std::cmp::Ordering;

/// The fewest entries one partition's Query asks for.
const MIN_READ_PER_PARTITION: i32 = 2;

/// What one partition's Query read: its rows with their sort keys, and the sort key it
/// stopped at when it stopped before the end of the window.
#[derive(Debug, Default)]
struct PartitionRead {
    rows: Vec<(String, TestRow)>,
    stopped_at: Option<String>,
}

/// Where a page of merged rows ends.
#[derive(Debug, PartialEq)]
struct Merged {
    rows: Vec<TestRow>,
    /// The sort key the next page starts after (`None`: nothing is left).
    next: Option<String>,
}

/// The rows of `reads` in order (newest first unless `oldest_first`), without the one the
/// cursor stood on (`after`), up to the first place a partition stopped, at most `limit`.
fn merge(
    reads: Vec<PartitionRead>,
    oldest_first: bool,
    after: Option<&str>,
    limit: usize,
) -> Merged {
    let order = |a: &str, b: &str| match oldest_first {
        true => a.cmp(b),
        false => b.cmp(a),
    };
    let frontier = reads
        .iter()
        .filter_map(|read| read.stopped_at.clone())
        .min_by(|a, b| order(a, b));
    let mut rows: Vec<(String, TestRow)> = reads
        .into_iter()
        .flat_map(|read| read.rows)
        .filter(|(key, _)| Some(key.as_str()) != after)
        .filter(|(key, _)| {
            frontier
                .as_deref()
                .is_none_or(|f| order(key, f) != Ordering::Greater)
        })
        .collect();
    rows.sort_by(|(a, _), (b, _)| order(a, b));
    let cut = rows.len() > limit;
    rows.truncate(limit);
    let next = match rows.last() {
        Some((key, _)) if cut => Some(key.clone()),
        _ => frontier,
    };
    Merged {
        rows: rows.into_iter().map(|(_, row)| row).collect(),
        next,
    }
}

impl Store {
    /// The failed results of a project with one failure fingerprint, in the window and of the
    /// branch `filter` names, newest first (or oldest first): one Query of each of the
    /// failure's 16 partitions of the `fingerprint` index, at once, each reading at most
    /// `limit / 8` entries. `branch` is a filter, and a page ends where the first partition
    /// stopped: a page may hold fewer than `limit` rows.
    pub async fn fingerprint_occurrences(
        &self,
        project: &ProjectName,
        fingerprint: &str,
        filter: &OccurrenceFilter,
        limit: i32,
        start: Option<&Cursor<OccurrencesListing>>,
    ) -> Result<Page<TestRow, OccurrencesListing>, StoreError> {
        let after = start.map(|c| c.sort_key().to_string());
        let mut since = time_floor(filter.since_ms.unwrap_or(0));
        let mut until = time_floor(filter.until_ms.map_or(TIME_MAX_MS, |ms| ms + 1));
        if let Some(after) = &after {
            // The cursor's row is read again (the bounds are inclusive) and left out.
            match filter.oldest_first {
                true => since = since.max(after.clone()),
                false => until = until.min(after.clone()),
            }
        }
        let per_partition = (limit.max(1) / 8).max(MIN_READ_PER_PARTITION);
        let reads = try_join_all(fingerprint_pks(project, fingerprint).into_iter().map(|pk| {
            let mut query = self
                .ddb
                .query()
                .table_name(&self.table)
                .index_name("fingerprint")
                .key_condition_expression("fp_pk = :pk AND fp_sk BETWEEN :since AND :until")
                .expression_attribute_values(":pk", s(pk))
                .expression_attribute_values(":since", s(&since))
                .expression_attribute_values(":until", s(&until))
                .scan_index_forward(filter.oldest_first)
                .limit(per_partition);
            if let Some(branch) = &filter.branch {
                query = query
                    .filter_expression("branch = :branch")
                    .expression_attribute_values(":branch", s(branch));
            }
            async move {
                let out = query
                    .send()
                    .await
                    .map_err(|e| StoreError::from_sdk("Query fingerprint", e))?;
                let sort_key = |item: &Item| get_s(item, test_attr::FP_SK).map(str::to_string);
                Ok::<_, StoreError>(PartitionRead {
                    rows: out
                        .items()
                        .iter()
                        .filter_map(|item| {
                            let row = TestRow {
                                fingerprint: Some(fingerprint.to_string()),
                                ..test_row(item)?
                            };
                            Some((sort_key(item)?, row))
                        })
                        .collect(),
                    stopped_at: out.last_evaluated_key().and_then(sort_key),
                })
            }
        }))
        .await?;
        let limit = usize::try_from(limit).unwrap_or(0);
        let merged = merge(reads, filter.oldest_first, after.as_deref(), limit);
        let page = Page {
            items: merged.rows,
            next: merged.next.map(Cursor::at),
        };
        self.settled_rows(project, page).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use verdict_model::Status;

    fn row(key: &str) -> (String, TestRow) {
        (key.into(), TestRow::bare(key, "r", Status::Failed, 0))
    }

    fn read(keys: &[&str], stopped_at: Option<&str>) -> PartitionRead {
        PartitionRead {
            rows: keys.iter().map(|k| row(k)).collect(),
            stopped_at: stopped_at.map(str::to_string),
        }
    }

    fn names(merged: &Merged) -> Vec<&str> {
        merged.rows.iter().map(|r| r.name.as_str()).collect()
    }

    #[test]
    fn rows_past_where_a_partition_stopped_wait_for_the_next_page() {
        // Newest first: partition a stopped at 7, so b's 5 may have an unread 6 before it.
        let reads = vec![read(&["9", "7"], Some("7")), read(&["8", "5"], None)];
        let merged = merge(reads, false, None, 10);
        assert_eq!(names(&merged), ["9", "8", "7"]);
        assert_eq!(merged.next.as_deref(), Some("7"));

        let reads = vec![read(&["1", "3"], Some("3")), read(&["2", "4"], None)];
        let merged = merge(reads, true, None, 10);
        assert_eq!(names(&merged), ["1", "2", "3"]);
        assert_eq!(merged.next.as_deref(), Some("3"));
    }

    #[test]
    fn a_full_page_continues_after_its_last_row_and_the_cursor_s_row_is_left_out() {
        let reads = vec![read(&["9", "6", "3"], None), read(&["8", "5"], None)];
        let merged = merge(reads, false, Some("9"), 2);
        assert_eq!(names(&merged), ["8", "6"]);
        assert_eq!(merged.next.as_deref(), Some("6"));

        let reads = vec![read(&["9"], None), read(&["8"], None)];
        let merged = merge(reads, false, None, 2);
        assert_eq!(names(&merged), ["9", "8"]);
        assert_eq!(merged.next, None, "nothing left to read");

        // A partition that read only rows the branch filter dropped still holds the page back.
        let reads = vec![read(&[], Some("7")), read(&["8", "5"], None)];
        let merged = merge(reads, false, None, 2);
        assert_eq!(names(&merged), ["8"]);
        assert_eq!(merged.next.as_deref(), Some("7"));
    }
}
