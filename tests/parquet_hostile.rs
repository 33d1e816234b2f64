//! Hostile Parquet: a value is read, or its row is rejected with its number and reason,
//! never a silent null; a damaged footer is an error that names the damage, never a
//! crash or an empty read; a value no line could hold is refused in bounded memory; a
//! column the audit needs that is missing or of the wrong type makes the audit say so.

use std::fs::{self, File};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, BinaryArray, DictionaryArray, Int32Array, Int64Array, RecordBatch,
    StringArray, StructArray,
};
use arrow::compute::{concat_batches, take};
use arrow::datatypes::{DataType, Field, Int32Type, Schema};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;
use parquet::file::metadata::{ParquetMetaData, ParquetMetaDataReader, ParquetMetaDataWriter};
use parquet::file::properties::WriterProperties;
use serde_json::Value;
use std::sync::atomic::AtomicU64;
use vpcflow::error::{FileError, Reject};
use vpcflow::input::parquet::scan_parquet;
use vpcflow::scan::{ScanOptions, ScanSink, ScanStats};
use vpcflow::source::Source;

mod common;
use common::{accounting, json_lines, root, stderr, vpcflow, BIN};

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Writes `columns` as one Parquet file of one row group, dictionary pages of up to
/// 8 MB (so that a long value stays one dictionary entry).
fn write(path: &Path, columns: Vec<(&str, ArrayRef)>) {
    write_batch(path, &batch_of(columns), 1 << 20);
}

/// The columns as one batch.
fn batch_of(columns: Vec<(&str, ArrayRef)>) -> RecordBatch {
    let schema = Arc::new(Schema::new(
        columns
            .iter()
            .map(|(n, a)| Field::new(*n, a.data_type().clone(), true))
            .collect::<Vec<_>>(),
    ));
    RecordBatch::try_new(schema, columns.into_iter().map(|c| c.1).collect()).unwrap()
}

/// Writes a batch in row groups of `group_rows` rows; the number of row groups.
fn write_batch(path: &Path, batch: &RecordBatch, group_rows: usize) -> usize {
    let props = WriterProperties::builder()
        .set_dictionary_page_size_limit(8 << 20)
        .set_max_row_group_row_count(Some(group_rows))
        .build();
    let mut w =
        ArrowWriter::try_new(File::create(path).unwrap(), batch.schema(), Some(props)).unwrap();
    w.write(batch).unwrap();
    w.close().unwrap().num_row_groups()
}

/// A v2 record's columns, `n` rows: ENI `eni-1`, 10.0.0.9 → 10.0.0.1:443, ACCEPT.
fn v2_columns(n: usize) -> Vec<(&'static str, ArrayRef)> {
    let text = |v: &str| Arc::new(StringArray::from(vec![v; n])) as ArrayRef;
    let int = |v: i32| Arc::new(Int32Array::from(vec![v; n])) as ArrayRef;
    let long = |v: i64| Arc::new(Int64Array::from(vec![v; n])) as ArrayRef;
    vec![
        ("version", int(2)),
        ("account_id", text("123456789012")),
        ("interface_id", text("eni-1")),
        ("srcaddr", text("10.0.0.9")),
        ("dstaddr", text("10.0.0.1")),
        (
            "srcport",
            Arc::new(Int32Array::from(
                (0..n as i32).map(|i| 40000 + i % 20000).collect::<Vec<_>>(),
            )),
        ),
        ("dstport", int(443)),
        ("protocol", int(6)),
        ("packets", long(2)),
        ("bytes", long(100)),
        ("start", long(1_790_000_000)),
        ("end", long(1_790_000_060)),
        ("action", text("ACCEPT")),
        ("log_status", text("OK")),
    ]
}

