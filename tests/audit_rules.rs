//! The audit's rules beyond unexpected-ingress, on hand-written records whose findings
//! are worked out by hand: unexpected-egress, cleartext, isolation and
//! privatelink-bypass, their look-alikes, `--rule` and `--aws-ip-ranges`.

mod common;

use std::path::Path;
use std::process::Output;

use common::vpcflow;
use serde_json::{json, Value};

// 2026-11-01T00:00:00Z
const T0: i64 = 1_793_491_200;

const MAP: &str = "\
eni_id,kind,private_ip,task_arn,cluster,service,task_family,security_groups,subnet_id,vpc_id,valid_from,valid_to
eni-web,task,10.0.1.10,arn:aws:ecs:us-east-1:1:task/prod/web1,prod,web,web,sg-web,,,,
eni-api,task,10.0.2.20,arn:aws:ecs:us-east-1:1:task/prod/api1,prod,api,api,sg-api,,,,
eni-pay,task,10.0.3.30,arn:aws:ecs:us-east-1:1:task/pci/pay1,pci,payments,payments,sg-pay,,,,
eni-pay2,task,10.0.3.31,arn:aws:ecs:us-east-1:1:task/pci/pay2,pci,payments,payments,sg-pay,,,,
eni-vpce,vpce,10.0.0.99,,,,,sg-vpce,,,,
";

const POLICY: &str = r#"
[network]
vpc_cidrs = ["10.0.0.0/16"]

[[service]]
name = "web"
ingress_from_cidrs = ["vpc"]
private_aws_access = true

[[service]]
name = "api"
ports = [9090]
ingress_from_services = ["web", "payments"]
egress_to_cidrs = ["vpc"]
egress_ports = [5432]
require_encryption = true

[[service]]
name = "payments"
cluster = "pci"
ports = [8443]
ingress_from_services = ["web"]
isolated = true
"#;

const V10: &str = "version account-id interface-id srcaddr dstaddr srcport dstport protocol \
                   packets bytes start end action log-status tcp-flags pkt-src-aws-service \
                   pkt-dst-aws-service traffic-path encryption-status";

/// A TCP connection as the ENI `eni` logs it: `client` -> `server` at `at` seconds
/// after T0 (SYN, 3 packets, 300 bytes, 10 s) and the response (SYN-ACK, 2 packets, 900
/// bytes); `svc` the AWS service of the server's address, `path` the client's
/// traffic-path, `enc` the encryption-status of both, `-` for none.
struct Conn<'a> {
    eni: &'a str,
    client: (&'a str, u16),
    server: (&'a str, u16),
    at: i64,
    svc: &'a str,
    path: &'a str,
    enc: &'a str,
    response: bool,
    action: &'a str,
}

fn conn<'a>(eni: &'a str, client: (&'a str, u16), server: (&'a str, u16), at: i64) -> Conn<'a> {
    Conn {
        eni,
        client,
        server,
        at,
        svc: "-",
        path: "-",
        enc: "-",
        response: true,
        action: "ACCEPT",
    }
}

impl Conn<'_> {
    fn lines(&self) -> String {
        let t = T0 + self.at;
        let (c, s) = (self.client, self.server);
        let mut out = format!(
            "10 123456789012 {} {} {} {} {} 6 3 300 {t} {} {} OK 2 - {} {} {}\n",
            self.eni,
            c.0,
            s.0,
            c.1,
            s.1,
            t + 10,
            self.action,
            self.svc,
            self.path,
            self.enc
        );
        if self.response {
            out += &format!(
                "10 123456789012 {} {} {} {} {} 6 2 900 {t} {} ACCEPT OK 18 {} - - {}\n",
                self.eni,
                s.0,
                c.0,
                s.1,
                c.1,
                t + 10,
                self.svc,
                self.enc
            );
        }
        out
    }
}

