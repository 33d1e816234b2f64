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
//! before it are done, and gives its verdict on the guess; when a header line in the
//! middle of the file made the guess wrong, the collector drops what the worker
//! produced and decodes the chunk again itself. A fold keeps a guessed chunk's records
//! in a state of their own until the verdict, so a wrong guess never reaches the
//! result.
//!
//! Workers hand their states over to one shared state as they go (when nobody else
//! is), so that memory holds one merged state and a few units' worth per worker, not
//! one state per file.
//!
//! Memory is bounded: each unit's results travel through a bounded channel, and a
//! worker starts a unit only within a window of units after the one the collector is
//! at, so that workers never run far ahead of a slow consumer (a pipe into `less`).
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
//! let auditor = Auditor::new(&policy, &map);
//! let (state, totals) = fold(&run, &auditor, &mut Quiet)?;
//! let (findings, summary) = state.finish(&auditor);
//! assert_eq!(totals.scan.counts.records, 6000);
//! assert_eq!(summary.tasks_audited, 21);
//! assert_eq!(findings.len(), 14);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::mpsc::{channel, sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Condvar, Mutex, OnceLock};

use arrow::record_batch::RecordBatch;

use crate::enrich::orient::Learned;
use crate::enrich::{EnrichStats, Enricher};
use crate::error::{FileError, LineCounts, Reject};
use crate::fold::Fold;
use crate::format::Layout;
use crate::scan::{chunk_bytes, plan, scan_unit, ScanOptions, ScanSink, ScanStats, Unit};
use crate::source::Source;
use crate::Error;

/// What to read and how.
#[derive(Clone, Debug)]
pub struct Input {
    pub sources: Vec<Source>,
    pub options: ScanOptions,
    /// Worker threads; 0: one per core. At most [`MAX_THREADS`].
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
    /// The columns (Arrow names) of the layouts that the units which had lines ended
    /// with, each once, in the order first met: what the inputs had, for messages about
    /// a column that none of them has. A layout that a header line replaced within the
    /// same unit is not among them.
    pub layout_columns: Vec<String>,
    /// The line accounting of each input, by its index in [`Input::sources`] (inputs
    /// skipped unread have none): which of them yielded no record.
    pub by_source: Vec<LineCounts>,
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
    let work = FoldWork {
        job,
        shared: Mutex::new(None),
        retired: Mutex::new(Vec::new()),
        verdicts: OnceLock::new(),
    };
    // Chunks the collector decoded again because their guessed layout was wrong.
    let mut redone: Vec<F::State> = Vec::new();
    let totals = drive(run, &work, events, &mut |part: F::State| {
        redone.push(part);
        Ok(())
    })?;
    let FoldWork {
        shared,
        retired,
        verdicts,
        ..
    } = work;
    let mut state = into_inner(shared).unwrap_or_else(|| job.state());
    for w in into_inner(retired) {
        job.merge(&mut state, w.state);
        for (unit, part) in w.pending {
            if verdicts
                .get()
                .is_some_and(|v| v[unit].load(Ordering::SeqCst) == RIGHT)
            {
                job.merge(&mut state, part);
            }
        }
    }
    for part in redone {
        job.merge(&mut state, part);
    }
    Ok((state, totals))
}

