//! `audit --format asff` and `--format ocsf`: every finding of `--format json` goes out
//! to Security Hub and Security Lake with the same key, filed under the account and
//! region its records (else its task's ARN, else the command line) name, with ids that
//! depend on nothing but account, region, rule and key.
//!
//! The ASFF documents are validated against botocore's Security Hub service model
//! (`ParamValidator` on `BatchImportFindings`'s input, offline): `VPCFLOW_BOTOCORE=require`
//! (CI) makes a missing botocore a failure, `skip` skips it, unset it is used where
//! python3 imports it. botocore checks types and required members only; the rest (ids,
//! `Types` in AWS's taxonomy, lengths, documents) is checked here. The OCSF findings
//! are validated against the OCSF 1.1.0 schema's own files (`tests/ocsf_schema`).

mod common;
mod ocsf_schema;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command, Output};

use common::{root, stderr, vpcflow_env};
use serde_json::Value;

/// 2026-11-01T00:00:00Z
const T0: i64 = 1_793_491_200;
/// The run's time in the tests, and its RFC 3339 text (T0 + 2 h 26 min 40 s).
const EPOCH: &str = "1793500000";
const EPOCH_TEXT: &str = "2026-11-01T02:26:40Z";

/// AWS's types taxonomy for ASFF (namespace, category, classifiers), from
/// https://docs.aws.amazon.com/securityhub/latest/userguide/asff-type-taxonomy.html
const TAXONOMY: &[(&str, &str, &[&str])] = &[
    (
        "Software and Configuration Checks",
        "Vulnerabilities",
        &["CVE"],
    ),
    (
        "Software and Configuration Checks",
        "AWS Security Best Practices",
        &["Network Reachability", "Runtime Behavior Analysis"],
    ),
    (
        "Software and Configuration Checks",
        "Industry and Regulatory Standards",
        &[
            "AWS Foundational Security Best Practices",
            "CIS Host Hardening Benchmarks",
            "CIS AWS Foundations Benchmark",
            "PCI-DSS",
            "Cloud Security Alliance Controls",
            "ISO 90001 Controls",
            "ISO 27001 Controls",
            "ISO 27017 Controls",
            "ISO 27018 Controls",
            "SOC 1",
            "SOC 2",
            "HIPAA Controls (USA)",
            "NIST 800-53 Controls (USA)",
            "NIST CSF Controls (USA)",
            "IRAP Controls (Australia)",
            "K-ISMS Controls (Korea)",
            "MTCS Controls (Singapore)",
            "FISC Controls (Japan)",
            "My Number Act Controls (Japan)",
            "ENS Controls (Spain)",
            "Cyber Essentials Plus Controls (UK)",
            "G-Cloud Controls (UK)",
            "C5 Controls (Germany)",
            "IT-Grundschutz Controls (Germany)",
            "GDPR Controls (Europe)",
            "TISAX Controls (Europe)",
        ],
    ),
    ("Software and Configuration Checks", "Patch Management", &[]),
    ("TTPs", "Initial Access", &[]),
    ("TTPs", "Execution", &[]),
    ("TTPs", "Persistence", &[]),
    ("TTPs", "Privilege Escalation", &[]),
    ("TTPs", "Defense Evasion", &[]),
    ("TTPs", "Credential Access", &[]),
    ("TTPs", "Discovery", &[]),
    ("TTPs", "Lateral Movement", &[]),
    ("TTPs", "Collection", &[]),
    ("TTPs", "Command and Control", &[]),
    ("Effects", "Data Exposure", &[]),
    ("Effects", "Data Exfiltration", &[]),
    ("Effects", "Data Destruction", &[]),
    ("Effects", "Denial of Service", &[]),
    ("Effects", "Resource Consumption", &[]),
    ("Unusual Behaviors", "Application", &[]),
    ("Unusual Behaviors", "Network Flow", &[]),
    ("Unusual Behaviors", "IP address", &[]),
    ("Unusual Behaviors", "User", &[]),
    ("Unusual Behaviors", "VM", &[]),
    ("Unusual Behaviors", "Container", &[]),
    ("Unusual Behaviors", "Serverless", &[]),
    ("Unusual Behaviors", "Process", &[]),
    ("Unusual Behaviors", "Database", &[]),
    ("Unusual Behaviors", "Data", &[]),
    ("Sensitive Data Identifications", "PII", &[]),
    ("Sensitive Data Identifications", "Passwords", &[]),
    ("Sensitive Data Identifications", "Legal", &[]),
    ("Sensitive Data Identifications", "Financial", &[]),
    ("Sensitive Data Identifications", "Security", &[]),
    ("Sensitive Data Identifications", "Business", &[]),
];