fn rfc(at: i64) -> String {
    chrono::DateTime::from_timestamp(T0 + at, 0)
        .unwrap()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// Writes the map, the policy and `logs` into `dir`, and runs `vpcflow audit` on them
/// with `extra` arguments.
fn audit(dir: &Path, logs: &str, extra: &[&str]) -> Output {
    std::fs::write(dir.join("map.csv"), MAP).unwrap();
    std::fs::write(dir.join("policy.toml"), POLICY).unwrap();
    std::fs::write(dir.join("flows.log"), logs).unwrap();
    let p = |f: &str| dir.join(f).display().to_string();
    let mut args = vec![
        "audit".to_string(),
        p("flows.log"),
        "--map".into(),
        p("map.csv"),
        "--policy".into(),
        p("policy.toml"),
        "--format".into(),
        "json".into(),
    ];
    args.extend(extra.iter().map(|a| a.to_string()));
    vpcflow(&args)
}

/// The findings reduced to what the cases below fix by hand.
fn findings(o: &Output) -> Vec<Value> {
    common::json_lines(o)
        .iter()
        .map(|f| {
            json!({"rule": f["rule"], "eni_id": f["eni_id"], "peer_addr": f["peer_addr"],
                   "ports": f["ports"], "action": f["action"], "severity": f["severity"],
                   "flows": f["flows"], "records": f["records"], "bytes": f["bytes"],
                   "first_seen": f["first_seen"], "last_seen": f["last_seen"]})
        })
        .collect()
}

/// Every rule's case and look-alike in one v10 file.
fn scenario() -> String {
    let (web, api, pay) = ("10.0.1.10", "10.0.2.20", "10.0.3.30");
    let mut logs = format!("{V10}\n");
    let cases = [
        // privatelink-bypass: S3 through the NAT gateway (traffic-path 1).
        Conn {
            svc: "S3",
            path: "1",
            ..conn("eni-web", (web, 40001), ("52.216.8.117", 443), 0)
        },
        // Look-alikes: S3 through a gateway endpoint (traffic-path 7), an EC2 address
        // (someone's server), a non-AWS host, the interface endpoint.
        Conn {
            svc: "S3",
            path: "7",
            ..conn("eni-web", (web, 40002), ("52.216.9.1", 443), 20)
        },
        Conn {
            svc: "EC2",
            path: "8",
            ..conn("eni-web", (web, 40003), ("3.80.1.1", 443), 40)
        },
        Conn {
            path: "8",
            ..conn("eni-web", (web, 40004), ("151.101.1.69", 443), 60)
        },
        conn("eni-web", (web, 40005), ("10.0.0.99", 443), 80),
        // cleartext: encryption-status 0 on 9090, and no status on the cleartext 8080;
        // not: status 1 on port 80.
        Conn {
            enc: "0",
            ..conn("eni-api", (web, 41001), (api, 9090), 100)
        },
        conn("eni-api", (web, 41002), (api, 8080), 120),
        Conn {
            enc: "1",
            ..conn("eni-api", (web, 41003), (api, 80), 140)
        },
        // unexpected-egress: api tries a port its egress list does not allow; its
        // allowed connection to the database, and its responses to web (above), are not.
        Conn {
            action: "REJECT",
            response: false,
            enc: "1",
            ..conn("eni-api", (api, 42001), ("10.0.64.25", 6379), 160)
        },
        Conn {
            enc: "1",
            ..conn("eni-api", (api, 42002), ("10.0.64.25", 5432), 180)
        },
        // isolation: payments (cluster pci) calls api (cluster prod); not: its own
        // cluster, the VPC endpoint, and web, which its ingress list admits.
        Conn {
            enc: "1",
            ..conn("eni-pay", (pay, 43001), (api, 9090), 200)
        },
        conn("eni-pay", (pay, 43002), ("10.0.3.31", 8443), 220),
        conn("eni-pay", (pay, 43003), ("10.0.0.99", 443), 240),
        conn("eni-pay", (web, 43004), (pay, 8443), 260),
    ];
    for c in cases {
        logs += &c.lines();
    }
    logs
}

#[test]
fn each_rule_finds_its_case_and_no_look_alike() {
    let dir = tempfile::tempdir().unwrap();
    let o = audit(dir.path(), &scenario(), &[]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // Grouped by service (worst finding first), then by rule in the contract's order.
    let want = vec![
        json!({"rule": "unexpected-egress", "eni_id": "eni-api", "peer_addr": "10.0.64.25",
               "ports": [6379], "action": "REJECT", "severity": "low", "flows": 1, "records": 1,
               "bytes": 300, "first_seen": rfc(160), "last_seen": rfc(170)}),
        json!({"rule": "cleartext", "eni_id": "eni-api", "peer_addr": "10.0.1.10",
               "ports": [8080, 9090], "action": "ACCEPT", "severity": "medium", "flows": 2,
               "records": 4, "bytes": 2400, "first_seen": rfc(100), "last_seen": rfc(130)}),
        json!({"rule": "isolation", "eni_id": "eni-pay", "peer_addr": "10.0.2.20",
               "ports": [9090], "action": "ACCEPT", "severity": "medium", "flows": 1, "records": 2,
               "bytes": 1200, "first_seen": rfc(200), "last_seen": rfc(210)}),
        json!({"rule": "privatelink-bypass", "eni_id": "eni-web", "peer_addr": "52.216.8.117",
               "ports": [443], "action": "ACCEPT", "severity": "medium", "flows": 1, "records": 2,
               "bytes": 1200, "first_seen": rfc(0), "last_seen": rfc(10)}),
    ];
    // api's worst is medium (cleartext) like the others: services by name then.
    let mut got = findings(&o);
    let order: Vec<&str> = got.iter().map(|f| f["eni_id"].as_str().unwrap()).collect();
    assert_eq!(
        order,
        ["eni-api", "eni-api", "eni-pay", "eni-web"],
        "{got:#?}"
    );
    got.sort_by_key(|f| f["rule"].to_string());
    let mut want = want;
    want.sort_by_key(|f| f["rule"].to_string());
    assert_eq!(got, want);
    let reasons: Vec<String> = common::json_lines(&o)
        .iter()
        .map(|f| f["reason"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        reasons,
        [
            "api may open connections only to the VPC, on port 5432; its task tried to connect \
             to 10.0.64.25 (an address in the VPC that no map file knows) on port 6379, rejected",
            "api requires encryption in transit; 10.0.1.10 (a task of service web) connected to \
             ports 8080, 9090 and the flow log marks it not encrypted (encryption-status 0; where \
             the status is missing, the cleartext port decides)",
            "payments is isolated and may talk only to tasks of its cluster pci, VPC endpoints \
             and the peers its lists allow; its task connected to 10.0.2.20 (a task of service \
             api in cluster prod) on port 9090",
            "web must reach AWS services only through VPC endpoints (PrivateLink); its task \
             reached 52.216.8.117 (S3, by the flow log's pkt-*-aws-service field) on port 443 \
             over the internet instead",
        ]
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(
            "findings: 0 high, 3 medium, 1 low (unexpected-ingress 0, unexpected-egress 1, \
             cleartext 1, isolation 1, privatelink-bypass 1)"
        ),
        "{err}"
    );
}

#[test]
fn rule_option_limits_the_audit_and_refuses_rules_nothing_asks_for() {
    let dir = tempfile::tempdir().unwrap();
    let o = audit(
        dir.path(),
        &scenario(),
        &["--rule", "cleartext", "--rule", "isolation"],
    );
    assert_eq!(o.status.code(), Some(1));
    let rules: Vec<Value> = common::json_lines(&o)
        .iter()
        .map(|f| f["rule"].clone())
        .collect();
    assert_eq!(rules, [json!("cleartext"), json!("isolation")]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("(cleartext 1, isolation 1)"), "{err}");
    let o = audit(dir.path(), &scenario(), &["--rule", "cleartxt"]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        "vpcflow: error: --rule: \"cleartxt\" is not a rule (one of unexpected-ingress, \
         unexpected-egress, cleartext, isolation, privatelink-bypass, new-peer)\n"
    );
    // A policy where no service is isolated has nothing for --rule isolation to check.
    std::fs::write(dir.path().join("p2.toml"), "[[service]]\nname = \"web\"\n").unwrap();
    let p = |f: &str| dir.path().join(f).display().to_string();
    let o = vpcflow(&[
        "audit",
        &p("flows.log"),
        "--map",
        &p("map.csv"),
        "--policy",
        &p("p2.toml"),
        "--rule",
        "isolation",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        "vpcflow: error: --rule isolation: no rule of the policy asks for it (isolated = true \
         in a [[service]] or [defaults]), so it has nothing to check\n"
    );
}

/// The same S3 and non-AWS connections in the default v2 format: no flags, no
/// encryption-status, no pkt-*-aws-service.
fn v2_web_traffic() -> String {
    let line = |src: &str, dst: &str, sp: u16, dp: u16, at: i64| {
        format!(
            "2 123456789012 eni-web {src} {dst} {sp} {dp} 6 3 300 {} {} ACCEPT OK\n",
            T0 + at,
            T0 + at + 10
        )
    };
    [
        line("10.0.1.10", "52.216.8.117", 40001, 443, 0),
        line("52.216.8.117", "10.0.1.10", 443, 40001, 0),
        line("10.0.1.10", "151.101.1.69", 40004, 443, 60),
        line("151.101.1.69", "10.0.1.10", 443, 40004, 60),
    ]
    .concat()
}

#[test]
fn privatelink_bypass_in_v2_needs_aws_ip_ranges_and_says_so_without() {
    let dir = tempfile::tempdir().unwrap();
    // Without ip-ranges.json nothing says which internet address is AWS's: no clean
    // result is printed (exit 2), and the summary says why.
    let o = audit(dir.path(), &v2_web_traffic(), &[]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(
            "vpcflow: error: privatelink-bypass could not be judged: 4 records between tasks of \
             private_aws_access services and internet addresses, and nothing says whether those \
             addresses are AWS's"
        ),
        "{err}"
    );
    assert!(
        err.contains("give AWS's ip-ranges.json with --aws-ip-ranges"),
        "{err}"
    );
    // With the sample of AWS's file: 52.216.0.0/15 is S3's, 151.101.0.0/16 nobody's.
    let ranges = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/aws-ip-ranges.json");
    let o = audit(
        dir.path(),
        &v2_web_traffic(),
        &["--aws-ip-ranges", ranges.to_str().unwrap()],
    );
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let f = common::json_lines(&o);
    assert_eq!(f.len(), 1);
    assert_eq!(
        (
            &f[0]["rule"],
            &f[0]["peer_addr"],
            &f[0]["ports"],
            &f[0]["records"]
        ),
        (
            &json!("privatelink-bypass"),
            &json!("52.216.8.117"),
            &json!([443]),
            &json!(2)
        )
    );
    assert!(
        f[0]["reason"]
            .as_str()
            .unwrap()
            .contains("52.216.8.117 (S3, by AWS's ip-ranges.json) on port 443"),
        "{}",
        f[0]["reason"]
    );
}

#[test]
fn aws_ip_ranges_of_another_shape_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("r.json"), "{\"syncToken\": \"1\"}").unwrap();
    let r = dir.path().join("r.json").display().to_string();
    let o = audit(dir.path(), &v2_web_traffic(), &["--aws-ip-ranges", &r]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        format!(
            "vpcflow: error: --aws-ip-ranges: {r}: not AWS's ip-ranges.json: it has no \
             \"prefixes\" list (download it from https://ip-ranges.amazonaws.com/ip-ranges.json)\n"
        )
    );
}

/// The four connections of `eni-api` with `peer` (ports 40000/40001 to 50051 and to
/// 5432), each logged both ways at the same time, in the v2 format: no flags.
fn two_servers(peer: &str) -> String {
    let mut out = String::new();
    for server in [50051, 5432] {
        for client in [40000, 40001] {
            for (a, b, sp, dp) in [
                ("10.0.2.20", peer, client, server),
                (peer, "10.0.2.20", server, client),
            ] {
                out += &format!(
                    "2 1 eni-api {a} {b} {sp} {dp} 6 3 300 {T0} {} ACCEPT OK\n",
                    T0 + 10
                );
            }
        }
    }
    out
}

#[test]
fn port_stability_counts_the_connections_no_rule_needed() {
    // api may open connections to the VPC on 5432 only. Both of api's ports repeat
    // across its four connections with the peer, and so does each of the peer's: no
    // side's port is stable, nobody can be said to have opened the 50051 connections,
    // and no egress finding is earned. The 5432 connections, which no rule flags, used
    // to be left out of port stability, making 50051 look like the stable server port.
    let dir = tempfile::tempdir().unwrap();
    for (peer, extra) in [
        ("10.0.5.5", &["--rule", "unexpected-egress"][..]),
        ("10.0.5.5", &[][..]),
        ("10.0.1.10", &[][..]),
    ] {
        let o = audit(dir.path(), &two_servers(peer), extra);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{peer} {extra:?}: {}",
            String::from_utf8_lossy(&o.stdout)
        );
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains("4 connections judged: 0 opened by the peer, 2 by the task, 2 undecided"),
            "{err}"
        );
    }
}

