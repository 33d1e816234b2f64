//! `vpcflow query` against sums computed here from the raw demo text and a plain scan of
//! the map: every filter, group totals, time buckets, percentiles, thread invariance,
//! and conversations; flow-log columns as group keys and `--where` filters over
//! inputs of several layouts, written here and summed here.

mod common;

use std::collections::BTreeMap;

use common::{json_lines, map_rows, records, root, stderr, vpcflow, Row};
use serde_json::Value;

fn query(args: &[&str]) -> Vec<Value> {
    let demo = root("testdata/demo");
    let (logs, map) = (demo.join("logs"), demo.join("eni-map.csv"));
    let mut a = vec![
        "query",
        logs.to_str().unwrap(),
        "--map",
        map.to_str().unwrap(),
        "--vpc-cidr",
        "10.0.0.0/16",
        "--format",
        "json",
        "-q",
    ];
    a.extend(args);
    let o = vpcflow(&a);
    assert!(o.status.success(), "{}", stderr(&o));
    json_lines(&o)
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
            vec!["--protocol".into(), "icmp".into()],
            Box::new(|r: &Rec| is(r, "protocol", "1")),
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
    let o = vpcflow(&[
        "query",
        logs.to_str().unwrap(),
        "--conversations",
        "--format",
        "json",
        "-q",
    ]);
    let rows: Vec<Value> = json_lines(&o);
    assert_eq!(
        rows,
        vec![
            // No map and both ends private: neither ENI's own side is known, so no
            // bytes from a task's side; the row names the first ENI that logged it.
            serde_json::json!({"eni": "eni-a", "task": null, "service": null, "peer": null,
                "peer_kind": null, "peer_service": null, "client_port": 40000, "server_port": 9090,
                "bytes_out": null, "bytes_in": null,
                "protocol": 6, "initiator": "10.0.1.10", "initiator_port": 40000,
                "responder": "10.0.2.20", "responder_port": 9090, "initiator_by": "tcp-flags", "enis": "eni-a eni-w",
                "action": "ACCEPT", "records": 4, "request_packets": 10, "request_bytes": 1000, "response_packets": 20,
                "response_bytes": 9000, "first_seen": "2026-11-01T00:00:05Z", "last_seen": "2026-11-01T00:01:00Z"}),
            serde_json::json!({"eni": "eni-a", "task": null, "service": null, "peer": null,
                "peer_kind": null, "peer_service": null, "client_port": 53000, "server_port": 53,
                "bytes_out": null, "bytes_in": null,
                "protocol": 17, "initiator": "10.0.2.20", "initiator_port": 53000,
                "responder": "10.0.0.2", "responder_port": 53, "initiator_by": "port-class", "enis": "eni-a",
                "action": "ACCEPT", "records": 2, "request_packets": 1, "request_bytes": 70, "response_packets": 1,
                "response_bytes": 120, "first_seen": "2026-11-01T00:00:10Z", "last_seen": "2026-11-01T00:00:11Z"}),
        ]
    );
}

