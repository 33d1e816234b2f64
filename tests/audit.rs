//! `vpcflow audit`: each planted violation is found and each look-alike is not, in v2
//! (no TCP flags) and in a v5-style format with flags; generated scenarios in several
//! layouts, with either map kind, against the generator's ground truth.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{root, vpcflow};
use serde_json::{json, Value};

// 2026-11-01T00:00:00Z
const T0: i64 = 1_793_491_200;

const MAP: &str = "\
eni_id,kind,private_ip,task_arn,cluster,service,task_family,security_groups,subnet_id,vpc_id,valid_from,valid_to
eni-web,task,10.0.1.10,arn:aws:ecs:us-east-1:1:task/prod/web1,prod,web,web,sg-web,,,,
eni-api,task,10.0.2.20,arn:aws:ecs:us-east-1:1:task/prod/api1,prod,api,api,sg-api,,,,
eni-worker,task,10.0.3.30,arn:aws:ecs:us-east-1:1:task/prod/wrk1,prod,worker,worker,sg-worker,,,,
eni-admin,task,10.0.4.40,arn:aws:ecs:us-east-1:1:task/prod/adm1,prod,admin-gateway,admin-gateway,sg-admin,,,,2026-11-01T00:20:00Z
eni-worker2,task,10.0.4.40,arn:aws:ecs:us-east-1:1:task/prod/wrk2,prod,worker,worker,sg-worker,,,2026-11-01T00:21:00Z,
eni-alb,alb,10.0.0.21,,,,,sg-alb,,,,
eni-db,other,10.0.64.25,,,,,sg-db,,,,
eni-vpce,vpce,10.0.16.10,,,,,sg-vpce,,,,
eni-bastion,instance,10.0.1.99,,,,,sg-bastion,,,,
";

const POLICY: &str = r#"
[network]
vpc_cidrs = ["10.0.0.0/16"]

[[service]]
name = "web"
ports = [8080]
ingress_from_security_groups = ["sg-alb"]

[[service]]
name = "api"
ports = [9090]
ingress_from_services = ["web", "admin-gateway"]

[[service]]
name = "worker"

[[service]]
name = "admin-gateway"
ports = [8443]
ingress_from_cidrs = ["vpc"]
"#;

#[derive(Clone, Copy, PartialEq)]
enum Format {
    V2,
    V5,
}

/// Flow-log text for a list of records, in one of the two formats.
struct Logs {
    format: Format,
    lines: Vec<String>,
}

