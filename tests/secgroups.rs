//! `vpcflow::secgroups` through its public API: a generated `describe-security-groups`
//! document with a rule of every kind, connections built by hand, and the review's
//! unused, not-judged and drifting rules, its proposal and the admitting rules, each
//! asserted against values written here from the scenario, not read from the code.
//!
//! The emitted files are checked by other tools: every `main.tf` parsed by python-hcl2
//! (`VPCFLOW_HCL2=require` makes a missing python-hcl2 a failure, `skip` skips it),
//! `terraform fmt -check` where a `terraform` binary is on PATH (never `validate`: it
//! would download the provider), and every CLI document validated offline against
//! botocore's EC2 model (`VPCFLOW_BOTOCORE`, as in tests/findings_out.rs). The proposal
//! is also applied: the groups rebuilt without the revoked rules and with the authorized
//! ones must still admit every observed connection.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};
use vpcflow::net::{addr, Cidr};
use vpcflow::secgroups::{
    admitting_rule, review, Observed, RuleStatus, SecurityGroups, SgError, Source,
};

/// 2026-11-01T00:00:00Z
const T0: i64 = 1_793_491_200;

/// One rule of the scenario as the test writes it: group, egress, protocol, ports,
/// source kind and value, rule id, and the one line it reads as.
struct R {
    group: &'static str,
    egress: bool,
    protocol: &'static str,
    ports: Option<(i64, i64)>,
    kind: &'static str,
    value: &'static str,
    text: &'static str,
}

const RULES: &[R] = &[
    R {
        group: "sg-web",
        egress: false,
        protocol: "tcp",
        ports: Some((8080, 8080)),
        kind: "IpRanges",
        value: "0.0.0.0/0",
        text: "sg-web ingress tcp 8080 from 0.0.0.0/0",
    },
    R {
        group: "sg-web",
        egress: false,
        protocol: "tcp",
        ports: Some((9090, 9090)),
        kind: "IpRanges",
        value: "0.0.0.0/0",
        text: "sg-web ingress tcp 9090 from 0.0.0.0/0",
    },
    R {
        group: "sg-web",
        egress: false,
        protocol: "tcp",
        ports: Some((80, 80)),
        kind: "UserIdGroupPairs",
        value: "sg-alb",
        text: "sg-web ingress tcp 80 from sg-alb",
    },
    R {
        group: "sg-web",
        egress: false,
        protocol: "tcp",
        ports: Some((1024, 65535)),
        kind: "PrefixListIds",
        value: "pl-0123",
        text: "sg-web ingress tcp 1024-65535 from pl-0123",
    },
    R {
        group: "sg-web",
        egress: false,
        protocol: "tcp",
        ports: Some((443, 443)),
        kind: "Ipv6Ranges",
        value: "2001:db8:1:2::/64",
        text: "sg-web ingress tcp 443 from 2001:db8:1:2::/64",
    },
    R {
        group: "sg-web",
        egress: false,
        protocol: "icmp",
        ports: Some((8, -1)),
        kind: "IpRanges",
        value: "10.0.0.0/8",
        text: "sg-web ingress icmp type 8 from 10.0.0.0/8",
    },
    R {
        group: "sg-web",
        egress: true,
        protocol: "tcp",
        ports: Some((443, 443)),
        kind: "Ipv6Ranges",
        value: "::/0",
        text: "sg-web egress tcp 443 to ::/0",
    },
    R {
        group: "sg-web",
        egress: true,
        protocol: "-1",
        ports: None,
        kind: "IpRanges",
        value: "0.0.0.0/0",
        text: "sg-web egress all to 0.0.0.0/0",
    },
    R {
        group: "sg-shared",
        egress: false,
        protocol: "tcp",
        ports: Some((22, 22)),
        kind: "IpRanges",
        value: "10.0.0.0/8",
        text: "sg-shared ingress tcp 22 from 10.0.0.0/8",
    },
    R {
        group: "sg-shared",
        egress: true,
        protocol: "tcp",
        ports: Some((443, 443)),
        kind: "IpRanges",
        value: "0.0.0.0/0",
        text: "sg-shared egress tcp 443 to 0.0.0.0/0",
    },
    R {
        group: "sg-alb",
        egress: false,
        protocol: "tcp",
        ports: Some((443, 443)),
        kind: "IpRanges",
        value: "0.0.0.0/0",
        text: "sg-alb ingress tcp 443 from 0.0.0.0/0",
    },
];

/// The scenario's rules of the given texts dropped, `extra` (group, egress,
/// IpPermission) added, as `describe-security-groups` output.
fn document(drop: &BTreeSet<String>, extra: &[(String, bool, Value)]) -> Value {
    let mut groups = Vec::new();
    for (id, name) in [
        ("sg-web", "web"),
        ("sg-shared", "shared"),
        ("sg-alb", "alb"),
    ] {
        let mut lists = [Vec::new(), Vec::new()];
        for r in RULES
            .iter()
            .filter(|r| r.group == id && !drop.contains(r.text))
        {
            let field = match r.kind {
                "IpRanges" => "CidrIp",
                "Ipv6Ranges" => "CidrIpv6",
                "PrefixListIds" => "PrefixListId",
                _ => "GroupId",
            };
            let mut p = json!({"IpProtocol": r.protocol, r.kind: [{field: r.value, "Description": "made by hand"}]});
            if let Some((from, to)) = r.ports {
                p["FromPort"] = from.into();
                p["ToPort"] = to.into();
            }
            lists[usize::from(r.egress)].push(p);
        }
        for (g, egress, p) in extra {
            if g == id {
                lists[usize::from(*egress)].push(p.clone());
            }
        }
        let [ingress, egress] = lists;
        groups.push(json!({
            "GroupId": id, "GroupName": name, "VpcId": "vpc-1", "OwnerId": "123456789012",
            "Description": name, "IpPermissions": ingress, "IpPermissionsEgress": egress,
        }));
    }
    json!({ "SecurityGroups": groups })
}