/// The columns with `name` replaced.
fn with(
    mut columns: Vec<(&'static str, ArrayRef)>,
    name: &str,
    array: ArrayRef,
) -> Vec<(&'static str, ArrayRef)> {
    let i = columns.iter().position(|c| c.0 == name).unwrap();
    columns[i].1 = array;
    columns
}

/// A dictionary column of `n` rows that all hold `value`.
fn repeated(value: &str, n: usize) -> ArrayRef {
    let keys = Int32Array::from(vec![0; n]);
    Arc::new(
        DictionaryArray::<Int32Type>::try_new(keys, Arc::new(StringArray::from(vec![value])))
            .unwrap(),
    )
}

/// Rejects, records and null `srcaddr`s of a scan.
#[derive(Default)]
struct Collected {
    records: usize,
    null_srcaddr: usize,
    rejects: Vec<(u64, String)>,
    errors: Vec<String>,
}

impl ScanSink for Collected {
    fn batch(&mut self, _: &Source, batch: RecordBatch) -> Result<(), vpcflow::Error> {
        self.records += batch.num_rows();
        if let Some(c) = batch.column_by_name("srcaddr") {
            self.null_srcaddr += c.null_count();
        }
        Ok(())
    }
    fn reject(&mut self, _: &Source, r: &Reject) -> Result<(), vpcflow::Error> {
        self.rejects.push((r.line, r.message()));
        Ok(())
    }
    fn file_error(&mut self, _: &Source, e: FileError) -> Result<(), vpcflow::Error> {
        self.errors.push(e.to_string());
        Ok(())
    }
}

/// Reads a Parquet file whole, as one unit (as a release build reads a small file),
/// into `sink`.
fn scan_whole<S: ScanSink>(p: &Path, options: &ScanOptions, mut sink: S) -> (S, ScanStats) {
    let mut stats = ScanStats::default();
    let source = Source::File(p.to_path_buf());
    let raw = AtomicU64::new(0);
    scan_parquet(&source, p, None, options, &mut sink, &mut stats, &raw).unwrap();
    (sink, stats)
}

/// `srcaddr` of 3,000 rows holding one 800 KB dictionary value: 2.4 GB as plain text,
/// past what one Arrow string column holds, in one unit (as a release build reads such
/// a file whole). It was a column of nulls with "0 rejected"; each row is now rejected
/// as not an address.
#[test]
fn parquet_text_column_past_arrow_offsets_is_rejected_by_row_not_nulled() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("big.parquet");
    let n = 3000;
    let long = "9".repeat(800 << 10);
    write(&p, with(v2_columns(n), "srcaddr", repeated(&long, n)));
    assert!(fs::metadata(&p).unwrap().len() < 1 << 20, "a small file");
    let (sink, stats) = scan_whole(&p, &ScanOptions::default(), Collected::default());
    assert_eq!(sink.errors, Vec::<String>::new());
    assert_eq!((sink.records, sink.null_srcaddr), (0, 0));
    assert_eq!(sink.rejects.len(), n);
    assert_eq!(sink.rejects[0].0, 1);
    assert!(
        sink.rejects[0].1.starts_with("field srcaddr: \"999"),
        "{}",
        sink.rejects[0].1
    );
    assert!(sink.rejects[0].1.ends_with("is not an IP address"));
    assert_eq!(
        (
            stats.counts.lines,
            stats.counts.records,
            stats.counts.rejected
        ),
        (n as u64, 0, n as u64)
    );
}

