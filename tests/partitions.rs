//! `convert --partition-by`: a Hive tree by each record's start time (UTC) that reads
//! back, with vpcflow and with DuckDB, as the records it came from; `--map` adds the
//! enrichment columns.

mod common;

use std::fs::File;
use std::path::Path;
use std::process::{Command, Output};

use common::vpcflow;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

// 2026-11-01T23:00:00Z
const T: i64 = 1_793_491_200 + 23 * 3600;

/// Records over two days: 23:xx on Nov 1st, 00:xx and 01:xx on Nov 2nd, and one
/// without a start.
fn logs() -> String {
    let mut out = String::from(
        "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status\n",
    );
    for (i, at) in [0, 1800, 3600, 3660, 7300, 7400].into_iter().enumerate() {
        let t = T + at;
        out += &format!(
            "2 123456789012 eni-web 198.51.100.{i} 10.0.1.10 4000{i} 8080 6 2 {} {t} {} ACCEPT OK\n",
            100 * (i + 1),
            t + 30
        );
    }
    out += "2 123456789012 eni-web - - - - - - - - - - NODATA\n";
    out
}

/// `cat` output of an input, as sorted lines (a tree's files come in path order).
fn cat_sorted(input: &Path, extra: &[&str]) -> Vec<String> {
    let mut args = vec!["cat", input.to_str().unwrap(), "-q"];
    args.extend(extra);
    let o = vpcflow(&args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let mut lines: Vec<String> = String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    lines.sort();
    lines
}

/// `vpcflow convert TEXT -o TREE --partition-by KEYS` and more arguments.
fn convert_tree(text: &Path, tree: &Path, keys: &str, extra: &[&str]) -> Output {
    let mut args = vec![
        "convert",
        text.to_str().unwrap(),
        "-o",
        tree.to_str().unwrap(),
        "--partition-by",
        keys,
    ];
    args.extend(extra);
    vpcflow(&args)
}

fn files(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    out.sort();
    out
}

#[test]
fn hourly_tree_reads_back_as_the_text() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("flows.log");
    std::fs::write(&text, logs()).unwrap();
    let tree = dir.path().join("tree");
    let o = convert_tree(&text, &tree, "year,month,day,hour", &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        files(&tree),
        [
            "year=2026/month=11/day=01/hour=23/part-00000.parquet",
            "year=2026/month=11/day=02/hour=00/part-00000.parquet",
            "year=2026/month=11/day=02/hour=01/part-00000.parquet",
            "year=__HIVE_DEFAULT_PARTITION__/month=__HIVE_DEFAULT_PARTITION__/day=__HIVE_DEFAULT_PARTITION__/hour=__HIVE_DEFAULT_PARTITION__/part-00000.parquet",
        ]
    );
    // Rows per file: 2 at 23h, 2 at 00h, 2 at 01h, the NODATA record.
    let rows = |f: &str| {
        let b =
            ParquetRecordBatchReaderBuilder::try_new(File::open(tree.join(f)).unwrap()).unwrap();
        let names: Vec<String> = b
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        assert!(
            !names.contains(&"year".to_string()),
            "partition values are in the folders"
        );
        b.metadata().file_metadata().num_rows()
    };
    assert_eq!(
        rows("year=2026/month=11/day=01/hour=23/part-00000.parquet"),
        2
    );
    assert_eq!(
        rows("year=2026/month=11/day=02/hour=01/part-00000.parquet"),
        2
    );
    assert_eq!(
        rows("year=__HIVE_DEFAULT_PARTITION__/month=__HIVE_DEFAULT_PARTITION__/day=__HIVE_DEFAULT_PARTITION__/hour=__HIVE_DEFAULT_PARTITION__/part-00000.parquet"),
        1
    );
    assert_eq!(cat_sorted(&tree, &[]), cat_sorted(&text, &[]));
    // A second run into the same directory is refused: the tree is one table.
    let o = convert_tree(&text, &tree, "year,month,day", &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("is not empty"));
    let o = convert_tree(&text, &dir.path().join("t2"), "month,day", &[]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        "vpcflow: error: --partition-by: \"month,day\" is not year,month,day or year,month,day,hour\n"
    );
}