fn groups(with_entries: bool) -> SecurityGroups {
    let doc = document(&BTreeSet::new(), &[]);
    let mut g = SecurityGroups::parse("sg.json", doc.to_string().as_bytes()).unwrap();
    if with_entries {
        let entries = json!({"Entries": [{"Cidr": "10.20.0.0/16", "Description": "partners"}]});
        g.add_prefix_lists("pl-0123.json", entries.to_string().as_bytes())
            .unwrap();
    }
    g
}

fn cidr(s: &str) -> Source {
    Source::Cidr(s.parse::<Cidr>().unwrap())
}

const WEB: &str = "service web (cluster prod)";
const NIGHTLY: &str = "family nightly";

#[allow(clippy::too_many_arguments)]
fn conn(
    eni: &str,
    owner: &str,
    own: &[&str],
    opened_by_task: bool,
    protocol: i32,
    port: u16,
    peer: &str,
    peer_groups: &[&str],
    connections: u64,
    learned: Source,
) -> Observed {
    Observed {
        eni_id: eni.into(),
        owner: owner.into(),
        own_groups: own.iter().map(|s| s.to_string()).collect(),
        opened_by_task,
        protocol,
        server_port: port,
        peer_addr: addr(peer).unwrap(),
        peer_groups: peer_groups.iter().map(|s| s.to_string()).collect(),
        connections,
        bytes: connections * 1000,
        first_seen: T0 + connections as i64,
        last_seen: T0 + 3600 + connections as i64,
        learned,
    }
}

