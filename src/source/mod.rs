//! Finding and opening inputs: files, `.gz` files, directory trees in the AWS S3
//! layouts, objects under an `s3://bucket/prefix`, and stdin.
//!
//! A directory is walked recursively (hidden entries skipped) and every file found is
//! an input; all files are then processed in sorted path order, then the objects of
//! each `s3://` location in the same order (a downloaded copy of the prefix is read
//! in the same order, and gives the same answers), stdin where it was named. What an input holds (text, gzip, Parquet) is told from its content by
//! [`crate::input::sniff`], not from its name; multi-member gzip (concatenated objects)
//! is read whole ([`Members`]).
//!
//! The S3 layouts put the delivery time in the path, which lets `--since`/`--until`
//! skip whole files unread:
//! `AWSLogs/<acct>/vpcflowlogs/<region>/YYYY/MM/DD/[HH/]<acct>_vpcflowlogs_<region>_<flow-log-id>_YYYYMMDDTHHmmZ_<hash>.log.gz`
//! the Hive-style `.../year=YYYY/month=MM/day=DD/hour=HH/...`, and Amazon Security Lake's
//! `aws/VPC_FLOW/<1.0|2.0>/region=<region>/accountId=<acct>/eventDay=YYYYMMDD/...`. Under a
//! window, an `s3://` prefix is listed one folder at a time ([`discover_s3`]), and the date
//! folders that the same spans put outside the window are never listed.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use chrono::{NaiveDate, NaiveDateTime, TimeZone, Utc};
use flate2::bufread::GzDecoder;

use crate::s3::{S3Error, S3Url};

mod inflate;
pub use inflate::Inflating;

/// A path as messages print it: control characters (a newline in a file name would
/// forge a line of the messages) and characters that reorder text escaped as `\u{..}`,
/// bytes that are not UTF-8 as `\xNN`, and a backslash doubled, so that two different
/// paths never print the same.
pub fn path_text(path: &Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    let mut out = String::new();
    for chunk in path.as_os_str().as_bytes().utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                c if c.is_control() || crate::text::reorders_text(c) => {
                    out.extend(c.escape_unicode())
                }
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

/// One input to read.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Source {
    /// A file: the path as given, or as found by the directory walk.
    File(PathBuf),
    /// An object of an `s3://` location, found by listing it.
    S3(S3Object),
    /// Standard input (`-`).
    Stdin,
}

/// An S3 object to read: where it is, and its size when listed.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct S3Object {
    pub bucket: String,
    pub key: String,
    pub size: u64,
}

impl S3Object {
    /// `s3://bucket/key`, as messages print it (see [`path_text`]).
    pub fn url(&self) -> String {
        path_text(Path::new(&format!("s3://{}/{}", self.bucket, self.key)))
    }
}

impl Source {
    /// The name used in messages: the path (see [`path_text`]), or `-` for stdin.
    pub fn display(&self) -> String {
        match self {
            Source::File(p) => path_text(p),
            Source::S3(o) => o.url(),
            Source::Stdin => "-".to_string(),
        }
    }

    /// The size on disk, when known.
    pub fn size(&self) -> Option<u64> {
        match self {
            Source::File(p) => std::fs::metadata(p).ok().map(|m| m.len()),
            Source::S3(o) => Some(o.size),
            Source::Stdin => None,
        }
    }

    /// Opens the input for reading, counted and buffered, as it is: what it holds
    /// (text, gzip, Parquet) is sniffed by [`crate::input`] from the buffer's first
    /// bytes. `raw_bytes` counts the bytes read from the file, object or stdin itself.
    /// An object is downloaded as it is read.
    pub fn open(&self, raw_bytes: Arc<AtomicU64>) -> io::Result<RawReader> {
        let raw: Box<dyn Read + Send> = match self {
            Source::File(p) => Box::new(Whole::new(File::open(p)?)?),
            Source::S3(o) => Box::new(
                crate::s3::client(&o.bucket)
                    .map_err(io::Error::other)?
                    .open(&o.key),
            ),
            Source::Stdin => Box::new(io::stdin()),
        };
        Ok(BufReader::with_capacity(
            256 * 1024,
            Counting {
                inner: raw,
                count: raw_bytes,
            },
        ))
    }
}

