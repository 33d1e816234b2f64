//! Reading map files. The kind of each file is detected from its content:
//! - the canonical CSV (this file);
//! - ECS task JSON: `aws ecs describe-tasks` output and ECS task state change events
//!   ([`super::events`]);
//! - `aws ec2 describe-network-interfaces` output ([`super::ec2`]);
//! - CloudTrail: a trail's files or S3 tree, and `lookup-events` output
//!   ([`super::cloudtrail`]);
//! - AWS Config `get-resource-config-history` output ([`super::config`]).
//!
//! JSON comes as one document, an array of documents, JSON Lines, or documents
//! concatenated with nothing between them (as Firehose writes them), plain or gzip;
//! a document may wrap others (`filter-log-events` output whose `message` is an event,
//! `lookup-events` whose `CloudTrailEvent` is a record). Documents are read one at a
//! time and folded into one fact per task and per ENI as they come, so memory grows
//! with the tasks and ENIs, not with the events. A directory is read whole (a trail's
//! `CloudTrail-Digest/` files are not records), its files in parallel.
//!
//! Errors name the file, the line or document, and what is wrong:
//! `map.csv:4: valid_from: "yesterday" is not a time (RFC 3339 or unix seconds)`.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use rustc_hash::FxHashMap;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

use super::merge::{EniFact, Facts, SourceKind, TaskFact};
use super::{MapRow, PeerKind};
use crate::net;
use crate::source::path_text;

/// The canonical CSV header. The last two columns are optional when reading.
pub const CSV_HEADER: [&str; 14] = [
    "eni_id",
    "kind",
    "private_ip",
    "task_arn",
    "cluster",
    "service",
    "task_family",
    "security_groups",
    "subnet_id",
    "vpc_id",
    "valid_from",
    "valid_to",
    "load_balancer",
    "source",
];

/// How many of [`CSV_HEADER`]'s columns a map CSV must have.
const REQUIRED_COLUMNS: usize = 12;

/// A map file that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct MapError(pub String);

/// What map files say: their facts, and what was skipped in them.
#[derive(Debug, Default)]
pub struct Loaded {
    pub facts: Facts,
    /// Parts of the files that were skipped, in words (`tasks.json: 1 ENI attachment
    /// without networkInterfaceId skipped ...`).
    pub warnings: Vec<String>,
    /// Files of a known kind that named no ENI or task (a trail's object of other
    /// events), with their kind: a warning for a file on its own, not for one file of
    /// a tree.
    pub named_nothing: Vec<(String, String)>,
    /// What was skipped, by kind: how many, and the first (`file: $.path`); said as one
    /// warning per kind for a whole tree.
    pub skipped: Skips,
}

/// What was skipped, by kind: how many, and where the first one was.
pub type Skips = BTreeMap<&'static str, (usize, String)>;

/// Adds the counts of `from` to `into`, keeping `into`'s first places.
fn add_skips(into: &mut Skips, from: Skips) {
    for (what, (n, first)) in from {
        into.entry(what).or_insert((0, first)).0 += n;
    }
}

impl Loaded {
    /// The skipped parts as warnings (`root` names where they are).
    fn say_skipped(&mut self, root: &str) {
        for (what, (n, first)) in std::mem::take(&mut self.skipped) {
            self.warnings
                .push(format!("{root}: {n} {what}, first at {first}"));
        }
    }
}

impl Loaded {
    pub fn extend(&mut self, o: Loaded) {
        self.facts.extend(o.facts);
        self.warnings.extend(o.warnings);
        self.named_nothing.extend(o.named_nothing);
        add_skips(&mut self.skipped, o.skipped);
    }
}

/// Reads one map file, or every file under a directory, of any kind into facts.
pub fn load_map_file(path: &str) -> Result<Loaded, MapError> {
    if path.starts_with("s3://") {
        return load_s3(path);
    }
    let meta =
        std::fs::metadata(path).map_err(|e| MapError(format!("{path}: cannot read: {e}")))?;
    if meta.is_dir() {
        return load_dir(Path::new(path));
    }
    let file =
        std::fs::File::open(path).map_err(|e| MapError(format!("{path}: cannot read: {e}")))?;
    let mut loaded = read_map(path, file)?;
    loaded.say_skipped(path);
    for (name, kinds) in std::mem::take(&mut loaded.named_nothing) {
        loaded
            .warnings
            .push(format!("{name}: {kinds} output that names no ENI or task"));
    }
    Ok(loaded)
}