/// The connections: web behind an ALB (80 and 9090), a partner through a prefix list,
/// IPv6 in and out, ICMP, egress to a database, S3 and DNS; nightly to one internet host.
fn observed() -> Vec<Observed> {
    let both = &["sg-web", "sg-shared"];
    let alb = Source::Group("sg-alb".into());
    vec![
        conn(
            "eni-web1",
            WEB,
            both,
            false,
            6,
            80,
            "10.0.100.10",
            &["sg-alb"],
            100,
            alb.clone(),
        ),
        conn(
            "eni-web2",
            WEB,
            &["sg-web"],
            false,
            6,
            9090,
            "10.0.100.11",
            &["sg-alb"],
            40,
            alb,
        ),
        conn(
            "eni-web1",
            WEB,
            both,
            false,
            6,
            5000,
            "10.20.5.5",
            &[],
            7,
            Source::PrefixList("pl-0123".into()),
        ),
        conn(
            "eni-web2",
            WEB,
            &["sg-web"],
            false,
            6,
            443,
            "2001:db8:1:2::10",
            &[],
            3,
            cidr("2001:db8:1:2::/64"),
        ),
        conn(
            "eni-web2",
            WEB,
            &["sg-web"],
            false,
            1,
            0,
            "10.0.3.3",
            &[],
            2,
            cidr("10.0.0.0/8"),
        ),
        conn(
            "eni-web1",
            WEB,
            both,
            true,
            6,
            443,
            "2600::1",
            &[],
            5,
            cidr("::/0"),
        ),
        conn(
            "eni-web1",
            WEB,
            both,
            true,
            6,
            5432,
            "10.0.9.9",
            &["sg-db"],
            20,
            Source::Group("sg-db".into()),
        ),
        conn(
            "eni-web1",
            WEB,
            both,
            true,
            6,
            443,
            "52.216.1.1",
            &[],
            9,
            Source::PrefixList("pl-63a5400a".into()),
        ),
        conn(
            "eni-batch",
            NIGHTLY,
            &["sg-shared", "sg-gone"],
            true,
            6,
            443,
            "203.0.113.7",
            &[],
            4,
            cidr("203.0.113.7/32"),
        ),
        conn(
            "eni-web2",
            WEB,
            &["sg-web"],
            true,
            17,
            53,
            "10.0.0.2",
            &[],
            30,
            cidr("10.0.0.2/32"),
        ),
    ]
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// The rules of a status (or drifting), as their text without a rule id, per review.
fn texts(
    r: &vpcflow::secgroups::Review,
    pick: impl Fn(&vpcflow::secgroups::RuleReview) -> bool,
) -> BTreeSet<String> {
    r.groups
        .iter()
        .flat_map(|g| g.rules.iter())
        .filter(|x| pick(x))
        .map(|x| x.rule.to_string())
        .collect()
}

#[test]
fn unused_not_judged_and_drifting_rules() {
    let r = review(&groups(true), &observed());
    let ids: Vec<&str> = r.groups.iter().map(|g| g.group_id.as_str()).collect();
    assert_eq!(
        ids,
        ["sg-shared", "sg-web"],
        "task groups only, sg-alb is not one"
    );
    assert_eq!(r.missing_groups, ["sg-gone"]);
    assert_eq!(
        texts(&r, |x| x.status == RuleStatus::Unused),
        set(&[
            "sg-web ingress tcp 8080 from 0.0.0.0/0",
            "sg-shared ingress tcp 22 from 10.0.0.0/8"
        ])
    );
    assert_eq!(texts(&r, |x| x.status == RuleStatus::NotJudged), set(&[]));
    assert_eq!(
        texts(&r, |x| x.drifting),
        set(&[
            "sg-web ingress tcp 9090 from 0.0.0.0/0",
            "sg-web egress all to 0.0.0.0/0",
            "sg-shared egress tcp 443 to 0.0.0.0/0",
        ])
    );
    let shared = &r.groups[0];
    assert_eq!(
        shared.owners,
        [NIGHTLY, WEB],
        "the union of its ENIs' owners"
    );
    assert_eq!(shared.enis, ["eni-batch", "eni-web1"]);
    let web = &r.groups[1];
    assert_eq!(web.enis, ["eni-web1", "eni-web2"]);
    // 100 + 40 + 7 + 3 + 2 + 5 + 20 + 9 + 30 connections of web's ENIs.
    assert_eq!(web.seen.connections, 216);
    assert_eq!(web.seen.first_seen, Some(T0 + 2));
    assert_eq!(web.seen.last_seen, Some(T0 + 3600 + 100));

    let find = |text: &str| {
        r.groups
            .iter()
            .flat_map(|g| g.rules.iter())
            .find(|x| x.rule.to_string() == text)
            .unwrap()
    };
    // The ALB's rule: 100 connections that only it admits.
    let alb = find("sg-web ingress tcp 80 from sg-alb");
    assert_eq!((alb.usage.connections, alb.usage.bytes), (100, 100_000));
    assert_eq!(
        (alb.usage.first_seen, alb.usage.last_seen),
        (Some(T0 + 100), Some(T0 + 3700))
    );
    assert_eq!(alb.would_block.len(), 1);
    assert_eq!(
        (
            alb.would_block[0].server_port,
            alb.would_block[0].connections
        ),
        (80, 100)
    );
    assert!(!alb.drifting);
    // The drifting world-open 9090: all 40 connections need only sg-alb.
    let d = find("sg-web ingress tcp 9090 from 0.0.0.0/0");
    let learned: Vec<(String, u64)> = d
        .learned
        .iter()
        .map(|l| (l.source.to_string(), l.connections))
        .collect();
    assert_eq!(learned, [("sg-alb".to_string(), 40)]);
    // Egress to everything: sg-db 20, pl-63a5400a 9, 10.0.0.2/32 30 (S3's 9 also match sg-shared's 443).
    let all = find("sg-web egress all to 0.0.0.0/0");
    let learned: BTreeMap<String, u64> = all
        .learned
        .iter()
        .map(|l| (l.source.to_string(), l.connections))
        .collect();
    assert_eq!(
        learned,
        BTreeMap::from([
            ("sg-db".into(), 20),
            ("pl-63a5400a".into(), 9),
            ("10.0.0.2/32".into(), 30)
        ])
    );
    assert_eq!(all.usage.connections, 59);
    let blocked: u64 = all.would_block.iter().map(|b| b.connections).sum();
    assert_eq!(blocked, 50, "S3's 9 are admitted by sg-shared's 443 too");
    // Used and narrow enough.
    for text in [
        "sg-web ingress tcp 1024-65535 from pl-0123",
        "sg-web ingress tcp 443 from 2001:db8:1:2::/64",
        "sg-web ingress icmp type 8 from 10.0.0.0/8",
        "sg-web egress tcp 443 to ::/0",
    ] {
        let x = find(text);
        assert_eq!(x.status, RuleStatus::Used, "{text}");
        assert!(!x.drifting, "{text}");
    }
}

/// The proposal as (group, rule text) pairs.
fn proposal(r: &vpcflow::secgroups::Review) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut revoke = BTreeSet::new();
    let mut add = BTreeSet::new();
    for g in &r.groups {
        revoke.extend(g.proposal.revoke.iter().map(|x| x.to_string()));
        add.extend(g.proposal.authorize.iter().map(|x| x.rule.to_string()));
    }
    (revoke, add)
}

#[test]
fn the_proposal_revokes_unused_and_drifting_and_adds_what_was_seen() {
    let r = review(&groups(true), &observed());
    let (revoke, add) = proposal(&r);
    assert_eq!(
        revoke,
        set(&[
            "sg-web ingress tcp 8080 from 0.0.0.0/0",
            "sg-web ingress tcp 9090 from 0.0.0.0/0",
            "sg-web egress all to 0.0.0.0/0",
            "sg-shared ingress tcp 22 from 10.0.0.0/8",
            "sg-shared egress tcp 443 to 0.0.0.0/0",
        ])
    );
    assert_eq!(
        add,
        set(&[
            "sg-web ingress tcp 9090 from sg-alb",
            "sg-web egress tcp 5432 to sg-db",
            "sg-web egress udp 53 to 10.0.0.2/32",
            // S3 was admitted by sg-web's all and sg-shared's 443: the narrower one's group.
            "sg-shared egress tcp 443 to pl-63a5400a",
            "sg-shared egress tcp 443 to 203.0.113.7/32",
        ])
    );
    let shared = &r.groups[0];
    let owners: BTreeMap<String, Vec<String>> = shared
        .proposal
        .authorize
        .iter()
        .map(|n| (n.rule.to_string(), n.owners.clone()))
        .collect();
    assert_eq!(owners["sg-shared egress tcp 443 to pl-63a5400a"], [WEB]);
    assert_eq!(
        owners["sg-shared egress tcp 443 to 203.0.113.7/32"],
        [NIGHTLY]
    );
    for g in &r.groups {
        for n in &g.proposal.authorize {
            assert!(n
                .rule
                .description
                .as_deref()
                .unwrap()
                .starts_with("vpcflow learn: "));
        }
    }
}

