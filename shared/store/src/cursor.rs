//! Where the next page of a listing starts. DynamoDB continues a Query from the key of the last
//! item it read (`LastEvaluatedKey`); every listing here reads in the order of one sort key
//! that names its item completely (with what the request already says: the project, the run,
//! the test), so a cursor is that one sort key, typed by its listing so that a cursor of one
//! listing can never continue another.

use crate::attrs::{get_s, s, Item};
use crate::keys::{file_sk, item_key, FileId, ProjectName, RunKey, RunRef, SK_RUN, TEST_SK_PREFIX};
use serde::{Deserialize, Serialize};
use std::marker::PhantomData;

/// The continuation of a listing `L`.
#[derive(Serialize, Deserialize)]
pub struct Cursor<L> {
    after: String,
    #[serde(skip)]
    listing: PhantomData<L>,
}

impl<L> std::fmt::Debug for Cursor<L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cursor")
            .field("after", &self.after)
            .finish()
    }
}

impl<L> Clone for Cursor<L> {
    fn clone(&self) -> Self {
        Cursor {
            after: self.after.clone(),
            listing: PhantomData,
        }
    }
}

impl<L> PartialEq for Cursor<L> {
    fn eq(&self, other: &Self) -> bool {
        self.after == other.after
    }
}

/// The runs of a project (or of one branch), newest first.
#[derive(Debug)]
pub enum RunsListing {}
/// The results of a run, in test-id order.
#[derive(Debug)]
pub enum ResultsListing {}
/// The occurrences of one failure across a project's runs, newest (or oldest) first.
#[derive(Debug)]
pub enum OccurrencesListing {}
/// The files of a project in one state, newest first.
#[derive(Debug)]
pub enum UploadsListing {}

impl<L> Cursor<L> {
    /// The cursor after the item whose sort key `sort_attr` is in `last` (a page's
    /// `LastEvaluatedKey`).
    pub(crate) fn after(last: Option<&Item>, sort_attr: &str) -> Option<Cursor<L>> {
        Some(Cursor {
            after: get_s(last?, sort_attr)?.to_string(),
            listing: PhantomData,
        })
    }

    /// The cursor after the item whose sort key is `sort_key`.
    pub(crate) fn at(sort_key: String) -> Cursor<L> {
        Cursor {
            after: sort_key,
            listing: PhantomData,
        }
    }

    /// The sort key of the item it continues after.
    pub(crate) fn sort_key(&self) -> &str {
        &self.after
    }

    /// The run named by a sort key that begins with the run's time key (`{time}#{run}...`).
    fn run_of(&self, project: &ProjectName) -> Option<RunRef> {
        let rest = self.after.split_once('#')?.1;
        let run_key = rest.split('#').next()?;
        Some(RunRef {
            project: project.clone(),
            run_key: RunKey::parse(run_key).ok()?,
        })
    }
}

fn with(mut key: Item, index: [(&str, String); 2]) -> Item {
    key.extend(index.into_iter().map(|(k, v)| (k.to_string(), s(v))));
    key
}

impl Cursor<RunsListing> {
    /// The `ExclusiveStartKey` in the index (`pk_attr`, `sk_attr`) whose partition is `pk`.
    pub(crate) fn start_key(
        &self,
        project: &ProjectName,
        (pk_attr, sk_attr): (&str, &str),
        pk: String,
    ) -> Option<Item> {
        let run = self.run_of(project)?;
        Some(with(
            item_key(run.pk(), SK_RUN.into()),
            [(pk_attr, pk), (sk_attr, self.after.clone())],
        ))
    }
}

impl Cursor<ResultsListing> {
    /// The `ExclusiveStartKey` in the partition of `run`'s results it continues.
    pub(crate) fn start_key(&self, run: &RunRef) -> Option<Item> {
        let test_id = self.after.strip_prefix(TEST_SK_PREFIX)?;
        Some(item_key(run.tests_pk(test_id), self.after.clone()))
    }

    /// The `ExclusiveStartKey` in an index of `run`'s partition whose sort key `sk_attr` is the
    /// test item's own sort key.
    pub(crate) fn start_key_in(&self, run: &RunRef, sk_attr: &str) -> Option<Item> {
        let mut key = self.start_key(run)?;
        key.insert(sk_attr.to_string(), s(&self.after));
        Some(key)
    }
}

impl Cursor<UploadsListing> {
    /// The `ExclusiveStartKey` in the `uploads` index partition `pk`.
    pub(crate) fn start_key(&self, project: &ProjectName, pk: String) -> Option<Item> {
        let run = self.run_of(project)?;
        let file_id = FileId::parse(self.after.rsplit('#').next()?).ok()?;
        Some(with(
            item_key(run.pk(), file_sk(&file_id)),
            [("upl_pk", pk), ("upl_sk", self.after.clone())],
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{test_sk, time_sk, FileRef};

    fn key(pairs: &[(&str, &str)]) -> Item {
        pairs.iter().map(|(k, v)| (k.to_string(), s(*v))).collect()
    }

    #[test]
    fn a_cursor_rebuilds_the_key_dynamodb_gave() {
        let project = ProjectName::parse("acme").unwrap();
        let run_key = RunKey::parse("build-7").unwrap();
        let run = RunRef {
            project: project.clone(),
            run_key: run_key.clone(),
        };
        let runs_sk = time_sk(1_700_000_000_000, &run_key);
        let last = key(&[
            ("pk", &run.pk()),
            ("sk", SK_RUN),
            ("runs_pk", "acme"),
            ("runs_sk", &runs_sk),
        ]);
        let cursor = Cursor::<RunsListing>::after(Some(&last), "runs_sk").unwrap();
        let rebuilt = cursor.start_key(&project, ("runs_pk", "runs_sk"), "acme".into());
        assert_eq!(rebuilt, Some(last));

        let test_id = "ab".repeat(32);
        let last = key(&[("pk", &run.tests_pk(&test_id)), ("sk", &test_sk(&test_id))]);
        let cursor = Cursor::<ResultsListing>::after(Some(&last), "sk").unwrap();
        assert_eq!(cursor.start_key(&run), Some(last));
        assert_eq!(Cursor::<ResultsListing>::after(None, "sk"), None);

        let last = key(&[
            ("pk", &run.tests_pk(&test_id)),
            ("sk", &test_sk(&test_id)),
            ("prob_sk", &test_sk(&test_id)),
        ]);
        let cursor = Cursor::<ResultsListing>::after(Some(&last), "prob_sk").unwrap();
        assert_eq!(cursor.start_key_in(&run, "prob_sk"), Some(last));

        let file = FileRef {
            run: run.clone(),
            file_id: FileId::parse(&"0f".repeat(16)).unwrap(),
        };
        let upl_sk = crate::keys::uploads_sk(1_700_000_000_000, &file);
        let last = key(&[
            ("pk", &run.pk()),
            ("sk", &file_sk(&file.file_id)),
            ("upl_pk", "acme#failed"),
            ("upl_sk", &upl_sk),
        ]);
        let cursor = Cursor::<UploadsListing>::after(Some(&last), "upl_sk").unwrap();
        assert_eq!(cursor.start_key(&project, "acme#failed".into()), Some(last));
    }
}
