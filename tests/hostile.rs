//! Hostile and careless input: each test is named after a way such input used to cost
//! the user a file, a crash, a hang or a wrong total, and checks that it no longer does.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;

use flate2::write::GzEncoder;
use flate2::Compression;
use serde_json::Value;
use vpcflow::format::Layout;
use vpcflow::parse::{decode_slice, DecoderOptions, BATCH_BYTES};

mod common;

const V2_HEADER: &str = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status";

/// A valid default-format record; `i` varies the source port.
fn v2(i: u32) -> String {
    format!(
        "2 123456789010 eni-0a1 10.0.0.1 10.1.0.1 {} 443 6 2 200 1793491200 1793491260 ACCEPT OK",
        30000 + i
    )
}

use common::{accounting, json_lines as jsonl, stderr, vpcflow, vpcflow_in, BIN};

/// `vpcflow query PATH --group-by KEY --format FORMAT`.
fn group_by(path: &Path, key: &str, format: &str) -> Output {
    vpcflow(&[
        "query",
        path.to_str().unwrap(),
        "--group-by",
        key,
        "--format",
        format,
    ])
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// Runs `f` on another thread and fails if it has not finished after `secs`: a guard
/// against hangs and blow-ups (quadratic time), far above what the linear code takes.
fn finishes_within<T: Send + 'static>(secs: u64, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(std::time::Duration::from_secs(secs))
        .expect("did not finish: a hang or a quadratic blow-up")
}

// The user's files.

#[test]
fn errors_file_that_is_an_input_is_refused_not_truncated() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("f.log");
    let text = format!("{}\n2 x\n", v2(1));
    fs::write(&log, &text).unwrap();
    // Found by walking the directory, and named with another spelling.
    let other = format!("{}/./f.log", dir.path().display());
    let o = vpcflow(&["cat", dir.path().to_str().unwrap(), "--errors", &other]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("is the input file"), "{}", stderr(&o));
    assert_eq!(fs::read_to_string(&log).unwrap(), text);
}

#[test]
fn convert_output_that_is_an_input_is_refused_whatever_its_spelling() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("f.log");
    fs::write(&log, format!("{}\n", v2(1))).unwrap();
    let o = vpcflow_in(dir.path(), &["convert", "f.log", "-o", "./f.log"]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(fs::read_to_string(&log).unwrap(), format!("{}\n", v2(1)));
}

#[test]
fn stdout_appending_to_an_input_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("f.log");
    fs::write(&log, format!("{}\n", v2(1))).unwrap();
    let out = OpenOptions::new().append(true).open(&log).unwrap();
    let o = common::command()
        .args(["cat", log.to_str().unwrap()])
        .stdout(Stdio::from(out))
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("standard output is the input file"));
    assert_eq!(fs::read_to_string(&log).unwrap(), format!("{}\n", v2(1)));
}

// Crashes, hangs and blow-ups.

/// A `.gz` of 8,300 lines with a 270,000-byte field panicked in Arrow's string builder
/// ("byte array offset overflow"): more than 2 GiB in one batch's string column.
/// Batches are now flushed by size as well as rows; here a tenth of the size shows the
/// split (the full-size file is `full_size_long_fields_do_not_overflow`, ignored).
#[test]
fn string_columns_are_flushed_by_bytes_before_arrow_offsets_overflow() {
    let field = "x".repeat(270_000);
    let lines = BATCH_BYTES / 270_000 + 50;
    let mut text = String::new();
    for i in 0..lines {
        text.push_str(&format!("2 {field} {i}\n"));
    }
    let d = decode_slice(
        text.as_bytes(),
        DecoderOptions {
            layout: Some(Arc::new(
                Layout::parse_spec("version my-long-field srcport").unwrap(),
            )),
            ..DecoderOptions::default()
        },
    );
    assert_eq!(d.counts.records, lines as u64);
    assert!(d.batches.len() >= 2, "{} batches", d.batches.len());
    for b in &d.batches {
        assert!(b.get_array_memory_size() < 2 * BATCH_BYTES);
    }
    let rows: usize = d.batches.iter().map(|b| b.num_rows()).sum();
    assert_eq!(rows, lines);
}