/// An opened input.
pub enum Opened {
    /// Text as it is read.
    Plain(Box<dyn Read + Send>),
    /// Gzip, member by member.
    Gzip(Box<Members<RawReader>>),
    /// Gzip inflated on a thread of its own.
    Inflating(Box<Inflating>),
}

/// A source as opened (see [`Source::open`]): the file or stdin, counted and buffered;
/// what a gzip stream is inflated from.
pub type RawReader = BufReader<Counting<Box<dyn Read + Send>>>;

impl Read for Opened {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Opened::Plain(r) => r.read(buf),
            Opened::Gzip(r) => r.read(buf),
            Opened::Inflating(r) => r.read(buf),
        }
    }
}

impl Opened {
    /// Whether the input is gzip (whose text is checked member by member).
    pub fn is_gzip(&self) -> bool {
        matches!(self, Opened::Gzip(_) | Opened::Inflating(_))
    }

    /// Moves the inflating of a gzip input to a thread of its own (see
    /// [`Inflating`]); other inputs are returned as they are.
    pub fn on_own_thread(self) -> io::Result<Opened> {
        match self {
            Opened::Gzip(m) => Ok(Opened::Inflating(Box::new(Inflating::start(*m)?))),
            other => Ok(other),
        }
    }

    /// After a read returned 0: moves on to the next gzip member and returns true, or
    /// returns false at the end of the input. Every byte read before a member's end
    /// passed that member's check (CRC and length).
    pub fn next_member(&mut self) -> io::Result<bool> {
        match self {
            Opened::Plain(_) => Ok(false),
            Opened::Gzip(m) => m.next_member(),
            Opened::Inflating(m) => m.next_member(),
        }
    }
}

/// A gzip stream of one or more members (concatenated objects), read one member at a
/// time: a read returns 0 at the end of each member, after its CRC and length were
/// checked, and [`Members::next_member`] starts the next one. The caller knows which
/// text a failed check makes untrustworthy.
pub struct Members<R: BufRead> {
    /// Always `Some` between calls.
    decoder: Option<GzDecoder<R>>,
}

impl<R: BufRead> Members<R> {
    pub fn new(reader: R) -> Members<R> {
        Members {
            decoder: Some(GzDecoder::new(reader)),
        }
    }

    /// Starts the next member; false at the end of the stream.
    pub fn next_member(&mut self) -> io::Result<bool> {
        let decoder = self.decoder.as_mut().expect("a member");
        if decoder.get_mut().fill_buf()?.is_empty() {
            return Ok(false);
        }
        let reader = self.decoder.take().expect("a member").into_inner();
        self.decoder = Some(GzDecoder::new(reader));
        Ok(true)
    }
}

impl<R: BufRead> Read for Members<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.decoder.as_mut().expect("a member").read(buf)
    }
}

/// Opens bytes `start..end` of a plain file (a newline-aligned chunk).
pub fn open_range(
    path: &Path,
    start: u64,
    end: u64,
    raw_bytes: Arc<AtomicU64>,
) -> io::Result<Box<dyn Read + Send>> {
    use std::io::{Seek, SeekFrom};
    let mut f = File::open(path)?;
    f.seek(SeekFrom::Start(start))?;
    Ok(Box::new(Counting {
        inner: Whole {
            inner: f.take(end - start),
            expected: end - start,
            read: 0,
        },
        count: raw_bytes,
    }))
}

/// A file read to the length it had when opened: an end reached sooner means the file
/// was cut (rewritten, rotated) while it was read, which is said as an error rather
/// than taken as a short file whose torn last line would pass for a record.
struct Whole<R> {
    inner: R,
    expected: u64,
    read: u64,
}

