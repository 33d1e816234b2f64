//! Attribution of records to ECS tasks on both sides, as of each record's time, from
//! the canonical CSV map or the AWS CLI JSON pair.

mod common;

use std::path::Path;
use std::process::Output;

use common::{json_lines, stderr, vpcflow};
use serde_json::{json, Value};

fn rows(o: &Output) -> Vec<Value> {
    assert!(o.status.success(), "{}", stderr(o));
    json_lines(o)
}

/// The enrichment columns of a row.
fn attribution(r: &Value) -> Value {
    let keys = [
        "task_arn",
        "service",
        "cluster",
        "eni_kind",
        "peer_addr",
        "peer_eni_id",
        "peer_kind",
        "peer_task_arn",
        "peer_service",
    ];
    Value::Object(
        keys.iter()
            .map(|k| (k.to_string(), r[*k].clone()))
            .collect(),
    )
}

const T: &str = "arn:aws:ecs:us-east-1:123456789012:task/prod/";
// 2026-11-01T00:00:00Z
const T0: i64 = 1_793_491_200;

const CSV: &str = "\
eni_id,kind,private_ip,task_arn,cluster,service,task_family,security_groups,subnet_id,vpc_id,valid_from,valid_to
eni-a,task,10.0.1.10,arn:aws:ecs:us-east-1:123456789012:task/prod/aaa,prod,admin-gateway,admin-gateway,,subnet-1,vpc-1,2026-11-01T00:00:00Z,2026-11-01T00:10:00Z
eni-b,task,10.0.1.10,arn:aws:ecs:us-east-1:123456789012:task/prod/bbb,prod,worker,worker,sg-worker,subnet-1,vpc-1,2026-11-01T00:12:00Z,
eni-api,task,10.0.2.20,arn:aws:ecs:us-east-1:123456789012:task/prod/ccc,prod,api,api,sg-api;sg-common,subnet-2,vpc-1,2026-10-31T00:00:00Z,
eni-api,task,10.0.2.21,arn:aws:ecs:us-east-1:123456789012:task/prod/ccc,prod,api,api,sg-api;sg-common,subnet-2,vpc-1,2026-10-31T00:00:00Z,
eni-nat,natgw,10.0.0.220,,,,,,subnet-0,vpc-1,,
";

const TASKS: &str = r#"{"tasks": [
 {"taskArn": "arn:aws:ecs:us-east-1:123456789012:task/prod/aaa", "clusterArn": "arn:aws:ecs:us-east-1:123456789012:cluster/prod",
  "taskDefinitionArn": "arn:aws:ecs:us-east-1:123456789012:task-definition/admin-gateway:3", "group": "service:admin-gateway",
  "lastStatus": "STOPPED", "createdAt": "2026-11-01T00:00:00.250000+00:00", "startedAt": "2026-11-01T00:00:09.100000+00:00",
  "stoppedAt": "2026-11-01T00:10:00.900000+00:00",
  "attachments": [{"id": "1", "type": "ElasticNetworkInterface", "status": "DELETED", "details": [
     {"name": "subnetId", "value": "subnet-1"}, {"name": "networkInterfaceId", "value": "eni-a"},
     {"name": "macAddress", "value": "0a:00:00:00:00:01"}, {"name": "privateIPv4Address", "value": "10.0.1.10"}]}]},
 {"taskArn": "arn:aws:ecs:us-east-1:123456789012:task/prod/bbb", "clusterArn": "arn:aws:ecs:us-east-1:123456789012:cluster/prod",
  "taskDefinitionArn": "arn:aws:ecs:us-east-1:123456789012:task-definition/worker:7", "group": "service:worker",
  "lastStatus": "RUNNING", "createdAt": 1793491920.5,
  "attachments": [{"id": "2", "type": "ElasticNetworkInterface", "status": "ATTACHED", "details": [
     {"name": "subnetId", "value": "subnet-1"}, {"name": "networkInterfaceId", "value": "eni-b"},
     {"name": "privateIPv4Address", "value": "10.0.1.10"}]}]},
 {"taskArn": "arn:aws:ecs:us-east-1:123456789012:task/prod/ccc", "clusterArn": "arn:aws:ecs:us-east-1:123456789012:cluster/prod",
  "taskDefinitionArn": "arn:aws:ecs:us-east-1:123456789012:task-definition/api:1", "group": "service:api",
  "lastStatus": "RUNNING", "createdAt": "2026-10-31T00:00:00+00:00",
  "attachments": [{"id": "3", "type": "ElasticNetworkInterface", "status": "ATTACHED", "details": [
     {"name": "subnetId", "value": "subnet-2"}, {"name": "networkInterfaceId", "value": "eni-api"},
     {"name": "privateIPv4Address", "value": "10.0.2.20"}]}]}
], "failures": []}"#;

