//! `vpcflow query` against sums computed here from the raw demo text and a plain scan of
//! the map: every filter, group totals, time buckets, percentiles, thread invariance,
//! and conversations.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{map_rows, records, Row};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_vpcflow");

fn root(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(p)
}

fn query(args: &[&str]) -> Vec<Value> {
    let demo = root("testdata/demo");
    let o = Command::new(BIN)
        .arg("query")
        .arg(demo.join("logs"))
        .args([
            "--map",
            demo.join("eni-map.csv").to_str().unwrap(),
            "--vpc-cidr",
            "10.0.0.0/16",
        ])
        .args(["--format", "json", "-q"])
        .args(args)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

type Rec = BTreeMap<String, String>;
type Pred<'a> = Box<dyn Fn(&Rec) -> bool + 'a>;

struct Demo {
    recs: Vec<Rec>,
    map: Vec<Row>,
}

impl Demo {
    /// The demo, read once per test binary.
    fn load() -> &'static Demo {
        static DEMO: std::sync::OnceLock<Demo> = std::sync::OnceLock::new();
        DEMO.get_or_init(|| Demo {
            recs: records(&root("testdata/demo/logs")),
            map: map_rows(&root("testdata/demo/eni-map.csv")),
        })
    }

    fn own(&self, r: &Rec) -> Option<&Row> {
        self.map
            .iter()
            .find(|m| &m.eni == r.get("interface-id").unwrap())
    }

    /// The peer address as vpcflow defines it: the side that is not the ENI's own.
    fn peer(&self, r: &Rec) -> Option<String> {
        let v = |k: &str| r.get(k).filter(|s| *s != "-").cloned();
        let eni = v("interface-id")?;
        let own: Vec<&str> = self
            .map
            .iter()
            .filter(|m| m.eni == eni)
            .map(|m| m.ip.as_str())
            .collect();
        match (v("srcaddr"), v("dstaddr")) {
            (Some(s), _) if own.contains(&s.as_str()) => v("pkt-dstaddr").or(v("dstaddr")),
            (_, Some(d)) if own.contains(&d.as_str()) => v("pkt-srcaddr").or(v("srcaddr")),
            _ => None,
        }
    }

    /// (records, packets, bytes) of the records matching `pred`.
    fn sums(&self, pred: impl Fn(&Rec) -> bool) -> (u64, u64, u64) {
        let n = |r: &Rec, k: &str| r.get(k).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        self.recs
            .iter()
            .filter(|r| pred(r))
            .fold((0, 0, 0), |a, r| {
                (a.0 + 1, a.1 + n(r, "packets"), a.2 + n(r, "bytes"))
            })
    }
}

fn totals(rows: &[Value]) -> (u64, u64, u64) {
    rows.iter().fold((0, 0, 0), |a, r| {
        (
            a.0 + r["records"].as_u64().unwrap(),
            a.1 + r["packets"].as_u64().unwrap(),
            a.2 + r["bytes"].as_u64().unwrap(),
        )
    })
}

fn is(r: &Rec, k: &str, v: &str) -> bool {
    r.get(k).map(String::as_str) == Some(v)
}

