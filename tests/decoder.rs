//! The push decoder on every kind of input: chunk invariance (every fixture through
//! buffer sizes {1, 2, 3, 7, 64, 4096} and batch sizes {1, 3, 8192}), header lines,
//! and every kind of bad line with its exact message and the line accounting.

use std::io::Read;
use std::sync::Arc;

use arrow::record_batch::RecordBatch;
use vpcflow::output::jsonl::JsonLinesWriter;
use vpcflow::output::BatchWriter;
use vpcflow::parse::{decode_slice, Decoder, DecoderOptions, LineCounts, Reject, RejectKind};
use vpcflow::Layout;

const BUFFER_SIZES: [usize; 6] = [1, 2, 3, 7, 64, 4096];
const BATCH_SIZES: [usize; 3] = [1, 3, 8192];

/// What one run of the decoder produced.
#[derive(Debug, PartialEq)]
struct Run {
    batches: Vec<RecordBatch>,
    counts: LineCounts,
    rejects: Vec<Reject>,
}

/// Feeds `input` to a decoder `chunk` bytes at a time, the way the scanner does: an
/// accumulating buffer whose consumed prefix is dropped after each call.
fn feed(input: &[u8], chunk: usize, options: DecoderOptions) -> Run {
    let mut decoder = Decoder::new(options);
    let mut batches = Vec::new();
    let mut rejects = Vec::new();
    let mut buf: Vec<u8> = Vec::new();
    let mut fed = 0;
    loop {
        let eof = fed == input.len();
        if !eof {
            let n = chunk.min(input.len() - fed);
            buf.extend_from_slice(&input[fed..fed + n]);
            fed += n;
        }
        loop {
            let used = if eof {
                decoder.finish(&buf)
            } else {
                decoder.decode(&buf)
            };
            buf.drain(..used);
            rejects.extend(decoder.take_rejects());
            if !decoder.ready() {
                break;
            }
            batches.extend(decoder.flush());
        }
        if eof {
            assert!(buf.is_empty(), "finish consumed everything");
            break;
        }
    }
    batches.extend(decoder.flush());
    Run {
        batches,
        counts: decoder.counts(),
        rejects,
    }
}

fn jsonl(batches: &[RecordBatch]) -> String {
    let mut out = Vec::new();
    let mut w = JsonLinesWriter::new(&mut out);
    for b in batches {
        w.write(b).unwrap();
    }
    w.finish().unwrap();
    String::from_utf8(out).unwrap()
}

fn options(batch_size: usize) -> DecoderOptions {
    DecoderOptions {
        batch_size,
        layout: None,
        projection: None,
        ..DecoderOptions::default()
    }
}

fn demo_text() -> Vec<u8> {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/demo/logs");
    let mut files = Vec::new();
    let mut stack = vec![std::path::PathBuf::from(root)];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                files.push(p);
            }
        }
    }
    files.sort();
    // Two objects concatenated: a mid-stream header line, like concatenated S3 objects.
    let mut text = Vec::new();
    for f in files.iter().take(2) {
        let mut gz = flate2::read::MultiGzDecoder::new(std::fs::File::open(f).unwrap());
        gz.read_to_end(&mut text).unwrap();
    }
    text
}

/// A fixture with everything awkward: header lines that switch layouts mid-stream,
/// blank lines, CRLF, runs of spaces, IPv6, NODATA, bad lines, no final newline.
const AWKWARD: &[u8] = b"\
version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status\r\n\
2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK\r\n\
\r\n\
2 123456789010 eni-1235b8ca123456789 - - - - - - - 1431280876 1431280934 - NODATA\n\
2  123456789010   eni-1235b8ca123456789 2001:db8:1234:a100:8d6e:3477:df66:f105 2001:db8:1234:a102:3304:8879:34cf:4071 34892 22 6 54 8855 1477913708 1477913820 ACCEPT OK  \n\
2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 70000 6 20 4249 1418530010 1418530070 ACCEPT OK\n\
   \n\
version srcaddr dstaddr srcport dstport protocol start end tcp-flags flow-direction log-status\n\
5 10.0.0.1 10.0.0.2 443 49152 6 1616729292 1616729349 18 egress OK\n\
5 10.0.0.2 10.0.0.1 49152 443 6 1616729292 1616729349 2 ingress OK\n\
5 10.0.0.2 10.0.0.1 49152 443 6 1616729292 1616729349 2 ingress\n\
version srcaddr dstaddr srcport dstport protocol start end tcp-flags flow-direction log-status\n\
5 10.0.0.3 10.0.0.1 49153 443 6 1616729292 1616729349 2 ingress OK\n\
version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status\n\
2 123456789010 eni-1 10.0.0.9 10.0.0.1 1 2 17 1 76 1418530010 1418530070 REJECT OK";