#[test]
fn conversations_say_the_tasks_side_from_the_map() {
    // The same call of web (eni-w) into api (eni-a), with the map: the row is web's
    // task's (it opened it), its peer a task of api, its bytes out the request's.
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("c.log");
    let map = dir.path().join("map.csv");
    std::fs::write(
        &map,
        "eni_id,kind,private_ip,task_arn,cluster,service,task_family,security_groups,subnet_id,vpc_id,valid_from,valid_to\n\
         eni-w,task,10.0.1.10,arn:aws:ecs:us-east-1:1:task/prod/w1,prod,web,web,sg-w,,,,\n\
         eni-a,task,10.0.2.20,arn:aws:ecs:us-east-1:1:task/prod/a1,prod,api,api,sg-a,,,,\n",
    )
    .unwrap();
    std::fs::write(
        &logs,
        "version interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status tcp-flags\n\
         5 eni-w 10.0.1.10 10.0.2.20 40000 9090 6 10 1000 1793491205 1793491260 ACCEPT OK 3\n\
         5 eni-w 10.0.2.20 10.0.1.10 9090 40000 6 20 9000 1793491205 1793491260 ACCEPT OK 19\n\
         5 eni-a 10.0.1.10 10.0.2.20 40000 9090 6 10 1000 1793491207 1793491259 ACCEPT OK 3\n\
         5 eni-a 10.0.2.20 10.0.1.10 9090 40000 6 20 9000 1793491207 1793491259 ACCEPT OK 19\n",
    )
    .unwrap();
    let o = vpcflow(&[
        "query",
        logs.to_str().unwrap(),
        "--map",
        map.to_str().unwrap(),
        "--conversations",
        "--format",
        "json",
        "-q",
    ]);
    let rows = json_lines(&o);
    assert_eq!(rows.len(), 1, "{rows:?}");
    let r = &rows[0];
    for (k, v) in [
        ("eni", serde_json::json!("eni-w")),
        (
            "task",
            serde_json::json!("arn:aws:ecs:us-east-1:1:task/prod/w1"),
        ),
        ("service", serde_json::json!("web")),
        ("peer", serde_json::json!("10.0.2.20")),
        ("peer_kind", serde_json::json!("task")),
        ("peer_service", serde_json::json!("api")),
        ("initiator", serde_json::json!("10.0.1.10")),
        ("responder", serde_json::json!("10.0.2.20")),
        ("client_port", serde_json::json!(40000)),
        ("server_port", serde_json::json!(9090)),
        ("records", serde_json::json!(4)),
        ("bytes_out", serde_json::json!(1000)),
        ("bytes_in", serde_json::json!(9000)),
    ] {
        assert_eq!(r[k], v, "{k}: {r}");
    }
}

