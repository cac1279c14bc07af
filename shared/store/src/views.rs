//! Sorted views of a run's results: the test ids of one ordering (and filter) of a run, kept
//! in S3 so that every page after the first costs one ranged GetObject and one BatchGetItem,
//! whatever the size of the run. A view is named after everything its content depends on (the
//! query and the run's file counters), so a run that changes gets new views, never a stale one.
//! The parse function makes the unfiltered views of every ordering when a run settles
//! ([`Store::make_views`]); any other view is made by the first request that asks for it.

use crate::attrs::Item;
use crate::catalog::CatalogEntry;
use crate::keys::view_key;
use crate::outcomes::TestOutcome;
use crate::queries::{test_row, ResultFilter, TestRow};
use crate::{Run, RunRef, Store, StoreError};
use sha2::{Digest, Sha256};
use std::collections::HashMap;

/// A test id (64 hex digits) and a newline: views are fixed-width, so a page is a byte range.
const RECORD: u64 = 65;

/// Tests a run may have to be sorted. Making a view reads the whole run (1,000 results per
/// Query): about 190 MB of items and 250 sequential Queries at this bound, which fits the
/// functions' memory and, made when the run settles, no request waits for it (estimated, not
/// measured on AWS; the integration test sorts a run of this size on DynamoDB Local).
pub const MAX_SORTED_TESTS: u64 = 250_000;

/// Runs from this many tests get their unfiltered views when they settle ([`Store::make_views`]):
/// a smaller run's first sorted request reads it in at most 20 Queries, while making views at
/// every settle would read the whole run again each time one of its files arrives.
pub const VIEWS_AT_SETTLE_FROM_TESTS: u64 = 20_000;

/// Whether `run`, settled, gets its views made ([`VIEWS_AT_SETTLE_FROM_TESTS`] to
/// [`MAX_SORTED_TESTS`] tests, every file settled).
pub fn views_due(run: &Run) -> bool {
    run.files_unsettled() == 0
        && (VIEWS_AT_SETTLE_FROM_TESTS..=MAX_SORTED_TESTS).contains(&run.summary.tests)
}

/// The orderings of a run's results (`order=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// By name, then test id.
    Name,
    /// Slowest first.
    Duration,
    /// Worst status first, then by name.
    Status,
}

impl Order {
    /// Every ordering.
    pub const ALL: [Order; 3] = [Order::Name, Order::Duration, Order::Status];

    /// The ordering `text` ([`Order::as_str`]) names.
    pub fn parse(text: &str) -> Option<Order> {
        Order::ALL.into_iter().find(|o| o.as_str() == text)
    }

    /// Whether the ordering runs high to low unless `dir=` says otherwise: slowest first, worst
    /// status first; names run A to Z.
    pub fn descending_by_default(self) -> bool {
        matches!(self, Order::Duration | Order::Status)
    }

    /// The name the API uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Order::Name => "name",
            Order::Duration => "duration",
            Order::Status => "status",
        }
    }
}

/// What sorting and cataloguing a run's results need of each: its catalog entry and its
/// duration. Every result of a run is held while its views are made, so nothing more is kept
/// (a whole [`TestRow`] is several times the size).
pub(crate) struct ViewRow {
    pub(crate) entry: CatalogEntry,
    duration_ms: u64,
}

impl ViewRow {
    fn of(row: TestRow) -> ViewRow {
        ViewRow {
            duration_ms: row.duration_ms,
            entry: CatalogEntry::from(row),
        }
    }

    fn outcome(&self) -> TestOutcome {
        TestOutcome {
            test_id: self.entry.test_id.clone(),
            status: self.entry.status,
            flaky: self.entry.flaky,
            duration_ms: self.duration_ms,
        }
    }
}

/// Sorts results by `order`, high to low when `descending`; ties by name then test id (always
/// A to Z), so an ordering is the same on every read.
pub(crate) fn sort_rows(rows: &mut [ViewRow], order: Order, descending: bool) {
    rows.sort_by(|a, b| {
        let (x, y) = (&a.entry, &b.entry);
        let primary = match order {
            Order::Duration => a.duration_ms.cmp(&b.duration_ms),
            Order::Status => x.status.severity().cmp(&y.status.severity()),
            Order::Name => x.name.cmp(&y.name),
        };
        let primary = if descending {
            primary.reverse()
        } else {
            primary
        };
        primary.then_with(|| (&x.name, &x.test_id).cmp(&(&y.name, &y.test_id)))
    });
}