/// Every file under `root`, sorted; `CloudTrail-Digest` folders and hidden entries are
/// left out.
fn files_under(root: &Path) -> Result<Vec<PathBuf>, MapError> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries = std::fs::read_dir(&dir)
            .map_err(|e| MapError(format!("{}: cannot read: {e}", path_text(&dir))))?;
        for e in entries {
            let e = e.map_err(|e| MapError(format!("{}: cannot read: {e}", path_text(&dir))))?;
            let name = e.file_name();
            let name = name.to_string_lossy();
            if name.starts_with('.') || name == "CloudTrail-Digest" {
                continue;
            }
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Every map file under a directory (a trail's S3 tree, a Firehose folder of events),
/// read in parallel.
fn load_dir(root: &Path) -> Result<Loaded, MapError> {
    let files = files_under(root)?;
    if files.is_empty() {
        return Err(MapError(format!(
            "{}: the directory holds no map file",
            path_text(root)
        )));
    }
    load_all(&path_text(root), &files, |p| {
        let name = path_text(p);
        let file =
            std::fs::File::open(p).map_err(|e| MapError(format!("{name}: cannot read: {e}")))?;
        read_map(&name, file)
    })
}

/// Every map object under an `s3://bucket/prefix` (a trail's bucket, an archive of
/// events), or the one object it names, read in parallel as `load_dir` reads a tree.
fn load_s3(url: &str) -> Result<Loaded, MapError> {
    let loc = crate::s3::S3Url::parse(url).map_err(MapError)?;
    let client = crate::s3::Client::for_bucket(&loc.bucket).map_err(MapError)?;
    let listed = client.list(&loc.key).map_err(MapError)?;
    let keys: Vec<String> = match listed.iter().find(|(k, _)| *k == loc.key) {
        // The location names one object.
        Some((k, _)) => vec![k.clone()],
        None => listed
            .into_iter()
            .map(|(k, _)| k)
            .filter(|k| {
                !k.ends_with('/')
                    && !k
                        .split('/')
                        .any(|part| part == "CloudTrail-Digest" || part.starts_with('.'))
            })
            .collect(),
    };
    if keys.is_empty() {
        return Err(MapError(format!("{url}: no object there")));
    }
    load_all(url, &keys, |key| {
        let name = path_text(Path::new(&format!("s3://{}/{key}", loc.bucket)));
        let body = client.open(key).map_err(MapError)?;
        read_map(&name, body)
    })
}

/// Reads many map files in parallel and merges what they say; a warning that many of
/// them give is said once for all (`root` names them in messages).
fn load_all<T: Sync>(
    root: &str,
    items: &[T],
    read: impl Fn(&T) -> Result<Loaded, MapError> + Sync + Send,
) -> Result<Loaded, MapError> {
    let parts: Vec<Result<Loaded, MapError>> = items.par_iter().map(&read).collect();
    let mut all = Loaded::default();
    let mut kinds: BTreeSet<String> = BTreeSet::new();
    for part in parts {
        let mut part = part?;
        kinds.extend(
            std::mem::take(&mut part.named_nothing)
                .into_iter()
                .map(|(_, k)| k),
        );
        // One line per kind of skip for the whole tree, not one per file.
        all.extend(part);
    }
    all.say_skipped(root);
    if all.facts.is_empty() && !kinds.is_empty() {
        all.warnings.push(format!(
            "{root}: {} files that name no ENI or task",
            kinds.into_iter().collect::<Vec<_>>().join(" and ")
        ));
    }
    Ok(all)
}

/// Reads a map from a reader (gzip or plain); `name` is used in messages.
pub fn read_map(name: &str, mut input: impl Read) -> Result<Loaded, MapError> {
    let read_err = |e: std::io::Error| MapError(format!("{name}: cannot read: {e}"));
    let mut head = [0u8; 2];
    let n = read_full(&mut input, &mut head).map_err(read_err)?;
    let rest = std::io::Cursor::new(head[..n].to_vec()).chain(input);
    if n == 2 && head == [0x1f, 0x8b] {
        let gz = flate2::read::MultiGzDecoder::new(rest);
        return read_plain(name, gz);
    }
    read_plain(name, rest)
}

fn read_full(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// Parses map file content; `name` is used in messages.
pub fn parse_map(name: &str, text: &[u8]) -> Result<Loaded, MapError> {
    read_map(name, text)
}

/// How much of a JSON stream is read at a time; a document larger than this grows it.
const CHUNK: usize = 8 << 20;

fn read_plain(name: &str, mut input: impl Read) -> Result<Loaded, MapError> {
    let read_err = |e: std::io::Error| MapError(format!("{name}: cannot read: {e}"));
    let mut buf = vec![0u8; 64 << 10];
    let mut filled = read_full(&mut input, &mut buf).map_err(read_err)?;
    // A UTF-8 byte order mark (Windows editors write one) is not content.
    let bom = if buf[..filled].starts_with(b"\xEF\xBB\xBF") {
        3
    } else {
        0
    };
    let first = buf[bom..filled]
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .map(|i| bom + i);
    let json = match first.map(|i| buf[i]) {
        None if filled == 0 => return Err(MapError(format!("{name}: the file is empty"))),
        None => return Err(MapError(format!("{name}: the file holds only blanks"))),
        Some(b) => b == b'{' || b == b'[',
    };
    if !json {
        buf.truncate(filled);
        input.read_to_end(&mut buf).map_err(read_err)?;
        buf.drain(..bom);
        if buf.contains(&0) {
            return Err(MapError(format!(
                "{name}: binary data that is no map (neither JSON nor the canonical CSV, \
                 plain or gzip)"
            )));
        }
        let rows = csv_rows(name, &buf)?;
        return Ok(Loaded {
            facts: rows.into(),
            ..Loaded::default()
        });
    }
    // JSON: documents one at a time, the buffer holding at most one chunk past the
    // largest document.
    let mut sink = Sink::new(name);
    let mut start = bom;
    let mut line = 1usize;
    let mut eof = filled < buf.len();
    loop {
        let slice = &buf[start..filled];
        let mut used = 0usize;
        // The whole documents of the buffer, with their first line.
        let mut docs: Vec<(&str, usize)> = Vec::new();
        // JSON Lines: found on all cores, up to the buffer's last line end.
        if let Some((found, end)) = documents_by_lines(slice, line) {
            docs = found;
            line += count_lines(&slice[..end]);
            used = end;
        }
        loop {
            let from = used
                + slice[used..]
                    .iter()
                    .position(|b| !b.is_ascii_whitespace())
                    .unwrap_or(slice.len() - used);
            if from == slice.len() {
                break;
            }
            let end = match document_end(slice, from) {
                Some(end) => end,
                // Not an object or array: serde says what it is, at once (not after
                // reading the rest of the file).
                None if !matches!(slice[from], b'{' | b'[') => {
                    let mut values = serde_json::Deserializer::from_slice(&slice[from..])
                        .into_iter::<&RawValue>();
                    match values.next() {
                        Some(Ok(_)) => from + values.byte_offset(),
                        Some(Err(e)) if e.is_eof() && !eof => break,
                        Some(Err(e)) => {
                            sink.documents(&docs)?;
                            line += count_lines(&slice[used..from]);
                            return Err(json_error(name, line, &e));
                        }
                        None => slice.len(),
                    }
                }
                // A document cut by the end of the buffer: read more.
                None if !eof => break,
                // Cut by the end of the file, or not an object or array: serde says
                // what is wrong, and where.
                None => match serde_json::from_slice::<&RawValue>(&slice[from..]) {
                    Err(e) => {
                        sink.documents(&docs)?;
                        line += count_lines(&slice[used..from]);
                        return Err(json_error(name, line, &e));
                    }
                    Ok(_) => slice.len(),
                },
            };
            line += count_lines(&slice[used..from]);
            let text = std::str::from_utf8(&slice[from..end]).map_err(|e| {
                let at = line + count_lines(&slice[from..from + e.valid_up_to()]);
                MapError(format!("{name}:{at}: invalid UTF-8"))
            })?;
            docs.push((text, line));
            line += count_lines(&slice[from..end]);
            used = end;
        }
        sink.documents(&docs)?;
        start += used;
        if eof {
            break;
        }
        // Keep the unread part and read more behind it.
        buf.copy_within(start..filled, 0);
        filled -= start;
        start = 0;
        if buf.len() - filled < CHUNK / 2 {
            buf.resize((buf.len() * 2).max(CHUNK), 0);
        }
        filled += read_full(&mut input, &mut buf[filled..]).map_err(read_err)?;
        eof = filled < buf.len();
    }
    sink.finish()
}

/// The documents of `slice` up to its last line end, found on all cores: the slice is
/// cut at line ends into pieces, and each piece must be whole objects or arrays
/// separated by blanks (as in JSON Lines). The first piece starts at a document, so a
/// piece that passes ends where a document ends, and the next starts at one: the cut
/// never splits a document. `None` when a piece does not pass (a document over several
/// lines, invalid UTF-8, a small slice): the caller then finds them one by one.
/// `line` is the file line of the slice's first byte; returns the documents with their
/// first lines, and how many bytes they take.
fn documents_by_lines(slice: &[u8], line: usize) -> Option<(Vec<(&str, usize)>, usize)> {
    const SMALL: usize = 1 << 20;
    let end = memchr::memrchr(b'\n', slice)? + 1;
    if end < SMALL {
        return None;
    }
    let pieces = rayon::current_num_threads().max(1) * 4;
    let mut cuts = vec![0usize];
    for i in 1..pieces {
        let at = i * end / pieces;
        let cut = memchr::memchr(b'\n', &slice[at..end]).map_or(end, |k| at + k + 1);
        if cut > *cuts.last().expect("starts at 0") && cut < end {
            cuts.push(cut);
        }
    }
    cuts.push(end);
    // Each piece: its documents (text, lines before it in the piece) and its lines.
    type Piece<'a> = (Vec<(&'a str, usize)>, usize);
    let scanned: Vec<Option<Piece>> = cuts
        .par_windows(2)
        .map(|w| {
            let (a, b) = (w[0], w[1]);
            let mut docs = Vec::new();
            let (mut at, mut lines) = (a, 0usize);
            loop {
                let next = at + slice[at..b].iter().position(|c| !c.is_ascii_whitespace())?;
                lines += count_lines(&slice[at..next]);
                let doc_end = document_end(&slice[..b], next)?;
                let text = std::str::from_utf8(&slice[next..doc_end]).ok()?;
                docs.push((text, lines));
                lines += count_lines(&slice[next..doc_end]);
                at = doc_end;
                if slice[at..b].iter().all(u8::is_ascii_whitespace) {
                    lines += count_lines(&slice[at..b]);
                    return Some((docs, lines));
                }
            }
        })
        .collect();
    let mut docs = Vec::new();
    let mut first = line;
    for piece in scanned {
        let (found, lines) = piece?;
        docs.extend(
            found
                .into_iter()
                .map(|(text, before)| (text, first + before)),
        );
        first += lines;
    }
    Some((docs, end))
}

/// The end of the JSON object or array that starts at `from` (a `{` or `[`): where
/// its brackets balance, strings skipped; `None` when the buffer ends first, or when
/// no object or array starts there. The document is parsed in full afterwards: this
/// only finds where it ends, faster than a parser would.
fn document_end(buf: &[u8], from: usize) -> Option<usize> {
    let (open, close) = match buf[from] {
        b'{' => (b'{', b'}'),
        b'[' => (b'[', b']'),
        _ => return None,
    };
    let mut depth = 0usize;
    let mut i = from;
    while let Some(k) = memchr::memchr3(open, close, b'"', &buf[i..]) {
        let at = i + k;
        match buf[at] {
            b'"' => {
                // Skip the string: to the next quote that no backslash escapes.
                let mut j = at + 1;
                loop {
                    let q = memchr::memchr2(b'"', b'\\', &buf[j..])?;
                    if buf[j + q] == b'\\' {
                        j += q + 2;
                        if j > buf.len() {
                            return None;
                        }
                    } else {
                        j += q + 1;
                        break;
                    }
                }
                i = j;
            }
            c if c == open => {
                depth += 1;
                i = at + 1;
            }
            _ => {
                depth -= 1;
                i = at + 1;
                if depth == 0 {
                    return Some(i);
                }
            }
        }
    }
    None
}

fn count_lines(b: &[u8]) -> usize {
    memchr::memchr_iter(b'\n', b).count()
}

/// An invalid-JSON error at its line in the file.
fn json_error(name: &str, line: usize, e: &serde_json::Error) -> MapError {
    // The error's position counts from the document's start, on file line `line`.
    let file_line = line + e.line().saturating_sub(1);
    MapError(format!(
        "{name}: invalid JSON at line {file_line} column {}: {}",
        e.column(),
        strip_position(&e.to_string())
    ))
}

/// What one file says, folded per task and per ENI as its documents are read.
pub(crate) struct Sink<'n> {
    pub name: &'n str,
    tasks: FxHashMap<String, TaskFact>,
    enis: FxHashMap<String, EniFact>,
    facts: Facts,
    /// The first line of the document being read.
    line: usize,
    /// The JSON path of the element a parse error happened in.
    error_at: Option<String>,
    /// What was skipped: count and the first place.
    skipped: Skips,
    /// The kinds of source seen.
    seen: BTreeSet<SourceKind>,
}