/// The issue's own reproduction, 2.2 GB of text: run with
/// `cargo test --release --test hostile -- --ignored`.
#[test]
#[ignore]
fn full_size_long_fields_do_not_overflow() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("long.log.gz");
    let field = "y".repeat(270_000);
    let mut e = GzEncoder::new(fs::File::create(&p).unwrap(), Compression::fast());
    writeln!(e, "version my-long-field srcport").unwrap();
    for i in 0..8300 {
        writeln!(e, "2 {field} {}", i % 65536).unwrap();
    }
    e.finish().unwrap();
    // `cat` builds every column (a query would project the long field away).
    let o = common::command()
        .args(["cat", p.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(accounting(&stderr(&o)), [8301, 8300, 0, 1, 0]);
}

#[test]
fn line_longer_than_the_limit_is_rejected_with_its_position() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("f.log");
    let long = format!("2 {} 1", "z".repeat(2 << 20));
    fs::write(
        &p,
        format!("version my-field srcport\n2 a 1\n{long}\n2 b 2\n"),
    )
    .unwrap();
    let errors = dir.path().join("errors.jsonl");
    let o = vpcflow(&[
        "cat",
        p.to_str().unwrap(),
        "--errors",
        errors.to_str().unwrap(),
    ]);
    assert!(o.status.success());
    assert_eq!(jsonl(&o).len(), 2);
    assert_eq!(accounting(&stderr(&o)), [4, 2, 1, 1, 0]);
    let e: Value = serde_json::from_str(fs::read_to_string(&errors).unwrap().trim()).unwrap();
    assert_eq!(e["line"], 3);
    assert_eq!(e["byte_offset"], 25 + 6);
    assert_eq!(
        e["error"],
        "the line is longer than 1048576 bytes (--max-line-bytes); skipped"
    );
    // A higher limit takes it.
    let o = vpcflow(&["cat", p.to_str().unwrap(), "--max-line-bytes", "4194304"]);
    assert_eq!(jsonl(&o).len(), 3);
    assert_eq!(jsonl(&o)[1]["my_field"].as_str().unwrap().len(), 2 << 20);
}

/// A line with no newline was searched for its end from its start again on every
/// read: 512 MB through a pipe took 234 s. 128 MiB in 32 KiB pieces, the way the read
/// loop feeds it, was 256 GB of searching; now 128 MiB.
#[test]
fn line_without_newline_is_searched_in_linear_time() {
    let line = finishes_within(120, || {
        let mut text = vec![b'a'; 128 << 20];
        text.push(b'\n');
        let mut decoder = vpcflow::Decoder::new(DecoderOptions {
            max_line_bytes: 256 << 20,
            ..DecoderOptions::default()
        });
        let (mut fed, mut pos) = (0, 0);
        while pos < text.len() {
            fed = (fed + (32 << 10)).min(text.len());
            pos += decoder.decode(&text[pos..fed]);
        }
        decoder.counts()
    });
    assert_eq!((line.lines, line.rejected), (1, 1));
}

/// The same through the binary on a pipe: the overlong line is dropped as it comes,
/// holding none of it (bounded memory).
#[test]
fn ten_megabyte_line_through_a_pipe_is_rejected_in_bounded_memory() {
    let o = finishes_within(120, || {
        let mut child = Command::new("sh")
            .args(["-c", &format!("ulimit -v 1000000; exec {BIN} cat -")])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        std::thread::spawn(move || {
            let piece = vec![b'q'; 1 << 16];
            for _ in 0..160 {
                stdin.write_all(&piece).unwrap();
            }
            stdin
                .write_all(format!("\n{}\n", v2(1)).as_bytes())
                .unwrap();
        });
        child.wait_with_output().unwrap()
    });
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(accounting(&stderr(&o)), [2, 1, 1, 0, 0]);
}

/// A header of 40,000 names took 28 s (a quadratic check for repeated names), again
/// for every repeated header.
#[test]
fn header_of_40000_names_is_read_in_linear_time() {
    let o = finishes_within(120, || {
        let names: Vec<String> = (0..40_000).map(|i| format!("f{i}")).collect();
        let header = format!("version {}", names.join(" "));
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("wide.log");
        let mut text = String::new();
        for _ in 0..20 {
            text.push_str(&header);
            text.push('\n');
        }
        fs::write(&p, text).unwrap();
        vpcflow(&["cat", p.to_str().unwrap()])
    });
    assert!(o.status.success());
    assert_eq!(accounting(&stderr(&o)), [20, 0, 0, 20, 0]);
}

