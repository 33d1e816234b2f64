//! Reading map files: which kind each file is, told from its content, and which
//! reader takes it. One file per kind of source:
//! - the canonical CSV ([`csv`]);
//! - ECS task JSON: `aws ecs describe-tasks` output and ECS task state change events
//!   ([`events`]);
//! - `aws ec2 describe-network-interfaces` output ([`ec2`]);
//! - CloudTrail: a trail's files or S3 tree, and `lookup-events` output
//!   ([`cloudtrail`]);
//! - AWS Config `get-resource-config-history` output ([`config`]).
//!
//! JSON comes as one document, an array of documents, JSON Lines, or documents
//! concatenated with nothing between them, plain or gzip ([`json`] frames them); a
//! document may wrap others ([`document`] tells which source each is). Documents are
//! read one at a time and folded into one fact per task and per ENI as they come
//! ([`sink`]), so memory grows with the tasks and ENIs, not with the events. A
//! directory is read whole (a trail's `CloudTrail-Digest/` files are not records), its
//! files in parallel; so is an `s3://` prefix.
//!
//! Errors ([`MapError`]) name the file, the line or document, and what is wrong:
//! `map.csv:4: valid_from: "yesterday" is not a time (RFC 3339 or unix seconds)`.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::merge::Facts;
use crate::source::{path_text, InputError};

pub mod cloudtrail;
pub mod config;
pub mod csv;
pub mod document;
pub mod ec2;
pub mod error;
pub mod events;
pub mod json;
pub mod sink;
pub mod value;

pub use self::csv::{csv_rows, CsvError, CSV_HEADER};
pub use error::MapError;

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
    pub fn extend(&mut self, o: Loaded) {
        self.facts.extend(o.facts);
        self.warnings.extend(o.warnings);
        self.named_nothing.extend(o.named_nothing);
        add_skips(&mut self.skipped, o.skipped);
    }

    /// The skipped parts as warnings (`root` names where they are).
    fn say_skipped(&mut self, root: &str) {
        for (what, (n, first)) in std::mem::take(&mut self.skipped) {
            self.warnings
                .push(format!("{root}: {n} {what}, first at {first}"));
        }
    }
}

/// Reads one map file, or every file under a directory, of any kind into facts.
pub fn load_map_file(path: &str) -> Result<Loaded, MapError> {
    if path.starts_with("s3://") {
        return load_s3(path);
    }
    let meta = std::fs::metadata(path).map_err(MapError::read(path))?;
    if meta.is_dir() {
        return load_dir(Path::new(path));
    }
    let file = std::fs::File::open(path).map_err(MapError::read(path))?;
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
        let dir_name = path_text(&dir);
        let entries = std::fs::read_dir(&dir).map_err(MapError::read(&dir_name))?;
        for e in entries {
            let e = e.map_err(MapError::read(&dir_name))?;
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
        return Err(MapError::EmptyDirectory(path_text(root)));
    }
    load_all(&path_text(root), &files, |p| {
        let name = path_text(p);
        let file = std::fs::File::open(p).map_err(MapError::read(&name))?;
        read_map(&name, file)
    })
}

/// Every map object under an `s3://bucket/prefix` (a trail's bucket, an archive of
/// events), or the one object it names, read in parallel as `load_dir` reads a tree.
fn load_s3(url: &str) -> Result<Loaded, MapError> {
    let objects = match crate::source::discover_s3(url, None, None) {
        Ok(o) => o,
        Err(InputError::S3(e)) => return Err(MapError::S3(e)),
        Err(_) => return Err(MapError::NoObject(url.to_string())),
    };
    let objects: Vec<_> = objects
        .into_iter()
        .filter(|o| !o.key.split('/').any(|part| part == "CloudTrail-Digest"))
        .collect();
    if objects.is_empty() {
        return Err(MapError::NoObject(url.to_string()));
    }
    let client = crate::s3::client(&objects[0].bucket)?;
    load_all(url, &objects, |o| read_map(&o.url(), client.open(&o.key)))
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
    let mut head = [0u8; 2];
    let n = read_full(&mut input, &mut head).map_err(MapError::read(name))?;
    let rest = std::io::Cursor::new(head[..n].to_vec()).chain(input);
    if n == 2 && head == [0x1f, 0x8b] {
        let gz = flate2::read::MultiGzDecoder::new(rest);
        return read_plain(name, gz);
    }
    read_plain(name, rest)
}

/// Fills `buf` as far as the reader goes; how many bytes it read.
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

/// Reads plain content: JSON when its first character (past blanks and a byte order
/// mark) opens an object or array, else the canonical CSV.
fn read_plain(name: &str, mut input: impl Read) -> Result<Loaded, MapError> {
    let mut buf = vec![0u8; 64 << 10];
    let filled = read_full(&mut input, &mut buf).map_err(MapError::read(name))?;
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
    match first.map(|i| buf[i]) {
        None if filled == 0 => Err(MapError::Empty(name.to_string())),
        None => Err(MapError::Blank(name.to_string())),
        Some(b'{' | b'[') => json::read_json(name, buf, filled, bom, input),
        Some(_) => read_csv(name, buf, filled, bom, input),
    }
}

/// Reads the canonical CSV whose first `filled` bytes are in `buf`, past a byte order
/// mark of `bom` bytes.
fn read_csv(
    name: &str,
    mut buf: Vec<u8>,
    filled: usize,
    bom: usize,
    mut input: impl Read,
) -> Result<Loaded, MapError> {
    buf.truncate(filled);
    input.read_to_end(&mut buf).map_err(MapError::read(name))?;
    buf.drain(..bom);
    if buf.contains(&0) {
        return Err(MapError::Binary(name.to_string()));
    }
    let rows = csv_rows(name, &buf)?;
    Ok(Loaded {
        facts: rows.into(),
        ..Loaded::default()
    })
}
