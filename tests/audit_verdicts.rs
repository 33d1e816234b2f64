//! The audit's verdict is never silently wrong: regression tests, each named after a
//! case where `vpcflow audit` used to print a clean result it had not earned, or a
//! finding for a response.

mod common;

use std::process::Output;

use common::{stderr, vpcflow};

// 2026-11-01T00:00:00Z
const T0: i64 = 1_793_491_200;

const MAP: &str = "\
eni_id,kind,private_ip,task_arn,cluster,service,task_family,security_groups,subnet_id,vpc_id,valid_from,valid_to
eni-web,task,10.0.1.10,arn:aws:ecs:us-east-1:1:task/prod/web1,prod,web,web,sg-web,,,,
eni-api,task,10.0.2.20,arn:aws:ecs:us-east-1:1:task/prod/api1,prod,api,api,sg-api,,,,
eni-alb,alb,10.0.0.21,,,,,sg-alb,,,,
";

const V2: &str = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status";
const V5: &str = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status tcp-flags";

/// One connection as the ENI `eni` logs it: the request from `client` to `server` at
/// `at` (seconds after T0), and the response `delay` seconds later with the action
/// `response`. Without `flags` the lines are in the V2 layout; with `(request,
/// response)` flags, in V5.
#[derive(Clone, Copy)]
struct Exchange<'a> {
    eni: &'a str,
    client: (&'a str, u16),
    server: (&'a str, u16),
    proto: u8,
    at: i64,
    delay: i64,
    response: &'a str,
    flags: Option<(u8, u8)>,
}

impl<'a> Exchange<'a> {
    fn tcp(eni: &'a str, client: (&'a str, u16), server: (&'a str, u16), at: i64) -> Self {
        Exchange {
            eni,
            client,
            server,
            proto: 6,
            at,
            delay: 0,
            response: "ACCEPT",
            flags: None,
        }
    }

    fn line(
        &self,
        from: (&str, u16),
        to: (&str, u16),
        action: &str,
        at: i64,
        f: Option<u8>,
    ) -> String {
        let t = T0 + at;
        let mut l = format!(
            "2 123456789012 {} {} {} {} {} {} 4 400 {t} {} {action} OK",
            self.eni,
            from.0,
            to.0,
            from.1,
            to.1,
            self.proto,
            t + 20
        );
        if let Some(f) = f {
            l += &format!(" {f}");
        }
        l
    }

    /// The request line and the response line.
    fn lines(&self) -> [String; 2] {
        [
            self.line(
                self.client,
                self.server,
                "ACCEPT",
                self.at,
                self.flags.map(|f| f.0),
            ),
            self.line(
                self.server,
                self.client,
                self.response,
                self.at + self.delay,
                self.flags.map(|f| f.1),
            ),
        ]
    }
}

/// The lines of several exchanges.
fn lines<'a>(exchanges: impl IntoIterator<Item = Exchange<'a>>) -> Vec<String> {
    exchanges.into_iter().flat_map(|e| e.lines()).collect()
}

struct Case {
    dir: tempfile::TempDir,
}