#[cfg(unix)]
#[test]
fn symlink_loop_is_walked_once_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("logs");
    fs::create_dir(&d).unwrap();
    fs::write(d.join("a.log"), format!("{}\n{}\n", v2(1), v2(2))).unwrap();
    std::os::unix::fs::symlink(".", d.join("self")).unwrap();
    std::os::unix::fs::symlink("..", d.join("up")).unwrap();
    let o = finishes_within(60, move || vpcflow(&["cat", d.to_str().unwrap()]));
    assert!(o.status.success());
    assert_eq!(jsonl(&o).len(), 2);
    assert_eq!(accounting(&stderr(&o)), [2, 2, 0, 0, 0]);
    assert!(stderr(&o).contains("self skipped: it is the directory"));
    // `up` leads to the parent, whose only entry is the directory walked already.
    assert!(stderr(&o).contains("up/logs skipped: it is the directory"));
}

/// A map with 4,000 rows for one address took 7 s and 2.7 GB and printed two million
/// warning lines, even with `-q`.
#[test]
fn map_with_4000_rows_for_one_address_gives_one_warning() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("map.csv");
    let mut csv = String::from(
        "eni_id,kind,private_ip,task_arn,cluster,service,task_family,security_groups,subnet_id,vpc_id,valid_from,valid_to\n",
    );
    for i in 0..4000 {
        csv.push_str(&format!(
            "eni-{i},task,10.0.0.9,arn:t/{i},prod,api,api,,,,,\n"
        ));
    }
    fs::write(&p, csv).unwrap();
    let o = finishes_within(120, move || vpcflow(&["map", p.to_str().unwrap()]));
    assert!(o.status.success());
    let warnings: Vec<&str> = o
        .stderr
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| std::str::from_utf8(l).unwrap())
        .collect();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("10.0.0.9 is held by 4000 ENIs at overlapping times"));
    assert!(warnings[0].contains("in 3999 rows that overlap"));
    let dir2 = tempfile::tempdir().unwrap();
    let q = dir2.path().join("map.csv");
    fs::copy(dir.path().join("map.csv"), &q).unwrap();
    let o = vpcflow(&["map", "-q", q.to_str().unwrap()]);
    assert!(o.status.success());
    assert!(o.stderr.is_empty());
}

#[test]
fn threads_beyond_the_cap_are_capped_with_a_message() {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..300 {
        fs::write(
            dir.path().join(format!("{i:03}.log")),
            format!("{}\n", v2(i)),
        )
        .unwrap();
    }
    let d = dir.path().to_path_buf();
    let o = finishes_within(120, move || {
        vpcflow(&["cat", d.to_str().unwrap(), "--threads", "100000"])
    });
    assert!(o.status.success());
    assert!(stderr(&o).contains("--threads 100000 is more than the 256 allowed; using 256"));
    let ports: Vec<u64> = jsonl(&o)
        .iter()
        .map(|r| r["srcport"].as_u64().unwrap())
        .collect();
    assert_eq!(ports, (0..300).map(|i| 30000 + i).collect::<Vec<u64>>());
}

#[test]
fn audit_summary_says_how_much_state_it_held() {
    let root = env!("CARGO_MANIFEST_DIR");
    let o = vpcflow(&[
        "audit",
        &format!("{root}/testdata/demo/logs"),
        "--map",
        &format!("{root}/testdata/demo/eni-map.csv"),
        "--policy",
        &format!("{root}/testdata/demo/policy.toml"),
        "--format",
        "json",
    ]);
    let line = stderr(&o)
        .lines()
        .find(|l| l.starts_with("vpcflow: audit:"))
        .unwrap()
        .to_string();
    let held = line.split("state held: ").nth(1).expect("state held");
    let connections: u64 = held.split(' ').next().unwrap().parse().unwrap();
    let with_others: u64 = line
        .split(" connections judged")
        .next()
        .unwrap()
        .rsplit(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(connections, with_others);
    assert!(held.ends_with(" kB") || held.ends_with(" MB"), "{held}");
}

// Wrong numbers without a word.

#[test]
fn sums_saturate_and_say_so_instead_of_wrapping() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("big.log");
    let line = |bytes: &str| {
        format!("2 1 eni-1 10.0.0.1 10.0.0.2 1 2 6 1 {bytes} 1793491200 1793491201 ACCEPT OK\n")
    };
    fs::write(
        &p,
        line("9223372036854775807") + &line("9223372036854775807") + &line("100"),
    )
    .unwrap();
    let o = group_by(&p, "eni", "json");
    assert!(o.status.success());
    assert_eq!(jsonl(&o)[0]["bytes"].as_u64(), Some(u64::MAX));
    assert!(stderr(&o).contains("1 sum reached 18446744073709551615"));
}