/// The demo's records in one Parquet file, and 2,100 more whose interface id is one
/// 1 MiB dictionary value: 2.2 GB of text. Read as one unit, the whole column became
/// null and the audit lost every finding without a word; read in parts, the rows were
/// accepted with a 1 MiB interface id. The long rows are now rejected as lines over
/// --max-line-bytes, with their row numbers, and the demo's findings are all found.
#[test]
fn parquet_rows_past_max_line_bytes_are_rejected_and_the_findings_kept() {
    let dir = tempfile::tempdir().unwrap();
    let demo = root("testdata/demo");
    let base = dir.path().join("demo.parquet");
    let o = vpcflow(&["convert", s(&demo.join("logs")), "-o", s(&base), "-q"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let batches: Vec<RecordBatch> =
        ParquetRecordBatchReaderBuilder::try_new(File::open(&base).unwrap())
            .unwrap()
            .build()
            .unwrap()
            .map(|b| b.unwrap())
            .collect();
    let demo_rows = concat_batches(&batches[0].schema(), &batches).unwrap();
    // The interface ids as a dictionary, as a writer keeping its dictionary has them.
    let eni = demo_rows.schema().index_of("interface_id").unwrap();
    let dict = DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
    let schema = Arc::new(Schema::new(
        demo_rows
            .schema()
            .fields()
            .iter()
            .enumerate()
            .map(|(i, f)| match i == eni {
                true => Field::new(f.name(), dict.clone(), true),
                false => f.as_ref().clone(),
            })
            .collect::<Vec<_>>(),
    ));
    let mut columns = demo_rows.columns().to_vec();
    columns[eni] = arrow::compute::cast(&columns[eni], &dict).unwrap();
    let demo_rows = RecordBatch::try_new(schema.clone(), columns).unwrap();
    let extra = 2100;
    let first = Int32Array::from(vec![0; extra]);
    let huge = repeated(&"e".repeat(1 << 20), extra);
    let columns: Vec<ArrayRef> = (0..demo_rows.num_columns())
        .map(|i| match i == eni {
            true => huge.clone(),
            false => take(demo_rows.column(i), &first, None).unwrap(),
        })
        .collect();
    let more = RecordBatch::try_new(schema.clone(), columns).unwrap();
    let all = concat_batches(&schema, [&demo_rows, &more]).unwrap();
    let p = dir.path().join("hostile.parquet");
    write_batch(&p, &all, 1 << 20);

    let audit = |input: &Path, strict: bool| {
        let mut args = vec![
            "audit".to_string(),
            s(input).into(),
            "--map".into(),
            s(&demo.join("eni-map.csv")).into(),
            "--policy".into(),
            s(&demo.join("policy.toml")).into(),
            "--format".into(),
            "json".into(),
        ];
        if strict {
            args.push("--strict".into());
        }
        vpcflow(&args)
    };
    let expected = json_lines(&audit(&base, false)).len();
    assert!(expected > 0);
    let o = audit(&p, false);
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{e}");
    assert_eq!(json_lines(&o).len(), expected, "{e}");
    let counts = accounting(&e);
    assert_eq!(counts[2], extra as u64, "the long rows are rejected: {e}");
    assert!(
        e.contains("the line is longer than 1048576 bytes (--max-line-bytes)"),
        "{e}"
    );
    let o = audit(&p, true);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let row = demo_rows.num_rows() + 1;
    assert!(
        stderr(&o).contains(&format!("hostile.parquet:{row}: the line is longer")),
        "{}",
        stderr(&o)
    );
}

/// A copy of `from` at `to` whose footer is `edit`ed: the same data pages, another
/// footer.
fn with_footer(from: &Path, to: &Path, edit: impl FnOnce(ParquetMetaData) -> ParquetMetaData) {
    let bytes = fs::read(from).unwrap();
    let n = bytes.len();
    let footer = u32::from_le_bytes(bytes[n - 8..n - 4].try_into().unwrap()) as usize;
    let meta = ParquetMetaDataReader::new()
        .parse_and_finish(&File::open(from).unwrap())
        .unwrap();
    let mut out = bytes[..n - 8 - footer].to_vec();
    ParquetMetaDataWriter::new(&mut out, &edit(meta))
        .finish()
        .unwrap();
    fs::write(to, out).unwrap();
}

/// The footer with its row groups changed by `f`.
fn row_groups(
    meta: ParquetMetaData,
    f: impl Fn(parquet::file::metadata::RowGroupMetaData) -> parquet::file::metadata::RowGroupMetaData,
) -> ParquetMetaData {
    let mut b = meta.into_builder();
    let groups = b.take_row_groups().into_iter().map(f).collect();
    b.set_row_groups(groups).build()
}

#[test]
fn footer_claiming_negative_or_zero_rows_is_damage_not_an_empty_file() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.parquet");
    write(&good, v2_columns(6000));
    let o = vpcflow(&["cat", s(&good)]);
    assert_eq!(json_lines(&o).len(), 6000);
    for claimed in [-1i64, 0] {
        let p = dir.path().join(format!("rows{claimed}.parquet"));
        with_footer(&good, &p, |m| {
            row_groups(m, |g| {
                g.into_builder().set_num_rows(claimed).build().unwrap()
            })
        });
        let o = vpcflow(&["cat", "--strict", s(&p)]);
        let e = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{claimed}: {e}");
        assert!(
            e.contains(&format!(
                "not readable Parquet: the footer is damaged: row group 0 claims {claimed} rows"
            )),
            "{e}"
        );
        let o = vpcflow(&["cat", s(&p)]);
        assert_eq!(
            o.status.code(),
            Some(2),
            "an unreadable input: {}",
            stderr(&o)
        );
    }
}

#[test]
fn negative_column_chunk_size_is_damage_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.parquet");
    write(&good, v2_columns(100));
    let p = dir.path().join("negative.parquet");
    with_footer(&good, &p, |m| {
        row_groups(m, |g| {
            let mut b = g.into_builder();
            let columns = b
                .take_columns()
                .into_iter()
                .map(|c| {
                    c.into_builder()
                        .set_total_compressed_size(-5)
                        .build()
                        .unwrap()
                })
                .collect();
            b.set_column_metadata(columns).build().unwrap()
        })
    });
    for threads in ["1", "4"] {
        let o = vpcflow(&["cat", "--threads", threads, s(&p)]);
        let e = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{e}");
        assert!(!e.contains("panicked"), "{e}");
        assert!(
            e.contains("the footer is damaged: row group 0, column"),
            "{e}"
        );
        assert!(e.contains("lies outside the file"), "{e}");
    }
}

