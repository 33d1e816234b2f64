//! The `vpcflow` binary end to end: `cat`, `convert`, inputs of every kind, rejected
//! lines, damaged files, time windows, exit codes and the summary's accounting.

mod common;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Stdio;

use common::{json_lines as jsonl, stderr, stdout, vpcflow, vpcflow_stdin};
use serde_json::Value;

const DEMO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/demo/logs");

/// Every demo object, decompressed, in sorted path order (independent of vpcflow).
fn demo_files() -> Vec<(PathBuf, String)> {
    common::gz_files(Path::new(DEMO))
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

const V2_HEADER: &str = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status";

fn v2_line(i: u32) -> String {
    format!(
        "2 123456789010 eni-0a{:03} 10.0.{}.{} 10.1.0.1 {} 443 6 {} {} {} {} ACCEPT OK",
        i % 7,
        i / 250,
        i % 250,
        30000 + i,
        i + 1,
        (i + 1) * 100,
        1_700_000_000 + i,
        1_700_000_060 + i
    )
}

#[test]
fn cat_demo_tree_in_sorted_order_with_accounting() {
    let files = demo_files();
    let o = vpcflow(&["cat", DEMO]);
    assert!(o.status.success(), "{}", stderr(&o));
    let rows = jsonl(&o);
    let mut expected_lines = Vec::new();
    for (_, text) in &files {
        expected_lines.extend(text.lines().filter(|l| !l.starts_with("version ")));
    }
    assert_eq!(rows.len(), expected_lines.len());
    // Spot-check every row's start, interface and bytes against the raw text.
    for (row, line) in rows.iter().zip(&expected_lines) {
        let t: Vec<&str> = line.split(' ').collect();
        assert_eq!(row["interface_id"], t[2]);
        assert_eq!(row["start"].as_i64().unwrap().to_string(), t[10]);
        match t[9] {
            "-" => assert!(row["bytes"].is_null()),
            b => assert_eq!(row["bytes"].as_i64().unwrap().to_string(), b),
        }
    }
    let [lines, records, rejected, headers, blanks] = common::accounting(&stderr(&o));
    assert_eq!(records, expected_lines.len() as u64);
    assert_eq!(headers, files.len() as u64);
    assert_eq!((rejected, blanks), (0, 0));
    assert_eq!(lines, records + headers);
    assert!(stderr(&o).contains(&format!("{} files", files.len())));
}

#[test]
fn csv_output() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("a.log");
    std::fs::write(
        &p,
        format!(
            "{V2_HEADER}\n{}\n2 1 eni-x - - - - - - - 1 2 - NODATA\n",
            v2_line(1)
        ),
    )
    .unwrap();
    let o = vpcflow(&["cat", "--format", "csv", p.to_str().unwrap()]);
    assert!(o.status.success());
    assert_eq!(
        stdout(&o),
        "version,account_id,interface_id,srcaddr,dstaddr,srcport,dstport,protocol,packets,bytes,start,end,action,log_status\n\
         2,123456789010,eni-0a001,10.0.0.1,10.1.0.1,30001,443,6,2,200,1700000001,1700000061,ACCEPT,OK\n\
         2,1,eni-x,,,,,,,,1,2,,NODATA\n"
    );
}

#[test]
fn stdin_plain_and_gzip() {
    let text = format!("{}\n{}\n", v2_line(1), v2_line(2));
    for data in [text.clone().into_bytes(), gzip(text.as_bytes())] {
        let o = vpcflow_stdin(&["cat", "-"], &data);
        assert!(o.status.success());
        let rows = jsonl(&o);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1]["srcport"], 30002);
        assert_eq!(common::accounting(&stderr(&o)), [2, 2, 0, 0, 0]);
    }
}

#[test]
fn truncated_gzip_keeps_records_before_the_damage_and_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::new();
    for i in 0..3000 {
        text.push_str(&v2_line(i));
        text.push('\n');
    }
    let gz = gzip(text.as_bytes());
    let cut = dir.path().join("a-truncated.log.gz");
    std::fs::write(&cut, &gz[..gz.len() / 2]).unwrap();
    let good = dir.path().join("b-good.log");
    std::fs::write(&good, format!("{}\n", v2_line(7))).unwrap();
    let errors = dir.path().join("errors.jsonl");
    let o = vpcflow(&[
        "cat",
        "--errors",
        errors.to_str().unwrap(),
        dir.path().to_str().unwrap(),
    ]);
    let err = stderr(&o);
    assert!(
        o.status.success(),
        "a damaged file is reported, not fatal: {err}"
    );
    let cut_name = cut.display().to_string();
    assert!(
        err.contains(&format!("vpcflow: {cut_name}: reading stopped after line ")),
        "{err}"
    );
    let rows = jsonl(&o);
    // Every row before the damage is an intact prefix of the original lines, then the
    // good file's row.
    let n = rows.len() - 1;
    assert!(n > 100 && n < 3000, "{n}");
    for (i, row) in rows[..n].iter().enumerate() {
        assert_eq!(row["srcport"], 30000 + i as u64);
    }
    assert_eq!(rows[n]["srcport"], 30007);
    let [lines, records, rejected, _, _] = common::accounting(&err);
    assert_eq!(records, n as u64 + 1);
    // The unfinished last line, if any, is rejected, never half-parsed.
    assert!(rejected <= 1);
    assert_eq!(lines, records + rejected);
    assert!(err.contains("1 file with read errors"), "{err}");
    let logged = std::fs::read_to_string(&errors).unwrap();
    assert_eq!(logged.lines().count() as u64, rejected);
}

