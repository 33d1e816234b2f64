//! The generated demo scenario (tasks replaced by deploys, one address reused by a task
//! of another service): every record is attributed to the right task on both sides,
//! from either map kind. The expectation is computed here by a plain linear scan over
//! the map rows, and the per-service and per-ENI totals come from the generator's own
//! ground truth (`truth.json`).

mod common;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::PathBuf;

use common::{json_lines, map_rows, records, root, stderr, vpcflow, Row};
use serde_json::Value;

/// (task_arn, service, eni_kind, peer_addr, peer_eni_id, peer_kind, peer_service) by a
/// linear scan of the map rows.
fn expected(rows: &[Row], r: &BTreeMap<String, String>) -> [Option<String>; 7] {
    let v = |k: &str| r.get(k).filter(|s| *s != "-").cloned();
    let eni = v("interface-id").unwrap();
    let own: Vec<&Row> = rows.iter().filter(|x| x.eni == eni).collect();
    let own_ips: Vec<&str> = own.iter().map(|x| x.ip.as_str()).collect();
    let first = own.first();
    let (src, dst) = (v("srcaddr"), v("dstaddr"));
    let peer = match (&src, &dst) {
        (Some(s), _) if own_ips.contains(&s.as_str()) => v("pkt-dstaddr").or(dst.clone()),
        (_, Some(d)) if own_ips.contains(&d.as_str()) => v("pkt-srcaddr").or(src.clone()),
        (None, None) => None,
        _ => panic!("every ENI of the demo is in the map: {r:?}"),
    };
    let start: i64 = v("start").unwrap().parse().unwrap();
    let holder = peer.as_ref().and_then(|p| {
        rows.iter()
            .find(|x| &x.ip == p && x.from <= start && start < x.to)
    });
    let peer_kind = peer.as_ref().map(|p| match holder {
        Some(h) => h.kind.clone(),
        None if p.starts_with("10.") => "vpc".into(),
        None => "internet".into(),
    });
    [
        first.and_then(|x| x.task.clone()),
        first.and_then(|x| x.service.clone()),
        first.map(|x| x.kind.clone()),
        peer,
        holder.map(|h| h.eni.clone()),
        peer_kind,
        holder.and_then(|h| h.service.clone()),
    ]
}

fn check(demo: &str, map_args: &[PathBuf]) {
    let demo = root(demo);
    let csv = demo.join("eni-map.csv");
    let rows = map_rows(&csv);
    let recs = records(&demo.join("logs"));
    let mut args: Vec<OsString> = ["cat", "-q", "--vpc-cidr", "10.0.0.0/16"]
        .map(OsString::from)
        .into();
    args.push(demo.join("logs").into());
    for m in map_args {
        args.extend(["--map".into(), m.into()]);
    }
    let o = vpcflow(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    let got: Vec<Value> = json_lines(&o);
    assert_eq!(got.len(), recs.len());
    let keys = [
        "task_arn",
        "service",
        "eni_kind",
        "peer_addr",
        "peer_eni_id",
        "peer_kind",
        "peer_service",
    ];
    let mut moved_seen = [0, 0];
    for (i, (g, r)) in got.iter().zip(&recs).enumerate() {
        let want = expected(&rows, r);
        for (k, w) in keys.iter().zip(&want) {
            assert_eq!(
                g[*k].as_str().map(String::from),
                *w,
                "record {i}, {k}: {r:?}"
            );
        }
        if want[3].as_deref() == Some("10.0.23.217") {
            match want[6].as_deref() {
                Some("admin-gateway") => moved_seen[0] += 1,
                Some("worker") => moved_seen[1] += 1,
                _ => {}
            }
        }
    }
    assert!(
        moved_seen[0] > 0 && moved_seen[1] > 0,
        "the reused address is seen as both holders: {moved_seen:?}"
    );

    // The generator's own totals.
    let truth: Value =
        serde_json::from_str(&std::fs::read_to_string(demo.join("truth.json")).unwrap()).unwrap();
    let mut per_service: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    let mut per_eni: BTreeMap<String, u64> = BTreeMap::new();
    for g in &got {
        if let Some(s) = g["service"].as_str() {
            let e = per_service.entry(s.into()).or_default();
            e.0 += 1;
            e.1 += g["bytes"].as_u64().unwrap_or(0);
        }
        *per_eni
            .entry(g["interface_id"].as_str().unwrap().into())
            .or_default() += 1;
    }
    for (service, t) in truth["per_service"].as_object().unwrap() {
        assert_eq!(
            per_service.get(service).copied(),
            Some((t["records"].as_u64().unwrap(), t["bytes"].as_u64().unwrap())),
            "{service}"
        );
    }
    for (eni, t) in truth["per_eni"].as_object().unwrap() {
        assert_eq!(per_eni.get(eni).copied(), t["records"].as_u64(), "{eni}");
    }
}

#[test]
fn demo_attribution_from_the_csv_map() {
    check("testdata/demo", &[root("testdata/demo/eni-map.csv")]);
}

#[test]
fn clean_demo_attribution_from_the_csv_map() {
    check(
        "testdata/demo-clean",
        &[root("testdata/demo-clean/eni-map.csv")],
    );
}

#[test]
fn demo_attribution_from_the_aws_json_pair() {
    check(
        "testdata/demo",
        &[
            root("testdata/demo/aws/describe-tasks.json"),
            root("testdata/demo/aws/describe-network-interfaces.json"),
        ],
    );
}

#[test]
fn clean_demo_attribution_from_the_aws_json_pair() {
    check(
        "testdata/demo-clean",
        &[
            root("testdata/demo-clean/aws/describe-tasks.json"),
            root("testdata/demo-clean/aws/describe-network-interfaces.json"),
        ],
    );
}