#[test]
fn binary_srcaddr_with_invalid_utf8_rejects_its_row() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("binary.parquet");
    let addrs: Vec<&[u8]> = vec![b"10.0.0.9", b"10.0.\xff.9", b"10.0.0.7"];
    write(
        &p,
        with(v2_columns(3), "srcaddr", Arc::new(BinaryArray::from(addrs))),
    );
    let o = vpcflow(&["cat", s(&p)]);
    let e = stderr(&o);
    let srcs: Vec<String> = json_lines(&o)
        .iter()
        .map(|r| r["srcaddr"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(srcs, ["10.0.0.9", "10.0.0.7"], "{e}");
    assert_eq!(accounting(&e), [3, 2, 1, 0, 0], "{e}");
    assert!(
        e.contains(r#"binary.parquet:2: field srcaddr: invalid UTF-8 in "10.0.\xff.9""#),
        "{e}"
    );
    let o = vpcflow(&["cat", "--strict", s(&p)]);
    assert_eq!(o.status.code(), Some(2));
}

/// The demo's map and policy, over `input`, as JSON.
fn audit_demo(input: &Path) -> Output {
    let demo = root("testdata/demo");
    vpcflow(&[
        "audit",
        s(input),
        "--map",
        s(&demo.join("eni-map.csv")),
        "--policy",
        s(&demo.join("policy.toml")),
        "--format",
        "json",
    ])
}

/// Records of the demo's first task ENI, in columns: eni, 10.0.0.9 → the task.
fn demo_task_columns(n: usize) -> Vec<(&'static str, ArrayRef)> {
    let map = fs::read_to_string(root("testdata/demo/eni-map.csv")).unwrap();
    let row = map.lines().nth(1).unwrap();
    let eni: &'static str = row.split(',').next().unwrap().to_string().leak();
    with(
        v2_columns(n),
        "interface_id",
        Arc::new(StringArray::from(vec![eni; n])),
    )
}

#[test]
fn srcaddr_as_a_struct_column_is_an_unreadable_file_not_a_clean_audit() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("struct.parquet");
    let n = 10;
    let inner = StructArray::from(vec![(
        Arc::new(Field::new("ip", DataType::Utf8, true)),
        Arc::new(StringArray::from(vec!["10.0.0.9"; n])) as ArrayRef,
    )]);
    write(&p, with(demo_task_columns(n), "srcaddr", Arc::new(inner)));
    audit_demo_exits_2(
        &p,
        "not readable Parquet: its column srcaddr is of type Struct",
    );
}

/// The demo's audit of `input` exits 2, saying `why` on stderr.
fn audit_demo_exits_2(input: &Path, why: &str) {
    let o = audit_demo(input);
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{e}");
    assert!(e.contains(why), "{e}");
}

#[test]
fn audit_without_a_srcaddr_column_says_so_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("nosrc.parquet");
    let columns: Vec<_> = demo_task_columns(10)
        .into_iter()
        .filter(|c| c.0 != "srcaddr")
        .collect();
    write(&p, columns);
    let why = "10 records in layouts without srcaddr or dstaddr could not be audited";
    audit_demo_exits_2(&p, why);
    // The same as text, with a header without srcaddr.
    let t = dir.path().join("nosrc.log");
    let map = fs::read_to_string(root("testdata/demo/eni-map.csv")).unwrap();
    let eni = map.lines().nth(1).unwrap().split(',').next().unwrap();
    let mut text = String::from(
        "version account-id interface-id dstaddr srcport dstport protocol packets bytes start end action log-status\n",
    );
    for i in 0..10 {
        text += &format!(
            "2 123456789012 {eni} 10.0.0.1 {} 443 6 2 100 1790000000 1790000060 ACCEPT OK\n",
            40000 + i
        );
    }
    fs::write(&t, text).unwrap();
    audit_demo_exits_2(&t, why);
}