#[test]
fn daily_tree_with_the_map_has_the_enrichment_columns() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("flows.log");
    std::fs::write(&text, logs()).unwrap();
    let map = dir.path().join("map.csv");
    std::fs::write(
        &map,
        "eni_id,kind,private_ip,task_arn,cluster,service,task_family,security_groups,subnet_id,vpc_id,valid_from,valid_to\n\
         eni-web,task,10.0.1.10,arn:aws:ecs:us-east-1:1:task/prod/web1,prod,web,web,sg-web,,,,\n",
    )
    .unwrap();
    let tree = dir.path().join("tree");
    let o = convert_tree(
        &text,
        &tree,
        "year,month,day",
        &["--map", map.to_str().unwrap()],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let f = tree.join("year=2026/month=11/day=02/part-00000.parquet");
    let reader = ParquetRecordBatchReaderBuilder::try_new(File::open(&f).unwrap())
        .unwrap()
        .build()
        .unwrap();
    let batch = reader.map(|b| b.unwrap()).next().unwrap();
    assert_eq!(batch.num_rows(), 4);
    for c in ["task_arn", "service", "peer_addr", "peer_kind", "inbound"] {
        assert!(batch.column_by_name(c).is_some(), "{c}");
    }
    let service = arrow::compute::cast(
        batch.column_by_name("service").unwrap(),
        &arrow::datatypes::DataType::Utf8,
    )
    .unwrap();
    let service = service
        .as_any()
        .downcast_ref::<arrow::array::StringArray>()
        .unwrap();
    assert!((0..4).all(|i| service.value(i) == "web"));
    // Read back, the enrichment is computed again from the map: the same records.
    let m = ["--map", map.to_str().unwrap()];
    assert_eq!(cat_sorted(&tree, &m), cat_sorted(&text, &m));
}