/// Whether `t` is `namespace/category[/classifier]` of the taxonomy.
fn in_taxonomy(t: &str) -> bool {
    let parts: Vec<&str> = t.split('/').collect();
    match parts.as_slice() {
        [ns, cat] => TAXONOMY.iter().any(|(n, c, _)| n == ns && c == cat),
        [ns, cat, class] => TAXONOMY
            .iter()
            .any(|(n, c, cl)| n == ns && c == cat && cl.contains(class)),
        _ => false,
    }
}

/// Runs `vpcflow audit ARGS` with `SOURCE_DATE_EPOCH` set to `epoch`.
fn audit(args: &[&str], epoch: &str) -> Output {
    let mut all = vec!["audit", "-q"];
    all.extend_from_slice(args);
    vpcflow_env(&all, &[("SOURCE_DATE_EPOCH", Some(epoch))])
}

fn lines(o: &Output) -> Vec<Value> {
    String::from_utf8(o.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// A finding's key: rule, ENI, peer, protocol, action.
type Key = (String, String, String, i64, String);

fn json_key(f: &Value) -> Key {
    (
        f["rule"].as_str().unwrap().into(),
        f["eni_id"].as_str().unwrap().into(),
        f["peer_addr"].as_str().unwrap().into(),
        f["protocol"].as_i64().unwrap(),
        f["action"].as_str().unwrap().into(),
    )
}

/// The name ASFF gives a protocol number (IANA's, upper case).
fn protocol_label(p: i64) -> String {
    match p {
        6 => "TCP".into(),
        17 => "UDP".into(),
        1 => "ICMP".into(),
        58 => "ICMPv6".into(),
        p => format!("protocol {p}"),
    }
}

/// An ASFF finding's key, read from ASFF's own fields where it has them: the rule from
/// `GeneratorId`, the ENI from its resource, the peer from `Network` (checked against
/// the one in `ProductFields`), the protocol from `Network.Protocol`.
fn asff_key(f: &Value) -> Key {
    let pf = &f["ProductFields"];
    let rule = f["GeneratorId"]
        .as_str()
        .unwrap()
        .strip_prefix("vpcflow/")
        .unwrap();
    let eni: Vec<&str> = f["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["Type"] == "AwsEc2NetworkInterface")
        .map(|r| {
            r["Details"]["AwsEc2NetworkInterface"]["NetworkInterfaceId"]
                .as_str()
                .unwrap()
        })
        .collect();
    assert_eq!(eni.len(), 1, "{f}");
    let n = &f["Network"];
    let peer = pf["vpcflow/peer_addr"].as_str().unwrap();
    let side = match n["Direction"].as_str() {
        Some("IN") => "Source",
        Some("OUT") => "Destination",
        _ => "",
    };
    if !side.is_empty() {
        let fam = if peer.contains(':') { "IpV6" } else { "IpV4" };
        assert_eq!(n[format!("{side}{fam}")], peer, "{f}");
    }
    let protocol: i64 = pf["vpcflow/protocol"].as_str().unwrap().parse().unwrap();
    assert_eq!(n["Protocol"], protocol_label(protocol), "{f}");
    (
        rule.into(),
        eni[0].into(),
        peer.into(),
        protocol,
        pf["vpcflow/action"].as_str().unwrap().into(),
    )
}

fn ocsf_key(f: &Value) -> Key {
    let e = &f["evidences"][0];
    let d = &e["data"];
    let peer = d["peer_addr"].as_str().unwrap();
    match e["connection_info"]["direction_id"].as_i64().unwrap() {
        1 => assert_eq!(e["src_endpoint"]["ip"], peer, "{f}"),
        2 => assert_eq!(e["dst_endpoint"]["ip"], peer, "{f}"),
        _ => assert!(e.get("src_endpoint").is_none(), "{f}"),
    }
    (
        f["finding_info"]["analytic"]["name"]
            .as_str()
            .unwrap()
            .into(),
        d["eni_id"].as_str().unwrap().into(),
        peer.into(),
        e["connection_info"]["protocol_num"].as_i64().unwrap(),
        d["action"].as_str().unwrap().into(),
    )
}

/// Findings by key, each key once.
fn by_key(list: Vec<(Key, &Value)>) -> BTreeMap<Key, &Value> {
    let n = list.len();
    let m: BTreeMap<Key, &Value> = list.into_iter().collect();
    assert_eq!(m.len(), n, "keys repeat");
    m
}

/// What the formats must agree on, checked: every finding of `json` is in `asff` and
/// in `ocsf` once, with the same key, severity, times, reason and counts, filed under
/// the account and region `place` says its ENI has; and nothing else is there.
fn check_same_findings(
    json: &[Value],
    asff: &[Value],
    ocsf: &[Value],
    place: &dyn Fn(&str) -> (&'static str, &'static str),
) {
    assert!(!json.is_empty());
    let asff: Vec<&Value> = asff
        .iter()
        .flat_map(|d| d["Findings"].as_array().unwrap())
        .collect();
    let asff = by_key(asff.into_iter().map(|f| (asff_key(f), f)).collect());
    let ocsf = by_key(ocsf.iter().map(|f| (ocsf_key(f), f)).collect());
    assert_eq!(asff.len(), json.len());
    assert_eq!(ocsf.len(), json.len());
    for j in json {
        let k = json_key(j);
        let (account, region) = place(&k.1);
        let a = asff.get(&k).unwrap_or_else(|| panic!("not in asff: {k:?}"));
        let o = ocsf.get(&k).unwrap_or_else(|| panic!("not in ocsf: {k:?}"));
        let id = format!(
            "vpcflow/{account}/{region}/{}/{}/{}/{}/{}",
            k.0, k.1, k.2, k.3, k.4
        );
        // ASFF.
        assert_eq!(a["Id"], id);
        assert_eq!(a["AwsAccountId"], account);
        assert_eq!(
            a["ProductArn"],
            format!("arn:aws:securityhub:{region}:{account}:product/{account}/default")
        );
        let sev = j["severity"].as_str().unwrap();
        assert_eq!(a["Severity"]["Original"], sev);
        assert_eq!(a["Severity"]["Label"], sev.to_uppercase());
        assert_eq!(a["FirstObservedAt"], j["first_seen"]);
        assert_eq!(a["LastObservedAt"], j["last_seen"]);
        let reason = j["reason"].as_str().unwrap();
        let desc = a["Description"].as_str().unwrap();
        if reason.chars().count() <= 1024 {
            assert_eq!(desc, reason);
        } else {
            assert!(reason.starts_with(desc.trim_end_matches('…')));
        }
        for field in ["flows", "records", "packets", "bytes"] {
            assert_eq!(
                a["ProductFields"][format!("vpcflow/{field}")],
                j[field].to_string(),
                "{field}"
            );
        }
        let resources = a["Resources"].as_array().unwrap();
        match j["task_arn"].as_str() {
            Some(task) => {
                // A task id that is not an ARN is made one, in its cluster.
                let arn = if task.starts_with("arn:") {
                    task.to_string()
                } else {
                    let cluster = j["cluster"].as_str().unwrap();
                    format!("arn:aws:ecs:{region}:{account}:task/{cluster}/{task}")
                };
                assert_eq!(resources[0]["Type"], "AwsEcsTask");
                assert_eq!(resources[0]["Id"], arn);
                if let Some(service) = j["service"].as_str() {
                    let s = resources.iter().find(|r| r["Type"] == "AwsEcsService");
                    let s = s.unwrap_or_else(|| panic!("no service: {a}"));
                    assert_eq!(s["Details"]["AwsEcsService"]["ServiceName"], service);
                }
            }
            None => assert_eq!(resources.len(), 1, "the ENI alone: {a}"),
        }
        // The task is its ARN as the map gives it; the ENI and the service are the
        // finding's account's and region's.
        for r in resources {
            assert_eq!(r["Region"], region);
            if r["Type"] != "AwsEcsTask" {
                let prefix = format!("{region}:{account}:");
                assert!(r["Id"].as_str().unwrap().contains(&prefix), "{r}");
            }
        }
        // OCSF.
        assert_eq!(o["finding_info"]["uid"], id);
        assert_eq!(o["cloud"]["account"]["uid"], account);
        assert_eq!(o["cloud"]["region"], region);
        assert_eq!(o["cloud"]["provider"], "AWS");
        let sev_id = match sev {
            "high" => 4,
            "medium" => 3,
            _ => 2,
        };
        assert_eq!(o["severity_id"], sev_id);
        assert_eq!(o["finding_info"]["desc"], reason);
        assert_eq!(o["time"], EPOCH.parse::<i64>().unwrap() * 1000);
        let ms = |t: &Value| common::time(t.as_str().unwrap(), 0) * 1000;
        assert_eq!(o["finding_info"]["first_seen_time"], ms(&j["first_seen"]));
        assert_eq!(o["finding_info"]["last_seen_time"], ms(&j["last_seen"]));
        let d = &o["evidences"][0]["data"];
        for field in ["ports", "flows", "records", "packets", "bytes", "peer_kind"] {
            assert_eq!(d[field], j[field], "{field}");
        }
        let uids: Vec<&Value> = o["resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| &r["uid"])
            .collect();
        if let Some(task) = j["task_arn"].as_str() {
            assert!(
                uids.iter().any(|u| *u == &resources[0]["Id"]),
                "{task}: {o}"
            );
        } else {
            assert_eq!(uids.len(), 1, "{o}");
        }
    }
}

/// Checks what botocore does not: documents of at most 100 findings, one account and
/// region each (a second document of a place only after a full one), `Types` in AWS's
/// taxonomy, titles, descriptions and sizes in ASFF's limits, the run's time.
fn check_asff_documents(docs: &[Value]) {
    let mut count: BTreeMap<(String, String), Vec<usize>> = BTreeMap::new();
    for d in docs {
        let findings = d["Findings"].as_array().unwrap();
        assert_eq!(d.as_object().unwrap().len(), 1);
        assert!((1..=100).contains(&findings.len()), "{}", findings.len());
        let place = |f: &Value| {
            let arn = f["ProductArn"].as_str().unwrap();
            let region = arn.split(':').nth(3).unwrap().to_string();
            (f["AwsAccountId"].as_str().unwrap().to_string(), region)
        };
        let p = place(&findings[0]);
        for f in findings {
            assert_eq!(place(f), p, "one account and region per document");
            assert_eq!(f["SchemaVersion"], "2018-10-08");
            assert_eq!(f["CreatedAt"], EPOCH_TEXT);
            assert_eq!(f["UpdatedAt"], EPOCH_TEXT);
            let types = f["Types"].as_array().unwrap();
            assert!(!types.is_empty());
            for t in types {
                assert!(in_taxonomy(t.as_str().unwrap()), "not ASFF's: {t}");
            }
            assert!(f["Title"].as_str().unwrap().chars().count() <= 256);
            assert!(f["Description"].as_str().unwrap().chars().count() <= 1024);
            assert!(serde_json::to_string(f).unwrap().len() < 240 * 1024);
            assert!(f["Id"].as_str().unwrap().len() <= 512);
        }
        count.entry(p).or_default().push(findings.len());
    }
    for (p, sizes) in count {
        let (last, full) = sizes.split_last().unwrap();
        assert!(full.iter().all(|n| *n == 100), "{p:?}: {sizes:?}");
        assert!(*last > 0);
    }
}

/// Whether botocore can be used here (said to be skipped where not); panics when
/// `VPCFLOW_BOTOCORE=require` and it cannot.
fn botocore(test: &str) -> bool {
    let mode = std::env::var("VPCFLOW_BOTOCORE").unwrap_or_default();
    if mode == "skip" {
        common::skip(test, "botocore: VPCFLOW_BOTOCORE=skip");
        return false;
    }
    let found = common::python_imports("botocore.validate");
    if !found {
        assert!(
            mode != "require",
            "VPCFLOW_BOTOCORE=require, but python3 cannot import botocore"
        );
        common::skip(
            test,
            "botocore: python3 cannot import it (pip install botocore)",
        );
    }
    found
}

/// What botocore's `ParamValidator` says of each document as `BatchImportFindings`'s
/// input, one report a document (empty when it is valid).
fn botocore_reports(docs: &[Value], dir: &Path) -> Vec<String> {
    let path = dir.join("documents.jsonl");
    let text: String = docs.iter().map(|d| format!("{d}\n")).collect();
    std::fs::write(&path, text).unwrap();
    let script = r#"
import json, sys
from botocore.session import get_session
from botocore.validate import ParamValidator
shape = get_session().get_service_model("securityhub") \
    .operation_model("BatchImportFindings").input_shape
for line in open(sys.argv[1]):
    report = ParamValidator().validate(json.loads(line), shape)
    print(json.dumps(report.generate_report() if report.has_errors() else ""))
"#;
    let o = Command::new("python3")
        .args(["-c", script])
        .arg(&path)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<String>(l).unwrap())
        .collect()
}

/// Checks the documents with botocore, and that botocore sees a broken one.
fn validate_with_botocore(test: &str, docs: &[Value]) {
    if !botocore(test) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let reports = botocore_reports(docs, dir.path());
    assert_eq!(reports.len(), docs.len());
    for (d, r) in docs.iter().zip(&reports) {
        assert!(r.is_empty(), "botocore: {r}\n{d}");
    }
    // The validator is not blind: a finding without its Id, with a Severity of the
    // wrong type.
    let mut broken = docs[0].clone();
    let f = &mut broken["Findings"][0];
    f.as_object_mut().unwrap().remove("Id");
    f["Severity"]["Normalized"] = Value::from("high");
    let r = &botocore_reports(&[broken], dir.path())[0];
    assert!(r.contains("Id") && r.contains("Normalized"), "{r}");
}

/// Checks every OCSF finding against the vendored schema, and that the validator sees
/// broken ones.
fn validate_ocsf(findings: &[Value]) {
    let schema = ocsf_schema::Schema::load(&root("testdata/ocsf-schema-1.1.0"));
    for f in findings {
        let errors = schema.validate_event("detection_finding", f);
        assert!(errors.is_empty(), "{errors:#?}\n{f}");
        assert_eq!(f["metadata"]["version"], "1.1.0");
        assert_eq!(f["metadata"]["product"]["name"], "vpcflow");
    }
    let broken = |edit: &dyn Fn(&mut Value), want: &str| {
        let mut f = findings[0].clone();
        edit(&mut f);
        let errors = schema.validate_event("detection_finding", &f);
        assert!(
            errors.iter().any(|e| e.contains(want)),
            "{want}: {errors:#?}"
        );
    };
    broken(
        &|f| {
            f["finding_info"].as_object_mut().unwrap().remove("uid");
        },
        "detection_finding.finding_info.uid is required",
    );
    broken(
        &|f| {
            f.as_object_mut().unwrap().remove("cloud");
        },
        "detection_finding.cloud is required",
    );
    broken(&|f| f["severity"] = "Critical".into(), "severity_id 4");
    broken(&|f| f["type_uid"] = 200402.into(), "type_uid");
    broken(&|f| f["colour"] = 1.into(), "colour is not an attribute");
    broken(
        &|f| f["evidences"][0]["connection_info"]["direction_id"] = 7.into(),
        "direction_id is 7",
    );
    broken(
        &|f| f["metadata"]["profiles"] = serde_json::json!([]),
        "cloud is not an attribute",
    );
}

#[test]
fn the_demos_findings_go_to_security_hub_and_security_lake_unchanged() {
    let test = "the_demos_findings_go_to_security_hub_and_security_lake_unchanged";
    let d = root("testdata/demo");
    let logs = d.join("logs");
    let (map, policy) = (d.join("eni-map.csv"), d.join("policy.toml"));
    let args = |format: &'static str| {
        vec![
            logs.to_str().unwrap().to_string(),
            "--map".into(),
            map.to_str().unwrap().into(),
            "--policy".into(),
            policy.to_str().unwrap().into(),
            "--format".into(),
            format.into(),
        ]
    };
    let run = |format| {
        let a = args(format);
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        let o = audit(&a, EPOCH);
        assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
        o
    };
    let json = lines(&run("json"));
    let asff_out = run("asff");
    let asff = lines(&asff_out);
    let ocsf = lines(&run("ocsf"));
    // The demo's logs are AWS's S3 delivery of one account and region (its key layout
    // says which); every record names them.
    check_same_findings(&json, &asff, &ocsf, &|_| ("123456789012", "us-east-1"));
    check_asff_documents(&asff);
    let rules: BTreeSet<&str> = json.iter().map(|f| f["rule"].as_str().unwrap()).collect();
    assert_eq!(rules.len(), 5, "every rule: {rules:?}");
    validate_with_botocore(test, &asff);
    validate_ocsf(&ocsf);
    // A second run at another time: the same ids and findings, only the run's time
    // changes.
    let a = args("asff");
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    let later = lines(&audit(&a, "1793600000"));
    let strip = |docs: &[Value], time: &str| -> Vec<Value> {
        let mut docs = docs.to_vec();
        for d in &mut docs {
            for f in d["Findings"].as_array_mut().unwrap() {
                for t in ["CreatedAt", "UpdatedAt"] {
                    assert_eq!(f[t], time);
                    f.as_object_mut().unwrap().remove(t);
                }
            }
        }
        docs
    };
    assert_eq!(
        strip(&later, "2026-11-02T06:13:20Z"),
        strip(&asff, EPOCH_TEXT)
    );
}

/// Flow-log text for the multi-account scenario: per ENI, its account, its region
/// (where the layout has the field), its task's address and the peers that open
/// connections to it.
struct Eni {
    id: &'static str,
    account: &'static str,
    region: &'static str,
    addr: &'static str,
    /// The map's task ARN.
    task_arn: &'static str,
    service: &'static str,
}

/// Six ENIs: three in accounts and regions that their records name, one whose records
/// name the account but have no region field (its task ARN gives the region), one
/// with neither (from the command line only), and a task ENI whose task no source
/// names (judged by `[defaults]`; its records name its place).
const ENIS: [Eni; 6] = [
    Eni {
        id: "eni-0aaa",
        account: "111111111111",
        region: "us-east-1",
        addr: "10.0.1.10",
        task_arn: "arn:aws:ecs:us-east-1:111111111111:task/prod/a1",
        service: "web",
    },
    Eni {
        id: "eni-0bbb",
        account: "222222222222",
        region: "eu-west-1",
        addr: "10.0.2.10",
        task_arn: "arn:aws:ecs:eu-west-1:222222222222:task/prod/b1",
        service: "web",
    },
    Eni {
        id: "eni-0ccc",
        account: "333333333333",
        region: "us-east-1",
        addr: "10.0.3.10",
        task_arn: "arn:aws:ecs:us-east-1:333333333333:task/prod/c1",
        service: "api",
    },
    // Its records say 444444444444 and no region: the records win on the account,
    // its ARN gives the region.
    Eni {
        id: "eni-0ddd",
        account: "444444444444",
        region: "ap-southeast-2",
        addr: "10.0.4.10",
        task_arn: "arn:aws:ecs:ap-southeast-2:999999999999:task/prod/d1",
        service: "api",
    },
    Eni {
        id: "eni-0eee",
        account: "555555555555",
        region: "sa-east-1",
        addr: "10.0.5.10",
        task_arn: "task-e1",
        service: "api",
    },
    Eni {
        id: "eni-0fff",
        account: "666666666666",
        region: "us-west-2",
        addr: "10.0.6.10",
        task_arn: "",
        service: "",
    },
];

const POLICY: &str = r#"
[network]
vpc_cidrs = ["10.0.0.0/16"]

[defaults]
ports = [7070]
ingress_from_cidrs = ["vpc"]

[[service]]
name = "web"
ports = [8080]
ingress_from_cidrs = ["vpc"]

[[service]]
name = "api"
ports = [9090]
ingress_from_services = ["web"]
"#;

/// How many internet peers open connections to each ENI (eni-0aaa's make more than a
/// document), and which of them are rejected.
fn peers(eni: usize) -> Vec<(String, &'static str)> {
    let n = [130, 4, 3, 2, 2, 2][eni];
    (0..n)
        .map(|i| {
            let action = if i % 4 == 3 { "REJECT" } else { "ACCEPT" };
            (format!("198.51.{}.{}", 100 + eni, i + 1), action)
        })
        .collect()
}

/// Writes the scenario into `dir`: `logs/` (records with account-id and region,
/// records with account-id only, records with neither), `map.csv`, `policy.toml`;
/// `reverse` writes each file's records in reverse order.
fn scenario(dir: &Path, reverse: bool) {
    let logs = dir.join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let header_full = "version account-id interface-id srcaddr dstaddr srcport dstport protocol \
                       packets bytes start end action log-status region tcp-flags";
    let header_v2 = "version account-id interface-id srcaddr dstaddr srcport dstport protocol \
                     packets bytes start end action log-status";
    let header_bare =
        "version interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end \
         action log-status";
    let mut files: Vec<(String, &str, Vec<String>)> = vec![
        ("full.log".into(), header_full, Vec::new()),
        ("v2.log".into(), header_v2, Vec::new()),
        ("bare.log".into(), header_bare, Vec::new()),
    ];
    for (i, e) in ENIS.iter().enumerate() {
        let port = match e.service {
            "web" => 8080,
            "api" => 9090,
            _ => 7070,
        };
        for (j, (peer, action)) in peers(i).iter().enumerate() {
            let t = T0 + (i * 1000 + j) as i64;
            let sport = 40_000 + j;
            let line = match i {
                0..=2 | 5 => format!(
                    "5 {} {} {peer} {} {sport} {port} 6 3 180 {t} {} {action} OK {} 2",
                    e.account,
                    e.id,
                    e.addr,
                    t + 5,
                    e.region
                ),
                3 => format!(
                    "2 {} {} {peer} {} {sport} {port} 6 3 180 {t} {} {action} OK",
                    e.account,
                    e.id,
                    e.addr,
                    t + 5
                ),
                _ => format!(
                    "2 {} {peer} {} {sport} {port} 6 3 180 {t} {} {action} OK",
                    e.id,
                    e.addr,
                    t + 5
                ),
            };
            let file = match i {
                0..=2 | 5 => 0,
                3 => 1,
                _ => 2,
            };
            files[file].2.push(line);
        }
    }
    for (name, header, mut records) in files {
        if reverse {
            records.reverse();
        }
        let text = std::iter::once(header.to_string())
            .chain(records)
            .collect::<Vec<_>>()
            .join("\n");
        std::fs::write(logs.join(name), text + "\n").unwrap();
    }
    let mut map = String::from(
        "eni_id,kind,private_ip,task_arn,cluster,service,task_family,security_groups,subnet_id,\
         vpc_id,valid_from,valid_to\n",
    );
    for e in &ENIS {
        map += &if e.task_arn.is_empty() {
            format!("{},task,{},,,,,sg-unnamed,,,,\n", e.id, e.addr)
        } else {
            format!(
                "{},task,{},{},prod,{},{},sg-{},,,,\n",
                e.id, e.addr, e.task_arn, e.service, e.service, e.service
            )
        };
    }
    std::fs::write(dir.join("map.csv"), map).unwrap();
    std::fs::write(dir.join("policy.toml"), POLICY).unwrap();
}

/// The account and region each ENI's findings are filed under.
fn place(eni: &str) -> (&'static str, &'static str) {
    let e = ENIS.iter().find(|e| e.id == eni).unwrap();
    (e.account, e.region)
}

fn scenario_args(dir: &Path, format: &str, extra: &[&str]) -> Vec<String> {
    let mut a: Vec<String> = vec![
        dir.join("logs").to_str().unwrap().into(),
        "--map".into(),
        dir.join("map.csv").to_str().unwrap().into(),
        "--policy".into(),
        dir.join("policy.toml").to_str().unwrap().into(),
        "--format".into(),
        format.into(),
    ];
    a.extend(extra.iter().map(|s| s.to_string()));
    a
}

fn run_scenario(dir: &Path, format: &str, extra: &[&str]) -> Output {
    let a = scenario_args(dir, format, extra);
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    audit(&a, EPOCH)
}

#[test]
fn findings_of_several_accounts_and_regions_are_filed_under_each() {
    let test = "findings_of_several_accounts_and_regions_are_filed_under_each";
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    scenario(d, false);
    let place_flags = ["--aws-account", "555555555555", "--region", "sa-east-1"];
    let ok = |format| {
        let o = run_scenario(d, format, &place_flags);
        assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
        o
    };
    let json = lines(&ok("json"));
    // Every planted peer is a finding, and nothing else.
    let want: BTreeSet<Key> = ENIS
        .iter()
        .enumerate()
        .flat_map(|(i, e)| {
            peers(i).into_iter().map(move |(p, a)| {
                (
                    "unexpected-ingress".to_string(),
                    e.id.to_string(),
                    p,
                    6,
                    a.to_string(),
                )
            })
        })
        .collect();
    let got: BTreeSet<Key> = json.iter().map(json_key).collect();
    assert_eq!(got, want);
    let asff_out = ok("asff");
    let asff = lines(&asff_out);
    let ocsf = lines(&ok("ocsf"));
    check_same_findings(&json, &asff, &ocsf, &place);
    check_asff_documents(&asff);
    // One place per document, and the 130 findings of 111111111111/us-east-1 in two.
    let mut docs: BTreeMap<(String, String), Vec<usize>> = BTreeMap::new();
    for doc in &asff {
        let f = &doc["Findings"][0];
        let arn = f["ProductArn"].as_str().unwrap();
        docs.entry((
            f["AwsAccountId"].as_str().unwrap().into(),
            arn.split(':').nth(3).unwrap().into(),
        ))
        .or_default()
        .push(doc["Findings"].as_array().unwrap().len());
    }
    let want: BTreeMap<(String, String), Vec<usize>> = ENIS
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let n = peers(i).len();
            let sizes = if n > 100 { vec![100, n - 100] } else { vec![n] };
            ((e.account.to_string(), e.region.to_string()), sizes)
        })
        .collect();
    assert_eq!(docs, want);
    validate_with_botocore(test, &asff);
    validate_ocsf(&ocsf);

    // The same records in another order, on one thread: the same bytes.
    let other = tempfile::tempdir().unwrap();
    scenario(other.path(), true);
    let mut flags = place_flags.to_vec();
    flags.extend(["--threads", "1"]);
    for format in ["asff", "ocsf"] {
        let again = run_scenario(other.path(), format, &flags);
        assert_eq!(again.status.code(), Some(1), "{}", stderr(&again));
        let first = run_scenario(d, format, &place_flags);
        assert_eq!(
            String::from_utf8(again.stdout).unwrap(),
            String::from_utf8(first.stdout).unwrap(),
            "{format}"
        );
    }
}

