//! The learned policy as a policy file: one `[[service]]` per service and task family,
//! every entry commented with its evidence, and what was not admitted (REJECTed
//! attempts, connections of undecided opener) listed in comments.

use std::fmt::Write as _;

use super::{Evidence, Learned, Learning, Name, Side};
use crate::net::{addr_string, is_v4, protocol_name, Cidr};
use crate::policy::Of;
use crate::text::human_bytes;
use crate::time::rfc3339;

/// How many REJECTed attempts or undecided connections a rule's comments list.
const LISTED: usize = 20;

/// A TOML string.
fn quoted(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// "12 connections, 3.4 MB, 2026-11-01T00:00:05Z to 2026-11-01T00:59:58Z".
fn evidence(e: &Evidence) -> String {
    format!(
        "{} connection{}, {}, {} to {}",
        e.connections,
        if e.connections == 1 { "" } else { "s" },
        human_bytes(e.bytes),
        rfc3339(e.first),
        rfc3339(e.last)
    )
}

fn protocol(p: Option<u16>) -> String {
    match p {
        Some(p) => {
            protocol_name(i32::from(p)).map_or_else(|| format!("protocol {p}"), str::to_string)
        }
        None => "protocol unknown".to_string(),
    }
}

/// `key = [` entries, each `value,  # comment` `]`.
fn list(out: &mut String, key: &str, entries: &[(String, String)]) {
    if entries.is_empty() {
        return;
    }
    let _ = writeln!(out, "{key} = [");
    for (value, comment) in entries {
        let _ = writeln!(out, "  {value},  # {comment}");
    }
    out.push_str("]\n");
}

pub(super) fn policy(learned: &Learned) -> String {
    let mut out = String::new();
    let w = &learned.window;
    let _ = writeln!(
        out,
        "# Learned by vpcflow learn from the accepted connections of {} to {}.\n\
         # Each entry admits what its comment says was seen; REJECTed attempts and\n\
         # connections whose opener stayed undecided are listed in comments, never admitted.\n\
         # Review it before enforcing it: a rule used once is as allowed as one used all day.",
        rfc3339(w.first),
        rfc3339(w.last)
    );
    if learned.unnamed > 0 {
        let _ = writeln!(
            out,
            "# Not learned: {} connections of task ENIs whose task no map source names.",
            learned.unnamed
        );
    }
    if !learned.options.vpc_cidrs.is_empty() {
        let cidrs: Vec<String> = learned
            .options
            .vpc_cidrs
            .iter()
            .map(|c| quoted(&c.to_string()))
            .collect();
        let _ = write!(out, "\n[network]\nvpc_cidrs = [{}]\n", cidrs.join(", "));
    }
    for (whose, l) in &learned.rules {
        out.push('\n');
        let what = match whose.of {
            Of::Service => "service",
            Of::Family => "task family",
        };
        let _ = writeln!(
            out,
            "# {what} {}: {} task{}, {}",
            crate::text::printable(&whose.name, false),
            l.tasks.len(),
            if l.tasks.len() == 1 { "" } else { "s" },
            evidence(&l.seen)
        );
        if learned.brief(l) {
            let _ = writeln!(
                out,
                "# seen too briefly: {} of the {} window; learn from a longer one before \
                 enforcing this rule",
                duration(l.seen.last - l.seen.first),
                duration(w.last - w.first)
            );
        }
        let _ = writeln!(
            out,
            "[[service]]\n{} = {}",
            whose.of.key(),
            quoted(&whose.name)
        );
        if let Some(c) = &whose.cluster {
            let _ = writeln!(out, "cluster = {}", quoted(c));
        }
        rule(&mut out, learned, l);
    }
    out
}

/// "4 min", "2 h 5 min", "3 d".
fn duration(s: i64) -> String {
    match s.max(0) {
        s if s >= 2 * 86_400 => format!("{} d", s / 86_400),
        s if s >= 3_600 => format!("{} h {} min", s / 3_600, s % 3_600 / 60),
        s if s >= 60 => format!("{} min", s / 60),
        s => format!("{s} s"),
    }
}

/// One rule's keys.
fn rule(out: &mut String, learned: &Learned, l: &Learning) {
    let ports: Vec<(String, String)> = l
        .declared
        .iter()
        .map(|p| {
            let why = match l.ingress.ports.get(p) {
                Some(e) => evidence(e),
                None => "a listener port by which an earlier round decided connections".into(),
            };
            (p.to_string(), why)
        })
        .collect();
    list(out, "ports", &ports);
    if l.ingress.peers.is_empty() {
        out.push_str("# no inbound connection was seen: admits none\n");
    }
    side(out, learned, &l.ingress, "ingress_from");
    if l.egress.peers.is_empty() {
        out.push_str("# no outbound connection was seen: allows none\negress_to_cidrs = []\n");
    } else {
        side(out, learned, &l.egress, "egress_to");
        let ports: Vec<(String, String)> = l
            .egress
            .ports
            .iter()
            .map(|(p, e)| {
                let note = if *p == 0 {
                    " (no port: ICMP or other)"
                } else {
                    ""
                };
                (p.to_string(), format!("{}{note}", evidence(e)))
            })
            .collect();
        list(out, "egress_ports", &ports);
    }
    rejected(out, &l.ingress, "inbound");
    rejected(out, &l.egress, "outbound");
    if !l.undecided.is_empty() {
        let _ = writeln!(
            out,
            "# not admitted, opener undecided ({} peer{}):",
            l.undecided.len(),
            if l.undecided.len() == 1 { "" } else { "s" }
        );
        for ((addr, p), (e, ports)) in l.undecided.iter().take(LISTED) {
            let pairs: Vec<String> = ports
                .iter()
                .take(4)
                .map(|(own, peer)| format!("{own}<->{peer}"))
                .collect();
            let _ = writeln!(
                out,
                "#   {} {} ports (task<->peer) {}{}: {}",
                addr_string(addr),
                protocol(*p),
                pairs.join(", "),
                if ports.len() > 4 { ", ..." } else { "" },
                evidence(e)
            );
        }
        if l.undecided.len() > LISTED {
            let _ = writeln!(out, "#   and {} more", l.undecided.len() - LISTED);
        }
    }
}

/// The REJECTed attempts of one direction, in a comment.
fn rejected(out: &mut String, side: &Side, dir: &str) {
    if side.rejected.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "# not admitted, {dir} attempts REJECTed ({}):",
        side.rejected.len()
    );
    for ((addr, port, p), e) in side.rejected.iter().take(LISTED) {
        let _ = writeln!(
            out,
            "#   {} to port {port} {}: {} attempt{}, {} to {}",
            addr_string(addr),
            protocol(*p),
            e.connections,
            if e.connections == 1 { "" } else { "s" },
            rfc3339(e.first),
            rfc3339(e.last)
        );
    }
    if side.rejected.len() > LISTED {
        let _ = writeln!(out, "#   and {} more", side.rejected.len() - LISTED);
    }
}