impl Whole<File> {
    fn new(file: File) -> io::Result<Whole<File>> {
        // Pipes and special files have no length to hold them to.
        let m = file.metadata()?;
        let expected = if m.is_file() { m.len() } else { 0 };
        Ok(Whole {
            inner: file,
            expected,
            read: 0,
        })
    }
}

impl<R: Read> Read for Whole<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        if n == 0 && !buf.is_empty() && self.read < self.expected {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "the file changed while read: it held {} bytes when opened, and ended \
                     after {}",
                    self.expected, self.read
                ),
            ));
        }
        Ok(n)
    }
}

/// Counts bytes as they are read.
pub struct Counting<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// What makes a file itself, whatever path names it: device and inode on Unix, the
/// canonical path elsewhere.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FileId(#[cfg(unix)] (u64, u64), #[cfg(not(unix))] PathBuf);

impl FileId {
    /// The identity of the file at `path` (symbolic links followed), if it exists.
    pub fn of(path: &Path) -> Option<FileId> {
        FileId::of_metadata(path, &std::fs::metadata(path).ok()?)
    }

    #[cfg(unix)]
    fn of_metadata(_path: &Path, m: &std::fs::Metadata) -> Option<FileId> {
        use std::os::unix::fs::MetadataExt;
        Some(FileId((m.dev(), m.ino())))
    }

    #[cfg(not(unix))]
    fn of_metadata(path: &Path, _m: &std::fs::Metadata) -> Option<FileId> {
        std::fs::canonicalize(path).ok().map(FileId)
    }

    /// The identity of the regular file that standard output writes to, if it is one
    /// (`vpcflow cat f.log >> f.log`).
    pub fn of_stdout() -> Option<FileId> {
        #[cfg(unix)]
        {
            use std::os::fd::AsFd;
            let fd = io::stdout().as_fd().try_clone_to_owned().ok()?;
            let m = File::from(fd).metadata().ok()?;
            m.is_file()
                .then(|| FileId::of_metadata(Path::new(""), &m))
                .flatten()
        }
        #[cfg(not(unix))]
        None
    }
}

/// The input that is the same file as `output` (by identity, not by spelling), if any.
pub fn input_named_by<'a>(sources: &'a [Source], output: &FileId) -> Option<&'a Source> {
    sources
        .iter()
        .find(|s| matches!(s, Source::File(p) if FileId::of(p).as_ref() == Some(output)))
}

/// An input argument that could not be used at all.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// A path that does not exist or cannot be listed.
    #[error("{path}: {error}")]
    Path { path: String, error: io::Error },
    /// An `s3://` location that cannot be listed (its error names it).
    #[error(transparent)]
    S3(#[from] S3Error),
    /// An `s3://` location under which nothing is stored.
    #[error("{0}: no object there")]
    NoObject(String),
}

/// Expands the `INPUT` arguments into sources in sorted path order. Arguments that do
/// not exist or cannot be listed are returned as errors; the others are still used.
pub fn discover(inputs: &[String]) -> (Vec<Source>, Vec<InputError>) {
    let d = discover_all(inputs, None, None);
    (d.sources, d.errors)
}

/// What [`discover_all`] found.
#[derive(Debug, Default)]
pub struct Discovery {
    pub sources: Vec<Source>,
    /// Arguments or entries that could not be used at all.
    pub errors: Vec<InputError>,
    /// Directories reached again through a symbolic link (a loop such as `ln -s .
    /// self`, or a second way into the same tree), skipped so that no file is read
    /// twice: `(the path, the path it was first reached by)`.
    pub repeated_dirs: Vec<(PathBuf, PathBuf)>,
}

