//! Map sources that outlive the tasks: ECS task state change events, CloudTrail, AWS
//! Config and late snapshots. `scripts/gen-flowlogs --churn --sources-out` writes them,
//! in AWS's shapes, for scenarios whose tasks are replaced every few minutes, whose
//! addresses are reused and whose load balancer ENIs are replaced, together with the
//! true map (independently of vpcflow). Merged, the sources must attribute every record
//! as the true map does, and give the same findings.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use common::{generate_sources, json_lines, root, stderr, stdout};
use serde_json::Value;

/// [`common::vpcflow`] with arguments of mixed types (`&"map", &path`).
fn run(args: &[&dyn AsRef<std::ffi::OsStr>]) -> Output {
    common::vpcflow(args)
}

/// The command exited 2, saying `text` on stderr.
fn fails_with(o: &Output, text: &str) {
    assert_eq!(o.status.code(), Some(2), "{}", stderr(o));
    assert!(stderr(o).contains(text), "{}", stderr(o));
}

/// The sources a real account keeps after an incident: events, the trail, and
/// snapshots taken later (without the stopped tasks and the replaced ENIs).
fn sources(d: &Path) -> Vec<PathBuf> {
    let s = d.join("src");
    vec![
        s.join("events/ecs-events.jsonl"),
        s.join("trail"),
        s.join("late/describe-network-interfaces.json"),
        s.join("late/describe-tasks.json"),
    ]
}

fn map_args(maps: &[PathBuf]) -> Vec<&dyn AsRef<std::ffi::OsStr>> {
    let mut v: Vec<&dyn AsRef<std::ffi::OsStr>> = Vec::new();
    for m in maps {
        v.push(&"--map");
        v.push(m);
    }
    v
}

