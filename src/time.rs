//! Times as users write them (`--since`, map files) and as we print them.

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};

/// The first second of 2000 and of 2200 (UTC): the times a flow log can hold.
pub const EARLIEST: i64 = 946_684_800;
pub const LATEST: i64 = 7_258_118_400;

/// A unix time in seconds, milliseconds, microseconds or nanoseconds, as seconds. The
/// unit is told by the magnitude: a value is in the finest unit whose span of the
/// years 2000 to 2200 it reaches, and must then be before 2200 in it. Smaller values
/// are seconds before 2000 (test data has them: 1975 in a public project's sample).
/// `None` for a value in no unit's span (after 2200 in seconds, but below 2000 in
/// milliseconds, say).
#[inline]
pub fn unix_seconds(v: i64) -> Option<i64> {
    if (0..LATEST).contains(&v) {
        // Seconds: every larger unit starts far above this (2000 in milliseconds).
        return Some(v);
    }
    let scale = [1_000_000_000, 1_000_000, 1_000]
        .into_iter()
        .find(|&scale| v >= EARLIEST * scale)
        .unwrap_or(1);
    (v < LATEST * scale).then_some(v / scale)
}

/// A time that cannot be read; each names the text as given (trimmed).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    /// Digits only, but no unix time in any unit before 2200.
    #[error(
        "{0:?} is not a unix time before the year 2200 (in seconds, milliseconds, \
         microseconds or nanoseconds)"
    )]
    NotUnix(String),
    /// Neither RFC 3339, a UTC date(-time) nor digits.
    #[error("{0:?} is not a time (use RFC 3339 like 2026-11-01T07:00:00Z, or unix seconds)")]
    NotATime(String),
    /// A time, but outside the years a flow log can hold (`--since`, `--until`, `--at`).
    #[error("{0:?} is not a time between the years 2000 and 2200")]
    OutOfWindow(String),
}

/// Parses `--since`/`--until`/`--at`: [`parse_time`], and a time outside the years
/// 2000 to 2200 is refused (a unit mistaken, a digit too many or too few).
pub fn parse_window_time(s: &str) -> Result<i64, TimeError> {
    let t = parse_time(s)?;
    if (EARLIEST..LATEST).contains(&t) {
        Ok(t)
    } else {
        Err(TimeError::OutOfWindow(s.trim().to_string()))
    }
}

/// Parses a time as users write it: RFC 3339 (`2026-11-01T07:00:00Z`), a UTC date-time
/// without offset (`2026-11-01T07:00:00`, `2026-11-01 07:00`), a UTC date
/// (`2026-11-01`) or a unix time in seconds, milliseconds, microseconds or nanoseconds
/// (`1793516400`, `1793516400000`; see [`unix_seconds`]). Returns unix seconds.
pub fn parse_time(s: &str) -> Result<i64, TimeError> {
    let s = s.trim();
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        let out_of_range = || TimeError::NotUnix(s.to_string());
        let v: i64 = s.parse().map_err(|_| out_of_range())?;
        return unix_seconds(v).ok_or_else(out_of_range);
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.timestamp());
    }
    for f in [
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, f) {
            return Ok(Utc.from_utc_datetime(&t).timestamp());
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        if let Some(t) = d.and_hms_opt(0, 0, 0) {
            return Ok(Utc.from_utc_datetime(&t).timestamp());
        }
    }
    Err(TimeError::NotATime(s.to_string()))
}

/// Unix seconds as RFC 3339 UTC (`2026-11-01T07:00:00Z`).
pub fn rfc3339(t: i64) -> String {
    match Utc.timestamp_opt(t, 0).single() {
        Some(d) => d.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        None => t.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        assert_eq!(parse_time("1793516400"), Ok(1793516400));
        assert_eq!(parse_time("2026-11-01T07:00:00Z"), Ok(1793516400));
        assert_eq!(parse_time("2026-11-01T08:00:00+01:00"), Ok(1793516400));
        assert_eq!(parse_time("2026-11-01T07:00:00"), Ok(1793516400));
        assert_eq!(parse_time("2026-11-01 07:00"), Ok(1793516400));
        assert_eq!(parse_time("2026-11-01"), Ok(1793516400 - 7 * 3600));
        assert!(parse_time("yesterday")
            .unwrap_err()
            .to_string()
            .contains("not a time"));
        assert_eq!(parse_time("1793516400000"), Ok(1793516400));
        assert_eq!(parse_time("1793516400000000"), Ok(1793516400));
        assert_eq!(parse_time("1793516400000000000"), Ok(1793516400));
        assert!(parse_window_time("58803")
            .unwrap_err()
            .to_string()
            .contains("2000 and 2200"));
        assert_eq!(parse_time("58803"), Ok(58803));
        assert!(parse_time("9000000000")
            .unwrap_err()
            .to_string()
            .contains("2200"));
        assert_eq!(parse_window_time("1793516400000"), Ok(1793516400));
        assert_eq!(unix_seconds(1), Some(1));
        assert_eq!(unix_seconds(LATEST), None);
        assert_eq!(unix_seconds(EARLIEST * 1000 - 1), None);
        assert_eq!(unix_seconds(EARLIEST * 1000), Some(EARLIEST));
        assert_eq!(unix_seconds(i64::MAX), None);
        assert!(parse_window_time("2201-01-01")
            .unwrap_err()
            .to_string()
            .contains("2000 and 2200"));
        assert_eq!(rfc3339(1793516400), "2026-11-01T07:00:00Z");
    }
}