/// [`discover`], also telling which directories were skipped as already visited.
/// Directories are told apart by device and inode, so a walk through symbolic links
/// ends and reads each directory once. `s3://` locations are listed as
/// [`discover_s3`] says, pruned to the window `[since, until)`.
pub fn discover_all(inputs: &[String], since: Option<i64>, until: Option<i64>) -> Discovery {
    let mut files = Vec::new();
    let mut d = Discovery::default();
    let mut visited = HashMap::new();
    let mut stdin = false;
    let mut objects = Vec::new();
    for input in inputs {
        if input == "-" {
            stdin = true;
            continue;
        }
        if S3Url::is_s3(input) {
            match discover_s3(input, since, until) {
                Ok(found) => objects.extend(found.into_iter().map(Source::S3)),
                Err(e) => d.errors.push(e),
            }
            continue;
        }
        let path = PathBuf::from(input);
        match std::fs::metadata(&path) {
            Ok(m) if m.is_dir() => walk(&path, &mut files, &mut d, &mut visited),
            Ok(_) => files.push(path),
            Err(error) => d.errors.push(InputError::Path {
                path: input.clone(),
                error,
            }),
        }
    }
    files.sort();
    d.sources = files.into_iter().map(Source::File).collect();
    d.sources.extend(objects);
    if stdin {
        d.sources.push(Source::Stdin);
    }
    d
}

fn walk(
    dir: &Path,
    files: &mut Vec<PathBuf>,
    d: &mut Discovery,
    visited: &mut HashMap<FileId, PathBuf>,
) {
    if let Some(id) = FileId::of(dir) {
        if let Some(first) = visited.get(&id) {
            d.repeated_dirs.push((dir.to_path_buf(), first.clone()));
            return;
        }
        visited.insert(id, dir.to_path_buf());
    }
    let failed = |d: &mut Discovery, path: &Path, error| {
        d.errors.push(InputError::Path {
            path: path_text(path),
            error,
        })
    };
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(error) => return failed(d, dir, error),
    };
    // Sorted, so that which of two ways into a directory counts as the first is the
    // same on every run.
    let mut entries: Vec<_> = entries.collect();
    entries.sort_by_key(|e| e.as_ref().ok().map(|e| e.file_name()));
    for entry in entries {
        let entry = match entry {
            Ok(e) => e,
            Err(error) => {
                failed(d, dir, error);
                continue;
            }
        };
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let path = entry.path();
        // Follow symbolic links, as `ls` and `cat` users expect.
        match std::fs::metadata(&path) {
            Ok(m) if m.is_dir() => walk(&path, files, d, visited),
            Ok(m) if m.is_file() => files.push(path),
            Ok(_) => {}
            Err(error) => failed(d, &path, error),
        }
    }
}

/// Records can start this long before the time in their object's path (aggregation
/// interval plus delivery delay); files are skipped only with this much margin.
pub const PATH_TIME_SLACK: i64 = 3600;

/// The span of time `[from, to)` (unix seconds) that an S3-layout path covers, from its
/// most precise part: the `YYYYMMDDTHHmmZ` in an AWS object name, else its folders (see
/// [`folder_time_span`]). `None` when the path says nothing about time.
pub fn path_time_span(path: &Path) -> Option<(i64, i64)> {
    if let Some(name) = path.file_name().and_then(|n| n.to_str()) {
        for part in name.split('_') {
            if let Ok(t) = NaiveDateTime::parse_from_str(part, "%Y%m%dT%H%MZ") {
                let t = Utc.from_utc_datetime(&t).timestamp();
                return Some((t - 3600, t + 60));
            }
        }
    }
    let parts: Vec<&str> = path
        .parent()?
        .components()
        .filter_map(|c| c.as_os_str().to_str())
        .collect();
    folder_time_span(&parts)
}

