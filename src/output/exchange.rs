//! What the exchange formats say of a finding, whatever made it: [`Outgoing`], the one
//! input of the AWS Security Finding Format writer ([`super::asff`]) and the OCSF
//! Detection Finding writer ([`super::ocsf`]). The audit's findings become one here
//! ([`Outgoing::of_finding`]); another producer of findings (hunt's detections) needs
//! only its own constructor.
//!
//! A finding is filed under the AWS account and region of its task's ENI: those its
//! records name (see [`crate::enrich::place`]), else those of its task's ARN, else the
//! command line's (`--aws-account`, `--region`); [`Unplaced`] says which is missing.
//! Its id ([`Outgoing::uid`]) is made of the account, the region, the rule and the
//! finding's key only, so that the same input gives the same ids and a second import
//! updates the findings of the first.

use crate::enrich::place::{arn_place, Place, PlacesSeen};
use crate::enrich::EniMap;
use crate::policy::audit::Check;
use crate::policy::audit::{Direction, Finding, Severity};

/// A finding as the exchange formats see it.
#[derive(Clone, Debug)]
pub struct Outgoing {
    /// The rule (or detection) that made it: `GeneratorId` `vpcflow/<name>`.
    pub name: &'static str,
    /// What such a finding is, as a title's first words.
    pub title: &'static str,
    /// Its types in ASFF's taxonomy (`namespace/category[/classifier]`).
    pub types: &'static [&'static str],
    pub severity: Severity,
    /// Why it is a finding, in words.
    pub reason: String,
    pub account: String,
    pub region: String,
    pub eni_id: String,
    pub task_arn: Option<String>,
    pub service: Option<String>,
    pub cluster: Option<String>,
    /// The task's task definition family, where the map gives it.
    pub task_family: Option<String>,
    /// The security groups of the task's ENI, where the map gives them.
    pub security_groups: Vec<String>,
    /// The addresses of the task's ENI, where the map gives them.
    pub task_addrs: Vec<String>,
    /// The other side (`None` when there are many, as for a scan).
    pub peer_addr: Option<String>,
    pub peer_kind: Option<String>,
    pub peer_service: Option<String>,
    /// The server ports, sorted.
    pub ports: Vec<u16>,
    /// The IP protocol number (`-1` when the records had none).
    pub protocol: i32,
    /// The action of the records on the task's ENI.
    pub action: Option<&'static str>,
    pub direction: Option<Direction>,
    pub flows: u64,
    pub records: u64,
    pub packets: u64,
    pub bytes: u64,
    /// Unix seconds.
    pub first_seen: i64,
    pub last_seen: i64,
}

/// A finding that cannot be filed: nothing names the account or the region of its ENI.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("nothing names the AWS {} of {eni_id}", self.missing())]
pub struct Unplaced {
    pub eni_id: String,
    pub account: bool,
    pub region: bool,
}

impl Unplaced {
    /// What is missing, in words (`account`, `region`, `account and region`).
    pub fn missing(&self) -> &'static str {
        missing_words(self.account, self.region)
    }
}

/// What is missing of a place, in words: the `account`, the `region`, or both.
pub fn missing_words(account: bool, region: bool) -> &'static str {
    match (account, region) {
        (true, true) => "account and region",
        (true, false) => "account",
        _ => "region",
    }
}

/// The account and region of a task's ENI: its records', else its task ARN's, else
/// `fallback`'s (the command line).
pub fn place_of(
    eni_id: &str,
    task_arn: Option<&str>,
    seen: &PlacesSeen,
    fallback: &Place,
) -> Result<(String, String), Unplaced> {
    let from_arn = task_arn.and_then(arn_place).unwrap_or_default();
    let p = seen.of(eni_id).or(from_arn).or(fallback.clone());
    match (p.account, p.region) {
        (Some(a), Some(r)) => Ok((a, r)),
        (a, r) => Err(Unplaced {
            eni_id: eni_id.to_string(),
            account: a.is_none(),
            region: r.is_none(),
        }),
    }
}