/// The value of a mutex, even one a panicking thread left poisoned.
fn into_inner<T>(m: Mutex<T>) -> T {
    m.into_inner().unwrap_or_else(|e| e.into_inner())
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

/// The most worker threads a run uses, whatever is asked: each holds read buffers and
/// run-ahead results, and more threads than this gain nothing on any machine.
pub const MAX_THREADS: usize = 256;

/// The collector's verdict on a unit's guessed layout.
const PENDING: u8 = 0;
const RIGHT: u8 = 1;
const WRONG: u8 = 2;

/// How batches of a unit become parts: the two kinds of job behind one interface.
trait Work: Sync {
    type Part: Send;
    type Worker: Send;
    /// Messages buffered per unit before its worker waits for the collector.
    const CAPACITY: usize;
    /// Called once the units are planned.
    fn planned(&self, _units: &[Unit]) {}
    fn worker(&self) -> Self::Worker;
    /// Unit `unit` starts on this worker; `guessed`: decoded with a guessed layout.
    fn begin(&self, _worker: &mut Self::Worker, _unit: usize, _guessed: bool) {}
    /// Handles one batch of the unit. Parts go to `send`.
    fn batch(
        &self,
        worker: &mut Self::Worker,
        batch: RecordBatch,
        send: &mut dyn FnMut(Self::Part) -> Result<(), Error>,
    ) -> Result<(), Error>;
    /// The unit has ended (however it did).
    fn end(&self, _worker: &mut Self::Worker) {}
    /// The collector's verdict on unit `unit`'s guessed layout.
    fn verdict(&self, _unit: usize, _right: bool) {}
    /// What the collector keeps of a worker it ran itself (a chunk decoded again).
    fn part_of(&self, worker: Self::Worker) -> Option<Self::Part>;
    /// A worker is done.
    fn retire(&self, _worker: Self::Worker) {}
}

/// A fold's worker: its state, the guessed unit it is folding, and guessed units
/// waiting for the collector's verdict.
struct FoldWorker<S> {
    state: S,
    current: Option<(usize, S)>,
    pending: Vec<(usize, S)>,
}

struct FoldWork<'a, F: Fold> {
    job: &'a F,
    /// What workers handed over so far.
    shared: Mutex<Option<F::State>>,
    retired: Mutex<Vec<FoldWorker<F::State>>>,
    /// Per unit: PENDING, RIGHT or WRONG.
    verdicts: OnceLock<Vec<AtomicU8>>,
}

impl<F: Fold> FoldWork<'_, F> {
    fn verdict_of(&self, unit: usize) -> u8 {
        self.verdicts
            .get()
            .map_or(PENDING, |v| v[unit].load(Ordering::SeqCst))
    }
}