impl Logs {
    fn new(format: Format) -> Logs {
        let header = match format {
            Format::V2 => "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status",
            Format::V5 => "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status tcp-flags flow-direction",
        };
        Logs {
            format,
            lines: vec![header.to_string()],
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn record(
        &mut self,
        eni: &str,
        src: &str,
        dst: &str,
        sp: u16,
        dp: u16,
        action: &str,
        flags: u8,
        ingress: bool,
        at: i64,
    ) {
        let t = T0 + at;
        let mut l = format!(
            "{} 123456789012 {eni} {src} {dst} {sp} {dp} 6 4 400 {t} {} {action} OK",
            if self.format == Format::V2 { 2 } else { 5 },
            t + 30
        );
        if self.format == Format::V5 {
            l += &format!(" {flags} {}", if ingress { "ingress" } else { "egress" });
        }
        self.lines.push(l);
    }

    /// A TCP connection seen on `eni`, whose address is `server` (ingress) or
    /// `client` (egress); `first` windows carry SYN / SYN-ACK, later ones no flags.
    #[allow(clippy::too_many_arguments)]
    fn tcp(
        &mut self,
        eni: &str,
        client: &str,
        cport: u16,
        server: &str,
        sport: u16,
        eni_is_server: bool,
        at: i64,
        first: bool,
    ) {
        let (syn, synack) = if first { (2, 18) } else { (0, 0) };
        self.record(
            eni,
            client,
            server,
            cport,
            sport,
            "ACCEPT",
            syn,
            eni_is_server,
            at,
        );
        self.record(
            eni,
            server,
            client,
            sport,
            cport,
            "ACCEPT",
            synack,
            !eni_is_server,
            at,
        );
    }

    fn write(&self, dir: &Path) -> String {
        let p = dir.join("flows.log");
        std::fs::write(&p, self.lines.join("\n") + "\n").unwrap();
        p.to_str().unwrap().to_string()
    }
}

fn scenario(format: Format) -> Logs {
    let mut l = Logs::new(format);
    // V1: an internet host straight into the web task (web admits only the ALB).
    l.tcp(
        "eni-web",
        "198.51.100.23",
        51000,
        "10.0.1.10",
        8080,
        true,
        600,
        true,
    );
    l.tcp(
        "eni-web",
        "198.51.100.23",
        51001,
        "10.0.1.10",
        8080,
        true,
        660,
        true,
    );
    // V2: a worker task (inside the VPC, not in the ALB's security group) into web;
    // the worker's own ENI sees its outbound connection: not a finding there.
    l.tcp(
        "eni-web",
        "10.0.3.30",
        40100,
        "10.0.1.10",
        8080,
        true,
        700,
        true,
    );
    l.tcp(
        "eni-worker",
        "10.0.3.30",
        40100,
        "10.0.1.10",
        8080,
        false,
        700,
        true,
    );
    // V3: a rejected scan of the api task on ports it does not listen on.
    for (i, port) in [5432u16, 22, 3306].iter().enumerate() {
        l.record(
            "eni-api",
            "203.0.113.77",
            "10.0.2.20",
            61000 + i as u16,
            *port,
            "REJECT",
            2,
            true,
            900 + i as i64,
        );
    }
    // V4 and its look-alike: 10.0.4.40 is an admin-gateway task (allowed into api)
    // until 00:20, and a worker task (not allowed) from 00:21.
    l.tcp(
        "eni-api",
        "10.0.4.40",
        42000,
        "10.0.2.20",
        9090,
        true,
        300,
        true,
    );
    l.tcp(
        "eni-api",
        "10.0.4.40",
        42001,
        "10.0.2.20",
        9090,
        true,
        1500,
        true,
    );
    // Look-alikes: responses to the tasks' own connections (database, endpoint,
    // internet), allowed peers (the ALB into web, the bastion by CIDR into
    // admin-gateway, web into api), and the ALB's own ENI.
    l.tcp(
        "eni-api",
        "10.0.2.20",
        41000,
        "10.0.64.25",
        5432,
        false,
        120,
        true,
    );
    l.tcp(
        "eni-web",
        "10.0.1.10",
        41001,
        "10.0.16.10",
        443,
        false,
        130,
        true,
    );
    l.tcp(
        "eni-worker",
        "10.0.3.30",
        41002,
        "93.184.216.34",
        443,
        false,
        140,
        true,
    );
    l.tcp(
        "eni-web",
        "10.0.0.21",
        33000,
        "10.0.1.10",
        8080,
        true,
        150,
        true,
    );
    l.tcp(
        "eni-admin",
        "10.0.1.99",
        52000,
        "10.0.4.40",
        8443,
        true,
        200,
        true,
    );
    l.tcp(
        "eni-api",
        "10.0.1.10",
        43000,
        "10.0.2.20",
        9090,
        true,
        210,
        true,
    );
    l.tcp(
        "eni-alb",
        "198.51.100.50",
        50000,
        "10.0.0.21",
        443,
        true,
        220,
        true,
    );
    // A long-lived connection of the api task, seen again in later windows without
    // SYN. With flags, its first window fixes the direction even though both ports are
    // high; without flags (v2) its server port is a well-known one.
    let peer_port = if format == Format::V5 { 50500 } else { 443 };
    l.tcp(
        "eni-api",
        "10.0.2.20",
        45000,
        "192.0.2.200",
        peer_port,
        false,
        100,
        true,
    );
    for w in 1..4 {
        l.tcp(
            "eni-api",
            "10.0.2.20",
            45000,
            "192.0.2.200",
            peer_port,
            false,
            100 + 60 * w,
            false,
        );
    }
    l
}

fn rfc(at: i64) -> String {
    chrono::DateTime::from_timestamp(T0 + at, 0)
        .unwrap()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

#[test]
fn each_violation_found_and_no_look_alike_flagged_in_v2_and_v5() {
    for format in [Format::V2, Format::V5] {
        let dir = tempfile::tempdir().unwrap();
        let logs = scenario(format).write(dir.path());
        let map = dir.path().join("map.csv");
        std::fs::write(&map, MAP).unwrap();
        let policy = dir.path().join("policy.toml");
        std::fs::write(&policy, POLICY).unwrap();
        let o = vpcflow(&[
            "audit",
            &logs,
            "--map",
            map.to_str().unwrap(),
            "--policy",
            policy.to_str().unwrap(),
            "--format",
            "json",
        ]);
        assert_eq!(
            o.status.code(),
            Some(1),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        let got: Vec<Value> = common::json_lines(&o)
            .into_iter()
            .map(|f| {
                json!({"severity": f["severity"], "eni_id": f["eni_id"], "peer_addr": f["peer_addr"],
                       "peer_kind": f["peer_kind"], "peer_service": f["peer_service"], "service": f["service"],
                       "task_arn": f["task_arn"], "action": f["action"], "ports": f["ports"], "protocol": f["protocol"],
                       "flows": f["flows"], "packets": f["packets"], "bytes": f["bytes"],
                       "first_seen": f["first_seen"], "last_seen": f["last_seen"]})
            })
            .collect();
        // Grouped by service (the one with the worst finding first), then worst first.
        let want = vec![
            json!({"severity": "high", "eni_id": "eni-web", "peer_addr": "198.51.100.23", "peer_kind": "internet",
                   "peer_service": null, "service": "web", "task_arn": "arn:aws:ecs:us-east-1:1:task/prod/web1",
                   "action": "ACCEPT", "ports": [8080], "protocol": 6, "flows": 2, "packets": 8, "bytes": 800,
                   "first_seen": rfc(600), "last_seen": rfc(690)}),
            json!({"severity": "medium", "eni_id": "eni-web", "peer_addr": "10.0.3.30", "peer_kind": "task",
                   "peer_service": "worker", "service": "web", "task_arn": "arn:aws:ecs:us-east-1:1:task/prod/web1",
                   "action": "ACCEPT", "ports": [8080], "protocol": 6, "flows": 1, "packets": 4, "bytes": 400,
                   "first_seen": rfc(700), "last_seen": rfc(730)}),
            json!({"severity": "medium", "eni_id": "eni-api", "peer_addr": "10.0.4.40", "peer_kind": "task",
                   "peer_service": "worker", "service": "api", "task_arn": "arn:aws:ecs:us-east-1:1:task/prod/api1",
                   "action": "ACCEPT", "ports": [9090], "protocol": 6, "flows": 1, "packets": 4, "bytes": 400,
                   "first_seen": rfc(1500), "last_seen": rfc(1530)}),
            json!({"severity": "low", "eni_id": "eni-api", "peer_addr": "203.0.113.77", "peer_kind": "internet",
                   "peer_service": null, "service": "api", "task_arn": "arn:aws:ecs:us-east-1:1:task/prod/api1",
                   "action": "REJECT", "ports": [22, 3306, 5432], "protocol": 6, "flows": 3, "packets": 12, "bytes": 1200,
                   "first_seen": rfc(900), "last_seen": rfc(932)}),
        ];
        assert_eq!(
            got,
            want,
            "format {}",
            if format == Format::V2 { "v2" } else { "v5" }
        );
        let all = common::json_lines(&o);
        assert_eq!(all[0]["rule"], "unexpected-ingress");
        assert_eq!(
            all[0]["reason"],
            "198.51.100.23 is an internet address and connected to port 8080; web admits only security group sg-alb (ALB)"
        );
        assert_eq!(
            all[2]["reason"],
            "10.0.4.40 is a task of service worker and connected to port 9090; api admits only services web and admin-gateway"
        );
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains("vpcflow: audit: 4 tasks audited, 0 not audited;"),
            "{err}"
        );
        assert!(
            err.contains(
                "findings: 1 high, 2 medium, 1 low (unexpected-ingress 4, unexpected-egress 0, \
                 cleartext 0, isolation 0, privatelink-bypass 0)"
            ),
            "{err}"
        );
    }
}

#[test]
fn command_line_rules_and_unaudited_services() {
    let dir = tempfile::tempdir().unwrap();
    let logs = scenario(Format::V5).write(dir.path());
    let map = dir.path().join("map.csv");
    std::fs::write(&map, MAP).unwrap();
    // One rule for every task: the ALB and the VPC may connect.
    let o = vpcflow(&[
        "audit",
        &logs,
        "--map",
        map.to_str().unwrap(),
        "--vpc-cidr",
        "10.0.0.0/16",
        "--allow-sg",
        "sg-alb",
        "--allow-cidr",
        "vpc",
        "--format",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let peers: Vec<(String, String)> = common::json_lines(&o)
        .iter()
        .map(|f| {
            (
                f["peer_addr"].as_str().unwrap().into(),
                f["action"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        peers,
        [
            ("198.51.100.23".to_string(), "ACCEPT".to_string()),
            ("203.0.113.77".into(), "REJECT".into())
        ]
    );
    // A policy that lists only web, no defaults: the other tasks are not audited.
    let policy = dir.path().join("web-only.toml");
    std::fs::write(&policy, "[[service]]\nname = \"web\"\ningress_from_security_groups = [\"sg-alb\"]\ningress_from_cidrs = [\"198.51.100.0/24\", \"10.0.3.30/32\"]\n").unwrap();
    let o = vpcflow(&[
        "audit",
        &logs,
        "--map",
        map.to_str().unwrap(),
        "--policy",
        policy.to_str().unwrap(),
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(o.stdout.is_empty());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("vpcflow: audit: 1 task audited, 3 not audited (services without a rule: admin-gateway, api, worker);"),
        "{err}"
    );
}

#[test]
fn policy_errors_exit_2_with_file_key_and_problem() {
    let dir = tempfile::tempdir().unwrap();
    let logs = scenario(Format::V2).write(dir.path());
    let map = dir.path().join("map.csv");
    std::fs::write(&map, MAP).unwrap();
    let cases = [
        ("[[service]]\nname = \"web\"\ningress_from_security_groups = [\"sg-typo\"]\n",
         "service[0] (web).ingress_from_security_groups: sg-typo is not a security group of any ENI in the map"),
        ("[[service]]\nname = \"wbe\"\n", "service[0] (wbe): the map has no task of service \"wbe\" (known: admin-gateway, api, web, worker)"),
        ("[[service]]\nname = \"web\"\ningress_from_services = [\"nobody\"]\n",
         "service[0] (web).ingress_from_services: the map has no task of service \"nobody\""),
        ("[[service]]\nname = \"web\"\ningress_from_cidrs = [\"10.0.0.0/40\"]\n",
         "service[0] (web).ingress_from_cidrs[0]: \"10.0.0.0/40\": prefix length must be 0 to 32 (or \"vpc\")"),
    ];
    for (text, want) in cases {
        let policy = dir.path().join("p.toml");
        std::fs::write(&policy, text).unwrap();
        let p = policy.to_str().unwrap();
        let o = vpcflow(&[
            "audit",
            &logs,
            "--map",
            map.to_str().unwrap(),
            "--policy",
            p,
        ]);
        assert_eq!(o.status.code(), Some(2));
        assert_eq!(
            String::from_utf8_lossy(&o.stderr),
            format!("vpcflow: error: --policy: {p}: {want}\n")
        );
    }
    std::fs::write(
        dir.path().join("p.toml"),
        "[[service]]\nname = \"web\"\nport = [80]\n",
    )
    .unwrap();
    let p = dir.path().join("p.toml");
    let o = vpcflow(&[
        "audit",
        &logs,
        "--map",
        map.to_str().unwrap(),
        "--policy",
        p.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        format!("vpcflow: error: --policy: {}:3: unknown field `port`, expected one of `name`, `family`, `cluster`, `ports`, `ingress_from_security_groups`, `ingress_from_cidrs`, `ingress_from_services`, `ingress_from_load_balancers`, `ingress_from_families`, `egress_to_security_groups`, `egress_to_cidrs`, `egress_to_services`, `egress_to_load_balancers`, `egress_to_families`, `egress_ports`, `require_encryption`, `isolated`, `private_aws_access`\n", p.display())
    );
    let o = vpcflow(&["audit", &logs, "--map", map.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("audit needs --policy FILE"));
}

/// Findings reduced to what the ground truth lists.
fn key(f: &Value) -> Value {
    json!({"rule": f["rule"], "eni_id": f["eni_id"], "peer_addr": f["peer_addr"], "protocol": f["protocol"],
           "action": f["action"], "ports": f["ports"], "flows": f["flows"], "first_seen": f["first_seen"],
           "last_seen": f["last_seen"]})
}

fn truth_findings(truth: &Path) -> Vec<Value> {
    let t: Value = serde_json::from_str(&std::fs::read_to_string(truth).unwrap()).unwrap();
    let rfc = |v: &Value| {
        chrono::DateTime::from_timestamp(v.as_i64().unwrap(), 0)
            .unwrap()
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string()
    };
    let mut v: Vec<Value> = t["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            // Truth files written without --hard-cases predate rule names: they list
            // unexpected-ingress findings only.
            let rule = v.get("rule").cloned().unwrap_or(json!("unexpected-ingress"));
            json!({"rule": rule, "eni_id": v["eni_id"], "peer_addr": v["peer_addr"], "protocol": v["protocol"],
                   "action": v["action"], "ports": v["ports"], "flows": v["flows"],
                   "first_seen": rfc(&v["first_seen"]), "last_seen": rfc(&v["last_seen"])})
        })
        .collect();
    v.sort_by_key(|x| x.to_string());
    v
}

fn audit_matches_truth(
    logs: &Path,
    maps: &[PathBuf],
    policy: &Path,
    truth: &Path,
    threads: &str,
    extra: &[&str],
) {
    let mut args: Vec<String> = vec![
        "audit".into(),
        logs.display().to_string(),
        "--format".into(),
        "json".into(),
    ];
    args.extend(extra.iter().map(|a| a.to_string()));
    for m in maps {
        args.push("--map".into());
        args.push(m.display().to_string());
    }
    args.extend([
        "--policy".into(),
        policy.display().to_string(),
        "--threads".into(),
        threads.into(),
    ]);
    let o = vpcflow(&args);
    let want = truth_findings(truth);
    assert_eq!(
        o.status.code(),
        Some(if want.is_empty() { 0 } else { 1 }),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let mut got: Vec<Value> = common::json_lines(&o).iter().map(key).collect();
    got.sort_by_key(|x| x.to_string());
    assert_eq!(got, want, "{args:?}");
}

#[test]
fn demo_scenarios_match_the_ground_truth_with_either_map_kind() {
    for demo in ["testdata/demo", "testdata/demo-clean"] {
        let d = root(demo);
        either_map_matches_truth(
            &d,
            &["eni-map.csv"],
            &[
                "aws/describe-tasks.json",
                "aws/describe-network-interfaces.json",
            ],
            ["1", "3"],
            &[],
        );
    }
}

/// The audit of a generated scenario (see [`generate`]) equals its ground truth.
fn generated_matches_truth(d: &Path, threads: [&str; 2]) {
    either_map_matches_truth(d, &["map.csv"], &["tasks.json", "enis.json"], threads, &[]);
}

/// Runs `scripts/gen-flowlogs` with `args` into `d` (logs, both map kinds, policy,
/// truth); false, with `test` said to be skipped, when python3 is missing.
fn generate(test: &str, d: &Path, args: &[&str]) -> bool {
    if !common::python3() {
        common::skip(test, "python3 is needed to run scripts/gen-flowlogs");
        return false;
    }
    let mut cmd = Command::new("python3");
    cmd.arg(root("scripts/gen-flowlogs"))
        .args(args)
        .args(["--records", "8000", "--quiet"]);
    cmd.arg("--out").arg(d.join("logs"));
    for (flag, file) in [
        ("--map-out", "map.csv"),
        ("--policy-out", "policy.toml"),
        ("--truth", "truth.json"),
        ("--describe-tasks-out", "tasks.json"),
        ("--describe-enis-out", "enis.json"),
    ] {
        cmd.arg(flag).arg(d.join(file));
    }
    let o = cmd.output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    true
}

/// The audit of the scenario in `d` (`logs/`, `policy.toml`, `truth.json`) equals its
/// ground truth with either map kind: the `csv` files or the AWS `json` files, read on
/// `threads[0]` and `threads[1]` workers.
fn either_map_matches_truth(
    d: &Path,
    csv: &[&str],
    json: &[&str],
    threads: [&str; 2],
    extra: &[&str],
) {
    let paths = |files: &[&str]| files.iter().map(|f| d.join(f)).collect::<Vec<_>>();
    let (csv, json) = (paths(csv), paths(json));
    for (maps, threads) in [(&csv, threads[0]), (&json, threads[1])] {
        audit_matches_truth(
            &d.join("logs"),
            maps,
            &d.join("policy.toml"),
            &d.join("truth.json"),
            threads,
            extra,
        );
    }
}

#[test]
fn generated_hard_cases_match_the_ground_truth() {
    // NACL-dropped replies, high-port servers both ways, long-lived connections from
    // before the capture, one peer over TCP and UDP, IPv6 peers of dual-stack tasks,
    // in every format and with the format changing halfway through the S3 tree.
    for (seed, version, switch, layout) in [
        ("3", "2", None, "s3"),
        ("4", "5", Some("2"), "hive"),
        ("6", "7", Some("2"), "s3-hourly"),
        ("7", "2", Some("7"), "s3"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let mut args = vec![
            "--seed",
            seed,
            "--version",
            version,
            "--layout",
            layout,
            "--hard-cases",
        ];
        if let Some(v) = switch {
            args.extend(["--switch-version", v]);
        }
        if !generate(
            "generated_hard_cases_match_the_ground_truth",
            dir.path(),
            &args,
        ) {
            return;
        }
        let truth: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.path().join("truth.json")).unwrap())
                .unwrap();
        let ids: Vec<&str> = truth["violations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["id"].as_str().unwrap())
            .collect();
        assert!(ids.contains(&"H5U") && ids.contains(&"H6"), "{ids:?}");
        generated_matches_truth(dir.path(), ["3", "1"]);
    }
}

#[test]
fn generated_scenarios_in_other_layouts_and_versions() {
    for (seed, version, layout, clean) in [
        ("3", "2", "hive", false),
        ("5", "7", "s3-hourly", false),
        ("8", "2", "s3", true),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let mut args = vec!["--seed", seed, "--version", version, "--layout", layout];
        if clean {
            args.push("--no-violations");
        }
        if !generate(
            "generated_scenarios_in_other_layouts_and_versions",
            d,
            &args,
        ) {
            return;
        }
        generated_matches_truth(d, ["2", "1"]);
    }
}
#[test]
fn output_is_the_same_for_any_thread_count_and_format() {
    let d = root("testdata/demo");
    let run = |threads: &str, format: &str| {
        let o = vpcflow(&[
            "audit",
            d.join("logs").to_str().unwrap(),
            "--map",
            d.join("eni-map.csv").to_str().unwrap(),
            "--policy",
            d.join("policy.toml").to_str().unwrap(),
            "--threads",
            threads,
            "--format",
            format,
            "-q",
        ]);
        assert_eq!(o.status.code(), Some(1));
        String::from_utf8(o.stdout).unwrap()
    };
    let one = run("1", "json");
    assert_eq!(one, run("4", "json"));
    assert_eq!(run("1", "csv"), run("3", "csv"));
    let csv = run("2", "csv");
    assert!(csv.starts_with("rule,severity,eni_id,task_arn,service,cluster,peer_addr,peer_kind,peer_service,peer_eni_id,peer_task_arn,ports,protocol,action,flows,records,packets,bytes,first_seen,last_seen,reason\n"));
    assert!(
        csv.contains(",22;23;80;443;3306;5432;6379;8080;9200;27017,6,REJECT,10,"),
        "{csv}"
    );
    let table = run("2", "table");
    assert!(
        table.contains("service web — 4 findings\nunexpected-ingress (2)\n"),
        "{table}"
    );
    assert!(table.contains("\nprivatelink-bypass (2)\n"), "{table}");
    assert!(table.contains("198.51.100.23"));
}

#[test]
fn generated_rule_cases_match_the_ground_truth_in_every_version() {
    // Egress to an internet host on an odd port and to a peer the egress list does not
    // name, HTTP into a service that requires encryption with and without v10's
    // encryption-status, an isolated service talking to another cluster, S3 and ECR
    // through the NAT gateway; and their look-alikes (responses, VPC endpoint traffic,
    // encrypted traffic on port 80, non-AWS internet hosts) that must not be flagged.
    // v2 has neither flags, nor encryption-status, nor pkt-*-aws-service: AWS's
    // addresses come from the ip-ranges.json sample there.
    let ranges = root("testdata/aws-ip-ranges.json");
    let ranges = ranges.to_str().unwrap();
    for (seed, version, switch, extra) in [
        ("11", "2", None, None),
        ("12", "5", None, None),
        ("13", "7", Some("2"), Some("--hard-cases")),
        ("14", "10", None, None),
        ("15", "5", Some("10"), Some("--hard-cases")),
        ("16", "10", None, Some("--no-violations")),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let mut args = vec![
            "--seed",
            seed,
            "--version",
            version,
            "--layout",
            "s3",
            "--rule-cases",
        ];
        args.extend(
            switch
                .map(|v| ["--switch-version", v])
                .into_iter()
                .flatten(),
        );
        args.extend(extra);
        if !generate(
            "generated_rule_cases_match_the_ground_truth_in_every_version",
            dir.path(),
            &args,
        ) {
            return;
        }
        let truth: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.path().join("truth.json")).unwrap())
                .unwrap();
        let rules: std::collections::BTreeSet<&str> = truth["violations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["rule"].as_str().unwrap())
            .collect();
        if extra != Some("--no-violations") {
            assert_eq!(
                rules.len(),
                5,
                "every rule is planted: {rules:?} ({args:?})"
            );
        }
        either_map_matches_truth(
            dir.path(),
            &["map.csv"],
            &["tasks.json", "enis.json"],
            ["2", "1"],
            &["--aws-ip-ranges", ranges],
        );
    }
}
