//! A run's tests as a catalog: every test the run shows, with what identifies it (suite, class,
//! name, file, owner, tags) and how it ended there, sorted by name and kept in S3 beside the
//! run's sorted views. `GET /v1/tests` finds tests in the catalog of a project's newest settled
//! run: one object read, whatever the history's size.

use crate::keys::view_key;
use crate::queries::{ResultFilter, TestRow};
use crate::views::{made_of_hash, sort_rows, Order, ViewRow};
use crate::{Run, Store, StoreError};
use serde::{Deserialize, Serialize};
use verdict_model::Status;

/// One test of a catalog.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CatalogEntry {
    /// The test's id.
    pub test_id: String,
    /// Its suite.
    pub suite: String,
    /// Its class (or file).
    pub classname: String,
    /// Its name.
    pub name: String,
    /// The source file the report named.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// Who owns it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// Its tags.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Its status in the run.
    pub status: Status,
    /// Whether it passed there after a failed attempt.
    pub flaky: bool,
}

impl From<TestRow> for CatalogEntry {
    fn from(row: TestRow) -> CatalogEntry {
        CatalogEntry {
            test_id: row.test_id,
            suite: row.suite,
            classname: row.classname,
            name: row.name,
            file: row.file,
            owner: row.owner,
            tags: row.tags,
            status: row.status,
            flaky: row.flaky,
        }
    }
}

/// The catalog's key: named after the run's files, so a run that changes gets a new one.
fn catalog_key(run: &Run) -> String {
    view_key(&run.run, &format!("catalog-{}", made_of_hash(run, &[])))
}

impl Store {
    /// The catalog of `run`, made first (one read of the run) if there is none yet.
    pub async fn catalog(&self, run: &Run) -> Result<Vec<CatalogEntry>, StoreError> {
        if let Some(body) = self.read_derived(&catalog_key(run)).await? {
            return serde_json::Deserializer::from_slice(&body)
                .into_iter()
                .collect::<Result<_, _>>()
                .map_err(|e| StoreError::permanent("read catalog", e.to_string()));
        }
        let (made_from, mut rows) = self
            .shown_results(&run.run, &ResultFilter::default())
            .await?;
        self.put_catalog(&made_from, &mut rows).await?;
        Ok(rows.into_iter().map(|row| row.entry).collect())
    }

    /// Writes the catalog of `run` from its shown results, which it sorts by name then test id.
    pub(crate) async fn put_catalog(
        &self,
        run: &Run,
        rows: &mut [ViewRow],
    ) -> Result<(), StoreError> {
        sort_rows(rows, Order::Name, false);
        let mut body = Vec::new();
        for row in rows.iter() {
            serde_json::to_writer(&mut body, &row.entry)
                .map_err(|e| StoreError::permanent("write catalog", e.to_string()))?;
            body.push(b'\n');
        }
        self.put_derived(&catalog_key(run), body).await
    }
}
