//! Query-string parameters: parsing, bounds, and the cursor's scope.

use crate::CursorKey;
use lambda_http::{Request, RequestExt};
use serde::de::DeserializeOwned;
use serde::Serialize;
use verdict_http::ApiError;
use verdict_model::Status;
use verdict_store::ProjectName;

/// The request's parameters, with what it takes to open and seal its cursor.
pub(crate) struct Query<'a> {
    cursor_key: &'a CursorKey,
    params: Vec<(String, String)>,
    scope: String,
}

impl<'a> Query<'a> {
    pub(crate) fn new(
        cursor_key: &'a CursorKey,
        request: &Request,
        project: &ProjectName,
    ) -> Query<'a> {
        let mut params: Vec<(String, String)> = request
            .query_string_parameters_ref()
            .map(|q| {
                q.iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect()
            })
            .unwrap_or_default();
        params.sort();
        // The cursor is bound to the project, the path and every filter (all but the cursor).
        let filters: Vec<String> = params
            .iter()
            .filter(|(k, _)| k != "cursor")
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let scope = format!("{project} {} {}", request.uri().path(), filters.join("&"));
        Query {
            cursor_key,
            params,
            scope,
        }
    }

    /// A parameter's value (an empty value is no value).
    pub(crate) fn get(&self, name: &str) -> Option<String> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .filter(|v| !v.is_empty())
    }

    /// Where the page starts: from a cursor this query issued, or the beginning.
    pub(crate) fn start<C: DeserializeOwned>(&self) -> Result<Option<C>, ApiError> {
        let invalid = || ApiError::invalid("cursor", "not a cursor of this query in this project");
        match self.get("cursor") {
            None => Ok(None),
            Some(cursor) => {
                let value = self
                    .cursor_key
                    .open(&self.scope, &cursor)
                    .ok_or_else(invalid)?;
                serde_json::from_value(value)
                    .map(Some)
                    .map_err(|_| invalid())
            }
        }
    }

    /// The cursor of the next page, bound to this query.
    pub(crate) fn seal<C: Serialize>(&self, next: Option<C>) -> Option<String> {
        let value = serde_json::to_value(next?).ok()?;
        Some(self.cursor_key.seal(&self.scope, &value))
    }
}

pub(crate) const DEFAULT_LIMIT: i32 = 50;
pub(crate) const MAX_LIMIT: i32 = 500;

/// `limit=`: 1 to 500, 50 unless given.
pub(crate) fn limit(q: &Query<'_>) -> Result<i32, ApiError> {
    match q.get("limit") {
        None => Ok(DEFAULT_LIMIT),
        Some(l) => l
            .parse()
            .ok()
            .filter(|l| (1..=MAX_LIMIT).contains(l))
            .ok_or_else(|| ApiError::invalid("limit", format!("must be 1 to {MAX_LIMIT}"))),
    }
}

/// A yes-or-no parameter: `true` or `false`, false unless given.
pub(crate) fn flag(q: &Query<'_>, name: &'static str) -> Result<bool, ApiError> {
    match q.get(name).as_deref() {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(_) => Err(ApiError::invalid(name, "must be true or false")),
    }
}

/// The longest window an insight answers for.
pub(crate) const MAX_WINDOW_MS: u64 = 90 * 86_400_000;

/// `30d`, `24h` (default 30 days, at most 90 days).
pub(crate) fn window_ms(window: Option<&str>) -> Result<u64, ApiError> {
    let Some(w) = window else {
        return Ok(verdict_store::DEFAULT_WINDOW_DAYS * 86_400_000);
    };
    let (number, unit) = w.split_at(w.len().saturating_sub(1));
    let n: u64 = number
        .parse()
        .map_err(|_| ApiError::invalid("window", "must be like 30d or 24h"))?;
    let ms = match unit {
        "d" => n * 86_400_000,
        "h" => n * 3_600_000,
        _ => return Err(ApiError::invalid("window", "must be like 30d or 24h")),
    };
    if ms == 0 || ms > MAX_WINDOW_MS {
        return Err(ApiError::invalid("window", "must be between 1h and 90d"));
    }
    Ok(ms)
}