#[test]
fn awkward_fixture_parses_as_expected() {
    let d = decode_slice(AWKWARD, options(8192));
    assert_eq!(
        d.counts,
        LineCounts {
            lines: 15,
            records: 7,
            rejected: 2,
            headers: 4,
            blanks: 2,
        }
    );
    let at = |needle: &[u8]| {
        AWKWARD
            .windows(needle.len())
            .position(|w| w == needle)
            .unwrap() as u64
    };
    let rejects: Vec<(u64, u64, String)> = d
        .rejects
        .iter()
        .map(|r| (r.line, r.byte_offset, r.message()))
        .collect();
    assert_eq!(
        rejects,
        vec![
            (
                6,
                at(b"2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 70000"),
                "field dstport: \"70000\" is out of range (0 to 65535)".to_string(),
            ),
            (
                11,
                at(b"5 10.0.0.2 10.0.0.1 49152 443 6 1616729292 1616729349 2 ingress\n"),
                "expected 11 fields, found 10".to_string(),
            ),
        ]
    );
    assert!(matches!(
        d.rejects[1].kind,
        RejectKind::FieldCount {
            expected: 11,
            found: 10
        }
    ));
    // Three layout runs: v2, the 11-field one (a repeated identical header does not
    // split it), v2 again.
    let rows: Vec<usize> = d.batches.iter().map(|b| b.num_rows()).collect();
    assert_eq!(rows, [3, 3, 1]);
    let text = jsonl(&d.batches);
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 7);
    assert_eq!(lines[1]["srcaddr"], serde_json::Value::Null);
    assert_eq!(lines[1]["log_status"], "NODATA");
    assert_eq!(
        lines[2]["srcaddr"],
        "2001:db8:1234:a100:8d6e:3477:df66:f105"
    );
    assert_eq!(lines[2]["bytes"], 8855);
    assert_eq!(lines[3]["tcp_flags"], 18);
    assert_eq!(lines[3]["flow_direction"], "egress");
    assert!(lines[3].get("account_id").is_none());
    assert_eq!(lines[6]["action"], "REJECT");
    assert_eq!(lines[6]["protocol"], 17);
}

#[test]
fn counts_match_an_independent_count_of_the_demo() {
    let text = demo_text();
    let s = std::str::from_utf8(&text).unwrap();
    let headers = s.lines().filter(|l| l.starts_with("version ")).count() as u64;
    let lines = s.lines().count() as u64;
    let d = decode_slice(&text, options(8192));
    assert_eq!(d.counts.lines, lines);
    assert_eq!(d.counts.headers, headers);
    assert_eq!(d.counts.records, lines - headers);
    assert_eq!(d.counts.rejected, 0);
    let rows: usize = d.batches.iter().map(|b| b.num_rows()).sum();
    assert_eq!(rows as u64, d.counts.records);
}

#[test]
fn chunk_invariance() {
    let demo = demo_text();
    for fixture in [AWKWARD, &demo[..]] {
        let mut renders = Vec::new();
        for batch_size in BATCH_SIZES {
            let baseline = feed(fixture, fixture.len().max(1), options(batch_size));
            assert!(baseline.batches.iter().all(|b| b.num_rows() <= batch_size));
            for chunk in BUFFER_SIZES {
                // Byte-at-a-time over the whole demo is slow in debug builds; the
                // awkward fixture covers every boundary, the demo its first 20 kB.
                let input = if fixture.len() > 50_000 && chunk < 64 {
                    &fixture[..20_000]
                } else {
                    fixture
                };
                let run = feed(input, chunk, options(batch_size));
                let expected = if input.len() == fixture.len() {
                    &baseline
                } else {
                    &feed(input, input.len(), options(batch_size))
                };
                assert_eq!(&run, expected, "buffer {chunk}, batch {batch_size}");
            }
            renders.push((jsonl(&baseline.batches), baseline.counts, baseline.rejects));
        }
        assert!(
            renders.windows(2).all(|w| w[0] == w[1]),
            "same output for every batch size"
        );
    }
}

