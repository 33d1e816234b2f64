//! The baseline for reading gzip flow logs: inflate every `.gz` file under the given
//! paths with the same zlib-rs backend vpcflow uses, on all cores (one file per task),
//! and do nothing else with the text. `scripts/bench.sh` times it beside `vpcflow`.
//!
//! `cargo run --release --example inflate -- DIR_OR_FILE...` prints the bytes of text.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use rayon::prelude::*;

fn walk(path: &Path, out: &mut Vec<PathBuf>) {
    if path.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .map(|e| e.expect("directory entry").path())
            .collect();
        entries.sort();
        for e in entries {
            walk(&e, out);
        }
    } else if path.extension().is_some_and(|x| x == "gz") {
        out.push(path.to_path_buf());
    }
}

fn main() {
    let mut files = Vec::new();
    for arg in std::env::args().skip(1) {
        walk(Path::new(&arg), &mut files);
    }
    let total = AtomicU64::new(0);
    files.par_iter().for_each(|path| {
        let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let mut gz =
            flate2::read::MultiGzDecoder::new(std::io::BufReader::with_capacity(256 << 10, file));
        let mut buf = vec![0u8; 1 << 20];
        loop {
            match gz.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    total.fetch_add(n as u64, Ordering::Relaxed);
                }
                Err(e) => panic!("{}: {e}", path.display()),
            }
        }
    });
    println!("{}", total.load(Ordering::Relaxed));
}