impl Outgoing {
    /// An audit finding, filed under `account` and `region`, with what `map` says of its
    /// ENI.
    pub fn of_finding(f: &Finding, (account, region): (String, String), map: &EniMap) -> Self {
        let check = Check::parse(f.rule).ok();
        let holder = map.eni_at(&f.eni_id, Some(f.last_seen));
        let s = |t: &Option<crate::policy::audit::Text>| t.as_deref().map(String::from);
        Outgoing {
            name: f.rule,
            title: check.map_or(f.rule, Check::title),
            types: check.map_or(&[], Check::finding_types),
            severity: f.severity,
            reason: f.reason.clone(),
            account,
            region,
            eni_id: f.eni_id.to_string(),
            task_arn: s(&f.task_arn),
            service: s(&f.service),
            cluster: s(&f.cluster),
            task_family: holder.and_then(|h| h.task_family.clone()),
            security_groups: holder
                .map(|h| h.security_groups.clone())
                .unwrap_or_default(),
            task_addrs: map
                .eni_addrs(&f.eni_id)
                .iter()
                .map(|a| crate::net::addr_string(a))
                .collect(),
            peer_addr: Some(f.peer_addr.clone()),
            peer_kind: s(&f.peer_kind),
            peer_service: s(&f.peer_service),
            ports: f.ports.clone(),
            protocol: f.protocol,
            action: Some(f.action),
            direction: f.direction,
            flows: f.flows,
            records: f.records,
            packets: f.packets,
            bytes: f.bytes,
            first_seen: f.first_seen,
            last_seen: f.last_seen,
        }
    }

    /// The finding's id: account, region, rule and the finding's key (ENI, peer,
    /// protocol, action), nothing else, so that the same finding has the same id on
    /// every run (`vpcflow/123456789012/us-east-1/unexpected-ingress/eni-0a1b/
    /// 203.0.113.9/6/ACCEPT`).
    pub fn uid(&self) -> String {
        format!(
            "vpcflow/{}/{}/{}/{}/{}/{}/{}",
            self.account,
            self.region,
            self.name,
            self.eni_id,
            self.peer_addr.as_deref().unwrap_or("-"),
            self.protocol,
            self.action.unwrap_or("-"),
        )
    }

    /// The AWS partition of its region (`aws`, `aws-cn`, `aws-us-gov`).
    pub fn partition(&self) -> &'static str {
        if self.region.starts_with("cn-") {
            "aws-cn"
        } else if self.region.starts_with("us-gov-") {
            "aws-us-gov"
        } else {
            "aws"
        }
    }

    /// The ARN of a resource of the finding's account and region (`ecs`,
    /// `task/...`).
    pub fn arn(&self, service: &str, resource: &str) -> String {
        format!(
            "arn:{}:{service}:{}:{}:{resource}",
            self.partition(),
            self.region,
            self.account
        )
    }

    /// Its task's ARN: the task as the map names it, made an ARN of the finding's
    /// account, region and cluster if it is a task id.
    pub fn task_arn(&self) -> Option<String> {
        let t = self.task_arn.as_deref().filter(|t| !t.is_empty())?;
        Some(if t.starts_with("arn:") {
            t.to_string()
        } else {
            match self.cluster.as_deref() {
                Some(c) => self.arn("ecs", &format!("task/{}/{t}", crate::enrich::arn_name(c))),
                None => self.arn("ecs", &format!("task/{t}")),
            }
        })
    }

    /// Its cluster's ARN: the cluster as the map names it, made an ARN if it is a name.
    pub fn cluster_arn(&self) -> Option<String> {
        let c = self.cluster.as_deref()?;
        Some(if c.starts_with("arn:") {
            c.to_string()
        } else {
            self.arn("ecs", &format!("cluster/{c}"))
        })
    }

    /// Its service's ARN (`service/<cluster>/<service>`, or `service/<service>` when no
    /// cluster is known).
    pub fn service_arn(&self) -> Option<String> {
        let s = self.service.as_deref()?;
        Some(match self.cluster.as_deref() {
            Some(c) => self.arn(
                "ecs",
                &format!("service/{}/{s}", crate::enrich::arn_name(c)),
            ),
            None => self.arn("ecs", &format!("service/{s}")),
        })
    }

    /// Its title: what it is, the peer, protocol and ports, the action and the service.
    pub fn title_text(&self) -> String {
        let mut t = format!("{}: ", self.title);
        t += self.peer_addr.as_deref().unwrap_or("many peers");
        t += &format!(" {}", protocol_text(self.protocol));
        if !self.ports.is_empty() {
            let shown: Vec<String> = self.ports.iter().take(5).map(u16::to_string).collect();
            t += &format!(" port {}", shown.join(","));
            if self.ports.len() > 5 {
                t += &format!(" and {} more", self.ports.len() - 5);
            }
        }
        if let Some(a) = self.action {
            t += &format!(" {a}");
        }
        match (&self.service, &self.task_arn) {
            (Some(s), _) => t += &format!(" (service {s})"),
            (None, Some(task)) => t += &format!(" (task {})", crate::enrich::arn_name(task)),
            (None, None) => t += &format!(" (ENI {})", self.eni_id),
        }
        t
    }

    /// The ports as one text, at most `limit` characters (a scan of every port ends
    /// with how many there are).
    pub fn ports_text(&self, limit: usize) -> String {
        let all: Vec<String> = self.ports.iter().map(u16::to_string).collect();
        let text = all.join(",");
        if text.len() <= limit {
            return text;
        }
        let tail = format!(" … ({} ports)", self.ports.len());
        let mut out = String::new();
        for p in &all {
            if out.len() + p.len() + 1 + tail.len() > limit {
                break;
            }
            if !out.is_empty() {
                out.push(',');
            }
            out += p;
        }
        out + &tail
    }
}

