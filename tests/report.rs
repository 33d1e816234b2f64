//! `vpcflow report`: the aggregates it draws, checked against sums computed here from
//! the records `vpcflow cat --map` prints; its exit codes, which are the audit's; and
//! the page: self-contained, every finding in it, small, the same for any thread count,
//! and honest when it cannot judge. `tests/report_browser.rs` opens it in Chromium.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;

use serde_json::Value;
use vpcflow::enrich::{load_map_file, EniMap, Enricher};
use vpcflow::error::{FileError, Reject};
use vpcflow::intern::NONE;
use vpcflow::pipeline::{fold, Events, Input, Run};
use vpcflow::report::traffic::{kind_of, PeerClass};
use vpcflow::report::{Observer, TrafficState};
use vpcflow::scan::ScanOptions;
use vpcflow::source::{discover, Source};

use common::{root, vpcflow};

fn demo(extra: &[&str]) -> Vec<String> {
    let path = |p: &str| root(&format!("testdata/demo/{p}")).display().to_string();
    let mut a = vec![
        path("logs"),
        "--map".into(),
        path("eni-map.csv"),
        "--policy".into(),
        path("policy.toml"),
    ];
    a.extend(extra.iter().map(|s| s.to_string()));
    a
}

struct Quiet;
impl Events for Quiet {
    fn reject(&mut self, _: &Source, _: &Reject) -> Result<(), vpcflow::Error> {
        Ok(())
    }
    fn file_error(&mut self, _: &Source, _: &FileError) -> Result<(), vpcflow::Error> {
        Ok(())
    }
}

/// The report's aggregates of the demo, folded by the library on `threads` workers.
fn fold_demo(threads: usize) -> TrafficState {
    let map = Arc::new(EniMap::from_facts(
        load_map_file(root("testdata/demo/eni-map.csv").to_str().unwrap())
            .unwrap()
            .facts,
    ));
    let (sources, _) = discover(&[root("testdata/demo/logs").display().to_string()]);
    let mut input = Input::new(sources, ScanOptions::default());
    input.threads = threads;
    let vpc = ["10.0.0.0/16".parse().unwrap()];
    let enricher = Enricher::new(map.clone(), &vpc);
    let run = Run {
        input: &input,
        enricher: Some(&enricher),
        progress: &|_| {},
    };
    fold(&run, &Observer { map }, &mut Quiet).unwrap().0
}

type Key = (String, String);

/// The aggregates with their strings: what is compared.
#[derive(Debug, Default, PartialEq, Eq)]
struct Plain {
    first: Option<i64>,
    last: Option<i64>,
    /// (service, cluster) -> records, bytes, rejected, undirected bytes.
    services: BTreeMap<Key, [u64; 4]>,
    /// (service, cluster) -> distinct tasks.
    tasks: BTreeMap<Key, u64>,
    /// (service, cluster, minute) -> bytes by class.
    series: BTreeMap<(Key, i64), [u64; 5]>,
    /// (service, cluster, peer kind, group) -> records, bytes in, bytes out, rejected.
    edges: BTreeMap<(Key, String, String), [u64; 4]>,
    /// (protocol, port, inbound) -> records, packets, bytes.
    rejected: BTreeMap<(u16, u16, bool), [u64; 3]>,
}

fn plain(t: &TrafficState) -> Plain {
    let s = |id: u32| {
        if id == NONE {
            String::new()
        } else {
            t.strings.get(id).unwrap().to_string()
        }
    };
    let key = |k: &(u32, u32)| (s(k.0), s(k.1));
    let mut p = Plain {
        first: t.first,
        last: t.last,
        ..Plain::default()
    };
    for (k, v) in &t.services {
        p.services
            .insert(key(k), [v.records, v.bytes, v.rejected, v.undirected_bytes]);
    }
    for (k, _) in &t.tasks {
        *p.tasks.entry(key(k)).or_default() += 1;
    }
    for ((k, b), v) in &t.series {
        p.series.insert((key(k), *b), *v);
    }
    for ((k, g), e) in &t.edges {
        let group = if g.label == NONE {
            vpcflow::net::addr_string(&g.prefix)
        } else {
            s(g.label)
        };
        p.edges.insert(
            (key(k), kind_of(g.kind).as_str().to_string(), group),
            [e.records, e.bytes_in, e.bytes_out, e.rejected],
        );
    }
    for (k, c) in &t.rejected {
        p.rejected.insert(*k, [c.records, c.packets, c.bytes]);
    }
    p
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or("").to_string()
}