const ENIS: &str = r#"{"NetworkInterfaces": [
 {"NetworkInterfaceId": "eni-b", "InterfaceType": "interface", "Description": "arn:aws:ecs:us-east-1:123456789012:attachment/2",
  "Groups": [{"GroupName": "worker", "GroupId": "sg-worker"}], "PrivateIpAddress": "10.0.1.10",
  "PrivateIpAddresses": [{"Primary": true, "PrivateIpAddress": "10.0.1.10"}], "Ipv6Addresses": [], "SubnetId": "subnet-1", "VpcId": "vpc-1"},
 {"NetworkInterfaceId": "eni-api", "InterfaceType": "interface", "Description": "arn:aws:ecs:us-east-1:123456789012:attachment/3",
  "Groups": [{"GroupName": "api", "GroupId": "sg-api"}, {"GroupName": "common", "GroupId": "sg-common"}], "PrivateIpAddress": "10.0.2.20",
  "PrivateIpAddresses": [{"Primary": true, "PrivateIpAddress": "10.0.2.20"}, {"Primary": false, "PrivateIpAddress": "10.0.2.21"}],
  "Ipv6Addresses": [], "SubnetId": "subnet-2", "VpcId": "vpc-1"},
 {"NetworkInterfaceId": "eni-nat", "InterfaceType": "nat_gateway", "Description": "Interface for NAT Gateway nat-0123",
  "Groups": [], "PrivateIpAddress": "10.0.0.220", "PrivateIpAddresses": [{"Primary": true, "PrivateIpAddress": "10.0.0.220"}],
  "SubnetId": "subnet-0", "VpcId": "vpc-1"}
]}"#;

const HEADER: &str = "version interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status pkt-srcaddr pkt-dstaddr";

/// One record; `at` is seconds after T0.
fn rec(eni: &str, src: &str, dst: &str, sport: u16, dport: u16, at: i64) -> String {
    format!(
        "5 {eni} {src} {dst} {sport} {dport} 6 3 300 {} {} ACCEPT OK - -",
        T0 + at,
        T0 + at + 30
    )
}

fn setup(dir: &Path, lines: &[String]) -> (String, String, String, String) {
    let logs = dir.join("flows.log");
    std::fs::write(&logs, format!("{HEADER}\n{}\n", lines.join("\n"))).unwrap();
    let csv = dir.join("map.csv");
    std::fs::write(&csv, CSV).unwrap();
    let tasks = dir.join("tasks.json");
    std::fs::write(&tasks, TASKS).unwrap();
    let enis = dir.join("enis.json");
    std::fs::write(&enis, ENIS).unwrap();
    let s = |p: &Path| p.to_str().unwrap().to_string();
    (s(&logs), s(&csv), s(&tasks), s(&enis))
}

