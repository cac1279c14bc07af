//! How each test of a run ended, read whole: what comparing a run with its base and recording
//! where its tests were first seen and rolling up their durations need. A run of 250,000 tests
//! is held as a few bytes per test (its id, status, flaky flag and duration), never as its items.

use crate::attrs::{get_bool, get_s, get_u64, s, Item, CREATED_MS, SK};
use crate::keys::{test_id_of_sk, RunRef, TEST_SK_PREFIX};
use crate::queries::contributors;
use crate::results::attr as test_attr;
use crate::{Run, Store, StoreError};
use verdict_model::Status;

/// Times the run's results are read again when files began writing while they were read.
const READS: usize = 3;

/// How one test ended in a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestOutcome {
    /// The test's id.
    pub test_id: String,
    /// The merged result's status.
    pub status: Status,
    /// Whether it passed after a failed attempt.
    pub flaky: bool,
    /// How long it took, in milliseconds.
    pub duration_ms: u64,
}

impl TestOutcome {
    /// The outcome of a test item, if `run` shows it ([`Run::shows`]).
    fn shown_by(run: &Run, item: &Item) -> Option<TestOutcome> {
        if !run.shows(get_u64(item, CREATED_MS), &contributors(item)) {
            return None;
        }
        Some(TestOutcome {
            test_id: test_id_of_sk(get_s(item, SK)?)?.to_string(),
            status: Status::parse(get_s(item, test_attr::STATUS)?)?,
            flaky: get_bool(item, test_attr::FLAKY),
            duration_ms: get_u64(item, test_attr::DURATION_MS),
        })
    }
}

impl Store {
    /// The outcome of every result `run` shows, in test-id order, with the run item that judged
    /// them (`None`: the run is gone): one paginated Query of each of its test partitions.
    ///
    /// [`Run::shows`] must judge by a run item read after the results; each result is judged
    /// as it arrives, by the run item read before, and the run item is read again after: the
    /// two agree unless a file began writing meanwhile (its uncommitted writes could be among
    /// those kept), and then the results are read again.
    pub async fn run_outcomes(
        &self,
        run: &RunRef,
    ) -> Result<Option<(Run, Vec<TestOutcome>)>, StoreError> {
        for _ in 0..READS {
            let Some(before) = self.get_run(run).await? else {
                return Ok(None);
            };
            let query = |pk| {
                self.ddb
                    .query()
                    .table_name(&self.table)
                    .key_condition_expression("pk = :pk AND begins_with(sk, :t)")
                    .expression_attribute_values(":pk", s(pk))
                    .expression_attribute_values(":t", s(TEST_SK_PREFIX))
                    .projection_expression("sk, #status, flaky, #duration, #contrib, #created")
                    .expression_attribute_names("#status", test_attr::STATUS)
                    .expression_attribute_names("#duration", test_attr::DURATION_MS)
                    .expression_attribute_names("#contrib", test_attr::CONTRIB)
                    .expression_attribute_names("#created", CREATED_MS)
            };
            let outcomes = self
                .query_tests_as("Query outcomes", run, query, |item| {
                    TestOutcome::shown_by(&before, &item)
                })
                .await?;
            let Some(after) = self.get_run(run).await? else {
                return Ok(None);
            };
            if after.created_ms == before.created_ms && after.uncommitted == before.uncommitted {
                return Ok(Some((after, outcomes)));
            }
        }
        Err(StoreError::transient(
            "Query outcomes",
            format!(
                "files of run {} kept beginning to write while it was read",
                run.run_key
            ),
        ))
    }
}
