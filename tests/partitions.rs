//! `convert --partition-by`: a Hive tree by each record's start time (UTC) that reads
//! back, with vpcflow and with DuckDB, as the records it came from; `--map` adds the
//! enrichment columns.

use std::fs::File;
use std::path::Path;
use std::process::{Command, Output};

use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

const BIN: &str = env!("CARGO_BIN_EXE_vpcflow");
// 2026-11-01T23:00:00Z
const T: i64 = 1_793_491_200 + 23 * 3600;

fn run(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().unwrap()
}

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
    let o = run(&args);
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
    run(&args)
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
    let probe = Command::new("python3")
        .args(["-c", "import duckdb"])
        .output();
    if !probe.is_ok_and(|o| o.status.success()) {
        eprintln!("skipping: python3 with duckdb is needed (.ci/run installs it)");
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
