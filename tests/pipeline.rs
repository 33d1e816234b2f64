//! The library's pipeline, used as another Rust program would: folds keep one state per
//! worker whatever the number of files, ordered jobs run on the workers and come out in
//! input order, and problems arrive in input order with their positions.

use std::collections::BTreeSet;
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use arrow::array::{Array, Int64Array};
use arrow::record_batch::RecordBatch;
use vpcflow::error::{FileError, Reject};
use vpcflow::fold::Fold;
use vpcflow::pipeline::{fold, ordered, Events, Input, Ordered, Run};
use vpcflow::scan::ScanOptions;
use vpcflow::source::{discover, Source};
use vpcflow::Error;

/// The `bytes` column of a batch.
fn bytes(batch: &RecordBatch) -> Vec<i64> {
    let b = batch
        .column_by_name("bytes")
        .unwrap()
        .as_any()
        .downcast_ref::<Int64Array>()
        .unwrap();
    (0..b.len()).map(|i| b.value(i)).collect()
}

/// How many states of a fold are alive, now and at most.
#[derive(Default)]
struct Live {
    now: AtomicUsize,
    max: AtomicUsize,
}

/// A sum of `bytes` that counts itself in `Live`.
struct Tracked<'a> {
    sum: u64,
    live: &'a Live,
}

impl Drop for Tracked<'_> {
    fn drop(&mut self) {
        self.live.now.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Sums `bytes`.
struct Sum {
    live: Live,
}

impl<'a> Fold for &'a Sum {
    type State = Tracked<'a>;
    fn state(&self) -> Tracked<'a> {
        let now = self.live.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.live.max.fetch_max(now, Ordering::SeqCst);
        Tracked {
            sum: 0,
            live: &self.live,
        }
    }
    fn add(&self, state: &mut Tracked<'a>, batch: &RecordBatch) {
        state.sum += bytes(batch).iter().map(|&b| b as u64).sum::<u64>();
    }
    fn merge(&self, into: &mut Tracked<'a>, from: Tracked<'a>) {
        into.sum += from.sum;
    }
}

/// The inputs `sources` on `threads` workers with small read buffers, no attribution.
fn input(sources: Vec<Source>, threads: usize) -> Input {
    let mut input = Input::new(sources, small_buffers());
    input.threads = threads;
    input
}

/// A run over `input` without attribution or progress.
fn run(input: &Input) -> Run<'_> {
    Run {
        input,
        enricher: None,
        progress: &|_| {},
    }
}

/// Reading options with a small read buffer (so that lines roll over reads, and debug
/// builds do not zero a megabyte per unit).
fn small_buffers() -> ScanOptions {
    ScanOptions {
        buffer_size: 4096,
        ..ScanOptions::default()
    }
}

#[derive(Default)]
struct Collected {
    rejects: Vec<(String, u64, String)>,
    file_errors: Vec<String>,
}

impl Events for Collected {
    fn reject(&mut self, source: &Source, r: &Reject) -> Result<(), Error> {
        self.rejects.push((source.display(), r.line, r.message()));
        Ok(())
    }
    fn file_error(&mut self, source: &Source, e: &FileError) -> Result<(), Error> {
        self.file_errors.push(format!("{}: {e}", source.display()));
        Ok(())
    }
}

/// `n` small gzip files under `dir`, each with `per` records of 1..=per bytes and one
/// bad line; returns the inputs and the total of `bytes`.
fn small_files(dir: &std::path::Path, n: usize, per: u64) -> (Vec<Source>, u64) {
    for i in 0..n {
        let mut text = String::from("version interface-id bytes\n");
        for b in 1..=per {
            text += &format!("2 eni-{i} {b}\n");
        }
        text += "2 eni-x lots\n";
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(text.as_bytes()).unwrap();
        std::fs::write(dir.join(format!("{i:04}.log.gz")), gz.finish().unwrap()).unwrap();
    }
    let (sources, errors) = discover(&[dir.to_str().unwrap().to_string()]);
    assert!(errors.is_empty());
    (sources, n as u64 * per * (per + 1) / 2)
}