/// The attribution columns of every record, `cat` with these maps.
fn attribution(logs: &Path, maps: &[PathBuf]) -> Vec<Vec<Value>> {
    let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> = vec![&"cat", &logs, &"-q"];
    args.extend(map_args(maps));
    let o = run(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    json_lines(&o)
        .into_iter()
        .map(|r| {
            ATTRIBUTION
                .iter()
                .map(|c| r.get(*c).cloned().unwrap_or(Value::Null))
                .collect()
        })
        .collect()
}

const ATTRIBUTION: [&str; 12] = [
    "interface_id",
    "start",
    "task_arn",
    "service",
    "cluster",
    "eni_kind",
    "peer_addr",
    "peer_eni_id",
    "peer_kind",
    "peer_task_arn",
    "peer_service",
    "peer_lb",
];

fn audit(d: &Path, maps: &[PathBuf]) -> (Option<i32>, String) {
    let logs = d.join("logs");
    let policy = d.join("policy.toml");
    let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> = vec![
        &"audit",
        &logs,
        &"--policy",
        &policy,
        &"--format",
        &"json",
        &"-q",
    ];
    args.extend(map_args(maps));
    let o = run(&args);
    (o.status.code(), stdout(&o))
}

#[test]
fn sources_attribute_every_record_as_the_true_map_in_every_version() {
    for (version, args) in [
        ("2", "--seed 3 --version 2"),
        ("5", "--seed 4 --version 5 --hard-cases"),
        ("7", "--seed 5 --version 7"),
        ("10", "--seed 6 --version 10 --rule-cases"),
    ] {
        let d = tempfile::tempdir().unwrap();
        if !generate_sources(
            "sources_attribute_every_record_as_the_true_map_in_every_version",
            d.path(),
            &format!("{args} --records 6000 --churn"),
        ) {
            return;
        }
        let truth = [d.path().join("src/truth-map.csv")];
        let want = attribution(&d.path().join("logs"), &truth);
        let got = attribution(&d.path().join("logs"), &sources(d.path()));
        assert_eq!(want.len(), got.len());
        let wrong: Vec<_> = want.iter().zip(&got).filter(|(a, b)| a != b).collect();
        assert!(
            wrong.is_empty(),
            "v{version}: {} of {} records attributed differently, first: {:?}",
            wrong.len(),
            want.len(),
            wrong.first()
        );
        // Task records are attributed on both sides, and to several tasks over time.
        let tasks: std::collections::BTreeSet<String> = want
            .iter()
            .filter(|r| r[5] == "task")
            .map(|r| r[2].to_string())
            .collect();
        assert!(tasks.len() > 20, "v{version}: {} tasks", tasks.len());
        assert_eq!(
            audit(d.path(), &truth),
            audit(d.path(), &sources(d.path())),
            "v{version}: the findings differ"
        );
        if version == "7" {
            // Without any map, the v7 ECS fields name the same tasks.
            let bare = attribution(&d.path().join("logs"), &[]);
            for (w, b) in want.iter().zip(&bare) {
                if w[5] == "task" {
                    assert_eq!(w[2..5], b[2..5], "{w:?}");
                }
            }
        }
    }
}

/// The merged map, as `vpcflow map` prints it.
fn map_csv(maps: &[&Path]) -> String {
    let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> = vec![&"map", &"-q"];
    for m in maps {
        args.push(m);
    }
    let o = run(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    stdout(&o)
}

#[test]
fn every_envelope_of_events_and_cloudtrail_gives_the_same_map() {
    let d = tempfile::tempdir().unwrap();
    if !generate_sources(
        "every_envelope_of_events_and_cloudtrail_gives_the_same_map",
        d.path(),
        "--seed 7 --records 2000 --churn",
    ) {
        return;
    }
    let s = d.path().join("src");
    let events = map_csv(&[&s.join("events/ecs-events.jsonl")]);
    assert!(events.lines().count() > 30, "{events}");
    for other in [
        "events/ecs-events.json",
        "events/firehose",
        "events/cloudwatch-filter-log-events.json",
    ] {
        assert_eq!(map_csv(&[&s.join(other)]), events, "{other}");
    }
    // The trail's S3 tree and lookup-events hold the same records.
    assert_eq!(
        map_csv(&[&s.join("trail")]),
        map_csv(&[&s.join("cloudtrail-lookup-events.json")])
    );
}

/// (eni, address) -> (valid_from, valid_to) of a map CSV.
fn windows(csv: &str) -> BTreeMap<(String, String), (String, String)> {
    csv.lines()
        .skip(1)
        .map(|l| {
            let c: Vec<&str> = l.split(',').collect();
            (
                (c[0].to_string(), c[2].to_string()),
                (c[10].to_string(), c[11].to_string()),
            )
        })
        .collect()
}

fn secs(t: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(t).unwrap().timestamp()
}

#[test]
fn trail_and_config_give_every_enis_true_window() {
    let d = tempfile::tempdir().unwrap();
    if !generate_sources(
        "trail_and_config_give_every_enis_true_window",
        d.path(),
        "--seed 8 --records 2000 --churn",
    ) {
        return;
    }
    let s = d.path().join("src");
    let truth = windows(&std::fs::read_to_string(s.join("truth-map.csv")).unwrap());
    let trail = windows(&map_csv(&[&s.join("trail")]));
    assert_eq!(trail.len(), truth.len());
    for (k, (from, to)) in &truth {
        let (tf, tt) = &trail[k];
        assert_eq!(tt, to, "{k:?}: CloudTrail gives each ENI its exact end");
        if from.is_empty() {
            // The true map leaves the ENIs made before the capture unbounded; the
            // trail knows when they were made.
            assert!(secs(tf) < secs("2026-11-01T00:00:00Z"), "{k:?}: {tf}");
        } else {
            assert_eq!(tf, from, "{k:?}: CloudTrail gives each ENI its exact start");
        }
    }
    let config = windows(&map_csv(&[&s.join("config-history.json")]));
    assert_eq!(config.len(), truth.len());
    for (k, (from, to)) in &truth {
        let (cf, ct) = &config[k];
        if from.is_empty() {
            assert!(secs(cf) < secs("2026-11-01T00:00:00Z"), "{k:?}: {cf}");
        } else {
            assert_eq!(cf, from, "{k:?}: resourceCreationTime is exact");
        }
        match (to.is_empty(), ct.is_empty()) {
            (true, true) => {}
            (false, false) => {
                // Config records a deletion up to 4 minutes late, and yields to the
                // next holder of the address.
                let lag = secs(ct) - secs(to);
                assert!((0..=240).contains(&lag), "{k:?}: {to} vs {ct}");
            }
            _ => panic!("{k:?}: {to:?} vs {ct:?}"),
        }
    }
}

#[test]
fn replaced_load_balancer_enis_give_no_false_findings_with_the_trail() {
    // The map built after the incident from snapshots alone does not know the ALB ENI
    // that was replaced: its health checks and requests read as unknown VPC peers.
    let d = tempfile::tempdir().unwrap();
    if !generate_sources(
        "replaced_load_balancer_enis_give_no_false_findings_with_the_trail",
        d.path(),
        "--seed 9 --records 6000 --churn --no-violations",
    ) {
        return;
    }
    let s = d.path().join("src");
    let late = [
        s.join("events/ecs-events.jsonl"),
        s.join("late/describe-network-interfaces.json"),
    ];
    let truth = windows(&std::fs::read_to_string(s.join("truth-map.csv")).unwrap());
    let late_map = windows(&map_csv(&[&late[0], &late[1]]));
    let replaced: Vec<&String> = truth
        .keys()
        .filter(|k| !late_map.contains_key(*k) && k.0.starts_with("eni-"))
        .map(|k| &k.1)
        .filter(|ip| ip.starts_with("10.0.0.") || ip.starts_with("10.0.1."))
        .collect();
    let (code, out) = audit(d.path(), &late);
    let lb_findings = out
        .lines()
        .filter(|l| replaced.iter().any(|ip| l.contains(&format!("\"{ip}\""))))
        .count();
    assert_eq!(code, Some(1), "{out}");
    assert!(lb_findings > 0, "the late map alone makes false findings");
    // With the trail, the replaced ENI is known for its lifetime: no finding at all.
    let mut with_trail = late.to_vec();
    with_trail.push(s.join("trail"));
    assert_eq!(audit(d.path(), &with_trail), (Some(0), String::new()));

    // A rule by load balancer admits every ENI of it, whatever its addresses.
    let policy = std::fs::read_to_string(d.path().join("policy.toml")).unwrap();
    let by_lb = policy.replace(
        "ingress_from_security_groups = [\"sg-0a1b2c3d4e5f60718\"]",
        "ingress_from_load_balancers = [\"app/web-alb\"]",
    );
    assert_ne!(by_lb, policy, "the web rule names the ALB's security group");
    std::fs::write(d.path().join("policy.toml"), by_lb).unwrap();
    assert_eq!(audit(d.path(), &with_trail), (Some(0), String::new()));
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(&p, text).unwrap();
    p
}

const TASK: &str = "arn:aws:ecs:us-east-1:123456789012:task/prod/aaaa1111bbbb2222cccc3333dddd4444";

/// An ECS task as describe-tasks and events print it.
fn task_json(att_type: &str, status: &str, stopped: Option<&str>) -> String {
    format!(
        r#"{{"taskArn": "{TASK}", "clusterArn": "arn:aws:ecs:us-east-1:123456789012:cluster/prod",
        "group": "service:web", "lastStatus": "{status}",
        "taskDefinitionArn": "arn:aws:ecs:us-east-1:123456789012:task-definition/web:3",
        "createdAt": "2026-11-01T00:00:00.000Z", "startedAt": 1793491230.5{}
        "attachments": [{{"id": "4c0f-att", "type": "{att_type}", "status": "ATTACHED", "details": [
          {{"name": "subnetId", "value": "subnet-1"}},
          {{"name": "networkInterfaceId", "value": "eni-0a1"}},
          {{"name": "privateIPv4Address", "value": "10.0.1.5"}}]}}]}}"#,
        match stopped {
            Some(t) => format!(r#", "stoppedAt": "{t}","#),
            None => ",".to_string(),
        }
    )
}

/// describe-tasks output of the task while it runs, in `dir/running.json`.
fn running_snapshot(dir: &Path) -> PathBuf {
    write(
        dir,
        "running.json",
        &format!(
            r#"{{"tasks": [{}]}}"#,
            task_json("ElasticNetworkInterface", "RUNNING", None)
        ),
    )
}

#[test]
fn event_attachments_of_type_eni_are_read() {
    // Regression: events say "type": "eni" and describe-tasks "ElasticNetworkInterface";
    // events wrapped as {"tasks": [detail]} gave 0 rows, exit 0, no warning.
    let d = tempfile::tempdir().unwrap();
    let wrapped = write(
        d.path(),
        "wrapped.json",
        &format!(r#"{{"tasks": [{}]}}"#, task_json("eni", "RUNNING", None)),
    );
    let event = write(
        d.path(),
        "event.json",
        &format!(
            r#"{{"version": "0", "detail-type": "ECS Task State Change", "source": "aws.ecs",
            "detail": {}}}"#,
            task_json("eni", "RUNNING", None)
        ),
    );
    for f in [&wrapped, &event] {
        let csv = map_csv(&[f]);
        assert!(
            csv.contains(&format!(
                "eni-0a1,task,10.0.1.5,{TASK},prod,web,web,,subnet-1,,2026-11-01T00:00:00Z,,,"
            )),
            "{csv}"
        );
    }
}

