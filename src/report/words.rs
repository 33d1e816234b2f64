//! The page's words: times and durations, bucket widths, plurals, protocol and port
//! names, severities, the names of services and peer groups, and a finding in a line.
//! Every part of the page says these things the same way because it says them here.

use std::borrow::Cow;

use chrono::{TimeZone, Utc};

use super::fmt::count;
use super::traffic::CLUSTER_SEP;
use crate::enrich::PeerKind;
use crate::policy::audit::{Finding, Severity};

/// A unix second as `2026-11-01 07:00:00` (UTC).
pub fn when(t: i64) -> String {
    match Utc.timestamp_opt(t, 0).single() {
        Some(d) => d.format("%Y-%m-%d %H:%M:%S").to_string(),
        None => t.to_string(),
    }
}

/// The time of day of a unix second: `07:00:00` (UTC).
pub fn clock(t: i64) -> String {
    match Utc.timestamp_opt(t, 0).single() {
        Some(d) => d.format("%H:%M:%S").to_string(),
        None => t.to_string(),
    }
}

/// A time span on two lines: `00:03:12 – 00:41:10` over its date, or both in full
/// when it spans days.
pub fn span(a: i64, b: i64) -> String {
    // The audit's time of records without start and end.
    if a <= 0 && b <= 0 {
        return "unknown".into();
    }
    let (Some(x), Some(y)) = (
        Utc.timestamp_opt(a, 0).single(),
        Utc.timestamp_opt(b, 0).single(),
    ) else {
        return format!("{a} – {b}");
    };
    if x.date_naive() == y.date_naive() {
        format!(
            r#"{} – {}<div class="sub">{}</div>"#,
            clock(a),
            clock(b),
            x.format("%Y-%m-%d")
        )
    } else {
        format!("{} – {}", when(a), when(b))
    }
}

/// `3720` -> `1 h 2 min`.
pub fn duration(s: i64) -> String {
    let (d, h, m) = (s / 86_400, s % 86_400 / 3_600, s % 3_600 / 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s} s"),
        (0, 0, m) => format!("{m} min"),
        (0, h, 0) => format!("{h} h"),
        (0, h, m) => format!("{h} h {m} min"),
        (d, 0, _) => format!("{d} d"),
        (d, h, _) => format!("{d} d {h} h"),
    }
}

/// A bucket width in words: `5 minutes`, `hour`, `day`.
pub fn per(width: i64) -> String {
    match width {
        60 => "minute".into(),
        3_600 => "hour".into(),
        86_400 => "day".into(),
        604_800 => "week".into(),
        w if w % 86_400 == 0 => format!("{} days", w / 86_400),
        w if w % 3_600 == 0 => format!("{} hours", w / 3_600),
        w => format!("{} minutes", w / 60),
    }
}

/// The `s` of a plural: `""` for one, `"s"` otherwise.
pub fn plural(n: u64) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// A protocol's name (`TCP`), its number where it has none, `?` where it was not logged.
pub fn protocol(p: i32) -> Cow<'static, str> {
    match crate::net::protocol_label(p) {
        Some(label) => label.into(),
        None if p == -1 || p == 65_535 => "?".into(),
        None => p.to_string().into(),
    }
}

/// What usually listens on a port, for the rejected-traffic chart.
pub fn port_name(p: u16) -> Option<&'static str> {
    Some(match p {
        21 => "ftp",
        22 => "ssh",
        23 => "telnet",
        25 => "smtp",
        53 => "dns",
        80 => "http",
        110 => "pop3",
        123 => "ntp",
        143 => "imap",
        389 => "ldap",
        443 => "https",
        445 => "smb",
        1433 => "mssql",
        2375 | 2376 => "docker",
        3306 => "mysql",
        3389 => "rdp",
        5432 => "postgres",
        5900 => "vnc",
        6379 => "redis",
        6443 => "kubernetes",
        6667 => "irc",
        8080 => "http-alt",
        8443 => "https-alt",
        9200 => "elasticsearch",
        11211 => "memcached",
        27017 => "mongodb",
        _ => return None,
    })
}

/// The severities, worst first, as the page writes them (and its CSS classes end).
pub const SEVERITIES: [&str; 3] = ["high", "medium", "low"];

/// A severity's place in [`SEVERITIES`].
pub fn severity_index(s: Severity) -> usize {
    match s {
        Severity::High => 0,
        Severity::Medium => 1,
        Severity::Low => 2,
    }
}

/// `22, 23, 80` or `22, 23, … (65,533 more)`.
pub fn ports(p: &[u16], at_most: usize) -> String {
    let mut s: Vec<String> = p.iter().take(at_most).map(u16::to_string).collect();
    if p.len() > at_most {
        s.push(format!("… ({} more)", count((p.len() - at_most) as u64)));
    }
    s.join(", ")
}