/// A gzip stream cut short, whose last decompressed bytes end inside the last field
/// of a line: what arrived of that line parses, but is not the record.
fn cut_gzip(whole: &str, cut_after: &str) -> Vec<u8> {
    let (head, _) = whole.split_at(whole.find(cut_after).unwrap() + cut_after.len());
    let mut e = GzEncoder::new(Vec::new(), Compression::default());
    e.write_all(head.as_bytes()).unwrap();
    e.flush().unwrap();
    // The compressed bytes so far, without the rest of the stream and its trailer.
    e.get_ref().clone()
}

#[test]
fn truncated_gz_cut_inside_a_number_rejects_the_cut_line() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("cut.log.gz");
    let text =
        "version srcaddr dstaddr bytes\n2 10.0.0.1 10.0.0.2 123456\n2 10.0.0.1 10.0.0.3 987654\n";
    fs::write(&p, cut_gzip(text, "10.0.0.3 98")).unwrap();
    let o = group_by(&p, "dstaddr", "json");
    assert_eq!(o.status.code(), Some(0));
    let rows = jsonl(&o);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["bytes"], 123456);
    assert_eq!(accounting(&stderr(&o)), [3, 1, 1, 1, 0]);
    assert!(stderr(&o)
        .contains("cut.log.gz:3: the line is incomplete: reading stopped 22 bytes into it"));
    assert!(stderr(&o).contains("vpcflow: damaged input, read only in part:"));
    // --strict: a damaged file is an error.
    let o = vpcflow(&[
        "query",
        "--strict",
        p.to_str().unwrap(),
        "--group-by",
        "dstaddr",
    ]);
    assert_eq!(o.status.code(), Some(2));
}

/// A `.gz` corrupted in the middle emitted garbage decoded before the CRC check
/// failed. Two members here: the first is good, the second fails its check.
#[test]
fn corrupt_gz_member_records_are_dropped_not_trusted() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("two.log.gz");
    let mut data = gzip(format!("{V2_HEADER}\n{}\n{}\n", v2(1), v2(2)).as_bytes());
    let mut second = gzip(format!("{}\n{}\n{}\n", v2(3), v2(4), v2(5)).as_bytes());
    let crc = second.len() - 8;
    second[crc] ^= 0xff;
    data.extend(second);
    fs::write(&p, data).unwrap();
    let o = vpcflow(&["cat", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0));
    let ports: Vec<u64> = jsonl(&o)
        .iter()
        .map(|r| r["srcport"].as_u64().unwrap())
        .collect();
    assert_eq!(ports, [30001, 30002]);
    assert_eq!(accounting(&stderr(&o)), [3, 2, 0, 1, 0]);
    let e = stderr(&o);
    assert!(
        e.contains("the 3 lines (3 records) decoded from the damaged gzip member were dropped"),
        "{e}"
    );
    assert!(
        e.contains("3 lines (3 records) of damaged gzip members dropped"),
        "{e}"
    );
    assert!(
        e.contains("two.log.gz (corrupt after line 3; 3 lines dropped)"),
        "{e}"
    );
}

#[test]
fn header_after_a_byte_order_mark_or_in_upper_case_is_a_header() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("h.log");
    fs::write(
        &p,
        "\u{feff}version srcaddr bytes\n5 10.0.0.1 100\nVERSION SRCADDR PACKETS\n5 10.0.0.2 7\n",
    )
    .unwrap();
    let o = vpcflow(&["cat", p.to_str().unwrap()]);
    assert!(o.status.success());
    let rows = jsonl(&o);
    assert_eq!(rows[0]["bytes"], 100);
    assert_eq!(rows[1]["packets"], 7);
    assert_eq!(accounting(&stderr(&o)), [4, 2, 0, 2, 0]);
}