#[test]
fn a_finding_that_nothing_places_is_an_error_naming_it_and_the_options() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    scenario(d, false);
    for format in ["asff", "ocsf"] {
        let o = run_scenario(d, format, &[]);
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        assert!(o.stdout.is_empty(), "nothing printed");
        let err = stderr(&o);
        assert!(err.contains("eni-0eee"), "{err}");
        assert!(!err.contains("eni-0aaa"), "{err}");
        assert!(
            err.contains("--aws-account") && err.contains("--region"),
            "{err}"
        );
        assert!(err.contains(&format!("--format {format}")), "{err}");
        // The region alone is not enough.
        let o = run_scenario(d, format, &["--region", "sa-east-1"]);
        assert_eq!(o.status.code(), Some(2));
        let err = stderr(&o);
        assert!(
            err.contains("account") && err.contains("--aws-account"),
            "{err}"
        );
        assert!(!err.contains("--region"), "{err}");
    }
    // The formats for people need no place.
    assert_eq!(run_scenario(d, "json", &[]).status.code(), Some(1));
    for bad in [["--aws-account", "1234"], ["--region", "US East"]] {
        let o = run_scenario(d, "asff", &bad);
        assert_eq!(o.status.code(), Some(2));
        assert!(stderr(&o).contains(bad[0]), "{}", stderr(&o));
    }
    let a = scenario_args(d, "asff", &[]);
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    let o = audit(&a, "yesterday");
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("SOURCE_DATE_EPOCH"), "{}", stderr(&o));
}