impl Case {
    fn new() -> Case {
        Case {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn file(&self, name: &str, text: &str) -> String {
        let p = self.dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_string()
    }

    fn logs(&self, header: &str, lines: &[String]) -> String {
        self.file("flows.log", &format!("{header}\n{}\n", lines.join("\n")))
    }
}

/// (peer_addr, protocol, action, ports) of each finding.
fn keys(o: &Output) -> Vec<(String, i64, String, Vec<i64>)> {
    common::json_lines(o)
        .iter()
        .map(|f| {
            (
                f["peer_addr"].as_str().unwrap().to_string(),
                f["protocol"].as_i64().unwrap(),
                f["action"].as_str().unwrap().to_string(),
                f["ports"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|p| p.as_i64().unwrap())
                    .collect(),
            )
        })
        .collect()
}

/// A policy for web alone, usable without a map (no rule names services or groups).
fn web_only_policy(ingress: &str) -> String {
    format!(
        "[network]\nvpc_cidrs = [\"10.0.0.0/16\"]\n\n[[service]]\nname = \"web\"\nports = [8080]\n{ingress}\n"
    )
}

fn web_policy(ingress: &str) -> String {
    format!(
        "[network]\nvpc_cidrs = [\"10.0.0.0/16\"]\n\n[[service]]\nname = \"web\"\nports = [8080]\n{ingress}\n\n[[service]]\nname = \"api\"\nports = [9090]\ningress_from_services = [\"web\"]\n"
    )
}

/// `vpcflow audit` with the test map, `policy`, and `extra` arguments (JSON output
/// unless `extra` names a format).
fn audit(case: &Case, logs: &str, policy: &str, extra: &[&str]) -> Output {
    let map = case.file("map.csv", MAP);
    let policy = case.file("policy.toml", policy);
    let mut args = vec!["audit", logs, "--map", &map, "--policy", &policy];
    if !extra.contains(&"--format") {
        args.extend(["--format", "json"]);
    }
    args.extend_from_slice(extra);
    vpcflow(&args)
}

/// An internet host's SYN into the web task, and the task's SYN-ACK (V5), each line
/// followed by `ecs`.
fn internet_syn_into_web(ecs: &str) -> Vec<String> {
    let syn = Exchange {
        flags: Some((2, 18)),
        delay: 0,
        ..Exchange::tcp("eni-web", ("198.51.100.23", 51000), ("10.0.1.10", 8080), 60)
    };
    syn.lines().iter().map(|l| format!("{l} {ecs}")).collect()
}

#[test]
fn v7_ecs_fields_without_flow_direction_or_map_still_find_the_internet_syn() {
    let case = Case::new();
    let header = format!("{V5} ecs-cluster-name ecs-service-name ecs-task-arn");
    let ecs = "prod web arn:aws:ecs:us-east-1:1:task/prod/web1";
    let logs = case.logs(&header, &internet_syn_into_web(ecs));
    let policy = case.file(
        "policy.toml",
        &web_only_policy("ingress_from_cidrs = [\"10.0.0.0/16\"]"),
    );
    // Without a map: the ECS fields say whose ENI it is; the addresses say which side.
    let o = vpcflow(&["audit", &logs, "--policy", &policy, "--format", "json"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(
        keys(&o),
        [("198.51.100.23".into(), 6, "ACCEPT".into(), vec![8080])]
    );
    let f = &common::json_lines(&o)[0];
    assert_eq!(f["task_arn"], "arn:aws:ecs:us-east-1:1:task/prod/web1");
    assert_eq!(f["service"], "web");
    assert_eq!(f["peer_kind"], "internet");
    // The same input with a map gives the same finding.
    let with_map = audit(
        &case,
        &logs,
        &web_policy("ingress_from_cidrs = [\"10.0.0.0/16\"]"),
        &[],
    );
    assert_eq!(with_map.status.code(), Some(1), "{}", stderr(&with_map));
    assert_eq!(keys(&with_map), keys(&o));
}

#[test]
fn layout_without_interface_id_is_not_skipped_silently() {
    let case = Case::new();
    let lines: Vec<String> = internet_syn_into_web("")
        .iter()
        .map(|l| {
            // Drop the interface-id column (the third field).
            let f: Vec<&str> = l.split_whitespace().collect();
            [&f[..2], &f[3..14]].concat().join(" ")
        })
        .collect();
    let header = "version account-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status";
    let logs = case.logs(header, &lines);
    let o = audit(&case, &logs, &web_policy(""), &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(o.stdout.is_empty());
    let err = stderr(&o);
    assert!(err.contains("no task could be audited"), "{err}");
    assert!(
        err.contains("2 records in layouts without interface-id"),
        "{err}"
    );
    // Beside a file that can be audited, the records that cannot are still reported.
    let with_eni = case.file(
        "with-eni.log",
        &format!("{V5}\n{}\n", internet_syn_into_web("").join("\n")),
    );
    let map = case.file("map.csv", MAP);
    let policy = case.file("policy.toml", &web_policy(""));
    let o = vpcflow(&[
        "audit", &logs, &with_eni, "--map", &map, "--policy", &policy, "--format", "json",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(
            "vpcflow: warning: 2 records in layouts without interface-id were not audited"
        ),
        "{}",
        stderr(&o)
    );
}

#[test]
fn audit_without_map_or_ecs_fields_exits_2_saying_why() {
    let case = Case::new();
    let logs = case.logs(V5, &internet_syn_into_web(""));
    let o = vpcflow(&["audit", &logs, "--allow-cidr", "vpc", "--format", "json"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(o.stdout.is_empty());
    let err = stderr(&o);
    assert!(err.contains("no task could be audited"), "{err}");
    assert!(err.contains("no --map"), "{err}");
    // A table says nothing about being clean either.
    let o = vpcflow(&["audit", &logs, "--allow-cidr", "vpc", "--format", "table"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(!String::from_utf8_lossy(&o.stdout).contains("No unexpected"));
}

#[test]
fn no_audited_service_present_exits_2() {
    let case = Case::new();
    let logs = case.logs(V5, &internet_syn_into_web(""));
    let o = audit(
        &case,
        &logs,
        "[[service]]\nname = \"api\"\ningress_from_services = [\"web\"]\n",
        &[],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("no task could be audited"), "{err}");
    assert!(err.contains("web"), "{err}");
}

#[test]
fn ipv6_any_cidr_does_not_admit_ipv4_peers() {
    let case = Case::new();
    let logs = case.logs(V5, &internet_syn_into_web(""));
    let o = audit(
        &case,
        &logs,
        &web_policy("ingress_from_cidrs = [\"::/0\"]"),
        &[],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(
        keys(&o),
        [("198.51.100.23".into(), 6, "ACCEPT".into(), vec![8080])]
    );
    // And 0.0.0.0/0 does admit it.
    let o = audit(
        &case,
        &logs,
        &web_policy("ingress_from_cidrs = [\"0.0.0.0/0\"]"),
        &[],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

#[test]
fn service_rule_for_a_cluster_wins_over_one_for_any_cluster() {
    let case = Case::new();
    let logs = case.logs(V5, &internet_syn_into_web(""));
    let policy = "[network]\nvpc_cidrs = [\"10.0.0.0/16\"]\n\n\
        [[service]]\nname = \"web\"\ningress_from_cidrs = [\"0.0.0.0/0\"]\n\n\
        [[service]]\nname = \"web\"\ncluster = \"prod\"\nports = [8080]\ningress_from_security_groups = [\"sg-alb\"]\n";
    let o = audit(&case, &logs, policy, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(keys(&o).len(), 1);
    // In another cluster the rule for any cluster applies.
    let policy_staging = policy.replace("cluster = \"prod\"", "cluster = \"staging\"");
    let o = audit(&case, &logs, &policy_staging, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // Two rules for the same (name, cluster) are an error.
    let twice = format!("{policy}\n[[service]]\nname = \"web\"\ncluster = \"prod\"\n");
    let o = audit(&case, &logs, &twice, &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("listed twice"), "{}", stderr(&o));
}

#[test]
fn allow_flags_apply_to_every_service_not_only_defaults() {
    let case = Case::new();
    let logs = case.logs(V5, &internet_syn_into_web(""));
    let policy = web_policy("ingress_from_security_groups = [\"sg-alb\"]");
    let o = audit(&case, &logs, &policy, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let o = audit(&case, &logs, &policy, &["--allow-cidr", "198.51.100.0/24"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(o.stdout.is_empty());
}

#[test]
fn since_after_until_is_a_usage_error() {
    let case = Case::new();
    let logs = case.logs(V5, &internet_syn_into_web(""));
    let o = audit(
        &case,
        &logs,
        &web_policy(""),
        &[
            "--since",
            "2026-11-01T01:00:00Z",
            "--until",
            "2026-11-01T00:00:00Z",
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert_eq!(
        stderr(&o),
        "vpcflow: error: --since 2026-11-01T01:00:00Z is not before --until 2026-11-01T00:00:00Z\n"
    );
    for cmd in ["cat", "query"] {
        let o = vpcflow(&[cmd, &logs, "--since", "100", "--until", "100"]);
        assert_eq!(o.status.code(), Some(2), "{cmd}");
    }
}

#[test]
fn nacl_dropped_response_to_the_tasks_own_connection_is_not_a_finding() {
    let case = Case::new();
    // The api task calls an internet host; a network ACL drops the replies, which the
    // flow log shows as REJECTed inbound records that start after the request.
    let lines = lines(
        [45000u16, 45001, 45002]
            .iter()
            .enumerate()
            .map(|(i, &p)| Exchange {
                delay: 2,
                response: "REJECT",
                ..Exchange::tcp(
                    "eni-api",
                    ("10.0.2.20", p),
                    ("198.51.100.80", 443),
                    100 + 60 * i as i64,
                )
            }),
    );
    let logs = case.logs(V2, &lines);
    let o = audit(&case, &logs, &web_policy(""), &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(o.stdout.is_empty());
}

#[test]
fn task_calling_a_high_port_internet_service_is_not_a_finding() {
    let case = Case::new();
    // web calls 203.0.113.50:50051 (gRPC) from ephemeral ports: both ports are high, no
    // flags (v2), request and response in the same second. The port that stays the
    // same across the connections is the server's.
    let lines = lines([40000u16, 40111, 40222].iter().enumerate().map(|(i, &p)| {
        Exchange::tcp(
            "eni-web",
            ("10.0.1.10", p),
            ("203.0.113.50", 50051),
            100 + 60 * i as i64,
        )
    }));
    let logs = case.logs(V2, &lines);
    let o = audit(&case, &logs, &web_policy(""), &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(o.stdout.is_empty());
    assert!(stderr(&o).contains("0 undecided"), "{}", stderr(&o));
    // One such connection alone cannot be decided: no finding, and the summary says so.
    let logs = case.logs(V2, &lines[..2]);
    let o = audit(&case, &logs, &web_policy(""), &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).contains("1 undecided"), "{}", stderr(&o));
    // A table does not call that clean either.
    let o = audit(&case, &logs, &web_policy(""), &["--format", "table"]);
    let table = String::from_utf8_lossy(&o.stdout);
    assert!(
        table.starts_with("No finding, but not everything could be judged: 1 connection "),
        "{table}"
    );
}

#[test]
fn tasks_whose_records_have_no_direction_are_not_called_clean() {
    // v7 records of a web task talking to another VPC address, without a map, without
    // flow-direction: either address could be the task's, so nothing can be judged.
    let case = Case::new();
    let header = format!("{V5} ecs-cluster-name ecs-service-name ecs-task-arn");
    let ecs = "prod web arn:aws:ecs:us-east-1:1:task/prod/web1";
    let lines: Vec<String> = Exchange {
        flags: Some((2, 18)),
        ..Exchange::tcp("eni-web", ("10.0.7.7", 51000), ("10.0.1.10", 8080), 60)
    }
    .lines()
    .iter()
    .map(|l| format!("{l} {ecs}"))
    .collect();
    let logs = case.logs(&header, &lines);
    let policy = case.file("policy.toml", &web_only_policy(""));
    let o = vpcflow(&["audit", &logs, "--policy", &policy, "--format", "json"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("the direction of every record of the 1 task with a rule is undecided"),
        "{}",
        stderr(&o)
    );
    // With the VPC's blocks the task's side is known, and the finding is made.
    let o = vpcflow(&[
        "audit",
        &logs,
        "--policy",
        &policy,
        "--vpc-cidr",
        "10.0.1.0/24",
        "--format",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(
        keys(&o),
        [("10.0.7.7".into(), 6, "ACCEPT".into(), vec![8080])]
    );
}

#[test]
fn peer_over_tcp_and_udp_gives_one_finding_per_protocol() {
    let case = Case::new();
    let mut lines = internet_syn_into_web("");
    lines.extend(
        Exchange {
            proto: 17,
            flags: Some((0, 0)),
            ..Exchange::tcp(
                "eni-web",
                ("198.51.100.23", 51000),
                ("10.0.1.10", 8080),
                120,
            )
        }
        .lines(),
    );
    let logs = case.logs(V5, &lines);
    let o = audit(&case, &logs, &web_policy(""), &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let mut k = keys(&o);
    k.sort();
    assert_eq!(
        k,
        [
            ("198.51.100.23".into(), 6, "ACCEPT".into(), vec![8080]),
            ("198.51.100.23".into(), 17, "ACCEPT".into(), vec![8080]),
        ]
    );
}

#[test]
fn response_to_a_connection_the_peer_opened_is_never_an_ingress_finding() {
    // The inverse check, so that the cases above cannot pass by finding nothing: the
    // same shapes with the peer as opener are findings.
    let case = Case::new();
    let lines = lines([50100u16, 50200, 50300].iter().enumerate().map(|(i, &p)| {
        Exchange::tcp(
            "eni-web",
            ("203.0.113.60", p),
            ("10.0.1.10", 40404),
            100 + 60 * i as i64,
        )
    }));
    let logs = case.logs(V2, &lines);
    let o = audit(&case, &logs, &web_policy(""), &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(
        keys(&o),
        [("203.0.113.60".into(), 6, "ACCEPT".into(), vec![40404])]
    );
    assert_eq!(common::json_lines(&o)[0]["flows"], 3);
}

#[test]
fn ingress_evidence_order_follows_the_contract() {
    // (2) before (3): an outbound accepted record strictly earlier than every inbound
    // record makes the task the opener even though the inbound one is a REJECT; with
    // equal starts, the REJECT's sender tried to open.
    let case = Case::new();
    let task_first = Exchange {
        response: "REJECT",
        ..Exchange::tcp(
            "eni-web",
            ("10.0.1.10", 41000),
            ("198.51.100.9", 40500),
            100,
        )
    };
    let later = Exchange {
        delay: 1,
        ..task_first
    };
    let logs = case.logs(V2, &later.lines());
    let o = audit(&case, &logs, &web_policy(""), &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let logs = case.logs(V2, &task_first.lines());
    let o = audit(&case, &logs, &web_policy(""), &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(
        keys(&o),
        [("198.51.100.9".into(), 6, "REJECT".into(), vec![41000])]
    );
    // (1) flags beat everything: the task's SYN makes it the opener even on the
    // declared listener port.
    let syn = Exchange {
        flags: Some((2, 18)),
        ..Exchange::tcp("eni-web", ("10.0.1.10", 8080), ("198.51.100.9", 443), 100)
    };
    let logs = case.logs(V5, &syn.lines());
    let o = audit(&case, &logs, &web_policy(""), &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

#[test]
fn an_address_the_map_does_not_list_for_a_known_eni_is_still_oriented() {
    // The CSV map lists the task ENI's IPv4 address only; an internet host reaches its
    // IPv6 address (inside the VPC's IPv6 block) on SSH. v2: no flow-direction.
    let case = Case::new();
    let lines = lines([
        Exchange::tcp("eni-web", ("10.0.0.21", 40000), ("10.0.1.10", 8080), 60),
        Exchange::tcp(
            "eni-web",
            ("2001:db8::7", 51000),
            ("2600:1f18:abcd:ef00::10", 22),
            60,
        ),
    ]);
    let logs = case.logs(V2, &lines);
    let policy = "[network]\nvpc_cidrs = [\"10.0.0.0/16\", \"2600:1f18:abcd:ef00::/56\"]\n\n\
        [[service]]\nname = \"web\"\nports = [8080]\ningress_from_security_groups = [\"sg-alb\"]\n";
    let o = audit(&case, &logs, policy, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(
        keys(&o),
        [("2001:db8::7".into(), 6, "ACCEPT".into(), vec![22])]
    );
}

#[test]
fn a_map_that_gives_a_tasks_address_to_another_eni_does_not_turn_its_connection_around() {
    // eni-old is known from its ECS fields only; the map gives its address to eni-new,
    // for an unbounded window (a snapshot row). Its own records show the address is its
    // own: its call to an internet host is not an ingress finding.
    let case = Case::new();
    let map = case.file(
        "map.csv",
        "eni_id,kind,private_ip,task_arn,cluster,service,task_family,security_groups,subnet_id,vpc_id,valid_from,valid_to\n\
         eni-new,task,10.0.1.50,arn:aws:ecs:us-east-1:1:task/prod/tnew,prod,api,api,sg-api,,,,\n\
         eni-alb,alb,10.0.0.21,,,,,sg-alb,,,,\n",
    );
    let header = format!("{V2} ecs-cluster-name ecs-service-name ecs-task-arn");
    let ecs = "prod web arn:aws:ecs:us-east-1:1:task/prod/told";
    let lines: Vec<String> =
        Exchange::tcp("eni-old", ("10.0.1.50", 45000), ("198.51.100.7", 443), 100)
            .lines()
            .iter()
            .map(|l| format!("{l} {ecs}"))
            .collect();
    let logs = case.logs(&header, &lines);
    let policy = case.file(
        "policy.toml",
        "[network]\nvpc_cidrs = [\"10.0.0.0/16\"]\n[defaults]\ningress_from_security_groups = [\"sg-alb\"]\n",
    );
    let o = vpcflow(&[
        "audit", &logs, "--map", &map, "--policy", &policy, "--format", "json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(o.stdout.is_empty());
}

#[test]
fn rules_by_service_or_security_group_without_a_map_are_refused() {
    // Without a map nothing says which service or security groups a peer's address
    // belongs to: such a rule would silently admit no one.
    let case = Case::new();
    let header = format!("{V5} ecs-cluster-name ecs-service-name ecs-task-arn");
    let logs = case.logs(
        &header,
        &internet_syn_into_web("prod web arn:aws:ecs:us-east-1:1:task/prod/web1"),
    );
    for (rule, key) in [
        ("ingress_from_services = [\"api\"]", "ingress_from_services"),
        (
            "ingress_from_security_groups = [\"sg-alb\"]",
            "ingress_from_security_groups",
        ),
    ] {
        let policy = case.file("policy.toml", &web_only_policy(rule));
        let o = vpcflow(&["audit", &logs, "--policy", &policy]);
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        assert_eq!(
            stderr(&o),
            format!("vpcflow: error: --policy: {policy}: service[0] (web).{key}: without --map nothing says which security groups, service or load balancer a peer belongs to; give the ENI map with --map\n")
        );
    }
}

#[test]
fn a_task_with_only_nodata_records_is_audited_not_an_error() {
    // A task that sent nothing in the window has nothing to judge: a clean audit.
    let case = Case::new();
    let logs = case.logs(
        V2,
        &["2 123456789012 eni-web - - - - - - - 1793491300 1793491360 - NODATA".to_string()],
    );
    let o = audit(&case, &logs, &web_policy(""), &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("vpcflow: audit: 1 task audited, 0 not audited;"),
        "{}",
        stderr(&o)
    );
}