#[test]
fn duckdb_reads_the_tree_as_one_table() {
    if !common::python_imports("duckdb") {
        common::skip(
            "duckdb_reads_the_tree_as_one_table",
            "python3 with duckdb is needed (.ci/run installs it)",
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("flows.log");
    std::fs::write(&text, logs()).unwrap();
    let tree = dir.path().join("tree");
    let o = convert_tree(&text, &tree, "year,month,day,hour", &[]);
    assert!(o.status.success());
    // Values are zero-padded as in AWS's own Hive layout (DuckDB reads `01` as text).
    let sql = format!(
        "select year::int, month::int, day::int, hour::int, count(*), sum(bytes) from read_parquet('{}/**/*.parquet', \
         hive_partitioning = true) group by all order by all",
        tree.display()
    );
    let o = Command::new("python3")
        .args([
            "-c",
            &format!("import duckdb; print(duckdb.sql(\"{sql}\").fetchall())"),
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        "[(2026, 11, 1, 23, 2, 300), (2026, 11, 2, 0, 2, 700), (2026, 11, 2, 1, 2, 1100), (None, None, None, None, 1, None)]"
    );
}

/// Two records in each of `hours` hours from 2026-11-01T00:00Z, in time order.
fn two_per_hour(hours: i64) -> String {
    let mut out = String::from(
        "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status\n",
    );
    for h in 0..hours {
        for i in 0..2 {
            let t = 1_793_491_200 + h * 3600 + i * 60;
            out += &format!(
                "2 123456789012 eni-web 198.51.100.{i} 10.0.1.10 40000 8080 6 2 100 {t} {} ACCEPT OK\n",
                t + 30
            );
        }
    }
    out
}

/// `flows.log` of [`two_per_hour`] converted into `tree` by the hour, in a new folder.
fn hourly_tree(hours: i64) -> (tempfile::TempDir, Output) {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("flows.log");
    std::fs::write(&text, two_per_hour(hours)).unwrap();
    let o = convert_tree(&text, &dir.path().join("tree"), "year,month,day,hour", &[]);
    (dir, o)
}

#[test]
fn partition_count_past_1000_is_warned_with_records_per_partition() {
    // Regression: 50,000 records at distinct hours made 50,000 files without a word.
    assert_eq!(vpcflow::output::parquet::MANY_PARTITIONS, 1000);
    // 1001 hours: 2026-11-01T00 to 2026-12-12T16 (1000 hours later).
    let (dir, o) = hourly_tree(1001);
    let (text, tree) = (dir.path().join("flows.log"), dir.path().join("tree"));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert_eq!(files(&tree).len(), 1001);
    let lines: Vec<&str> = err.lines().collect();
    // Warned during the run, before the reading summary, with the counts so far...
    let early = lines
        .iter()
        .position(|l| {
            l.starts_with(
                "vpcflow: warning: --partition-by year,month,day,hour has made more than 1000 \
                 partitions so far: ",
            )
        })
        .unwrap_or_else(|| panic!("no early warning: {err}"));
    let summary = lines
        .iter()
        .position(|l| l.starts_with("vpcflow: 1 file, 2003 lines"))
        .unwrap_or_else(|| panic!("no summary: {err}"));
    assert!(early < summary, "{err}");
    assert!(
        lines[early].contains("records per partition on average")
            && lines[early].ends_with("a coarser --partition-by year,month,day would make fewer"),
        "{err}"
    );
    // ...and at the end with the totals.
    assert_eq!(
        lines[summary + 1..],
        [
            "vpcflow: warning: --partition-by year,month,day,hour wrote 1001 files in 1001 \
             partitions (year=2026/month=11/day=01/hour=00 to year=2026/month=12/day=12/hour=16) \
             for 2002 records, 2.0 records per partition on average; a coarser --partition-by \
             year,month,day would make fewer"
        ],
        "{err}"
    );
    // --quiet keeps it quiet.
    let o = convert_tree(
        &text,
        &dir.path().join("quiet"),
        "year,month,day,hour",
        &["-q"],
    );
    assert!(o.status.success());
    assert_eq!(String::from_utf8_lossy(&o.stderr), "");
}

#[test]
fn partition_count_of_1000_or_a_normal_run_is_not_warned() {
    let (dir, o) = hourly_tree(1000);
    let (text, tree) = (dir.path().join("flows.log"), dir.path().join("tree"));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert_eq!(files(&tree).len(), 1000);
    assert!(!err.contains("warning"), "{err}");
    std::fs::write(&text, logs()).unwrap();
    let o = convert_tree(&text, &dir.path().join("t2"), "year,month,day,hour", &[]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(!err.contains("warning"), "{err}");
}

#[test]
fn max_partitions_refuses_a_tree_past_it_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("flows.log");
    // Records of two days and one without a start: 3 daily partitions, 7 records.
    std::fs::write(&text, logs()).unwrap();
    let tree = dir.path().join("tree");
    let o = convert_tree(&text, &tree, "year,month,day", &["--max-partitions", "1"]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        "vpcflow: error: --partition-by year,month,day: the records make more than 1 \
         partitions (--max-partitions 1; the first 1 held 2 records); nothing was written. \
         Year,month,day is the coarsest --partition-by: check the records' start times, or \
         write one file without --partition-by, or give a larger --max-partitions\n"
    );
    assert_eq!(files(&tree), Vec::<String>::new());
    assert_eq!(
        std::fs::read_dir(&tree).unwrap().count(),
        0,
        "no folder left"
    );
    // At the limit, the tree is written.
    let o = convert_tree(&text, &tree, "year,month,day", &["--max-partitions", "3"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(files(&tree).len(), 3);
    let o = convert_tree(
        &text,
        &dir.path().join("t0"),
        "year,month,day",
        &["--max-partitions", "0"],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--max-partitions"));
}