impl<'n> Sink<'n> {
    pub fn new(name: &'n str) -> Sink<'n> {
        Sink {
            name,
            tasks: FxHashMap::default(),
            enis: FxHashMap::default(),
            facts: Facts::default(),
            line: 1,
            error_at: None,
            skipped: BTreeMap::new(),
            seen: BTreeSet::new(),
        }
    }

    pub fn task(&mut self, f: TaskFact) {
        self.seen.insert(f.source);
        match self.tasks.get_mut(&f.task_arn) {
            // Two ENIs for one task: both kept, for the merge to warn of.
            Some(t) if t.eni_id.is_some() && f.eni_id.is_some() && t.eni_id != f.eni_id => {
                self.facts.tasks.push(f)
            }
            Some(t) => t.absorb(f),
            None => {
                self.tasks.insert(f.task_arn.clone(), f);
            }
        }
    }

    pub fn eni(&mut self, f: EniFact) {
        self.seen.insert(f.source);
        let precise = |k: Option<PeerKind>| k.filter(|k| *k != PeerKind::Other);
        match self.enis.get_mut(&f.eni_id) {
            // Two kinds for one ENI: both kept, for the merge to warn of.
            Some(e)
                if precise(e.kind).is_some() && precise(f.kind).is_some() && e.kind != f.kind =>
            {
                self.facts.enis.push(f)
            }
            Some(e) => e.absorb(f),
            None => {
                self.enis.insert(f.eni_id.clone(), f);
            }
        }
    }

    pub fn task_without_eni(&mut self, arn: &str) {
        self.facts.tasks_without_eni.insert(arn.to_string());
    }

    pub fn failure(&mut self, arn: String, reason: String, at: String) {
        self.seen.insert(SourceKind::DescribeTasks);
        self.facts.failures.push((arn, reason, at));
    }

    /// Counts something skipped; `what` says what and why, for the warning.
    pub fn skip(&mut self, what: &'static str, at: impl FnOnce() -> String) {
        let e = self
            .skipped
            .entry(what)
            .or_insert_with(|| (0, String::new()));
        if e.0 == 0 {
            e.1 = at();
        }
        e.0 += 1;
    }

    /// Marks a kind of source as seen even when it held nothing to keep.
    pub fn saw(&mut self, kind: SourceKind) {
        self.seen.insert(kind);
    }

    /// Reads many documents (JSON Lines, concatenated objects), in parallel when there
    /// are many: each worker folds its share into a sink of its own, and the sinks are
    /// merged in order, so the result and the first error are those of reading them
    /// one by one.
    pub fn documents(&mut self, docs: &[(&str, usize)]) -> Result<(), MapError> {
        const PER_WORKER: usize = 256;
        if docs.len() < 2 * PER_WORKER {
            for (text, line) in docs {
                self.document(text, *line)?;
            }
            return Ok(());
        }
        let name = self.name;
        let parts: Vec<Result<Sink, MapError>> = docs
            .par_chunks(PER_WORKER)
            .map(|part| {
                let mut sink = Sink::new(name);
                for (text, line) in part {
                    sink.document(text, *line)?;
                }
                Ok(sink)
            })
            .collect();
        for part in parts {
            self.absorb(part?);
        }
        Ok(())
    }

    /// Takes in what another sink of the same file read.
    fn absorb(&mut self, o: Sink) {
        for (_, t) in o.tasks {
            self.task(t);
        }
        for (_, e) in o.enis {
            self.eni(e);
        }
        self.facts.extend(o.facts);
        add_skips(&mut self.skipped, o.skipped);
        self.seen.extend(o.seen);
    }

    /// Reads one JSON document (`line` is its first line in the file).
    pub fn document(&mut self, text: &str, line: usize) -> Result<(), MapError> {
        self.line = line;
        let name = self.name;
        let mut de = serde_json::Deserializer::from_str(text);
        let found = Top {
            sink: self,
            at: "$",
        }
        .deserialize(&mut de);
        let error_at = self.error_at.take();
        let found = found.map_err(|e| {
            let file_line = line + e.line().saturating_sub(1);
            let what = strip_position(&e.to_string());
            MapError(match (e.classify(), error_at) {
                (serde_json::error::Category::Syntax | serde_json::error::Category::Eof, _) => {
                    format!(
                        "{name}: invalid JSON at line {file_line} column {}: {what}",
                        e.column()
                    )
                }
                (_, Some(at)) => format!("{name}:{file_line}: {at}: {what}"),
                (_, None) => format!("{name}:{file_line}: {what}"),
            })
        })?;
        let at = format!("{name}:{line}");
        match found {
            Found::Known => Ok(()),
            Found::Unknown(keys) => Err(MapError(format!(
                "{at}: JSON that is no map source this tool reads (describe-tasks, \
                 describe-network-interfaces, ECS task state change events, CloudTrail \
                 records or lookup-events, Config configuration items, filter-log-events \
                 output): its keys are {}",
                if keys.is_empty() {
                    "none".to_string()
                } else {
                    keys.join(", ")
                }
            ))),
            Found::Scalar => Err(MapError(format!(
                "{at}: a JSON value that is no object or array"
            ))),
        }
    }

    /// Reads a document held as a string inside another (`message`, `CloudTrailEvent`);
    /// `at` is its path.
    pub fn nested(&mut self, text: &str, at: &str) -> Result<(), String> {
        let mut de = serde_json::Deserializer::from_str(text);
        match (Top { sink: self, at }).deserialize(&mut de) {
            Ok(Found::Known) => Ok(()),
            Ok(_) => {
                self.skip("embedded documents that are no map source skipped", || {
                    at.to_string()
                });
                Ok(())
            }
            Err(e) => Err(format!("{at}: {e}")),
        }
    }

    /// Where a fact came from, for messages: the file, the document's line and the
    /// JSON path.
    pub fn origin(&self, path: &str) -> String {
        format!("{}:{}: {path}", self.name, self.line)
    }

    fn finish(self) -> Result<Loaded, MapError> {
        let name = self.name;
        let mut facts = self.facts;
        facts.tasks.extend(self.tasks.into_values());
        facts.enis.extend(self.enis.into_values());
        facts.tasks.sort_by(|a, b| a.task_arn.cmp(&b.task_arn));
        facts.enis.sort_by(|a, b| a.eni_id.cmp(&b.eni_id));
        let skipped: Skips = self
            .skipped
            .into_iter()
            .map(|(what, (n, first))| (what, (n, format!("{name}: {first}"))))
            .collect();
        let warnings = Vec::new();
        if facts.is_empty() && facts.failures.is_empty() && facts.tasks_without_eni.is_empty() {
            let kinds: Vec<&str> = self.seen.iter().map(|k| k.as_str()).collect();
            if kinds.is_empty() {
                let why = match skipped.iter().next() {
                    Some((what, (n, first))) => format!(" ({n} {what}, first at {first})"),
                    None => String::new(),
                };
                return Err(MapError(format!(
                    "{name}: the file holds no map source{why}"
                )));
            }
            return Ok(Loaded {
                facts,
                warnings,
                named_nothing: vec![(name.to_string(), kinds.join(" and "))],
                skipped,
            });
        }
        Ok(Loaded {
            facts,
            warnings,
            skipped,
            named_nothing: Vec::new(),
        })
    }
}

/// serde_json's message without its " at line L column C" tail (the caller says where).
fn strip_position(e: &str) -> String {
    match e.rfind(" at line ") {
        Some(i) => e[..i].to_string(),
        None => e.to_string(),
    }
}

/// What a document turned out to be.
enum Found {
    Known,
    Unknown(Vec<String>),
    Scalar,
}

/// The top of a document: an object whose keys say what it is, or an array of such.
struct Top<'s, 'n, 'a> {
    sink: &'s mut Sink<'n>,
    at: &'a str,
}

