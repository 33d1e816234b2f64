//! Times as users write them (`--since`, map files) and as we print them.

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};

/// Parses `--since`/`--until`: RFC 3339 (`2026-11-01T07:00:00Z`), a UTC date-time
/// without offset (`2026-11-01T07:00:00`, `2026-11-01 07:00`), a UTC date
/// (`2026-11-01`) or unix seconds (`1793516400`). Returns unix seconds.
pub fn parse_time(s: &str) -> Result<i64, String> {
    let s = s.trim();
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return s.parse().map_err(|_| format!("{s:?} is out of range"));
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
    Err(format!(
        "{s:?} is not a time (use RFC 3339 like 2026-11-01T07:00:00Z, or unix seconds)"
    ))
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
        assert!(parse_time("yesterday").unwrap_err().contains("not a time"));
        assert_eq!(rfc3339(1793516400), "2026-11-01T07:00:00Z");
    }
}