#[test]
fn bad_query_arguments_are_usage_errors() {
    for (args, msg) in [
        (&["--group-by", "eni,bo gus"][..], "--group-by: \"bo gus\" is not a group key (one of eni, task, service, cluster, srcaddr, dstaddr, peer, peer_kind, peer_service, peer_lb, srcport, dstport, protocol, action, status, direction, minute, hour, day, peer_aws_service) nor a flow-log column (any field name of a header, by its Parquet name: vpc_id, subnet_id, instance_id, az_id, traffic_path, pkt_dst_aws_service, ecs_cluster_name, instance_tag, ...)"),
        (&["--protocol", "tcpx"][..], "--protocol: \"tcpx\" is not a protocol (tcp, udp, icmp, icmpv6, gre, esp or 0-255)"),
        (&["--action", "DROP"][..], "--action: \"DROP\" is not one of ACCEPT, REJECT"),
        (&["--peer", "10.0.0.0/99"][..], "--peer: \"10.0.0.0/99\": prefix length must be 0 to 32"),
    ] {
        let logs = root("testdata/demo/logs");
        let o = vpcflow(&[&["query", logs.to_str().unwrap()][..], args].concat());
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
    let o = vpcflow(&["query", "-", "--peer-kind", "cloud"]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        "vpcflow: error: --peer-kind: \"cloud\" is not one of task, alb, nlb, gwlb, elb, natgw, vpce, gwlbe, rds, lambda, efs, tgw, instance, other, vpc, internet\n"
    );
}

fn query_text(text: &str, args: &[&str]) -> (Vec<Value>, String) {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("q.log");
    std::fs::write(&logs, text).unwrap();
    let o = vpcflow(
        &[
            &["query", logs.to_str().unwrap(), "--format", "json"][..],
            args,
        ]
        .concat(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    (json_lines(&o), stderr(&o))
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
            // 10.0.1.10 is eni-w's own side (--vpc-cidr 10.0.1.0/24): it sent 1000
            // bytes out and got 9000 back from an internet peer.
            serde_json::json!({"eni": "eni-w", "task": null, "service": null, "peer": "10.0.2.20",
            "peer_kind": "internet", "peer_service": null, "client_port": 40000, "server_port": 9090,
            "bytes_out": 1000, "bytes_in": 9000,
            "protocol": 6, "initiator": "10.0.1.10", "initiator_port": 40000,
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

// ---- Flow-log columns as keys and filters, over several layouts ----

/// The AWS default format, for the headerless file below.
const V2_FIELDS: &str = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status";

/// One small file per layout: v3 in AWS order, v5 in a custom order, v7 (ECS), v11
/// (tags), and v2 without a header.
const LAYOUTS: [(&str, &str); 5] = [
    (
        "a-v3.log",
        "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status vpc-id subnet-id instance-id tcp-flags type pkt-srcaddr pkt-dstaddr
3 111111111111 eni-1 10.0.1.10 10.0.2.20 40000 443 6 10 1000 1793491200 1793491260 ACCEPT OK vpc-a subnet-a1 i-0aa 2 IPv4 10.0.1.10 10.0.2.20
3 111111111111 eni-1 10.0.2.20 10.0.1.10 443 40000 6 8 4000 1793491200 1793491260 ACCEPT OK vpc-a subnet-a1 i-0aa 18 IPv4 10.0.2.20 10.0.1.10
3 111111111111 eni-2 198.51.100.7 10.0.1.11 51000 22 6 1 60 1793491210 1793491270 REJECT OK vpc-a subnet-a2 - 2 IPv4 198.51.100.7 10.0.1.11
3 111111111111 eni-3 - - - - - - - 1793491200 1793491260 - NODATA vpc-b subnet-b1 - - - - -
",
    ),
    (
        "b-v5.log",
        "version vpc-id subnet-id az-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status traffic-path pkt-dst-aws-service flow-direction instance-id
5 vpc-a subnet-a1 use1-az1 eni-1 10.0.1.10 52.216.1.1 40010 443 6 20 7000 1793491300 1793491360 ACCEPT OK 8 S3 egress i-0aa
5 vpc-a subnet-a2 use1-az2 eni-2 10.0.1.11 52.94.0.5 40011 443 6 5 900 1793491300 1793491360 ACCEPT OK 1 DYNAMODB egress -
5 vpc-b subnet-b1 use1-az1 eni-3 10.1.0.5 10.0.1.10 33000 5432 17 2 300 1793491310 1793491370 accept OK 2 - ingress i-0bb
",
    ),
    (
        "c-v7.log",
        "version interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status vpc-id subnet-id az-id ecs-cluster-name ecs-task-arn traffic-path
7 eni-4 10.0.3.4 10.0.1.10 41000 8080 6 4 1200 1793491400 1793491460 ACCEPT OK vpc-a subnet-a3 use1-az3 prod arn:aws:ecs:us-east-1:111111111111:task/prod/abc 1
7 eni-5 10.0.3.5 10.0.1.10 41001 8080 6 6 2400 1793491400 1793491460 ACCEPT OK vpc-a subnet-a3 use1-az3 staging arn:aws:ecs:us-east-1:111111111111:task/staging/def 1
7 eni-4 10.0.3.4 10.0.9.9 41002 443 6 3 500 1793491405 1793491465 REJECT OK vpc-a subnet-a3 use1-az3 prod arn:aws:ecs:us-east-1:111111111111:task/prod/abc -
",
    ),
    (
        "d-v11.log",
        "version interface-id account-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status vpc-id subnet-id instance-id az-id instance-tag interface-type pkt-dst-aws-service
11 eni-6 111111111111 10.0.4.4 10.0.1.10 42000 443 6 7 3500 1793491500 1793491560 ACCEPT OK vpc-c subnet-c1 i-0cc use1-az2 team=payments interface S3
11 eni-6 111111111111 10.0.4.4 10.0.1.11 42001 443 6 1 50 1793491500 1793491560 ACCEPT OK vpc-c subnet-c1 i-0cc use1-az2 - interface -
",
    ),
    (
        "e-v2.log",
        "2 111111111111 eni-7 10.0.5.5 10.0.1.10 43000 443 6 9 9000 1793491600 1793491660 ACCEPT OK
2 111111111111 eni-7 10.0.1.10 10.0.5.5 443 43000 6 9 2700 1793491600 1793491660 ACCEPT OK
",
    ),
];

/// Every record of `files`, read here: a line starting with `version ` is a header (it
/// holds until the next one), a file without one is in the default format. Keys are the
/// column names (`vpc_id`); a `-` value is left out (null).
fn read_logs(files: &[(&str, &str)]) -> Vec<Rec> {
    let mut out = Vec::new();
    for (_, text) in files {
        let mut names: Vec<String> = V2_FIELDS.split(' ').map(|n| n.replace('-', "_")).collect();
        for line in text.lines().filter(|l| !l.is_empty()) {
            if line.starts_with("version ") {
                names = line.split(' ').map(|n| n.replace('-', "_")).collect();
                continue;
            }
            let values: Vec<&str> = line.split(' ').collect();
            assert_eq!(values.len(), names.len(), "{line}");
            out.push(
                names
                    .iter()
                    .zip(values)
                    .filter(|(_, v)| *v != "-")
                    .map(|(n, v)| (n.clone(), v.to_string()))
                    .collect(),
            );
        }
    }
    out
}

type Groups = BTreeMap<Vec<Option<String>>, (u64, u64, u64)>;

/// (records, packets, bytes) per value of `keys`, of the records `keep` keeps.
fn expected_groups(recs: &[Rec], keys: &[&str], keep: impl Fn(&Rec) -> bool) -> Groups {
    let mut g = Groups::new();
    for r in recs.iter().filter(|r| keep(r)) {
        let key = keys.iter().map(|k| r.get(*k).cloned()).collect();
        let n = |k: &str| r.get(k).map_or(0, |v| v.parse::<u64>().unwrap());
        let e = g.entry(key).or_default();
        *e = (e.0 + 1, e.1 + n("packets"), e.2 + n("bytes"));
    }
    g
}

/// The groups of `query --format json` rows; numbers as their text.
fn got_groups(rows: &[Value], keys: &[&str]) -> Groups {
    let mut g = Groups::new();
    for row in rows {
        let key = keys
            .iter()
            .map(|k| match &row[*k] {
                Value::Null => None,
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                v => panic!("{k}: {v}"),
            })
            .collect();
        assert!(
            g.insert(key, totals(std::slice::from_ref(row))).is_none(),
            "{row}"
        );
    }
    g
}

/// `vpcflow query` over `files` written to a temporary directory.
fn query_files(files: &[(&str, &str)], args: &[&str]) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let path = dir.path().to_str().unwrap();
    vpcflow(&[&["query", path, "--format", "json", "-q"][..], args].concat())
}

fn ok_rows(o: &std::process::Output) -> Vec<Value> {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    json_lines(o)
}

#[test]
fn flow_log_columns_are_group_keys_on_every_layout() {
    let recs = read_logs(&LAYOUTS);
    assert_eq!(recs.len(), 14);
    for keys in [
        "vpc_id",
        "subnet_id",
        "instance_id",
        "az_id",
        "traffic_path",
        "pkt_dst_aws_service",
        "ecs_cluster_name",
        "instance_tag",
        "flow_direction",
        "subnet_id,az_id",
        "vpc_id,dstport,traffic_path",
    ] {
        let k: Vec<&str> = keys.split(',').collect();
        let o = query_files(&LAYOUTS, &["--group-by", keys]);
        let rows = ok_rows(&o);
        assert_eq!(
            got_groups(&rows, &k),
            expected_groups(&recs, &k, |_| true),
            "--group-by {keys}"
        );
        // The columns come out named as the keys, in their order, before the totals.
        let text = String::from_utf8(o.stdout).unwrap();
        let line = text.lines().next().unwrap();
        let at = |name: &str| line.find(&format!("\"{name}\":")).unwrap();
        let order: Vec<usize> = k.iter().map(|n| at(n)).chain([at("records")]).collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{keys}: {line}");
        assert!(line.starts_with(&format!("{{\"{}\":", k[0])), "{line}");
    }
    // By hand: vpc-a is 3 v3 + 2 v5 + 3 v7 records; the v2 file has no vpc-id.
    let rows = ok_rows(&query_files(&LAYOUTS, &["--group-by", "vpc_id"]));
    let v = |s: &str| Some(s.to_string());
    let want: Groups = [
        (vec![v("vpc-a")], (8, 57, 17060)),
        (vec![v("vpc-b")], (2, 2, 300)),
        (vec![v("vpc-c")], (2, 8, 3550)),
        (vec![None], (2, 18, 11700)),
    ]
    .into();
    assert_eq!(got_groups(&rows, &["vpc_id"]), want);
    // Integer columns are JSON numbers, sorted by bytes then numerically.
    let rows = ok_rows(&query_files(&LAYOUTS, &["--group-by", "traffic_path"]));
    let got: Vec<(Value, u64)> = rows
        .iter()
        .map(|r| (r["traffic_path"].clone(), r["bytes"].as_u64().unwrap()))
        .collect();
    assert_eq!(
        got,
        [
            (Value::Null, 5060 + 500 + 3550 + 11700),
            (8.into(), 7000),
            (1.into(), 900 + 1200 + 2400),
            (2.into(), 300),
        ]
    );
    // `start` is unix seconds; an address column is its text.
    let rows = ok_rows(&query_files(
        &LAYOUTS,
        &["--group-by", "start,pkt_srcaddr", "--top", "1"],
    ));
    assert_eq!(rows[0]["start"], 1793491600);
    assert_eq!(rows[0]["pkt_srcaddr"], Value::Null);
    let rows = ok_rows(&query_files(
        &LAYOUTS,
        &["--group-by", "pkt-srcaddr", "--where", "vpc_id=vpc-a"],
    ));
    assert_eq!(rows[0]["pkt_srcaddr"], Value::Null);
    assert_eq!(rows[1]["pkt_srcaddr"], "10.0.2.20");
}

#[test]
fn where_ors_values_of_a_column_and_ands_columns() {
    let recs = read_logs(&LAYOUTS);
    let has = |r: &Rec, k: &str, vs: &[&str]| r.get(k).is_some_and(|v| vs.contains(&v.as_str()));
    let sums = |keep: &dyn Fn(&Rec) -> bool| {
        expected_groups(&recs, &[], keep)
            .into_values()
            .next()
            .unwrap_or_default()
    };
    let cases: Vec<(Vec<&str>, Pred)> = vec![
        // Same column ORed, other columns ANDed; action in any case ("accept" in v5).
        (
            vec![
                "--where",
                "subnet_id=subnet-a1",
                "--where",
                "subnet_id=subnet-a3",
                "--where",
                "action=accept",
            ],
            Box::new(|r| {
                has(r, "subnet_id", &["subnet-a1", "subnet-a3"])
                    && r.get("action")
                        .is_some_and(|a| a.eq_ignore_ascii_case("ACCEPT"))
            }),
        ),
        (
            vec!["--where", "action=ACCEPT", "--where", "vpc_id=vpc-b"],
            Box::new(|r| has(r, "vpc_id", &["vpc-b"]) && has(r, "action", &["accept", "ACCEPT"])),
        ),
        // Integers, a protocol by name, and a CIDR block on an address column.
        (
            vec!["--where", "dstport=443", "--where", "srcaddr=10.0.0.0/16"],
            Box::new(|r| {
                has(r, "dstport", &["443"])
                    && r.get("srcaddr").is_some_and(|a| a.starts_with("10.0."))
            }),
        ),
        (
            vec!["--where", "protocol=icmp"],
            Box::new(|r| has(r, "protocol", &["1"])),
        ),
        (
            vec!["--where", "traffic_path=1", "--where", "traffic-path=2"],
            Box::new(|r| has(r, "traffic_path", &["1", "2"])),
        ),
        (
            vec!["--where", "pkt_dst_aws_service=S3"],
            Box::new(|r| has(r, "pkt_dst_aws_service", &["S3"])),
        ),
        // Text compares exactly: no S3 for "s3".
        (
            vec!["--where", "pkt_dst_aws_service=s3"],
            Box::new(|_| false),
        ),
        // The value is everything after the first `=`.
        (
            vec!["--where", "instance_tag=team=payments"],
            Box::new(|r| has(r, "instance_tag", &["team=payments"])),
        ),
        (
            vec![
                "--where",
                "ecs_cluster_name=prod",
                "--where",
                "dstport=8080",
            ],
            Box::new(|r| has(r, "ecs_cluster_name", &["prod"]) && has(r, "dstport", &["8080"])),
        ),
        // `-` is null: a `-` in the log, or a layout without the column.
        (
            vec!["--where", "vpc_id=-"],
            Box::new(|r| !r.contains_key("vpc_id")),
        ),
        (
            vec!["--where", "traffic_path=-", "--where", "traffic_path=8"],
            Box::new(|r| !r.contains_key("traffic_path") || has(r, "traffic_path", &["8"])),
        ),
        // ANDed with the other filters.
        (
            vec!["--where", "vpc_id=vpc-a", "--action", "REJECT"],
            Box::new(|r| has(r, "vpc_id", &["vpc-a"]) && has(r, "action", &["REJECT"])),
        ),
    ];
    for (args, keep) in &cases {
        let rows = ok_rows(&query_files(&LAYOUTS, args));
        assert_eq!(rows.len(), 1, "{args:?}");
        assert_eq!(totals(&rows), sums(keep.as_ref()), "{args:?}");
    }
    // By hand, the first case: subnet-a1 (1000 + 4000 in v3, 7000 in v5) and
    // subnet-a3 (1200 + 2400 accepted in v7).
    assert_eq!(sums(cases[0].1.as_ref()), (5, 48, 15600));
    assert_eq!(
        sums(cases[2].1.as_ref()).2,
        1000 + 7000 + 900 + 500 + 3500 + 50 + 9000
    );
}

#[test]
fn vpc_subnet_and_instance_are_where_shortcuts() {
    let total = |args: &[&str]| totals(&ok_rows(&query_files(&LAYOUTS, args)));
    for (short, long, want) in [
        (
            vec!["--vpc", "vpc-a", "--vpc", "vpc-c"],
            vec!["--where", "vpc_id=vpc-a", "--where", "vpc_id=vpc-c"],
            (10, 65, 17060 + 3550),
        ),
        (
            vec!["--subnet", "subnet-a2"],
            vec!["--where", "subnet_id=subnet-a2"],
            (2, 6, 960),
        ),
        (
            vec!["--instance", "i-0aa"],
            vec!["--where", "instance_id=i-0aa"],
            (3, 38, 12000),
        ),
        (
            vec!["--vpc", "vpc-a", "--instance", "i-0aa"],
            vec!["--where", "instance_id=i-0aa", "--where", "vpc_id=vpc-a"],
            (3, 38, 12000),
        ),
        (
            vec!["--vpc", "vpc-b", "--instance", "i-0aa"],
            vec!["--where", "vpc_id=vpc-b", "--where", "instance_id=i-0aa"],
            (0, 0, 0),
        ),
    ] {
        assert_eq!(total(&short), want, "{short:?}");
        assert_eq!(total(&long), want, "{long:?}");
    }
}

#[test]
fn names_that_cannot_be_columns_are_usage_errors_before_reading() {
    for (args, msg) in [
        (&["--group-by", "vpc_id,9vpc"][..], "--group-by: \"9vpc\" is not a group key (one of eni, task, service, cluster, srcaddr, dstaddr, peer, peer_kind, peer_service, peer_lb, srcport, dstport, protocol, action, status, direction, minute, hour, day, peer_aws_service) nor a flow-log column (any field name of a header, by its Parquet name: vpc_id, subnet_id, instance_id, az_id, traffic_path, pkt_dst_aws_service, ecs_cluster_name, instance_tag, ...)"),
        (&["--where", "vpc id=vpc-a"][..], "--where: \"vpc id\" is not a flow-log column (any field name of a header, by its Parquet name: vpc_id, subnet_id, instance_id, az_id, traffic_path, pkt_dst_aws_service, ecs_cluster_name, instance_tag, ...)"),
        (&["--where", "service=api"][..], "--where: \"service\" is not a flow-log column; use --service"),
        (&["--where", "vpc_id"][..], "--where: \"vpc_id\" is not COLUMN=VALUE"),
        (&["--where", "dstport=https"][..], "--where: dstport=https: not an integer from 0 to 65535"),
        (&["--where", "traffic_path=256"][..], "--where: traffic_path=256: not an integer from 0 to 255"),
        (&["--where", "srcaddr=10.0.0.0/33"][..], "--where: srcaddr=10.0.0.0/33: \"10.0.0.0/33\": prefix length must be 0 to 32"),
        (&["--vpc", ""][..], "--vpc: vpc_id=: an empty value matches nothing (- matches null)"),
    ] {
        // The input does not exist: the arguments are refused before it is looked at.
        let o = vpcflow(&[&["query", "/nonexistent/vpcflow-logs"][..], args].concat());
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert_eq!(String::from_utf8_lossy(&o.stderr), format!("vpcflow: error: {msg}\n"));
    }
}

#[test]
fn a_column_that_no_input_has_is_an_error_not_nulls() {
    let v2 = "version account_id interface_id srcaddr dstaddr srcport dstport protocol packets bytes start end action log_status";
    let v3 = &LAYOUTS[0];
    let v2_file = &LAYOUTS[4];
    for (files, args, msg) in [
        (vec![*v2_file], vec!["--vpc", "vpc-a"], format!("column vpc_id (flow logs v3 and later) is in no input (their layouts have: {})", v2.replace(' ', ", "))),
        (vec![*v2_file], vec!["--group-by", "az_id"], format!("column az_id (flow logs v4 and later) is in no input (their layouts have: {})", v2.replace(' ', ", "))),
        (vec![*v2_file], vec!["--where", "vpc_id=-", "--conversations"], format!("column vpc_id (flow logs v3 and later) is in no input (their layouts have: {})", v2.replace(' ', ", "))),
        // Two layouts, neither with the columns: both are listed, each column once.
        (
            vec![*v3, *v2_file],
            vec!["--group-by", "az_id,vpc_id", "--where", "ecs_cluster_name=prod"],
            format!(
                "columns az_id (flow logs v4 and later), ecs_cluster_name (flow logs v7 and later) are in no input (their layouts have: {}, vpc_id, subnet_id, instance_id, tcp_flags, type, pkt_srcaddr, pkt_dstaddr)",
                v2.replace(' ', ", ")
            ),
        ),
    ] {
        let o = query_files(&files, &args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert_eq!(String::from_utf8_lossy(&o.stdout), "", "{args:?}");
        assert_eq!(String::from_utf8_lossy(&o.stderr), format!("vpcflow: error: {msg}\n"));
    }
    // A name no field of versions 2 to 11 has may still be a custom header's field:
    // after the scan, a misspelt one is an error listing the columns there are...
    let o = query_files(&[*v3], &["--group-by", "vpcid"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).ends_with(&format!(
            "vpcflow: error: column vpcid is in no input (their layouts have: {}, vpc_id, \
             subnet_id, instance_id, tcp_flags, type, pkt_srcaddr, pkt_dstaddr)\n",
            v2.replace(' ', ", ")
        )),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // ...and one a header names is a text column, grouped and filtered like the others.
    let custom = "version interface-id srcaddr dstaddr packets bytes start end team\n\
                  2 eni-a 10.0.0.1 10.0.0.2 1 100 1793491200 1793491210 payments\n\
                  2 eni-a 10.0.0.1 10.0.0.2 2 200 1793491200 1793491210 search\n\
                  2 eni-a 10.0.0.1 10.0.0.2 4 400 1793491200 1793491210 payments\n";
    let o = query_files(
        &[("c.log", custom)],
        &["--group-by", "Team", "--where", "team=payments"],
    );
    let rows = ok_rows(&o);
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(
        (&rows[0]["team"], &rows[0]["bytes"]),
        (&serde_json::json!("payments"), &serde_json::json!(500))
    );
    // A file that has the column but no records: the column is there, the answer empty.
    let o = query_files(
        &[("a.log", "version vpc-id\n"), *v2_file],
        &["--vpc", "vpc-a"],
    );
    assert_eq!(totals(&ok_rows(&o)), (0, 0, 0));
}

#[test]
fn a_file_switching_layouts_groups_and_filters_both() {
    // v5 records (with vpc-id), then a header back to v2 (without): the file ends in a
    // layout without the column, which its first part had. Long enough to be read in
    // several chunks.
    let mut text = String::from(
        "version vpc-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status traffic-path\n",
    );
    for i in 0..60u64 {
        text += &format!(
            "5 vpc-{} eni-1 10.0.1.{} 10.0.2.20 {} 443 6 {} {} 1793491200 1793491260 ACCEPT OK {}\n",
            i % 3,
            i % 7,
            40000 + i,
            i + 1,
            100 * i + 7,
            if i % 4 == 0 { "-".to_string() } else { (i % 2 + 1).to_string() },
        );
    }
    text += &format!("{V2_FIELDS}\n");
    for i in 0..60u64 {
        text += &format!(
            "2 111111111111 eni-2 10.0.3.{} 10.0.2.20 {} 443 6 {} {} 1793491300 1793491360 REJECT OK\n",
            i % 5,
            41000 + i,
            i + 2,
            50 * i + 3,
        );
    }
    assert!(text.len() > 3 * 2048);
    let files = [("mixed.log", text.as_str()), LAYOUTS[2]];
    let recs = read_logs(&files);
    assert_eq!(recs.len(), 123);
    let keys = ["vpc_id", "traffic_path"];
    let mut outputs = Vec::new();
    for threads in ["1", "4"] {
        let o = query_files(
            &files,
            &[
                "--group-by",
                "vpc_id,traffic_path",
                "--threads",
                threads,
                "--batch-size",
                "7",
            ],
        );
        let rows = ok_rows(&o);
        assert_eq!(
            got_groups(&rows, &keys),
            expected_groups(&recs, &keys, |_| true)
        );
        outputs.push(o.stdout);
    }
    assert_eq!(outputs[0], outputs[1]);
    let rows = ok_rows(&query_files(
        &files,
        &["--vpc", "vpc-1", "--vpc", "-", "--group-by", "vpc_id"],
    ));
    assert_eq!(
        got_groups(&rows, &["vpc_id"]),
        expected_groups(&recs, &["vpc_id"], |r| r
            .get("vpc_id")
            .is_none_or(|v| v == "vpc-1"))
    );
    // A file small enough to be one unit, ending in a layout without the column that its
    // first part had: the column is found in what was read, not only in how files end.
    let small = "version vpc-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status\n\
        5 vpc-9 eni-1 10.0.1.1 10.0.2.2 40000 443 6 3 300 1793491200 1793491260 ACCEPT OK\n\
        version interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status\n\
        2 eni-1 10.0.1.1 10.0.2.2 40001 443 6 5 500 1793491200 1793491260 ACCEPT OK\n";
    let rows = ok_rows(&query_files(
        &[("small.log", small)],
        &["--group-by", "vpc_id"],
    ));
    assert_eq!(
        got_groups(&rows, &["vpc_id"]),
        [
            (vec![None], (1, 5, 500)),
            (vec![Some("vpc-9".to_string())], (1, 3, 300))
        ]
        .into()
    );
    // The v2 part alone, by its null vpc_id and by a CIDR of its own addresses.
    let rows = ok_rows(&query_files(
        &files,
        &["--where", "vpc_id=-", "--where", "srcaddr=10.0.3.0/24"],
    ));
    assert_eq!(
        totals(&rows),
        (
            60,
            (0..60).map(|i| i + 2).sum(),
            (0..60).map(|i| 50 * i + 3).sum()
        )
    );
}