#[test]
fn a_proposal_never_only_adds_beside_a_world_open_drifting_rule() {
    let r = review(&groups(true), &observed());
    let mut world_open = 0;
    for g in &r.groups {
        for x in g.rules.iter().filter(|x| x.drifting) {
            let open = matches!(&x.rule.source, Source::Cidr(c) if c.prefix_len() == 0);
            world_open += usize::from(open);
            assert!(g.proposal.revoke.contains(&x.rule), "{} kept", x.rule);
        }
        // Whatever a group gains, no world-open rule it keeps admits what was seen.
        let kept_open: Vec<String> = g
            .rules
            .iter()
            .filter(|x| !g.proposal.revoke.contains(&x.rule) && x.status == RuleStatus::Used)
            .filter(|x| matches!(&x.rule.source, Source::Cidr(c) if c.prefix_len() == 0))
            .filter(|x| x.learned.iter().any(|l| l.source != x.rule.source))
            .map(|x| x.rule.to_string())
            .collect();
        assert!(kept_open.is_empty(), "{kept_open:?}");
    }
    assert_eq!(world_open, 3);
}

#[test]
fn without_its_entries_a_prefix_list_rule_is_not_judged() {
    let r = review(&groups(false), &observed());
    assert_eq!(
        texts(&r, |x| x.status == RuleStatus::NotJudged),
        set(&["sg-web ingress tcp 1024-65535 from pl-0123"])
    );
    assert_eq!(
        texts(&r, |x| x.status == RuleStatus::Unused),
        set(&[
            "sg-web ingress tcp 8080 from 0.0.0.0/0",
            "sg-shared ingress tcp 22 from 10.0.0.0/8"
        ])
    );
    // The partner's connection is neither blamed on another rule nor authorized anew.
    let (revoke, add) = proposal(&r);
    assert!(!revoke.iter().any(|t| t.contains("pl-0123")), "{revoke:?}");
    assert!(
        !add.iter()
            .any(|t| t.contains("pl-0123") || t.contains(" 5000 ")),
        "{add:?}"
    );
    assert_eq!(add.len(), 5);
    let mut text = Vec::new();
    r.write_text(&mut text).unwrap();
    let text = String::from_utf8(text).unwrap();
    assert!(
        text.contains("  not judged (the prefix list's entries were not given):\n    sg-web ingress tcp 1024-65535 from pl-0123\n"),
        "{text}"
    );
}

#[test]
fn admitting_rules() {
    let with = groups(true);
    let without = groups(false);
    let pick = |g: &SecurityGroups, o: &Observed| {
        admitting_rule(
            g,
            &o.own_groups,
            o.opened_by_task,
            o.protocol,
            o.server_port,
            &o.peer_addr,
            &o.peer_groups,
        )
        .map(|r| r.to_string())
    };
    let expected = [
        Some("sg-web ingress tcp 80 from sg-alb"),
        Some("sg-web ingress tcp 9090 from 0.0.0.0/0"),
        Some("sg-web ingress tcp 1024-65535 from pl-0123"),
        Some("sg-web ingress tcp 443 from 2001:db8:1:2::/64"),
        Some("sg-web ingress icmp type 8 from 10.0.0.0/8"),
        Some("sg-web egress tcp 443 to ::/0"),
        Some("sg-web egress all to 0.0.0.0/0"),
        // Same /0 twice: sg-shared's one port beats every port.
        Some("sg-shared egress tcp 443 to 0.0.0.0/0"),
        Some("sg-shared egress tcp 443 to 0.0.0.0/0"),
        Some("sg-web egress all to 0.0.0.0/0"),
    ];
    let obs = observed();
    for (o, e) in obs.iter().zip(expected) {
        assert_eq!(pick(&with, o).as_deref(), e, "{o:?}");
    }
    assert_eq!(
        pick(&without, &obs[2]),
        None,
        "the prefix list's entries are unknown"
    );
    // Nothing admits SSH from the internet, nor a peer on 8080 as egress.
    let mut ssh = obs[0].clone();
    (ssh.server_port, ssh.peer_addr, ssh.peer_groups) = (22, addr("198.51.100.1").unwrap(), vec![]);
    assert_eq!(pick(&with, &ssh), None);
    // From inside 10/8, sg-shared's SSH rule admits it.
    ssh.peer_addr = addr("10.1.1.1").unwrap();
    assert_eq!(
        pick(&with, &ssh).as_deref(),
        Some("sg-shared ingress tcp 22 from 10.0.0.0/8")
    );
}

