//! The per-project request budget of the upload API.

use crate::attrs::n;
use crate::keys::{rate_key, ProjectName};
use crate::{Store, StoreError};

/// The rate item's one attribute: requests counted this minute.
const COUNT: &str = "count";

impl Store {
    /// Counts one request against `project`'s budget for the current minute; false when the
    /// budget is spent. One conditional UpdateItem on a counter item that expires by TTL.
    pub async fn take_rate(
        &self,
        project: &ProjectName,
        now_ms: u64,
        per_minute: u32,
    ) -> Result<bool, StoreError> {
        let minute = now_ms / 60_000;
        let result = self
            .ddb
            .update_item()
            .table_name(&self.table)
            .set_key(Some(rate_key(project, minute)))
            .update_expression("ADD #count :one SET #expires = :expires")
            .condition_expression("attribute_not_exists(#count) OR #count < :limit")
            .expression_attribute_names("#count", COUNT)
            .expression_attribute_names("#expires", crate::schema::EXPIRES_AT)
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":limit", n(per_minute))
            .expression_attribute_values(":expires", n(minute * 60 + 3600))
            .send()
            .await;
        Ok(crate::ddb::conditional("UpdateItem rate", result)?.is_ok())
    }
}