#[test]
fn privatelink_bypass_is_not_a_connection_aws_opened() {
    // A Route 53 health check reaches web's listener: AWS opened the connection, the
    // task reached nothing. web admits the VPC only, so it is unexpected ingress.
    let dir = tempfile::tempdir().unwrap();
    let (aws, web, t) = ("107.23.255.10", "10.0.1.10", T0);
    let logs = format!(
        "{V10}\n\
         10 1 eni-web {aws} {web} 51000 8080 6 3 300 {t} {t} ACCEPT OK 2 ROUTE53_HEALTHCHECKS - - 2\n\
         10 1 eni-web {web} {aws} 8080 51000 6 2 900 {t} {t} ACCEPT OK 18 - ROUTE53_HEALTHCHECKS 8 2\n"
    );
    let o = audit(dir.path(), &logs, &[]);
    assert_eq!(o.status.code(), Some(1));
    let rules: Vec<Value> = common::json_lines(&o)
        .iter()
        .map(|f| f["rule"].clone())
        .collect();
    assert_eq!(rules, [json!("unexpected-ingress")]);
}

#[test]
fn cleartext_port_evidence_yields_to_an_encrypted_mark_on_the_connection() {
    // A connection to port 80 whose request the flow log marks encrypted (1) and whose
    // response has no status is not cleartext; one marked 0 is, whatever its port.
    let dir = tempfile::tempdir().unwrap();
    let (web, api) = ("10.0.1.10", "10.0.2.20");
    let t = T0;
    let logs = format!(
        "{V10}\n\
         10 1 eni-api {web} {api} 50001 80 6 3 300 {t} {t} ACCEPT OK 2 - - - 1\n\
         10 1 eni-api {api} {web} 80 50001 6 2 900 {t} {t} ACCEPT OK 18 - - - -\n{}",
        Conn {
            enc: "0",
            ..conn("eni-api", (web, 50000), (api, 9090), 60)
        }
        .lines()
    );
    let o = audit(dir.path(), &logs, &[]);
    assert_eq!(o.status.code(), Some(1));
    let f = common::json_lines(&o);
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(
        (&f[0]["rule"], &f[0]["ports"]),
        (&json!("cleartext"), &json!([9090]))
    );
}