/// The time window an insight looks at: `window=` back from now.
pub(crate) struct Window {
    /// Its length.
    pub(crate) ms: u64,
    /// Where it starts.
    pub(crate) since_ms: u64,
}

impl Window {
    /// The request's `window=` ([`window_ms`]) ending now.
    pub(crate) fn of(q: &Query<'_>) -> Result<Window, ApiError> {
        let ms = window_ms(q.get("window").as_deref())?;
        Ok(Window {
            ms,
            since_ms: verdict_store::now_ms().saturating_sub(ms),
        })
    }

    /// Its length in whole days, as answers report it.
    pub(crate) fn days(&self) -> u64 {
        self.ms / 86_400_000
    }
}

/// The start of the UTC day holding `since=` ([`parse_time`]), or `default_ms` ago: rollups
/// are per day.
pub(crate) fn since_day(q: &Query<'_>, default_ms: u64) -> Result<u64, ApiError> {
    let since = match q.get("since") {
        Some(s) => parse_time("since", &s)?,
        None => verdict_store::now_ms().saturating_sub(default_ms),
    };
    Ok(verdict_store::Granularity::Day.start(since))
}

/// An RFC 3339 timestamp (`2026-11-21T10:00:00Z`), a date (`2026-11-21`), or epoch milliseconds.
pub(crate) fn parse_time(field: &str, text: &str) -> Result<u64, ApiError> {
    let bad = || {
        ApiError::invalid(
            field,
            "must be an RFC 3339 time, a date, or epoch milliseconds",
        )
    };
    if text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse().map_err(|_| bad());
    }
    let (date, time) = text.split_once('T').unwrap_or((text, "00:00:00Z"));
    let d: Vec<i64> = date
        .split('-')
        .map(|p| p.parse().map_err(|_| bad()))
        .collect::<Result<_, _>>()?;
    let time = time.strip_suffix('Z').ok_or_else(bad)?;
    let t: Vec<i64> = time
        .split(':')
        .map(|p| p.split('.').next().unwrap_or(p).parse().map_err(|_| bad()))
        .collect::<Result<_, _>>()?;
    let (&[y, m, day], &[hh, mm, ss]) = (d.as_slice(), t.as_slice()) else {
        return Err(bad());
    };
    if !(1..=12).contains(&m) || !(1..=31).contains(&day) || hh > 23 || mm > 59 || ss > 60 {
        return Err(bad());
    }
    // Days from civil (Howard Hinnant's algorithm), the inverse of verdict_http::rfc3339.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u64::try_from(((days * 86_400 + hh * 3600 + mm * 60 + ss) * 1000).max(0)).map_err(|_| bad())
}

/// `failed,error` → statuses.
pub(crate) fn status_list(text: Option<&str>) -> Result<Vec<Status>, ApiError> {
    text.map_or(Ok(Vec::new()), |t| {
        t.split(',')
            .map(|s| {
                Status::parse(s.trim()).ok_or_else(|| {
                    ApiError::invalid(
                        "status",
                        format!(
                            "{s:?} is not one of passed, failed, error, skipped, xfailed, xpassed"
                        ),
                    )
                })
            })
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_as_the_inverse_of_rfc3339() {
        for ms in [0, 951_782_400_000, 1_795_302_819_000] {
            assert_eq!(parse_time("since", &verdict_http::rfc3339(ms)).unwrap(), ms);
        }
        assert_eq!(
            parse_time("since", "2026-11-21").unwrap(),
            1_795_219_200_000
        );
        assert_eq!(
            parse_time("since", "1795219200000").unwrap(),
            1_795_219_200_000
        );
        for bad in ["yesterday", "2026-13-01", "2026-11-21T10:00", "2026-11"] {
            assert!(parse_time("since", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn windows_are_bounded() {
        assert_eq!(window_ms(None).unwrap(), 30 * 86_400_000);
        assert_eq!(window_ms(Some("24h")).unwrap(), 86_400_000);
        for bad in ["0d", "91d", "30", "d", "30w"] {
            assert!(window_ms(Some(bad)).is_err(), "{bad}");
        }
    }
}