fn one(line: &[u8]) -> (LineCounts, Vec<String>) {
    let d = decode_slice(line, options(8192));
    let c = d.counts;
    assert_eq!(c.lines, c.records + c.rejected + c.headers + c.blanks);
    (c, d.rejects.into_iter().map(|r| r.message()).collect())
}

#[test]
fn bad_lines_are_rejected_whole_with_exact_messages() {
    let good = b"2 123456789010 eni-0a1 10.0.0.1 10.0.0.2 443 49152 6 10 840 1439387263 1439387264 ACCEPT OK";
    let (c, m) = one(good);
    assert_eq!((c.records, c.rejected), (1, 0));
    assert!(m.is_empty());

    let cases: &[(&[u8], &str)] = &[
        (b"2 123456789010 eni-0a1 10.0.0.1", "expected 14 fields, found 4"),
        (
            b"2 123456789010 eni-0a1 10.0.0.1 10.0.0.2 443 49152 6 10 840 1439387263 1439387264 ACCEPT OK extra",
            "expected 14 fields, found 15",
        ),
        (
            b"2 123456789010 eni-0a1 10.0.0.1 10.0.0.2 443 49152 6 ten 840 1439387263 1439387264 ACCEPT OK",
            "field packets: \"ten\" is not a number",
        ),
        (
            b"2 123456789010 eni-0a1 10.0.0.1 10.0.0.2 443 70000 6 10 840 1439387263 1439387264 ACCEPT OK",
            "field dstport: \"70000\" is out of range (0 to 65535)",
        ),
        (
            b"2 123456789010 eni-0a1 10.0.0.1 10.0.0.2 -1 49152 6 10 840 1439387263 1439387264 ACCEPT OK",
            "field srcport: \"-1\" is not a number",
        ),
        (
            b"2 123456789010 eni-0a1 10.0.0.1 10.0.0.2 443 49152 256 10 840 1439387263 1439387264 ACCEPT OK",
            "field protocol: \"256\" is out of range (0 to 255)",
        ),
        (
            b"2 123456789010 eni-0a1 10.0.0.300 10.0.0.2 443 49152 6 10 840 1439387263 1439387264 ACCEPT OK",
            "field srcaddr: \"10.0.0.300\" is not an IP address",
        ),
        (
            b"2 123456789010 eni-0a1 10.0.0.1 2001:db8::g 443 49152 6 10 840 1439387263 1439387264 ACCEPT OK",
            "field dstaddr: \"2001:db8::g\" is not an IP address",
        ),
        (
            b"2 123456789010 eni-0a1 10.0.0.1 10.0.0.2 443 49152 6 10 99999999999999999999 1439387263 1439387264 ACCEPT OK",
            "field bytes: \"99999999999999999999\" is out of range (0 to 9223372036854775807)",
        ),
        (
            b"2 12345\xff6789010 eni-0a1 10.0.0.1 10.0.0.2 443 49152 6 10 840 1439387263 1439387264 ACCEPT OK",
            "field account-id: invalid UTF-8 in \"12345\\xff6789010\"",
        ),
        (
            b"\x00\x01\x02\x7f\xfe junk \x1b[31m",
            "expected 14 fields, found 3",
        ),
        (
            b"\x00 \x01 \x02 \x03 \x04 \x05 \x06 \x07 \x08 \x09 \x0a\x0b \x0c \x0d \x0e",
            // The \x0a is a newline: two lines, each rejected; the first has a tab.
            "fields are separated by spaces; this line has tabs",
        ),
        (
            b"2\x00 123456789010 eni-0a1 10.0.0.1 10.0.0.2 443 49152 6 10 840 1439387263 1439387264 ACCEPT OK",
            "field version: \"2\\x00\" is not a number",
        ),
        (b"version srcaddr srcaddr", "invalid header line: field \"srcaddr\" is named twice"),
    ];
    for (line, message) in cases {
        let (c, m) = one(line);
        assert_eq!(c.records, 0, "{message}");
        assert!(c.rejected >= 1, "{message}");
        assert_eq!(m[0], *message);
    }
    // A rejected line leaves no partial row: the next good line is the only row.
    let mut two = b"2 123456789010 eni-0a1 10.0.0.1 10.0.0.2 443 70000 6 10 840 1439387263 1439387264 ACCEPT OK\n".to_vec();
    two.extend_from_slice(good);
    let d = decode_slice(&two, options(8192));
    assert_eq!(d.batches.len(), 1);
    assert_eq!(d.batches[0].num_rows(), 1);
    assert_eq!(d.counts.rejected, 1);
    assert_eq!(d.counts.records, 1);
}