#[test]
fn the_text_report_says_what_each_rule_did() {
    let r = review(&groups(true), &observed());
    let mut out = Vec::new();
    r.write_text(&mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    let (first, last) = ("2026-11-01T00:00:02Z", "2026-11-01T01:01:40Z");
    assert!(text.contains(&format!(
        "  unused rules:\n    sg-web ingress tcp 8080 from 0.0.0.0/0: would have blocked nothing seen between {first} and {last}\n"
    )), "{text}");
    assert!(
        text.contains("security group sg-web (web)\n  tasks: service web (cluster prod)\n"),
        "{text}"
    );
    assert!(
        text.contains("  tasks: family nightly; service web (cluster prod)\n"),
        "{text}"
    );
    assert!(text.contains("    sg-web ingress tcp 9090 from 0.0.0.0/0: its 40 connections need only sg-alb (40 connections)\n"), "{text}");
    assert!(
        text.contains("    revoke sg-web ingress tcp 9090 from 0.0.0.0/0 (wider than needed)\n"),
        "{text}"
    );
    assert!(
        text.contains("    revoke sg-web ingress tcp 8080 from 0.0.0.0/0 (unused)\n"),
        "{text}"
    );
    assert!(text.contains("    authorize sg-web ingress tcp 9090 from sg-alb (40 connections of service web (cluster prod))\n"), "{text}");
    assert!(
        text.contains("security group sg-gone: not in the security groups given"),
        "{text}"
    );
    // The JSON form carries the same judgement.
    let v = serde_json::to_value(&r).unwrap();
    assert_eq!(v["missing_groups"], json!(["sg-gone"]));
    let web = &v["groups"][1];
    assert_eq!(web["group_id"], "sg-web");
    assert_eq!(web["rules"][0]["status"], "unused");
    assert_eq!(web["rules"][0]["rule"]["source"], "0.0.0.0/0");
    assert_eq!(web["rules"][0]["rule"]["from_port"], 8080);
    assert_eq!(web["rules"][1]["drifting"], true);
}

// ---------------------------------------------------------------------------------------
// The emitted files.

/// The documented arguments of aws_vpc_security_group_ingress_rule / egress_rule that
/// a proposal may use.
const TF_ARGUMENTS: &[&str] = &[
    "security_group_id",
    "ip_protocol",
    "from_port",
    "to_port",
    "cidr_ipv4",
    "cidr_ipv6",
    "prefix_list_id",
    "referenced_security_group_id",
    "description",
];

fn emitted() -> (tempfile::TempDir, vpcflow::secgroups::Review, Vec<PathBuf>) {
    let d = tempfile::tempdir().unwrap();
    let r = review(&groups(true), &observed());
    // A stale file of an earlier run, which this run's change no longer needs.
    std::fs::create_dir_all(d.path().join("sg-shared")).unwrap();
    std::fs::write(d.path().join("sg-shared/authorize-ingress.json"), "{}").unwrap();
    let paths = r.emit(d.path()).unwrap();
    (d, r, paths)
}

#[test]
fn emit_writes_one_folder_per_changed_group() {
    let (d, _, paths) = emitted();
    let rel: Vec<String> = paths
        .iter()
        .map(|p| {
            p.strip_prefix(d.path())
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/")
        })
        .collect();
    assert_eq!(
        rel,
        [
            "sg-shared/authorize-egress.json",
            "sg-shared/main.tf",
            "sg-shared/revoke-egress.json",
            "sg-shared/revoke-ingress.json",
            "sg-web/authorize-egress.json",
            "sg-web/authorize-ingress.json",
            "sg-web/main.tf",
            "sg-web/revoke-egress.json",
            "sg-web/revoke-ingress.json",
        ]
    );
    assert!(
        !d.path().join("sg-shared/authorize-ingress.json").exists(),
        "stale file left"
    );
    let doc: Value = serde_json::from_slice(
        &std::fs::read(d.path().join("sg-web/authorize-ingress.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        doc,
        json!({"GroupId": "sg-web", "IpPermissions": [{
            "IpProtocol": "tcp", "FromPort": 9090, "ToPort": 9090,
            "UserIdGroupPairs": [{"GroupId": "sg-alb", "Description": doc["IpPermissions"][0]["UserIdGroupPairs"][0]["Description"]}]
        }]})
    );
    let desc = doc["IpPermissions"][0]["UserIdGroupPairs"][0]["Description"]
        .as_str()
        .unwrap();
    assert_eq!(
        desc,
        "vpcflow learn: 40 connections of service web (cluster prod) seen 2026-11-01T00:00:40Z to 2026-11-01T01:00:40Z"
    );
    let revoke: Value =
        serde_json::from_slice(&std::fs::read(d.path().join("sg-web/revoke-egress.json")).unwrap())
            .unwrap();
    assert_eq!(
        revoke,
        json!({"GroupId": "sg-web", "IpPermissions": [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]})
    );
}

/// Applies the emitted documents to the scenario (revoked rules dropped, authorized
/// IpPermissions added) and checks that every observed connection is still admitted,
/// and that each revoked IpPermission is one of the scenario's rules.
#[test]
fn the_emitted_change_still_admits_every_connection() {
    let (_d, r, paths) = emitted();
    let mut drop = BTreeSet::new();
    let mut extra = Vec::new();
    for p in paths
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
    {
        let doc: Value = serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap();
        let group = doc["GroupId"].as_str().unwrap().to_string();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        let egress = name.contains("egress");
        for perm in doc["IpPermissions"].as_array().unwrap() {
            if name.starts_with("authorize") {
                extra.push((group.clone(), egress, perm.clone()));
                continue;
            }
            let found = RULES.iter().find(|x| {
                let field = match x.kind {
                    "IpRanges" => "CidrIp",
                    "Ipv6Ranges" => "CidrIpv6",
                    "PrefixListIds" => "PrefixListId",
                    _ => "GroupId",
                };
                x.group == group
                    && x.egress == egress
                    && perm["IpProtocol"] == x.protocol
                    && perm[x.kind][0][field] == x.value
                    && x.ports.map(|(a, b)| (json!(a), json!(b)))
                        == perm
                            .get("FromPort")
                            .map(|a| (a.clone(), perm["ToPort"].clone()))
            });
            drop.insert(
                found
                    .unwrap_or_else(|| panic!("{perm} is no rule"))
                    .text
                    .to_string(),
            );
        }
    }
    let revoked: BTreeSet<String> = r
        .groups
        .iter()
        .flat_map(|g| g.proposal.revoke.iter().map(|x| x.to_string()))
        .collect();
    assert_eq!(drop, revoked);
    let after = document(&drop, &extra);
    let mut g = SecurityGroups::parse("after.json", after.to_string().as_bytes()).unwrap();
    let lists = json!({
        "pl-0123": {"Entries": [{"Cidr": "10.20.0.0/16"}]},
        "pl-63a5400a": {"Entries": [{"Cidr": "52.216.0.0/15"}]},
    });
    g.add_prefix_lists("lists.json", lists.to_string().as_bytes())
        .unwrap();
    let obs = observed();
    for o in &obs {
        let a = admitting_rule(
            &g,
            &o.own_groups,
            o.opened_by_task,
            o.protocol,
            o.server_port,
            &o.peer_addr,
            &o.peer_groups,
        );
        assert!(a.is_some(), "{o:?} is no longer admitted");
    }
    // And the change is a fixed point: reviewed again, nothing is unused, nothing drifts,
    // nothing is proposed.
    let again = review(&g, &obs);
    assert!(texts(&again, |x| x.status != RuleStatus::Used).is_empty());
    assert!(texts(&again, |x| x.drifting).is_empty());
    assert!(again.groups.iter().all(|g| g.proposal.is_empty()));
}

/// Runs a Python script with the files, returns its stdout.
fn python(script: &str, args: &[&Path]) -> String {
    let o = Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", common::stderr(&o));
    common::stdout(&o)
}

/// Whether `module` (of the package `package`) can be used here, per the variable `var`:
/// `require` fails without it, `skip` skips, unset uses it where python3 imports it.
fn available(test: &str, var: &str, module: &str, package: &str) -> bool {
    let mode = std::env::var(var).unwrap_or_default();
    if mode == "skip" {
        common::skip(test, &format!("{package}: {var}=skip"));
        return false;
    }
    let found = common::python_imports(module);
    if !found {
        assert!(
            mode != "require",
            "{var}=require, but python3 cannot import {module}"
        );
        common::skip(
            test,
            &format!("{package} not installed (pip install {package})"),
        );
    }
    found
}

#[test]
fn main_tf_parses_as_hcl_with_documented_arguments_only() {
    let (d, r, paths) = emitted();
    if Command::new("terraform")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        for g in ["sg-web", "sg-shared"] {
            let o = Command::new("terraform")
                .args(["fmt", "-check", "-diff"])
                .arg(d.path().join(g))
                .output()
                .unwrap();
            assert!(
                o.status.success(),
                "terraform fmt -check: {}{}",
                common::stdout(&o),
                common::stderr(&o)
            );
        }
    } else {
        common::skip(
            "main_tf_parses_as_hcl_with_documented_arguments_only",
            "terraform not installed",
        );
    }
    if !available(
        "main_tf_parses_as_hcl_with_documented_arguments_only",
        "VPCFLOW_HCL2",
        "hcl2",
        "pip install python-hcl2",
    ) {
        eprintln!("skipped: python-hcl2 not installed");
        return;
    }
    // Each resource as one JSON line: file, type, name, attributes (strings unquoted).
    let script = r#"
import json, sys, hcl2
def plain(v):
    if isinstance(v, str) and len(v) >= 2 and v[0] == '"' and v[-1] == '"':
        return json.loads(v)
    return v
for path in sys.argv[1:]:
    doc = hcl2.load(open(path))
    for block in doc.get("resource", []):
        for kind, named in block.items():
            for name, attrs in named.items():
                attrs = {k: plain(v) for k, v in attrs.items() if not k.startswith("__")}
                print(json.dumps([path, plain(kind), plain(name), attrs]))
"#;
    let tfs: Vec<&Path> = paths
        .iter()
        .filter(|p| p.ends_with("main.tf"))
        .map(PathBuf::as_path)
        .collect();
    assert_eq!(tfs.len(), 2);
    let out = python(script, &tfs);
    let mut seen = BTreeMap::new();
    let mut names = BTreeSet::new();
    for line in out.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        let (kind, name, attrs) = (
            v[1].as_str().unwrap(),
            v[2].as_str().unwrap(),
            v[3].as_object().unwrap(),
        );
        assert!(
            names.insert(format!("{}/{kind}.{name}", v[0])),
            "duplicate {name}"
        );
        for k in attrs.keys() {
            assert!(
                TF_ARGUMENTS.contains(&k.as_str()),
                "undocumented argument {k}"
            );
        }
        let direction = match kind {
            "aws_vpc_security_group_ingress_rule" => "ingress",
            "aws_vpc_security_group_egress_rule" => "egress",
            other => panic!("resource {other}"),
        };
        let source = [
            "cidr_ipv4",
            "cidr_ipv6",
            "prefix_list_id",
            "referenced_security_group_id",
        ]
        .iter()
        .filter_map(|k| attrs.get(*k))
        .map(|v| v.as_str().unwrap().to_string())
        .collect::<Vec<_>>();
        assert_eq!(source.len(), 1, "{line}");
        let port = match (attrs.get("from_port"), attrs.get("to_port")) {
            (Some(a), Some(b)) => {
                assert_eq!(a, b, "one port per rule");
                format!(" {a}")
            }
            (None, None) => String::new(),
            _ => panic!("{line}"),
        };
        assert!(attrs["description"]
            .as_str()
            .unwrap()
            .starts_with("vpcflow learn: "));
        let text = format!(
            "{} {direction} {}{port} {} {}",
            attrs["security_group_id"].as_str().unwrap(),
            attrs["ip_protocol"].as_str().unwrap(),
            if direction == "ingress" { "from" } else { "to" },
            source[0]
        );
        seen.insert(text, name.to_string());
    }
    let (_, add) = proposal(&r);
    assert_eq!(seen.keys().cloned().collect::<BTreeSet<_>>(), add);
    // The revocations are in a comment, with what to do about them.
    let tf = std::fs::read_to_string(d.path().join("sg-web/main.tf")).unwrap();
    assert!(tf.contains("#   sg-web egress all to 0.0.0.0/0\n"), "{tf}");
    assert!(tf.contains("terraform import"), "{tf}");
}

/// Checks each CLI document among `paths` with botocore's `validate_parameters` against
/// the input of the operation its name says; false (said skipped) without botocore.
fn botocore_valid(test: &str, paths: &[PathBuf]) -> bool {
    if !available(test, "VPCFLOW_BOTOCORE", "botocore.validate", "botocore") {
        return false;
    }
    let script = r#"
import json, os, sys
from botocore.session import get_session
from botocore.validate import validate_parameters
from botocore.exceptions import ParamValidationError
model = get_session().get_service_model("ec2")
ops = {"authorize-ingress.json": "AuthorizeSecurityGroupIngress",
       "authorize-egress.json": "AuthorizeSecurityGroupEgress",
       "revoke-ingress.json": "RevokeSecurityGroupIngress",
       "revoke-egress.json": "RevokeSecurityGroupEgress"}
for path in sys.argv[1:]:
    shape = model.operation_model(ops[os.path.basename(path)]).input_shape
    try:
        validate_parameters(json.load(open(path)), shape)
        print(json.dumps([path, ""]))
    except ParamValidationError as e:
        print(json.dumps([path, str(e)]))
"#;
    let docs: Vec<&Path> = paths
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(PathBuf::as_path)
        .collect();
    let out = python(script, &docs);
    assert_eq!(out.lines().count(), docs.len());
    for line in out.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        assert_eq!(v[1], "", "{}", v[0]);
    }
    true
}