#[test]
fn every_filter_selects_exactly_the_matching_records() {
    let d = Demo::load();
    let task = d
        .map
        .iter()
        .find(|m| m.service.as_deref() == Some("api"))
        .unwrap();
    let task_id = task
        .task
        .as_ref()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    let eni = task.eni.clone();
    let t0 = 1_793_491_200u64;
    let cases: Vec<(Vec<String>, Pred<'_>)> = vec![
        (
            vec!["--eni".into(), eni.clone()],
            Box::new(move |r: &Rec| is(r, "interface-id", &eni)),
        ),
        (
            vec!["--task".into(), task_id.clone()],
            Box::new(|r: &Rec| {
                let d = Demo::load();
                d.own(r)
                    .and_then(|m| m.task.clone())
                    .is_some_and(|t| t.ends_with(&task_id))
            }),
        ),
        (
            vec![
                "--service".into(),
                "api".into(),
                "--service".into(),
                "worker".into(),
            ],
            Box::new(|r: &Rec| {
                let d = Demo::load();
                matches!(
                    d.own(r).and_then(|m| m.service.clone()).as_deref(),
                    Some("api" | "worker")
                )
            }),
        ),
        (
            vec!["--cluster".into(), "prod".into()],
            Box::new(|r: &Rec| {
                Demo::load()
                    .own(r)
                    .is_some_and(|m| m.cluster.as_deref() == Some("prod"))
            }),
        ),
        (
            vec!["--addr".into(), "10.0.43.0/24".into()],
            Box::new(|r: &Rec| {
                ["srcaddr", "dstaddr"]
                    .iter()
                    .any(|k| r[*k].starts_with("10.0.43."))
            }),
        ),
        (
            vec!["--peer".into(), "198.51.100.0/24".into()],
            Box::new(|r: &Rec| {
                Demo::load()
                    .peer(r)
                    .is_some_and(|p| p.starts_with("198.51.100."))
            }),
        ),
        (
            vec!["--port".into(), "8080".into()],
            Box::new(|r: &Rec| is(r, "srcport", "8080") || is(r, "dstport", "8080")),
        ),
        (
            vec!["--protocol".into(), "udp".into()],
            Box::new(|r: &Rec| is(r, "protocol", "17")),
        ),
        (
            vec!["--protocol".into(), "1".into()],
            Box::new(|r: &Rec| is(r, "protocol", "1")),
        ),
        (
            vec!["--action".into(), "reject".into()],
            Box::new(|r: &Rec| is(r, "action", "REJECT")),
        ),
        (
            vec!["--status".into(), "NODATA".into()],
            Box::new(|r: &Rec| is(r, "log-status", "NODATA")),
        ),
        (
            vec!["--direction".into(), "ingress".into()],
            Box::new(|r: &Rec| is(r, "flow-direction", "ingress")),
        ),
        (
            vec![
                "--since".into(),
                (t0 + 600).to_string(),
                "--until".into(),
                "2026-11-01T00:25:00Z".into(),
            ],
            Box::new(move |r: &Rec| {
                (t0 + 600..t0 + 1500).contains(&r["start"].parse::<u64>().unwrap())
            }),
        ),
        (
            vec![
                "--service".into(),
                "web".into(),
                "--action".into(),
                "ACCEPT".into(),
                "--port".into(),
                "8080".into(),
            ],
            Box::new(|r: &Rec| {
                Demo::load()
                    .own(r)
                    .and_then(|m| m.service.clone())
                    .as_deref()
                    == Some("web")
                    && is(r, "action", "ACCEPT")
                    && (is(r, "srcport", "8080") || is(r, "dstport", "8080"))
            }),
        ),
    ];
    for (args, pred) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let rows = query(&args);
        assert_eq!(rows.len(), 1, "{args:?}: one row of totals");
        let want = d.sums(&pred);
        assert!(want.0 > 0, "{args:?} selects something");
        assert_eq!(totals(&rows), want, "{args:?}");
    }
}

#[test]
fn group_totals_equal_independent_sums() {
    let d = Demo::load();
    for (key, of) in [
        (
            "service",
            Box::new(|r: &Rec| Demo::load().own(r).and_then(|m| m.service.clone()))
                as Box<dyn Fn(&Rec) -> Option<String>>,
        ),
        ("eni", Box::new(|r: &Rec| r.get("interface-id").cloned())),
        (
            "dstport",
            Box::new(|r: &Rec| r.get("dstport").filter(|v| *v != "-").cloned()),
        ),
    ] {
        let rows = query(&["--group-by", key]);
        let mut want: BTreeMap<Option<String>, (u64, u64, u64)> = BTreeMap::new();
        let keys: std::collections::BTreeSet<Option<String>> = d.recs.iter().map(&of).collect();
        for k in keys {
            want.insert(k.clone(), d.sums(|r| of(r) == k));
        }
        let got: BTreeMap<Option<String>, (u64, u64, u64)> = rows
            .iter()
            .map(|r| {
                let k = match &r[key] {
                    Value::Null => None,
                    Value::String(s) => Some(s.clone()),
                    v => Some(v.to_string()),
                };
                (k, totals(std::slice::from_ref(r)))
            })
            .collect();
        assert_eq!(got, want, "--group-by {key}");
        // Sorted by bytes, descending.
        let bytes: Vec<u64> = rows.iter().map(|r| r["bytes"].as_u64().unwrap()).collect();
        assert!(bytes.windows(2).all(|w| w[0] >= w[1]));
    }
    // The generator's own totals per service.
    let truth: Value =
        serde_json::from_str(&std::fs::read_to_string(root("testdata/demo/truth.json")).unwrap())
            .unwrap();
    for r in query(&["--group-by", "service"]) {
        if let Some(s) = r["service"].as_str() {
            assert_eq!(r["bytes"], truth["per_service"][s]["bytes"], "{s}");
            assert_eq!(r["records"], truth["per_service"][s]["records"], "{s}");
        }
    }
    // Time buckets partition the totals, and --top keeps the biggest.
    let all = totals(&query(&[]));
    let minutes = query(&["--group-by", "minute"]);
    assert_eq!(minutes.len(), 60);
    assert_eq!(totals(&minutes), all);
    assert_eq!(totals(&query(&["--group-by", "hour"])), all);
    assert_eq!(
        query(&["--group-by", "day"])[0]["day"],
        "2026-11-01T00:00:00Z"
    );
    let top = query(&["--group-by", "minute", "--top", "3"]);
    assert_eq!(top, minutes[..3].to_vec());
}

