// The checks shared by the fuzz targets (`fuzz/`, nightly, `cargo fuzz`) and the
// stable property tests (`tests/arbitrary_input.rs`): any input gives a result or an
// error, never a panic, and every line is accounted for. Included by both with
// `include!`, so it names everything by its full path.

/// The push decoder on arbitrary bytes, against the reference decoder. `setup` picks
/// a layout (the default, or known fields in some order), a projection, a batch size,
/// a line limit, a time window, the block classifier and the size of the pieces the
/// input is fed in, the way a read loop feeds it (the unconsumed tail again at the
/// start of the next piece). Asserts that the fast decoder gives exactly the reference
/// decoder's batches, counts and rejected lines (with the window applied to the
/// reference's batches afterwards), that lines read = records + rejected + headers +
/// blanks = the lines of the input, and that every byte is used.
pub fn check_decoder(setup: [u8; 4], text: &[u8]) {
    use std::sync::Arc;
    use vpcflow::format::{Layout, KNOWN_FIELDS};
    use vpcflow::parse::classify::{available, Classifier};
    use vpcflow::parse::{Decoder, DecoderOptions, ReferenceDecoder};

    let layout = (setup[0] & 1 == 1)
        .then(|| {
            let n = 1 + (setup[0] >> 1) as usize % 12;
            let names: Vec<&str> = (0..n)
                .map(|i| KNOWN_FIELDS[(setup[1] as usize * 7 + i * 13) % KNOWN_FIELDS.len()].name)
                .collect();
            Layout::new(names).ok().map(Arc::new)
        })
        .flatten();
    let projection = (setup[0] & 0x80 != 0).then(|| {
        Arc::new(
            ["srcaddr", "bytes", "start", "interface_id"]
                .iter()
                .map(|s| s.to_string())
                .collect(),
        )
    });
    // Inside the window: the start times of the seeds of `flow_text` and of
    // `tests/decoder_oracle.rs`, and some of them out.
    let window = (setup[1] & 0x40 != 0).then_some((1_793_491_200, 1_793_491_230));
    let classifiers = available();
    let classifier: Classifier = classifiers[setup[2] as usize % classifiers.len()];
    let options = DecoderOptions {
        batch_size: 1 + setup[2] as usize % 9,
        layout,
        projection,
        max_line_bytes: 16 + setup[3] as usize * 4,
        window,
    };
    let mut decoder = Decoder::new(options.clone()).with_classifier(classifier);
    let mut reference = ReferenceDecoder::new(options);
    // Small pieces, or the whole input at once (long runs of lines in one slice).
    let piece = if setup[1] & 0x20 != 0 {
        usize::MAX
    } else {
        1 + setup[3] as usize % 97
    };
    let (fast, pos) = feed(text, piece, &mut decoder);
    let (slow, slow_pos) = feed(text, piece, &mut reference);
    assert_eq!(pos, slow_pos);
    let rejects = decoder.take_rejects();
    for r in &rejects {
        assert!(!r.message().is_empty());
    }
    assert_eq!(rejects, reference.take_rejects(), "rejected lines differ");
    let c = decoder.counts();
    assert_eq!(c, reference.counts(), "counts differ");
    let slow = match window {
        None => slow,
        Some((lo, hi)) => slow
            .iter()
            .map(|b| vpcflow::scan::window(b, Some(lo), Some(hi)))
            .collect(),
    };
    let rows: u64 = fast.iter().map(|b| b.num_rows() as u64).sum();
    assert_eq!(runs(&fast), runs(&slow), "batches differ");
    let outside = decoder.take_outside();
    assert_eq!(rows + outside, c.records);
    if window.is_none() {
        assert_eq!(outside, 0);
        assert_eq!(fast.len(), slow.len(), "batch boundaries differ");
    }
    assert_eq!(pos, text.len());
    assert_eq!(c.lines, c.records + c.rejected + c.headers + c.blanks);
    let newlines = text.iter().filter(|&&b| b == b'\n').count() as u64;
    let unterminated = u64::from(text.last().is_some_and(|&b| b != b'\n'));
    assert_eq!(c.lines, newlines + unterminated);
    assert_eq!(decoder.offset(), text.len() as u64);
    assert_eq!(decoder.offset(), reference.offset());
}