#[test]
fn running_then_stopped_snapshots_are_one_window() {
    // Regression: two describe-tasks snapshots of one task stayed two rows, and the
    // open-ended one claimed records after the stop.
    let d = tempfile::tempdir().unwrap();
    let running = running_snapshot(d.path());
    let stopped = write(
        d.path(),
        "stopped.json",
        &format!(
            r#"{{"tasks": [{}], "failures": []}}"#,
            task_json(
                "ElasticNetworkInterface",
                "STOPPED",
                Some("2026-11-01T00:20:00.000Z")
            )
        ),
    );
    let csv = map_csv(&[&running, &stopped]);
    let rows: Vec<&str> = csv.lines().skip(1).collect();
    assert_eq!(rows.len(), 1, "{csv}");
    assert!(
        rows[0].contains(",2026-11-01T00:00:00Z,2026-11-01T00:20:00Z,"),
        "{csv}"
    );
    let o = run(&[&"map", &stopped, &running, &"--at", &"2026-11-01T00:25:00Z"]);
    assert_eq!(
        stdout(&o).lines().count(),
        1,
        "nobody holds it after the stop"
    );
}

#[test]
fn describe_tasks_failures_and_bridge_mode_tasks_are_warned() {
    // Regression: `failures` (MISSING) were ignored silently, and bridge/host-mode
    // tasks (no ENI) vanished without a word.
    let d = tempfile::tempdir().unwrap();
    let bridge = |n: u32| {
        format!(
            r#"{{"taskArn": "arn:aws:ecs:us-east-1:1:task/prod/b{n}", "group": "service:legacy",
            "attachments": [], "containers": [{{"networkBindings": [{{"hostPort": 8080}}]}}]}}"#
        )
    };
    let f = write(
        d.path(),
        "tasks.json",
        &format!(
            r#"{{"tasks": [{}, {}, {}], "failures": [{{"arn": "arn:aws:ecs:us-east-1:1:task/prod/gone", "reason": "MISSING"}}]}}"#,
            task_json("ElasticNetworkInterface", "RUNNING", None),
            bridge(1),
            bridge(2)
        ),
    );
    let o = run(&[&"map", &f]);
    assert!(o.status.success());
    let err = stderr(&o);
    assert!(
        err.contains("describe-tasks failed for arn:aws:ecs:us-east-1:1:task/prod/gone: MISSING"),
        "{err}"
    );
    assert!(
        err.contains("2 bridge/host-mode tasks: their traffic is on the instance's ENI"),
        "{err}"
    );
}

