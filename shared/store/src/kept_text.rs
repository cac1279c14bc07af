//! Attempts' text kept apart from their test items (`verdict_model::KeptText`): the parse
//! function puts it a segment at a time under `text/` ([`crate::keys::kept_text_key`]), and a
//! test's detail reads it back by range.

use crate::keys::{kept_text_key, FileId, RunRef};
use crate::{Store, StoreError};
use std::collections::BTreeMap;
use verdict_model::{Attempt, AttemptText};

impl Store {
    /// Puts a segment of kept text. A segment's content is a function of its file, each text
    /// appended in the file's order: putting it again gives the same bytes, or more of them
    /// after the same, so every range read from it stays what it was.
    pub async fn put_kept_text(&self, key: &str, body: Vec<u8>) -> Result<(), StoreError> {
        self.put_object("PutObject kept text", key, body).await
    }

    /// Puts back the whole text of the attempts `file` wrote of a test that were kept apart.
    /// Its attempts of a test are side by side in its segments: one ranged GetObject per
    /// segment they are in. A segment that is missing (a run deleted meanwhile) leaves its
    /// attempts their excerpts.
    pub(crate) async fn restore_text(
        &self,
        run: &RunRef,
        file: &FileId,
        attempts: &mut [Attempt],
    ) -> Result<(), StoreError> {
        let mut spans: BTreeMap<u32, (u64, u64)> = BTreeMap::new();
        for kept in attempts.iter().filter_map(|a| a.kept.as_ref()) {
            let end = kept.offset + kept.len;
            let span = spans.entry(kept.segment).or_insert((kept.offset, end));
            *span = (span.0.min(kept.offset), span.1.max(end));
        }
        let reads = spans.into_iter().map(|(segment, (first, end))| async move {
            let key = kept_text_key(run, file, segment);
            let bytes = self.read_range(&key, first, end).await?;
            Ok::<_, StoreError>((segment, (key, first, bytes)))
        });
        let read: BTreeMap<u32, (String, u64, Option<Vec<u8>>)> =
            futures_util::future::try_join_all(reads)
                .await?
                .into_iter()
                .collect();
        for attempt in attempts {
            let Some(kept) = &attempt.kept else { continue };
            // Every segment an attempt names was read above.
            let (key, first, bytes) = &read[&kept.segment];
            let Some(bytes) = bytes else {
                tracing::warn!(object = %key, "kept text missing; the excerpt stays");
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
                        format!("{key} has no text at {}+{}", kept.offset, kept.len),
                    )
                })?;
            attempt.restore_text(text);
        }
        Ok(())
    }
}