#[test]
fn fold_keeps_one_state_per_worker_not_per_file() {
    let dir = tempfile::tempdir().unwrap();
    let (sources, total) = small_files(dir.path(), 120, 20);
    for threads in [1, 3] {
        let input = input(sources.clone(), threads);
        let run = run(&input);
        let job = Sum {
            live: Live::default(),
        };
        let mut events = Collected::default();
        let (sum, totals) = fold(&run, &&job, &mut events).unwrap();
        assert_eq!(sum.sum, total);
        drop(sum);
        assert_eq!(totals.scan.counts.records, 120 * 20);
        assert_eq!(totals.scan.files, 120);
        // At most one state per worker, the shared one and one being handed over are
        // alive at a time: none per file.
        let max = job.live.max.load(Ordering::SeqCst);
        assert!(
            max <= threads + 2,
            "{max} states alive for {threads} threads"
        );
        assert_eq!(job.live.now.load(Ordering::SeqCst), 0);
        // Rejected lines in input order, with their files' own line numbers.
        assert_eq!(events.rejects.len(), 120);
        let files: Vec<&str> = events.rejects.iter().map(|r| r.0.as_str()).collect();
        let mut sorted = files.clone();
        sorted.sort();
        assert_eq!(files, sorted);
        assert!(events.rejects.iter().all(|r| r.1 == 22));
        assert_eq!(events.rejects[0].2, "field bytes: \"lots\" is not a number");
    }
}

/// Records the thread that prepared each batch.
struct Threads {
    seen: Mutex<BTreeSet<String>>,
}

impl Ordered for Threads {
    type Out = Vec<i64>;
    fn prepare(&self, batch: RecordBatch) -> Result<Vec<i64>, Error> {
        let name = std::thread::current().name().unwrap_or("?").to_string();
        self.seen.lock().unwrap().insert(name);
        Ok(bytes(&batch))
    }
}

#[test]
fn ordered_jobs_run_on_the_workers_and_come_out_in_input_order() {
    let dir = tempfile::tempdir().unwrap();
    // One large plain file (chunked in debug builds) with a layout change in the
    // middle, then small files.
    let mut text = String::from("version interface-id bytes\n");
    let mut want = Vec::new();
    for i in 0..3000i64 {
        if i == 1500 {
            text += "version bytes interface-id\n";
        }
        if i < 1500 {
            text += &format!("2 eni-a {i}\n");
        } else {
            text += &format!("2 {i} eni-b\n");
        }
        want.push(i);
    }
    std::fs::write(dir.path().join("a.log"), &text).unwrap();
    for i in 0..20i64 {
        std::fs::write(
            dir.path().join(format!("b{i:02}.log")),
            format!("version interface-id bytes\n2 eni-c {}\n", 10_000 + i),
        )
        .unwrap();
        want.push(10_000 + i);
    }
    let (sources, _) = discover(&[dir.path().to_str().unwrap().to_string()]);
    let mut input = input(sources, 3);
    // Small chunks, so that the large file spans many units.
    input.chunk = 1024;
    let run = run(&input);
    let job = Threads {
        seen: Mutex::new(BTreeSet::new()),
    };
    let mut got = Vec::new();
    let totals = ordered(&run, &job, &mut Collected::default(), &mut |v| {
        got.extend(v);
        Ok(())
    })
    .unwrap();
    assert_eq!(got, want);
    assert_eq!(totals.scan.counts.headers, 22);
    // The workers prepared the batches; the calling thread only decoded again the
    // chunks whose guessed layout the header change made wrong.
    let seen = job.seen.lock().unwrap().clone();
    let workers = seen
        .iter()
        .filter(|t| t.starts_with("vpcflow-worker-"))
        .count();
    assert!(workers > 1, "only {seen:?} did the work");
}

#[test]
fn a_fold_over_chunks_whose_layout_guess_was_wrong_counts_each_record_once() {
    // Chunks after the header change were decoded with the file's first layout by the
    // workers, then again by the collector: the sum counts every record once.
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("version interface-id bytes\n");
    for i in 0..4000u64 {
        if i == 1000 {
            text += "version bytes interface-id\n";
        }
        text += &if i < 1000 {
            format!("2 eni-a {i}\n")
        } else {
            format!("2 {i} eni-b\n")
        };
    }
    std::fs::write(dir.path().join("a.log"), &text).unwrap();
    let (sources, _) = discover(&[dir.path().to_str().unwrap().to_string()]);
    for threads in [1, 2, 4] {
        let mut input = input(sources.clone(), threads);
        input.chunk = 512;
        let run = run(&input);
        let job = Sum {
            live: Live::default(),
        };
        let (sum, totals) = fold(&run, &&job, &mut Collected::default()).unwrap();
        assert_eq!(sum.sum, 3999 * 4000 / 2, "--threads {threads}");
        assert_eq!(totals.scan.counts.records, 4000);
        assert_eq!(totals.scan.counts.rejected, 0);
    }
}

