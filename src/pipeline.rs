//! The ordered parallel scan: every input read on a pool of workers, the results
//! delivered as if read one after the other.
//!
//! The inputs are planned into units (whole files, newline-aligned chunks of large
//! plain files; see [`crate::scan::plan`]). Workers take units in input order, decode
//! them, attribute the records ([`Enricher`], with orientation learned per unit), and
//! hand each batch to the job. The calling thread is the collector: it takes what each
//! unit produced in unit order, so that rejected lines, file errors and ordered output
//! come out exactly as a sequential read would give them, with line numbers that
//! continue across the chunks of a file.
//!
//! Two kinds of job:
//! - a [`Fold`] (audit, query) folds batches into one state *per worker*, merged at the
//!   end, so memory follows the number of workers, not the number of files;
//! - an [`Ordered`] job (cat, convert) prepares each batch on a worker (formatting,
//!   converting) and the collector consumes the results in input order.
//!
//! A chunk after a file's first is decoded with a guess of its layout (the file's first
//! header). The collector knows the true layout at the chunk's start once the chunks
//! before it are done; when a header line in the middle of the file made the guess
//! wrong, the collector drops what the worker produced and decodes the chunk again
//! itself. A fold keeps such guessed chunks in a state of their own until they are
//! confirmed, so a wrong guess never reaches the worker's state.
//!
//! Memory is bounded: each unit's results travel through a bounded channel, so a
//! worker that runs ahead of the collector waits, and at most one unit per worker is
//! in flight.
//!
//! An audit of the demo data from Rust:
//!
//! ```
//! use std::sync::Arc;
//! use vpcflow::enrich::{load_map_file, EniMap, Enricher};
//! use vpcflow::error::{FileError, Reject};
//! use vpcflow::pipeline::{fold, Events, Input, Run};
//! use vpcflow::policy::{audit::Auditor, CommandLineRules, Policy};
//! use vpcflow::scan::ScanOptions;
//! use vpcflow::source::{discover, Source};
//!
//! /// Problems with the input, as they come (here: ignored).
//! struct Quiet;
//! impl Events for Quiet {
//!     fn reject(&mut self, _: &Source, _: &Reject) -> Result<(), vpcflow::Error> {
//!         Ok(())
//!     }
//!     fn file_error(&mut self, _: &Source, _: &FileError) -> Result<(), vpcflow::Error> {
//!         Ok(())
//!     }
//! }
//!
//! let map = Arc::new(EniMap::from_facts(
//!     load_map_file("testdata/demo/eni-map.csv")?.facts,
//! ));
//! let text = std::fs::read_to_string("testdata/demo/policy.toml")?;
//! let policy = Policy::parse("policy.toml", &text, &[], &CommandLineRules::default())?;
//! let (sources, _missing) = discover(&["testdata/demo/logs".to_string()]);
//! let input = Input::new(sources, ScanOptions::default());
//! let enricher = Enricher::new(map.clone(), &policy.vpc_cidrs);
//! let run = Run {
//!     input: &input,
//!     enricher: Some(&enricher),
//!     progress: &|_bytes| {},
//! };
//! let auditor = Auditor {
//!     policy: &policy,
//!     map: &map,
//! };
//! let (state, totals) = fold(&run, &auditor, &mut Quiet)?;
//! let (findings, summary) = state.finish(&auditor);
//! assert_eq!(totals.scan.counts.records, 6000);
//! assert_eq!(summary.tasks_audited, 20);
//! assert_eq!(findings.len(), 4);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{channel, sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex};

use arrow::record_batch::RecordBatch;

use crate::enrich::orient::Learned;
use crate::enrich::{EnrichStats, Enricher};
use crate::error::{FileError, Reject};
use crate::format::Layout;
use crate::scan::{chunk_bytes, plan, scan_unit, ScanOptions, ScanSink, ScanStats, Unit};
use crate::source::Source;
use crate::Error;

/// What to read and how.
#[derive(Clone, Debug)]
pub struct Input {
    pub sources: Vec<Source>,
    pub options: ScanOptions,
    /// Worker threads; 0: one per core.
    pub threads: usize,
    /// Bytes per chunk of a large plain file; 0: the default ([`chunk_bytes`]).
    pub chunk: u64,
}

impl Input {
    pub fn new(sources: Vec<Source>, options: ScanOptions) -> Input {
        Input {
            sources,
            options,
            threads: 0,
            chunk: 0,
        }
    }
}

