//! Parquet as input: `vpcflow convert` output and AWS-shaped Parquet (AWS's column
//! types, GZIP pages, Hive folders) give every subcommand the same answers as the text
//! they came from; bad values reject their row with its number; the files are read in
//! parallel by row group with the same results.

mod common;

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, Int32Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, GzipLevel};
use parquet::file::properties::WriterProperties;

use common::{root, stdout, vpcflow, vpcflow_stdin};

/// `vpcflow convert INPUT -o OUT`.
fn convert(input: &Path, out: &Path) {
    let o = vpcflow(&[
        "convert",
        input.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "-q",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// A copy of a Parquet file with row groups of `rows` rows, GZIP pages.
fn regroup(from: &Path, to: &Path, rows: usize) -> usize {
    let reader = ParquetRecordBatchReaderBuilder::try_new(File::open(from).unwrap())
        .unwrap()
        .build()
        .unwrap();
    let batches: Vec<RecordBatch> = reader.map(|b| b.unwrap()).collect();
    let props = WriterProperties::builder()
        .set_max_row_group_row_count(Some(rows))
        .set_compression(Compression::GZIP(GzipLevel::default()))
        .build();
    let mut w =
        ArrowWriter::try_new(File::create(to).unwrap(), batches[0].schema(), Some(props)).unwrap();
    for b in &batches {
        w.write(b).unwrap();
    }
    w.close().unwrap().num_row_groups()
}

/// The outputs of the same commands over two inputs must be byte-identical.
fn same_answers(text: &Path, parquet: &Path, map: &Path, policy: &Path, threads: &[&str]) {
    let (t, p) = (text.to_str().unwrap(), parquet.to_str().unwrap());
    let (m, pol) = (map.to_str().unwrap(), policy.to_str().unwrap());
    let commands: Vec<Vec<&str>> = vec![
        vec!["audit", "--map", m, "--policy", pol, "--format", "json"],
        vec!["cat", "--format", "jsonl", "--map", m],
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
        vec![
            "cat",
            "--since",
            "2026-11-01T00:10:00Z",
            "--until",
            "2026-11-01T00:40:00Z",
        ],
    ];
    for cmd in &commands {
        let with = |input: &str, threads: &str| {
            let mut args = vec![cmd[0], input];
            args.extend(&cmd[1..]);
            args.extend(["--threads", threads, "-q"]);
            let o = vpcflow(&args);
            assert!(
                o.status.code().unwrap() < 2,
                "{args:?}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            (o.status.code(), stdout(&o))
        };
        let want = with(t, "1");
        assert!(!want.1.is_empty(), "{cmd:?}");
        for th in threads {
            assert_eq!(with(p, th), want, "{cmd:?} --threads {th}");
        }
    }
}

#[test]
fn convert_output_reads_back_with_the_texts_answers() {
    let dir = tempfile::tempdir().unwrap();
    let demo = root("testdata/demo");
    let pq = dir.path().join("demo.parquet");
    convert(&demo.join("logs"), &pq);
    same_answers(
        &demo.join("logs"),
        &pq,
        &demo.join("eni-map.csv"),
        &demo.join("policy.toml"),
        &["1", "3"],
    );
    // In row groups of 500 rows (12 of them), read in parallel by row group.
    let grouped = dir.path().join("grouped.parquet");
    assert_eq!(regroup(&pq, &grouped, 500), 12);
    same_answers(
        &demo.join("logs"),
        &grouped,
        &demo.join("eni-map.csv"),
        &demo.join("policy.toml"),
        &["1", "3"],
    );
    // The summary counts rows as lines and records.
    let o = vpcflow(&["cat", grouped.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(
            "vpcflow: 1 file, 6000 lines = 6000 records + 0 rejected + 0 headers + 0 blank"
        ),
        "{err}"
    );
}

#[test]
fn switched_layouts_and_ipv6_read_back_with_the_texts_findings() {
    // v7 objects that switch to v2 halfway (the Parquet file holds the union of the
    // columns, null where a record's layout lacked one), IPv6 peers of dual-stack tasks.
    let dir = tempfile::tempdir().unwrap();
    let corpus = root("testdata/corpus");
    for (log, map, policy) in [
        ("v7-switch.log.gz", "v7.map.csv", "v7.policy.toml"),
        ("v2-noheader.log.gz", "v2.map.csv", "v2.policy.toml"),
    ] {
        let pq = dir.path().join(format!("{log}.parquet"));
        convert(&corpus.join(log), &pq);
        let audit = |input: &Path| {
            let o = vpcflow(&[
                "audit",
                input.to_str().unwrap(),
                "--map",
                corpus.join(map).to_str().unwrap(),
                "--policy",
                corpus.join(policy).to_str().unwrap(),
                "--format",
                "json",
                "-q",
            ]);
            (o.status.code(), stdout(&o))
        };
        let want = audit(&corpus.join(log));
        assert_eq!(want.0, Some(1), "{log}");
        assert_eq!(audit(&pq), want, "{log}");
    }
}

/// An AWS-shaped file: AWS's column names and types (INT32 version and ports, INT64
/// protocol as Athena's table has it, packets, bytes, start and end), GZIP pages.
/// One row: srcaddr, dstaddr, srcport, dstport, bytes, start, end, action.
type Row<'a> = (&'a str, &'a str, i32, i32, i64, i64, i64, &'a str);

fn aws_file(path: &Path, rows: &[Row]) {
    let s = |f: &str, t: DataType| Field::new(f, t, true);
    let schema = Arc::new(Schema::new(vec![
        s("version", DataType::Int32),
        s("account_id", DataType::Utf8),
        s("interface_id", DataType::Utf8),
        s("srcaddr", DataType::Utf8),
        s("dstaddr", DataType::Utf8),
        s("srcport", DataType::Int32),
        s("dstport", DataType::Int32),
        s("protocol", DataType::Int64),
        s("packets", DataType::Int64),
        s("bytes", DataType::Int64),
        s("start", DataType::Int64),
        s("end", DataType::Int64),
        s("action", DataType::Utf8),
        s("log_status", DataType::Utf8),
        s("vpc_id", DataType::Utf8),
    ]));
    let n = rows.len();
    let text = |v: Vec<Option<&str>>| Arc::new(StringArray::from(v)) as ArrayRef;
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int32Array::from(vec![5; n])),
        text(vec![Some("123456789012"); n]),
        text(vec![Some("eni-1"); n]),
        text(rows.iter().map(|r| Some(r.0)).collect()),
        text(rows.iter().map(|r| Some(r.1)).collect()),
        Arc::new(Int32Array::from(
            rows.iter().map(|r| r.2).collect::<Vec<_>>(),
        )),
        Arc::new(Int32Array::from(
            rows.iter().map(|r| r.3).collect::<Vec<_>>(),
        )),
        Arc::new(Int64Array::from(vec![6; n])),
        Arc::new(Int64Array::from(vec![2; n])),
        Arc::new(Int64Array::from(
            rows.iter().map(|r| r.4).collect::<Vec<_>>(),
        )),
        Arc::new(Int64Array::from(
            rows.iter().map(|r| r.5).collect::<Vec<_>>(),
        )),
        Arc::new(Int64Array::from(
            rows.iter().map(|r| r.6).collect::<Vec<_>>(),
        )),
        text(rows.iter().map(|r| Some(r.7)).collect()),
        text(vec![Some("OK"); n]),
        text(vec![None; n]),
    ];
    let batch = RecordBatch::try_new(schema.clone(), columns).unwrap();
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let props = WriterProperties::builder()
        .set_compression(Compression::GZIP(GzipLevel::default()))
        .build();
    let mut w = ArrowWriter::try_new(File::create(path).unwrap(), schema, Some(props)).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
}

#[test]
fn aws_shaped_parquet_in_hive_folders_and_bad_values_rejected_by_row() {
    let dir = tempfile::tempdir().unwrap();
    let t = 1_793_491_200;
    let tree = dir
        .path()
        .join("AWSLogs/aws-account-id=123456789012/aws-service=vpcflowlogs");
    let file = tree.join("year=2026/month=11/day=01/hour=00/123456789012_vpcflowlogs_us-east-1_fl-1_20261101T0005Z_a.log.parquet");
    aws_file(
        &file,
        &[
            (
                "10.0.1.10",
                "198.51.100.7",
                40000,
                443,
                900,
                t,
                t + 30,
                "ACCEPT",
            ),
            (
                "10.0.1.10",
                "2001:db8::7",
                40001,
                443,
                100,
                t + 60,
                t + 90,
                "ACCEPT",
            ),
            (
                "10.0.1.10",
                "198.51.100.7",
                40002,
                70000,
                100,
                t,
                t,
                "ACCEPT",
            ),
            (
                "10.0.1.10",
                "not-an-address",
                40003,
                443,
                100,
                t,
                t,
                "ACCEPT",
            ),
            ("10.0.1.10", "198.51.100.7", 40004, 443, -5, t, t, "REJECT"),
            (
                "10.0.1.10",
                "198.51.100.7",
                40005,
                443,
                100,
                8_000_000_000,
                t,
                "REJECT",
            ),
        ],
    );
    let o = vpcflow(&["cat", dir.path().to_str().unwrap()]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let rows: Vec<serde_json::Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 2);
    assert_eq!(
        rows[0],
        serde_json::json!({"version": 5, "account_id": "123456789012", "interface_id": "eni-1",
            "srcaddr": "10.0.1.10", "dstaddr": "198.51.100.7", "srcport": 40000, "dstport": 443,
            "protocol": 6, "packets": 2, "bytes": 900, "start": t, "end": t + 30,
            "action": "ACCEPT", "log_status": "OK", "vpc_id": null})
    );
    assert_eq!(rows[1]["dstaddr"], "2001:db8::7");
    let err = String::from_utf8_lossy(&o.stderr);
    let shown = file.display();
    for msg in [
        format!("{shown}:3: field dstport: \"70000\" is out of range (0 to 65535)"),
        format!("{shown}:4: field dstaddr: \"not-an-address\" is not an IP address"),
        format!("{shown}:5: field bytes: \"-5\" is not a number"),
        format!("{shown}:6: field start: \"8000000000\" is not a unix time before the year 2200"),
    ] {
        assert!(err.contains(&msg), "{msg}\n{err}");
    }
    assert!(
        err.contains("1 file, 6 lines = 2 records + 4 rejected + 0 headers + 0 blank"),
        "{err}"
    );
    // A query over the vpc_id column, which the file has (all null here). Only the
    // columns a command reads are read, and checked: rows 3 and 4 are bad in columns
    // this query does not read, and are counted.
    let o = vpcflow(&[
        "query",
        dir.path().to_str().unwrap(),
        "--group-by",
        "vpc_id",
        "-q",
    ]);
    assert_eq!(
        stdout(&o).trim(),
        r#"{"vpc_id":null,"records":4,"packets":8,"bytes":1200,"first_seen":"2026-11-01T00:00:00Z","last_seen":"2026-11-01T00:01:30Z"}"#
    );
}

#[test]
fn parquet_of_another_writer_with_numbers_as_text() {
    // flowlogs-reader's test file (pandas): numbers stored as strings, `None` and `-`
    // for missing values, and a protocol of 8080 (rejected, as in text).
    let f = root("testdata/conformance/obsrvbl-oss-flowlogs-reader/flows.parquet");
    let o = vpcflow(&["cat", f.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0));
    let rows: Vec<serde_json::Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 2);
    assert_eq!(
        (
            &rows[0]["srcport"],
            &rows[0]["protocol"],
            &rows[0]["account_id"]
        ),
        (
            &serde_json::json!(443),
            &serde_json::json!(6),
            &serde_json::json!("123456789010")
        )
    );
    assert_eq!(
        (
            &rows[1]["srcaddr"],
            &rows[1]["packets"],
            &rows[1]["log_status"]
        ),
        (
            &serde_json::Value::Null,
            &serde_json::Value::Null,
            &serde_json::json!("NODATA")
        )
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(&format!(
            "{}:3: field protocol: \"8080\" is out of range (0 to 255)",
            f.display()
        )),
        "{err}"
    );
}

#[test]
fn damaged_parquet_is_a_file_error_and_stdin_parquet_says_to_give_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.parquet");
    std::fs::write(&bad, b"PAR1 this is not really parquet").unwrap();
    let o = vpcflow(&["cat", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("not readable Parquet"), "{err}");
    let parquet = std::fs::read(root(
        "testdata/conformance/obsrvbl-oss-flowlogs-reader/flows.parquet",
    ))
    .unwrap();
    let o = vpcflow_stdin(&["cat", "-"], &parquet);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("read from a file, not from standard input"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn map_as_a_parquet_table_holds_the_csv_rows() {
    let dir = tempfile::tempdir().unwrap();
    let demo = root("testdata/demo/aws");
    let (tasks, enis) = (
        demo.join("describe-tasks.json"),
        demo.join("describe-network-interfaces.json"),
    );
    let out = dir.path().join("map.parquet");
    let o = vpcflow(&[
        "map",
        tasks.to_str().unwrap(),
        enis.to_str().unwrap(),
        "--format",
        "parquet",
        "-o",
        out.to_str().unwrap(),
        "-q",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let csv = stdout(&vpcflow(&[
        "map",
        tasks.to_str().unwrap(),
        enis.to_str().unwrap(),
        "-q",
    ]));
    let reader = ParquetRecordBatchReaderBuilder::try_new(File::open(&out).unwrap())
        .unwrap()
        .build()
        .unwrap();
    let batch = reader.map(|b| b.unwrap()).next().unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let names: Vec<String> = batch
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    assert_eq!(names, header);
    let rows: Vec<&str> = lines.collect();
    assert_eq!(batch.num_rows(), rows.len());
    assert!(rows.len() > 20);
    for (i, line) in rows.iter().enumerate() {
        for (c, want) in line.split(',').enumerate() {
            let col = batch.column(c);
            let got = if let Some(t) = col.as_any().downcast_ref::<Int64Array>() {
                // valid_from / valid_to: unix seconds, null when unbounded.
                if t.is_null(i) {
                    String::new()
                } else {
                    chrono::DateTime::from_timestamp(t.value(i), 0)
                        .unwrap()
                        .format("%Y-%m-%dT%H:%M:%SZ")
                        .to_string()
                }
            } else {
                let s = col.as_any().downcast_ref::<StringArray>().unwrap();
                if s.is_null(i) {
                    String::new()
                } else {
                    s.value(i).to_string()
                }
            };
            assert_eq!(got, want, "row {i} column {}", header[c]);
        }
    }
}