#[test]
fn moved_address_boundaries_nat_and_several_addresses() {
    let dir = tempfile::tempdir().unwrap();
    let lines = vec![
        // 0: on the api task, 10.0.1.10 connects in at 00:05: the admin-gateway task.
        rec("eni-api", "10.0.1.10", "10.0.2.20", 40000, 9090, 300),
        // 1: the api task's answer, same conversation.
        rec("eni-api", "10.0.2.20", "10.0.1.10", 9090, 40000, 300),
        // 2: the same address at 00:15 is the worker task.
        rec("eni-api", "10.0.1.10", "10.0.2.20", 40001, 9090, 900),
        // 3: exactly at 00:10:00 the admin-gateway window has ended, the worker's
        //    has not begun: an unknown VPC address.
        rec("eni-api", "10.0.1.10", "10.0.2.20", 40002, 9090, 600),
        // 4: exactly at 00:12:00 the worker's window begins (half-open windows).
        rec("eni-api", "10.0.1.10", "10.0.2.20", 40003, 9090, 720),
        // 5: one second before 00:10:00: still the admin-gateway task.
        rec("eni-api", "10.0.1.10", "10.0.2.20", 40004, 9090, 599),
        // 6, 7: the other side's own records, before and after the move.
        rec("eni-a", "10.0.1.10", "10.0.2.20", 40000, 9090, 300),
        rec("eni-b", "10.0.1.10", "10.0.2.20", 40001, 9090, 900),
        // 8: the api ENI's secondary address is its own too: the peer is the destination.
        rec("eni-api", "10.0.2.21", "10.0.1.10", 9090, 40005, 900),
        // 9, 10: NAT gateway: the real hosts behind it, from pkt-srcaddr/pkt-dstaddr.
        format!("5 eni-nat 10.0.1.10 10.0.0.220 40010 443 6 3 300 {} {} ACCEPT OK 10.0.1.10 203.0.113.5", T0 + 900, T0 + 930),
        format!("5 eni-nat 10.0.0.220 203.0.113.5 40010 443 6 3 300 {} {} ACCEPT OK 10.0.1.10 203.0.113.5", T0 + 900, T0 + 930),
        // 11: an ENI the map does not know, talking to the internet.
        rec("eni-zzz", "10.0.9.9", "198.51.100.7", 40020, 443, 900),
    ];
    let (logs, csv, tasks, enis) = setup(dir.path(), &lines);
    let by_csv = rows(&vpcflow(&[
        "cat",
        &logs,
        "--map",
        &csv,
        "--vpc-cidr",
        "10.0.0.0/16",
    ]));
    let by_json = rows(&vpcflow(&[
        "cat",
        &logs,
        "--map",
        &tasks,
        "--map",
        &enis,
        "--vpc-cidr",
        "10.0.0.0/16",
    ]));
    let admin = json!({"peer_eni_id": "eni-a", "peer_kind": "task", "peer_task_arn": format!("{T}aaa"), "peer_service": "admin-gateway"});
    let worker = json!({"peer_eni_id": "eni-b", "peer_kind": "task", "peer_task_arn": format!("{T}bbb"), "peer_service": "worker"});
    let api_own = json!({"task_arn": format!("{T}ccc"), "service": "api", "cluster": "prod", "eni_kind": "task"});
    let merge = |a: &Value, b: &Value, peer: &str| {
        let mut m = serde_json::Map::new();
        for k in [
            "task_arn",
            "service",
            "cluster",
            "eni_kind",
            "peer_eni_id",
            "peer_kind",
            "peer_task_arn",
            "peer_service",
        ] {
            m.insert(k.into(), Value::Null);
        }
        for v in [a, b] {
            for (k, x) in v.as_object().unwrap() {
                m.insert(k.clone(), x.clone());
            }
        }
        m.insert("peer_addr".into(), json!(peer));
        Value::Object(m)
    };
    let vpc = json!({"peer_kind": "vpc"});
    let expected = vec![
        merge(&api_own, &admin, "10.0.1.10"),
        merge(&api_own, &admin, "10.0.1.10"),
        merge(&api_own, &worker, "10.0.1.10"),
        merge(&api_own, &vpc, "10.0.1.10"),
        merge(&api_own, &worker, "10.0.1.10"),
        merge(&api_own, &admin, "10.0.1.10"),
        merge(
            &json!({"task_arn": format!("{T}aaa"), "service": "admin-gateway", "cluster": "prod", "eni_kind": "task"}),
            &json!({"peer_eni_id": "eni-api", "peer_kind": "task", "peer_task_arn": format!("{T}ccc"), "peer_service": "api"}),
            "10.0.2.20",
        ),
        merge(
            &json!({"task_arn": format!("{T}bbb"), "service": "worker", "cluster": "prod", "eni_kind": "task"}),
            &json!({"peer_eni_id": "eni-api", "peer_kind": "task", "peer_task_arn": format!("{T}ccc"), "peer_service": "api"}),
            "10.0.2.20",
        ),
        merge(&api_own, &worker, "10.0.1.10"),
        merge(&json!({"eni_kind": "natgw"}), &worker, "10.0.1.10"),
        merge(
            &json!({"eni_kind": "natgw"}),
            &json!({"peer_kind": "internet"}),
            "203.0.113.5",
        ),
        merge(
            &json!({}),
            &json!({"peer_kind": "internet"}),
            "198.51.100.7",
        ),
    ];
    let got_csv: Vec<Value> = by_csv.iter().map(attribution).collect();
    let got_json: Vec<Value> = by_json.iter().map(attribution).collect();
    assert_eq!(got_csv.len(), expected.len());
    for (i, (g, e)) in got_csv.iter().zip(&expected).enumerate() {
        assert_eq!(g, e, "record {i} with the CSV map");
    }
    assert_eq!(
        got_json, got_csv,
        "the AWS JSON pair attributes like the CSV"
    );
}

