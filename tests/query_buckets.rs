//! `query --bucket` / `--per`, and the peer's AWS service (`peer_aws_service`,
//! `--peer-aws-service`): figures computed here from the demo's records as written.

mod common;

use std::collections::BTreeMap;

use common::{json_lines, records, root, stderr, vpcflow};

fn demo() -> String {
    root("testdata/demo/logs").display().to_string()
}

#[test]
fn rejected_traffic_per_port_per_five_minutes() {
    // Expected: the REJECTed records by (5-minute bucket of start, dstport).
    let mut want: BTreeMap<(i64, i64), (u64, u64)> = BTreeMap::new();
    for r in records(&root("testdata/demo/logs")) {
        if r.get("action").map(String::as_str) != Some("REJECT") {
            continue;
        }
        let start: i64 = r["start"].parse().unwrap();
        let port: i64 = r["dstport"].parse().unwrap();
        let e = want.entry((start - start % 300, port)).or_default();
        e.0 += 1;
        e.1 += r["bytes"].parse::<u64>().unwrap();
    }
    assert!(want.len() > 3, "{want:?}");
    let o = vpcflow(&[
        "query",
        &demo(),
        "--action",
        "reject",
        "--bucket",
        "5m",
        "--per",
        "dstport",
        "--format",
        "json",
        "-q",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let mut got: BTreeMap<(i64, i64), (u64, u64)> = BTreeMap::new();
    for row in json_lines(&o) {
        let bucket = chrono::DateTime::parse_from_rfc3339(row["bucket"].as_str().unwrap())
            .unwrap()
            .timestamp();
        let key = (bucket, row["dstport"].as_i64().unwrap());
        got.insert(
            key,
            (
                row["records"].as_u64().unwrap(),
                row["bytes"].as_u64().unwrap(),
            ),
        );
    }
    assert_eq!(got, want);
    // Any whole number of s, m, h or d; anything else is a usage error.
    let o = vpcflow(&["query", &demo(), "--bucket", "1h", "--format", "json", "-q"]);
    let rows = json_lines(&o);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["bucket"], "2026-11-01T00:00:00Z");
    for bad in ["5", "0m", "5w", "m"] {
        let o = vpcflow(&["query", &demo(), "--bucket", bad]);
        assert_eq!(o.status.code(), Some(2), "{bad}");
        assert!(stderr(&o).contains("--bucket"), "{}", stderr(&o));
    }
    let o = vpcflow(&["query", &demo(), "--group-by", "bucket"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--bucket DURATION"), "{}", stderr(&o));
}

#[test]
fn the_peers_aws_service_is_the_peers_side_of_the_record() {
    // Expected: per ENI, the records whose peer's side (the destination of an egress
    // record, the source of an ingress one, by flow-direction) names S3.
    let mut want: BTreeMap<String, u64> = BTreeMap::new();
    for r in records(&root("testdata/demo/logs")) {
        let field = match r.get("flow-direction").map(String::as_str) {
            Some("egress") => "pkt-dst-aws-service",
            Some("ingress") => "pkt-src-aws-service",
            _ => continue,
        };
        if r.get(field).map(String::as_str) == Some("S3") {
            *want.entry(r["interface-id"].clone()).or_default() += 1;
        }
    }
    assert!(!want.is_empty());
    let map = root("testdata/demo/eni-map.csv").display().to_string();
    let o = vpcflow(&[
        "query",
        &demo(),
        "--map",
        &map,
        "--peer-aws-service",
        "s3",
        "--group-by",
        "eni,peer_aws_service",
        "--format",
        "json",
        "-q",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let mut got: BTreeMap<String, u64> = BTreeMap::new();
    for row in json_lines(&o) {
        assert_eq!(row["peer_aws_service"], "S3");
        got.insert(
            row["eni"].as_str().unwrap().to_string(),
            row["records"].as_u64().unwrap(),
        );
    }
    assert_eq!(got, want);
}

#[test]
fn on_v2_logs_the_peers_aws_service_comes_from_aws_ip_ranges() {
    // 52.216.8.117 is in 52.216.0.0/15, listed for S3 (and AMAZON) in the test ranges.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("map.csv"),
        "eni_id,kind,private_ip,task_arn,cluster,service,task_family,security_groups,subnet_id,vpc_id,valid_from,valid_to\n\
         eni-w,task,10.0.1.10,arn:aws:ecs:us-east-1:1:task/prod/w1,prod,worker,worker,sg-w,,,,\n",
    )
    .unwrap();
    let t = 1_793_491_200;
    std::fs::write(
        d.join("f.log"),
        format!(
            "2 1 eni-w 10.0.1.10 52.216.8.117 40000 443 6 5 900 {t} {t} ACCEPT OK\n\
             2 1 eni-w 52.216.8.117 10.0.1.10 443 40000 6 5 700 {t} {t} ACCEPT OK\n\
             2 1 eni-w 10.0.1.10 198.51.100.7 40001 443 6 5 100 {t} {t} ACCEPT OK\n"
        ),
    )
    .unwrap();
    let p = |f: &str| d.join(f).display().to_string();
    let ranges = root("testdata/aws-ip-ranges.json").display().to_string();
    let run = |extra: &[&str]| {
        let mut a = vec![
            "query".to_string(),
            p("f.log"),
            "--map".into(),
            p("map.csv"),
            "--vpc-cidr".into(),
            "10.0.0.0/16".into(),
            "--format".into(),
            "json".into(),
            "-q".into(),
        ];
        a.extend(extra.iter().map(|x| x.to_string()));
        vpcflow(&a)
    };
    let o = run(&[
        "--aws-ip-ranges",
        &ranges,
        "--peer-aws-service",
        "S3",
        "--group-by",
        "service,peer",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let rows = json_lines(&o);
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["service"], "worker");
    assert_eq!(rows[0]["peer"], "52.216.8.117");
    assert_eq!(rows[0]["records"], 2);
    assert_eq!(rows[0]["bytes"], 1600);
    // Without the ranges a v2 log names no AWS service: nothing matches.
    let o = run(&["--peer-aws-service", "S3"]);
    assert_eq!(json_lines(&o)[0]["records"], 0);
}