/// The span of time `[from, to)` (unix seconds) that the folders `parts` of an S3
/// layout name: `.../YYYY/MM/DD[/HH]`, Hive's `.../year=YYYY/month=MM/day=DD[/hour=HH]`,
/// Security Lake's `.../eventDay=YYYYMMDD`; a year or a month alone where the layout is
/// sure (Hive's keys, or the year right under `vpcflowlogs/<region>/`), as a listing
/// meets them on its way down. `None` when the folders say nothing about time.
pub fn folder_time_span(parts: &[&str]) -> Option<(i64, i64)> {
    let value = |p: &str, key: &str| -> Option<u32> {
        let v = p.strip_prefix(key).unwrap_or(p);
        (v.len() <= 4 && !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
            .then(|| v.parse().ok())
            .flatten()
    };
    let at = |y: u32, m: u32, d: u32| -> Option<i64> {
        let date = NaiveDate::from_ymd_opt(y as i32, m, d)?;
        Some(
            Utc.from_utc_datetime(&date.and_hms_opt(0, 0, 0)?)
                .timestamp(),
        )
    };
    for (i, p) in parts.iter().enumerate() {
        if let Some(day) = p.strip_prefix("eventDay=") {
            // Exactly eight digits: chrono reads `2026111` as 2026-11-1.
            if day.len() != 8 || !day.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let date = NaiveDate::parse_from_str(day, "%Y%m%d").ok()?;
            let day = Utc
                .from_utc_datetime(&date.and_hms_opt(0, 0, 0)?)
                .timestamp();
            return Some((day, day + 86_400));
        }
        let Some(y) = value(p, "year=") else {
            continue;
        };
        if p.len() < 4 || y < 2000 {
            continue;
        }
        let (m, d) = (
            parts.get(i + 1).and_then(|p| value(p, "month=")),
            parts.get(i + 2).and_then(|p| value(p, "day=")),
        );
        let sure = p.starts_with("year=") || (i >= 2 && parts[i - 2] == "vpcflowlogs");
        match (m, d) {
            (Some(m), Some(d)) => {
                let day = at(y, m, d)?;
                if let Some(h) = parts.get(i + 3).and_then(|p| value(p, "hour=")) {
                    if h < 24 {
                        let t = day + h as i64 * 3600;
                        return Some((t, t + 3600));
                    }
                }
                return Some((day, day + 86_400));
            }
            (Some(m), None) if sure && parts.len() == i + 2 => {
                let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
                return Some((at(y, m, 1)?, at(ny, nm, 1)?));
            }
            (None, _) if sure && parts.len() == i + 1 => {
                return Some((at(y, 1, 1)?, at(y + 1, 1, 1)?));
            }
            _ => {}
        }
    }
    None
}

/// Whether a span of time that a path names (with [`PATH_TIME_SLACK`] around it) lies
/// wholly outside `[since, until)`.
fn span_outside(span: Option<(i64, i64)>, since: Option<i64>, until: Option<i64>) -> bool {
    let Some((from, to)) = span else {
        return false;
    };
    let (from, to) = (from - PATH_TIME_SLACK, to + PATH_TIME_SLACK);
    since.is_some_and(|s| to <= s) || until.is_some_and(|u| from >= u)
}

/// Whether a file's path proves that none of its records can start in `[since, until)`.
pub fn outside_window(path: &Path, since: Option<i64>, until: Option<i64>) -> bool {
    span_outside(path_time_span(path), since, until)
}

/// Whether a folder (`a/b/2026/11/`) proves that none of the records of the files under
/// it can start in `[since, until)`.
pub fn folder_outside_window(folder: &str, since: Option<i64>, until: Option<i64>) -> bool {
    let parts: Vec<&str> = folder.split('/').filter(|p| !p.is_empty()).collect();
    span_outside(folder_time_span(&parts), since, until)
}

/// The objects of an `s3://bucket/prefix` location: the one object it names, else every
/// object under the folder `prefix/`, in the order of a downloaded copy's paths, hidden
/// ones (a part of the key after the prefix starting with `.`) and folder markers left
/// out. Under a window (`since`, `until`), the folders are listed one level at a time
/// and those whose dates are outside (see [`folder_outside_window`]) are not listed at
/// all; objects whose own key proves them outside are left to the planner, which skips
/// and counts them as it does files.
pub fn discover_s3(
    url: &str,
    since: Option<i64>,
    until: Option<i64>,
) -> Result<Vec<S3Object>, InputError> {
    let loc = S3Url::parse(url)?;
    let client = crate::s3::client(&loc.bucket)?;
    let object = |(key, size): (String, u64)| S3Object {
        bucket: loc.bucket.clone(),
        key,
        size,
    };
    if !loc.key.is_empty() && !loc.key.ends_with('/') {
        if let Some(size) = client.size_of(&loc.key)? {
            return Ok(vec![object((loc.key.clone(), size))]);
        }
    }
    let mut found = Vec::new();
    let listed_any = if since.is_some() || until.is_some() {
        walk_s3(&client, &loc.key, since, until, &mut found)?
    } else {
        found = client.list(&loc.key)?;
        !found.is_empty()
    };
    if !listed_any {
        return Err(InputError::NoObject(url.to_string()));
    }
    let folder = match loc.key.trim_end_matches('/') {
        "" => String::new(),
        k => format!("{k}/"),
    };
    found.retain(|(key, _)| {
        !key.ends_with('/')
            && !key
                .strip_prefix(&folder)
                .unwrap_or(key)
                .split('/')
                .any(|part| part.starts_with('.'))
    });
    // A downloaded tree's files sort by their paths' parts (`a/x` before `a-b/x`).
    found.sort_by(|a, b| Path::new(&a.0).cmp(Path::new(&b.0)));
    Ok(found.into_iter().map(object).collect())
}

/// Lists the folder `prefix` one level at a time into `found`, except the folders
/// outside `[since, until)`; whether anything at all was there.
fn walk_s3(
    client: &crate::s3::Client,
    prefix: &str,
    since: Option<i64>,
    until: Option<i64>,
    found: &mut Vec<(String, u64)>,
) -> Result<bool, S3Error> {
    let level = client.list_level(prefix)?;
    let any = !level.folders.is_empty() || !level.objects.is_empty();
    found.extend(level.objects);
    for folder in level.folders {
        if !folder_outside_window(&folder, since, until) {
            walk_s3(client, &folder, since, until, found)?;
        }
    }
    Ok(any)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> i64 {
        chrono::DateTime::parse_from_rfc3339(s).unwrap().timestamp()
    }

    #[test]
    fn spans_from_s3_paths() {
        let p = Path::new(
            "x/AWSLogs/123456789012/vpcflowlogs/us-east-1/2026/11/01/\
             123456789012_vpcflowlogs_us-east-1_fl-1234abcd_20261101T0105Z_fe123456.log.gz",
        );
        assert_eq!(
            path_time_span(p),
            Some((ts("2026-11-01T00:05:00Z"), ts("2026-11-01T01:06:00Z")))
        );
        let p = Path::new("AWSLogs/1/vpcflowlogs/us-east-1/2026/11/01/07/a.log.gz");
        assert_eq!(
            path_time_span(p),
            Some((ts("2026-11-01T07:00:00Z"), ts("2026-11-01T08:00:00Z")))
        );
        let p = Path::new("AWSLogs/1/vpcflowlogs/us-east-1/2026/11/01/a.log.gz");
        assert_eq!(
            path_time_span(p),
            Some((ts("2026-11-01T00:00:00Z"), ts("2026-11-02T00:00:00Z")))
        );
        let p = Path::new(
            "AWSLogs/aws-account-id=1/aws-service=vpcflowlogs/aws-region=us-east-1/\
             year=2026/month=11/day=01/hour=07/a.log.gz",
        );
        assert_eq!(
            path_time_span(p),
            Some((ts("2026-11-01T07:00:00Z"), ts("2026-11-01T08:00:00Z")))
        );
        let p = Path::new(
            "lake/aws/VPC_FLOW/2.0/region=us-east-1/accountId=123456789012/eventDay=20261101/\
             f.gz.parquet",
        );
        assert_eq!(
            path_time_span(p),
            Some((ts("2026-11-01T00:00:00Z"), ts("2026-11-02T00:00:00Z")))
        );
        assert_eq!(
            path_time_span(Path::new("aws/VPC_FLOW/2.0/eventDay=2026111/f.parquet")),
            None
        );
        assert_eq!(path_time_span(Path::new("logs/flows.log")), None);
        assert_eq!(path_time_span(Path::new("1/2/3/flows.log")), None);
    }

    /// `eventDay=2026111` (seven digits) bounded a file to 2026-11-01 and could skip it
    /// under a window; it proves nothing.
    #[test]
    fn event_day_of_seven_digits_was_read_as_a_date() {
        let parts = ["aws", "VPC_FLOW", "2.0", "eventDay=2026111"];
        assert_eq!(folder_time_span(&parts), None);
        let parts = ["aws", "VPC_FLOW", "2.0", "eventDay=+2026111"];
        assert_eq!(folder_time_span(&parts), None);
    }

    #[test]
    fn spans_of_folders_as_a_listing_meets_them() {
        let span = |f: &str| {
            let parts: Vec<&str> = f.split('/').filter(|p| !p.is_empty()).collect();
            folder_time_span(&parts)
        };
        let under = "AWSLogs/1/vpcflowlogs/us-east-1/";
        assert_eq!(
            span(&format!("{under}2026/")),
            Some((ts("2026-01-01T00:00:00Z"), ts("2027-01-01T00:00:00Z")))
        );
        assert_eq!(
            span(&format!("{under}2026/12/")),
            Some((ts("2026-12-01T00:00:00Z"), ts("2027-01-01T00:00:00Z")))
        );
        assert_eq!(
            span(&format!("{under}2026/02/28/")),
            Some((ts("2026-02-28T00:00:00Z"), ts("2026-03-01T00:00:00Z")))
        );
        // A year or a month alone only where the layout is sure.
        assert_eq!(span("backups/2026/"), None);
        assert_eq!(span("backups/2026/11/"), None);
        assert_eq!(
            span("x/year=2026/month=02/"),
            Some((ts("2026-02-01T00:00:00Z"), ts("2026-03-01T00:00:00Z")))
        );
        assert_eq!(
            span("aws/VPC_FLOW/2.0/region=us-east-1/accountId=1/eventDay=20261101/"),
            Some((ts("2026-11-01T00:00:00Z"), ts("2026-11-02T00:00:00Z")))
        );
        assert_eq!(span("x/eventDay=2026110/"), None);
        assert_eq!(span(&format!("{under}2026/13/")), None);
        let nov = ts("2026-11-01T00:00:00Z");
        assert!(folder_outside_window(
            &format!("{under}2025/"),
            Some(nov),
            None
        ));
        // October ends an hour's slack before November starts.
        assert!(!folder_outside_window(
            &format!("{under}2026/10/"),
            Some(nov + 3599),
            None
        ));
        assert!(folder_outside_window(
            &format!("{under}2026/10/"),
            Some(nov + 3600),
            None
        ));
        assert!(!folder_outside_window("logs/", Some(i64::MAX), None));
    }

    #[test]
    fn window_skips_only_with_margin() {
        let p = Path::new("AWSLogs/1/vpcflowlogs/r/2026/11/01/07/a.log.gz");
        let h7 = ts("2026-11-01T07:00:00Z");
        assert!(!outside_window(p, Some(h7), None));
        assert!(!outside_window(p, Some(h7 + 7200 - 1), None));
        assert!(outside_window(p, Some(h7 + 7200), None));
        assert!(!outside_window(p, None, Some(h7 - 3600 + 1)));
        assert!(outside_window(p, None, Some(h7 - 3600)));
        assert!(!outside_window(Path::new("a.log"), Some(i64::MAX), None));
    }
}