/// Counts prepared batches not consumed yet.
struct Outstanding {
    now: AtomicUsize,
    max: AtomicUsize,
}

impl Ordered for Outstanding {
    type Out = ();
    fn prepare(&self, _batch: RecordBatch) -> Result<(), Error> {
        let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.max.fetch_max(now, Ordering::SeqCst);
        Ok(())
    }
}

#[test]
fn ordered_workers_do_not_run_ahead_of_a_slow_consumer() {
    // 200 one-batch files and a consumer slower than the workers: what waits for it is
    // bounded by the threads, not by the number of files.
    let dir = tempfile::tempdir().unwrap();
    let (sources, _) = small_files(dir.path(), 200, 3);
    let input = input(sources, 2);
    let run = run(&input);
    let job = Outstanding {
        now: AtomicUsize::new(0),
        max: AtomicUsize::new(0),
    };
    let mut consumed = 0;
    ordered(&run, &job, &mut Collected::default(), &mut |()| {
        std::thread::sleep(std::time::Duration::from_millis(2));
        job.now.fetch_sub(1, Ordering::SeqCst);
        consumed += 1;
        Ok(())
    })
    .unwrap();
    assert_eq!(consumed, 200);
    let max = job.max.load(Ordering::SeqCst);
    // A window of 2 * threads + 1 units of one batch each, and the unit being consumed.
    assert!(max <= 2 * 2 + 2, "{max} batches waited for the consumer");
}

#[test]
fn an_error_from_the_consumer_stops_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let (sources, _) = small_files(dir.path(), 50, 5);
    let input = input(sources, 2);
    let run = run(&input);
    let job = Threads {
        seen: Mutex::new(BTreeSet::new()),
    };
    let mut calls = 0;
    let r = ordered(&run, &job, &mut Collected::default(), &mut |_| {
        calls += 1;
        if calls == 3 {
            Err(Error::Usage("enough".into()))
        } else {
            Ok(())
        }
    });
    assert!(matches!(r, Err(Error::Usage(m)) if m == "enough"));
    assert_eq!(calls, 3);
}

#[test]
fn parquet_rejects_in_a_later_unit_are_numbered_once() {
    // A Parquet file of four row groups read in several units: a bad row's number is
    // its row in the file, counted once (units used to number from the file's first
    // row, and the pipeline then added the rows of the units before it again).
    use arrow::array::{ArrayRef, Int32Array, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};
    use parquet::arrow::ArrowWriter;
    use parquet::file::properties::WriterProperties;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("flows.parquet");
    let schema = std::sync::Arc::new(Schema::new(vec![
        Field::new("version", DataType::Int32, true),
        Field::new("interface_id", DataType::Utf8, true),
        Field::new("dstport", DataType::Int32, true),
        Field::new("bytes", DataType::Int64, true),
    ]));
    // Rows 1..=400; 70000 is out of range in rows 7, 250 and 400.
    let bad = [7, 250, 400];
    let ports: Vec<i32> = (1..=400)
        .map(|r| if bad.contains(&r) { 70_000 } else { r })
        .collect();
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            std::sync::Arc::new(Int32Array::from(vec![5; 400])) as ArrayRef,
            std::sync::Arc::new(StringArray::from(vec!["eni-1"; 400])),
            std::sync::Arc::new(Int32Array::from(ports)),
            std::sync::Arc::new(Int64Array::from_iter_values(1..=400)),
        ],
    )
    .unwrap();
    let props = WriterProperties::builder()
        .set_max_row_group_row_count(Some(100))
        .build();
    let mut w =
        ArrowWriter::try_new(std::fs::File::create(&path).unwrap(), schema, Some(props)).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    for chunk in [64, 1 << 30] {
        let mut input = input(vec![Source::File(path.clone())], 2);
        input.chunk = chunk;
        let mut events = Collected::default();
        let sum = Sum {
            live: Live::default(),
        };
        let (total, totals) = fold(&run(&input), &&sum, &mut events).unwrap();
        assert_eq!(total.sum, (1..=400u64).sum::<u64>() - 7 - 250 - 400);
        let lines: Vec<u64> = events.rejects.iter().map(|r| r.1).collect();
        assert_eq!(lines, bad.map(|b| b as u64), "chunk {chunk}");
        assert_eq!(totals.scan.counts.records, 397);
    }
}