#[test]
fn fields_layout_and_headers() {
    let layout = Arc::new(
        Layout::parse_spec(
            "${instance-id} ${interface-id} ${srcaddr} ${dstaddr} ${pkt-srcaddr} ${pkt-dstaddr}",
        )
        .unwrap(),
    );
    let input = b"- eni-1235b8ca123456789 10.0.1.5 10.0.0.220 10.0.1.5 203.0.113.5\n";
    let d = decode_slice(
        input,
        DecoderOptions {
            batch_size: 10,
            layout: Some(layout),
            projection: None,
            ..DecoderOptions::default()
        },
    );
    assert_eq!(d.counts.records, 1);
    let v: serde_json::Value = serde_json::from_str(jsonl(&d.batches).trim()).unwrap();
    assert_eq!(
        v,
        serde_json::json!({"instance_id": null, "interface_id": "eni-1235b8ca123456789",
            "srcaddr": "10.0.1.5", "dstaddr": "10.0.0.220", "pkt_srcaddr": "10.0.1.5",
            "pkt_dstaddr": "203.0.113.5"})
    );
    // A header line overrides --fields from where it appears; unknown names are strings.
    let input = b"version my-field\n3 hello\n";
    let d = decode_slice(
        input,
        DecoderOptions {
            batch_size: 10,
            layout: Some(Arc::new(Layout::default_v2())),
            projection: None,
            ..DecoderOptions::default()
        },
    );
    let v: serde_json::Value = serde_json::from_str(jsonl(&d.batches).trim()).unwrap();
    assert_eq!(v, serde_json::json!({"version": 3, "my_field": "hello"}));
}

#[test]
fn millisecond_timestamps_become_seconds() {
    let d = decode_slice(
        b"2 123456789010 eni-4b118871 - - - - - - - 1512564058000 1512564059000 - SKIPDATA",
        options(10),
    );
    let v: serde_json::Value = serde_json::from_str(jsonl(&d.batches).trim()).unwrap();
    assert_eq!(v["start"], 1512564058);
    assert_eq!(v["end"], 1512564059);
}

#[test]
fn projection_builds_only_the_needed_columns_and_still_validates_the_others() {
    let projection: vpcflow::batch::Projection = ["interface_id", "bytes", "start"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    // The first line's dstport is out of range: rejected although nobody asked for it.
    let text = b"2 123456789010 eni-0a1 10.0.0.1 10.0.0.2 443 70000 6 10 840 1439387263 1439387264 ACCEPT OK\n\
                 2 123456789010 eni-0a2 10.0.0.1 10.0.0.2 443 80 6 10 x 1439387263 1439387264 ACCEPT OK\n\
                 2 123456789010 eni-0a3 10.0.0.1\n\
                 2 123456789010 eni-0a4 10.0.0.1 10.0.0.2 443 80 6 10 840 1439387263 1439387264 ACCEPT OK\n";
    let d = decode_slice(
        text,
        DecoderOptions {
            batch_size: 10,
            layout: None,
            projection: Some(Arc::new(projection)),
            ..DecoderOptions::default()
        },
    );
    assert_eq!(d.counts.records, 1);
    assert_eq!(
        d.rejects.iter().map(|r| r.message()).collect::<Vec<_>>(),
        [
            "field dstport: \"70000\" is out of range (0 to 65535)",
            "field bytes: \"x\" is not a number",
            "expected 14 fields, found 4"
        ]
    );
    let v: serde_json::Value = serde_json::from_str(jsonl(&d.batches).trim()).unwrap();
    assert_eq!(
        v,
        serde_json::json!({"interface_id": "eni-0a4", "bytes": 840, "start": 1439387263})
    );
}