/// One direction's lists (`ingress_from_*` or `egress_to_*`).
fn side(out: &mut String, learned: &Learned, s: &Side, prefix: &str) {
    let mut lbs = Vec::new();
    let mut services = Vec::new();
    let mut families = Vec::new();
    let mut groups = Vec::new();
    let mut addrs: Vec<([u8; 16], Evidence)> = Vec::new();
    for (name, e) in &s.peers {
        match name {
            Name::LoadBalancer(n) => lbs.push((quoted(n), evidence(e))),
            Name::Service(n) => services.push((quoted(n), evidence(e))),
            Name::Family(n) => families.push((quoted(n), evidence(e))),
            Name::SecurityGroup(g, what) => {
                groups.push((quoted(g), format!("{what}; {}", evidence(e))))
            }
            Name::Addr(a) => addrs.push((*a, *e)),
        }
    }
    list(out, &format!("{prefix}_load_balancers"), &lbs);
    list(out, &format!("{prefix}_services"), &services);
    list(out, &format!("{prefix}_families"), &families);
    list(out, &format!("{prefix}_security_groups"), &groups);
    list(out, &format!("{prefix}_cidrs"), &cidrs(learned, s, &addrs));
}

/// The address entries: the whole internet of a family where more than `max_hosts`
/// internet addresses were seen on one port, else the addresses collapsed no wider
/// than observed, `vpc` where they are exactly the VPC's blocks.
fn cidrs(learned: &Learned, s: &Side, addrs: &[([u8; 16], Evidence)]) -> Vec<(String, String)> {
    let max = learned.options.max_hosts;
    let mut out = Vec::new();
    let world = s.whole_internet(max);
    for (v4, (port, n)) in &world {
        let mut e = Evidence::default();
        for (a, x) in addrs {
            if is_v4(a) == *v4 {
                e.add(x);
            }
        }
        let block = if *v4 { "0.0.0.0/0" } else { "::/0" };
        out.push((
            quoted(block),
            format!(
                "{n} distinct internet addresses on port {port}, more than --max-hosts {max}: \
                 the whole {} internet; {}",
                if *v4 { "IPv4" } else { "IPv6" },
                evidence(&e)
            ),
        ));
    }
    let rest: Vec<&([u8; 16], Evidence)> = addrs
        .iter()
        .filter(|(a, _)| !world.contains_key(&is_v4(a)))
        .collect();
    // Internet peers stay hosts; the others collapse where they fill a block.
    let internet: std::collections::BTreeSet<&[u8; 16]> = s.internet.values().flatten().collect();
    type Seen<'a> = Vec<&'a ([u8; 16], Evidence)>;
    let (hosts, inside): (Seen, Seen) = rest.iter().partition(|(a, _)| internet.contains(a));
    let mut blocks = Cidr::collapse(&inside.iter().map(|(a, _)| *a).collect::<Vec<_>>());
    let mut vpc = crate::enrich::vpc_cidrs_or_private(&learned.options.vpc_cidrs);
    vpc.sort_by_key(|c| (!c.is_v4(), c.first(), c.prefix_len()));
    let mut sorted = blocks.clone();
    sorted.sort_by_key(|c| (!c.is_v4(), c.first(), c.prefix_len()));
    if !blocks.is_empty() && sorted == vpc {
        let mut e = Evidence::default();
        inside.iter().for_each(|(_, x)| e.add(x));
        out.push((
            quoted("vpc"),
            format!(
                "every address of the VPC's blocks was seen; {}",
                evidence(&e)
            ),
        ));
        blocks.clear();
    }
    blocks.extend(hosts.iter().map(|(a, _)| Cidr::host(a)));
    blocks.sort_by_key(|c| (!c.is_v4(), c.first(), c.prefix_len()));
    for b in blocks {
        let mut e = Evidence::default();
        let mut n = 0;
        for (a, x) in &rest {
            if b.contains(a) {
                e.add(x);
                n += 1;
            }
        }
        let many = if n > 1 {
            format!("{n} addresses; ")
        } else {
            String::new()
        };
        out.push((quoted(&b.to_string()), format!("{many}{}", evidence(&e))));
    }
    out
}