fn num(v: &Value) -> u64 {
    v.as_u64().unwrap_or(0)
}

/// The aggregates computed here, from `vpcflow cat --map`'s records and the map CSV.
fn expected() -> Plain {
    let o = vpcflow(&[
        "cat".to_string(),
        root("testdata/demo/logs").display().to_string(),
        "--map".into(),
        root("testdata/demo/eni-map.csv").display().to_string(),
        "--vpc-cidr".into(),
        "10.0.0.0/16".into(),
        "-q".into(),
    ]);
    assert!(o.status.success());
    // The map's clusters and load balancers (else first security group) by ENI, read
    // as plain CSV.
    let csv = std::fs::read_to_string(root("testdata/demo/eni-map.csv")).unwrap();
    let mut cluster = BTreeMap::new();
    let mut groups = BTreeMap::new();
    for line in csv.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        cluster.insert(f[0].to_string(), f[4].to_string());
        let mut sgs: Vec<&str> = f[7].split(';').filter(|s| !s.is_empty()).collect();
        sgs.sort();
        let lb = f.get(12).filter(|s| !s.is_empty()).map(|s| s.to_string());
        groups.insert(
            f[0].to_string(),
            lb.or_else(|| sgs.first().map(|s| s.to_string())),
        );
    }
    let mut p = Plain::default();
    let mut tasks: BTreeMap<Key, std::collections::BTreeSet<String>> = BTreeMap::new();
    for r in common::json_lines(&o) {
        if let Some(s) = r["start"].as_i64() {
            p.first = Some(p.first.map_or(s, |f| f.min(s)));
        }
        if let Some(e) = r["end"].as_i64().or(r["start"].as_i64()) {
            p.last = Some(p.last.map_or(e, |l| l.max(e)));
        }
        // A NAT gateway's own records of a task's traffic make the NAT gateway a peer
        // of the task's service.
        if r["eni_kind"] == "natgw" && r["peer_kind"] == "task" {
            let peer_eni = text(&r["peer_eni_id"]);
            let key = (
                text(&r["peer_service"]),
                cluster.get(&peer_eni).cloned().unwrap_or_default(),
            );
            let e = p
                .edges
                .entry((key, "natgw".into(), text(&r["interface_id"])))
                .or_default();
            e[0] += 1;
            // Into the NAT gateway: sent by the task.
            e[if r["inbound"] == true { 2 } else { 1 }] += num(&r["bytes"]);
            e[3] += (r["action"] == "REJECT") as u64;
            continue;
        }
        if r["eni_kind"] != "task" || r["task_arn"].is_null() {
            continue;
        }
        let key = (text(&r["service"]), text(&r["cluster"]));
        tasks
            .entry(key.clone())
            .or_default()
            .insert(text(&r["task_arn"]));
        let bytes = num(&r["bytes"]);
        let rejected = r["action"] == "REJECT";
        let t = p.services.entry(key.clone()).or_default();
        t[0] += 1;
        t[1] += bytes;
        t[2] += rejected as u64;
        let kind = text(&r["peer_kind"]);
        if kind.is_empty() || r["peer_addr"].is_null() {
            t[3] += bytes;
            continue;
        }
        let inbound = r["inbound"] == true;
        if rejected {
            let k = (
                r["protocol"].as_u64().map_or(u16::MAX, |p| p as u16),
                num(&r["dstport"]) as u16,
                inbound,
            );
            let c = p.rejected.entry(k).or_default();
            c[0] += 1;
            c[1] += num(&r["packets"]);
            c[2] += bytes;
        }
        if let Some(s) = r["start"].as_i64() {
            let class = match kind.as_str() {
                "internet" => 0,
                "alb" | "nlb" => 2,
                "task" => 3,
                "vpce" => 4,
                _ => 1,
            };
            p.series.entry((key.clone(), s - s % 60)).or_default()[class] += bytes;
        }
        let peer_eni = text(&r["peer_eni_id"]);
        let group = match kind.as_str() {
            "internet" | "vpc" => {
                let a = text(&r["peer_addr"]);
                let (net, _) = a.rsplit_once('.').unwrap();
                format!("{net}.0")
            }
            "task" => match (&r["peer_service"], cluster.get(&peer_eni)) {
                (Value::String(s), Some(c)) => format!("{s}\u{1f}{c}"),
                _ => text(&r["peer_task_arn"]),
            },
            "alb" | "nlb" => groups[&peer_eni].clone().unwrap_or(peer_eni),
            _ => peer_eni,
        };
        let e = p.edges.entry((key, kind, group)).or_default();
        e[0] += 1;
        e[1 + !inbound as usize] += bytes;
        e[3] += rejected as u64;
    }
    p.tasks = tasks
        .into_iter()
        .map(|(k, v)| (k, v.len() as u64))
        .collect();
    p
}

