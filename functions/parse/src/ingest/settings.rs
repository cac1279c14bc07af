//! How ingestion behaves; the defaults are what the deployed function uses.

use verdict_formats::ParseLimits;

/// How ingestion behaves.
#[derive(Debug, Clone)]
pub struct Settings {
    /// How long a claim on a file lasts: longer than the function's timeout, so a live
    /// invocation never loses its file, short enough that a crashed one's file is retried soon.
    pub lease_ms: u64,
    /// How long one invocation works on a file it claimed before it stops and asks to be
    /// retried. Shorter than the lease by a margin for requests still in flight, so an
    /// invocation that takes an expired lease over never writes beside one still running:
    /// the run's lone writer puts its items unconditionally, and a slow invocation's late put
    /// would overwrite what the run's next file merged after the file was committed.
    pub work_ms: u64,
    /// How long one invocation writes a file's results before it stops taking new ones, lets
    /// the writes in flight land, records how far it got (`Store::checkpoint_file`) and gives
    /// the lease back, so that the next delivery continues from there instead of starting
    /// over. Under `work_ms` by more than the writes in flight and the checkpoint take; a file
    /// that needs longer is written by several invocations, each continuing the last.
    pub checkpoint_ms: u64,
    /// Test-item writes in flight at once.
    pub concurrency: usize,
    /// How long a file waits for the run's lone writer to commit before it gives its lease
    /// back and asks to be retried (under the function's 15-minute limit).
    pub writer_wait_ms: u64,
    /// What the parser accepts.
    pub limits: ParseLimits,
    /// A file claimed more often than this without settling is failed (`gave_up`), so no
    /// input is driven forever by Lambda's retries and the sweep (a file that kills its
    /// invocation, say by running it out of memory, is claimed again on every delivery).
    /// Claims that wrote more start the count over, and claims stopped by what is not the
    /// file's doing (throttling, the run's lone writer) do not count (`ClaimCount`).
    pub max_claims: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            lease_ms: 16 * 60 * 1000,
            // Under the function's 15-minute timeout, so the invocation ends on its own terms.
            work_ms: 14 * 60 * 1000,
            checkpoint_ms: 13 * 60 * 1000,
            concurrency: 32,
            writer_wait_ms: 10 * 60 * 1000,
            limits: ParseLimits::DEFAULT,
            max_claims: 8,
        }
    }
}