#[test]
fn cli_documents_validate_against_botocores_ec2_model() {
    let (_d, _, paths) = emitted();
    assert_eq!(
        paths
            .iter()
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .count(),
        7
    );
    botocore_valid("cli_documents_validate_against_botocores_ec2_model", &paths);
}

/// `describe-security-group-rules` output: the `sgr-` ids reach the report and the
/// Terraform comment; ICMP is authorized for every type, `-1` without ports.
#[test]
fn rule_ids_icmp_and_all_protocols_in_the_emitted_change() {
    let doc = json!({"SecurityGroupRules": [
        {"SecurityGroupRuleId": "sgr-0a1", "GroupId": "sg-x", "IsEgress": false,
         "IpProtocol": "icmp", "FromPort": -1, "ToPort": -1, "CidrIpv4": "0.0.0.0/0"},
        {"SecurityGroupRuleId": "sgr-0a2", "GroupId": "sg-x", "IsEgress": true,
         "IpProtocol": "-1", "CidrIpv6": "::/0"},
        {"SecurityGroupRuleId": "sgr-0a3", "GroupId": "sg-x", "IsEgress": true,
         "IpProtocol": "udp", "FromPort": 0, "ToPort": 65535, "CidrIpv4": "10.0.0.0/8"},
    ]});
    let g = SecurityGroups::parse("rules.json", doc.to_string().as_bytes()).unwrap();
    let obs = vec![
        conn(
            "eni-x",
            NIGHTLY,
            &["sg-x"],
            false,
            1,
            0,
            "10.0.7.7",
            &[],
            6,
            cidr("10.0.0.0/16"),
        ),
        conn(
            "eni-x",
            NIGHTLY,
            &["sg-x"],
            true,
            17,
            123,
            "10.0.0.123",
            &[],
            2,
            cidr("10.0.0.0/8"),
        ),
    ];
    let r = review(&g, &obs);
    let (revoke, add) = proposal(&r);
    assert_eq!(
        revoke,
        set(&[
            "sg-x ingress icmp all from 0.0.0.0/0 (sgr-0a1)",
            "sg-x egress all to ::/0 (sgr-0a2)"
        ])
    );
    assert_eq!(add, set(&["sg-x ingress icmp all from 10.0.0.0/16"]));
    let d = tempfile::tempdir().unwrap();
    let paths = r.emit(d.path()).unwrap();
    let names: Vec<String> = paths
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        [
            "authorize-ingress.json",
            "main.tf",
            "revoke-egress.json",
            "revoke-ingress.json"
        ]
    );
    let add: Value = serde_json::from_slice(&std::fs::read(&paths[0]).unwrap()).unwrap();
    let p = &add["IpPermissions"][0];
    assert_eq!(
        (&p["IpProtocol"], &p["FromPort"], &p["ToPort"]),
        (&json!("icmp"), &json!(-1), &json!(-1))
    );
    assert_eq!(p["IpRanges"][0]["CidrIp"], "10.0.0.0/16");
    let revoke: Value = serde_json::from_slice(&std::fs::read(&paths[2]).unwrap()).unwrap();
    assert_eq!(
        revoke["IpPermissions"],
        json!([{"IpProtocol": "-1", "Ipv6Ranges": [{"CidrIpv6": "::/0"}]}])
    );
    let tf = std::fs::read_to_string(&paths[1]).unwrap();
    assert!(
        tf.contains(
            "#     terraform import aws_vpc_security_group_ingress_rule.revoke_sgr_0a1 sgr-0a1\n"
        ),
        "{tf}"
    );
    assert!(
        tf.contains(
            "#     terraform import aws_vpc_security_group_egress_rule.revoke_sgr_0a2 sgr-0a2\n"
        ),
        "{tf}"
    );
    botocore_valid(
        "rule_ids_icmp_and_all_protocols_in_the_emitted_change",
        &paths,
    );
}