#[test]
fn report_aggregates_are_the_sums_of_the_demo_records() {
    let want = expected();
    let got = plain(&fold_demo(2));
    // The demo has what each part draws: five services and a standalone task
    // (`migrate`, no service), internet, VPC, load balancer, task and endpoint peers, a
    // NAT gateway, and rejected records.
    assert_eq!(want.services.len(), 6);
    for class in PeerClass::ALL {
        assert!(
            want.series.values().any(|v| v[class as usize] > 0),
            "{class:?}"
        );
    }
    assert!(!want.rejected.is_empty());
    assert!(
        want.edges.keys().any(|(_, kind, _)| kind == "natgw"),
        "no service reached the NAT gateway"
    );
    assert_eq!(got.first, want.first);
    assert_eq!(got.last, want.last);
    assert_eq!(got.services, want.services);
    assert_eq!(got.tasks, want.tasks);
    assert_eq!(got.series, want.series);
    assert_eq!(got.edges, want.edges);
    assert_eq!(got.rejected, want.rejected);
}

#[test]
fn report_aggregates_are_the_same_for_any_thread_count() {
    let one = plain(&fold_demo(1));
    assert_eq!(plain(&fold_demo(3)), one);
    assert_eq!(plain(&fold_demo(8)), one);
}

fn audit_lines(args: &[String]) -> (Option<i32>, Vec<Value>) {
    let mut a = vec!["audit".to_string()];
    a.extend(args.iter().cloned());
    a.extend(["--format".into(), "json".into(), "-q".into()]);
    let o = vpcflow(&a);
    (o.status.code(), common::json_lines(&o))
}

fn report(args: &[String], out: &Path) -> Output {
    let mut a = vec!["report".to_string()];
    a.extend(args.iter().cloned());
    a.extend(["-o".into(), out.display().to_string()]);
    vpcflow(&a)
}