impl<F: Fold> Work for FoldWork<'_, F> {
    type Part = F::State;
    type Worker = FoldWorker<F::State>;
    // Rejected lines and file errors.
    const CAPACITY: usize = 1024;
    fn planned(&self, units: &[Unit]) {
        let _ = self
            .verdicts
            .set(units.iter().map(|_| AtomicU8::new(PENDING)).collect());
    }
    fn worker(&self) -> Self::Worker {
        FoldWorker {
            state: self.job.state(),
            current: None,
            pending: Vec::new(),
        }
    }
    fn begin(&self, worker: &mut Self::Worker, unit: usize, guessed: bool) {
        worker.current = guessed.then(|| (unit, self.job.state()));
    }
    fn batch(
        &self,
        worker: &mut Self::Worker,
        batch: RecordBatch,
        _send: &mut dyn FnMut(F::State) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let state = match &mut worker.current {
            Some((_, s)) => s,
            None => &mut worker.state,
        };
        self.job.add(state, &batch);
        Ok(())
    }
    fn end(&self, worker: &mut Self::Worker) {
        worker.pending.extend(worker.current.take());
        // Guessed units the collector has judged: kept if right, dropped if wrong.
        let mut i = 0;
        while i < worker.pending.len() {
            match self.verdict_of(worker.pending[i].0) {
                PENDING => i += 1,
                v => {
                    let (_, part) = worker.pending.swap_remove(i);
                    if v == RIGHT {
                        self.job.merge(&mut worker.state, part);
                    }
                }
            }
        }
        // Hand the state over, unless another worker is doing so right now.
        if let Ok(mut shared) = self.shared.try_lock() {
            let state = std::mem::replace(&mut worker.state, self.job.state());
            match shared.as_mut() {
                Some(s) => self.job.merge(s, state),
                None => *shared = Some(state),
            }
        }
    }
    fn verdict(&self, unit: usize, right: bool) {
        if let Some(v) = self.verdicts.get() {
            v[unit].store(if right { RIGHT } else { WRONG }, Ordering::SeqCst);
        }
    }
    fn part_of(&self, worker: Self::Worker) -> Option<F::State> {
        Some(worker.state)
    }
    fn retire(&self, worker: Self::Worker) {
        self.retired
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
        batch: RecordBatch,
        send: &mut dyn FnMut(O::Out) -> Result<(), Error>,
    ) -> Result<(), Error> {
        send(self.job.prepare(batch)?)
    }
    fn part_of(&self, _worker: ()) -> Option<O::Out> {
        None
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
            .batch(self.worker, batch, &mut |p| send(Msg::Part(p)))
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

/// Scans unit number `index`, sending everything it produces through `send`;
/// `guessed`: its layout is a guess.
fn run_unit<W: Work>(
    run: &Run,
    work: &W,
    worker: &mut W::Worker,
    (index, unit): (usize, &Unit),
    guessed: bool,
    send: &mut dyn FnMut(Msg<W::Part>) -> Result<(), Error>,
) {
    work.begin(worker, index, guessed);
    let mut sink = UnitSink {
        work,
        enricher: run.enricher,
        learned: Learned::default(),
        enrich: EnrichStats::default(),
        worker,
        send,
        progress: run.progress,
        read: 0,
    };
    let result = scan_unit(unit, &run.input.options, &mut sink);
    let UnitSink {
        enrich,
        send,
        worker,
        ..
    } = sink;
    work.end(worker);
    let done = result.map(|r| UnitDone {
        stats: r.stats,
        end_layout: r.end_layout,
        enrich,
    });
    let _ = send(Msg::Done(done));
}

/// The error a send returns when the collector no longer wants the unit.
fn abandoned() -> Error {
    Error::Input("the unit was abandoned".into())
}

/// A unit taken by a worker: its index, and where its results come.
type Registration<P> = (usize, Receiver<Msg<P>>);

/// How far ahead of the collector workers may go: unit `i` starts only once the
/// collector has finished unit `i - size`.
struct Window {
    /// Units the collector has finished.
    finished: Mutex<usize>,
    moved: Condvar,
    size: usize,
    stop: AtomicBool,
}

impl Window {
    /// Waits until unit `i` may start; false when the run is stopping.
    fn enter(&self, i: usize) -> bool {
        let mut finished = self.finished.lock().unwrap_or_else(|e| e.into_inner());
        while i >= *finished + self.size && !self.stop.load(Ordering::SeqCst) {
            finished = self.moved.wait(finished).unwrap_or_else(|e| e.into_inner());
        }
        !self.stop.load(Ordering::SeqCst)
    }

    fn finished(&self, n: usize) {
        *self.finished.lock().unwrap_or_else(|e| e.into_inner()) = n;
        self.moved.notify_all();
    }

    fn stop(&self) {
        let _guard = self.finished.lock().unwrap_or_else(|e| e.into_inner());
        self.stop.store(true, Ordering::SeqCst);
        self.moved.notify_all();
    }
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
    work.planned(&units);
    let threads = match input.threads.min(MAX_THREADS) {
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
    let window = Window {
        finished: Mutex::new(0),
        moved: Condvar::new(),
        size: 2 * threads + 1,
        stop: AtomicBool::new(false),
    };
    let (reg_tx, reg_rx) = channel::<Registration<W::Part>>();
    let mut totals = Totals::default();
    totals.scan.files_skipped = skipped;
    let result = pool.in_place_scope(|scope| {
        for _ in 0..threads {
            let reg_tx = reg_tx.clone();
            let (units, next, window) = (&units, &next, &window);
            scope.spawn(move |_| {
                let mut worker = work.worker();
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(unit) = units.get(i) else { break };
                    if !window.enter(i) {
                        break;
                    }
                    let (tx, rx): (SyncSender<Msg<W::Part>>, _) = sync_channel(W::CAPACITY);
                    if reg_tx.send((i, rx)).is_err() {
                        break;
                    }
                    let mut send = |m| tx.send(m).map_err(|_| abandoned());
                    run_unit(
                        run,
                        work,
                        &mut worker,
                        (i, unit),
                        !unit.is_first(),
                        &mut send,
                    );
                }
                work.retire(worker);
            });
        }
        drop(reg_tx);
        let collected = collect(
            run,
            work,
            &units,
            &reg_rx,
            &window,
            events,
            consume,
            &mut totals,
        );
        if collected.is_err() {
            window.stop();
        }
        // Dropping the receivers unblocks any worker still sending.
        drop(reg_rx);
        collected
    });
    result?;
    totals.scan.elapsed = started.elapsed();
    Ok(totals)
}

/// The layouts' columns noted so far (see [`Totals::layout_columns`]).
#[derive(Default)]
struct ColumnsSeen {
    seen: std::collections::HashSet<String>,
    last: Option<Arc<Layout>>,
}

impl ColumnsSeen {
    /// Notes the columns of a unit's final layout. Consecutive units mostly share one
    /// layout, which is looked at again only when another comes: at most one pass over
    /// a unit's columns per unit.
    fn note(&mut self, layout: &Arc<Layout>, columns: &mut Vec<String>) {
        if self.last.as_ref().is_some_and(|n| Arc::ptr_eq(n, layout)) {
            return;
        }
        for f in layout.schema().fields() {
            if self.seen.insert(f.name().clone()) {
                columns.push(f.name().clone());
            }
        }
        self.last = Some(layout.clone());
    }
}

/// The channel of unit `head`'s messages, taking workers' registrations (which come in
/// any order) until it is among them.
fn receiver_of<P>(
    head: usize,
    waiting: &mut BTreeMap<usize, Receiver<Msg<P>>>,
    reg_rx: &Receiver<Registration<P>>,
) -> Result<Receiver<Msg<P>>, Error> {
    loop {
        if let Some(rx) = waiting.remove(&head) {
            return Ok(rx);
        }
        let (i, rx) = reg_rx
            .recv()
            .map_err(|_| Error::Input("a worker stopped unexpectedly".into()))?;
        waiting.insert(i, rx);
    }
}

/// The collector: takes every unit's messages in unit order.
#[allow(clippy::too_many_arguments)]
fn collect<W: Work>(
    run: &Run,
    work: &W,
    units: &[Unit],
    reg_rx: &Receiver<Registration<W::Part>>,
    window: &Window,
    events: &mut dyn Events,
    consume: &mut dyn FnMut(W::Part) -> Result<(), Error>,
    totals: &mut Totals,
) -> Result<(), Error> {
    let mut waiting: BTreeMap<usize, Receiver<Msg<W::Part>>> = BTreeMap::new();
    let mut layout_here: Option<Arc<Layout>> = None;
    let mut lines_before = 0;
    let mut columns = ColumnsSeen::default();
    for (head, unit) in units.iter().enumerate() {
        let first = unit.is_first();
        if first {
            lines_before = 0;
        }
        let rx = receiver_of(head, &mut waiting, reg_rx)?;
        // A header line in an earlier chunk may have changed the layout this chunk was
        // guessed to start with.
        let right = first || unit.layout.as_deref() == layout_here.as_deref();
        if !first {
            work.verdict(head, right);
        }
        let again = (!right).then(|| Unit {
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
                    if let Some(l) = d.end_layout.as_ref().filter(|_| d.stats.counts.lines > 0) {
                        columns.note(l, &mut totals.layout_columns);
                    }
                    layout_here = d.end_layout;
                    if totals.by_source.len() <= unit.source_index {
                        totals
                            .by_source
                            .resize(unit.source_index + 1, LineCounts::default());
                    }
                    totals.by_source[unit.source_index] += d.stats.counts;
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
            let mut outcome = Ok(());
            let mut mine = work.worker();
            run_unit(run, work, &mut mine, (head, &again), false, &mut |m| {
                if outcome.is_ok() {
                    if let Err(e) = handle(m) {
                        outcome = Err(e);
                    }
                }
                outcome.as_ref().map(|_| ()).map_err(|_| abandoned())
            });
            outcome?;
            if let Some(p) = work.part_of(mine) {
                consume(p)?;
            }
            window.finished(head + 1);
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
        window.finished(head + 1);
    }
    Ok(())
}