#[test]
fn enis_of_every_kind_are_named_as_aws_documents_them() {
    // Regression: RDS, Lambda, EFS, transit gateway and classic ELB ENIs were all
    // `other`, and a database peer read "other".
    let d = tempfile::tempdir().unwrap();
    let eni = |id: &str, ip: &str, t: &str, req: &str, desc: &str| {
        format!(
            r#"{{"NetworkInterfaceId": "{id}", "PrivateIpAddress": "{ip}", "InterfaceType": "{t}",
            "RequesterId": "{req}", "Description": "{desc}", "Groups": [], "SubnetId": "subnet-1",
            "VpcId": "vpc-1"}}"#
        )
    };
    let enis = [
        eni(
            "eni-rds",
            "10.0.9.1",
            "interface",
            "amazon-rds",
            "RDSNetworkInterface",
        ),
        eni(
            "eni-lam",
            "10.0.9.2",
            "lambda",
            "",
            "AWS Lambda VPC ENI-fn-1",
        ),
        eni(
            "eni-efs",
            "10.0.9.3",
            "interface",
            "",
            "EFS mount target for fs-1 (fsmt-1)",
        ),
        eni(
            "eni-tgw",
            "10.0.9.4",
            "transit_gateway",
            "",
            "Network Interface for Transit Gateway Attachment tgw-attach-1",
        ),
        eni(
            "eni-elb",
            "10.0.9.5",
            "interface",
            "amazon-elb",
            "ELB legacy-web",
        ),
        eni(
            "eni-gwl",
            "10.0.9.6",
            "gateway_load_balancer",
            "",
            "ELB gwy/fw/1a2b",
        ),
        eni(
            "eni-gwe",
            "10.0.9.7",
            "gateway_load_balancer_endpoint",
            "",
            "VPC Endpoint Interface vpce-1",
        ),
        eni(
            "eni-alb",
            "10.0.9.8",
            "interface",
            "amazon-elb",
            "ELB app/web-alb/50dc6c495c0c9188",
        ),
    ];
    let f = write(
        d.path(),
        "enis.json",
        &format!(r#"{{"NetworkInterfaces": [{}]}}"#, enis.join(",")),
    );
    let csv = map_csv(&[&f]);
    for (id, kind, lb) in [
        ("eni-rds", "rds", ""),
        ("eni-lam", "lambda", ""),
        ("eni-efs", "efs", ""),
        ("eni-tgw", "tgw", ""),
        ("eni-elb", "elb", "legacy-web"),
        ("eni-gwl", "gwlb", "gwy/fw"),
        ("eni-gwe", "gwlbe", ""),
        ("eni-alb", "alb", "app/web-alb"),
    ] {
        let row = csv.lines().find(|l| l.starts_with(id)).unwrap();
        assert!(row.starts_with(&format!("{id},{kind},")), "{row}");
        assert!(
            row.ends_with(&format!(",{lb},describe-network-interfaces")),
            "{row}"
        );
    }
}

