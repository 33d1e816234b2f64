//! `vpcflow learn`: a policy learned from a clean window audits that window clean, finds
//! every violation planted into it, and nothing on the traffic it learned from; and
//! `audit --baseline` tells exactly the new peers.

mod common;

use std::path::Path;
use std::process::Command;

use common::{json_lines, map_rows, root, skip, stderr, stdout, vpcflow, Row};

/// Generates a clean scenario into `d`: `clean.log`, the canonical map `map.csv`, and the
/// same VPC as `describe-tasks` and `describe-network-interfaces` print it.
fn generate(test: &str, d: &Path, version: u8, seed: u32) -> bool {
    if !common::python3() {
        skip(test, "python3 is needed to run scripts/gen-flowlogs");
        return false;
    }
    let o = Command::new("python3")
        .arg(root("scripts/gen-flowlogs"))
        .args([
            "--seed",
            &seed.to_string(),
            "--version",
            &version.to_string(),
        ])
        .args([
            "--records",
            "12000",
            "--rule-cases",
            "--no-violations",
            "--quiet",
        ])
        .arg("--out")
        .arg(d.join("clean.log"))
        .arg("--map-out")
        .arg(d.join("map.csv"))
        .arg("--describe-tasks-out")
        .arg(d.join("tasks.json"))
        .arg("--describe-enis-out")
        .arg(d.join("enis.json"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    true
}

/// The clean log's first start (field 11 of v2; the header names it otherwise).
fn first_start(log: &Path) -> i64 {
    let text = std::fs::read_to_string(log).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(' ').collect();
    let at = header.iter().position(|f| *f == "start").unwrap();
    lines
        .filter_map(|l| l.split(' ').nth(at)?.parse::<i64>().ok())
        .min()
        .unwrap()
}

/// A task of `service` whose ENI's window holds `t`.
fn task_of<'a>(rows: &'a [Row], service: &str, t: i64) -> &'a Row {
    rows.iter()
        .find(|r| {
            r.kind == "task" && r.service.as_deref() == Some(service) && r.from <= t && t < r.to
        })
        .unwrap_or_else(|| panic!("no task of {service} at {t}"))
}

/// A planted connection: the ENI that logs it, the peer the audit must name, and
/// its v2 records (opener's, then the response).
struct Planted {
    eni: String,
    peer: String,
    rule: &'static str,
}

