//! The content marker: the first file of a run with some bytes owns them; a later file with the
//! same bytes is a duplicate of it.

use super::attr as file_attr;
use crate::attrs::{get_s, n, s, EXPIRES_AT, KIND};
use crate::ddb::conditional;
use crate::keys::{content_sk, item_key, FileId, FileRef};
use crate::{Store, StoreError};
use aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure;

impl Store {
    /// Puts the marker of `sha256` in `file`'s run. `Ok(None)` when `file` owns it (now or
    /// already), `Ok(Some(owner))` when another file does.
    pub async fn put_content_marker(
        &self,
        file: &FileRef,
        sha256: &str,
        expires_at: u64,
    ) -> Result<Option<FileId>, StoreError> {
        let operation = "PutItem content marker";
        let mut item = item_key(file.run.pk(), content_sk(sha256));
        item.extend([
            (KIND.to_string(), s("content")),
            (file_attr::FILE_ID.to_string(), s(file.file_id.as_str())),
            (EXPIRES_AT.to_string(), n(expires_at)),
        ]);
        let result = self
            .ddb
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk) OR file_id = :me")
            .expression_attribute_values(":me", s(file.file_id.as_str()))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let old = match conditional(operation, result)? {
            Ok(_) => return Ok(None),
            Err(Some(old)) => Some(old),
            Err(None) => {
                self.read_key("GetItem content marker", file.run.pk(), content_sk(sha256))
                    .await?
            }
        };
        let owner = old
            .as_ref()
            .and_then(|i| get_s(i, file_attr::FILE_ID))
            .and_then(|id| FileId::parse(id).ok())
            .ok_or_else(|| StoreError::transient(operation, "marker changed; retry"))?;
        Ok(Some(owner))
    }
}