/// The keys of a top-level object that tell its kind.
enum Key {
    Tasks,
    Failures,
    NetworkInterfaces,
    NetworkInterface,
    Records,
    LookupEvents,
    LogEvents,
    ConfigurationItems,
    DetailType,
    Detail,
    EventName,
    EventTime,
    ErrorCode,
    RequestParameters,
    ResponseElements,
    // A task on its own: an event's `detail`, a task of describe-tasks.
    TaskArn,
    ClusterArn,
    Group,
    TaskDefinitionArn,
    CreatedAt,
    StartedAt,
    StoppedAt,
    Attachments,
    Containers,
    Other(String),
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Key, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Key;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a key")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Key, E> {
                Ok(match s {
                    "tasks" => Key::Tasks,
                    "failures" => Key::Failures,
                    "NetworkInterfaces" => Key::NetworkInterfaces,
                    "NetworkInterface" => Key::NetworkInterface,
                    "Records" => Key::Records,
                    "Events" => Key::LookupEvents,
                    "events" => Key::LogEvents,
                    "configurationItems" => Key::ConfigurationItems,
                    "detail-type" => Key::DetailType,
                    "detail" => Key::Detail,
                    "eventName" => Key::EventName,
                    "eventTime" => Key::EventTime,
                    "errorCode" => Key::ErrorCode,
                    "requestParameters" => Key::RequestParameters,
                    "responseElements" => Key::ResponseElements,
                    "taskArn" => Key::TaskArn,
                    "clusterArn" => Key::ClusterArn,
                    "group" => Key::Group,
                    "taskDefinitionArn" => Key::TaskDefinitionArn,
                    "createdAt" => Key::CreatedAt,
                    "startedAt" => Key::StartedAt,
                    "stoppedAt" => Key::StoppedAt,
                    "attachments" => Key::Attachments,
                    "containers" => Key::Containers,
                    other => Key::Other(other.to_string()),
                })
            }
        }
        d.deserialize_identifier(V)
    }
}

