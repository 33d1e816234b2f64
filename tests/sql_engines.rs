//! `vpcflow sql` on the real engines: the demo and generated scenarios (every flow-log
//! version the generator writes, layout switches, IPv6, both kinds of map) converted to
//! Parquet in each layout, the tables made with `vpcflow sql --ddl`, and the emitted
//! query run on DuckDB and on Apache Spark in local mode (`scripts/run-sql`). Each must
//! return exactly the lines of `vpcflow audit --format json` on the text. The trino
//! dialect, with no Trino here, is translated to DuckDB's by sqlglot and run there.
//!
//! `VPCFLOW_SQL_ENGINES=require` (CI) makes a missing engine a failure; `skip` skips
//! the engines; `duckdb` or `spark` runs (and requires) that one only; unset, an engine
//! that is not installed is skipped with a message. `VPCFLOW_SQL_CASES=DIR` keeps the
//! converted cases there, to run `scripts/run-sql` on them again.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{root, vpcflow};

fn ok(o: Output, what: &str) -> Output {
    assert!(
        o.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

/// How the flow logs of a case are laid out in Parquet.
#[derive(Clone, Copy, Debug)]
enum Layout {
    File,
    Days,
    Hours,
}

/// One scenario: its logs, its map files, policy, the native findings, and how its
/// Parquet is laid out.
struct Scenario {
    name: String,
    logs: PathBuf,
    maps: Vec<PathBuf>,
    policy: PathBuf,
    layout: Layout,
    /// Rule options given to both `vpcflow audit` and `vpcflow sql`.
    args: Vec<String>,
    /// `vpcflow audit --format json`, as lines.
    native: Vec<String>,
    /// Why `vpcflow audit` could not judge (its error, exit 2); `None` when it did
    /// (exit 0 or 1).
    unjudged: Option<String>,
}

/// The rule options of most scenarios: AWS's ranges for privatelink-bypass.
fn with_ranges() -> Vec<String> {
    vec!["--aws-ip-ranges".into(), root(RANGES).display().to_string()]
}

impl Scenario {
    fn new(name: &str, logs: &Path, maps: Vec<PathBuf>, policy: &Path, layout: Layout) -> Self {
        Scenario::with_args(name, logs, maps, policy, layout, with_ranges())
    }

    fn with_args(
        name: &str,
        logs: &Path,
        maps: Vec<PathBuf>,
        policy: &Path,
        layout: Layout,
        args: Vec<String>,
    ) -> Self {
        let (native, unjudged) = native(logs, &maps, policy, &args);
        Scenario {
            name: name.to_string(),
            logs: logs.to_path_buf(),
            maps,
            policy: policy.to_path_buf(),
            layout,
            args,
            native,
            unjudged,
        }
    }
}

const RANGES: &str = "testdata/aws-ip-ranges.json";

/// The findings of `vpcflow audit --format json`, as lines, and why it could not judge
/// (exit 2), if it could not.
fn native(
    logs: &Path,
    maps: &[PathBuf],
    policy: &Path,
    rules: &[String],
) -> (Vec<String>, Option<String>) {
    let mut args = vec![
        "audit".to_string(),
        logs.display().to_string(),
        "--policy".into(),
        policy.display().to_string(),
        "--format".into(),
        "json".into(),
        "-q".into(),
    ];
    args.extend(rules.iter().cloned());
    for m in maps {
        args.push("--map".into());
        args.push(m.display().to_string());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = vpcflow(&args);
    let stderr = String::from_utf8_lossy(&o.stderr);
    let unjudged = match o.status.code() {
        Some(0 | 1) => None,
        Some(2) => Some(
            stderr
                .trim_end()
                .strip_prefix("vpcflow: error: ")
                .unwrap_or_else(|| panic!("audit: {stderr}"))
                .to_string(),
        ),
        _ => panic!("audit: {stderr}"),
    };
    let lines = String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    (lines, unjudged)
}

/// Generated scenarios (scripts/gen-flowlogs --rule-cases), with either kind of map.
/// The generated scenarios, or only the one of seed `only`; `None`, with `test` said to
/// skip them, without python3.
fn generated(test: &str, dir: &Path, only: Option<&str>) -> Option<Vec<Scenario>> {
    if !common::python3() {
        common::skip(
            test,
            "the generated scenarios: python3 is needed for scripts/gen-flowlogs",
        );
        return None;
    }
    let mut out = Vec::new();
    // The last one is the generator's plain scenario (no --rule-cases, another policy):
    // an internet host scans api, whose ingress lists name services (the query once
    // took `p_service IN (...)` of a peer without a service for unknown, not false).
    let rule_cases = ["--rule-cases"];
    for (seed, version, extra, layout) in [
        ("21", "2", &rule_cases[..], Layout::Days),
        ("22", "5", &rule_cases[..], Layout::Hours),
        (
            "23",
            "7",
            &["--rule-cases", "--switch-version", "2", "--hard-cases"][..],
            Layout::File,
        ),
        ("24", "10", &rule_cases[..], Layout::Days),
        (
            "25",
            "5",
            &["--rule-cases", "--switch-version", "10", "--hard-cases"][..],
            Layout::Hours,
        ),
        (
            "26",
            "10",
            &["--rule-cases", "--no-violations"][..],
            Layout::File,
        ),
        ("27", "5", &[][..], Layout::Days),
    ] {
        if only.is_some_and(|o| o != seed) {
            continue;
        }
        let d = dir.join(format!("gen-v{version}-{seed}"));
        let mut cmd = Command::new("python3");
        cmd.arg(root("scripts/gen-flowlogs"))
            .args(["--seed", seed, "--version", version, "--layout", "s3"])
            .args(["--records", "6000", "--quiet"])
            .args(extra);
        cmd.arg("--out").arg(d.join("logs"));
        for (flag, file) in [
            ("--map-out", "map.csv"),
            ("--policy-out", "policy.toml"),
            ("--describe-tasks-out", "tasks.json"),
            ("--describe-enis-out", "enis.json"),
        ] {
            cmd.arg(flag).arg(d.join(file));
        }
        let o = cmd.output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        for (kind, maps) in [
            ("csv", vec![d.join("map.csv")]),
            ("json", vec![d.join("tasks.json"), d.join("enis.json")]),
        ] {
            out.push(Scenario::new(
                &format!("gen-v{version}-{seed}-{kind}"),
                &d.join("logs"),
                maps,
                &d.join("policy.toml"),
                layout,
            ));
        }
    }
    Some(out)
}

fn demo() -> Vec<Scenario> {
    let d = root("testdata/demo");
    [
        ("demo-csv", vec![d.join("eni-map.csv")], Layout::Days),
        (
            "demo-json",
            vec![
                d.join("aws/describe-tasks.json"),
                d.join("aws/describe-network-interfaces.json"),
            ],
            Layout::File,
        ),
    ]
    .into_iter()
    .map(|(name, maps, layout)| {
        Scenario::new(name, &d.join("logs"), maps, &d.join("policy.toml"), layout)
    })
    .collect()
}

/// Converts a scenario to Parquet and writes each engine's DDL and query into
/// `case/<engine>/`.
fn prepare(s: &Scenario, case: &Path, engines: &[&str]) {
    std::fs::create_dir_all(case).unwrap();
    let logs = s.logs.to_str().unwrap();
    let (flows, keys) = match s.layout {
        Layout::File => (case.join("flows.parquet"), None),
        Layout::Days => (case.join("flows"), Some("year,month,day")),
        Layout::Hours => (case.join("flows"), Some("year,month,day,hour")),
    };
    let flows = flows.to_str().unwrap().to_string();
    let mut args = vec!["convert", logs, "-o", &flows, "-q"];
    if let Some(k) = keys {
        args.extend(["--partition-by", k]);
    }
    ok(vpcflow(&args), "convert");
    // Alone in its folder: Spark's and Athena's tables take the folder.
    std::fs::create_dir_all(case.join("eni-map")).unwrap();
    let map = case.join("eni-map").join("map.parquet");
    let map = map.to_str().unwrap();
    let mut args = vec!["map"];
    let files: Vec<String> = s.maps.iter().map(|m| m.display().to_string()).collect();
    args.extend(files.iter().map(String::as_str));
    args.extend(["--format", "parquet", "-o", map]);
    ok(vpcflow(&args), "map");
    for e in engines {
        let dir = case.join(e);
        std::fs::create_dir_all(&dir).unwrap();
        // The trino query runs on DuckDB, translated (see scripts/run-sql).
        let tables = if *e == "trino" { "duckdb" } else { e };
        let mut args = vec![
            "sql",
            "--dialect",
            tables,
            "--ddl",
            "--flows-location",
            &flows,
            "--map-location",
            map,
        ];
        if let Some(k) = keys {
            args.extend(["--partition-by", k]);
        }
        let ddl = ok(vpcflow(&args), "sql --ddl");
        std::fs::write(dir.join("ddl.sql"), ddl.stdout).unwrap();
        let policy = s.policy.to_str().unwrap();
        let mut args = vec!["sql", "--dialect", e, "--policy", policy];
        args.extend(s.args.iter().map(String::as_str));
        let q = ok(vpcflow(&args), "sql");
        std::fs::write(dir.join("query.sql"), q.stdout).unwrap();
    }
}

/// Whether an engine can be used here by `test` (which is said to skip it where not);
/// panics when CI requires it and it cannot.
fn engine_available(test: &str, engine: &str) -> bool {
    let mut mode = std::env::var("VPCFLOW_SQL_ENGINES").unwrap_or_default();
    if mode == "skip" || ENGINES.contains(&mode.as_str()) && mode != engine {
        common::skip(test, &format!("{engine}: VPCFLOW_SQL_ENGINES={mode}"));
        return false;
    }
    if mode == engine {
        mode = "require".into();
    }
    let module = match engine {
        "spark" => "pyspark",
        "trino" => "sqlglot",
        e => e,
    };
    let found = common::python_imports(module);
    if !found {
        assert!(
            mode != "require",
            "VPCFLOW_SQL_ENGINES=require, but the Python package {module} is not installed"
        );
        common::skip(
            test,
            &format!("{engine}: python3 cannot import {module} (pip install {module})"),
        );
    }
    found
}

/// DuckDB, Spark local, and the trino dialect translated to DuckDB by sqlglot (no
/// Trino server runs here).
const ENGINES: [&str; 3] = ["duckdb", "spark", "trino"];

#[test]
fn the_emitted_sql_returns_the_native_findings_on_duckdb_and_spark() {
    let engines: Vec<&str> = ENGINES
        .into_iter()
        .filter(|e| {
            engine_available(
                "the_emitted_sql_returns_the_native_findings_on_duckdb_and_spark",
                e,
            )
        })
        .collect();
    if engines.is_empty() {
        return;
    }
    // `VPCFLOW_SQL_CASES=DIR` keeps the cases there (to rerun an engine on them).
    let temp = tempfile::tempdir().unwrap();
    let dir =
        std::env::var_os("VPCFLOW_SQL_CASES").map_or(temp.path().to_path_buf(), PathBuf::from);
    let mut scenarios = demo();
    scenarios.extend(
        generated(
            "the_emitted_sql_returns_the_native_findings_on_duckdb_and_spark",
            &dir,
            None,
        )
        .unwrap_or_default(),
    );
    // Every rule is found somewhere, and one scenario has no finding at all.
    let all: String = scenarios.iter().flat_map(|s| s.native.clone()).collect();
    for rule in [
        "unexpected-ingress",
        "unexpected-egress",
        "cleartext",
        "isolation",
        "privatelink-bypass",
    ] {
        assert!(all.contains(&format!("\"rule\":\"{rule}\"")), "{rule}");
    }
    assert!(scenarios.iter().any(|s| s.native.is_empty()));
    agree(&scenarios, &dir, &engines);
}

#[test]
fn sql_a_peer_without_a_service_is_not_on_a_list_of_services() {
    // An internet host (no service) scanning api, whose rule admits services web and
    // admin-gateway: `p_service IN (...)` is null there, and the query took the peer
    // for admitted; natively it is not on the list.
    if !engine_available(
        "sql_a_peer_without_a_service_is_not_on_a_list_of_services",
        "duckdb",
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let Some(scenarios) = generated(
        "sql_a_peer_without_a_service_is_not_on_a_list_of_services",
        dir.path(),
        Some("27"),
    ) else {
        return;
    };
    assert!(
        scenarios[0]
            .native
            .iter()
            .any(|f| f.contains("\"peer_addr\":\"203.0.113.77\"")
                && f.contains("\"service\":\"api\""))
    );
    agree(&scenarios[..1], dir.path(), &["duckdb"]);
}

#[test]
fn sql_of_defaults_alone_load_balancer_rules_and_unnamed_task_enis_agree() {
    // Tasks replaced every few minutes and an ALB ENI replaced: rules by load balancer
    // admit every ENI of it; with a map of the trail and a late snapshot only (no source
    // names the tasks), `[defaults]` judges the task ENIs, whose findings have no task.
    // Regression: a policy of `[defaults]` alone made `CASE ELSE 0 END`, which no engine
    // parses.
    if !engine_available(
        "sql_of_defaults_alone_load_balancer_rules_and_unnamed_task_enis_agree",
        "duckdb",
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("churn");
    if !common::generate_sources(
        "sql_of_defaults_alone_load_balancer_rules_and_unnamed_task_enis_agree",
        &d,
        "--seed 28 --version 5 --records 6000 --churn",
    ) {
        return;
    }
    let policy = std::fs::read_to_string(d.join("policy.toml")).unwrap();
    let by_lb = policy.replace(
        "ingress_from_security_groups = [\"sg-0a1b2c3d4e5f60718\"]",
        "ingress_from_load_balancers = [\"app/web-alb\"]",
    );
    assert_ne!(by_lb, policy);
    std::fs::write(d.join("by-lb.toml"), by_lb).unwrap();
    std::fs::write(
        d.join("defaults.toml"),
        "[network]\nvpc_cidrs = [\"10.0.0.0/16\"]\n[defaults]\n\
         ingress_from_load_balancers = [\"app/web-alb\", \"net/api-nlb\"]\n\
         ingress_from_cidrs = [\"10.0.64.0/18\"]\n",
    )
    .unwrap();
    let src = d.join("src");
    let logs = d.join("logs");
    let scenarios: Vec<Scenario> = [
        (
            "churn-by-lb",
            vec![
                src.join("events/ecs-events.jsonl"),
                src.join("trail"),
                src.join("late/describe-network-interfaces.json"),
            ],
            d.join("by-lb.toml"),
        ),
        (
            "churn-unnamed",
            vec![
                src.join("trail"),
                src.join("late/describe-network-interfaces.json"),
            ],
            d.join("defaults.toml"),
        ),
    ]
    .into_iter()
    .map(|(name, maps, policy)| Scenario::new(name, &logs, maps, &policy, Layout::Days))
    .collect();
    // The rule by load balancer admits the replaced ALB ENI too: nothing of web's
    // findings comes from an ALB; the unnamed task ENIs make findings without a task.
    assert!(!scenarios[0]
        .native
        .iter()
        .any(|f| f.contains("\"peer_kind\":\"alb\"")));
    assert!(!scenarios[1].native.is_empty());
    assert!(scenarios[1]
        .native
        .iter()
        .all(|f| f.contains("\"task_arn\":null")));
    agree(&scenarios, dir.path(), &["duckdb"]);
}

#[test]
fn sql_of_a_baseline_finds_the_native_new_peers() {
    // new-peer against a baseline learned from the first half hour of the demo, beside
    // the demo's policy and beside a policy that admits everyone, and the learned policy
    // (rules by task family too) as the policy: the query's findings are the audit's.
    let test = "sql_of_a_baseline_finds_the_native_new_peers";
    if !engine_available(test, "duckdb") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = root("testdata/demo");
    let baseline = dir.path().join("baseline.toml");
    let o = vpcflow(&[
        "learn",
        d.join("logs").to_str().unwrap(),
        "--map",
        d.join("eni-map.csv").to_str().unwrap(),
        "--vpc-cidr",
        "10.0.0.0/16",
        "--until",
        "2026-11-01T00:30:00Z",
        "-o",
        baseline.to_str().unwrap(),
        "-q",
    ]);
    ok(o, "learn");
    // A policy that admits everyone, so that new-peer alone makes findings.
    let open = dir.path().join("open.toml");
    std::fs::write(
        &open,
        "[defaults]\ningress_from_cidrs = [\"0.0.0.0/0\", \"::/0\"]\n",
    )
    .unwrap();
    let args = vec!["--baseline".to_string(), baseline.display().to_string()];
    let scenarios = vec![
        Scenario::with_args(
            "baseline-beside-policy",
            &d.join("logs"),
            vec![d.join("eni-map.csv")],
            &d.join("policy.toml"),
            Layout::Days,
            args.iter().cloned().chain(with_ranges()).collect(),
        ),
        Scenario::with_args(
            "baseline-open",
            &d.join("logs"),
            vec![d.join("eni-map.csv")],
            &open,
            Layout::File,
            args,
        ),
        // The learned policy itself, with its rule by task family (the standalone task
        // migrate), as the policy.
        Scenario::with_args(
            "learned-as-policy",
            &d.join("logs"),
            vec![d.join("eni-map.csv")],
            &baseline,
            Layout::Days,
            Vec::new(),
        ),
    ];
    let learned = std::fs::read_to_string(&baseline).unwrap();
    assert!(learned.contains("family = \"migrate\""), "{learned}");
    for s in &scenarios[..2] {
        assert!(
            s.native.iter().any(|f| f.contains("\"rule\":\"new-peer\"")),
            "{}: {:?}",
            s.name,
            s.native
        );
    }
    agree(&scenarios, dir.path(), &["duckdb"]);
}

static SPARK: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Prepares the scenarios' cases under `dir`, runs each engine on them, and requires the
/// native findings from every one.
fn agree(scenarios: &[Scenario], dir: &Path, engines: &[&str]) {
    let cases: Vec<PathBuf> = scenarios
        .iter()
        .map(|s| {
            let case = dir.join("cases").join(&s.name);
            prepare(s, &case, engines);
            case
        })
        .collect();
    // A v2 table made without --ddl lacks the later columns: `--fields` says so.
    let plain = scenarios
        .iter()
        .zip(&cases)
        .find(|(s, _)| s.name.starts_with("gen-v2-"));
    if let (Some((s, case)), true) = (plain, engines.contains(&"duckdb")) {
        let dir = case.join("duckdb-fields");
        std::fs::create_dir_all(&dir).unwrap();
        let flows = case.join("flows");
        std::fs::write(
            dir.join("ddl.sql"),
            format!(
                "CREATE VIEW flows AS SELECT * FROM read_parquet('{}/**/*.parquet', hive_partitioning = true);\n\
                 CREATE VIEW eni_map AS SELECT * FROM read_parquet('{}');\n",
                flows.display(),
                case.join("eni-map").join("map.parquet").display()
            ),
        )
        .unwrap();
        let q = ok(
            vpcflow(&[
                "sql",
                "--dialect",
                "duckdb",
                "--policy",
                s.policy.to_str().unwrap(),
                "--aws-ip-ranges",
                root(RANGES).to_str().unwrap(),
                "--fields",
                "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status",
            ]),
            "sql --fields",
        );
        std::fs::write(dir.join("query.sql"), q.stdout).unwrap();
    }
    for e in engines {
        // One Spark session at a time: two beside each other run out of memory.
        let _one = (*e == "spark").then(|| SPARK.lock().unwrap_or_else(|p| p.into_inner()));
        let mut cmd = Command::new("python3");
        cmd.arg(root("scripts/run-sql")).args(["--engine", e]);
        cmd.args(cases.iter().map(|c| c.join(e)));
        if *e == "duckdb" {
            if let Some((_, case)) = plain {
                cmd.arg(case.join("duckdb-fields"));
            }
        }
        let o = cmd.output().unwrap();
        assert!(
            o.status.success(),
            "run-sql --engine {e}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        for (s, case) in scenarios.iter().zip(&cases) {
            let got = std::fs::read_to_string(case.join(e).join("findings.jsonl")).unwrap();
            let got = judged_as_natively(&got, s, &format!("{e} on {}", s.name));
            assert_eq!(
                got, s.native,
                "{e} on {} ({:?}) differs from vpcflow audit",
                s.name, s.layout
            );
            let fields = case.join("duckdb-fields");
            if *e == "duckdb" && fields.exists() {
                let got = std::fs::read_to_string(fields.join("findings.jsonl")).unwrap();
                let got =
                    judged_as_natively(&got, s, &format!("duckdb on {} with --fields", s.name));
                assert_eq!(got, s.native, "duckdb on {} with --fields", s.name);
            }
            let secs = std::fs::read_to_string(case.join(e).join("seconds")).unwrap();
            eprintln!(
                "{e}: {} ({:?}): {} findings in {} s",
                s.name,
                s.layout,
                got.len(),
                secs.trim()
            );
        }
    }
}

/// The findings of a query's rows, after checking its last row, the status row: `judged`
/// where the audit judged, else `not judged: ` and the audit's reason (without the
/// remedies that name vpcflow's own sources, which the query cannot know).
fn judged_as_natively<'a>(rows: &'a str, s: &Scenario, what: &str) -> Vec<&'a str> {
    let mut rows: Vec<&str> = rows.lines().collect();
    let last = rows
        .pop()
        .unwrap_or_else(|| panic!("{what}: no status row"));
    let status: serde_json::Map<String, serde_json::Value> = serde_json::from_str(last).unwrap();
    assert_eq!(status["rule"], "_status", "{what}: {last}");
    for (column, value) in &status {
        if column != "rule" && column != "reason" {
            assert!(
                value.is_null(),
                "{what}: {column} of the status row: {value}"
            );
        }
    }
    let want = match &s.unjudged {
        None => "judged".to_string(),
        Some(why) => format!("not judged: {}", without_remedies(why)),
    };
    assert_eq!(status["reason"], want.as_str(), "{what}");
    assert!(!rows.iter().any(|r| r.contains("\"_status\"")), "{what}");
    rows
}

/// The audit's reason without the remedy it names for ENIs no map source names.
fn without_remedies(why: &str) -> String {
    let (fix, end) = (
        ": ENIs deleted before the map was made",
        "lists them by bytes",
    );
    let mut out = why.to_string();
    while let Some(at) = out.find(fix) {
        let to = out[at..]
            .find(end)
            .map_or(out.len(), |e| at + e + end.len());
        out.replace_range(at..to, "");
    }
    out
}

#[test]
fn sql_could_not_say_it_could_not_judge() {
    // v2 logs (no pkt-*-aws-service fields) audited for privatelink-bypass without AWS's
    // ranges, and the same logs with a map that covers none of their ENIs: the audit
    // exits 2, and the query returned no rows, read as a clean result. Its status row
    // now says why it could not judge.
    if !engine_available("sql_could_not_say_it_could_not_judge", "duckdb") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let Some(scenarios) = generated(
        "sql_could_not_say_it_could_not_judge",
        dir.path(),
        Some("21"),
    ) else {
        return;
    };
    let gen = &scenarios[0];
    // The generator's map with every ENI renamed: it knows the services, and no ENI of
    // the logs.
    let elsewhere = dir.path().join("elsewhere.csv");
    let renamed: Vec<String> = std::fs::read_to_string(&gen.maps[0])
        .unwrap()
        .lines()
        .map(|l| match l.strip_prefix("eni-") {
            Some(rest) => {
                let first = u32::from_str_radix(&rest[..1], 16).unwrap();
                format!("eni-{:x}{}", 15 - first, &rest[1..])
            }
            None => l.to_string(),
        })
        .collect();
    assert_ne!(
        renamed[1],
        std::fs::read_to_string(&gen.maps[0])
            .unwrap()
            .lines()
            .nth(1)
            .unwrap()
    );
    std::fs::write(&elsewhere, renamed.join("\n") + "\n").unwrap();
    let cases = [
        Scenario::with_args(
            "v2-privatelink-without-ranges",
            &gen.logs,
            gen.maps.clone(),
            &gen.policy,
            Layout::Days,
            vec!["--rule".into(), "privatelink-bypass".into()],
        ),
        Scenario::new(
            "map-of-no-eni",
            &gen.logs,
            vec![elsewhere],
            &gen.policy,
            Layout::File,
        ),
    ];
    let why = |i: usize| cases[i].unjudged.clone().unwrap_or_default();
    assert!(
        why(0).starts_with("privatelink-bypass could not be judged: "),
        "{}",
        why(0)
    );
    assert!(
        why(1).starts_with(
            "no task could be audited: no record was logged on a task ENI that the map or the ECS fields know ("
        ),
        "{}",
        why(1)
    );
    agree(&cases, dir.path(), &["duckdb"]);
}

#[test]
fn sql_table_name_injection_created_a_table_on_duckdb() {
    if !engine_available(
        "sql_table_name_injection_created_a_table_on_duckdb",
        "duckdb",
    ) {
        return;
    }
    let injected =
        "flows LIMIT 0) SELECT 'pwned' AS x; CREATE TABLE evil AS SELECT 42 AS y; WITH q AS (SELECT 1";
    let quoted = format!("\"{}\"", injected.replace('"', "\"\""));
    for name in [injected, quoted.as_str()] {
        let o = vpcflow(&[
            "sql",
            "--dialect",
            "duckdb",
            "--allow-cidr",
            "vpc",
            "--flows",
            name,
        ]);
        if !o.status.success() {
            continue;
        }
        // The query runs over tables of that name (none there): whatever it does, it
        // creates nothing.
        let o = Command::new("python3")
            .args([
                "-c",
                "import duckdb, sys\n\
                 con = duckdb.connect()\n\
                 try:\n    con.execute(sys.stdin.read())\n\
                 except duckdb.Error as e:\n    print('error:', e, file=sys.stderr)\n\
                 print(con.execute(\"SELECT count(*) FROM information_schema.tables WHERE table_name = 'evil'\").fetchone()[0])",
            ])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut c| {
                use std::io::Write;
                c.stdin.take().unwrap().write_all(&o.stdout)?;
                c.wait_with_output()
            })
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&o.stdout).trim(),
            "0",
            "{name}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
}

#[test]
fn sql_spark_substituted_a_service_named_dollar_brace() {
    // A service named `${env:HOME}`: Spark replaced it with the home folder inside the
    // query's literals, and its findings were lost.
    if !engine_available(
        "sql_spark_substituted_a_service_named_dollar_brace",
        "spark",
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let demo = root("testdata/demo");
    let name = "${env:HOME}";
    let map: Vec<String> = std::fs::read_to_string(demo.join("eni-map.csv"))
        .unwrap()
        .lines()
        .map(|l| {
            let mut c: Vec<&str> = l.split(',').collect();
            if c[5] == "web" {
                c[5] = name;
            }
            c.join(",")
        })
        .collect();
    let maps = vec![dir.path().join("map.csv")];
    std::fs::write(&maps[0], map.join("\n") + "\n").unwrap();
    let policy = dir.path().join("policy.toml");
    let text = std::fs::read_to_string(demo.join("policy.toml")).unwrap();
    std::fs::write(&policy, text.replace("\"web\"", &format!("\"{name}\""))).unwrap();
    let s = Scenario::new(
        "dollar-brace",
        &demo.join("logs"),
        maps,
        &policy,
        Layout::Days,
    );
    let of_it = format!("\"service\":\"{name}\"");
    assert!(s.native.iter().filter(|f| f.contains(&of_it)).count() > 0);
    agree(&[s], dir.path(), &["spark"]);
}