#[test]
fn percentiles_match_a_sorted_array_within_hdr_precision() {
    let d = Demo::load();
    for service in ["web", "worker"] {
        let mut bytes: Vec<u64> = d
            .recs
            .iter()
            .filter(|r| d.own(r).and_then(|m| m.service.as_deref()) == Some(service))
            .filter_map(|r| r["bytes"].parse().ok())
            .collect();
        bytes.sort_unstable();
        let rows = query(&["--service", service, "--stats"]);
        for (name, q) in [("p50", 0.5), ("p90", 0.9), ("p99", 0.99)] {
            let rank = ((q * bytes.len() as f64).ceil() as usize).max(1) - 1;
            let exact = bytes[rank] as f64;
            let got = rows[0][name].as_u64().unwrap() as f64;
            assert!(
                (got - exact).abs() <= exact * 0.001 + 1.0,
                "{service} {name}: {got} vs {exact}"
            );
        }
        assert_eq!(rows[0]["max"].as_u64().unwrap(), *bytes.last().unwrap());
    }
}

#[test]
fn output_is_identical_for_1_and_4_threads() {
    for args in [
        &["--group-by", "service,peer,dstport", "--stats"][..],
        &["--group-by", "eni,minute,action"][..],
        &["--conversations"][..],
    ] {
        let one = query(&[args, &["--threads", "1"]].concat());
        let four = query(&[args, &["--threads", "4"]].concat());
        assert_eq!(one, four, "{args:?}");
        assert!(!one.is_empty());
    }
}

#[test]
fn conversations_join_both_directions_on_both_enis() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("c.log");
    // web (10.0.1.10, eni-w) calls api (10.0.2.20, eni-a) on 9090: each ENI logs the
    // request and the response. The same minute on both ENIs; one UDP exchange more.
    std::fs::write(
        &logs,
        "version interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status tcp-flags\n\
         5 eni-w 10.0.1.10 10.0.2.20 40000 9090 6 10 1000 1793491205 1793491260 ACCEPT OK 3\n\
         5 eni-w 10.0.2.20 10.0.1.10 9090 40000 6 20 9000 1793491205 1793491260 ACCEPT OK 19\n\
         5 eni-a 10.0.1.10 10.0.2.20 40000 9090 6 10 1000 1793491207 1793491259 ACCEPT OK 3\n\
         5 eni-a 10.0.2.20 10.0.1.10 9090 40000 6 20 9000 1793491207 1793491259 ACCEPT OK 19\n\
         5 eni-a 10.0.2.20 10.0.0.2 53000 53 17 1 70 1793491210 1793491211 ACCEPT OK 0\n\
         5 eni-a 10.0.0.2 10.0.2.20 53 53000 17 1 120 1793491210 1793491211 ACCEPT OK 0\n",
    )
    .unwrap();
    let o = Command::new(BIN)
        .args([
            "query",
            logs.to_str().unwrap(),
            "--conversations",
            "--format",
            "json",
            "-q",
        ])
        .output()
        .unwrap();
    let rows: Vec<Value> = String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        rows,
        vec![
            serde_json::json!({"protocol": 6, "initiator": "10.0.1.10", "initiator_port": 40000,
                "responder": "10.0.2.20", "responder_port": 9090, "initiator_by": "tcp-flags", "enis": "eni-a eni-w",
                "action": "ACCEPT", "records": 4, "request_packets": 10, "request_bytes": 1000, "response_packets": 20,
                "response_bytes": 9000, "first_seen": "2026-11-01T00:00:05Z", "last_seen": "2026-11-01T00:01:00Z"}),
            serde_json::json!({"protocol": 17, "initiator": "10.0.2.20", "initiator_port": 53000,
                "responder": "10.0.0.2", "responder_port": 53, "initiator_by": "port-class", "enis": "eni-a",
                "action": "ACCEPT", "records": 2, "request_packets": 1, "request_bytes": 70, "response_packets": 1,
                "response_bytes": 120, "first_seen": "2026-11-01T00:00:10Z", "last_seen": "2026-11-01T00:00:11Z"}),
        ]
    );
}