impl<'de> DeserializeSeed<'de> for Top<'_, '_, '_> {
    type Value = Found;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Found, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Top<'_, '_, '_> {
    type Value = Found;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON object or array")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Found, A::Error> {
        let mut i = 0usize;
        let mut unknown = None;
        loop {
            let at = format!("{}[{i}]", self.at);
            let Some(found) = seq.next_element_seed(Top {
                sink: &mut *self.sink,
                at: &at,
            })?
            else {
                break;
            };
            match found {
                Found::Known => {}
                other => {
                    unknown.get_or_insert(other);
                }
            }
            i += 1;
        }
        // An empty array says nothing, as a page of output with no items.
        Ok(match unknown {
            Some(u) if i > 0 => u,
            _ => Found::Known,
        })
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Found, A::Error> {
        let sink = self.sink;
        let at = self.at;
        let mut known = false;
        let mut keys: Vec<String> = Vec::new();
        let mut detail_type: Option<String> = None;
        let mut detail: Option<&'de RawValue> = None;
        let mut read_detail = false;
        let mut record = super::cloudtrail::RecordParts::default();
        let mut task = super::events::TaskJson::default();
        let path = |k: &str| format!("{at}.{k}");
        while let Some(key) = map.next_key::<Key>()? {
            match key {
                Key::Tasks => {
                    known = true;
                    sink.saw(SourceKind::DescribeTasks);
                    let p = path("tasks");
                    map.next_value_seed(Fold::new(sink, &p, super::events::describe_task))?;
                }
                Key::Failures => {
                    known = true;
                    let p = path("failures");
                    map.next_value_seed(Fold::new(sink, &p, super::events::failure))?;
                }
                Key::NetworkInterfaces => {
                    known = true;
                    sink.saw(SourceKind::DescribeEnis);
                    let p = path("NetworkInterfaces");
                    map.next_value_seed(Fold::new(sink, &p, super::ec2::network_interface))?;
                }
                Key::NetworkInterface => {
                    // `aws ec2 create-network-interface` output: one ENI.
                    known = true;
                    sink.saw(SourceKind::DescribeEnis);
                    let ni = map.next_value()?;
                    let p = path("NetworkInterface");
                    super::ec2::network_interface(sink, ni, &|| p.clone())
                        .map_err(de::Error::custom)?;
                }
                Key::Records => {
                    known = true;
                    sink.saw(SourceKind::CloudTrail);
                    let p = path("Records");
                    map.next_value_seed(Fold::new(sink, &p, super::cloudtrail::record))?;
                }
                Key::LookupEvents => {
                    known = true;
                    sink.saw(SourceKind::CloudTrail);
                    let p = path("Events");
                    map.next_value_seed(Fold::new(sink, &p, super::cloudtrail::lookup_event))?;
                }
                Key::LogEvents => {
                    known = true;
                    let p = path("events");
                    map.next_value_seed(Fold::new(sink, &p, super::events::log_event))?;
                }
                Key::ConfigurationItems => {
                    known = true;
                    sink.saw(SourceKind::Config);
                    let p = path("configurationItems");
                    map.next_value_seed(Fold::new(sink, &p, super::config::item))?;
                }
                Key::DetailType => detail_type = map.next_value()?,
                // EventBridge writes `detail-type` before `detail`: a task's event is
                // read as it comes, else its detail is kept for when the type is known.
                Key::Detail if detail_type.as_deref() == Some(super::events::TASK_STATE_CHANGE) => {
                    known = true;
                    let t = map.next_value()?;
                    super::events::task_event(sink, t, &path("detail"))
                        .map_err(de::Error::custom)?;
                    read_detail = true;
                }
                Key::Detail => detail = Some(map.next_value()?),
                Key::EventName => record.event_name = map.next_value()?,
                Key::EventTime => record.event_time = map.next_value()?,
                Key::ErrorCode => record.error_code = map.next_value()?,
                Key::RequestParameters => record.request = map.next_value()?,
                Key::ResponseElements => record.response = map.next_value()?,
                Key::TaskArn => task.task_arn = map.next_value()?,
                Key::ClusterArn => task.cluster_arn = map.next_value()?,
                Key::Group => task.group = map.next_value()?,
                Key::TaskDefinitionArn => task.task_definition_arn = map.next_value()?,
                Key::CreatedAt => task.created_at = map.next_value()?,
                Key::StartedAt => task.started_at = map.next_value()?,
                Key::StoppedAt => task.stopped_at = map.next_value()?,
                Key::Attachments => task.attachments = map.next_value()?,
                Key::Containers => task.containers = map.next_value()?,
                Key::Other(k) => {
                    if keys.len() < 8 {
                        keys.push(k);
                    }
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if let (Some(dt), false) = (detail_type, read_detail) {
            known = true;
            super::events::event(sink, &dt, detail, at).map_err(de::Error::custom)?;
        } else if record.event_name.is_some() {
            known = true;
            sink.saw(SourceKind::CloudTrail);
            super::cloudtrail::record_parts(sink, record, at).map_err(de::Error::custom)?;
        } else if !known && task.task_arn.is_some() {
            known = true;
            super::events::bare_task(sink, task, at).map_err(de::Error::custom)?;
        }
        Ok(if known {
            Found::Known
        } else {
            Found::Unknown(keys)
        })
    }

    fn visit_unit<E: de::Error>(self) -> Result<Found, E> {
        Ok(Found::Scalar)
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Found, E> {
        Ok(Found::Scalar)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Found, E> {
        Ok(Found::Scalar)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Found, E> {
        Ok(Found::Scalar)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Found, E> {
        Ok(Found::Scalar)
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Found, E> {
        Ok(Found::Scalar)
    }
}

/// Handles one element of a list: the sink, the element, and its path for messages.
pub(crate) type Each<T> = fn(&mut Sink, T, &dyn Fn() -> String) -> Result<(), String>;

/// Reads a JSON array one element at a time, handing each to a function; `null` is an
/// empty list.
pub(crate) struct Fold<'s, 'n, 'p, T> {
    sink: &'s mut Sink<'n>,
    path: &'p str,
    each: Each<T>,
    _t: PhantomData<T>,
}

impl<'s, 'n, 'p, T> Fold<'s, 'n, 'p, T> {
    pub(crate) fn new(sink: &'s mut Sink<'n>, path: &'p str, each: Each<T>) -> Self {
        Fold {
            sink,
            path,
            each,
            _t: PhantomData,
        }
    }
}

impl<'de, T: Deserialize<'de>> DeserializeSeed<'de> for Fold<'_, '_, '_, T> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, T: Deserialize<'de>> Visitor<'de> for Fold<'_, '_, '_, T> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "an array at {}", self.path)
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut i = 0usize;
        loop {
            let x = match seq.next_element::<T>() {
                Ok(Some(x)) => x,
                Ok(None) => break,
                Err(e) => {
                    // Where it failed, for the message (the error keeps its kind).
                    self.sink.error_at = Some(format!("{}[{i}]", self.path));
                    return Err(e);
                }
            };
            let path = self.path;
            (self.each)(self.sink, x, &|| format!("{path}[{i}]")).map_err(de::Error::custom)?;
            i += 1;
        }
        Ok(())
    }
}

/// A time as AWS sources print it: ISO 8601 (`2026-11-01T00:20:00.123Z`, CLI v2) or
/// epoch seconds as a number (`1793492400.123`, CLI v1), or null. Whole seconds,
/// rounded down; integers in milliseconds and finer are scaled.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Time(pub Option<i64>);

impl<'de> Deserialize<'de> for Time {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Time, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Time;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a time (ISO 8601 or epoch seconds)")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Time, E> {
                Ok(Time(None))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Time, E> {
                i64::try_from(v)
                    .ok()
                    .and_then(crate::time::unix_seconds)
                    .map(|t| Time(Some(t)))
                    .ok_or_else(|| E::custom(format!("{v} is not a time")))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Time, E> {
                crate::time::unix_seconds(v)
                    .map(|t| Time(Some(t)))
                    .ok_or_else(|| E::custom(format!("{v} is not a time")))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Time, E> {
                if (0.0..9.0e15).contains(&v) {
                    self.visit_i64(v.floor() as i64)
                } else {
                    Err(E::custom(format!("{v} is not a time")))
                }
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Time, E> {
                if s.trim().is_empty() {
                    return Ok(Time(None));
                }
                time_text(s)
                    .map(|t| Time(Some(t)))
                    .ok_or_else(|| E::custom(format!("{s:?} is not a time")))
            }
        }
        d.deserialize_any(V)
    }
}

/// A time given as text: ISO 8601 or epoch seconds (with a fraction too).
pub(crate) fn time_text(s: &str) -> Option<i64> {
    crate::time::parse_time(s).ok().or_else(|| {
        s.trim()
            .parse::<f64>()
            .ok()
            .filter(|f| (0.0..9.0e15).contains(f))
            .and_then(|f| crate::time::unix_seconds(f.floor() as i64))
    })
}

/// An address as text, or an error naming where it was.
pub(crate) fn address(text: &str, at: &dyn Fn() -> String, what: &str) -> Result<[u8; 16], String> {
    net::addr(text).ok_or_else(|| format!("{}: {what} {text:?} is not an IP address", at()))
}

/// Parses the canonical CSV.
pub fn csv_rows(name: &str, text: &[u8]) -> Result<Vec<MapRow>, MapError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .trim(csv::Trim::All)
        .from_reader(text);
    let header = reader
        .headers()
        .map_err(|e| MapError(format!("{name}:1: {e}")))?
        .clone();
    let mut index = [usize::MAX; CSV_HEADER.len()];
    for (i, h) in header.iter().enumerate() {
        match CSV_HEADER.iter().position(|c| *c == h) {
            Some(c) if index[c] == usize::MAX => index[c] = i,
            Some(_) => return Err(MapError(format!("{name}:1: column {h} appears twice"))),
            None => {
                return Err(MapError(format!(
                    "{name}:1: unknown column {h:?}; the header is {}",
                    CSV_HEADER.join(",")
                )))
            }
        }
    }
    if let Some(missing) = CSV_HEADER[..REQUIRED_COLUMNS]
        .iter()
        .zip(index)
        .find(|(_, i)| *i == usize::MAX)
    {
        return Err(MapError(format!(
            "{name}:1: missing column {}; the header is {}",
            missing.0,
            CSV_HEADER.join(",")
        )));
    }
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line());
            let why = match e.kind() {
                csv::ErrorKind::UnequalLengths { len, .. } => {
                    format!("expected {} columns, found {len}", header.len())
                }
                csv::ErrorKind::Utf8 { .. } => "invalid UTF-8".to_string(),
                _ => e.to_string(),
            };
            MapError(format!("{name}:{line}: {why}"))
        })?;
        let line = record.position().map_or(0, |p| p.line());
        let at = format!("{name}:{line}");
        let get = |c: usize| {
            if index[c] == usize::MAX {
                ""
            } else {
                record.get(index[c]).unwrap_or("")
            }
        };
        let opt = |c: usize| Some(get(c).to_string()).filter(|s| !s.is_empty());
        let err = |col: &str, msg: String| MapError(format!("{at}: {col}: {msg}"));
        let eni_id = get(0);
        if eni_id.is_empty() {
            return Err(err("eni_id", "is empty".into()));
        }
        let kind = PeerKind::parse_eni(get(1)).ok_or_else(|| {
            err(
                "kind",
                format!("{:?} is not one of {}", get(1), PeerKind::eni_names()),
            )
        })?;
        let private_ip = net::addr(get(2))
            .ok_or_else(|| err("private_ip", format!("{:?} is not an IP address", get(2))))?;
        let time = |c: usize, col: &str| -> Result<Option<i64>, MapError> {
            let s = get(c);
            if s.is_empty() {
                return Ok(None);
            }
            crate::time::parse_time(s).map(Some).map_err(|_| {
                err(
                    col,
                    format!("{s:?} is not a time (RFC 3339 or unix seconds)"),
                )
            })
        };
        let valid_from = time(10, "valid_from")?;
        let valid_to = time(11, "valid_to")?;
        if let (Some(f), Some(t)) = (valid_from, valid_to) {
            if f >= t {
                return Err(err(
                    "valid_to",
                    format!("{:?} is not after valid_from {:?}", get(11), get(10)),
                ));
            }
        }
        rows.push(MapRow {
            eni_id: eni_id.to_string(),
            kind,
            private_ip,
            task_arn: opt(3),
            cluster: opt(4),
            service: opt(5),
            task_family: opt(6),
            security_groups: get(7)
                .split(';')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect(),
            subnet_id: opt(8),
            vpc_id: opt(9),
            valid_from,
            valid_to,
            load_balancer: opt(12),
            source: get(13).to_string(),
            origin: at,
        });
    }
    Ok(rows)
}