#[test]
fn header_with_one_invalid_name_stops_the_records_from_being_misread() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("h.log");
    // After the bad header, the records are of its (unknowable) layout, not v2.
    fs::write(
        &p,
        format!(
            "version srcaddr dstaddr bytes 9nine\n5 10.0.0.1 10.0.0.2 100 x\n{V2_HEADER}\n{}\n",
            v2(1)
        ),
    )
    .unwrap();
    let o = vpcflow(&["cat", p.to_str().unwrap()]);
    assert!(o.status.success());
    assert_eq!(jsonl(&o).len(), 1);
    assert_eq!(accounting(&stderr(&o)), [4, 1, 2, 1, 0]);
    let e = stderr(&o);
    assert!(
        e.contains("h.log:1: invalid header line: \"9nine\" is not a field name"),
        "{e}"
    );
    assert!(
        e.contains("h.log:2: not read: the header line before it is invalid"),
        "{e}"
    );
}

#[test]
fn record_whose_values_are_field_names_is_not_a_header() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("r.log");
    fs::write(&p, "prod start eni-1\nversion start eni-2\n").unwrap();
    let o = vpcflow(&[
        "cat",
        p.to_str().unwrap(),
        "--fields",
        "ecs-cluster-name ecs-service-name interface-id",
    ]);
    assert!(o.status.success());
    let rows = jsonl(&o);
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[1]["ecs_cluster_name"], "version");
    assert_eq!(rows[1]["ecs_service_name"], "start");
    assert_eq!(accounting(&stderr(&o)), [2, 2, 0, 0, 0]);
}

#[test]
fn since_in_milliseconds_and_microsecond_starts_are_read_as_seconds() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("t.log");
    fs::write(
        &p,
        "version srcaddr start\n5 10.0.0.1 1793491200\n5 10.0.0.2 1793491300000000\n5 10.0.0.3 1793491000000\n",
    )
    .unwrap();
    let o = vpcflow(&["cat", p.to_str().unwrap(), "--since", "1793491200000"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let starts: Vec<i64> = jsonl(&o)
        .iter()
        .map(|r| r["start"].as_i64().unwrap())
        .collect();
    assert_eq!(starts, [1793491200, 1793491300]);
    let o = vpcflow(&["cat", p.to_str().unwrap(), "--since", "58803"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("between the years 2000 and 2200"));
    fs::write(&p, "version srcaddr start\n5 10.0.0.1 90000000000\n").unwrap();
    let o = vpcflow(&["cat", p.to_str().unwrap()]);
    assert!(stderr(&o)
        .contains("t.log:2: field start: \"90000000000\" is not a unix time before the year 2200"));
}

// Smaller.

#[test]
fn control_characters_in_interface_ids_are_escaped_in_tables_and_messages() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("esc.log");
    fs::write(
        &p,
        "2 1 eni-\x1b[2J\x1b]0;pwned\x07 10.0.0.1 10.0.0.2 1 2 6 1 1 1793491200 1793491201 ACCEPT OK\n",
    )
    .unwrap();
    let o = group_by(&p, "eni", "table");
    assert!(o.status.success());
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(!out.contains('\x1b') && !out.contains('\x07'));
    assert!(out.contains("eni-\\u{1b}[2J\\u{1b}]0;pwned\\u{7}"), "{out}");
    // A path with an escape sequence in a message.
    let bad = dir.path().join("bad\x1b[31m.log");
    fs::write(&bad, "2 x\n").unwrap();
    let o = vpcflow(&["cat", bad.to_str().unwrap()]);
    assert!(!stderr(&o).contains('\x1b'));
    assert!(stderr(&o).contains("bad\\u{1b}[31m.log:1:"));
}

#[test]
fn no_input_on_a_terminal_is_a_usage_error_not_a_wait() {
    // `script` gives the command a terminal on stdin.
    if Command::new("script").arg("--version").output().is_err() {
        common::skip(
            "no_input_on_a_terminal_is_a_usage_error_not_a_wait",
            "no `script` command to make a terminal",
        );
        return;
    }
    let o = finishes_within(60, || {
        Command::new("script")
            .args(["-qec", &format!("{BIN} cat"), "/dev/null"])
            .stdin(Stdio::null())
            .output()
            .unwrap()
    });
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stdout).contains("no INPUT given"));
}

