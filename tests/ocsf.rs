//! Amazon Security Lake's OCSF (Network Activity, class 4001) as input: the samples of
//! AWS's published mapping (ocsf/examples) read as their sources say; the demo written as
//! Security Lake OCSF (Parquet with nested columns and JSON Lines, OCSF 1.1.0 and
//! 1.0.0-rc.2) by `scripts/flowlog-to-ocsf`, a converter written from the mapping apart
//! from the reader, gives the text's answers in every subcommand; bad records are
//! rejected with their position; damaged or unfit files are errors, never panics.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};

use common::{accounting, json_lines, python_imports, root, skip, stderr, stdout, vpcflow};

/// The one record `cat --format jsonl` prints of `file`.
fn one_record(file: &Path) -> Value {
    let o = vpcflow(&["cat", file.to_str().unwrap(), "--format", "jsonl", "-q"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let mut records = json_lines(&o);
    assert_eq!(records.len(), 1, "{}", stdout(&o));
    records.remove(0)
}

/// Asserts `record` holds each of `want`'s fields with its value.
fn has(record: &Value, want: Value) {
    for (k, v) in want.as_object().unwrap() {
        assert_eq!(&record[k], v, "field {k} of {record}");
    }
}

#[test]
fn ocsf_examples_samples_read_as_their_sources_say() {
    // The values below are read off the OCSF samples by hand (testdata/ocsf, from
    // ocsf/examples' `mappings/markdown/AWS/<version>/VPC Flowlogs/samples`).
    let common_1x = json!({
        "version": 5, "account_id": "123456789012", "srcaddr": "1.2.3.4",
        "pkt_srcaddr": "1.2.3.4", "dstaddr": "172.31.2.52", "pkt_dstaddr": "172.31.2.52",
        "srcport": 56858, "dstport": 39938, "protocol": 6, "packets": 1, "bytes": 40,
        // time 1649721732000 ms; the end: 1.0.0-rc.2's end_time 1649721788000 ms, 1.1.0's
        // end_time_dt "2022-04-11T20:03:08.000-04:00".
        "start": 1649721732, "end": 1649721788,
        // action_id 2 (1.1.0); disposition_id 2 (1.0.0-rc.2, which has no action_id).
        "action": "REJECT", "log_status": "OK",
        // Inbound (direction_id 1): the interface's ids are on dst_endpoint.
        "flow_direction": "ingress", "interface_id": "eni-000000000000000000",
        "vpc_id": "vpc-00000000", "subnet_id": "subnet-000000000000000000",
        "instance_id": "i-000000000000000000",
        "tcp_flags": 2, "type": "IPv4", "region": "us-east-1", "az_id": "use1-az1",
        // boundary_id 99, svc_name "-", unmapped sublocation "-": null.
        "traffic_path": null, "pkt_src_aws_service": null, "pkt_dst_aws_service": null,
        "sublocation_id": null, "sublocation_type": null,
    });
    for v in ["v1.1.0", "v1.0.0-rc.2"] {
        let r = one_record(&root(&format!(
            "testdata/ocsf/aws-vpc-flowlog-{v}.ocsf.jsonl"
        )));
        has(&r, common_1x.clone());
    }
    // OCSF 1.5.0 (CloudWatch's parseToOCSF), read as 1.1.0: outbound, so the ids are on
    // src_endpoint; dst_endpoint.intermediate_ips[0] is dstaddr and its ip pkt-dstaddr.
    let r = one_record(&root("testdata/ocsf/aws-vpc-flowlog-v1.5.0.ocsf.jsonl"));
    has(
        &r,
        json!({
            "version": 8, "account_id": "123456789012", "srcaddr": "1.2.3.4",
            "pkt_srcaddr": "1.2.3.4", "dstaddr": "10.0.0.1", "pkt_dstaddr": "1.2.3.5",
            "srcport": 8080, "dstport": 8864, "protocol": 6, "packets": 8, "bytes": 38526,
            // time 1752247584000; end_time_dt "2025-07-11 15:26:43+00:00".
            "start": 1752247584, "end": 1752247603, "action": "ACCEPT",
            "flow_direction": "egress", "interface_id": "eni-0000000000000000",
            "vpc_id": "vpc-00000000", "subnet_id": "subnet-04941e5249e5fb165",
            "instance_id": null, "tcp_flags": 19, "region": "us-east-2", "az_id": "use2-az2",
            // boundary_id 4: traffic-path 1.
            "traffic_path": 1,
            // unmapped keys are columns of their names, typed as flow-log fields.
            "reject_reason": "Accepted",
            "ecs_task_id": "k5ivh86ham2ic6vhiadec7190329gyov",
            "ecs_service_name": "HostingStack-FargateServiceECC8084D-5sikMgI6TJV1",
            "ecs_container_instance_id": null,
        }),
    );
    // And the raw flow-log record beside each sample says the same of the fields the
    // anonymisation left alone (the raw's header names the columns).
    for v in ["v1.1.0", "v1.0.0-rc.2", "v1.5.0"] {
        let raw =
            std::fs::read_to_string(root(&format!("testdata/ocsf/aws-vpc-flowlog-{v}.raw.csv")))
                .unwrap();
        let mut lines = raw.lines();
        let names: Vec<&str> = lines.next().unwrap().split(',').collect();
        let values: Vec<&str> = lines.next().unwrap().split(',').collect();
        let r = one_record(&root(&format!(
            "testdata/ocsf/aws-vpc-flowlog-{v}.ocsf.jsonl"
        )));
        for (n, value) in names.iter().zip(&values) {
            if ["interface_id", "instance_id"].contains(n) {
                continue; // anonymised differently in the raw and the OCSF
            }
            let got = &r[*n];
            let got = match got {
                Value::Null => "-".to_string(),
                Value::String(s) => s.clone(),
                v => v.to_string(),
            };
            assert_eq!(&got, value, "{v}: {n}");
        }
    }
}

/// Writes `logs` as Security Lake OCSF with `scripts/flowlog-to-ocsf` under `out`;
/// false (the test skipped) without python3 and pyarrow.
fn to_ocsf(test: &str, logs: &Path, out: &Path, ocsf: &str, format: &str) -> bool {
    if !python_imports("pyarrow") {
        skip(test, "python3 with pyarrow is needed to write OCSF Parquet");
        return false;
    }
    let o = Command::new("python3")
        .arg(root("scripts/flowlog-to-ocsf"))
        .args([
            "--ocsf",
            ocsf,
            "--format",
            format,
            "--rows-per-group",
            "250",
        ])
        .arg(out)
        .arg(logs)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    true
}

/// What `vpcflow ARGS` prints on stdout, its exit code, and its summary's accounting.
fn run(args: &[&str]) -> (Option<i32>, String, [u64; 5]) {
    let o = vpcflow(args);
    assert!(o.status.code().unwrap() < 2, "{args:?}: {}", stderr(&o));
    (o.status.code(), stdout(&o), accounting(&stderr(&o)))
}

#[test]
fn security_lake_forms_of_the_demo_give_the_texts_answers() {
    let test = "security_lake_forms_of_the_demo_give_the_texts_answers";
    let dir = tempfile::tempdir().unwrap();
    let demo = root("testdata/demo");
    let logs = demo.join("logs");
    let (map, policy) = (demo.join("eni-map.csv"), demo.join("policy.toml"));
    let (m, p) = (map.to_str().unwrap(), policy.to_str().unwrap());
    let mut forms: Vec<PathBuf> = Vec::new();
    for ocsf in ["1.1.0", "1.0.0-rc.2"] {
        for format in ["parquet", "jsonl"] {
            let out = dir.path().join(format!("{ocsf}-{format}"));
            if !to_ocsf(test, &logs, &out, ocsf, format) {
                return;
            }
            forms.push(out);
        }
    }
    // The Security Lake layout, with one file per flow-log object.
    let day = "aws/VPC_FLOW/2.0/region=us-east-1/accountId=123456789012/eventDay=20261101";
    assert_eq!(
        std::fs::read_dir(forms[0].join(day)).unwrap().count(),
        12,
        "one Parquet file per object"
    );
    let commands: Vec<Vec<&str>> = vec![
        vec!["audit", "--map", m, "--policy", p, "--format", "json"],
        vec![
            "query",
            "--map",
            m,
            "--group-by",
            "service,peer_kind,dstport",
            "--format",
            "csv",
        ],
        vec!["query", "--conversations", "--format", "json"],
        vec!["query", "--group-by", "action,protocol", "--format", "csv"],
        vec![
            "query",
            "--group-by",
            "srcaddr,dstaddr,interface_id,flow_direction,traffic_path,log_status",
            "--format",
            "csv",
        ],
        vec!["map", "--format", "json", m, "--coverage"],
    ];
    for cmd in &commands {
        let with = |input: &Path| {
            let mut args = cmd.clone();
            args.push(input.to_str().unwrap());
            if cmd[0] != "map" {
                args.push("--threads");
                args.push("2");
            }
            let o = vpcflow(&args);
            assert!(o.status.code().unwrap() < 2, "{args:?}: {}", stderr(&o));
            (o.status.code(), stdout(&o))
        };
        let want = with(&logs);
        assert!(want.1.lines().count() > 1, "{cmd:?}: {}", want.1);
        for form in &forms {
            assert_eq!(with(form), want, "{cmd:?} on {}", form.display());
        }
    }
    // cat: the totals, and the records' values in the text's columns (the OCSF records
    // have the v5 columns of the demo, in the mapping's order).
    let text = run(&["cat", logs.to_str().unwrap(), "--format", "jsonl"]);
    let text_records: Vec<Value> = text
        .1
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(text.2, [6012, 6000, 0, 12, 0]);
    for form in &forms {
        let (code, out, counts) = run(&["cat", form.to_str().unwrap(), "--format", "jsonl"]);
        assert_eq!(code, text.0);
        assert_eq!(counts, [6000, 6000, 0, 0, 0], "{}", form.display());
        let records: Vec<Value> = out
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(records.len(), text_records.len());
        for (got, want) in records.iter().zip(&text_records) {
            for (k, v) in want.as_object().unwrap() {
                assert_eq!(&got[k], v, "{k} in {}", form.display());
            }
        }
        // A window: the same records kept; the files of other days are skipped unread.
        let window = [
            "--since",
            "2026-11-01T00:10:00Z",
            "--until",
            "2026-11-01T00:40:00Z",
        ];
        let kept = |input: &Path| {
            let mut args = vec!["query", input.to_str().unwrap(), "--format", "csv"];
            args.extend([
                "--group-by",
                "interface_id,srcaddr,dstaddr,start,end,action",
            ]);
            args.extend(window);
            run(&args)
        };
        let (want, got) = (kept(&logs), kept(form));
        assert!(want.1.lines().count() > 100);
        assert!(
            want.1 == got.1,
            "the window keeps other records in {}",
            form.display()
        );
        let o = vpcflow(&[
            "cat",
            form.to_str().unwrap(),
            "--since",
            "2026-11-03T00:00:00Z",
        ]);
        assert!(
            stderr(&o).contains("12 files skipped by their path's date"),
            "{}",
            stderr(&o)
        );
    }
    // convert of the OCSF Parquet reads back with the same findings.
    let converted = dir.path().join("converted.parquet");
    let o = vpcflow(&[
        "convert",
        forms[0].to_str().unwrap(),
        "-o",
        converted.to_str().unwrap(),
        "-q",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let audit = |input: &Path| {
        run(&[
            "audit",
            input.to_str().unwrap(),
            "--map",
            m,
            "--policy",
            p,
            "--format",
            "json",
        ])
        .1
    };
    assert_eq!(audit(&converted), audit(&logs));
}

#[test]
fn bad_ocsf_lines_are_rejected_with_their_position() {
    let dir = tempfile::tempdir().unwrap();
    let good =
        std::fs::read_to_string(root("testdata/ocsf/aws-vpc-flowlog-v1.1.0.ocsf.jsonl")).unwrap();
    let good: Value = serde_json::from_str(good.trim()).unwrap();
    let with = |path: &str, v: Value| {
        let mut r = good.clone();
        let mut at = &mut r;
        let parts: Vec<&str> = path.split('.').collect();
        for p in &parts[..parts.len() - 1] {
            at = &mut at[*p];
        }
        at[parts[parts.len() - 1]] = v;
        r.to_string()
    };
    let lines = [
        good.to_string(),
        String::new(),
        "not json at all".to_string(),
        with("class_uid", json!(3002)),
        with("connection_info.direction_id", json!(3)),
        with("src_endpoint.port", json!(70000)),
        with("dst_endpoint.ip", json!("10.0.0.300")),
        with("connection_info.boundary_id", json!(2)),
        with("src_endpoint.port", json!({"n": 1})),
        with("cloud.region", json!("us east")),
        with("time", json!(null)),
    ];
    let text = lines.join("\n") + "\n";
    let file = dir.path().join("lines.ocsf.jsonl");
    std::fs::write(&file, &text).unwrap();
    let errors = dir.path().join("errors.jsonl");
    let o = vpcflow(&[
        "cat",
        file.to_str().unwrap(),
        "--format",
        "jsonl",
        "--errors",
        errors.to_str().unwrap(),
    ]);
    assert!(o.status.code().unwrap() < 2, "{}", stderr(&o));
    // 11 lines: 2 records (the first, and the last: no start time is a null start),
    // 1 blank, 8 rejected.
    assert_eq!(accounting(&stderr(&o)), [11, 2, 8, 0, 1]);
    let errors: Vec<Value> = std::fs::read_to_string(&errors)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let offset =
        |line: usize| -> u64 { lines[..line - 1].iter().map(|l| l.len() as u64 + 1).sum() };
    let want = [
        (3, "not an OCSF flow-log record: not JSON"),
        (4, "class_uid 3002 is not Network Activity (4001)"),
        (5, "connection_info.direction_id 3 is neither"),
        (6, "field srcport: \"70000\" is out of range"),
        (7, "field dstaddr: \"10.0.0.300\" is not an IP address"),
        (8, "connection_info.boundary_id 2 is not a traffic path"),
        (9, "src_endpoint.port is an object"),
        (10, "cloud.region \"us east\" holds a space"),
    ];
    assert_eq!(errors.len(), want.len(), "{errors:?}");
    for (e, (line, message)) in errors.iter().zip(want) {
        assert_eq!(e["line"], line, "{e}");
        assert_eq!(e["byte_offset"], offset(line), "{e}");
        assert!(
            e["error"].as_str().unwrap().contains(message),
            "line {line}: {} lacks {message:?}",
            e["error"]
        );
    }
}

/// Runs python3 with `code` (pyarrow imported as `pa`, `pyarrow.parquet` as `pq`).
fn pyarrow(code: &str) {
    let o = Command::new("python3")
        .args([
            "-c",
            &format!("import pyarrow as pa, pyarrow.parquet as pq\n{code}"),
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn damaged_or_unfit_ocsf_parquet_is_an_error_never_a_panic() {
    let test = "damaged_or_unfit_ocsf_parquet_is_an_error_never_a_panic";
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("lake");
    if !to_ocsf(test, &root("testdata/demo/logs"), &out, "1.1.0", "parquet") {
        return;
    }
    let day =
        out.join("aws/VPC_FLOW/2.0/region=us-east-1/accountId=123456789012/eventDay=20261101");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&day)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    // Cut in the middle: damaged, said with the file's path; the other files are read.
    let rows = Command::new("python3")
        .args([
            "-c",
            "import sys, pyarrow.parquet as pq; print(pq.read_metadata(sys.argv[1]).num_rows)",
        ])
        .arg(&files[0])
        .output()
        .unwrap();
    let rows: u64 = stdout(&rows).trim().parse().unwrap();
    let bytes = std::fs::read(&files[0]).unwrap();
    std::fs::write(&files[0], &bytes[..bytes.len() / 2]).unwrap();
    let o = vpcflow(&["cat", out.to_str().unwrap(), "--format", "csv"]);
    let err = stderr(&o);
    assert!(!err.contains("panicked"), "{err}");
    assert!(err.contains("not readable Parquet"), "{err}");
    assert_eq!(accounting(&err)[1], 6000 - rows, "{err}");
    // A port that is a text of letters rejects its row with its number; an unmapped
    // column that is neither a map nor a struct makes the file unreadable, naming it.
    let odd = dir.path().join("odd.parquet");
    pyarrow(&format!(
        r#"
ep = pa.struct([("ip", pa.string()), ("port", pa.string()), ("interface_uid", pa.string())])
rows = [dict(class_uid=4001, time=1793492439000, action_id=1,
             src_endpoint=dict(ip="10.0.0.1", port=p, interface_uid="eni-1"),
             dst_endpoint=dict(ip="10.0.0.2", port="443", interface_uid=None),
             connection_info=dict(direction_id=2, protocol_num=6))
        for p in ["1234", "http", None]]
schema = pa.schema([("class_uid", pa.int32()), ("time", pa.timestamp("ms")),
    ("action_id", pa.int32()), ("src_endpoint", ep), ("dst_endpoint", ep),
    ("connection_info", pa.struct([("direction_id", pa.int32()), ("protocol_num", pa.int64())]))])
pq.write_table(pa.Table.from_pylist(rows, schema=schema), {:?})
pq.write_table(pa.table({{"class_uid": [4001], "src_endpoint": [{{"ip": "1.2.3.4"}}],
    "unmapped": ["{{}}"]}}), {:?})
"#,
        odd.to_str().unwrap(),
        dir.path().join("unfit.parquet").to_str().unwrap()
    ));
    let o = vpcflow(&["cat", odd.to_str().unwrap(), "--format", "jsonl"]);
    let err = stderr(&o);
    assert_eq!(accounting(&err), [3, 2, 1, 0, 0], "{err}");
    let records = json_lines(&vpcflow(&[
        "cat",
        odd.to_str().unwrap(),
        "--format",
        "jsonl",
        "-q",
    ]));
    assert_eq!(records[0]["srcport"], 1234);
    assert_eq!(records[0]["start"], 1793492439, "a Parquet timestamp in ms");
    assert_eq!(records[0]["interface_id"], "eni-1");
    assert_eq!(records[0]["action"], "ACCEPT");
    assert_eq!(records[1]["srcport"], Value::Null);
    assert!(
        err.contains(":2: field srcport: \"http\" is not a number"),
        "{err}"
    );
    let o = vpcflow(&["cat", dir.path().join("unfit.parquet").to_str().unwrap()]);
    let err = stderr(&o);
    assert!(err.contains("its column unmapped is of type Utf8"), "{err}");
    assert_eq!(o.status.code(), Some(2), "{err}");
}

#[test]
fn elastic_security_lake_samples_read_in_place() {
    // elastic/integrations' amazon_security_lake test events are Elastic-licensed: read
    // in place from the shared conformance collection, never copied here. Each VPC flow
    // log event (class 4001 of product Amazon VPC) must read as one record whose values
    // are the event's; each event of another class is rejected as not Network Activity.
    let test = "elastic_security_lake_samples_read_in_place";
    // (VPCFLOW_SECURITY_LAKE_SAMPLES names another folder of such events.)
    let dir = std::env::var_os("VPCFLOW_SECURITY_LAKE_SAMPLES")
        .map(PathBuf::from)
        .unwrap_or_else(|| root("../shared/conformance/elastic-integrations-amazon-security-lake"));
    let Ok(entries) = std::fs::read_dir(&dir) else {
        skip(test, &format!("{} is absent", dir.display()));
        return;
    };
    let scratch = tempfile::tempdir().unwrap();
    let (mut flows, mut others) = (0, 0);
    for e in entries {
        let Ok(text) = std::fs::read_to_string(e.unwrap().path()) else {
            continue;
        };
        for line in text.lines() {
            let Ok(event) = serde_json::from_str::<Value>(line) else {
                continue;
            };
            let file = scratch.path().join("event.jsonl");
            std::fs::write(&file, format!("{line}\n")).unwrap();
            let o = vpcflow(&["cat", file.to_str().unwrap(), "--format", "jsonl"]);
            let counts = accounting(&stderr(&o));
            if event["class_uid"] != 4001 {
                assert_eq!(counts, [1, 0, 1, 0, 0], "{line}");
                others += 1;
                continue;
            }
            if event["metadata"]["product"]["name"] != "Amazon VPC" {
                continue;
            }
            assert_eq!(counts, [1, 1, 0, 0, 0], "{line}: {}", stderr(&o));
            let r = &json_lines(&o)[0];
            let (src, dst) = (&event["src_endpoint"], &event["dst_endpoint"]);
            assert_eq!(r["srcport"], src["port"], "{line}");
            assert_eq!(r["dstport"], dst["port"], "{line}");
            assert_eq!(r["pkt_srcaddr"], src["ip"], "{line}");
            assert_eq!(r["pkt_dstaddr"], dst["ip"], "{line}");
            assert_eq!(r["packets"], event["traffic"]["packets"], "{line}");
            assert_eq!(r["bytes"], event["traffic"]["bytes"], "{line}");
            flows += 1;
        }
    }
    if flows + others == 0 {
        skip(test, &format!("no OCSF JSON events in {}", dir.display()));
    }
}

/// Whether `engine` (duckdb, spark: the Python package `module`) runs for `test` under
/// `VPCFLOW_SQL_ENGINES` (skip, require, or an engine alone); panics where it is
/// required and missing.
fn sql_engine(test: &str, engine: &str, module: &str) -> bool {
    let mode = std::env::var("VPCFLOW_SQL_ENGINES").unwrap_or_default();
    if mode == "skip" || ["duckdb", "spark", "trino"].contains(&mode.as_str()) && mode != engine {
        skip(test, &format!("{engine}: VPCFLOW_SQL_ENGINES={mode}"));
        return false;
    }
    if !python_imports(module) {
        assert!(
            mode != "require" && mode != engine,
            "VPCFLOW_SQL_ENGINES={mode}, but the Python package {module} is not installed"
        );
        skip(
            test,
            &format!("{engine}: python3 cannot import {module} (pip install {module})"),
        );
        return false;
    }
    true
}

/// The demo written as Security Lake OCSF Parquet, its tables made by `vpcflow sql
/// --ddl --source security-lake` for `engine` (with `lake_opts`, as `--lake-table`),
/// the audit query run there by `scripts/run-sql`: the findings must be the lines of
/// `vpcflow audit --format json` on the demo's text (14), then the judged status row.
fn lake_sql_gives_the_native_findings(test: &str, engine: &str, lake_opts: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let demo = root("testdata/demo");
    let lake = dir.path().join("lake");
    if !to_ocsf(test, &demo.join("logs"), &lake, "1.1.0", "parquet") {
        return;
    }
    let map = dir.path().join("eni-map").join("map.parquet");
    std::fs::create_dir_all(map.parent().unwrap()).unwrap();
    let o = vpcflow(&[
        "map",
        demo.join("eni-map.csv").to_str().unwrap(),
        "--format",
        "parquet",
        "-o",
        map.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let case = dir.path().join(engine);
    std::fs::create_dir_all(&case).unwrap();
    let mut args = vec![
        "sql",
        "--dialect",
        engine,
        "--ddl",
        "--source",
        "security-lake",
        "--map-location",
        map.to_str().unwrap(),
    ];
    // Athena's view reads the lake's table (no Trino here: a DuckDB view of the files).
    if engine != "trino" {
        args.extend(["--flows-location", lake.to_str().unwrap()]);
    }
    args.extend(lake_opts);
    let ddl = vpcflow(&args);
    assert!(ddl.status.success(), "{}", stderr(&ddl));
    let ddl = if engine == "trino" {
        athena_view_on_duckdb(&stdout(&ddl), &lake, &map)
    } else {
        stdout(&ddl)
    };
    std::fs::write(case.join("ddl.sql"), ddl).unwrap();
    let (policy, ranges) = (
        demo.join("policy.toml"),
        root("testdata/aws-ip-ranges.json"),
    );
    let rules = [
        "--policy",
        policy.to_str().unwrap(),
        "--aws-ip-ranges",
        ranges.to_str().unwrap(),
    ];
    let mut args = vec!["sql", "--dialect", engine];
    args.extend(rules);
    let query = vpcflow(&args);
    assert!(query.status.success(), "{}", stderr(&query));
    std::fs::write(case.join("query.sql"), &query.stdout).unwrap();
    let o = Command::new("python3")
        .arg(root("scripts/run-sql"))
        .args(["--engine", engine])
        .arg(&case)
        .output()
        .unwrap();
    assert!(o.status.success(), "run-sql: {}", stderr(&o));
    let mut args = vec!["audit".to_string(), demo.join("logs").display().to_string()];
    args.extend(["--map", demo.join("eni-map.csv").to_str().unwrap()].map(String::from));
    args.extend(rules.map(String::from));
    args.extend(["--format", "json", "-q"].map(String::from));
    let native = stdout(&vpcflow(&args));
    let got = std::fs::read_to_string(case.join("findings.jsonl")).unwrap();
    let mut got: Vec<&str> = got.lines().collect();
    // The query's last row is its status: the audit judged.
    let status: Value = serde_json::from_str(got.pop().unwrap()).unwrap();
    assert_eq!(status["rule"], "_status");
    assert_eq!(status["reason"], "judged");
    let native: Vec<&str> = native.lines().collect();
    assert_eq!(native.len(), 14);
    assert_eq!(got, native);
}

/// Athena's DDL (its view over the lake's table `ocsf`, then the map's table) as
/// DuckDB's, for `scripts/run-sql --engine trino`: `ocsf` a view of the files under
/// `lake`, the view translated from Trino by sqlglot, the map a view of its file.
fn athena_view_on_duckdb(ddl: &str, lake: &Path, map: &Path) -> String {
    let view = ddl.split(";\n").next().unwrap();
    let o = Command::new("python3")
        .args([
            "-c",
            "import sys, sqlglot; \
             print(sqlglot.transpile(sys.stdin.read(), read='trino', write='duckdb')[0])",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(view.as_bytes())?;
            c.wait_with_output()
        })
        .unwrap();
    assert!(o.status.success(), "sqlglot: {}", stderr(&o));
    format!(
        "CREATE VIEW ocsf AS SELECT * FROM read_parquet('{}/**/*.parquet', \
         union_by_name = true);\n{};\nCREATE VIEW eni_map AS SELECT * FROM read_parquet('{}');\n",
        lake.display().to_string().replace('\'', "''"),
        stdout(&o).trim(),
        map.display().to_string().replace('\'', "''")
    )
}

#[test]
fn sql_ddl_of_a_security_lake_source_gives_the_native_findings_on_duckdb() {
    let test = "sql_ddl_of_a_security_lake_source_gives_the_native_findings_on_duckdb";
    if sql_engine(test, "duckdb", "duckdb") {
        lake_sql_gives_the_native_findings(test, "duckdb", &[]);
    }
}

#[test]
fn sql_ddl_of_a_security_lake_source_gives_the_native_findings_on_spark() {
    // One Spark session (the slowest test here): the lake's table made over its files.
    let test = "sql_ddl_of_a_security_lake_source_gives_the_native_findings_on_spark";
    if sql_engine(test, "spark", "pyspark") {
        lake_sql_gives_the_native_findings(test, "spark", &["--lake-table", "ocsf_vpc_flow"]);
    }
}

#[test]
fn sql_ddl_of_a_security_lake_source_for_athena_gives_the_native_findings() {
    // No Trino here: the view (over Security Lake's table, as on Athena) and the query
    // translated to DuckDB's by sqlglot, as tests/sql_engines.rs runs the trino dialect.
    let test = "sql_ddl_of_a_security_lake_source_for_athena_gives_the_native_findings";
    if sql_engine(test, "trino", "sqlglot") && sql_engine(test, "trino", "duckdb") {
        lake_sql_gives_the_native_findings(test, "trino", &["--lake-table", "ocsf"]);
    }
}

#[test]
fn sql_ddl_of_a_security_lake_source_is_refused_in_words_where_it_cannot_be_written() {
    // Athena reads Security Lake's own table, convert's partitions are not the lake's,
    // and the view must read something: each refused in words (exit 2), nothing printed.
    for (extra, words) in [
        (
            vec!["--dialect", "trino", "--flows-location", "s3://b/lake/"],
            "--source security-lake --dialect trino: Athena reads Security Lake's own Glue table",
        ),
        (
            vec![
                "--dialect",
                "duckdb",
                "--flows-location",
                "x",
                "--partition-by",
                "year,month,day",
            ],
            "--source security-lake: the partitions are Security Lake's own",
        ),
        (
            vec!["--dialect", "spark"],
            "--source security-lake: give --lake-table TABLE",
        ),
        (
            vec!["--dialect", "spark", "--lake-table", "a.b.c.d"],
            "--lake-table: ",
        ),
    ] {
        let mut args = vec![
            "sql",
            "--ddl",
            "--source",
            "security-lake",
            "--map-location",
            "m.parquet",
        ];
        args.extend(extra);
        let o = vpcflow(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(o.stdout.is_empty(), "{args:?}");
        assert!(stderr(&o).contains(words), "{args:?}: {}", stderr(&o));
    }
    let o = vpcflow(&[
        "sql",
        "--ddl",
        "--dialect",
        "spark",
        "--lake-table",
        "x",
        "--flows-location",
        "y",
        "--map-location",
        "m.parquet",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("--lake-table is for --source security-lake"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn long_crlf_and_unterminated_ocsf_lines() {
    let dir = tempfile::tempdir().unwrap();
    let good =
        std::fs::read_to_string(root("testdata/ocsf/aws-vpc-flowlog-v1.5.0.ocsf.jsonl")).unwrap();
    let good = good.trim();
    // A line past --max-line-bytes (padding inside unmapped), a CRLF line, and a last
    // line without a newline.
    let long = good.replacen(
        "\"unmapped\": {",
        &format!("\"unmapped\": {{\"pad\": \"{}\", ", "x".repeat(5000)),
        1,
    );
    let text = format!("{long}\n{good}\r\n{good}");
    let file = dir.path().join("f.jsonl");
    std::fs::write(&file, &text).unwrap();
    let errors = dir.path().join("e.jsonl");
    let o = vpcflow(&[
        "cat",
        file.to_str().unwrap(),
        "--max-line-bytes",
        "4096",
        "--errors",
        errors.to_str().unwrap(),
        "--format",
        "jsonl",
    ]);
    assert_eq!(accounting(&stderr(&o)), [3, 2, 1, 0, 0], "{}", stderr(&o));
    let e: Value = serde_json::from_str(std::fs::read_to_string(&errors).unwrap().trim()).unwrap();
    assert_eq!(e["line"], 1);
    assert!(
        e["error"]
            .as_str()
            .unwrap()
            .contains("longer than 4096 bytes"),
        "{e}"
    );
    for r in json_lines(&o) {
        assert_eq!(r["dstaddr"], "10.0.0.1");
        assert_eq!(r["ecs_task_id"], "k5ivh86ham2ic6vhiadec7190329gyov");
    }
}

/// OCSF JSON Lines that were gzipped (as Firehose delivers CloudWatch's `parseToOCSF`
/// output), in two members, give the records of the plain lines: every line was
/// rejected as flow-log text before.
#[test]
fn gzipped_ocsf_json_lines_were_read_as_text() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::new();
    for v in ["1.0.0-rc.2", "1.1.0", "1.5.0"] {
        let file = root(&format!("testdata/ocsf/aws-vpc-flowlog-v{v}.ocsf.jsonl"));
        text.push_str(std::fs::read_to_string(file).unwrap().trim());
        text.push('\n');
    }
    let plain = dir.path().join("ocsf.jsonl");
    std::fs::write(&plain, &text).unwrap();
    let (first, second) = text.split_at(text.find('\n').unwrap() + 1);
    let mut gz = Vec::new();
    for part in [first, second] {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(part.as_bytes()).unwrap();
        gz.extend(e.finish().unwrap());
    }
    let zipped = dir.path().join("ocsf.jsonl.gz");
    std::fs::write(&zipped, &gz).unwrap();
    let cat = |f: &Path| vpcflow(&["cat", f.to_str().unwrap(), "--format", "jsonl"]);
    let (p, z) = (cat(&plain), cat(&zipped));
    assert!(z.status.success(), "{}", stderr(&z));
    assert_eq!(accounting(&stderr(&z)), [3, 3, 0, 0, 0], "{}", stderr(&z));
    assert_eq!(stdout(&z), stdout(&p));
    assert_eq!(json_lines(&z).len(), 3);
}
