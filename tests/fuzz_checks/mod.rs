// The checks shared by the fuzz targets (`fuzz/`, nightly, `cargo fuzz`) and the
// stable property tests (`tests/arbitrary_input.rs`): any input gives a result or an
// error, never a panic, and every line is accounted for. Included by both with
// `include!`, so it names everything by its full path.

/// The push decoder on arbitrary bytes. `setup` picks a layout (the default, or
/// known fields in some order), a projection, a batch size, a line limit and the size
/// of the pieces the input is fed in, the way a read loop feeds it (the unconsumed
/// tail again at the start of the next piece). Asserts that lines read = records +
/// rejected + headers + blanks = the lines of the input, and that every byte is used.
pub fn check_decoder(setup: [u8; 4], text: &[u8]) {
    use std::sync::Arc;
    use vpcflow::format::{Layout, KNOWN_FIELDS};
    use vpcflow::parse::{Decoder, DecoderOptions};

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
    let mut decoder = Decoder::new(DecoderOptions {
        batch_size: 1 + setup[2] as usize % 9,
        layout,
        projection,
        max_line_bytes: 16 + setup[3] as usize * 4,
    });
    let piece = 1 + setup[3] as usize % 97;
    let (mut fed, mut pos, mut rows) = (0, 0, 0u64);
    loop {
        fed = (fed + piece).min(text.len());
        let eof = fed == text.len();
        loop {
            pos += if eof {
                decoder.finish(&text[pos..fed])
            } else {
                decoder.decode(&text[pos..fed])
            };
            if !decoder.ready() {
                break;
            }
            rows += decoder.flush().map_or(0, |b| b.num_rows() as u64);
        }
        if eof {
            break;
        }
    }
    rows += decoder.flush().map_or(0, |b| b.num_rows() as u64);
    for r in decoder.take_rejects() {
        assert!(!r.message().is_empty());
    }
    let c = decoder.counts();
    assert_eq!(pos, text.len());
    assert_eq!(c.lines, c.records + c.rejected + c.headers + c.blanks);
    let newlines = text.iter().filter(|&&b| b == b'\n').count() as u64;
    let unterminated = u64::from(text.last().is_some_and(|&b| b != b'\n'));
    assert_eq!(c.lines, newlines + unterminated);
    assert_eq!(rows, c.records);
    assert_eq!(decoder.offset(), text.len() as u64);
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
        let _ = policy.check_against("fuzz", &EniMap::from_facts(Vec::new()));
        let _ = policy.rule_for(Some("api"), Some("prod"));
    }
}

/// Header lines and `--fields` values: the layout parser, and the header classifier
/// against the default layout and against the layout the line itself names.
pub fn check_header(data: &[u8]) {
    use vpcflow::format::{classify, first_header, Layout, LineClass};
    use vpcflow::parse::split_spaces;

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