#[test]
fn json_pair_merges_into_the_equivalent_csv() {
    let dir = tempfile::tempdir().unwrap();
    let (_, csv, tasks, enis) = setup(dir.path(), &[]);
    let from_json = vpcflow(&["map", &tasks, &enis]);
    let from_csv = vpcflow(&["map", &csv]);
    assert!(
        from_json.status.success(),
        "{}",
        String::from_utf8_lossy(&from_json.stderr)
    );
    let a = String::from_utf8(from_json.stdout).unwrap();
    let b = String::from_utf8(from_csv.stdout).unwrap();
    assert_eq!(without_source(&a), without_source(&b));
    // The stopped task is known from describe-tasks alone, with its window (and its
    // subnet's VPC); the running ones take their security groups from
    // describe-network-interfaces.
    assert!(a.contains("eni-a,task,10.0.1.10,arn:aws:ecs:us-east-1:123456789012:task/prod/aaa,prod,admin-gateway,admin-gateway,,subnet-1,vpc-1,2026-11-01T00:00:00Z,2026-11-01T00:10:00Z,,describe-tasks\n"), "{a}");
    assert!(a.contains("eni-api,task,10.0.2.21,arn:aws:ecs:us-east-1:123456789012:task/prod/ccc,prod,api,api,sg-api;sg-common,subnet-2,vpc-1,2026-10-31T00:00:00Z,,,describe-network-interfaces;describe-tasks\n"), "{a}");
    // Round trip: the printed CSV reads back to itself.
    let again = dir.path().join("again.csv");
    std::fs::write(&again, &a).unwrap();
    let c = String::from_utf8(vpcflow(&["map", again.to_str().unwrap()]).stdout).unwrap();
    assert_eq!(c, a);
    // Who held what at 00:11 (between the two holders of 10.0.1.10) and at 00:12.
    let at = |t: &str| {
        let o = vpcflow(&["map", &csv, "--at", t]);
        String::from_utf8(o.stdout)
            .unwrap()
            .lines()
            .skip(1)
            .map(|l| l.split(',').take(3).collect::<Vec<_>>().join(" "))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        at("2026-11-01T00:11:00Z"),
        [
            "eni-api task 10.0.2.20",
            "eni-api task 10.0.2.21",
            "eni-nat natgw 10.0.0.220"
        ]
    );
    assert_eq!(
        at("2026-11-01T00:12:00Z"),
        [
            "eni-api task 10.0.2.20",
            "eni-api task 10.0.2.21",
            "eni-b task 10.0.1.10",
            "eni-nat natgw 10.0.0.220"
        ]
    );
}

