//! CloudWatch Logs forms of the demo's flow logs (an export, with each line prefixed by
//! its timestamp; `filter-log-events` and `get-log-events` JSON), made here from the demo's
//! text by a converter of the test's own: every subcommand answers as for the text.
//! Inputs that yield no record: the error naming what they look like (exit 2), and the
//! warning for one such file among good ones. `--summary`: its numbers equal the prose's
//! and what the demo holds, counted here.

mod common;

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use common::*;
use serde_json::{json, Value};

fn demo(p: &str) -> PathBuf {
    root("testdata/demo").join(p)
}

/// The demo's header line (every file has the same) and its record lines, in order.
fn demo_lines() -> (String, Vec<String>) {
    let mut header = None;
    let mut lines = Vec::new();
    for (_, text) in gz_files(&demo("logs")) {
        for line in text.lines() {
            if line.starts_with("version ") {
                assert!(header.is_none() || header.as_deref() == Some(line));
                header = Some(line.to_string());
            } else {
                lines.push(line.to_string());
            }
        }
    }
    (header.unwrap(), lines)
}

/// The RFC 3339 time (milliseconds, `Z`) that CloudWatch stamps an event with: here the
/// record's start, the 11th field of the demo's layout.
fn stamp(line: &str, header: &str) -> (String, i64) {
    let at = header.split(' ').position(|f| f == "start").unwrap();
    let start: i64 = line.split(' ').nth(at).unwrap().parse().unwrap();
    let t = chrono::DateTime::from_timestamp(start, 0).unwrap();
    (t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(), start * 1000)
}

/// A CloudWatch Logs export of `lines`: each line prefixed with its timestamp.
fn export(lines: &[String], header: &str) -> String {
    lines
        .iter()
        .map(|l| format!("{} {l}\n", stamp(l, header).0))
        .collect()
}

/// `aws logs filter-log-events` output of `lines`, as the CLI prints it (indented), in
/// pages of `page` events, concatenated.
fn filter_log_events(lines: &[String], header: &str, page: usize) -> String {
    let mut out = String::new();
    for (p, chunk) in lines.chunks(page).enumerate() {
        let events: Vec<Value> = chunk
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let ms = stamp(l, header).1;
                json!({
                    "logStreamName": format!("{}-all", l.split(' ').nth(2).unwrap()),
                    "timestamp": ms,
                    "message": l,
                    "ingestionTime": ms + 7000,
                    "eventId": format!("{:056}", p * page + i),
                })
            })
            .collect();
        let mut doc = json!({"events": events, "searchedLogStreams": []});
        if (p + 1) * page < lines.len() {
            doc["nextToken"] = json!(format!("token-{p}"));
        }
        out += &serde_json::to_string_pretty(&doc).unwrap();
        out += "\n";
    }
    out
}

/// `aws logs get-log-events` output of `lines` (one document).
fn get_log_events(lines: &[String], header: &str) -> String {
    let events: Vec<Value> = lines
        .iter()
        .map(|l| {
            let ms = stamp(l, header).1;
            json!({"timestamp": ms, "message": l, "ingestionTime": ms + 5000})
        })
        .collect();
    serde_json::to_string(&json!({
        "events": events,
        "nextForwardToken": "f/3",
        "nextBackwardToken": "b/3"
    }))
    .unwrap()
}

fn gzip(text: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(text).unwrap();
    e.finish().unwrap()
}