#[test]
fn failed_calls_and_digests_are_skipped_and_organization_trails_are_read() {
    let d = tempfile::tempdir().unwrap();
    let create = |id: &str, ip: &str, error: &str| {
        format!(
            r#"{{"eventVersion": "1.08", "eventTime": "2026-11-01T00:00:10Z", "eventSource": "ec2.amazonaws.com",
            "eventName": "CreateNetworkInterface", {error} "requestParameters": {{"subnetId": "subnet-1"}},
            "responseElements": {}}}"#,
            if error.is_empty() {
                format!(
                    r#"{{"networkInterface": {{"networkInterfaceId": "{id}", "privateIpAddress": "{ip}",
                    "description": "arn:aws:ecs:us-east-1:123456789012:attachment/4c0f-att",
                    "interfaceType": "interface", "groupSet": {{"items": [{{"groupId": "sg-1"}}]}},
                    "privateIpAddressesSet": {{"item": [{{"privateIpAddress": "{ip}", "primary": true}}]}},
                    "ipv6AddressesSet": {{}}, "subnetId": "subnet-1", "vpcId": "vpc-1"}}}}"#
                )
            } else {
                "null".to_string()
            }
        )
    };
    let delete = r#"{"eventTime": "2026-11-01T00:30:00Z", "eventName": "DeleteNetworkInterface",
        "requestParameters": {"networkInterfaceId": "eni-0a1"}, "responseElements": {"_return": true}}"#;
    let records = [
        create("eni-0a1", "10.0.1.5", ""),
        create("eni-dry", "10.0.1.6", r#""errorCode": "Client.DryRunOperation","#),
        delete.to_string(),
        r#"{"eventName": "AssumeRole", "eventTime": "2026-11-01T00:00:00Z", "eventSource": "sts.amazonaws.com"}"#.to_string(),
    ];
    let tree = d.path().join("AWSLogs");
    let day = "o-abc123/123456789012/CloudTrail/us-east-1/2026/11/01";
    let file = tree
        .join(day)
        .join("123456789012_CloudTrail_us-east-1_20261101T0005Z_x.json.gz");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    let mut gz = flate2::write::GzEncoder::new(
        std::fs::File::create(&file).unwrap(),
        flate2::Compression::default(),
    );
    std::io::Write::write_all(
        &mut gz,
        format!(r#"{{"Records": [{}]}}"#, records.join(",")).as_bytes(),
    )
    .unwrap();
    gz.finish().unwrap();
    write(
        &tree,
        "o-abc123/123456789012/CloudTrail-Digest/us-east-1/2026/11/01/digest.json",
        r#"{"awsAccountId": "123456789012", "logFiles": []}"#,
    );
    let o = run(&[&"map", &tree]);
    assert!(o.status.success(), "{}", stderr(&o));
    let csv = stdout(&o);
    assert_eq!(csv.lines().count(), 2, "{csv}");
    assert!(
        csv.contains("eni-0a1,task,10.0.1.5,,,,,sg-1,subnet-1,vpc-1,2026-11-01T00:00:10Z,2026-11-01T00:30:00Z,,cloudtrail"),
        "{csv}"
    );
    assert!(stderr(&o).contains("1 failed ENI calls"), "{}", stderr(&o));
    // The attachment id joins the ENI to the task that events name.
    let events = write(
        d.path(),
        "events.jsonl",
        &format!(
            "{}\n",
            task_json("eni", "STOPPED", Some("2026-11-01T00:29:00Z"))
                .replace(
                    "\"networkInterfaceId\", \"value\": \"eni-0a1\"",
                    "\"macAddress\", \"value\": \"x\""
                )
                .replace('\n', " ")
        ),
    );
    let both = map_csv(&[&tree, &events]);
    assert!(
        both.contains(&format!(
            "eni-0a1,task,10.0.1.5,{TASK},prod,web,web,sg-1,subnet-1,vpc-1,2026-11-01T00:00:00Z,2026-11-01T00:30:00Z,,cloudtrail;events"
        )),
        "{both}"
    );
}

#[test]
fn task_enis_known_without_their_task_are_judged_by_defaults_or_said_unjudged() {
    // Regression: a map from describe-network-interfaces alone audited nothing and said
    // "no record was logged on a task ENI that the map knows" while records were on
    // task ENIs it knew (without a task ARN).
    let d = tempfile::tempdir().unwrap();
    if !generate_sources(
        "task_enis_known_without_their_task_are_judged_by_defaults_or_said_unjudged",
        d.path(),
        "--seed 11 --records 3000 --churn",
    ) {
        return;
    }
    let enis = d.path().join("src/late/describe-network-interfaces.json");
    let (code, out) = audit(d.path(), std::slice::from_ref(&enis));
    assert_eq!(code, Some(2), "{out}");
    let logs = d.path().join("logs");
    let policy = d.path().join("policy.toml");
    let o = run(&[&"audit", &logs, &"--map", &enis, &"--policy", &policy]);
    let err = stderr(&o);
    assert!(
        err.contains("on task ENIs whose task no map source names") && err.contains("[defaults]"),
        "{err}"
    );
    assert!(err.contains("ECS task state change events"), "{err}");
    // Rules that need no service judge them: the ENI stands for its task.
    let defaults = write(
        d.path(),
        "defaults.toml",
        "[network]\nvpc_cidrs = [\"10.0.0.0/16\"]\n[defaults]\ningress_from_cidrs = [\"10.0.64.0/18\"]\n",
    );
    let o = run(&[
        &"audit",
        &logs,
        &"--map",
        &enis,
        &"--policy",
        &defaults,
        &"--format",
        &"json",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let findings = json_lines(&o);
    assert!(!findings.is_empty());
    for f in &findings {
        assert!(f["task_arn"].is_null(), "{f}");
        assert!(f["eni_id"].as_str().unwrap().starts_with("eni-"), "{f}");
        assert_eq!(f["rule"], "unexpected-ingress", "{f}");
    }
    assert!(stderr(&o).contains("on task ENIs whose task no source names"));
}

#[test]
fn coverage_lists_the_enis_of_the_logs_by_bytes() {
    let d = tempfile::tempdir().unwrap();
    if !generate_sources(
        "coverage_lists_the_enis_of_the_logs_by_bytes",
        d.path(),
        "--seed 12 --records 3000 --churn",
    ) {
        return;
    }
    let s = d.path().join("src");
    let events = s.join("events/ecs-events.jsonl");
    let late = s.join("late/describe-network-interfaces.json");
    let logs = d.path().join("logs");
    let o = run(&[
        &"map",
        &events,
        &late,
        &"-q",
        &"--coverage",
        &logs,
        &"--format",
        &"json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let rows = json_lines(&o);
    assert_eq!(rows[0]["eni_id"], "total");
    let total = rows[0]["records"].as_u64().unwrap();
    assert_eq!(total, 3000);
    let per: u64 = rows[1..]
        .iter()
        .map(|r| r["records"].as_u64().unwrap())
        .sum();
    assert_eq!(per, total);
    let bytes: Vec<u64> = rows[1..]
        .iter()
        .map(|r| r["bytes"].as_u64().unwrap())
        .collect();
    assert!(bytes.windows(2).all(|w| w[0] >= w[1]), "sorted by bytes");
    // The replaced ALB ENI is in no late source: unknown, and its records say what
    // it looks like.
    let unknown: Vec<&Value> = rows[1..].iter().filter(|r| r["kind"].is_null()).collect();
    assert!(!unknown.is_empty());
    for r in &unknown {
        assert_eq!(r["known_records"], 0);
        assert!(r["looks_like"].as_str().unwrap().len() > 5, "{r}");
    }
    // With the trail, every ENI is known at every record's time.
    let trail = s.join("trail");
    let o = run(&[
        &"map",
        &events,
        &late,
        &trail,
        &"-q",
        &"--coverage",
        &logs,
        &"--format",
        &"json",
    ]);
    let rows = json_lines(&o);
    assert_eq!(rows[0]["known_records"], total, "{:?}", rows[0]);
}

#[test]
fn real_samples_load() {
    let dir = root("testdata/aws-samples");
    let mut rows = 0;
    for (file, min_rows) in [
        ("eventbridge-ecs-task-state-change.awsdocs-fargate.json", 1),
        ("ecs-describe-tasks.awscli-fargate.json", 2),
        ("ec2-describe-network-interfaces.awscli.json", 2),
        ("ec2-create-network-interface.awscli-dual-stack.json", 1),
        ("cloudtrail-create-network-interface.awsdocs-efs.json", 1),
    ] {
        let csv = map_csv(&[&dir.join(file)]);
        let n = csv.lines().count() - 1;
        assert!(n >= min_rows, "{file}: {csv}");
        rows += n;
    }
    assert!(rows >= 7);
    // The EFS sample is an EFS mount target's ENI.
    let efs = map_csv(&[&dir.join("cloudtrail-create-network-interface.awsdocs-efs.json")]);
    assert!(efs.lines().nth(1).unwrap().contains(",efs,"), "{efs}");
    // A describe-tasks of an EC2 (bridge mode) task names no ENI, and says so.
    let o = run(&[&"map", &dir.join("ecs-describe-tasks.awscli-ec2.json")]);
    assert!(
        stderr(&o).contains("bridge/host-mode task"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn unknown_json_is_an_error_that_says_what_it_is() {
    let d = tempfile::tempdir().unwrap();
    let f = write(d.path(), "x.json", r#"{"Buckets": [], "Owner": {}}"#);
    let o = run(&[&"map", &f]);
    fails_with(&o, "its keys are Buckets, Owner");
}

#[test]
fn v7_ecs_fields_name_the_tasks_of_task_enis_that_the_trail_knows_without_their_task() {
    // Regression: with a map of CloudTrail alone (task ENIs, no task names), records
    // whose v7 ECS fields name their task were left without a task.
    let d = tempfile::tempdir().unwrap();
    if !generate_sources(
        "v7_ecs_fields_name_the_tasks_of_task_enis_that_the_trail_knows_without_their_task",
        d.path(),
        "--seed 13 --version 7 --records 3000 --churn",
    ) {
        return;
    }
    let logs = d.path().join("logs");
    let want = attribution(&logs, &[d.path().join("src/truth-map.csv")]);
    let got = attribution(&logs, &[d.path().join("src/trail")]);
    let mut named = 0;
    for (w, g) in want.iter().zip(&got) {
        if w[5] == "task" {
            assert_eq!(w[2..6], g[2..6], "{w:?}");
            named += 1;
        }
    }
    assert!(named > 1000, "{named}");
}

#[test]
fn a_saved_map_gives_way_to_the_events_that_stop_its_tasks() {
    // Regression: a CSV saved while a task ran (an open window) hid the STOPPED event
    // of the same task given beside it: the window stayed open after the stop.
    let d = tempfile::tempdir().unwrap();
    let running = running_snapshot(d.path());
    let saved = d.path().join("saved.csv");
    let o = run(&[&"map", &running, &"-o", &saved]);
    assert!(o.status.success(), "{}", stderr(&o));
    let stopped = write(
        d.path(),
        "stopped.jsonl",
        &format!(
            "{}\n",
            task_json("eni", "STOPPED", Some("2026-11-01T00:20:00.000Z")).replace('\n', " ")
        ),
    );
    let csv = map_csv(&[&saved, &stopped]);
    let rows: Vec<&str> = csv.lines().skip(1).collect();
    assert_eq!(rows.len(), 1, "{csv}");
    assert!(
        rows[0].contains(",2026-11-01T00:00:00Z,2026-11-01T00:20:00Z,"),
        "{csv}"
    );
}

#[test]
fn a_csv_rows_kind_is_taken_as_written() {
    // Regression: a snapshot's guess (`other`) replaced the kind a map CSV wrote.
    let d = tempfile::tempdir().unwrap();
    let csv = write(
        d.path(),
        "map.csv",
        "eni_id,kind,private_ip,task_arn,cluster,service,task_family,security_groups,subnet_id,vpc_id,valid_from,valid_to\n\
         eni-db,rds,10.0.9.1,,,,,sg-db,subnet-1,vpc-1,,\n",
    );
    let enis = write(
        d.path(),
        "enis.json",
        r#"{"NetworkInterfaces": [{"NetworkInterfaceId": "eni-db", "PrivateIpAddress": "10.0.9.1",
            "InterfaceType": "interface", "Description": "", "Groups": [{"GroupId": "sg-new"}]}]}"#,
    );
    let out = map_csv(&[&csv, &enis]);
    assert!(out.contains("eni-db,rds,10.0.9.1,,,,,sg-db,"), "{out}");
}

#[test]
fn bare_tasks_and_arrays_of_them_are_read() {
    // Regression: a task on its own (`jq .detail`, `describe-tasks --query tasks`) was
    // refused when `taskArn` was not among its first keys.
    let d = tempfile::tempdir().unwrap();
    let sample: Value = serde_json::from_str(
        &std::fs::read_to_string(root(
            "testdata/aws-samples/eventbridge-ecs-task-state-change.awsdocs-fargate.json",
        ))
        .unwrap(),
    )
    .unwrap();
    let detail = write(d.path(), "detail.json", &sample["detail"].to_string());
    let want = map_csv(&[&root(
        "testdata/aws-samples/eventbridge-ecs-task-state-change.awsdocs-fargate.json",
    )]);
    assert_eq!(map_csv(&[&detail]), want);
    let tasks: Value = serde_json::from_str(
        &std::fs::read_to_string(root(
            "testdata/aws-samples/ecs-describe-tasks.awscli-fargate.json",
        ))
        .unwrap(),
    )
    .unwrap();
    let array = write(d.path(), "tasks.json", &tasks["tasks"].to_string());
    let rows = map_csv(&[&array]);
    assert_eq!(rows.lines().count(), 3, "{rows}");
}

#[test]
fn invalid_json_at_the_end_of_a_file_names_its_line() {
    // Regression: the line of a document cut by the end of the file was counted from
    // the wrong place.
    let d = tempfile::tempdir().unwrap();
    let f = write(
        d.path(),
        "cut.jsonl",
        "{\"tasks\": []}\n{\"tasks\": [\n{\"taskArn\":",
    );
    let o = run(&[&"map", &f]);
    fails_with(&o, "cut.jsonl: invalid JSON at line 3 column 11");
    let g = write(
        d.path(),
        "stray.jsonl",
        "{\"tasks\": []}\nx\n{\"tasks\": []}\n",
    );
    let o = run(&[&"map", &g]);
    fails_with(&o, "stray.jsonl: invalid JSON at line 2");
}

#[test]
fn a_window_that_ends_before_it_begins_is_left_out_with_a_warning() {
    // Regression: Config's capture of an ENI (minutes late) after CloudTrail's record of
    // its deletion made a window that ends before it begins, which `vpcflow map` wrote
    // and `--map` then refused to read back.
    let d = tempfile::tempdir().unwrap();
    let config = write(
        d.path(),
        "config.json",
        r#"{"configurationItems": [{"resourceType": "AWS::EC2::NetworkInterface",
            "resourceId": "eni-short", "configurationItemStatus": "ResourceDiscovered",
            "configurationItemCaptureTime": "2026-11-01T00:10:00.000+00:00",
            "configuration": "{\"networkInterfaceId\": \"eni-short\", \"privateIpAddress\": \"10.0.1.9\", \"description\": \"\", \"interfaceType\": \"interface\"}"}]}"#,
    );
    let trail = write(
        d.path(),
        "trail.json",
        r#"{"Records": [{"eventName": "DeleteNetworkInterface", "eventTime": "2026-11-01T00:08:00Z",
            "requestParameters": {"networkInterfaceId": "eni-short"}}]}"#,
    );
    let o = run(&[&"map", &config, &trail]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o).lines().count(), 1, "{}", stdout(&o));
    assert!(
        stderr(&o).contains("1 map row whose window ends before it begins"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_skip_in_many_files_of_a_tree_is_said_once() {
    // Regression: each file of a trail tree said its own warning.
    let d = tempfile::tempdir().unwrap();
    let failed = r#"{"Records": [{"eventName": "CreateNetworkInterface", "eventTime": "2026-11-01T00:00:00Z",
        "errorCode": "Client.DryRunOperation"}, {"eventName": "CreateNetworkInterface",
        "eventTime": "2026-11-01T00:00:00Z", "responseElements": {"networkInterface": {
        "networkInterfaceId": "eni-1", "privateIpAddress": "10.0.1.1"}}}]}"#;
    for i in 0..3 {
        write(d.path(), &format!("tree/f{i}.json"), failed);
    }
    let o = run(&[&"map", &d.path().join("tree")]);
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    assert_eq!(err.matches("failed ENI calls").count(), 1, "{err}");
    assert!(err.contains(": 3 failed ENI calls"), "{err}");
}