#[test]
fn isolated_service_without_a_map_is_refused() {
    // Without a map, peers are never tasks of a cluster nor VPC endpoints: every peer
    // of an isolated service would look like a breach.
    let dir = tempfile::tempdir().unwrap();
    let logs = "version interface-id srcaddr dstaddr srcport dstport protocol packets bytes start \
                end action log-status flow-direction ecs-cluster-name ecs-service-name ecs-task-arn\n\
                7 eni-pay 10.0.3.30 10.0.3.31 40000 8443 6 3 300 1793491200 1793491210 ACCEPT OK \
                egress pci payments arn:aws:ecs:us-east-1:1:task/pci/pay1\n";
    std::fs::write(dir.path().join("flows.log"), logs).unwrap();
    std::fs::write(
        dir.path().join("p.toml"),
        "[[service]]\nname = \"payments\"\nisolated = true\n",
    )
    .unwrap();
    let p = |f: &str| dir.path().join(f).display().to_string();
    let o = vpcflow(&["audit", &p("flows.log"), "--policy", &p("p.toml")]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        format!(
            "vpcflow: error: --policy: {}: service[0] (payments).isolated: without --map nothing \
             says which cluster a peer's task belongs to, or which peer is a VPC endpoint; give \
             the ENI map with --map\n",
            p("p.toml")
        )
    );
}