/// Where the pipeline reports problems: on the calling thread, in input order. An
/// error returned stops the run (`--strict`).
pub trait Events {
    fn reject(&mut self, source: &Source, reject: &Reject) -> Result<(), Error>;
    fn file_error(&mut self, source: &Source, error: &FileError) -> Result<(), Error>;
}

/// Totals of a run.
#[derive(Clone, Debug, Default)]
pub struct Totals {
    pub scan: ScanStats,
    pub enrich: EnrichStats,
}

/// A fold of every record into one state (see the module documentation). `merge`
/// must not depend on the order in which states are merged.
pub trait Fold: Sync {
    type State: Send;
    fn state(&self) -> Self::State;
    fn add(&self, state: &mut Self::State, batch: &RecordBatch);
    fn merge(&self, into: &mut Self::State, from: Self::State);
}

/// A job whose results are consumed in input order.
pub trait Ordered: Sync {
    type Out: Send;
    /// Runs on a worker, for each (enriched) batch.
    fn prepare(&self, batch: RecordBatch) -> Result<Self::Out, Error>;
}

/// The shared parts of a run.
pub struct Run<'a> {
    pub input: &'a Input,
    /// Attribution applied to every batch, if any.
    pub enricher: Option<&'a Enricher>,
    /// Called by workers with the bytes they read (before decompression).
    pub progress: &'a (dyn Fn(u64) + Sync),
}

/// Folds every record; returns the merged state and the totals.
pub fn fold<F: Fold>(
    run: &Run,
    job: &F,
    events: &mut dyn Events,
) -> Result<(F::State, Totals), Error> {
    let states: Mutex<Vec<F::State>> = Mutex::new(Vec::new());
    let mut confirmed = job.state();
    let totals = drive(
        run,
        &FoldWork {
            job,
            states: &states,
        },
        events,
        &mut |part: F::State| {
            job.merge(&mut confirmed, part);
            Ok(())
        },
    )?;
    let mut state = confirmed;
    for s in states.into_inner().unwrap_or_else(|e| e.into_inner()) {
        job.merge(&mut state, s);
    }
    Ok((state, totals))
}

/// Runs an ordered job: `consume` gets every prepared batch in input order, on the
/// calling thread.
pub fn ordered<O: Ordered>(
    run: &Run,
    job: &O,
    events: &mut dyn Events,
    consume: &mut dyn FnMut(O::Out) -> Result<(), Error>,
) -> Result<Totals, Error> {
    drive(run, &OrderedWork { job }, events, consume)
}

/// What a worker sends the collector about one unit.
enum Msg<P> {
    Reject(Reject),
    FileError(FileError),
    Part(P),
    Done(Result<UnitDone, Error>),
}

struct UnitDone {
    stats: ScanStats,
    end_layout: Option<Arc<Layout>>,
    enrich: EnrichStats,
}

/// How batches of a unit become parts: the two kinds of job behind one interface.
trait Work: Sync {
    type Part: Send;
    type Worker: Send;
    /// Messages buffered per unit before its worker waits for the collector.
    const CAPACITY: usize;
    fn worker(&self) -> Self::Worker;
    /// Handles one batch of a unit; `certain` is false for a chunk decoded with a
    /// guessed layout. Parts go to `send` now, or into `unit` (a guessed chunk's own
    /// state), which is sent when the unit ends.
    fn batch(
        &self,
        worker: &mut Self::Worker,
        unit: &mut Option<Self::Part>,
        certain: bool,
        batch: RecordBatch,
        send: &mut dyn FnMut(Self::Part) -> Result<(), Error>,
    ) -> Result<(), Error>;
    /// A worker is done.
    fn retire(&self, _worker: Self::Worker) {}
}

struct FoldWork<'a, F: Fold> {
    job: &'a F,
    states: &'a Mutex<Vec<F::State>>,
}

impl<F: Fold> Work for FoldWork<'_, F> {
    type Part = F::State;
    type Worker = F::State;
    // Rejected lines and file errors, then one state for a guessed chunk.
    const CAPACITY: usize = 1024;
    fn worker(&self) -> F::State {
        self.job.state()
    }
    fn batch(
        &self,
        worker: &mut F::State,
        unit: &mut Option<F::State>,
        certain: bool,
        batch: RecordBatch,
        _send: &mut dyn FnMut(F::State) -> Result<(), Error>,
    ) -> Result<(), Error> {
        if certain {
            self.job.add(worker, &batch);
        } else {
            self.job
                .add(unit.get_or_insert_with(|| self.job.state()), &batch);
        }
        Ok(())
    }
    fn retire(&self, worker: F::State) {
        self.states
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(worker);
    }
}

