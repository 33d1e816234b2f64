//! `vpcflow convert`: Parquet with AWS's column names and types, values identical to
//! `vpcflow cat`, read back by the parquet crate and (where installed) by DuckDB.

mod common;

use std::process::Command;

use arrow::array::{Array, Int32Array, Int64Array, StringArray};
use arrow::datatypes::DataType;
use common::{stderr, vpcflow};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::{ConvertedType, Type as PhysicalType};
use serde_json::Value;

const DEMO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/demo/logs");

fn cat_rows(args: &[&str]) -> Vec<serde_json::Map<String, Value>> {
    let o = vpcflow(&[&["cat"][..], args].concat());
    assert!(o.status.success());
    String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(|l| match serde_json::from_str(l).unwrap() {
            Value::Object(m) => m,
            _ => panic!("not an object"),
        })
        .collect()
}

/// Every row of a Parquet file as JSON-like maps (nulls included).
fn parquet_rows(path: &std::path::Path) -> Vec<serde_json::Map<String, Value>> {
    let file = std::fs::File::open(path).unwrap();
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap();
    let mut rows = Vec::new();
    for batch in reader {
        let batch = batch.unwrap();
        for r in 0..batch.num_rows() {
            let mut m = serde_json::Map::new();
            for (f, c) in batch.schema().fields().iter().zip(batch.columns()) {
                let v = if c.is_null(r) {
                    Value::Null
                } else {
                    match c.data_type() {
                        DataType::Int32 => c
                            .as_any()
                            .downcast_ref::<Int32Array>()
                            .unwrap()
                            .value(r)
                            .into(),
                        DataType::Int64 => c
                            .as_any()
                            .downcast_ref::<Int64Array>()
                            .unwrap()
                            .value(r)
                            .into(),
                        DataType::Utf8 => c
                            .as_any()
                            .downcast_ref::<StringArray>()
                            .unwrap()
                            .value(r)
                            .into(),
                        t => panic!("unexpected type {t} for {}", f.name()),
                    }
                };
                m.insert(f.name().clone(), v);
            }
            rows.push(m);
        }
    }
    rows
}

#[test]
fn parquet_has_aws_types_and_cat_values() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("demo.parquet");
    let o = vpcflow(&["convert", DEMO, "-o", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));

    // Physical types as AWS writes them.
    let file = std::fs::File::open(&out).unwrap();
    let meta = ParquetRecordBatchReaderBuilder::try_new(file).unwrap();
    let schema = meta.parquet_schema();
    let int32 = [
        "version",
        "srcport",
        "dstport",
        "protocol",
        "tcp_flags",
        "traffic_path",
    ];
    let int64 = ["packets", "bytes", "start", "end"];
    for col in schema.columns() {
        let name = col.name();
        let expected = if int32.contains(&name) {
            PhysicalType::INT32
        } else if int64.contains(&name) {
            PhysicalType::INT64
        } else {
            assert_eq!(col.converted_type(), ConvertedType::UTF8, "{name}");
            PhysicalType::BYTE_ARRAY
        };
        assert_eq!(col.physical_type(), expected, "{name}");
    }
    assert_eq!(schema.num_columns(), 29);
    let rg = meta.metadata().row_group(0);
    assert_eq!(
        format!("{:?}", rg.column(0).compression())
            .split('(')
            .next(),
        Some("ZSTD")
    );

    let want = cat_rows(&[DEMO]);
    let got = parquet_rows(&out);
    assert_eq!(got.len(), want.len());
    assert!(got == want, "Parquet rows equal cat's JSON rows");
}

fn convert(args: &[&str]) -> std::process::Output {
    vpcflow(&[&["convert"][..], args].concat())
}