fn arg(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The findings of `audit --format json` on `input`, sorted, and the exit code.
fn audit(input: &Path, fields: Option<&str>) -> (Vec<Value>, Option<i32>) {
    let mut args = vec![
        "audit".to_string(),
        arg(input).to_string(),
        "--map".into(),
        demo("eni-map.csv").to_str().unwrap().into(),
        "--policy".into(),
        demo("policy.toml").to_str().unwrap().into(),
        "--format".into(),
        "json".into(),
    ];
    if let Some(f) = fields {
        args.extend(["--fields".to_string(), f.to_string()]);
    }
    let o = vpcflow(&args);
    let mut rows = json_lines(&o);
    rows.sort_by_key(|r| r.to_string());
    (rows, o.status.code())
}

/// The totals of `query --format json` on `input`.
fn totals(input: &Path, fields: Option<&str>) -> Value {
    let mut args = vec!["query", arg(input), "--format", "json"];
    if let Some(f) = fields {
        args.extend(["--fields", f]);
    }
    let o = vpcflow(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    json_lines(&o).remove(0)
}

#[test]
fn an_export_of_the_demo_gives_the_texts_findings_and_totals() {
    let (header, lines) = demo_lines();
    let d = tempfile::tempdir().unwrap();
    let plain = d.path().join("export.txt");
    fs::write(&plain, export(&lines, &header)).unwrap();
    // An S3 export task writes gzip objects.
    let gz = d.path().join("000000.gz");
    fs::write(&gz, gzip(export(&lines, &header).as_bytes())).unwrap();

    let (want, code) = audit(&demo("logs"), None);
    assert_eq!(code, Some(1));
    assert!(!want.is_empty());
    let want_totals = totals(&demo("logs"), None);
    assert_eq!(want_totals["records"], lines.len() as u64);
    for input in [&plain, &gz] {
        assert_eq!(audit(input, Some(&header)), (want.clone(), Some(1)));
        assert_eq!(totals(input, Some(&header)), want_totals);
        let o = vpcflow(&["cat", arg(input), "--fields", &header]);
        assert_eq!(json_lines(&o).len(), lines.len());
        assert_eq!(
            accounting(&stderr(&o)),
            [lines.len() as u64, lines.len() as u64, 0, 0, 0]
        );
    }
}

/// The README's `--fields` recipe rejected every line of an export and exited 0.
#[test]
fn regression_readme_fields_recipe_rejected_every_export_line() {
    // The recipe's own field list, taken from the README.
    let readme = fs::read_to_string(root("README.md")).unwrap();
    let recipe = readme
        .lines()
        .find(|l| l.starts_with("vpcflow cat export.txt --fields"))
        .expect("the README's export recipe");
    let fields = recipe.split('\'').nth(1).unwrap();
    let names: Vec<&str> = fields
        .split(' ')
        .map(|f| f.trim_start_matches("${").trim_end_matches('}'))
        .collect();
    // An export of the demo's records in that layout.
    let (header, lines) = demo_lines();
    let columns: Vec<&str> = header.split(' ').collect();
    let lines: Vec<String> = lines
        .iter()
        .map(|l| {
            let values: Vec<&str> = l.split(' ').collect();
            names
                .iter()
                .map(|n| values[columns.iter().position(|c| c == n).unwrap()])
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("export.txt");
    let text: String = lines
        .iter()
        .zip(demo_lines().1)
        .map(|(l, full)| format!("{} {l}\n", stamp(&full, &header).0))
        .collect();
    fs::write(&p, text).unwrap();
    let o = vpcflow(&["cat", arg(&p), "--fields", fields]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let rows = json_lines(&o);
    assert_eq!(rows.len(), lines.len());
    // Each record holds the values of its line.
    let first: Vec<&str> = lines[1].split(' ').collect();
    assert_eq!(rows[1]["interface_id"], first[1]);
    assert_eq!(rows[1]["start"], first[9].parse::<u64>().unwrap());
}

#[test]
fn filter_log_events_json_of_the_demo_gives_the_texts_findings_and_totals() {
    let (header, lines) = demo_lines();
    let d = tempfile::tempdir().unwrap();
    let pages = d.path().join("events.json");
    fs::write(&pages, filter_log_events(&lines, &header, 1000)).unwrap();
    let one = d.path().join("get.json");
    fs::write(&one, get_log_events(&lines, &header)).unwrap();
    // Saved and gzipped.
    let gz = d.path().join("events.json.gz");
    fs::write(
        &gz,
        gzip(filter_log_events(&lines, &header, 700).as_bytes()),
    )
    .unwrap();
    let (want, _) = audit(&demo("logs"), None);
    let want_totals = totals(&demo("logs"), None);
    for input in [&pages, &one, &gz] {
        assert_eq!(audit(input, Some(&header)), (want.clone(), Some(1)));
        assert_eq!(totals(input, Some(&header)), want_totals);
    }
}

#[test]
fn a_rejected_event_is_reported_at_its_line_in_the_json() {
    let (header, mut lines) = demo_lines();
    lines.truncate(5);
    // The fourth event's srcport is out of range.
    let at = header.split(' ').position(|f| f == "srcport").unwrap();
    let mut bad: Vec<String> = lines[3].split(' ').map(String::from).collect();
    bad[at] = "70000".into();
    lines[3] = bad.join(" ");
    let text = filter_log_events(&lines, &header, 2);
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("events.json");
    fs::write(&p, &text).unwrap();
    let errors = d.path().join("errors.jsonl");
    let o = vpcflow(&[
        "cat",
        arg(&p),
        "--fields",
        &header,
        "--errors",
        arg(&errors),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(json_lines(&o).len(), 4);
    // Where the event starts: the `{` before its logStreamName, counted here.
    let key = format!("\"message\": \"{}\"", lines[3]);
    let message = text.find(&key).unwrap();
    let brace = text[..message].rfind('{').unwrap();
    let line = text[..brace].matches('\n').count() + 1;
    let e: Value = serde_json::from_str(fs::read_to_string(&errors).unwrap().trim()).unwrap();
    assert_eq!(e["line"], line);
    assert_eq!(e["byte_offset"], brace);
    assert!(e["error"].as_str().unwrap().contains("srcport"));
    assert!(stderr(&o).contains(&format!("events.json:{line}: field srcport")));
    assert_eq!(accounting(&stderr(&o)), [5, 4, 1, 0, 0]);
}

/// An event without a message was reported after every other rejected event.
#[test]
fn regression_event_without_message_reported_out_of_order() {
    let (header, lines) = demo_lines();
    let at = header.split(' ').position(|f| f == "dstport").unwrap();
    let bad = |l: &str| {
        let mut v: Vec<&str> = l.split(' ').collect();
        v[at] = "x";
        v.join(" ")
    };
    let doc = json!({"events": [
        {"timestamp": 1, "message": lines[1]},
        {"timestamp": 2, "ingestionTime": 3},
        {"timestamp": 4, "message": bad(&lines[2])},
    ]});
    let text = serde_json::to_string_pretty(&doc).unwrap();
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("events.json");
    fs::write(&p, &text).unwrap();
    let o = vpcflow(&["cat", arg(&p), "--fields", &header]);
    assert_eq!(o.status.code(), Some(0));
    let e = stderr(&o);
    let starts: Vec<usize> = text
        .match_indices("\"timestamp\"")
        .map(|(i, _)| text[..text[..i].rfind('{').unwrap()].matches('\n').count() + 1)
        .collect();
    let second = e.find(&format!("events.json:{}: a log event without", starts[1]));
    let third = e.find(&format!("events.json:{}: field dstport", starts[2]));
    assert!(second.is_some() && third.is_some() && second < third, "{e}");
    assert_eq!(accounting(&e), [3, 1, 2, 0, 0]);
}

#[test]
fn a_rejected_export_line_keeps_its_line_and_byte_offset_in_the_file() {
    let (header, mut lines) = demo_lines();
    lines.truncate(4);
    let at = header.split(' ').position(|f| f == "dstport").unwrap();
    let mut bad: Vec<String> = lines[2].split(' ').map(String::from).collect();
    bad[at] = "x".into();
    lines[2] = bad.join(" ");
    let text = export(&lines, &header);
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("export.txt");
    fs::write(&p, &text).unwrap();
    let errors = d.path().join("errors.jsonl");
    let o = vpcflow(&[
        "cat",
        arg(&p),
        "--fields",
        &header,
        "--errors",
        arg(&errors),
    ]);
    assert_eq!(o.status.code(), Some(0));
    let e: Value = serde_json::from_str(fs::read_to_string(&errors).unwrap().trim()).unwrap();
    let third = text.lines().take(2).map(|l| l.len() + 1).sum::<usize>();
    assert_eq!(e["line"], 3);
    assert_eq!(e["byte_offset"], third);
}

/// Inputs of each look, as files: (name, content, words the error must hold).
fn looks() -> Vec<(&'static str, Vec<u8>, &'static str)> {
    let (header, lines) = demo_lines();
    let csv = format!(
        "{}\n{}\n",
        header.replace(' ', ","),
        lines[1].replace(' ', ",")
    );
    vec![
        (
            // OCSF of another class than Network Activity (4001, which is read):
            // Authentication.
            "ocsf.json",
            br#"{"metadata":{"product":{"name":"Amazon Cognito","vendor_name":"AWS"},"version":"1.1.0"},"class_uid":3002,"category_uid":3,"activity_id":1,"src_endpoint":{"ip":"10.0.0.1","port":443},"time":1793491201000}
"#
            .to_vec(),
            "OCSF JSON",
        ),
        // An export read without its --fields: the v2 layout does not fit.
        (
            "export.txt",
            export(&lines[..3], &header).into_bytes(),
            "CloudWatch Logs export",
        ),
        (
            "enis.json",
            br#"{"NetworkInterfaces": [{"NetworkInterfaceId": "eni-1"}]}"#.to_vec(),
            "JSON",
        ),
        ("flows.csv", csv.into_bytes(), "CSV"),
        (
            "page.html",
            b"<!DOCTYPE html>\n<html><head><title>Sign in</title></head></html>\n".to_vec(),
            "HTML",
        ),
        (
            "flows.tsv",
            format!("{}\n", lines[1].replace(' ', "\t")).into_bytes(),
            "tab-separated",
        ),
    ]
}

#[test]
fn an_input_with_no_record_is_an_error_naming_what_it_looks_like() {
    let d = tempfile::tempdir().unwrap();
    let map = demo("eni-map.csv");
    let policy = demo("policy.toml");
    for (name, content, words) in looks() {
        let p = d.path().join(name);
        fs::write(&p, &content).unwrap();
        let out = d.path().join("out.parquet");
        let runs: Vec<Vec<&str>> = vec![
            vec!["cat", arg(&p)],
            vec!["query", arg(&p)],
            vec!["convert", arg(&p), "-o", arg(&out)],
            vec![
                "audit",
                arg(&p),
                "--map",
                arg(&map),
                "--policy",
                arg(&policy),
            ],
            vec![
                "report",
                arg(&p),
                "--map",
                arg(&map),
                "--policy",
                arg(&policy),
                "-o",
                "-",
            ],
            vec!["map", arg(&map), "--coverage", arg(&p)],
        ];
        for args in runs {
            let o = vpcflow(&args);
            let e = stderr(&o);
            assert_eq!(o.status.code(), Some(2), "{args:?}: {e}");
            let error = e
                .lines()
                .find(|l| l.starts_with("vpcflow: error: no flow-log record"))
                .unwrap_or_else(|| panic!("{args:?}: {e}"));
            assert!(error.contains(name), "{args:?}: {error}");
            assert!(error.contains(words), "{args:?} wants {words}: {error}");
        }
    }
    // Gzip of CSV, and CSV on stdin, are told too.
    let (_, csv, _) = looks().into_iter().find(|l| l.0 == "flows.csv").unwrap();
    let p = d.path().join("flows.csv.gz");
    fs::write(&p, gzip(&csv)).unwrap();
    let o = vpcflow(&["cat", arg(&p)]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("looks like CSV"), "{}", stderr(&o));
    let o = vpcflow_stdin(&["query", "-"], &csv);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("-: no flow-log record in its 2 lines (2 rejected): it looks like CSV")
    );
}

#[test]
fn one_file_with_no_record_among_good_ones_is_a_warning_naming_it() {
    let d = tempfile::tempdir().unwrap();
    let (header, lines) = demo_lines();
    let good = d.path().join("a.log");
    fs::write(&good, format!("{header}\n{}\n{}\n", lines[1], lines[2])).unwrap();
    let dead = d.path().join("b.csv");
    fs::write(&dead, "eni_id,kind,private_ip\neni-1,task,10.0.0.1\n").unwrap();
    let o = vpcflow(&["query", arg(d.path()), "--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(json_lines(&o)[0]["records"], 2);
    let want = format!(
        "vpcflow: warning: {}: no flow-log record in its 2 lines (2 rejected): it looks like CSV",
        dead.display()
    );
    assert!(stderr(&o).contains(&want), "{}", stderr(&o));
    // A file of blank lines and a header alone yields no record, and is no warning.
    fs::remove_file(&dead).unwrap();
    fs::write(d.path().join("c.log"), format!("{header}\n\n")).unwrap();
    let o = vpcflow(&["query", arg(d.path()), "--format", "json"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(!stderr(&o).contains("warning"), "{}", stderr(&o));
}

/// `cat` and `query` of all-rejected input exited 0 with no hint.
#[test]
fn regression_all_lines_rejected_exited_0() {
    let o = vpcflow_stdin(&["cat"], b"a,b,c\n1,2,3\n");
    assert_eq!(o.status.code(), Some(2));
    let o = vpcflow_stdin(&["query", "-"], b"a,b,c\n1,2,3\n");
    assert_eq!(o.status.code(), Some(2));
}

/// The summary line's numbers, as printed.
fn prose_numbers(err: &str) -> Vec<f64> {
    let line = err.lines().find(|l| l.contains(" lines = ")).unwrap();
    line.split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .filter_map(|s| s.trim_end_matches('.').parse().ok())
        .collect()
}

#[test]
fn the_summary_file_says_what_stderr_says_and_what_the_demo_holds() {
    let d = tempfile::tempdir().unwrap();
    let s = d.path().join("summary.json");
    let o = vpcflow(&[
        "audit",
        demo("logs").to_str().unwrap(),
        "--map",
        demo("eni-map.csv").to_str().unwrap(),
        "--policy",
        demo("policy.toml").to_str().unwrap(),
        "--format",
        "json",
        "--summary",
        arg(&s),
    ]);
    assert_eq!(o.status.code(), Some(1));
    let j: Value = serde_json::from_str(&fs::read_to_string(&s).unwrap()).unwrap();
    // Independently: the demo's files, lines as `wc -l` counts them, headers.
    let files = gz_files(&demo("logs"));
    let wc: usize = files.iter().map(|(_, t)| t.matches('\n').count()).sum();
    let headers = files
        .iter()
        .flat_map(|(_, t)| t.lines())
        .filter(|l| l.starts_with("version "))
        .count();
    let bytes: u64 = files
        .iter()
        .map(|(p, _)| fs::metadata(p).unwrap().len())
        .sum();
    let r = &j["reading"];
    assert_eq!(r["files"]["read"], files.len());
    assert_eq!(r["lines"]["lines"], wc);
    assert_eq!(r["lines"]["headers"], headers);
    assert_eq!(r["lines"]["records"], wc - headers);
    assert_eq!(r["lines"]["rejected"], 0);
    assert_eq!(r["bytes_read"], bytes);
    // The prose's numbers: files, lines, records, rejected, headers, blank.
    let n = prose_numbers(&stderr(&o));
    let l = &r["lines"];
    assert_eq!(
        n[..6],
        [
            r["files"]["read"].as_f64().unwrap(),
            l["lines"].as_f64().unwrap(),
            l["records"].as_f64().unwrap(),
            l["rejected"].as_f64().unwrap(),
            l["headers"].as_f64().unwrap(),
            l["blanks"].as_f64().unwrap()
        ]
    );
    // The findings per rule: what the findings printed hold, and what the prose says.
    let findings = json_lines(&o);
    let f = &j["audit"]["findings"];
    assert_eq!(f["total"], findings.len());
    for (rule, count) in f["by_rule"].as_object().unwrap() {
        let printed = findings.iter().filter(|x| x["rule"] == *rule).count();
        assert_eq!(count, &json!(printed), "{rule}");
        assert!(stderr(&o).contains(&format!("{rule} {count}")), "{rule}");
    }
    assert_eq!(j["exit_code"], 1);
    assert_eq!(j["verdict"], "findings");
    assert_eq!(j["coverage"]["records"], wc - headers);
    assert_eq!(j["coverage"]["unknown_eni"], 0);
    let undecided = j["audit"]["undecided_connections"].as_u64().unwrap();
    assert!(stderr(&o).contains(&format!("{undecided} undecided")));
}

#[test]
fn the_summary_file_of_a_failed_run_names_the_error_and_the_looks() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("flows.csv");
    fs::write(&p, "a,b,c\n1,2,3\n\n").unwrap();
    let s = d.path().join("summary.json");
    let o = vpcflow(&["cat", arg(&p), "--summary", arg(&s)]);
    assert_eq!(o.status.code(), Some(2));
    let j: Value = serde_json::from_str(&fs::read_to_string(&s).unwrap()).unwrap();
    assert_eq!(j["command"], "cat");
    assert_eq!(j["exit_code"], 2);
    assert_eq!(j["verdict"], "error");
    assert!(j["error"].as_str().unwrap().contains("looks like CSV"));
    assert_eq!(
        j["reading"]["lines"],
        json!({"lines": 3, "records": 0, "rejected": 2, "headers": 0, "blanks": 1})
    );
    assert_eq!(j["reading"]["no_record"][0]["file"], arg(&p));
    assert!(j["reading"]["no_record"][0]["looks_like"]
        .as_str()
        .unwrap()
        .starts_with("CSV"));
    // map --coverage takes it too.
    let o = vpcflow(&[
        "map",
        demo("eni-map.csv").to_str().unwrap(),
        "--coverage",
        demo("logs").to_str().unwrap(),
        "--summary",
        arg(&s),
        "--format",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let j: Value = serde_json::from_str(&fs::read_to_string(&s).unwrap()).unwrap();
    assert_eq!(j["command"], "map");
    assert_eq!(j["coverage"]["records"], 6000);
}