#[test]
fn no_task_could_be_audited_always_says_why() {
    // Regression: a task ENI without its task ARN but with a service the policy has no
    // rule for made "no task could be audited: " with nothing after it.
    let d = tempfile::tempdir().unwrap();
    let demo_map = std::fs::read_to_string(root("testdata/demo/eni-map.csv")).unwrap();
    // Every task ENI of the demo without its task ARN, each of a service (the
    // standalone task too): no reason of another kind applies.
    let rows: Vec<String> = demo_map
        .lines()
        .map(|l| {
            let mut f: Vec<&str> = l.split(',').collect();
            if f[1] == "task" {
                f[3] = "";
                if f[5].is_empty() {
                    f[5] = "migrate";
                }
            }
            f.join(",")
        })
        .collect();
    let map = write(d.path(), "map.csv", &(rows.join("\n") + "\n"));
    let policy = write(
        d.path(),
        "policy.toml",
        "[[service]]\nname = \"billing\"\ningress_from_cidrs = [\"vpc\"]\n",
    );
    let logs = root("testdata/demo/logs");
    let o = run(&[&"audit", &logs, &"--map", &map, &"--policy", &policy, &"-q"]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains(
            "no task could be audited: the policy has no rule for the tasks seen (22 tasks of \
             admin-gateway, api, migrate, payments, web, worker) and no [defaults]"
        ),
        "{err}"
    );
}