#[test]
fn ecs_fields_attribute_without_a_map_and_the_map_wins_disagreements() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("v7.log");
    std::fs::write(
        &logs,
        format!(
            "version interface-id srcaddr dstaddr start end action log-status ecs-cluster-name ecs-service-name ecs-task-arn\n\
             7 eni-api 10.0.2.20 10.0.1.10 {a} {a} ACCEPT OK prod api {T}ccc\n\
             7 eni-api 10.0.2.20 10.0.1.10 {a} {a} ACCEPT OK prod api {T}other\n\
             7 eni-new 10.0.3.3 10.0.2.20 {a} {a} ACCEPT OK prod web {T}web1\n",
            a = T0 + 900
        ),
    )
    .unwrap();
    let csv = dir.path().join("map.csv");
    std::fs::write(&csv, CSV).unwrap();
    let o = vpcflow(&[
        "cat",
        logs.to_str().unwrap(),
        "--map",
        csv.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    let r = rows(&o);
    assert_eq!(r[0]["task_arn"], format!("{T}ccc"));
    assert_eq!(r[1]["task_arn"], format!("{T}ccc"), "the map wins");
    assert_eq!(r[2]["task_arn"], format!("{T}web1"));
    assert_eq!(r[2]["service"], "web");
    assert_eq!(r[2]["cluster"], "prod");
    assert_eq!(r[2]["eni_kind"], "task");
    assert_eq!(r[2]["peer_service"], "api");
    assert!(
        err.contains("own ENI from the map 2, from ECS fields 1; peer from the map 3; 1 records whose ECS fields name another task than the map (the map wins)"),
        "{err}"
    );
}

fn map_error(name: &str, content: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join(name);
    std::fs::write(&p, content).unwrap();
    let o = vpcflow(&["map", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8(o.stderr).unwrap();
    err.trim_end().replace(&format!("{}", p.display()), name)
}

#[test]
fn malformed_map_files_are_errors_with_position() {
    let head = "eni_id,kind,private_ip,task_arn,cluster,service,task_family,security_groups,subnet_id,vpc_id,valid_from,valid_to\n";
    let cases = [
        (
            "m.csv",
            format!("{head}eni-1,task,10.0.0.1,,,,,,,,,\neni-2,lb,10.0.0.2,,,,,,,,,\n"),
            "vpcflow: error: --map: m.csv:3: kind: \"lb\" is not one of task, alb, nlb, gwlb, elb, natgw, vpce, gwlbe, rds, lambda, efs, tgw, instance, other",
        ),
        (
            "m.csv",
            format!("{head}eni-1,task,10.0.0.256,,,,,,,,,\n"),
            "vpcflow: error: --map: m.csv:2: private_ip: \"10.0.0.256\" is not an IP address",
        ),
        (
            "m.csv",
            format!("{head}eni-1,task,10.0.0.1,,,,,,,,yesterday,\n"),
            "vpcflow: error: --map: m.csv:2: valid_from: \"yesterday\" is not a time (RFC 3339 or unix seconds)",
        ),
        (
            "m.csv",
            format!("{head}eni-1,task,10.0.0.1,,,,,,,,2026-11-01T01:00:00Z,2026-11-01T00:00:00Z\n"),
            "vpcflow: error: --map: m.csv:2: valid_to: \"2026-11-01T00:00:00Z\" is not after valid_from \"2026-11-01T01:00:00Z\"",
        ),
        (
            "m.csv",
            format!("{head}eni-1,task,10.0.0.1\n"),
            "vpcflow: error: --map: m.csv:2: expected 12 columns, found 3",
        ),
        (
            "m.csv",
            "eni_id,kind,private_ip\neni-1,task,10.0.0.1\n".to_string(),
            "vpcflow: error: --map: m.csv:1: missing column task_arn; the header is eni_id,kind,private_ip,task_arn,cluster,service,task_family,security_groups,subnet_id,vpc_id,valid_from,valid_to,load_balancer,source",
        ),
        (
            "t.json",
            r#"{"tasks": [{"taskArn": "arn:x", "createdAt": "noon"}]}"#.to_string(),
            "vpcflow: error: --map: t.json:1: $.tasks[0]: \"noon\" is not a time",
        ),
        (
            "t.json",
            r#"{"tasks": [{"clusterArn": "arn:x"}]}"#.to_string(),
            "vpcflow: error: --map: t.json:1: $.tasks[0]: no taskArn",
        ),
        (
            "e.json",
            r#"{"NetworkInterfaces": [{"NetworkInterfaceId": "eni-1", "PrivateIpAddresses": [{"PrivateIpAddress": "10.0.0.x"}]}]}"#.to_string(),
            "vpcflow: error: --map: e.json:1: $.NetworkInterfaces[0]: address \"10.0.0.x\" is not an IP address",
        ),
        (
            "x.json",
            r#"{"Reservations": []}"#.to_string(),
            "vpcflow: error: --map: x.json:1: JSON that is no map source this tool reads (describe-tasks, describe-network-interfaces, ECS task state change events, CloudTrail records or lookup-events, Config configuration items, filter-log-events output): its keys are Reservations",
        ),
        (
            "x.json",
            "{\"tasks\": [\n  {\"taskArn\": }\n]}".to_string(),
            "vpcflow: error: --map: x.json: invalid JSON at line 2 column 15: expected value",
        ),
    ];
    for (name, content, want) in cases {
        assert_eq!(map_error(name, &content), want);
    }
}

#[test]
fn overlapping_windows_of_different_enis_are_a_warning_naming_both_rows() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("m.csv");
    std::fs::write(
        &p,
        "eni_id,kind,private_ip,task_arn,cluster,service,task_family,security_groups,subnet_id,vpc_id,valid_from,valid_to\n\
         eni-a,task,10.0.1.10,arn:a,prod,web,web,,,,2026-11-01T00:00:00Z,2026-11-01T00:10:00Z\n\
         eni-b,task,10.0.1.10,arn:b,prod,api,api,,,,2026-11-01T00:08:00Z,\n",
    )
    .unwrap();
    let path = p.to_str().unwrap();
    let o = vpcflow(&["map", path, "--at", "2026-11-01T00:09:00Z"]);
    assert!(o.status.success());
    let err = String::from_utf8(o.stderr).unwrap();
    assert_eq!(
        err,
        format!("vpcflow: warning: 10.0.1.10 is held by eni-a ({path}:2) and eni-b ({path}:3) at the same time from 2026-11-01T00:08:00Z; the later-starting holder wins\n")
    );
}

#[test]
fn bundled_aws_json_pair_equals_its_csv() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/aws-json");
    let p = |f: &str| dir.join(f).to_str().unwrap().to_string();
    let json = vpcflow(&[
        "map",
        &p("describe-tasks.json"),
        &p("describe-network-interfaces.json"),
    ]);
    let csv = vpcflow(&["map", &p("equivalent.csv")]);
    assert!(
        json.status.success(),
        "{}",
        String::from_utf8_lossy(&json.stderr)
    );
    assert!(
        json.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&json.stderr)
    );
    let (a, b) = (
        String::from_utf8(json.stdout).unwrap(),
        String::from_utf8(csv.stdout).unwrap(),
    );
    assert_eq!(without_source(&a), without_source(&b));
    assert!(a.lines().count() > 3);
    // describe-tasks alone knows a task's IPv6 address from its containers' interfaces.
    let tasks = String::from_utf8(vpcflow(&["map", &p("describe-tasks.json")]).stdout).unwrap();
    let v6: Vec<&str> = tasks
        .lines()
        .filter(|l| l.split(',').nth(2).is_some_and(|a| a.contains(':')))
        .collect();
    assert_eq!(v6.len(), 1, "{tasks}");
    let first4 = |l: &str| l.split(',').take(4).collect::<Vec<_>>().join(",");
    assert!(
        b.lines().any(|l| first4(l) == first4(v6[0])),
        "the CSV has the same ENI, address and task: {}",
        v6[0]
    );
}