#[test]
fn bad_query_arguments_are_usage_errors() {
    for (args, msg) in [
        (&["--group-by", "eni,bogus"][..], "--group-by: \"bogus\" is not a group key (one of eni, task, service, cluster, srcaddr, dstaddr, peer, peer_kind, peer_service, srcport, dstport, protocol, action, status, direction, minute, hour, day)"),
        (&["--protocol", "tcpx"][..], "--protocol: \"tcpx\" is not a protocol (tcp, udp, icmp, icmpv6 or 0-255)"),
        (&["--action", "DROP"][..], "--action: \"DROP\" is not one of ACCEPT, REJECT"),
        (&["--peer", "10.0.0.0/99"][..], "--peer: \"10.0.0.0/99\": prefix length must be 0 to 32"),
    ] {
        let o = Command::new(BIN).arg("query").arg(root("testdata/demo/logs")).args(args).output().unwrap();
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert_eq!(String::from_utf8_lossy(&o.stderr), format!("vpcflow: error: {msg}\n"));
    }
}

impl Demo {
    /// The peer's kind and service as vpcflow defines them: the map row that holds the
    /// peer address at the record's start, else `vpc` inside 10.0.0.0/16, else
    /// `internet`.
    fn peer_kind_service(&self, r: &Rec) -> (Option<String>, Option<String>) {
        let Some(p) = self.peer(r) else {
            return (None, None);
        };
        let t: i64 = r["start"].parse().unwrap();
        match self
            .map
            .iter()
            .find(|m| m.ip == p && m.from <= t && t < m.to)
        {
            Some(m) => (Some(m.kind.clone()), m.service.clone()),
            None if p.starts_with("10.0.") => (Some("vpc".into()), None),
            None => (Some("internet".into()), None),
        }
    }
}