// ---------------------------------------------------------------------------------------
// Bad inputs: each message, with its position.

fn parse_err(text: &str) -> SgError {
    SecurityGroups::parse("groups.json", text.as_bytes()).unwrap_err()
}

#[test]
fn describe_network_interfaces_output_is_named_not_read_as_no_groups() {
    let e = parse_err(r#"{"NetworkInterfaces": [{"NetworkInterfaceId": "eni-1"}]}"#);
    assert!(matches!(e, SgError::Shape { .. }));
    assert!(e.to_string().starts_with("groups.json: this looks like describe-network-interfaces output, not describe-security-groups output"), "{e}");
}

#[test]
fn a_bad_cidr_is_named_by_its_path() {
    let mut doc = document(&BTreeSet::new(), &[]);
    doc["SecurityGroups"][1]["IpPermissionsEgress"][0]["IpRanges"][0]["CidrIp"] =
        "0.0.0.0/33".into();
    assert_eq!(
        parse_err(&doc.to_string()).to_string(),
        "groups.json: SecurityGroups[1].IpPermissionsEgress[0].IpRanges[0].CidrIp: \"0.0.0.0/33\" is not a CIDR block"
    );
}

#[test]
fn a_bad_port_is_named_by_its_path() {
    let mut doc = document(&BTreeSet::new(), &[]);
    doc["SecurityGroups"][0]["IpPermissions"][3]["ToPort"] = 65536.into();
    assert_eq!(
        parse_err(&doc.to_string()).to_string(),
        "groups.json: SecurityGroups[0].IpPermissions[3].ToPort: 65536 is not a port (0-65535)"
    );
    doc["SecurityGroups"][0]["IpPermissions"][3]["ToPort"] = (-5).into();
    assert_eq!(
        parse_err(&doc.to_string()).to_string(),
        "groups.json: SecurityGroups[0].IpPermissions[3].ToPort: -5 is not a port (0-65535)"
    );
}

#[test]
fn truncated_json_is_an_error_at_its_line_and_column() {
    let text = serde_json::to_string_pretty(&document(&BTreeSet::new(), &[])).unwrap();
    let cut = &text[..text.len() / 2];
    let line = cut.lines().count();
    let column = cut.lines().last().unwrap().len();
    match parse_err(cut) {
        SgError::Json {
            file,
            line: l,
            column: c,
            ..
        } => {
            assert_eq!((file.as_str(), l, c), ("groups.json", line, column));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        parse_err("").to_string(),
        "groups.json: not valid JSON at line 1, column 0: EOF while parsing a value"
    );
}

#[test]
fn prefix_list_entries_without_an_id_say_how_to_name_the_file() {
    let mut g = groups(false);
    let e = g
        .add_prefix_lists(
            "entries.json",
            br#"{"Entries": [{"Cidr": "10.20.0.0/16"}]}"#,
        )
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "entries.json: get-managed-prefix-list-entries output does not say which list it is: \
         name the file after the list (pl-0abc.json), or give {\"pl-0abc\": {\"Entries\": [...]}}"
    );
}