/// A push decoder: the fast one or the reference.
pub trait Push {
    fn push(&mut self, buf: &[u8], eof: bool) -> usize;
    fn ready(&self) -> bool;
    fn flush(&mut self) -> Option<arrow::record_batch::RecordBatch>;
}

macro_rules! push_impl {
    ($t:ty) => {
        impl Push for $t {
            fn push(&mut self, buf: &[u8], eof: bool) -> usize {
                if eof {
                    self.finish(buf)
                } else {
                    self.decode(buf)
                }
            }
            fn ready(&self) -> bool {
                <$t>::ready(self)
            }
            fn flush(&mut self) -> Option<arrow::record_batch::RecordBatch> {
                <$t>::flush(self)
            }
        }
    };
}
push_impl!(vpcflow::parse::Decoder);
push_impl!(vpcflow::parse::ReferenceDecoder);

/// Feeds `text` to `decoder` in pieces of `piece` bytes, the unconsumed tail again at
/// the start of the next piece, flushing whenever it is ready. Returns the batches and
/// the bytes used.
pub fn feed(
    text: &[u8],
    piece: usize,
    decoder: &mut dyn Push,
) -> (Vec<arrow::record_batch::RecordBatch>, usize) {
    let (mut fed, mut pos, mut batches) = (0usize, 0, Vec::new());
    loop {
        fed = fed.saturating_add(piece).min(text.len());
        let eof = fed == text.len();
        loop {
            pos += decoder.push(&text[pos..fed], eof);
            if !decoder.ready() {
                break;
            }
            batches.extend(decoder.flush());
        }
        if eof {
            break;
        }
    }
    batches.extend(decoder.flush());
    (batches, pos)
}

/// Consecutive batches of one schema concatenated, empty ones left out: the rows as a
/// reader sees them, whatever the batch boundaries.
pub fn runs(batches: &[arrow::record_batch::RecordBatch]) -> Vec<arrow::record_batch::RecordBatch> {
    let mut out: Vec<arrow::record_batch::RecordBatch> = Vec::new();
    for b in batches.iter().filter(|b| b.num_rows() > 0) {
        match out.last_mut() {
            Some(last) if last.schema() == b.schema() => {
                *last = arrow::compute::concat_batches(&b.schema(), [&*last, b]).unwrap();
            }
            _ => out.push(b.clone()),
        }
    }
    out
}

/// The ENI map loaders (canonical CSV, `describe-tasks` and
/// `describe-network-interfaces` JSON, told apart by the content) and the merge of
/// what they load.
pub fn check_map(data: &[u8]) {
    use vpcflow::enrich::load::parse_map;
    use vpcflow::enrich::EniMap;

    if let Ok(loaded) = parse_map("fuzz", data) {
        let map = EniMap::from_facts(loaded.facts);
        for w in map.warnings() {
            assert!(!w.is_empty());
        }
        for h in map.holders() {
            let _ = map.eni_at(&h.eni_id, Some(0));
        }
    }
}

/// The policy loader, and the rule lookup of what it loads.
pub fn check_policy(data: &[u8]) {
    use vpcflow::enrich::EniMap;
    use vpcflow::policy::{CommandLineRules, Policy};

    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(policy) = Policy::parse("fuzz", text, &[], &CommandLineRules::default()) {
        let map = EniMap::from_facts(Default::default());
        let _ = policy.check_against("fuzz", &map);
        if let Some(rule) = policy.rule_for(Some("api"), Some("prod")) {
            let a = [0u8; 16];
            let _ = (rule.describe(&map), rule.describe_egress(&map));
            let _ = (
                rule.egress_admits(&vpcflow::policy::PeerRef::of(&a, &[], None)),
                rule.lists_admit(&vpcflow::policy::PeerRef::of(&a, &[], None)),
            );
        }
        for c in vpcflow::policy::audit::Check::ALL {
            let _ = c.unconfigured(&policy);
        }
    }
}

