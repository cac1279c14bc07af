//! Slowest-test rollups: per project (all branches, and per branch), day and test, the longest
//! a test took in a run of that day, among each run's slowest ([`SLOWEST_PER_FILE`], from
//! its `done` files' own lists). `GET /v1/tests/slowest` ranks a window's tests by them, exact
//! at any number of runs for the first [`SLOWEST_PER_FILE`]: a test missing from the run
//! where it took longest had that many slower beside it there, each of them a candidate. Rolled
//! per run, once all its files settled, so a run of many shards writes as few as one of one file.
//!
//! A rollup keeps a maximum, which a write raises on condition that it is higher: written again
//! (a redelivery) or in any order, it ends the same, so no claim or transaction is needed.

use crate::attrs::{get_s, get_u64, n, s, Expr, Item, EXPIRES_AT, KIND, PK, SK};
use crate::ddb::conditional;
use crate::files::{rank_slowest, FileState, SlowTest, SLOWEST_PER_FILE};
use crate::keys::{rollup_sk, slow_rollup_pk, slow_rollup_sk, Granularity, ProjectName, RunRef};
use crate::results::attr as test_attr;
use crate::{Store, StoreError};
use futures_util::{stream, StreamExt, TryStreamExt};

const MAX_MS: &str = "max_ms";

impl Store {
    /// Raises the slowest-test rollups of `run`'s day by its slowest tests, once every file
    /// of it settled (from its `done` files' lists): 1 GetItem, 1 Query of its files and up to
    /// 2 × [`SLOWEST_PER_FILE`] conditional UpdateItem (all branches and the run's
    /// branch), a refused condition meaning the rollup is already that high.
    pub async fn roll_slowest(&self, run: &RunRef) -> Result<(), StoreError> {
        let Some(run) = self.get_run(run).await? else {
            return Ok(());
        };
        if run.files_unsettled() > 0 {
            return Ok(());
        }
        let files = self.list_files(&run.run).await?;
        let mut slowest = rank_slowest(
            files
                .into_iter()
                .filter(|f| f.state == FileState::Done)
                .flat_map(|f| f.slowest),
        );
        slowest.truncate(SLOWEST_PER_FILE);
        let branch = run.metadata.branch.as_deref();
        let scopes: Vec<Option<&str>> = match branch {
            Some(b) => vec![None, Some(b)],
            None => vec![None],
        };
        let day = Granularity::Day.start(run.created_ms);
        let mut writes = Vec::with_capacity(scopes.len() * slowest.len());
        for scope in scopes {
            for test in &slowest {
                let pk = slow_rollup_pk(&run.run.project, scope);
                writes.push(self.raise_slow(pk, day, test, run.expires_at));
            }
        }
        stream::iter(writes)
            .buffer_unordered(8)
            .try_collect::<Vec<()>>()
            .await?;
        Ok(())
    }

    async fn raise_slow(
        &self,
        pk: String,
        day_ms: u64,
        test: &SlowTest,
        expires_at: u64,
    ) -> Result<(), StoreError> {
        let mut e = Expr::default();
        let update = format!(
            "SET {}, {}, {}, {}, {}",
            e.set(KIND, s("slow_rollup")),
            e.set(test_attr::TEST_ID, s(&test.test_id)),
            e.set(test_attr::NAME, s(&test.name)),
            e.set(MAX_MS, n(test.duration_ms)),
            e.set(EXPIRES_AT, n(expires_at)),
        );
        let condition = format!(
            "attribute_not_exists({max}) OR {max} < {d}",
            max = e.name(MAX_MS),
            d = e.value(n(test.duration_ms)),
        );
        let key: Item = [
            (PK.to_string(), s(pk)),
            (SK.to_string(), s(slow_rollup_sk(day_ms, &test.test_id))),
        ]
        .into();
        let written = self
            .ddb
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .update_expression(update)
            .condition_expression(condition)
            .set_expression_attribute_names(Some(e.names))
            .set_expression_attribute_values(Some(e.values))
            .send()
            .await;
        // Refused: the rollup is already as high.
        conditional("UpdateItem slow rollup", written)?.ok();
        Ok(())
    }

    /// The slowest-test rollups of `project` (of `branch`, or all branches) for the days from
    /// the one holding `first_ms` to the one holding `last_ms`: a test and the longest it took,
    /// per day it was among a run's slowest. One paginated Query.
    pub async fn slowest_rolled(
        &self,
        project: &ProjectName,
        branch: Option<&str>,
        first_ms: u64,
        last_ms: u64,
    ) -> Result<Vec<SlowTest>, StoreError> {
        if last_ms < first_ms {
            return Ok(Vec::new());
        }
        let query = self
            .ddb
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND sk BETWEEN :first AND :last")
            .expression_attribute_values(":pk", s(slow_rollup_pk(project, branch)))
            .expression_attribute_values(":first", s(rollup_sk(Granularity::Day, first_ms)))
            // The last day's prefix, then `~`, which sorts after every hex digit.
            .expression_attribute_values(
                ":last",
                s(format!("{}~", rollup_sk(Granularity::Day, last_ms))),
            );
        let items = self.query_all("Query slow rollups", query).await?;
        Ok(items
            .iter()
            .filter_map(|item| {
                Some(SlowTest {
                    test_id: get_s(item, test_attr::TEST_ID)?.to_string(),
                    name: get_s(item, test_attr::NAME)?.to_string(),
                    duration_ms: get_u64(item, MAX_MS),
                })
            })
            .collect())
    }
}
