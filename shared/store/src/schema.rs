//! Creating the table and the bucket: for the local stack and tests. On AWS the SAM template
//! (`infra/template.yaml`) declares the same table; a test checks the two agree.

use crate::attrs::{PK, SK};
use crate::{Store, StoreError};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TimeToLiveSpecification,
};

/// Attribute holding each item's expiry (seconds since the epoch) for DynamoDB TTL.
pub(crate) use crate::attrs::EXPIRES_AT;

/// A global secondary index: its name, key attributes and the attributes it projects
/// (`None`: keys only; `Some(&[])`: all).
pub(crate) struct IndexSpec {
    pub name: &'static str,
    pub pk: &'static str,
    pub sk: &'static str,
    pub projection: Option<&'static [&'static str]>,
}

impl IndexSpec {
    /// Whether an item's attribute `name` is copied into this index (for an item in it).
    pub(crate) fn projects(&self, name: &str) -> bool {
        [PK, SK, self.pk, self.sk].contains(&name)
            || match self.projection {
                None => false,
                Some([]) => true,
                Some(names) => names.contains(&name),
            }
    }
}

/// What the `runs` and `branch` indexes project of a run item: what a runs listing shows and
/// filters on. Not the writers (`uncommitted`, `exclusive_writer`): the run item is rewritten
/// several times per file, and each rewrite is written to every index that projects it, at
/// the size it projects.
const RUN_LISTING: &[&str] = &[
    "project",
    "run_key",
    "created_ms",
    "expires_at",
    "metadata",
    "branch",
    "commit_sha",
    "trigger",
    "tests",
    "passed",
    "failed",
    "errors",
    "skipped",
    "xfailed",
    "xpassed",
    "flaky",
    "duration_ms",
    "files_registered",
    "files_done",
    "files_failed",
    "files_duplicate",
    "files_settled",
];

/// Every index of the table. The access pattern each serves is in `docs/data-model.md`.
pub(crate) const INDEXES: [IndexSpec; 6] = [
    IndexSpec {
        name: "runs",
        pk: "runs_pk",
        sk: "runs_sk",
        projection: Some(RUN_LISTING),
    },
    IndexSpec {
        name: "branch",
        pk: "branch_pk",
        sk: "branch_sk",
        projection: Some(RUN_LISTING),
    },
    IndexSpec {
        name: "fingerprint",
        pk: "fp_pk",
        sk: "fp_sk",
        projection: Some(&[
            "branch",
            "classname",
            "name",
            "status",
            "message",
            "contrib",
        ]),
    },
    IndexSpec {
        name: "problems",
        pk: "pk",
        sk: "prob_sk",
        projection: Some(&[
            "suite",
            "classname",
            "name",
            "status",
            "flaky",
            "duration_ms",
            "attempt_count",
            "message",
            "failure_type",
            "fingerprint",
            "contrib",
            // Which run wrote it: an item of an earlier run under the same key waits for TTL.
            "created_ms",
        ]),
    },
    IndexSpec {
        name: "uploads",
        pk: "upl_pk",
        sk: "upl_sk",
        projection: Some(&[]),
    },
    IndexSpec {
        name: "sweep",
        pk: "sweep_pk",
        sk: "sweep_sk",
        projection: None,
    },
];

fn key(name: &str, kind: KeyType) -> KeySchemaElement {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(kind)
        .build()
        .expect("key schema element has its required fields")
}

fn string_attr(name: &str) -> AttributeDefinition {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .expect("attribute definition has its required fields")
}

impl Store {
    /// Creates the table (on-demand, TTL on `expires_at`) with every index.
    pub async fn create_table(&self) -> Result<(), StoreError> {
        let mut request = self
            .ddb
            .create_table()
            .table_name(&self.table)
            .billing_mode(BillingMode::PayPerRequest)
            .key_schema(key(PK, KeyType::Hash))
            .key_schema(key(SK, KeyType::Range))
            .attribute_definitions(string_attr(PK))
            .attribute_definitions(string_attr(SK));
        for index in &INDEXES {
            let projection = match index.projection {
                None => Projection::builder().projection_type(ProjectionType::KeysOnly),
                Some([]) => Projection::builder().projection_type(ProjectionType::All),
                Some(attrs) => attrs.iter().fold(
                    Projection::builder().projection_type(ProjectionType::Include),
                    |p, a| p.non_key_attributes(*a),
                ),
            };
            if index.pk != PK {
                request = request.attribute_definitions(string_attr(index.pk));
            }
            request = request
                .attribute_definitions(string_attr(index.sk))
                .global_secondary_indexes(
                    GlobalSecondaryIndex::builder()
                        .index_name(index.name)
                        .key_schema(key(index.pk, KeyType::Hash))
                        .key_schema(key(index.sk, KeyType::Range))
                        .projection(projection.build())
                        .build()
                        .expect("index has its required fields"),
                );
        }
        request
            .send()
            .await
            .map_err(|e| StoreError::from_sdk("CreateTable", e))?;
        self.ddb
            .update_time_to_live()
            .table_name(&self.table)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .enabled(true)
                    .attribute_name(EXPIRES_AT)
                    .build()
                    .expect("TTL specification has its required fields"),
            )
            .send()
            .await
            .map_err(|e| StoreError::from_sdk("UpdateTimeToLive", e))?;
        Ok(())
    }

    /// Creates the bucket.
    pub async fn create_bucket(&self) -> Result<(), StoreError> {
        self.s3
            .create_bucket()
            .bucket(&self.bucket)
            .send()
            .await
            .map_err(|e| StoreError::from_sdk("CreateBucket", e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index(name: &str) -> &'static IndexSpec {
        INDEXES.iter().find(|i| i.name == name).unwrap()
    }

    #[test]
    fn an_index_copies_its_keys_and_the_attributes_its_projection_names() {
        // ALL: everything.
        assert!(index("uploads").projects("anything"));
        // A run listing's attributes, not the run item's writers.
        assert!(index("runs").projects("files_settled"));
        assert!(!index("runs").projects("uncommitted"));
        // INCLUDE: the keys and what it lists.
        let fingerprint = index("fingerprint");
        for name in ["pk", "sk", "fp_pk", "fp_sk", "status"] {
            assert!(fingerprint.projects(name), "{name}");
        }
        assert!(!fingerprint.projects("parts"));
        // KEYS_ONLY: the keys alone.
        let sweep = index("sweep");
        assert!(sweep.projects("sweep_pk") && sweep.projects("pk"));
        assert!(!sweep.projects("name"));
    }
}