/// Plants three violations at `t` (v2 records, in a file of their own): an internet host
/// opening web's listener, a worker task opening an IRC port on the internet, and a
/// worker task opening api's port (api never admitted worker).
fn plant(rows: &[Row], t: i64, out: &Path) -> Vec<Planted> {
    let web = task_of(rows, "web", t);
    let worker = task_of(rows, "worker", t);
    let api = task_of(rows, "api", t);
    let rec = |eni: &str, src: &str, dst: &str, sp: u16, dp: u16, t: i64| {
        format!(
            "2 123456789012 {eni} {src} {dst} {sp} {dp} 6 5 900 {t} {} ACCEPT OK\n",
            t + 20
        )
    };
    let mut text = String::from(
        "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets \
         bytes start end action log-status\n",
    );
    text += &rec(&web.eni, "198.51.100.201", &web.ip, 50123, 8080, t);
    text += &rec(&web.eni, &web.ip, "198.51.100.201", 8080, 50123, t);
    text += &rec(&worker.eni, &worker.ip, "203.0.113.66", 41000, 6667, t + 30);
    text += &rec(&worker.eni, "203.0.113.66", &worker.ip, 6667, 41000, t + 30);
    text += &rec(&api.eni, &worker.ip, &api.ip, 42000, 9090, t + 60);
    text += &rec(&api.eni, &api.ip, &worker.ip, 9090, 42000, t + 60);
    std::fs::write(out, text).unwrap();
    vec![
        Planted {
            eni: web.eni.clone(),
            peer: "198.51.100.201".into(),
            rule: "unexpected-ingress",
        },
        Planted {
            eni: worker.eni.clone(),
            peer: "203.0.113.66".into(),
            rule: "unexpected-egress",
        },
        Planted {
            eni: api.eni.clone(),
            peer: worker.ip.clone(),
            rule: "unexpected-ingress",
        },
    ]
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

/// (rule, eni, peer) of each finding.
fn found(o: &std::process::Output) -> Vec<(String, String, String)> {
    let mut v: Vec<(String, String, String)> = json_lines(o)
        .iter()
        .map(|f| {
            (
                f["rule"].as_str().unwrap().to_string(),
                f["eni_id"].as_str().unwrap().to_string(),
                f["peer_addr"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn a_learned_policy_round_trips_on_generated_scenarios() {
    let test = "a_learned_policy_round_trips_on_generated_scenarios";
    for (version, seed) in [(2u8, 11u32), (5, 12), (7, 13)] {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        if !generate(test, d, version, seed) {
            return;
        }
        let rows = map_rows(&d.join("map.csv"));
        let t = first_start(&d.join("clean.log")) + 900;
        let planted = plant(&rows, t, &d.join("planted.log"));
        let csv = vec!["--map".to_string(), s(&d.join("map.csv"))];
        let aws = vec![
            "--map".to_string(),
            s(&d.join("tasks.json")),
            "--map".to_string(),
            s(&d.join("enis.json")),
        ];
        for (kind, map) in [("csv", &csv), ("describe", &aws)] {
            let learned = d.join(format!("learned-{kind}.toml"));
            let mut args = vec!["learn".to_string(), s(&d.join("clean.log"))];
            args.extend(map.iter().cloned());
            args.extend([
                "--vpc-cidr".into(),
                "10.0.0.0/16".into(),
                "-o".into(),
                s(&learned),
            ]);
            let o = vpcflow(&args);
            let at = format!("v{version} map {kind}");
            assert_eq!(o.status.code(), Some(0), "{at}: {}", stderr(&o));
            let policy = std::fs::read_to_string(&learned).unwrap();
            // web is reached through its ALB only: named by the load balancer.
            assert!(policy.contains("\"app/web-alb\""), "{at}:\n{policy}");
            assert!(!policy.contains("198.51.100.201"), "{at}");

            let audit = |inputs: &[&Path], extra: &[&str]| {
                let mut a = vec!["audit".to_string()];
                a.extend(inputs.iter().map(|p| s(p)));
                a.extend(map.iter().cloned());
                a.extend(extra.iter().map(|x| x.to_string()));
                a.extend(["--format".into(), "json".into()]);
                vpcflow(&a)
            };
            let policy_args = ["--policy", learned.to_str().unwrap()];
            let clean = audit(&[&d.join("clean.log")], &policy_args);
            assert_eq!(
                clean.status.code(),
                Some(0),
                "{at}: {}\n{}",
                stderr(&clean),
                stdout(&clean)
            );
            assert!(stdout(&clean).is_empty(), "{at}: {}", stdout(&clean));

            let both = [d.join("clean.log"), d.join("planted.log")];
            let inputs: Vec<&Path> = both.iter().map(|p| p.as_path()).collect();
            let dirty = audit(&inputs, &policy_args);
            assert_eq!(dirty.status.code(), Some(1), "{at}: {}", stderr(&dirty));
            let mut want: Vec<(String, String, String)> = planted
                .iter()
                .map(|p| (p.rule.to_string(), p.eni.clone(), p.peer.clone()))
                .collect();
            want.sort();
            assert_eq!(found(&dirty), want, "{at}");

            // The baseline alone: new peers, exactly the planted ones.
            let base = ["--baseline", learned.to_str().unwrap()];
            let quiet = audit(&[&d.join("clean.log")], &base);
            assert_eq!(quiet.status.code(), Some(0), "{at}: {}", stdout(&quiet));
            let new = audit(&inputs, &base);
            assert_eq!(new.status.code(), Some(1), "{at}: {}", stderr(&new));
            let mut want: Vec<(String, String, String)> = planted
                .iter()
                .map(|p| ("new-peer".to_string(), p.eni.clone(), p.peer.clone()))
                .collect();
            want.sort();
            assert_eq!(found(&new), want, "{at}");
            for f in json_lines(&new) {
                let internet = f["peer_kind"] == "internet";
                assert_eq!(
                    f["severity"],
                    if internet { "high" } else { "medium" },
                    "{f}"
                );
            }
        }
    }
}

const MAP: &str = "\
eni_id,kind,private_ip,task_arn,cluster,service,task_family,security_groups,subnet_id,vpc_id,valid_from,valid_to
eni-web,task,10.0.1.10,arn:aws:ecs:us-east-1:1:task/prod/web1,prod,web,web,sg-web,,,,
eni-job,task,10.0.2.20,arn:aws:ecs:us-east-1:1:task/prod/job1,prod,,nightly,sg-job,,,,
eni-db,rds,10.0.3.30,,,,,sg-db,,,,
";

const HEADER: &str = "version interface-id srcaddr dstaddr srcport dstport protocol packets \
                      bytes start end action log-status tcp-flags\n";

/// One connection, both ways, on `eni`: `a` opens it (SYN) from `ap` to `b` on `bp`.
fn conn(eni: &str, a: &str, ap: u16, b: &str, bp: u16, t: i64, action: &str) -> String {
    format!(
        "5 {eni} {a} {b} {ap} {bp} 6 3 300 {t} {t} {action} OK 2\n\
         5 {eni} {b} {a} {bp} {ap} 6 3 300 {t} {t} {action} OK 18\n"
    )
}

fn learn_text(log: &str, extra: &[&str]) -> (std::process::Output, String) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("map.csv"), MAP).unwrap();
    std::fs::write(d.join("f.log"), log).unwrap();
    let out = d.join("p.toml");
    let mut args = vec![
        "learn".to_string(),
        s(&d.join("f.log")),
        "--map".into(),
        s(&d.join("map.csv")),
        "--vpc-cidr".into(),
        "10.0.0.0/16".into(),
        "-o".into(),
        s(&out),
    ];
    args.extend(extra.iter().map(|x| x.to_string()));
    let o = vpcflow(&args);
    let text = std::fs::read_to_string(&out).unwrap_or_default();
    (o, text)
}

/// The entries (values before their comments) of `key` in the `[[service]]` of `name`.
fn entries(policy: &str, name_line: &str, key: &str) -> Vec<String> {
    let start = policy
        .find(name_line)
        .unwrap_or_else(|| panic!("{name_line}:\n{policy}"));
    let rest = &policy[start..];
    let end = rest[1..].find("[[service]]").map_or(rest.len(), |e| e + 1);
    let block = &rest[..end];
    let Some(at) = block.find(&format!("\n{key} = [")) else {
        return Vec::new();
    };
    block[at + 1..]
        .lines()
        .skip(1)
        .take_while(|l| *l != "]")
        .map(|l| {
            l.split(',')
                .next()
                .unwrap()
                .trim()
                .trim_matches('"')
                .to_string()
        })
        .collect()
}

#[test]
fn many_internet_hosts_on_one_port_become_the_whole_internet_and_few_stay_hosts() {
    let mut log = String::from(HEADER);
    let t = 1_793_491_200;
    for i in 0..20 {
        log += &conn(
            "eni-web",
            &format!("198.51.100.{}", i + 1),
            40000 + i,
            "10.0.1.10",
            443,
            t + i64::from(i),
            "ACCEPT",
        );
    }
    // Four neighbours that fill 10.0.5.0/30, and one more host.
    for (i, h) in ["10.0.5.0", "10.0.5.1", "10.0.5.2", "10.0.5.3", "10.0.5.9"]
        .iter()
        .enumerate()
    {
        log += &conn(
            "eni-web",
            h,
            41000 + i as u16,
            "10.0.1.10",
            443,
            t + 100,
            "ACCEPT",
        );
    }
    let (o, policy) = learn_text(&log, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let cidrs = entries(&policy, "name = \"web\"", "ingress_from_cidrs");
    assert_eq!(cidrs, ["0.0.0.0/0"], "{policy}");
    assert!(
        policy.contains("20 distinct internet addresses on port 443, more than --max-hosts 16"),
        "{policy}"
    );
    assert_eq!(entries(&policy, "name = \"web\"", "ports"), ["443"]);
    let (o, policy) = learn_text(&log, &["--max-hosts", "20"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let cidrs = entries(&policy, "name = \"web\"", "ingress_from_cidrs");
    let mut want: Vec<String> = (1..=20).map(|i| format!("198.51.100.{i}/32")).collect();
    want.sort_by_key(|c| c.split(['.', '/']).nth(3).unwrap().parse::<u32>().unwrap());
    want.insert(0, "10.0.5.0/30".into());
    want.insert(1, "10.0.5.9/32".into());
    assert_eq!(cidrs, want, "{policy}");
}

#[test]
fn rejected_attempts_and_undecided_openers_are_listed_never_admitted() {
    let t = 1_793_491_200;
    let mut log = String::from(HEADER);
    // Accepted: web's task reaches the database on 5432.
    log += &conn(
        "eni-web",
        "10.0.1.10",
        40001,
        "10.0.3.30",
        5432,
        t,
        "ACCEPT",
    );
    // Rejected: an internet host tries web's port 22.
    log += &format!("5 eni-web 203.0.113.9 10.0.1.10 51000 22 6 1 60 {t} {t} REJECT OK 2\n");
    // Undecided: high ports both ways, no flags, one record each way at once.
    log += &format!(
        "5 eni-web 10.0.9.9 10.0.1.10 40000 50000 17 1 60 {t} {t} ACCEPT OK 0\n\
         5 eni-web 10.0.1.10 10.0.9.9 50000 40000 17 1 60 {t} {t} ACCEPT OK 0\n"
    );
    // The standalone task of family nightly reaches the database too.
    log += &conn(
        "eni-job",
        "10.0.2.20",
        40002,
        "10.0.3.30",
        5432,
        t + 5,
        "ACCEPT",
    );
    let (o, policy) = learn_text(&log, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        entries(&policy, "name = \"web\"", "egress_to_security_groups"),
        ["sg-db"]
    );
    assert_eq!(entries(&policy, "name = \"web\"", "egress_ports"), ["5432"]);
    assert!(
        entries(&policy, "name = \"web\"", "ingress_from_cidrs").is_empty(),
        "{policy}"
    );
    assert!(
        policy.contains("#   203.0.113.9 to port 22 tcp: 1 attempt"),
        "{policy}"
    );
    assert!(
        policy.contains("# not admitted, opener undecided (1 peer):\n#   10.0.9.9 udp"),
        "{policy}"
    );
    assert_eq!(
        entries(&policy, "family = \"nightly\"", "egress_to_security_groups"),
        ["sg-db"]
    );
    assert!(stderr(&o).contains("1 REJECTed attempt"), "{}", stderr(&o));
}

#[test]
fn nothing_to_learn_is_exit_2_and_writes_nothing() {
    let t = 1_793_491_200;
    let mut log = String::from(HEADER);
    log += &conn(
        "eni-unknown",
        "10.0.8.8",
        40001,
        "10.0.3.30",
        5432,
        t,
        "ACCEPT",
    );
    let (o, policy) = learn_text(&log, &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("nothing to learn from"),
        "{}",
        stderr(&o)
    );
    assert!(policy.is_empty());
}

#[test]
fn learn_reviews_the_task_security_groups_and_emits_the_change() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("map.csv"), MAP).unwrap();
    let t = 1_793_491_200;
    let mut log = String::from(HEADER);
    log += &conn(
        "eni-web",
        "10.0.1.10",
        40001,
        "10.0.3.30",
        5432,
        t,
        "ACCEPT",
    );
    std::fs::write(d.join("f.log"), log).unwrap();
    // Used: egress 5432 to the database's group; unused: ssh from the world, 8080 out.
    let sg = serde_json::json!({"SecurityGroups": [{
        "GroupId": "sg-web", "GroupName": "web", "VpcId": "vpc-1",
        "IpPermissions": [{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
                           "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
        "IpPermissionsEgress": [
            {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432,
             "UserIdGroupPairs": [{"GroupId": "sg-db"}]},
            {"IpProtocol": "tcp", "FromPort": 8080, "ToPort": 8080,
             "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]}]});
    std::fs::write(d.join("sg.json"), sg.to_string()).unwrap();
    let o = vpcflow(&[
        "learn",
        &s(&d.join("f.log")),
        "--map",
        &s(&d.join("map.csv")),
        "-o",
        &s(&d.join("p.toml")),
        "--security-groups",
        &s(&d.join("sg.json")),
        "--emit",
        &s(&d.join("out")),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let report = stdout(&o);
    let unused = &report[report.find("unused rules:").unwrap()
        ..report.find("\n  used rules:").unwrap_or(report.len())];
    let listed: Vec<&str> = unused
        .lines()
        .skip(1)
        .map(|l| l.trim().split(':').next().unwrap())
        .filter(|l| !l.is_empty())
        .collect();
    assert_eq!(
        listed,
        [
            "sg-web ingress tcp 22 from 0.0.0.0/0",
            "sg-web egress tcp 8080 to 0.0.0.0/0"
        ],
        "{report}"
    );
    let mut files: Vec<String> = std::fs::read_dir(d.join("out/sg-web"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(
        files,
        ["main.tf", "revoke-egress.json", "revoke-ingress.json"]
    );
    let revoke: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(d.join("out/sg-web/revoke-ingress.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(revoke["GroupId"], "sg-web");
    assert_eq!(revoke["IpPermissions"][0]["FromPort"], 22);
}

#[test]
fn audit_security_groups_names_the_rule_that_let_each_finding_in() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("map.csv"), MAP).unwrap();
    std::fs::write(
        d.join("p.toml"),
        "[[service]]\nname = \"web\"\nports = [443]\ningress_from_cidrs = [\"10.0.0.0/8\"]\n",
    )
    .unwrap();
    let t = 1_793_491_200;
    let mut log = String::from(HEADER);
    log += &conn(
        "eni-web",
        "198.51.100.7",
        40001,
        "10.0.1.10",
        443,
        t,
        "ACCEPT",
    );
    log += &format!("5 eni-web 203.0.113.9 10.0.1.10 51000 22 6 1 60 {t} {t} REJECT OK 2\n");
    std::fs::write(d.join("f.log"), log).unwrap();
    let sg = serde_json::json!({"SecurityGroups": [{
        "GroupId": "sg-web", "GroupName": "web", "VpcId": "vpc-1",
        "IpPermissions": [
            {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
             "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
            {"IpProtocol": "tcp", "FromPort": 0, "ToPort": 65535,
             "IpRanges": [{"CidrIp": "198.51.100.0/24"}]}],
        "IpPermissionsEgress": []}]});
    std::fs::write(d.join("sg.json"), sg.to_string()).unwrap();
    let run = |format: &str| {
        vpcflow(&[
            "audit",
            &s(&d.join("f.log")),
            "--map",
            &s(&d.join("map.csv")),
            "--policy",
            &s(&d.join("p.toml")),
            "--security-groups",
            &s(&d.join("sg.json")),
            "--format",
            format,
        ])
    };
    let o = run("json");
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let by_peer: Vec<(String, serde_json::Value)> = json_lines(&o)
        .iter()
        .map(|f| {
            (
                f["peer_addr"].as_str().unwrap().to_string(),
                f["sg_rule"].clone(),
            )
        })
        .collect();
    // The /24 is the more specific of the two rules that admit 198.51.100.7 on 443; the
    // rejected attempt was admitted by none.
    assert_eq!(
        by_peer,
        [
            (
                "198.51.100.7".to_string(),
                serde_json::json!("sg-web ingress tcp 0-65535 from 198.51.100.0/24")
            ),
            ("203.0.113.9".to_string(), serde_json::Value::Null),
        ]
    );
    let csv = stdout(&run("csv"));
    assert!(
        csv.lines().next().unwrap().ends_with(",reason,sg_rule"),
        "{csv}"
    );
    // Without the option, no such field.
    let o = vpcflow(&[
        "audit",
        &s(&d.join("f.log")),
        "--map",
        &s(&d.join("map.csv")),
        "--policy",
        &s(&d.join("p.toml")),
        "--format",
        "json",
    ]);
    assert!(json_lines(&o).iter().all(|f| f.get("sg_rule").is_none()));
}
