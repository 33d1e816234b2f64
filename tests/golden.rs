//! Output of `cat`, `query`, `audit` and `convert` is byte-identical to what the
//! reference build produced, on the demo and on the generated corpus in
//! `testdata/corpus/` (three layouts, IPv6, header switches, and a file of hostile
//! lines). The SHA-256 of every output is committed in `testdata/corpus/golden.txt`;
//! a change in any output fails here with the command that changed.
//!
//! After a deliberate change of output, rewrite the file with
//! `VPCFLOW_BLESS=1 cargo test --test golden` and say why in the commit.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::{root, vpcflow_in};
use sha2::{Digest, Sha256};

const GOLDEN: &str = "testdata/corpus/golden.txt";

/// Each case: a name and the arguments. `{out}` is replaced by a file path whose
/// content is hashed too (the Parquet file of `convert`, the `--errors` file).
const CASES: &[(&str, &str)] = &[
    ("cat-hostile-jsonl", "cat testdata/corpus/hostile.log --format jsonl --errors {out}"),
    ("cat-hostile-csv", "cat testdata/corpus/hostile.log --format csv"),
    ("cat-v2-csv", "cat testdata/corpus/v2-noheader.log.gz --format csv"),
    ("cat-v5-map", "cat testdata/corpus/v5.log.gz --format jsonl --map testdata/corpus/v5.map.csv"),
    ("cat-v7-switch", "cat testdata/corpus/v7-switch.log.gz --format jsonl --threads 1"),
    ("cat-demo", "cat testdata/demo/logs --format jsonl --map testdata/demo/eni-map.csv"),
    (
        "cat-demo-window",
        "cat testdata/demo/logs --format csv --since 2026-11-01T00:10:00Z --until 2026-11-01T00:40:00Z",
    ),
    (
        "query-eni",
        "query testdata/corpus/v2-noheader.log.gz testdata/corpus/v5.log.gz testdata/corpus/v7-switch.log.gz testdata/corpus/hostile.log --group-by eni --format json",
    ),
    (
        "query-addr-stats",
        "query testdata/corpus/v5.log.gz testdata/corpus/hostile.log --group-by srcaddr,dstport,protocol --stats --format csv",
    ),
    (
        "query-window-minute",
        "query testdata/corpus/v7-switch.log.gz --since 2026-11-01T00:05:00Z --until 2026-11-01T00:35:00Z --group-by minute,action --format json",
    ),
    (
        "query-demo-service",
        "query testdata/demo/logs --map testdata/demo/eni-map.csv --group-by service,peer_kind --format csv",
    ),
    (
        "audit-v2",
        "audit testdata/corpus/v2-noheader.log.gz --map testdata/corpus/v2.map.csv --policy testdata/corpus/v2.policy.toml --format json",
    ),
    (
        "audit-v5",
        "audit testdata/corpus/v5.log.gz --map testdata/corpus/v5.map.csv --policy testdata/corpus/v5.policy.toml --format csv",
    ),
    (
        "audit-v7",
        "audit testdata/corpus/v7-switch.log.gz --map testdata/corpus/v7.map.csv --policy testdata/corpus/v7.policy.toml --format json",
    ),
    (
        "audit-demo",
        "audit testdata/demo/logs --map testdata/demo/eni-map.csv --policy testdata/demo/policy.toml --format json",
    ),
    ("convert-v5", "convert testdata/corpus/v5.log.gz -o {out}"),
    ("convert-v7", "convert testdata/corpus/v7-switch.log.gz -o {out}"),
    ("convert-hostile", "convert testdata/corpus/hostile.log -o {out}"),
    ("convert-demo", "convert testdata/demo/logs -o {out}"),
];

fn sha(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Runs one case: the hash of stdout, the exit code, and the hash of `{out}` if used.
fn run(args: &str, dir: &Path) -> String {
    let out = dir.join("out");
    let _ = std::fs::remove_file(&out);
    let argv: Vec<String> = args
        .split(' ')
        .map(|a| a.replace("{out}", out.to_str().unwrap()))
        .chain(["-q".to_string()])
        .collect();
    let o = vpcflow_in(&root(""), &argv);
    let mut line = format!(
        "exit={} stdout={}",
        o.status.code().unwrap_or(-1),
        sha(&o.stdout)
    );
    if args.contains("{out}") {
        let file = std::fs::read(&out).unwrap_or_else(|e| panic!("{args}: no {out:?}: {e}"));
        line += &format!(" file={}", sha(&file));
    }
    line
}

fn golden() -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(root(GOLDEN)).unwrap_or_default();
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| l.split_once(' '))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn outputs_are_byte_identical_to_the_reference() {
    let dir = tempfile::tempdir().unwrap();
    let got: BTreeMap<String, String> = CASES
        .iter()
        .map(|(name, args)| (name.to_string(), run(args, dir.path())))
        .collect();
    if std::env::var_os("VPCFLOW_BLESS").is_some() {
        let mut text = String::from(
            "# SHA-256 of each output of tests/golden.rs (exit code, stdout, written file).\n",
        );
        for (k, v) in &got {
            text += &format!("{k} {v}\n");
        }
        std::fs::write(root(GOLDEN), text).unwrap();
        return;
    }
    let want = golden();
    let mut changed = Vec::new();
    for (name, args) in CASES {
        match want.get(*name) {
            Some(w) if *w == got[*name] => {}
            Some(w) => changed.push(format!(
                "{name}: vpcflow {args}\n  want {w}\n  got  {}",
                got[*name]
            )),
            None => changed.push(format!("{name}: no committed hash (bless it)")),
        }
    }
    assert!(
        changed.is_empty(),
        "outputs changed:\n{}",
        changed.join("\n")
    );
}