#[test]
fn conflicting_map_rows_for_one_eni_are_attributed_as_written() {
    // Two rows name different tasks for one ENI id (a map assembled from two
    // sources): each row is used for its own window, and the conflict is one warning.
    let dir = tempfile::tempdir().unwrap();
    let map = dir.path().join("m.csv");
    std::fs::write(
        &map,
        "eni_id,kind,private_ip,task_arn,cluster,service,task_family,security_groups,subnet_id,vpc_id,valid_from,valid_to\n\
         eni-x,task,10.0.1.10,arn:a,prod,web,web,sg-web,,,2026-11-01T00:00:00Z,2026-11-01T00:10:00Z\n\
         eni-x,task,10.0.1.10,arn:b,prod,api,api,sg-api,,,2026-11-01T00:10:00Z,\n\
         eni-x,task,10.0.1.11,arn:b,prod,api,api,sg-api,,,2026-11-01T00:10:00Z,\n",
    )
    .unwrap();
    let logs = dir.path().join("f.log");
    std::fs::write(
        &logs,
        format!(
            "{HEADER}\n{}\n{}\n{}\n",
            rec("eni-x", "10.0.1.10", "10.0.9.9", 40000, 443, 300),
            rec("eni-x", "10.0.1.10", "10.0.9.9", 40001, 443, 900),
            rec("eni-y", "10.0.9.9", "10.0.1.10", 40002, 8080, 905),
        ),
    )
    .unwrap();
    let o = vpcflow(&[
        "cat",
        logs.to_str().unwrap(),
        "--map",
        map.to_str().unwrap(),
    ]);
    let r = rows(&o);
    assert_eq!(r[0]["task_arn"], "arn:a");
    assert_eq!(r[0]["service"], "web");
    assert_eq!(r[1]["task_arn"], "arn:b");
    assert_eq!(r[1]["service"], "api");
    assert_eq!(r[2]["peer_task_arn"], "arn:b");
    assert_eq!(r[2]["peer_service"], "api");
    let err = String::from_utf8_lossy(&o.stderr);
    let warnings: Vec<&str> = err.lines().filter(|l| l.contains("warning")).collect();
    assert_eq!(
        warnings,
        [format!(
            "vpcflow: warning: eni-x: the map's rows name different owners (task arn:a of web at {m}:2; task arn:b of api at {m}:3); each row is used for its own window",
            m = map.display()
        )]
    );
}