#[test]
fn tab_separated_line_says_it_has_tabs() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("tabs.log");
    fs::write(&p, v2(1).replace(' ', "\t") + "\n").unwrap();
    let o = vpcflow(&["cat", p.to_str().unwrap()]);
    assert!(stderr(&o).contains("tabs.log:1: fields are separated by spaces; this line has tabs"));
}

#[cfg(target_os = "linux")]
#[test]
fn write_error_names_its_target() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("f.log");
    fs::write(&p, format!("{}\n", v2(1)).repeat(20_000)).unwrap();
    let full = fs::File::create("/dev/full").unwrap();
    let o = common::command()
        .args(["cat", p.to_str().unwrap()])
        .stdout(Stdio::from(full))
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("vpcflow: error: cannot write stdout: No space left on device"));
}

#[test]
fn strict_with_a_missing_input_prints_its_error_once() {
    let o = vpcflow(&["cat", "--strict", "/nonexistent/x.log"]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        stderr(&o).matches("/nonexistent/x.log").count(),
        1,
        "{}",
        stderr(&o)
    );
}

#[test]
fn release_profile_has_no_debug_line_tables() {
    let toml = include_str!("../Cargo.toml");
    let release = toml
        .split("[profile.release]")
        .nth(1)
        .unwrap()
        .split("\n[")
        .next()
        .unwrap();
    assert!(!release.contains("debug"), "{release}");
    assert!(toml.contains("[profile.profiling]"));
}

// Limits, at small sizes: each finishes in linear time with bounded memory.

#[test]
fn limits_ten_thousand_files() {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..10_000 {
        fs::write(
            dir.path().join(format!("{i:05}.log")),
            format!("{}\n", v2(i % 1000)),
        )
        .unwrap();
    }
    let d = dir.path().to_path_buf();
    let o = finishes_within(300, move || {
        Command::new("sh")
            .args([
                "-c",
                &format!(
                    "ulimit -v 2000000; exec {BIN} query {} --group-by eni --format json",
                    d.display()
                ),
            ])
            .output()
            .unwrap()
    });
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(jsonl(&o)[0]["records"], 10_000);
}

#[cfg(unix)]
#[test]
fn limits_thousand_link_symlink_tree() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("t");
    fs::create_dir(&d).unwrap();
    fs::write(d.join("a.log"), format!("{}\n", v2(1))).unwrap();
    for i in 0..1000 {
        let target = if i % 2 == 0 { "." } else { ".." };
        std::os::unix::fs::symlink(target, d.join(format!("l{i}"))).unwrap();
    }
    let o = finishes_within(120, move || vpcflow(&["cat", "-q", d.to_str().unwrap()]));
    assert!(o.status.success());
    assert_eq!(jsonl(&o).len(), 1);
}

#[test]
fn limits_ten_thousand_name_header_on_every_line_of_its_layout() {
    let names: Vec<String> = (0..10_000)
        .map(|i| {
            if i == 0 {
                "version".into()
            } else {
                format!("g{i}")
            }
        })
        .collect();
    let header = names.join(" ");
    let record: Vec<&str> = (0..10_000)
        .map(|i| if i == 0 { "5" } else { "v" })
        .collect();
    let mut text = format!("{header}\n");
    for _ in 0..50 {
        text.push_str(&record.join(" "));
        text.push('\n');
    }
    let d = finishes_within(120, move || {
        decode_slice(text.as_bytes(), DecoderOptions::default())
    });
    assert_eq!((d.counts.headers, d.counts.records), (1, 50));
}

#[test]
fn write_through_a_path_in_a_missing_directory_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("f.log");
    fs::write(&p, format!("{}\n", v2(1))).unwrap();
    let out = dir.path().join("no/such/dir/out.parquet");
    let o = vpcflow(&["convert", p.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("out.parquet"), "{}", stderr(&o));
    assert!(!Path::new(&out).exists());
}

