//! What the runs of a window add up to, read from the rollups the runs keep
//! ([`verdict_store::Tally`]): at most 23 hours and 91 days, two Queries, however many runs the
//! window holds.

use verdict_http::ApiError;
use verdict_store::{now_ms, Granularity, ProjectName, Store, Tally};

/// A window starts at the top of the hour holding its `since_ms`: rollups are kept per hour.
pub(crate) fn window_start(since_ms: u64) -> u64 {
    Granularity::Hour.start(since_ms)
}

/// The rollups from [`window_start`] to now, oldest first, each with the start of its
/// period: the hours of the window's first day (unless it starts at midnight), then its days.
/// No period crosses a midnight, so days and weeks are sums of them.
pub(crate) async fn window_tallies(
    store: &Store,
    project: &ProjectName,
    branch: Option<&str>,
    since_ms: u64,
) -> Result<Vec<(u64, Tally)>, ApiError> {
    let (hour, day) = (Granularity::Hour, Granularity::Day);
    let start = window_start(since_ms);
    let now = now_ms();
    let first_day = day.start(start);
    let (hours_until, days_from) = if start == first_day {
        (None, first_day)
    } else {
        let last_hour = (first_day + day.len_ms() - hour.len_ms()).min(hour.start(now));
        (Some(last_hour), first_day + day.len_ms())
    };
    let hours = async {
        match hours_until {
            Some(last) => store.tallies(project, branch, hour, start, last).await,
            None => Ok(Vec::new()),
        }
    };
    let days = store.tallies(project, branch, day, days_from, day.start(now));
    let (hours, days) = futures_util::future::try_join(hours, days).await?;
    Ok(hours.into_iter().chain(days).collect())
}

/// The sum of some tallies.
pub(crate) fn total<'a>(tallies: impl IntoIterator<Item = &'a Tally>) -> Tally {
    let mut sum = Tally::default();
    for tally in tallies {
        sum.add(tally, 1);
    }
    sum
}

/// `part / whole` to three decimals (0 when `whole` is 0).
pub(crate) fn ratio(part: i64, whole: i64) -> f64 {
    if whole <= 0 {
        return 0.0;
    }
    (part as f64 / whole as f64 * 1000.0).round() / 1000.0
}