#[test]
fn rejected_lines_shown_logged_and_strict() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bad.log");
    let lines = [
        V2_HEADER.to_string(),
        v2_line(1),
        "2 123456789010 eni-0a1 10.0.0.1".to_string(),
        String::new(),
        v2_line(2).replace(" 443 ", " 70000 "),
        v2_line(3),
    ];
    let text = lines.join("\n") + "\n";
    std::fs::write(&p, &text).unwrap();
    let path = p.to_str().unwrap();
    let errors = dir.path().join("e.jsonl");
    let o = vpcflow(&["cat", path, "--errors", errors.to_str().unwrap()]);
    assert!(o.status.success());
    let err = stderr(&o);
    assert!(
        err.contains(&format!("{path}:3: expected 14 fields, found 4\n")),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "{path}:5: field dstport: \"70000\" is out of range (0 to 65535)\n"
        )),
        "{err}"
    );
    assert_eq!(common::accounting(&err), [6, 2, 2, 1, 1]);
    assert_eq!(jsonl(&o).len(), 2);
    let logged: Vec<Value> = std::fs::read_to_string(&errors)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let offset = |n: usize| lines[..n].iter().map(|l| l.len() + 1).sum::<usize>();
    assert_eq!(
        logged,
        vec![
            serde_json::json!({"file": path, "line": 3, "byte_offset": offset(2), "error": "expected 14 fields, found 4"}),
            serde_json::json!({"file": path, "line": 5, "byte_offset": offset(4), "error": "field dstport: \"70000\" is out of range (0 to 65535)"}),
        ]
    );
    let o = vpcflow(&["cat", path, "--strict"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains(&format!("{path}:3: expected 14 fields, found 4")));
}

#[test]
fn exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("a.log");
    std::fs::write(&p, format!("{}\n", v2_line(1))).unwrap();
    let missing = dir.path().join("missing.log");
    let o = vpcflow(&["cat", p.to_str().unwrap(), missing.to_str().unwrap()]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "an input that cannot be read at all"
    );
    assert_eq!(jsonl(&o).len(), 1, "the other inputs are still read");
    assert!(stderr(&o).contains("missing.log: No such file"));
    assert_eq!(
        vpcflow(&["cat", "--since", "soon", p.to_str().unwrap()])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        vpcflow(&["cat", "--fields", "version version", p.to_str().unwrap()])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(vpcflow(&["cat", "--format", "xml"]).status.code(), Some(2));
    assert_eq!(vpcflow(&["frobnicate"]).status.code(), Some(2));
    assert_eq!(
        vpcflow(&["convert", p.to_str().unwrap()]).status.code(),
        Some(2)
    );
    assert_eq!(vpcflow(&["--help"]).status.code(), Some(0));
    assert_eq!(vpcflow(&["cat", "-q", p.to_str().unwrap()]).stderr.len(), 0);
}

#[test]
fn time_window_keeps_start_in_since_until_and_skips_files_by_path() {
    let files = demo_files();
    let starts: Vec<i64> = files
        .iter()
        .flat_map(|(_, t)| t.lines().filter(|l| !l.starts_with("version ")))
        .map(|l| l.split(' ').nth(10).unwrap().parse().unwrap())
        .collect();
    let min = *starts.iter().min().unwrap();
    let (since, until) = (min + 600, min + 1500);
    let want = starts.iter().filter(|s| (since..until).contains(s)).count();
    let o = vpcflow(&[
        "cat",
        DEMO,
        "--since",
        &since.to_string(),
        "--until",
        &until.to_string(),
    ]);
    assert!(o.status.success());
    let rows = jsonl(&o);
    assert_eq!(rows.len(), want);
    assert!(rows
        .iter()
        .all(|r| (since..until).contains(&r["start"].as_i64().unwrap())));
    let err = stderr(&o);
    assert!(
        err.contains(&format!(
            "{} records outside --since/--until, {want} kept",
            starts.len() - want
        )),
        "{err}"
    );

    // A window days away: every object's path proves it outside, none is read.
    let o = vpcflow(&["cat", DEMO, "--since", "2026-11-05T00:00:00Z"]);
    assert!(o.status.success());
    assert!(stdout(&o).is_empty());
    let err = stderr(&o);
    assert!(err.contains("0 files, 0 lines"), "{err}");
    assert!(
        err.contains(&format!(
            "{} files skipped by their path's date",
            files.len()
        )),
        "{err}"
    );
    // RFC 3339 and unix seconds mean the same.
    let a = vpcflow(&["cat", DEMO, "--until", "2026-11-01T00:10:00Z"]);
    let b = vpcflow(&["cat", DEMO, "--until", "1793491800"]);
    assert!(a.stdout == b.stdout, "same records for both spellings");
    assert!(!a.stdout.is_empty());
}

