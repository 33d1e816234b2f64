//! Helpers shared by integration tests: the vpcflow binary run with arguments (and
//! input, environment or folder), tests that cannot run here saying so, the demo data
//! read back independently of vpcflow (plain gunzip and split), and the map CSV as plain
//! rows.
//!
//! Each test file compiles its own copy of this module and uses part of it.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub mod s3;

pub struct Row {
    pub eni: String,
    pub ip: String,
    pub task: Option<String>,
    pub service: Option<String>,
    pub cluster: Option<String>,
    pub kind: String,
    pub from: i64,
    pub to: i64,
}

pub fn time(s: &str, default: i64) -> i64 {
    if s.is_empty() {
        default
    } else {
        chrono::DateTime::parse_from_rfc3339(s).unwrap().timestamp()
    }
}

pub fn map_rows(csv: &Path) -> Vec<Row> {
    let text = std::fs::read_to_string(csv).unwrap();
    text.lines()
        .skip(1)
        .map(|l| {
            let c: Vec<&str> = l.split(',').collect();
            let opt = |s: &str| (!s.is_empty()).then(|| s.to_string());
            Row {
                eni: c[0].into(),
                kind: c[1].into(),
                ip: c[2].into(),
                task: opt(c[3]),
                service: opt(c[5]),
                cluster: opt(c[4]),
                from: time(c[10], i64::MIN),
                to: time(c[11], i64::MAX),
            }
        })
        .collect()
}

/// Every record of the demo as (field name -> value) maps, in sorted file order.
/// Every `.gz` object under `dir`, decompressed, in sorted path order.
pub fn gz_files(dir: &Path) -> Vec<(PathBuf, String)> {
    fn walk(d: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out)
            } else {
                out.push(p)
            }
        }
    }
    let mut files = Vec::new();
    walk(dir, &mut files);
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let mut text = String::new();
            flate2::read::MultiGzDecoder::new(std::fs::File::open(&p).unwrap())
                .read_to_string(&mut text)
                .unwrap();
            (p, text)
        })
        .collect()
}

/// Every record under `dir` as (field name -> value) maps, in sorted file order.
pub fn records(dir: &Path) -> Vec<BTreeMap<String, String>> {
    let mut out = Vec::new();
    for (_, text) in gz_files(dir) {
        let mut header: Vec<String> = Vec::new();
        for line in text.lines() {
            if line.starts_with("version ") {
                header = line.split(' ').map(String::from).collect();
                continue;
            }
            out.push(
                header
                    .iter()
                    .cloned()
                    .zip(line.split(' ').map(String::from))
                    .collect(),
            );
        }
    }
    out
}

/// The JSON Lines a command printed on stdout, one value per line.
pub fn json_lines(o: &Output) -> Vec<serde_json::Value> {
    String::from_utf8(o.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The summary's `lines = records + rejected + headers + blank` figures, checked to
/// add up.
pub fn accounting(err: &str) -> [u64; 5] {
    let line = err
        .lines()
        .find(|l| l.contains(" lines = "))
        .expect("summary");
    let rest = line
        .split(" files, ")
        .nth(1)
        .or_else(|| line.split(" file, ").nth(1))
        .unwrap();
    let nums: Vec<u64> = rest
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .take(5)
        .map(|s| s.parse().unwrap())
        .collect();
    let a = [nums[0], nums[1], nums[2], nums[3], nums[4]];
    assert_eq!(
        a[0],
        a[1] + a[2] + a[3] + a[4],
        "accounting identity: {line}"
    );
    a
}

/// Runs `scripts/gen-flowlogs` with `args` (space-separated) into `d`: the logs in the
/// S3 layout under `d/logs`, the policy in `d/policy.toml` and the map sources a real
/// account keeps under `d/src` (`--sources-out`). False, with `test` said to be skipped,
/// without python3.
pub fn generate_sources(test: &str, d: &Path, args: &str) -> bool {
    if !python3() {
        skip(test, "python3 is needed to run scripts/gen-flowlogs");
        return false;
    }
    let o = Command::new("python3")
        .arg(root("scripts/gen-flowlogs"))
        .args(args.split_whitespace())
        .args(["--quiet", "--layout", "s3"])
        .arg("--out")
        .arg(d.join("logs"))
        .arg("--policy-out")
        .arg(d.join("policy.toml"))
        .arg("--sources-out")
        .arg(d.join("src"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    true
}

/// A path under the repository.
pub fn root(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(p)
}

// ---------------------------------------------------------------------------------------
// The vpcflow binary.

/// The vpcflow binary of this build.
pub const BIN: &str = env!("CARGO_BIN_EXE_vpcflow");

/// A command for the vpcflow binary, for a test that sets its standard streams itself
/// (a child read in part, stdout to a file); the runners below cover the rest.
pub fn command() -> Command {
    Command::new(BIN)
}

/// Runs vpcflow with `args` and waits for its output.
pub fn vpcflow<S: AsRef<OsStr>>(args: &[S]) -> Output {
    command().args(args).output().unwrap()
}

/// Runs vpcflow with `args` in the folder `dir`.
pub fn vpcflow_in<S: AsRef<OsStr>>(dir: &Path, args: &[S]) -> Output {
    command().current_dir(dir).args(args).output().unwrap()
}

/// Runs vpcflow with `args` and the environment variables `vars` set to their value
/// (`Some`) or removed (`None`).
pub fn vpcflow_env<S: AsRef<OsStr>>(args: &[S], vars: &[(&str, Option<&str>)]) -> Output {
    let mut cmd = command();
    cmd.args(args);
    for (name, value) in vars {
        match value {
            Some(v) => cmd.env(name, v),
            None => cmd.env_remove(name),
        };
    }
    cmd.output().unwrap()
}

/// Runs vpcflow with `args` and `input` on its standard input. The input is written
/// beside the reading of the output; a command that stops reading early (a refusal) is
/// not an error of the test.
pub fn vpcflow_stdin<S: AsRef<OsStr>>(args: &[S], input: &[u8]) -> Output {
    let mut child = command()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let writer = std::thread::spawn(move || match stdin.write_all(&input) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        r => r.unwrap(),
    });
    let o = child.wait_with_output().unwrap();
    writer.join().unwrap();
    o
}

/// What a run printed on stdout.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// What a run printed on stderr.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

// ---------------------------------------------------------------------------------------
// What a test needs from the machine.

/// Says that `test` is skipped, and why, in plain `cargo test` output: the line goes
/// straight to stderr, past the capture of the test harness (which hides what a passing
/// test prints).
pub fn skip(test: &str, why: &str) {
    let _ = writeln!(std::io::stderr(), "skipped: {test}: {why}");
}

/// Whether python3 runs here.
pub fn python3() -> bool {
    Command::new("python3").arg("--version").output().is_ok()
}

/// Whether python3 runs here and imports `modules` (as written after `import`).
pub fn python_imports(modules: &str) -> bool {
    Command::new("python3")
        .args(["-c", &format!("import {modules}")])
        .output()
        .is_ok_and(|o| o.status.success())
}