/// Text as the page escapes it.
fn escaped(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

#[test]
fn report_exits_as_audit_does_and_holds_every_finding() {
    let dir = tempfile::tempdir().unwrap();
    let clean = |p: &str| {
        root(&format!("testdata/demo-clean/{p}"))
            .display()
            .to_string()
    };
    let cases: Vec<(&str, Vec<String>, i32, usize)> = vec![
        ("demo", demo(&[]), 1, 14),
        ("one rule", demo(&["--rule", "cleartext"]), 1, 3),
        (
            "before the first finding",
            demo(&["--until", "2026-11-01T00:04:00Z"]),
            0,
            0,
        ),
        (
            "clean",
            vec![
                clean("logs"),
                "--map".into(),
                clean("eni-map.csv"),
                "--policy".into(),
                clean("policy.toml"),
            ],
            0,
            0,
        ),
    ];
    for (name, args, code, n) in cases {
        let (audit_code, findings) = audit_lines(&args);
        assert_eq!(audit_code, Some(code), "{name}: audit");
        assert_eq!(findings.len(), n, "{name}: audit");
        let page = dir.path().join(format!("{}.html", name.replace(' ', "-")));
        let o = report(&args, &page);
        assert_eq!(
            o.status.code(),
            Some(code),
            "{name}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("vpcflow: report: wrote"), "{name}: {err}");
        // The same closing summary as audit's.
        assert!(err.contains("vpcflow: audit: "), "{name}: {err}");
        let html = std::fs::read_to_string(&page).unwrap();
        assert_eq!(
            html.matches("<tr id=\"f-").count(),
            n,
            "{name}: one row per finding"
        );
        for f in &findings {
            let key = format!(
                "data-key=\"{}|{}|{}|{}|{}\"",
                text(&f["rule"]),
                text(&f["eni_id"]),
                text(&f["peer_addr"]),
                f["protocol"],
                text(&f["action"])
            );
            assert!(html.contains(&key), "{name}: no row {key}");
            // The row names the task by its service and short id, not by its ENI.
            if let Some(arn) = f["task_arn"].as_str() {
                let id = arn.rsplit('/').next().unwrap();
                let service = f["service"].as_str().unwrap_or("task");
                let label = format!(
                    "<div class=\"sub\">{service}/{}</div>",
                    &id[..id.len().min(8)]
                );
                assert!(
                    html.contains(&label),
                    "{name}: no task name {label} for {key}"
                );
            }
            assert!(
                html.contains(&escaped(&text(&f["reason"]))),
                "{name}: no reason for {key}"
            );
        }
        // Within a service, the worst first.
        let mut rows: Vec<(String, usize)> = Vec::new();
        for part in html.split("<tr id=\"f-").skip(1) {
            let attr = |a: &str| {
                let at = part.find(&format!("{a}=\"")).unwrap() + a.len() + 2;
                part[at..at + part[at..].find('"').unwrap()].to_string()
            };
            let sev = ["high", "medium", "low"]
                .iter()
                .position(|s| *s == attr("data-severity"))
                .unwrap();
            rows.push((attr("data-service"), sev));
        }
        for w in rows.windows(2) {
            if w[0].0 == w[1].0 {
                assert!(w[0].1 <= w[1].1, "{name}: {rows:?}");
            }
        }
        if n == 0 {
            assert!(html.contains("<strong>No findings</strong>"), "{name}");
        } else {
            assert!(
                html.contains(&format!("<strong>{n} finding")),
                "{name}: the banner"
            );
        }
    }
    // Nothing to audit: the audit's error, exit 2, and no page.
    let page = dir.path().join("none.html");
    let o = report(&demo(&["--since", "2027-01-01"]), &page);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no task could be audited"));
    assert!(!page.exists());
}

#[test]
fn report_page_is_self_contained_and_small() {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("r.html");
    assert_eq!(report(&demo(&[]), &page).status.code(), Some(1));
    let html = std::fs::read_to_string(&page).unwrap();
    let size = html.len();
    assert!(size < 1_000_000, "the demo's page is {size} bytes");
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.trim_end().ends_with("</html>"));
    // Nothing comes from elsewhere: no linked style, script, image or font, and a
    // policy that forbids fetching anything.
    for outside in [
        "<link",
        " src=",
        "url(",
        "@import",
        "href=\"http",
        "href=\"//",
    ] {
        assert!(!html.contains(outside), "the page has {outside:?}");
    }
    // The policy names the page's one style and one script by their SHA-256.
    let digest = |s: &str| {
        use base64::Engine;
        use sha2::Digest;
        base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(s.as_bytes()))
    };
    let inline = |tag: &str| {
        let open = format!("<{tag}>");
        let at = html.find(&open).unwrap() + open.len();
        let end = html[at..].find(&format!("</{tag}>")).unwrap();
        html[at..at + end].to_string()
    };
    assert_eq!(html.matches("<script").count(), 1);
    assert_eq!(html.matches("<style").count(), 1);
    assert!(html.contains(&format!(
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
         style-src 'sha256-{}'; script-src 'sha256-{}'; img-src data:\">",
        digest(&inline("style")),
        digest(&inline("script"))
    )));
    // Every part is there: one timeline and one graph per service, the bars.
    assert_eq!(html.matches("<svg class=\"chart timeline\"").count(), 6);
    assert_eq!(html.matches("<svg class=\"chart graph\"").count(), 6);
    assert_eq!(html.matches("<svg class=\"chart bars\"").count(), 1);
    // The summary's accounting of lines.
    assert!(html.contains("6,012 lines = 6,000 records + 0 rejected + 12 headers + 0 blank"));
}