#[test]
fn describe_tasks_attachment_without_eni_is_skipped_with_a_warning() {
    // A task still provisioning has an ENI attachment without networkInterfaceId (and
    // without an address): it is skipped, counted, and the other tasks still load.
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("tasks.json");
    std::fs::write(
        &p,
        r#"{"tasks": [
 {"taskArn": "arn:aws:ecs:us-east-1:1:task/prod/new", "group": "service:web", "lastStatus": "PROVISIONING",
  "createdAt": "2026-11-01T00:00:00+00:00",
  "attachments": [{"id": "1", "type": "ElasticNetworkInterface", "status": "PRECREATED", "details": [
     {"name": "subnetId", "value": "subnet-1"}]}]},
 {"taskArn": "arn:aws:ecs:us-east-1:1:task/prod/old", "group": "service:web", "lastStatus": "RUNNING",
  "createdAt": "2026-11-01T00:00:00+00:00",
  "attachments": [{"id": "2", "type": "ElasticNetworkInterface", "status": "ATTACHED", "details": [
     {"name": "networkInterfaceId", "value": "eni-old"}, {"name": "privateIPv4Address", "value": "10.0.1.5"}]}]}
], "failures": []}"#,
    )
    .unwrap();
    let o = vpcflow(&["map", p.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8(o.stdout).unwrap();
    assert_eq!(out.lines().count(), 2, "{out}");
    assert!(out.contains("eni-old,task,10.0.1.5,arn:aws:ecs:us-east-1:1:task/prod/old"));
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        format!(
            "vpcflow: warning: 1 task never had an ENI id in any source (still provisioning, \
             or stopped before its ENI was attached): not in the map\n"
        )
    );
}

/// A map CSV without its last column (`source`: which source said each row).
fn without_source(csv: &str) -> String {
    csv.lines()
        .map(|l| l.rsplit_once(',').map_or(l, |(rest, _)| rest))
        .collect::<Vec<_>>()
        .join("\n")
}
