//! Registering a file, and rolling its run up at once so that `/v1/stats` counts it pending
//! from its first upload (`Store::roll_run`).

use verdict_store::{NewFile, Store, StoreError};

/// Registers `new` ([`Store::register_file`]) and rolls its run up. A roll that fails is only
/// logged: the upload stands, and the file's settle rolls the run again.
pub(crate) async fn register(store: &Store, new: &NewFile, now_ms: u64) -> Result<(), StoreError> {
    store.register_file(new, now_ms).await?;
    if let Err(err) = store.roll_run(&new.file.run).await {
        tracing::warn!(run = %new.file.run.run_key, error = %err, "run not rolled up at registration");
    }
    Ok(())
}