#[test]
fn header_mid_stream_and_unknown_fields() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("mixed.log");
    std::fs::write(
        &p,
        format!("{}\nversion srcaddr my-tag\n5 10.0.0.1 blue\n", v2_line(1)),
    )
    .unwrap();
    let o = vpcflow(&["cat", p.to_str().unwrap()]);
    let rows = jsonl(&o);
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["account_id"], "123456789010");
    assert_eq!(
        rows[1],
        serde_json::json!({"version": 5, "srcaddr": "10.0.0.1", "my_tag": "blue"})
    );
}

#[test]
fn broken_pipe_is_a_normal_exit() {
    let mut child = common::command()
        .args(["cat", DEMO])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    let mut first = [0u8; 10];
    out.read_exact(&mut first).unwrap();
    drop(out);
    assert!(child.wait().unwrap().success());
}

#[test]
fn each_file_starts_from_the_default_or_fields_layout() {
    // A header in one file does not carry over to the next file: every S3 object has
    // its own, and a headerless file means --fields or the default v2 format.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.log"), "version srcaddr\n5 10.0.0.1\n").unwrap();
    std::fs::write(dir.path().join("b.log"), format!("{}\n", v2_line(1))).unwrap();
    let o = vpcflow(&["cat", dir.path().to_str().unwrap()]);
    assert!(o.status.success());
    let rows = jsonl(&o);
    assert_eq!(
        rows[0],
        serde_json::json!({"version": 5, "srcaddr": "10.0.0.1"})
    );
    assert_eq!(rows[1]["interface_id"], "eni-0a001");
    assert_eq!(common::accounting(&stderr(&o)), [3, 2, 0, 1, 0]);
}

#[test]
fn damaged_parquet_input_is_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("flows.parquet");
    std::fs::write(&p, b"PAR1\x15\x04junk").unwrap();
    let o = vpcflow(&["cat", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("flows.parquet: cannot read: not readable Parquet:"),
        "{}",
        stderr(&o)
    );
    assert!(o.stdout.is_empty());
}

#[test]
fn multi_member_gzip_is_read_whole() {
    // Concatenated .gz objects (`cat a.gz b.gz > c.gz`) are one file of two members.
    let dir = tempfile::tempdir().unwrap();
    let mut data = gzip(format!("{V2_HEADER}\n{}\n", v2_line(1)).as_bytes());
    data.extend(gzip(
        format!("{V2_HEADER}\n{}\n{}\n", v2_line(2), v2_line(3)).as_bytes(),
    ));
    let p = dir.path().join("joined.log.gz");
    std::fs::write(&p, data).unwrap();
    let o = vpcflow(&["cat", p.to_str().unwrap()]);
    assert!(o.status.success());
    let ports: Vec<u64> = jsonl(&o)
        .iter()
        .map(|r| r["srcport"].as_u64().unwrap())
        .collect();
    assert_eq!(ports, [30001, 30002, 30003]);
    assert_eq!(common::accounting(&stderr(&o)), [5, 3, 0, 2, 0]);
}

#[test]
fn cat_without_map_keeps_the_task_columns_of_the_ecs_fields() {
    // `query` attributes records from the v7 ECS fields without a map; `cat` shows the
    // same columns instead of dropping them.
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("v7.log");
    std::fs::write(
        &p,
        "version interface-id srcaddr dstaddr srcport dstport start end action log-status ecs-cluster-name ecs-service-name ecs-task-arn\n\
         7 eni-w 198.51.100.7 10.0.1.10 51000 8080 1793491250 1793491262 ACCEPT OK prod web arn:aws:ecs:us-east-1:1:task/prod/w1\n\
         7 eni-x 10.0.5.5 10.0.1.10 40000 8080 1793491250 1793491262 ACCEPT OK - - -\n",
    )
    .unwrap();
    let o = vpcflow(&["cat", p.to_str().unwrap(), "-q"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let rows = jsonl(&o);
    assert_eq!(rows[0]["task_arn"], "arn:aws:ecs:us-east-1:1:task/prod/w1");
    assert_eq!(rows[0]["service"], "web");
    assert_eq!(rows[0]["cluster"], "prod");
    assert_eq!(rows[0]["eni_kind"], "task");
    assert_eq!(rows[0]["peer_addr"], "198.51.100.7");
    assert_eq!(rows[0]["peer_kind"], "internet");
    assert!(rows[1]["task_arn"].is_null());
    // query derives the same tasks.
    let q = vpcflow(&[
        "query",
        p.to_str().unwrap(),
        "--group-by",
        "task",
        "--format",
        "json",
        "-q",
    ]);
    let groups = jsonl(&q);
    assert!(groups
        .iter()
        .any(|g| g["task"] == "arn:aws:ecs:us-east-1:1:task/prod/w1"));
}
