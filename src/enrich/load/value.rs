//! Values as the AWS JSON sources print them: times in every form the CLI and the
//! services use, and addresses, each refused with where it was.

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer};

use crate::net;

/// A time as AWS sources print it: ISO 8601 (`2026-11-01T00:20:00.123Z`, CLI v2) or
/// epoch seconds as a number (`1793492400.123`, CLI v1), or null. Whole seconds,
/// rounded down; integers in milliseconds and finer are scaled.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Time(pub Option<i64>);

impl<'de> Deserialize<'de> for Time {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Time, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Time;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a time (ISO 8601 or epoch seconds)")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Time, E> {
                Ok(Time(None))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Time, E> {
                i64::try_from(v)
                    .ok()
                    .and_then(crate::time::unix_seconds)
                    .map(|t| Time(Some(t)))
                    .ok_or_else(|| E::custom(format!("{v} is not a time")))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Time, E> {
                crate::time::unix_seconds(v)
                    .map(|t| Time(Some(t)))
                    .ok_or_else(|| E::custom(format!("{v} is not a time")))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Time, E> {
                if (0.0..9.0e15).contains(&v) {
                    self.visit_i64(v.floor() as i64)
                } else {
                    Err(E::custom(format!("{v} is not a time")))
                }
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Time, E> {
                if s.trim().is_empty() {
                    return Ok(Time(None));
                }
                time_text(s)
                    .map(|t| Time(Some(t)))
                    .ok_or_else(|| E::custom(format!("{s:?} is not a time")))
            }
        }
        d.deserialize_any(V)
    }
}

/// A time given as text: ISO 8601 or epoch seconds (with a fraction too).
pub(crate) fn time_text(s: &str) -> Option<i64> {
    crate::time::parse_time(s).ok().or_else(|| {
        s.trim()
            .parse::<f64>()
            .ok()
            .filter(|f| (0.0..9.0e15).contains(f))
            .and_then(|f| crate::time::unix_seconds(f.floor() as i64))
    })
}

/// A value that should be an IP address and is not: where, which key, the text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{at}: {what} {text:?} is not an IP address")]
pub(crate) struct BadAddress {
    at: String,
    what: &'static str,
    text: String,
}

/// An address as text, or an error naming where it was (`what`: the key).
pub(crate) fn address(
    text: &str,
    at: &dyn Fn() -> String,
    what: &'static str,
) -> Result<[u8; 16], BadAddress> {
    net::addr(text).ok_or_else(|| BadAddress {
        at: at(),
        what,
        text: text.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn time(json: &str) -> Option<i64> {
        serde_json::from_str::<Time>(json).unwrap().0
    }

    #[test]
    fn times_in_every_form_aws_prints() {
        assert_eq!(time("1793491200.999"), Some(1793491200));
        assert_eq!(time("1793491200999"), Some(1793491200));
        assert_eq!(
            time("\"2026-11-01T00:20:00.123000+00:00\""),
            Some(1793492400)
        );
        assert_eq!(time("\"2026-11-01T00:20:00.123Z\""), Some(1793492400));
        assert_eq!(time("\"1793491200.5\""), Some(1793491200));
        assert_eq!(time("null"), None);
        assert!(serde_json::from_str::<Time>("\"soon\"").is_err());
    }
}