struct OrderedWork<'a, O: Ordered> {
    job: &'a O,
}

impl<O: Ordered> Work for OrderedWork<'_, O> {
    type Part = O::Out;
    type Worker = ();
    // Prepared batches: megabytes each.
    const CAPACITY: usize = 4;
    fn worker(&self) {}
    fn batch(
        &self,
        _worker: &mut (),
        _unit: &mut Option<O::Out>,
        _certain: bool,
        batch: RecordBatch,
        send: &mut dyn FnMut(O::Out) -> Result<(), Error>,
    ) -> Result<(), Error> {
        send(self.job.prepare(batch)?)
    }
}

/// The sink of one unit's scan: enriches, hands batches to the work, and sends
/// rejects and file errors on.
struct UnitSink<'a, W: Work> {
    work: &'a W,
    enricher: Option<&'a Enricher>,
    learned: Learned,
    enrich: EnrichStats,
    worker: &'a mut W::Worker,
    part: Option<W::Part>,
    certain: bool,
    send: &'a mut dyn FnMut(Msg<W::Part>) -> Result<(), Error>,
    progress: &'a (dyn Fn(u64) + Sync),
    read: u64,
}

impl<W: Work> ScanSink for UnitSink<'_, W> {
    fn batch(&mut self, _source: &Source, batch: RecordBatch) -> Result<(), Error> {
        let batch = match self.enricher {
            Some(e) => {
                let (b, stats) = e.enrich_with(&batch, &mut self.learned);
                self.enrich += stats;
                b
            }
            None => batch,
        };
        let send = &mut *self.send;
        self.work
            .batch(self.worker, &mut self.part, self.certain, batch, &mut |p| {
                send(Msg::Part(p))
            })
    }
    fn reject(&mut self, _source: &Source, reject: &Reject) -> Result<(), Error> {
        (self.send)(Msg::Reject(reject.clone()))
    }
    fn file_error(&mut self, _source: &Source, error: FileError) -> Result<(), Error> {
        (self.send)(Msg::FileError(error))
    }
    fn progress(&mut self, raw_bytes: u64) {
        (self.progress)(raw_bytes.saturating_sub(self.read));
        self.read = raw_bytes;
    }
}

/// Scans one unit, sending everything it produces through `send`.
fn run_unit<W: Work>(
    run: &Run,
    work: &W,
    worker: &mut W::Worker,
    unit: &Unit,
    certain: bool,
    send: &mut dyn FnMut(Msg<W::Part>) -> Result<(), Error>,
) {
    let mut sink = UnitSink {
        work,
        enricher: run.enricher,
        learned: Learned::default(),
        enrich: EnrichStats::default(),
        worker,
        part: None,
        certain,
        send,
        progress: run.progress,
        read: 0,
    };
    let result = scan_unit(unit, &run.input.options, &mut sink);
    let UnitSink {
        part, enrich, send, ..
    } = sink;
    let done = match result {
        Ok(r) => {
            if let Some(p) = part {
                if send(Msg::Part(p)).is_err() {
                    return;
                }
            }
            Ok(UnitDone {
                stats: r.stats,
                end_layout: r.end_layout,
                enrich,
            })
        }
        Err(e) => Err(e),
    };
    let _ = send(Msg::Done(done));
}

/// The error a send returns when the collector no longer wants the unit.
fn abandoned() -> Error {
    Error::Input("the unit was abandoned".into())
}

