//! Attempts' text kept apart from their test items (`verdict_model::KeptText`): the parse
//! function puts it a segment at a time under `text/` ([`crate::keys::kept_text_key`]), and a
//! test's detail reads it back by range.

use crate::{Store, StoreError};
use std::collections::BTreeMap;
use verdict_model::{AttemptText, TestResult};

impl Store {
    /// Puts a segment of kept text. A segment's content is a function of its file, each text
    /// appended in the file's order: putting it again gives the same bytes, or more of them
    /// after the same, so every range read from it stays what it was.
    pub async fn put_kept_text(&self, key: &str, body: Vec<u8>) -> Result<(), StoreError> {
        self.put_object("PutObject kept text", key, body).await
    }

    /// Puts back the whole text of `result`'s attempts kept apart, and derives the result
    /// again. The attempts one file wrote of a test are side by side in one segment: one
    /// ranged GetObject per segment they are in. A segment that is missing (a run deleted
    /// meanwhile) leaves its attempts their excerpts.
    pub async fn restore_text(&self, result: &mut TestResult) -> Result<(), StoreError> {
        let mut spans: BTreeMap<String, (u64, u64)> = BTreeMap::new();
        for kept in result.attempts.iter().filter_map(|a| a.kept.as_ref()) {
            let end = kept.offset + kept.len;
            let span = spans
                .entry(kept.object.clone())
                .or_insert((kept.offset, end));
            *span = (span.0.min(kept.offset), span.1.max(end));
        }
        if spans.is_empty() {
            return Ok(());
        }
        let reads = spans.into_iter().map(|(object, (first, end))| async move {
            let bytes = self.read_range(&object, first, end).await?;
            Ok::<_, StoreError>((object, (first, bytes)))
        });
        let read: BTreeMap<String, (u64, Option<Vec<u8>>)> =
            futures_util::future::try_join_all(reads)
                .await?
                .into_iter()
                .collect();
        for attempt in &mut result.attempts {
            let Some(kept) = &attempt.kept else { continue };
            let Some((first, Some(bytes))) = read.get(&kept.object) else {
                tracing::warn!(object = %kept.object, "kept text missing; the excerpt stays");
                continue;
            };
            let start = usize::try_from(kept.offset - first).unwrap_or(usize::MAX);
            let end = start.saturating_add(usize::try_from(kept.len).unwrap_or(usize::MAX));
            let text: AttemptText = bytes
                .get(start..end)
                .and_then(|range| serde_json::from_slice(range).ok())
                .ok_or_else(|| {
                    StoreError::permanent(
                        "read kept text",
                        format!(
                            "{} has no text at {}+{}",
                            kept.object, kept.offset, kept.len
                        ),
                    )
                })?;
            attempt.restore_text(text);
        }
        result.derive();
        Ok(())
    }
}