#[test]
fn a_byte_order_mark_before_json_is_not_content() {
    // Regression: a UTF-8 BOM before JSON made the file read as CSV.
    let d = tempfile::tempdir().unwrap();
    let plain = running_snapshot(d.path());
    let text = std::fs::read_to_string(&plain).unwrap();
    let bom = write(d.path(), "bom.json", &format!("\u{feff}{text}"));
    assert_eq!(map_csv(&[&bom]), map_csv(&[&plain]));
    let csv = write(
        d.path(),
        "bom.csv",
        "\u{feff}eni_id,kind,private_ip,task_arn,cluster,service,task_family,security_groups,subnet_id,vpc_id,valid_from,valid_to\n\
         eni-1,task,10.0.1.5,,,,,,,,,\n",
    );
    assert_eq!(map_csv(&[&csv]).lines().count(), 2);
}

#[test]
fn task_times_out_of_range_are_errors() {
    // Regression: `createdAt: -1e300` made a map CSV that `vpcflow map` then refused.
    let d = tempfile::tempdir().unwrap();
    for (name, created) in [("negative.json", "-1e300"), ("huge.json", "\"1e300\"")] {
        let f = write(
            d.path(),
            name,
            &format!(
                r#"{{"tasks": [{{"taskArn": "arn:aws:ecs:us-east-1:1:task/prod/x", "createdAt": {created},
                "attachments": [{{"type": "ElasticNetworkInterface", "details": [
                  {{"name": "networkInterfaceId", "value": "eni-1"}},
                  {{"name": "privateIPv4Address", "value": "10.0.1.5"}}]}}]}}]}}"#
            ),
        );
        let o = run(&[&"map", &f]);
        fails_with(&o, "is not a time");
        fails_with(&o, "$.tasks[0]");
    }
}

#[test]
fn a_null_list_is_an_empty_one_and_an_object_is_an_error() {
    // Regression: `{"tasks": null}` was an empty map without a word, `{"tasks": {}}` an
    // error: null now says the file names nothing, an object says what it expected.
    let d = tempfile::tempdir().unwrap();
    let null = write(d.path(), "null.json", r#"{"tasks": null}"#);
    let o = run(&[&"map", &null]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("describe-tasks output that names no ENI or task"),
        "{}",
        stderr(&o)
    );
    let object = write(d.path(), "object.json", r#"{"tasks": {}}"#);
    fails_with(&run(&[&"map", &object]), "an array at $.tasks");
}