/// One sorted view of a run's results: an ordering, its direction, and a filter.
#[derive(Debug, Clone, Copy)]
pub struct ViewSpec<'a> {
    /// The ordering.
    pub order: Order,
    /// High to low.
    pub descending: bool,
    /// Which results it holds.
    pub filter: &'a ResultFilter,
}

impl ViewSpec<'_> {
    /// The view's key: everything its content depends on names it, the ordering, the filter,
    /// and the run's files (a file that settles changes which results are whole).
    fn key(&self, run: &Run) -> String {
        let filter = self.filter;
        let hash = made_of_hash(
            run,
            &[
                serde_json::json!(filter
                    .statuses
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()),
                serde_json::json!(filter.flaky_only),
                serde_json::json!(filter.name_contains),
                serde_json::json!(filter.file.as_ref().map(|f| f.as_str())),
            ],
        );
        let dir = if self.descending { "desc" } else { "asc" };
        view_key(&run.run, &format!("{}-{dir}-{hash}", self.order.as_str()))
    }
}

/// 16 hex digits of SHA-256 of what a document derived from `run` is made of: `query` (what
/// was asked) and the run's file counters (a file that settles changes which results are whole).
pub(crate) fn made_of_hash(run: &Run, query: &[serde_json::Value]) -> String {
    let made_of = serde_json::json!([
        query,
        run.files_registered,
        run.files_done,
        run.files_failed,
        run.files_duplicate,
    ]);
    hex::encode(&Sha256::digest(made_of.to_string().as_bytes())[..8])
}

impl Store {
    /// Test ids `offset..offset + count` of a sorted view of `run`, making the view first if
    /// there is none yet (one read of every result the filter keeps).
    pub async fn sorted_ids(
        &self,
        run: &Run,
        spec: &ViewSpec<'_>,
        offset: u64,
        count: u64,
    ) -> Result<Vec<String>, StoreError> {
        let key = spec.key(run);
        if let Some(ids) = self.read_view(&key, offset, count).await? {
            return Ok(ids);
        }
        let (made_from, mut rows) = self.shown_results(&run.run, spec.filter).await?;
        sort_rows(&mut rows, spec.order, spec.descending);
        self.put_view(&spec.key(&made_from), &rows).await?;
        Ok(rows
            .into_iter()
            .skip(offset as usize)
            .take(count as usize)
            .map(|r| r.entry.test_id)
            .collect())
    }

    /// Makes the unfiltered views of every ordering, both ways, and the run's catalog, from one
    /// read of the run: what a dashboard's test table and test search open, made when the run
    /// settles so that no request reads the whole run. Gives back what that read makes of
    /// [`Store::run_outcomes`] (the outcome of each result shown, in test-id order, with the
    /// run item that judged them), so that a settle reads a large run once; `None` unless the
    /// results shown are as many as the run counts (a read stopped at [`MAX_SORTED_TESTS`]
    /// results, which items of an earlier run under the same keys can cause, is not whole).
    pub async fn make_views(
        &self,
        run: &Run,
    ) -> Result<Option<(Run, Vec<TestOutcome>)>, StoreError> {
        let filter = ResultFilter::default();
        let (run, mut rows) = self.shown_results(&run.run, &filter).await?;
        let outcomes = (rows.len() as u64 == run.summary.tests)
            .then(|| rows.iter().map(ViewRow::outcome).collect());
        self.put_catalog(&run, &mut rows).await?;
        for order in Order::ALL {
            for descending in [false, true] {
                let spec = ViewSpec {
                    order,
                    descending,
                    filter: &filter,
                };
                sort_rows(&mut rows, order, descending);
                self.put_view(&spec.key(&run), &rows).await?;
            }
        }
        Ok(outcomes.map(|outcomes| (run, outcomes)))
    }