/// A protocol number as people say it (`TCP`, `47`).
pub fn protocol_text(p: i32) -> String {
    match crate::net::protocol_label(p) {
        Some(l) => l.to_string(),
        None if p < 0 => "no protocol".to_string(),
        None => format!("protocol {p}"),
    }
}

/// `s`, cut to at most `max` characters (not bytes), with `…` where it was cut.
pub fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// The run's time in unix seconds: `SOURCE_DATE_EPOCH` when it is set (reproducible
/// output), else now. An unreadable value is an error, not ignored.
pub fn run_time(source_date_epoch: Option<&str>) -> Result<i64, String> {
    match source_date_epoch {
        Some(v) => v
            .trim()
            .parse::<i64>()
            .map_err(|_| format!("SOURCE_DATE_EPOCH={v:?} is not a number of seconds since 1970")),
        None => Ok(chrono::Utc::now().timestamp()),
    }
}

/// Unix milliseconds of unix seconds (OCSF's timestamps).
pub fn millis(t: i64) -> i64 {
    t.saturating_mul(1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_place_comes_from_the_records_then_the_task_arn_then_the_command_line() {
        let seen = PlacesSeen::default();
        let none = Place::default();
        let cli = Place {
            account: Some("999999999999".into()),
            region: Some("ap-south-1".into()),
        };
        let arn = "arn:aws:ecs:eu-west-1:210987654321:task/prod/0abc";
        assert_eq!(
            place_of("eni-1", Some(arn), &seen, &cli),
            Ok(("210987654321".into(), "eu-west-1".into()))
        );
        assert_eq!(
            place_of("eni-1", None, &seen, &cli),
            Ok(("999999999999".into(), "ap-south-1".into()))
        );
        let e = place_of("eni-1", None, &seen, &none).unwrap_err();
        assert_eq!(e.missing(), "account and region");
        assert_eq!(
            e.to_string(),
            "nothing names the AWS account and region of eni-1"
        );
        let region_only = Place {
            account: None,
            region: Some("us-west-2".into()),
        };
        let e = place_of("eni-1", None, &seen, &region_only).unwrap_err();
        assert_eq!(e.missing(), "account");
    }

    #[test]
    fn cutting_counts_characters_and_marks_the_cut() {
        assert_eq!(cut("abc", 3), "abc");
        assert_eq!(cut("abcd", 3), "ab…");
        let long = "é".repeat(2000);
        let c = cut(&long, 1024);
        assert_eq!(c.chars().count(), 1024);
        assert!(c.ends_with('…'));
    }

    #[test]
    fn the_run_time_is_source_date_epoch_when_set() {
        assert_eq!(run_time(Some("1793491200")), Ok(1_793_491_200));
        assert!(run_time(Some("yesterday")).is_err());
        assert!(run_time(None).unwrap() > 1_700_000_000);
    }
}