#[test]
fn peer_kind_and_peer_service_filter_and_group() {
    let d = Demo::load();
    // Which services send the most to the internet: --peer-kind internet --group-by service.
    let rows = query(&["--peer-kind", "internet", "--group-by", "service"]);
    let mut want: BTreeMap<Option<String>, (u64, u64, u64)> = BTreeMap::new();
    for r in &d.recs {
        if d.peer_kind_service(r).0.as_deref() == Some("internet") {
            let s = d.own(r).and_then(|m| m.service.clone());
            let e = want.entry(s).or_default();
            let n = |k: &str| r[k].parse::<u64>().unwrap_or(0);
            *e = (e.0 + 1, e.1 + n("packets"), e.2 + n("bytes"));
        }
    }
    assert!(want.len() >= 2, "{want:?}");
    let got: BTreeMap<Option<String>, (u64, u64, u64)> = rows
        .iter()
        .map(|r| {
            (
                r["service"].as_str().map(String::from),
                totals(std::slice::from_ref(r)),
            )
        })
        .collect();
    assert_eq!(got, want);
    // Group by both peer keys: each group's totals are the independent sums.
    let rows = query(&["--group-by", "peer_kind,peer_service"]);
    for row in &rows {
        let kind = row["peer_kind"].as_str().map(String::from);
        let service = row["peer_service"].as_str().map(String::from);
        let want = d.sums(|r| d.peer_kind_service(r) == (kind.clone(), service.clone()));
        assert_eq!(totals(std::slice::from_ref(row)), want, "{row}");
    }
    assert_eq!(totals(&rows), totals(&query(&[])));
    // Filters: a peer service, and two kinds ORed.
    let rows = query(&["--peer-service", "api"]);
    assert_eq!(
        totals(&rows),
        d.sums(|r| d.peer_kind_service(r).1.as_deref() == Some("api"))
    );
    let rows = query(&["--peer-kind", "alb", "--peer-kind", "natgw"]);
    let want = d.sums(|r| matches!(d.peer_kind_service(r).0.as_deref(), Some("alb" | "natgw")));
    assert!(want.0 > 0);
    assert_eq!(totals(&rows), want);
    let o = Command::new(BIN)
        .args(["query", "-", "--peer-kind", "cloud"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        "vpcflow: error: --peer-kind: \"cloud\" is not one of task, alb, nlb, natgw, vpce, instance, other, vpc, internet\n"
    );
}

fn query_text(text: &str, args: &[&str]) -> (Vec<Value>, String) {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("q.log");
    std::fs::write(&logs, text).unwrap();
    let o = Command::new(BIN)
        .arg("query")
        .arg(&logs)
        .args(["--format", "json"])
        .args(args)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let rows = String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (rows, String::from_utf8_lossy(&o.stderr).into_owned())
}

#[test]
fn conversation_split_across_two_minutes_is_one_row() {
    // The request starts at 00:00:50 and the response at 00:01:02: one connection.
    let (rows, _) = query_text(
        "version interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status\n\
         2 eni-w 10.0.1.10 10.0.2.20 40000 9090 6 10 1000 1793491250 1793491262 ACCEPT OK\n\
         2 eni-w 10.0.2.20 10.0.1.10 9090 40000 6 20 9000 1793491262 1793491270 ACCEPT OK\n",
        &["--conversations", "-q", "--vpc-cidr", "10.0.1.0/24"],
    );
    assert_eq!(
        rows,
        vec![
            serde_json::json!({"protocol": 6, "initiator": "10.0.1.10", "initiator_port": 40000,
            "responder": "10.0.2.20", "responder_port": 9090, "initiator_by": "earlier-outbound", "enis": "eni-w",
            "action": "ACCEPT", "records": 2, "request_packets": 10, "request_bytes": 1000, "response_packets": 20,
            "response_bytes": 9000, "first_seen": "2026-11-01T00:00:50Z", "last_seen": "2026-11-01T00:01:10Z"})
        ]
    );
}

#[test]
fn direction_inferred_from_addresses_is_reported_not_guessed_silently() {
    // v2 logs, no map, no flow-direction: the side inside the VPC is the ENI's own, and
    // the summary says that direction and peer were inferred that way.
    let text = "version interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status\n\
         2 eni-w 198.51.100.7 10.0.1.10 51000 8080 6 3 300 1793491250 1793491262 ACCEPT OK\n\
         2 eni-w 10.0.1.10 198.51.100.7 8080 51000 6 5 900 1793491250 1793491262 ACCEPT OK\n\
         2 eni-w 10.0.1.10 10.0.9.9 40000 5432 6 1 100 1793491250 1793491262 ACCEPT OK\n";
    let (rows, err) = query_text(text, &["--group-by", "peer,direction"]);
    let got: Vec<(Value, Value, Value)> = rows
        .iter()
        .map(|r| {
            (
                r["peer"].clone(),
                r["direction"].clone(),
                r["bytes"].clone(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("198.51.100.7".into(), "egress".into(), 900.into()),
            ("198.51.100.7".into(), "ingress".into(), 300.into()),
            ("10.0.9.9".into(), "egress".into(), 100.into()),
        ]
    );
    assert!(
        err.contains("3 records: direction inferred from the addresses"),
        "{err}"
    );
}

#[test]
fn conversation_port_stability_is_not_split_by_other_peers() {
    // The task calls 10.0.2.1:50051 twice and 10.0.2.2:50051 once (v2, both ports
    // high, request and response in the same second): the calls to 10.0.2.1 are
    // decided by port stability, whatever other peers sort between them.
    let text = "version interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status\n\
         2 eni-t 10.0.1.10 10.0.2.1 40000 50051 6 1 100 1793491300 1793491360 ACCEPT OK\n\
         2 eni-t 10.0.2.1 10.0.1.10 50051 40000 6 1 100 1793491300 1793491360 ACCEPT OK\n\
         2 eni-t 10.0.1.10 10.0.2.2 40001 50051 6 1 100 1793491300 1793491360 ACCEPT OK\n\
         2 eni-t 10.0.1.10 10.0.2.1 40002 50051 6 1 100 1793491400 1793491460 ACCEPT OK\n\
         2 eni-t 10.0.2.1 10.0.1.10 50051 40002 6 1 100 1793491400 1793491460 ACCEPT OK\n";
    let (rows, _) = query_text(text, &["--conversations", "-q"]);
    let to_server: Vec<(Value, Value, Value)> = rows
        .iter()
        .filter(|r| r["responder"] == "10.0.2.1" || r["initiator"] == "10.0.2.1")
        .map(|r| {
            (
                r["initiator"].clone(),
                r["responder_port"].clone(),
                r["initiator_by"].clone(),
            )
        })
        .collect();
    assert_eq!(
        to_server,
        vec![
            ("10.0.1.10".into(), 50051.into(), "port-stability".into()),
            ("10.0.1.10".into(), 50051.into(), "port-stability".into()),
        ]
    );
}