/// The page without the line that says when it was made.
fn timeless(html: &str) -> String {
    html.lines()
        .filter(|l| !l.starts_with("<footer><p>Made by vpcflow"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn report_is_the_same_for_any_thread_count_and_on_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let one = dir.path().join("1.html");
    assert_eq!(
        report(&demo(&["--threads", "1"]), &one).status.code(),
        Some(1)
    );
    let three = dir.path().join("3.html");
    assert_eq!(
        report(&demo(&["--threads", "3"]), &three).status.code(),
        Some(1)
    );
    let one = std::fs::read_to_string(one).unwrap();
    assert_eq!(
        timeless(&std::fs::read_to_string(three).unwrap()),
        timeless(&one)
    );
    let mut args = vec!["report".to_string()];
    args.extend(demo(&["--threads", "1", "-o", "-"]));
    let o = vpcflow(&args);
    assert_eq!(o.status.code(), Some(1));
    let out = String::from_utf8(o.stdout).unwrap();
    // Only the command line in the footer differs.
    let strip = |s: &str| {
        timeless(s)
            .lines()
            .filter(|l| !l.contains("vpcflow report"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(strip(&out), strip(&one));
}

#[test]
fn report_to_a_missing_directory_fails_before_reading() {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("no/such/dir/r.html");
    let o = report(&demo(&[]), &page);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("--output: cannot write"), "{err}");
    assert!(err.contains("No such file or directory"), "{err}");
    // Nothing was read.
    assert!(!err.contains("lines ="), "{err}");
    let o = report(&demo(&[]), dir.path());
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("it is a directory"));
    // The check leaves nothing behind.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn report_that_cannot_judge_says_so_at_the_top_and_exits_2() {
    // A v2 log (no pkt-*-aws-service) of a private_aws_access task reaching the
    // internet, and no --aws-ip-ranges: the audit cannot judge privatelink-bypass.
    let dir = tempfile::tempdir().unwrap();
    let policy = "[network]\nvpc_cidrs = [\"10.0.0.0/16\"]\n[[service]]\nname = \"web\"\n\
                  ingress_from_cidrs = [\"vpc\"]\nprivate_aws_access = true\n";
    let logs =
        "2 123456789012 eni-web 10.0.1.10 52.216.8.117 40001 443 6 3 300 1793491200 1793491210 ACCEPT OK\n\
         2 123456789012 eni-web 52.216.8.117 10.0.1.10 443 40001 6 3 300 1793491200 1793491210 ACCEPT OK\n";
    let out = dir.path().join("r.html");
    let o = small_report(dir.path(), WEB_MAP, policy, logs, &out);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("vpcflow: error: privatelink-bypass could not be judged: 2 records"),
        "{err}"
    );
    let html = std::fs::read_to_string(&out).unwrap();
    assert!(html.contains("This is not a clean result: privatelink-bypass could not be judged"));
    assert!(
        !html.contains("No findings"),
        "a clean verdict it did not earn"
    );
}

#[test]
fn report_escapes_what_the_map_and_the_logs_say() {
    // Names from the map and the logs are text on the page, never markup.
    let dir = tempfile::tempdir().unwrap();
    let map = "eni-web,task,10.0.1.10,arn:aws:ecs:us-east-1:1:task/prod/web1,prod,\
               <img src=x onerror=alert(1)>,web,sg-web,,,,\n";
    let out = dir.path().join("r.html");
    let o = small_report(
        dir.path(),
        map,
        "[defaults]\ningress_from_cidrs = []\n",
        INTO_WEB,
        &out,
    );
    let html = page(&o, 1, &out);
    assert!(
        !html.contains("<img"),
        "markup from the map reached the page"
    );
    assert!(html.contains("&lt;img src=x onerror=alert(1)&gt; · prod"));
}

/// Writes a map, a policy and flow-log lines into `dir`, and runs `report` on them with
/// `extra` arguments; the page goes to `out`.
fn small_report(dir: &Path, map_rows: &str, policy: &str, logs: &str, out: &Path) -> Output {
    let p = |f: &str| dir.join(f).display().to_string();
    std::fs::write(
        p("map.csv"),
        format!(
            "eni_id,kind,private_ip,task_arn,cluster,service,task_family,security_groups,\
             subnet_id,vpc_id,valid_from,valid_to\n{map_rows}"
        ),
    )
    .unwrap();
    std::fs::write(p("policy.toml"), policy).unwrap();
    std::fs::create_dir_all(dir.join("logs")).unwrap();
    std::fs::write(dir.join("logs/flows.log"), logs).unwrap();
    vpcflow(&[
        "report".to_string(),
        p("logs"),
        "--map".into(),
        p("map.csv"),
        "--policy".into(),
        p("policy.toml"),
        "--vpc-cidr".into(),
        "10.0.0.0/16".into(),
        "-o".into(),
        out.display().to_string(),
    ])
}

/// The page a run wrote, once its exit code is checked.
fn page(o: &Output, code: i32, out: &Path) -> String {
    assert_eq!(
        o.status.code(),
        Some(code),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    std::fs::read_to_string(out).unwrap()
}

const WEB_MAP: &str =
    "eni-web,task,10.0.1.10,arn:aws:ecs:us-east-1:1:task/prod/web1,prod,web,web,sg-web,,,,\n";
const WEB_POLICY: &str = "[[service]]\nname = \"web\"\ningress_from_cidrs = [\"vpc\"]\n";
const INTO_WEB: &str =
    "2 123456789012 eni-web 198.51.100.7 10.0.1.10 40001 8080 6 3 300 1793491200 1793491210 ACCEPT OK\n";

#[test]
fn report_to_a_symlink_writes_the_file_it_points_to() {
    let dir = tempfile::tempdir().unwrap();
    let real = dir.path().join("real.html");
    std::fs::write(&real, "old").unwrap();
    let link = dir.path().join("link.html");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let o = small_report(dir.path(), WEB_MAP, WEB_POLICY, INTO_WEB, &link);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    assert!(std::fs::read_to_string(&real)
        .unwrap()
        .starts_with("<!DOCTYPE html>"));
}

#[test]
fn report_to_a_fifo_writes_into_it() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("page.fifo");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    // A reader that gives up after a while (a FIFO replaced by a file is never written).
    let reader = Command::new("timeout")
        .arg("60")
        .arg("cat")
        .arg(&fifo)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let o = small_report(dir.path(), WEB_MAP, WEB_POLICY, INTO_WEB, &fifo);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let read = reader.wait_with_output().unwrap();
    assert!(String::from_utf8_lossy(&read.stdout).starts_with("<!DOCTYPE html>"));
    use std::os::unix::fs::FileTypeExt;
    assert!(std::fs::metadata(&fifo).unwrap().file_type().is_fifo());
}

#[test]
fn report_a_cluster_named_by_arn_and_by_name_is_one_service() {
    let dir = tempfile::tempdir().unwrap();
    let map = "eni-web,task,10.0.1.10,arn:aws:ecs:us-east-1:1:task/prod/web1,prod,web,web,sg-web,,,,\n\
               eni-web2,task,10.0.1.11,arn:aws:ecs:us-east-1:1:task/prod/web2,arn:aws:ecs:us-east-1:1:cluster/prod,web,web,sg-web,,,,\n";
    let logs = format!(
        "{INTO_WEB}2 123456789012 eni-web2 198.51.100.8 10.0.1.11 40002 8080 6 3 300 1793491200 1793491210 ACCEPT OK\n"
    );
    let out = dir.path().join("r.html");
    let o = small_report(dir.path(), map, WEB_POLICY, &logs, &out);
    let html = page(&o, 1, &out);
    assert_eq!(html.matches("<article class=\"service\"").count(), 1);
    assert!(html.contains("<h3>web · prod</h3>"));
    assert!(html.contains("2 tasks · 2 records"));
}

#[test]
fn report_sums_of_huge_byte_counts_do_not_overflow() {
    let dir = tempfile::tempdir().unwrap();
    let line = |port: u16| {
        format!(
            "2 123456789012 eni-web 198.51.100.7 10.0.1.10 {port} 8080 6 3 9223372036854775807 \
             1793491200 1793491210 ACCEPT OK\n"
        )
    };
    let logs: String = (40001..40005).map(line).collect();
    let out = dir.path().join("r.html");
    let o = small_report(dir.path(), WEB_MAP, WEB_POLICY, &logs, &out);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(std::fs::read_to_string(&out).unwrap().contains("</html>"));
}

#[test]
fn report_findings_without_a_time_say_so() {
    let dir = tempfile::tempdir().unwrap();
    let logs = "2 123456789012 eni-web 198.51.100.7 10.0.1.10 40001 8080 6 3 300 - - ACCEPT OK\n";
    let out = dir.path().join("r.html");
    let o = small_report(dir.path(), WEB_MAP, WEB_POLICY, logs, &out);
    let html = page(&o, 1, &out);
    assert!(!html.contains("1970"), "a time the records do not have");
    assert!(html.contains("unknown"));
}

#[test]
fn report_does_not_read_its_own_page_as_input() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("logs/report.html");
    for _ in 0..2 {
        let o = small_report(dir.path(), WEB_MAP, WEB_POLICY, INTO_WEB, &out);
        assert_eq!(o.status.code(), Some(1));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains("1 file, 1 lines = 1 records + 0 rejected"),
            "{err}"
        );
    }
}

#[test]
fn report_no_findings_banner_says_what_was_not_audited() {
    // web's traffic keeps to its rule, but api has no rule and is not audited.
    let dir = tempfile::tempdir().unwrap();
    let map = format!(
        "{WEB_MAP}eni-api,task,10.0.2.20,arn:aws:ecs:us-east-1:1:task/prod/api1,prod,api,api,sg-api,,,,\n"
    );
    let logs = "2 123456789012 eni-web 10.0.9.9 10.0.1.10 40001 8080 6 3 300 1793491200 1793491210 ACCEPT OK\n\
                2 123456789012 eni-api 198.51.100.7 10.0.2.20 40001 9090 6 3 300 1793491200 1793491210 ACCEPT OK\n";
    let out = dir.path().join("r.html");
    let o = small_report(dir.path(), &map, WEB_POLICY, logs, &out);
    let html = page(&o, 0, &out);
    let banner = html
        .lines()
        .find(|l| l.contains("<strong>No findings</strong>"))
        .unwrap();
    assert!(banner.contains("1 task not audited"), "{banner}");
}