/// One 8 MB value in a one-row file: a column chunk no row under --max-line-bytes could
/// hold is refused before it is inflated.
#[test]
fn value_larger_than_any_line_is_refused_before_it_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("huge.parquet");
    let huge = "e".repeat(8 << 20);
    write(
        &p,
        with(
            v2_columns(1),
            "interface_id",
            Arc::new(StringArray::from(vec![huge.as_str()])),
        ),
    );
    let o = vpcflow(&["cat", s(&p)]);
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{e}");
    assert!(e.contains("row group 0, column interface_id, holds"), "{e}");
    assert!(e.contains("(--max-line-bytes)"), "{e}");
    // A limit that allows it reads it.
    let o = vpcflow(&["cat", "--max-line-bytes", "10000000", s(&p)]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let rows: Vec<Value> = json_lines(&o);
    assert_eq!(rows[0]["interface_id"].as_str().unwrap().len(), 8 << 20);
}

/// Six text columns of one 1 MiB dictionary value over 400 rows (a file of a few
/// kilobytes): every row is a line too long, rejected without the 2.4 GB the text would
/// take once copied into each row. Run under a 1.5 GB address-space limit.
#[test]
fn dictionary_values_repeated_by_many_rows_are_read_in_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("six.parquet");
    let n = 400;
    let big = "a".repeat(1 << 20);
    let mut columns = v2_columns(n);
    for name in [
        "account_id",
        "interface_id",
        "srcaddr",
        "dstaddr",
        "action",
        "log_status",
    ] {
        columns = with(columns, name, repeated(&big, n));
    }
    write(&p, columns);
    let mut child = Command::new("sh")
        .args([
            "-c",
            &format!("ulimit -v 1500000; exec {BIN} cat {}", s(&p)),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().map(|mut i| i.flush());
    let o = child.wait_with_output().unwrap();
    let e = stderr(&o);
    // Every row rejected: no record at all is an error saying so (exit 2), after the
    // summary's accounting.
    assert_eq!(o.status.code(), Some(2), "{e}");
    assert!(e.contains("six.parquet: no flow-log record in its 400 lines (400 rejected)"));
    assert_eq!(accounting(&e), [400, 0, 400, 0, 0], "{e}");
}

/// Batches a scan passes on.
#[derive(Default)]
struct Batches(Vec<usize>);

impl ScanSink for Batches {
    fn batch(&mut self, _: &Source, batch: RecordBatch) -> Result<(), vpcflow::Error> {
        self.0.push(batch.num_rows());
        Ok(())
    }
    fn reject(&mut self, _: &Source, r: &Reject) -> Result<(), vpcflow::Error> {
        panic!("{}", r.message())
    }
    fn file_error(&mut self, _: &Source, e: FileError) -> Result<(), vpcflow::Error> {
        panic!("{e}")
    }
}

/// 500 row groups of one row each went through the pipeline as 500 one-row batches,
/// each with its fixed cost (18,000 of them took 9.6 s); they make batches of the
/// scan's size.
#[test]
fn one_row_row_groups_are_coalesced_into_full_batches() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("tiny-groups.parquet");
    assert_eq!(write_batch(&p, &batch_of(v2_columns(500)), 1), 500);
    for batch_size in [8192, 200] {
        let options = ScanOptions {
            batch_size,
            ..ScanOptions::default()
        };
        let (sink, _) = scan_whole(&p, &options, Batches::default());
        let expected: &[usize] = if batch_size == 200 {
            &[200, 200, 100]
        } else {
            &[500]
        };
        assert_eq!(sink.0, expected);
    }
}