#[test]
fn later_layout_with_fewer_columns_gets_nulls() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.log");
    std::fs::write(
        &input,
        "version srcaddr dstaddr bytes\n5 10.0.0.1 10.0.0.2 100\nversion srcaddr\n5 10.0.0.3\n",
    )
    .unwrap();
    let out = dir.path().join("out.parquet");
    let o = convert(&[input.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    assert!(o.status.success());
    let rows = parquet_rows(&out);
    assert_eq!(
        serde_json::to_value(&rows).unwrap(),
        serde_json::json!([
            {"version": 5, "srcaddr": "10.0.0.1", "dstaddr": "10.0.0.2", "bytes": 100},
            {"version": 5, "srcaddr": "10.0.0.3", "dstaddr": null, "bytes": null},
        ])
    );
}

/// An S3 tree whose flow log format gained a column half way: every record in one
/// file with the union of the columns, nulls where a record's layout lacks one.
#[test]
fn convert_of_a_tree_whose_format_gained_a_column_writes_the_union() {
    let dir = tempfile::tempdir().unwrap();
    let day = |d: &str| {
        dir.path()
            .join(format!("AWSLogs/1/vpcflowlogs/us-east-1/2026/11/{d}"))
    };
    std::fs::create_dir_all(day("01")).unwrap();
    std::fs::create_dir_all(day("02")).unwrap();
    std::fs::write(
        day("01").join("a.log"),
        "version srcaddr bytes\n2 10.0.0.1 100\n2 10.0.0.2 200\n",
    )
    .unwrap();
    std::fs::write(
        day("02").join("b.log"),
        "version srcaddr bytes flow-direction\n5 10.0.0.3 300 ingress\n",
    )
    .unwrap();
    // And a mid-file header that adds yet another column after rows were written.
    std::fs::write(
        day("02").join("c.log"),
        "version srcaddr\n5 10.0.0.4\nversion srcaddr action\n5 10.0.0.5 ACCEPT\n",
    )
    .unwrap();
    let out = dir.path().join("out.parquet");
    let o = convert(&[
        dir.path().join("AWSLogs").to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        serde_json::to_value(parquet_rows(&out)).unwrap(),
        serde_json::json!([
            {"version": 2, "srcaddr": "10.0.0.1", "bytes": 100, "flow_direction": null, "action": null},
            {"version": 2, "srcaddr": "10.0.0.2", "bytes": 200, "flow_direction": null, "action": null},
            {"version": 5, "srcaddr": "10.0.0.3", "bytes": 300, "flow_direction": "ingress", "action": null},
            {"version": 5, "srcaddr": "10.0.0.4", "bytes": null, "flow_direction": null, "action": null},
            {"version": 5, "srcaddr": "10.0.0.5", "bytes": null, "flow_direction": null, "action": "ACCEPT"},
        ])
    );
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 2, "no temporary file left behind: {names:?}");
}

/// A failed convert used to leave a 4-byte `PAR1` file, or an empty one for a missing
/// input, in place of the previous output.
#[test]
fn failed_convert_keeps_the_previous_output() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.parquet");
    std::fs::write(&out, b"previous output").unwrap();
    let missing = dir.path().join("missing.log");
    let o = convert(&[missing.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(std::fs::read(&out).unwrap(), b"previous output");
    assert!(String::from_utf8_lossy(&o.stderr).contains("not written"));
    // A run stopped by --strict at a bad line.
    let bad = dir.path().join("bad.log");
    std::fs::write(&bad, format!("{}\n2 x\n", DEMO_LINE)).unwrap();
    let o = convert(&[
        "--strict",
        bad.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(std::fs::read(&out).unwrap(), b"previous output");
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(left.len(), 2, "no temporary file left behind");
    // A successful run replaces it.
    std::fs::write(&bad, format!("{}\n", DEMO_LINE)).unwrap();
    let o = convert(&[bad.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    assert!(o.status.success());
    assert_eq!(parquet_rows(&out).len(), 1);
}

const DEMO_LINE: &str =
    "2 123456789010 eni-0a1 10.0.0.1 10.0.0.2 443 49152 6 10 840 1700000000 1700000060 ACCEPT OK";

#[test]
fn duckdb_reads_back_identical_values() {
    if !common::python_imports("duckdb") {
        common::skip(
            "duckdb_reads_back_identical_values",
            "the Python duckdb package is not installed (.ci/run installs it)",
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("demo.parquet");
    assert!(
        vpcflow(&["convert", DEMO, "-o", out.to_str().unwrap(), "-q"])
            .status
            .success()
    );
    let script = format!(
        "import duckdb, json, sys\n\
         rel = duckdb.sql(\"select * from read_parquet('{}')\")\n\
         cols = rel.columns\n\
         types = [str(t) for t in rel.types]\n\
         print(json.dumps({{'types': dict(zip(cols, types)), 'rows': [dict(zip(cols, r)) for r in rel.fetchall()]}}))\n",
        out.display()
    );
    let o = Command::new("python3")
        .args(["-c", &script])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["types"]["srcport"], "INTEGER");
    assert_eq!(v["types"]["bytes"], "BIGINT");
    assert_eq!(v["types"]["srcaddr"], "VARCHAR");
    let got: Vec<serde_json::Map<String, Value>> = v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_object().unwrap().clone())
        .collect();
    let want = cat_rows(&[DEMO]);
    assert_eq!(got.len(), want.len());
    assert!(got == want, "DuckDB rows equal cat's JSON rows");
}