/// Text cut at `at_most` characters, saying how much was left out.
pub fn cut(text: &str, at_most: usize) -> Cow<'_, str> {
    match text.char_indices().nth(at_most) {
        None => Cow::Borrowed(text),
        Some((i, _)) => Cow::Owned(format!(
            "{} … ({} more characters: vpcflow audit --format json has the whole reason)",
            &text[..i],
            count(text[i..].chars().count() as u64)
        )),
    }
}

/// The name of a service and its cluster on the page: `web · prod`.
pub fn service_name(service: Option<&str>, cluster: Option<&str>) -> String {
    let s = service.unwrap_or("(no service)");
    match cluster {
        Some(c) => format!("{s} · {}", crate::enrich::arn_name(c)),
        None => s.to_string(),
    }
}

/// A task by name: its service and the first 8 characters of its task id (`web/c386bbc4`),
/// its family's for a task outside any service, else its ENI (no source names the task).
pub fn task_name(service: Option<&str>, task_arn: Option<&str>, eni: &str) -> String {
    match task_arn {
        Some(arn) => {
            let id = crate::enrich::arn_name(arn);
            let short: String = id.chars().take(8).collect();
            format!("{}/{short}", service.unwrap_or("task"))
        }
        None => eni.to_string(),
    }
}

/// A peer group's name: `web · prod`, `ALB sg-0a1b`, `198.51.100.0/24`.
pub fn group_name(kind: &str, label: Option<&str>, prefix: &[u8; 16]) -> String {
    let net = || {
        format!(
            "{}/{}",
            crate::net::addr_string(prefix),
            if crate::net::is_v4(prefix) { 24 } else { 48 }
        )
    };
    let label = label.unwrap_or("?");
    match PeerKind::parse(kind) {
        Some(PeerKind::Internet) => net(),
        Some(PeerKind::Vpc) => format!("VPC {}", net()),
        Some(PeerKind::Task) => match label.split_once(CLUSTER_SEP) {
            Some((s, c)) => format!("{s} · {c}"),
            None if label.starts_with("arn:") => {
                format!("task {}", crate::enrich::arn_name(label))
            }
            None => label.to_string(),
        },
        Some(k) => format!("{} {label}", k.words().label),
        None => format!("ENI {label}"),
    }
}

/// The words of a finding in a tooltip.
fn finding_words(f: &Finding) -> String {
    format!(
        "{} {} {} ({} {}, {})",
        f.severity.as_str(),
        f.rule,
        f.peer_addr,
        protocol(f.protocol),
        ports(&f.ports, 4),
        f.action
    )
}

/// The first four of some findings (indices into `findings`) in words, and how many
/// more there are.
pub fn list_words(findings: &[Finding], which: &[usize]) -> String {
    let mut words: Vec<String> = which
        .iter()
        .take(4)
        .map(|&i| finding_words(&findings[i]))
        .collect();
    if which.len() > 4 {
        words.push(format!("and {} more", which.len() - 4));
    }
    words.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_port_lists_and_reasons_are_cut_and_say_so() {
        assert_eq!(ports(&[22, 23], 3), "22, 23");
        assert_eq!(ports(&[22, 23, 80, 443], 2), "22, 23, … (2 more)");
        assert_eq!(cut("short", 10), "short");
        assert_eq!(
            cut("ééééé", 2),
            "éé … (3 more characters: vpcflow audit --format json has the whole reason)"
        );
    }

    #[test]
    fn durations_and_bucket_widths_read_as_words() {
        assert_eq!(duration(59), "59 s");
        assert_eq!(duration(3_600), "1 h");
        assert_eq!(duration(3_720), "1 h 2 min");
        assert_eq!(duration(90_000), "1 d 1 h");
        assert_eq!(per(60), "minute");
        assert_eq!(per(300), "5 minutes");
        assert_eq!(per(10_800), "3 hours");
        assert_eq!(per(3_600), "hour");
    }

    #[test]
    fn peer_groups_are_named_for_people() {
        let v4 = crate::net::addr("198.51.100.0").unwrap();
        let v6 = crate::net::addr("2001:db8:5::").unwrap();
        let task = "arn:aws:ecs:us-east-1:1:task/prod/abc";
        for (kind, label, prefix, name) in [
            ("internet", None, &v4, "198.51.100.0/24"),
            ("internet", None, &v6, "2001:db8:5::/48"),
            ("vpc", None, &v4, "VPC 198.51.100.0/24"),
            ("task", Some("web\u{1f}prod"), &[0; 16], "web · prod"),
            ("task", Some(task), &[0; 16], "task abc"),
            ("alb", Some("sg-1"), &[0; 16], "ALB sg-1"),
        ] {
            assert_eq!(group_name(kind, label, prefix), name, "{kind} {label:?}");
        }
    }
}
