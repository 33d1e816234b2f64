//! An audit that could not read part of its input never claims a clean result: it may
//! report what it found (exit 1), but without findings it exits 2 saying what was lost,
//! unless `--allow-damaged` accepts the loss (and the summary names it).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;

mod common;
use common::{root, stderr, vpcflow};

/// The `.gz` files under `dir`, sorted.
fn gz_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(gz_under(&p));
        } else if p.extension().is_some_and(|x| x == "gz") {
            out.push(p);
        }
    }
    out.sort();
    out
}

/// A copy of a demo's logs in which one `.gz` fails its checksum (every line of it is
/// dropped), beside the good ones; the damaged file's path.
fn logs_with_a_bad_checksum(demo: &str, to: &Path) -> PathBuf {
    let from = root(demo).join("logs");
    let files = gz_under(&from);
    for f in &files {
        let dest = to.join(f.strip_prefix(&from).unwrap());
        fs::create_dir_all(dest.parent().unwrap()).unwrap();
        fs::copy(f, &dest).unwrap();
    }
    let bad = to.join(files[0].strip_prefix(&from).unwrap());
    let mut data = fs::read(&bad).unwrap();
    let crc = data.len() - 8;
    data[crc] ^= 0xff;
    fs::write(&bad, data).unwrap();
    bad
}

fn audit(demo: &str, logs: &Path, extra: &[&str]) -> Output {
    let d = root(demo);
    let mut args = vec![
        "audit".to_string(),
        logs.to_str().unwrap().to_string(),
        "--map".into(),
        d.join("eni-map.csv").to_str().unwrap().into(),
        "--policy".into(),
        d.join("policy.toml").to_str().unwrap().into(),
        "--format".into(),
        "json".into(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    vpcflow(&args)
}

#[test]
fn audit_of_a_directory_with_a_corrupt_gz_is_not_clean() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    // The same demo read whole is clean: exit 0.
    let whole = audit(
        "testdata/demo-clean",
        &root("testdata/demo-clean/logs"),
        &[],
    );
    assert_eq!(whole.status.code(), Some(0), "{}", stderr(&whole));
    let bad = logs_with_a_bad_checksum("testdata/demo-clean", &logs);
    let name = bad.file_name().unwrap().to_str().unwrap();

    let o = audit("testdata/demo-clean", &logs, &[]);
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{e}");
    assert!(o.stdout.is_empty(), "no findings: {e}");
    assert!(
        e.contains("the audit found nothing in what it read, but part of its input was lost"),
        "{e}"
    );
    assert!(e.contains(name), "names the damaged file: {e}");
    assert!(e.contains("--allow-damaged"), "{e}");

    // --allow-damaged accepts the loss, and says so.
    let o = audit("testdata/demo-clean", &logs, &["--allow-damaged"]);
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{e}");
    assert!(e.contains("--allow-damaged: accepted the loss of"), "{e}");
    assert!(e.contains(name), "{e}");
}

#[test]
fn audit_with_findings_and_a_corrupt_gz_exits_1_and_names_the_loss() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    let bad = logs_with_a_bad_checksum("testdata/demo", &logs);
    let o = audit("testdata/demo", &logs, &[]);
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{e}");
    assert!(!o.stdout.is_empty());
    assert!(e.contains("damaged input, read only in part"), "{e}");
    assert!(
        e.contains(bad.file_name().unwrap().to_str().unwrap()),
        "{e}"
    );
}

#[test]
fn report_of_a_directory_with_a_corrupt_gz_is_not_clean() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    logs_with_a_bad_checksum("testdata/demo-clean", &logs);
    let d = root("testdata/demo-clean");
    let page = dir.path().join("report.html");
    let o = vpcflow(&[
        "report",
        logs.to_str().unwrap(),
        "--map",
        d.join("eni-map.csv").to_str().unwrap(),
        "--policy",
        d.join("policy.toml").to_str().unwrap(),
        "-o",
        page.to_str().unwrap(),
    ]);
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{e}");
    let html = fs::read_to_string(&page).unwrap();
    assert!(
        html.contains("This is not a clean result"),
        "the page says so"
    );
    assert!(html.contains("part of its input was lost"));
}
