//! How ingestion behaves; the defaults are what the deployed function uses.

use std::time::Duration;
use tokio::time::Instant;
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
    /// How long before the invocation's deadline (from the Lambda context) the ingest is cut
    /// off: time for the hand-off to the next invocation and the answer to Lambda.
    pub deadline_margin_ms: u64,
    /// The longest chain of hand-offs (`crate::handoff`): under the 16 invocations after which
    /// Lambda stops a chain through S3 (its recursive loop detection), by a margin. Past it, a
    /// file goes back to Lambda's retries and the sweep, which are not chains.
    pub max_handoffs: u32,
    /// What the parser accepts.
    pub limits: ParseLimits,
    /// A file claimed more often than this without settling is failed (`gave_up`), so no
    /// input is driven forever by Lambda's retries and the sweep (a file that kills its
    /// invocation, say by running it out of memory, is claimed again on every delivery).
    /// Claims that wrote more start the count over, and claims stopped by what is not the
    /// file's doing (throttling, the run's lone writer) do not count (`ClaimCount`).
    pub max_claims: u64,
}

/// The times of one invocation's work on a file ([`Settings::stops`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stops {
    /// When it takes no new result and lets its writes in flight land.
    pub checkpoint: Instant,
    /// Until when a write refused for the table's rate is retried: halfway from the checkpoint
    /// to the cut-off, so that no retry is in flight when the invocation is cut off.
    pub retry_until: Instant,
    /// When it is dropped where it stands.
    pub cut_off: Instant,
}

impl Settings {
    /// When an invocation that starts on a file at `started` stops taking new results
    /// (`checkpoint_ms`) and when it is cut off (`work_ms`), shortened so that both fall before
    /// the invocation's `deadline` by `deadline_margin_ms` (a sweep reaches its later files
    /// with less of its 15 minutes left).
    pub fn stops(&self, started: Instant, deadline: Option<Instant>) -> Stops {
        let ms = Duration::from_millis;
        let mut stop = started + ms(self.work_ms);
        if let Some(deadline) = deadline {
            let latest = deadline
                .checked_sub(ms(self.deadline_margin_ms))
                .unwrap_or(started);
            stop = stop.min(latest.max(started));
        }
        let drain = ms(self.work_ms.saturating_sub(self.checkpoint_ms));
        let checkpoint = (started + ms(self.checkpoint_ms))
            .min(stop.checked_sub(drain).unwrap_or(started).max(started));
        Stops {
            checkpoint,
            retry_until: checkpoint + (stop - checkpoint) / 2,
            cut_off: stop,
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            lease_ms: 16 * 60 * 1000,
            // Under the function's 15-minute timeout, so the invocation ends on its own terms.
            work_ms: 14 * 60 * 1000,
            checkpoint_ms: 13 * 60 * 1000,
            concurrency: 32,
            deadline_margin_ms: 10_000,
            max_handoffs: 12,
            limits: ParseLimits::DEFAULT,
            max_claims: 8,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_invocation_stops_before_its_deadline_and_checkpoints_before_it_stops() {
        let settings = Settings::default();
        let started = Instant::now();
        let min = |m: u64| Duration::from_secs(60 * m);
        // A fresh 15-minute invocation: the settings' own times; retries of throttled writes
        // end halfway from the checkpoint to the cut-off.
        let stops = settings.stops(started, Some(started + min(15)));
        assert_eq!(
            (
                stops.checkpoint - started,
                stops.retry_until - started,
                stops.cut_off - started
            ),
            (min(13), min(13) + Duration::from_secs(30), min(14))
        );
        // A sweep with 5 minutes left: stop 10 s before the end, checkpoint a minute before.
        let stops = settings.stops(started, Some(started + min(5)));
        assert_eq!(stops.cut_off - started, min(5) - Duration::from_secs(10));
        assert_eq!(stops.cut_off - stops.checkpoint, min(1));
        // No time left: nothing after the start.
        let stops = settings.stops(started, Some(started));
        assert_eq!(
            (stops.checkpoint, stops.retry_until, stops.cut_off),
            (started, started, started)
        );
        // No deadline (tests): the settings' times.
        let stops = settings.stops(started, None);
        assert_eq!(
            (stops.checkpoint, stops.cut_off),
            (started + min(13), started + min(14))
        );
    }
}