    /// Every result of `run` the filter keeps that the run shows (each file that wrote it is
    /// done), at most [`MAX_SORTED_TESTS`], as sorting needs them; with the run item they were
    /// judged by, read after them, which names what they were made from.
    pub(crate) async fn shown_results(
        &self,
        run: &RunRef,
        filter: &ResultFilter,
    ) -> Result<(Run, Vec<ViewRow>), StoreError> {
        // Of each row as it is read, only what a view keeps and which files wrote it, as the
        // number of that list of files (a run has few): a run of 100,000 tests as full rows
        // would double the parse function's memory.
        let mut rows: Vec<(ViewRow, usize)> = Vec::new();
        let mut writers: HashMap<(u64, Vec<String>), usize> = HashMap::new();
        let mut start = None;
        loop {
            let page = self.list_results(run, filter, 1000, start.as_ref()).await?;
            for mut row in page.items {
                let known = writers.len();
                let list = *writers
                    .entry((row.created_ms, std::mem::take(&mut row.contributors)))
                    .or_insert(known);
                rows.push((ViewRow::of(row), list));
            }
            start = page.next;
            if start.is_none() || rows.len() as u64 >= MAX_SORTED_TESTS {
                break;
            }
        }
        let found = self.get_run(run).await?.ok_or_else(|| {
            StoreError::permanent("shown results", format!("run {} is gone", run.run_key))
        })?;
        let mut shown_lists = vec![false; writers.len()];
        for ((created_ms, list), number) in &writers {
            shown_lists[*number] = found.shows(*created_ms, list);
        }
        let shown = rows
            .into_iter()
            .filter(|(_, list)| shown_lists[*list])
            .map(|(row, _)| row)
            .collect();
        Ok((found, shown))
    }

    /// Writes a view: the test ids of `rows`, in order.
    async fn put_view(&self, key: &str, rows: &[ViewRow]) -> Result<(), StoreError> {
        let mut body = Vec::with_capacity(rows.len() * RECORD as usize);
        for row in rows {
            body.extend_from_slice(row.entry.test_id.as_bytes());
            body.push(b'\n');
        }
        self.put_derived(key, body).await
    }

    /// Writes a document derived from a run's results (a view, a comparison): a cache, named
    /// after what it was made from, under the run's views.
    pub async fn put_derived(&self, key: &str, body: Vec<u8>) -> Result<(), StoreError> {
        self.put_object("PutObject view", key, body).await
    }

    /// A derived document in whole; `None` when there is none (yet).
    pub async fn read_derived(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.read_object("GetObject view", key, None).await
    }

    /// Test ids `offset..offset + count` of a view; `None` when there is no such view (yet).
    async fn read_view(
        &self,
        key: &str,
        offset: u64,
        count: u64,
    ) -> Result<Option<Vec<String>>, StoreError> {
        let Some(bytes) = self
            .read_range(key, offset * RECORD, (offset + count) * RECORD)
            .await?
        else {
            return Ok(None);
        };
        Ok(Some(
            String::from_utf8_lossy(&bytes)
                .lines()
                .map(str::to_string)
                .collect(),
        ))
    }

    /// The results of `test_ids` in `run`, in that order (ids without an item are left out).
    pub async fn get_results(
        &self,
        run: &RunRef,
        test_ids: &[String],
    ) -> Result<Vec<TestRow>, StoreError> {
        let keys: Vec<Item> = test_ids.iter().map(|id| run.test_key(id)).collect();
        let items = self.batch_get(keys, &[], false).await?;
        let mut rows: HashMap<String, TestRow> = items
            .iter()
            .filter_map(test_row)
            .map(|row| (row.test_id.clone(), row))
            .collect();
        Ok(test_ids.iter().filter_map(|id| rows.remove(id)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use verdict_model::Status;

    fn row(id: &str, status: Status, duration_ms: u64) -> ViewRow {
        ViewRow::of(TestRow {
            name: format!("name of {id}"),
            duration_ms,
            ..TestRow::bare(id, "r", status, 0)
        })
    }

    #[test]
    fn orderings_are_total() {
        let mut rows = vec![
            row("2", Status::Passed, 5),
            row("1", Status::Error, 5),
            row("3", Status::Failed, 9),
        ];
        let ids = |rows: &[ViewRow]| {
            rows.iter()
                .map(|r| r.entry.test_id.clone())
                .collect::<Vec<_>>()
        };
        sort_rows(&mut rows, Order::Duration, true);
        assert_eq!(ids(&rows), ["3", "1", "2"]);
        sort_rows(&mut rows, Order::Duration, false);
        assert_eq!(ids(&rows), ["1", "2", "3"]);
        sort_rows(&mut rows, Order::Status, true);
        assert_eq!(ids(&rows), ["1", "3", "2"]);
        sort_rows(&mut rows, Order::Status, false);
        assert_eq!(ids(&rows), ["2", "3", "1"]);
        sort_rows(&mut rows, Order::Name, false);
        assert_eq!(ids(&rows), ["1", "2", "3"]);
        sort_rows(&mut rows, Order::Name, true);
        assert_eq!(ids(&rows), ["3", "2", "1"]);
        for order in Order::ALL {
            assert_eq!(Order::parse(order.as_str()), Some(order));
        }
        assert_eq!(Order::parse("random"), None);
    }
}