/// A file name holding a newline printed as it is forged a line of the messages; two
/// names that differ only in bytes that are not UTF-8 printed the same. Both are now
/// escaped, in messages and in `--errors`.
#[test]
fn file_names_with_newlines_or_bytes_not_utf8_are_escaped_and_distinct() {
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    let bad = "version srcaddr\n2 nonsense\n";
    let forged = dir.path().join("x\nvpcflow: 0 findings.log");
    fs::write(&forged, bad).unwrap();
    for b in [0xffu8, 0xfe] {
        let mut name = b"a".to_vec();
        name.push(b);
        name.extend(b".log");
        fs::write(dir.path().join(std::ffi::OsStr::from_bytes(&name)), bad).unwrap();
    }
    let errors = dir.path().join("errors.jsonl");
    let o = vpcflow(&[
        "cat",
        dir.path().to_str().unwrap(),
        "--errors",
        errors.to_str().unwrap(),
    ]);
    let e = stderr(&o);
    assert!(
        !e.lines().any(|l| l.starts_with("vpcflow: 0 findings")),
        "a forged line: {e}"
    );
    assert!(e.contains(r"x\u{a}vpcflow: 0 findings.log:2: "), "{e}");
    assert!(e.contains(r"a\xff.log:2: "), "{e}");
    assert!(e.contains(r"a\xfe.log:2: "), "{e}");
    let files: Vec<String> = fs::read_to_string(&errors)
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["file"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let names: Vec<&str> = files
        .iter()
        .map(|f| f.rsplit('/').next().unwrap())
        .collect();
    assert_eq!(
        names,
        [r"a\xfe.log", r"a\xff.log", r"x\u{a}vpcflow: 0 findings.log"]
    );
}

/// Cuts its file short at the first batch, as a log rotation that truncates a file
/// being read would.
struct Truncating {
    path: std::path::PathBuf,
    at: u64,
    records: usize,
    rejects: Vec<String>,
    errors: Vec<String>,
}

impl vpcflow::scan::ScanSink for Truncating {
    fn batch(
        &mut self,
        _: &vpcflow::source::Source,
        batch: arrow::record_batch::RecordBatch,
    ) -> Result<(), vpcflow::Error> {
        if self.records == 0 {
            OpenOptions::new()
                .write(true)
                .open(&self.path)
                .unwrap()
                .set_len(self.at)
                .unwrap();
        }
        self.records += batch.num_rows();
        Ok(())
    }
    fn reject(
        &mut self,
        _: &vpcflow::source::Source,
        r: &vpcflow::error::Reject,
    ) -> Result<(), vpcflow::Error> {
        self.rejects.push(r.message());
        Ok(())
    }
    fn file_error(
        &mut self,
        _: &vpcflow::source::Source,
        e: vpcflow::error::FileError,
    ) -> Result<(), vpcflow::Error> {
        self.errors.push(e.to_string());
        Ok(())
    }
}

/// A file truncated while it was read ended the read quietly, its torn last line taken
/// for a record; the read now breaks off saying the file changed, and the torn line is
/// rejected as incomplete.
#[test]
fn file_truncated_while_read_says_it_changed() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("rotating.log");
    let text: String = (0..40_000).map(|i| v2(i) + "\n").collect();
    fs::write(&p, &text).unwrap();
    let line = v2(0).len() as u64 + 1;
    // Cut inside line 10,001, after the first digits of its byte count.
    let at = 10_000 * line + line - 12;
    let unit = vpcflow::scan::Unit {
        source: vpcflow::source::Source::File(p.clone()),
        source_index: 0,
        range: None,
        footer: None,
        layout: None,
    };
    let options = vpcflow::scan::ScanOptions {
        batch_size: 100,
        ..Default::default()
    };
    let mut sink = Truncating {
        path: p.clone(),
        at,
        records: 0,
        rejects: Vec::new(),
        errors: Vec::new(),
    };
    let r = vpcflow::scan::scan_unit(&unit, &options, &mut sink).unwrap();
    assert_eq!(sink.errors.len(), 1, "{:?}", sink.errors);
    assert!(
        sink.errors[0].contains(&format!(
            "the file changed while read: it held {} bytes when opened, and ended after {at}",
            text.len()
        )),
        "{}",
        sink.errors[0]
    );
    assert_eq!(sink.records, 10_000);
    assert_eq!(sink.rejects.len(), 1);
    assert!(
        sink.rejects[0].starts_with("the line is incomplete"),
        "{:?}",
        sink.rejects
    );
    assert_eq!(r.stats.counts.lines, 10_001);
}
