//! Arbitrary bytes into every loader, on the stable toolchain (the fuzz targets in
//! `fuzz/` run the same checks for hours on nightly): never a panic, and for the
//! decoder, every line accounted for.

#[allow(dead_code)]
mod fuzz_checks;

use proptest::prelude::*;

/// Bytes that look like flow-log text often enough to get past the first checks:
/// pieces of records, header names, separators and garbage.
fn flow_text() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        Just(b"2 123456789010 eni-0a1 10.0.0.1 10.0.0.2 443 49152 6 10 840 1793491200 1793491260 ACCEPT OK".to_vec()),
        Just(b"version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status".to_vec()),
        Just(b"VERSION ${srcaddr} bytes start".to_vec()),
        Just(b"\xEF\xBB\xBF".to_vec()),
        Just(b"2001:db8::1 ::ffff:10.0.0.1 - NODATA SKIPDATA".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"   ".to_vec()),
        Just(b"\t".to_vec()),
        Just(b"18446744073709551616 9223372036854775807 1793491200000000".to_vec()),
        proptest::collection::vec(any::<u8>(), 0..40),
    ];
    proptest::collection::vec(piece, 0..30).prop_map(|v| v.join(&b' '))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn decoder_never_panics_and_counts_every_line(setup in any::<[u8; 4]>(), text in flow_text()) {
        fuzz_checks::check_decoder(setup, &text);
    }

    #[test]
    fn decoder_on_raw_bytes(setup in any::<[u8; 4]>(), text in proptest::collection::vec(any::<u8>(), 0..600)) {
        fuzz_checks::check_decoder(setup, &text);
    }

    #[test]
    fn header_parser_never_panics(text in flow_text()) {
        fuzz_checks::check_header(&text);
    }

    #[test]
    fn map_loaders_never_panic(data in map_text()) {
        fuzz_checks::check_map(&data);
    }

    #[test]
    fn policy_loader_never_panics(data in policy_text()) {
        fuzz_checks::check_policy(&data);
    }

    #[test]
    fn parquet_reader_never_panics(data in parquet_bytes()) {
        fuzz_checks::check_parquet(&data);
    }
}

/// A Parquet file of flow logs (three row groups, dictionary pages, a page index), with
/// up to four bytes changed, most often in its footer.
fn parquet_bytes() -> impl Strategy<Value = Vec<u8>> {
    static BASE: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    let base = BASE.get_or_init(|| {
        use arrow::array::{ArrayRef, Int32Array, Int64Array, RecordBatch, StringArray};
        use std::sync::Arc;
        let n = 9;
        let text = |v: Vec<&str>| Arc::new(StringArray::from(v)) as ArrayRef;
        let long = |v: i64| Arc::new(Int64Array::from(vec![v; n])) as ArrayRef;
        let batch = RecordBatch::try_from_iter([
            (
                "version",
                Arc::new(Int32Array::from(vec![2; n])) as ArrayRef,
            ),
            ("interface_id", text(["eni-1", "eni-2", "eni-3"].repeat(3))),
            ("srcaddr", text(["10.0.0.9", "2001:db8::1", "-"].repeat(3))),
            ("dstaddr", text(vec!["10.0.0.1"; n])),
            (
                "dstport",
                Arc::new(Int32Array::from(vec![443; n])) as ArrayRef,
            ),
            ("bytes", long(100)),
            ("start", long(1_790_000_000)),
            ("action", text(["ACCEPT", "REJECT", "ACCEPT"].repeat(3))),
        ])
        .unwrap();
        let props = parquet::file::properties::WriterProperties::builder()
            .set_max_row_group_row_count(Some(3))
            .build();
        let mut out = Vec::new();
        let mut w =
            parquet::arrow::ArrowWriter::try_new(&mut out, batch.schema(), Some(props)).unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
        out
    });
    let len = base.len();
    let footer = u32::from_le_bytes(base[len - 8..len - 4].try_into().unwrap()) as usize;
    let at = prop_oneof![3 => (len - 8 - footer)..(len - 8), 1 => 0..len];
    proptest::collection::vec((at, any::<u8>()), 0..4).prop_map(move |changes| {
        let mut b = base.clone();
        for (i, v) in changes {
            b[i] = v;
        }
        b
    })
}

/// Map files: the three kinds with pieces cut, swapped and replaced.
fn map_text() -> impl Strategy<Value = Vec<u8>> {
    let root = env!("CARGO_MANIFEST_DIR");
    let seeds: Vec<Vec<u8>> = [
        "testdata/demo/eni-map.csv",
        "testdata/demo/aws/describe-tasks.json",
        "testdata/demo/aws/describe-network-interfaces.json",
    ]
    .iter()
    .map(|p| std::fs::read(format!("{root}/{p}")).unwrap())
    .collect();
    mutated(seeds)
}

fn policy_text() -> impl Strategy<Value = Vec<u8>> {
    let root = env!("CARGO_MANIFEST_DIR");
    mutated(vec![std::fs::read(format!(
        "{root}/testdata/demo/policy.toml"
    ))
    .unwrap()])
}

/// One of `seeds`, truncated at some point and with a few bytes overwritten.
fn mutated(seeds: Vec<Vec<u8>>) -> impl Strategy<Value = Vec<u8>> {
    let n = seeds.len();
    (
        0..n,
        any::<prop::sample::Index>(),
        proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..8),
    )
        .prop_map(move |(i, cut, edits)| {
            let mut s = seeds[i].clone();
            s.truncate(cut.index(s.len() + 1).max(1));
            for (at, b) in edits {
                let k = at.index(s.len());
                s[k] = b;
            }
            s
        })
}