/// The summary counted a Parquet file read whole twice: the bytes its first block
/// held when it was recognised as Parquet, and the whole file again.
#[test]
fn parquet_file_bytes_are_counted_once() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("small.parquet");
    // One row: one unit, the whole file, in every build.
    write(&p, v2_columns(1));
    let size = fs::metadata(&p).unwrap().len();
    assert!((1000..100_000).contains(&size));
    let o = vpcflow(&["cat", s(&p)]);
    let e = stderr(&o);
    assert!(
        e.contains(&format!("{:.1} kB read", size as f64 / 1e3)),
        "{size}: {e}"
    );
}

/// Found by the `parquet` fuzz target: a file of 13 kB whose page headers are damaged
/// (one claims a size of -8 bytes, a dictionary page some 400 million values) made the
/// parquet crate allocate 3 GB before it found the pages short. Page headers are
/// checked before the crate reads a page, and the first bad one is named.
#[test]
fn damaged_page_headers_are_refused_before_the_crate_reads_them() {
    let p = root("testdata/hostile/dictionary-page-claims-400m-values.parquet");
    let options = ScanOptions {
        batch_size: 7,
        max_line_bytes: 4096,
        ..ScanOptions::default()
    };
    let (sink, _) = scan_whole(&p, &options, Collected::default());
    assert_eq!(sink.errors.len(), 1, "{:?}", sink.errors);
    assert!(
        sink.errors[0].contains("row group 0, column start, page at byte 536: its header"),
        "{}",
        sink.errors[0]
    );
}

/// A dictionary page whose header claims 8,000 values where its bytes hold 100: the
/// crate would size the dictionary from the claim. Refused, naming the page.
#[test]
fn dictionary_page_claiming_more_values_than_its_bytes_hold_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.parquet");
    let n = 100;
    let enis: Vec<String> = (0..n).map(|i| format!("eni-{i:04}")).collect();
    let enis: Vec<&str> = enis.iter().map(String::as_str).collect();
    write(
        &good,
        with(
            v2_columns(n),
            "interface_id",
            Arc::new(StringArray::from(enis)),
        ),
    );
    let meta = ParquetMetaDataReader::new()
        .parse_and_finish(&File::open(&good).unwrap())
        .unwrap();
    let column = meta
        .row_group(0)
        .columns()
        .iter()
        .find(|c| c.column_path().string() == "interface_id")
        .unwrap();
    let at = column.dictionary_page_offset().unwrap() as usize;
    let mut data = fs::read(&good).unwrap();
    // The dictionary page header's value count, 100 (zigzag varint c8 01), becomes
    // 8,000 (80 7d), the same length.
    let header = &data[at..at + 40];
    let i = header
        .windows(3)
        .position(|w| w == [0x15, 0xc8, 0x01])
        .expect("the value count in the header");
    data[at + i + 1] = 0x80;
    data[at + i + 2] = 0x7d;
    let p = dir.path().join("claims.parquet");
    fs::write(&p, data).unwrap();
    let o = vpcflow(&["cat", s(&p)]);
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{e}");
    assert!(
        e.contains(&format!(
            "column interface_id, page at byte {at}: its header claims a dictionary of 8000 values in"
        )),
        "{e}"
    );
}

/// A damaged Parquet file read in several units (every unit failing) was counted as
/// that many files with read errors.
#[test]
fn a_file_failing_in_several_units_counts_once() {
    let p = root("testdata/hostile/dictionary-page-claims-400m-values.parquet");
    let o = vpcflow(&["cat", s(&p)]);
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{e}");
    assert!(e.contains("; 1 file with read errors;"), "{e}");
}