/// Writes rows as the canonical CSV (the format `--map` reads back).
pub fn write_map_csv<'a>(
    rows: impl Iterator<Item = &'a MapRow>,
    out: impl std::io::Write,
) -> std::io::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(CSV_HEADER)?;
    let time = |t: Option<i64>| t.map(crate::time::rfc3339).unwrap_or_default();
    for r in rows {
        w.write_record([
            r.eni_id.as_str(),
            r.kind.as_str(),
            &crate::net::addr_string(&r.private_ip),
            r.task_arn.as_deref().unwrap_or(""),
            r.cluster.as_deref().unwrap_or(""),
            r.service.as_deref().unwrap_or(""),
            r.task_family.as_deref().unwrap_or(""),
            &r.security_groups.join(";"),
            r.subnet_id.as_deref().unwrap_or(""),
            r.vpc_id.as_deref().unwrap_or(""),
            &time(r.valid_from),
            &time(r.valid_to),
            r.load_balancer.as_deref().unwrap_or(""),
            &r.source,
        ])?;
    }
    w.flush()
}

/// The map as one Arrow batch, for the Parquet table of `vpcflow map --format parquet`:
/// the CSV's columns, with `valid_from`/`valid_to` as unix seconds (null: unbounded) so
/// that an engine joins records to the map as of their `start` with plain comparisons.
pub fn map_batch<'a>(rows: impl Iterator<Item = &'a MapRow>) -> arrow::record_batch::RecordBatch {
    use arrow::array::{ArrayRef, Int64Array, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};
    use std::sync::Arc;
    let rows: Vec<&MapRow> = rows.collect();
    let text = |f: &dyn Fn(&MapRow) -> Option<String>| -> ArrayRef {
        Arc::new(rows.iter().map(|r| f(r)).collect::<StringArray>())
    };
    let time = |f: &dyn Fn(&MapRow) -> Option<i64>| -> ArrayRef {
        Arc::new(rows.iter().map(|r| f(r)).collect::<Int64Array>())
    };
    let columns: Vec<ArrayRef> = vec![
        text(&|r| Some(r.eni_id.clone())),
        text(&|r| Some(r.kind.as_str().to_string())),
        text(&|r| Some(crate::net::addr_string(&r.private_ip))),
        text(&|r| r.task_arn.clone()),
        text(&|r| r.cluster.clone()),
        text(&|r| r.service.clone()),
        text(&|r| r.task_family.clone()),
        text(&|r| Some(r.security_groups.join(";"))),
        text(&|r| r.subnet_id.clone()),
        text(&|r| r.vpc_id.clone()),
        time(&|r| r.valid_from),
        time(&|r| r.valid_to),
        text(&|r| r.load_balancer.clone()),
        text(&|r| Some(r.source.clone())),
    ];
    let fields: Vec<Field> = CSV_HEADER
        .iter()
        .map(|name| {
            let t = if name.starts_with("valid_") {
                DataType::Int64
            } else {
                DataType::Utf8
            };
            Field::new(*name, t, true)
        })
        .collect();
    arrow::record_batch::RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
        .expect("one column per header name, of the rows' length")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn time(json: &str) -> Option<i64> {
        serde_json::from_str::<Time>(json).unwrap().0
    }

    #[test]
    fn times_in_every_form_aws_prints() {
        assert_eq!(time("1793491200.999"), Some(1793491200));
        assert_eq!(time("1793491200999"), Some(1793491200));
        assert_eq!(
            time("\"2026-11-01T00:20:00.123000+00:00\""),
            Some(1793492400)
        );
        assert_eq!(time("\"2026-11-01T00:20:00.123Z\""), Some(1793492400));
        assert_eq!(time("\"1793491200.5\""), Some(1793491200));
        assert_eq!(time("null"), None);
        assert!(serde_json::from_str::<Time>("\"soon\"").is_err());
    }
}