/// Header lines and `--fields` values: the layout parser, and the header classifier
/// against the default layout and against the layout the line itself names.
pub fn check_header(data: &[u8]) {
    use vpcflow::format::split_spaces;
    use vpcflow::format::{classify, first_header, Layout, LineClass};

    let line = data.split(|&b| b == b'\n').next().unwrap_or_default();
    let mut spans = Vec::new();
    split_spaces(line, &mut spans);
    if let Some(layout) = first_header(line) {
        assert!(!layout.is_empty() && layout.len() <= spans.len());
    }
    if let Ok(Ok(layout)) = std::str::from_utf8(line).map(Layout::parse_spec) {
        if let LineClass::Header(h) = classify(line, &spans, &layout, || false) {
            assert!(!h.is_empty());
        }
    }
    let _ = classify(line, &spans, &Layout::default_v2(), || true);
}

/// Parquet of arbitrary bytes (seeds written by pyarrow, mutated, footers included):
/// read whole and by units of rows, any file gives records, rejected rows or a file
/// error, never a panic; rows read = records + rejected, and when neither read had a
/// file error, both give the same counts.
pub fn check_parquet(data: &[u8]) {
    use std::sync::atomic::AtomicU64;
    use vpcflow::input::parquet::{row_units, scan_parquet, RowRange};
    use vpcflow::scan::{ScanOptions, ScanSink, ScanStats};
    use vpcflow::source::Source;

    #[derive(Default)]
    struct Count {
        records: u64,
        rejects: u64,
        errors: u64,
    }
    impl ScanSink for Count {
        fn batch(
            &mut self,
            _: &Source,
            b: arrow::record_batch::RecordBatch,
        ) -> Result<(), vpcflow::Error> {
            self.records += b.num_rows() as u64;
            Ok(())
        }
        fn reject(&mut self, _: &Source, _: &vpcflow::error::Reject) -> Result<(), vpcflow::Error> {
            self.rejects += 1;
            Ok(())
        }
        fn file_error(
            &mut self,
            _: &Source,
            _: vpcflow::error::FileError,
        ) -> Result<(), vpcflow::Error> {
            self.errors += 1;
            Ok(())
        }
    }
    static FILES: AtomicU64 = AtomicU64::new(0);
    let path = std::env::temp_dir().join(format!(
        "vpcflow-fuzz-{}-{}.parquet",
        std::process::id(),
        FILES.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    std::fs::write(&path, data).unwrap();
    let source = Source::File(path.clone());
    let options = ScanOptions {
        batch_size: 7,
        max_line_bytes: 4096,
        ..ScanOptions::default()
    };
    let read = |rows: Option<RowRange>| {
        let mut sink = Count::default();
        let mut stats = ScanStats::default();
        scan_parquet(
            &source,
            &path,
            rows,
            &options,
            &mut sink,
            &mut stats,
            &AtomicU64::new(0),
        )
        .unwrap();
        assert_eq!(stats.counts.records, sink.records);
        assert_eq!(stats.counts.rejected, sink.rejects);
        assert_eq!(stats.counts.lines, sink.records + sink.rejects);
        sink
    };
    let whole = read(None);
    if let Some(units) = row_units(&path, 64) {
        let mut total = Count::default();
        for (first, end) in units.ranges {
            let part = read(Some(RowRange {
                first,
                end,
                footer: units.footer.clone(),
            }));
            total.records += part.records;
            total.rejects += part.rejects;
            total.errors += part.errors;
        }
        if whole.errors == 0 && total.errors == 0 {
            assert_eq!(
                (whole.records, whole.rejects),
                (total.records, total.rejects)
            );
        }
    }
    let _ = std::fs::remove_file(&path);
}