/// Plans, runs the workers and collects in order.
fn drive<W: Work>(
    run: &Run,
    work: &W,
    events: &mut dyn Events,
    consume: &mut dyn FnMut(W::Part) -> Result<(), Error>,
) -> Result<Totals, Error> {
    let started = std::time::Instant::now();
    let input = run.input;
    let chunk = if input.chunk == 0 {
        chunk_bytes()
    } else {
        input.chunk
    };
    let (units, skipped) = plan(&input.sources, &input.options, chunk);
    let threads = match input.threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    }
    .clamp(1, units.len().max(1));
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("vpcflow-worker-{i}"))
        .build()
        .map_err(|e| Error::Usage(format!("--threads: {e}")))?;
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let (reg_tx, reg_rx) = channel::<(usize, Receiver<Msg<W::Part>>)>();
    let mut totals = Totals::default();
    totals.scan.files_skipped = skipped;
    let result = pool.in_place_scope(|scope| {
        for _ in 0..threads {
            let reg_tx = reg_tx.clone();
            let (units, next, stop) = (&units, &next, &stop);
            scope.spawn(move |_| {
                let mut worker = work.worker();
                loop {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(unit) = units.get(i) else { break };
                    let (tx, rx): (SyncSender<Msg<W::Part>>, _) = sync_channel(W::CAPACITY);
                    if reg_tx.send((i, rx)).is_err() {
                        break;
                    }
                    let mut send = |m| tx.send(m).map_err(|_| abandoned());
                    run_unit(run, work, &mut worker, unit, is_first(unit), &mut send);
                }
                work.retire(worker);
            });
        }
        drop(reg_tx);
        let collected = collect(run, work, &units, &reg_rx, events, consume, &mut totals);
        if collected.is_err() {
            stop.store(true, Ordering::Relaxed);
        }
        // Dropping the receivers unblocks any worker still sending.
        drop(reg_rx);
        collected
    });
    result?;
    totals.scan.elapsed = started.elapsed();
    Ok(totals)
}

/// Whether a unit starts at the beginning of its source (its layout is known).
fn is_first(unit: &Unit) -> bool {
    unit.range.is_none_or(|r| r.0 == 0)
}

/// The collector: takes every unit's messages in unit order.
fn collect<W: Work>(
    run: &Run,
    work: &W,
    units: &[Unit],
    reg_rx: &Receiver<(usize, Receiver<Msg<W::Part>>)>,
    events: &mut dyn Events,
    consume: &mut dyn FnMut(W::Part) -> Result<(), Error>,
    totals: &mut Totals,
) -> Result<(), Error> {
    let mut waiting: BTreeMap<usize, Receiver<Msg<W::Part>>> = BTreeMap::new();
    let mut layout_here: Option<Arc<Layout>> = None;
    let mut lines_before = 0;
    for (head, unit) in units.iter().enumerate() {
        let first = is_first(unit);
        if first {
            lines_before = 0;
        }
        let rx = loop {
            if let Some(rx) = waiting.remove(&head) {
                break rx;
            }
            let (i, rx) = reg_rx
                .recv()
                .map_err(|_| Error::Input("a worker stopped unexpectedly".into()))?;
            waiting.insert(i, rx);
        };
        // A header line in an earlier chunk may have changed the layout this chunk was
        // guessed to start with.
        let again = (!first && unit.layout.as_deref() != layout_here.as_deref()).then(|| Unit {
            layout: layout_here.clone(),
            ..unit.clone()
        });
        let mut handle = |msg: Msg<W::Part>| -> Result<bool, Error> {
            match msg {
                Msg::Reject(r) => {
                    let r = Reject {
                        line: r.line + lines_before,
                        ..r
                    };
                    events.reject(&unit.source, &r)?;
                }
                Msg::FileError(e) => events.file_error(&unit.source, &e)?,
                Msg::Part(p) => consume(p)?,
                Msg::Done(done) => {
                    let d = done?;
                    lines_before += d.stats.counts.lines;
                    layout_here = d.end_layout;
                    totals.scan += d.stats;
                    totals.enrich += d.enrich;
                    return Ok(true);
                }
            }
            Ok(false)
        };
        if let Some(again) = again {
            // What the worker decoded is wrong: drop it and decode the chunk here with
            // the right layout.
            drop(rx);
            let mut worker = work.worker();
            let mut outcome = Ok(());
            let mut done = false;
            run_unit(run, work, &mut worker, &again, false, &mut |m| {
                if outcome.is_ok() {
                    match handle(m) {
                        Ok(d) => done |= d,
                        Err(e) => outcome = Err(e),
                    }
                }
                outcome.as_ref().map(|_| ()).map_err(|_| abandoned())
            });
            outcome?;
            debug_assert!(done);
            work.retire(worker);
            continue;
        }
        let mut done = false;
        for msg in rx.iter() {
            if handle(msg)? {
                done = true;
                break;
            }
        }
        if !done {
            return Err(Error::Input(format!(
                "{}: a worker stopped before finishing it",
                unit.source.display()
            )));
        }
    }
    Ok(())
}
