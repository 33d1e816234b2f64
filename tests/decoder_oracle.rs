//! The fast decoder (structural index, column-wise conversion) against the reference
//! decoder it replaced: random flow-log text, mostly valid records in several layouts
//! with every kind of bad line mixed in, fed in random pieces with random batch sizes,
//! projections, time windows and block classifiers. Batches, counts and rejected lines
//! (with their messages and positions) must be identical.

#[allow(dead_code)]
mod fuzz_checks;

use proptest::prelude::*;

/// The default v2 fields.
static V2: std::sync::LazyLock<Vec<&'static str>> =
    std::sync::LazyLock::new(|| vpcflow::format::DEFAULT_V2.split_whitespace().collect());

fn ipv4() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<[u8; 4]>().prop_map(|o| format!("{}.{}.{}.{}", o[0], o[1], o[2], o[3])),
        Just("10.0.0.1".to_string()),
    ]
}

fn ipv6() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<[u16; 8]>().prop_map(|g| std::net::Ipv6Addr::from(g).to_string()),
        any::<[u16; 8]>().prop_map(|g| {
            let s: Vec<String> = g.iter().map(|x| format!("{x:X}")).collect();
            s.join(":")
        }),
        any::<[u8; 4]>().prop_map(|o| format!("::ffff:{}.{}.{}.{}", o[0], o[1], o[2], o[3])),
        Just("2600:1f18:abcd:ef10::5".to_string()),
    ]
}

/// A value for a field of `kind`, sometimes a wrong one.
fn value(name: &'static str) -> BoxedStrategy<String> {
    use vpcflow::format::{lookup, Kind};
    let kind = lookup(name).map(|d| d.kind).unwrap_or(Kind::Str);
    let good: BoxedStrategy<String> = match kind {
        Kind::Int32 { max } => (0..=max).prop_map(|v| v.to_string()).boxed(),
        Kind::Int64 => prop_oneof![0u64..100_000, Just(i64::MAX as u64)]
            .prop_map(|v| v.to_string())
            .boxed(),
        Kind::Timestamp => prop_oneof![
            (1_793_491_190i64..1_793_491_240).prop_map(|v| v.to_string()),
            (1_793_491_190_000i64..1_793_491_240_000).prop_map(|v| v.to_string()),
        ]
        .boxed(),
        Kind::Addr => prop_oneof![4 => ipv4(), 1 => ipv6()].boxed(),
        Kind::Dict | Kind::Str => prop_oneof![
            Just("eni-0a1".to_string()),
            Just("eni-0a2".to_string()),
            Just("ACCEPT".to_string()),
            Just("OK".to_string()),
            "[a-z0-9-]{1,12}",
            Just("caf\u{e9}".to_string()),
        ]
        .boxed(),
    };
    prop_oneof![
        20 => good,
        2 => Just("-".to_string()),
        1 => prop_oneof![
            Just("70000".to_string()),
            Just("x1".to_string()),
            Just("18446744073709551616".to_string()),
            Just("99999999999999999999".to_string()),
            Just("10.0.0.256".to_string()),
            Just("1:2:3:4:5:6:7:8:9".to_string()),
            Just("01.2.3.4".to_string()),
            Just("::1::".to_string()),
            Just("0123".to_string()),
            Just("--".to_string()),
        ],
    ]
    .boxed()
}

fn record(fields: &'static [&'static str]) -> impl Strategy<Value = String> {
    fields
        .iter()
        .map(|f| value(f))
        .collect::<Vec<_>>()
        .prop_map(|v| v.join(" "))
}

/// One line: mostly records of the layout in force, sometimes something else.
fn line(fields: &'static [&'static str]) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        30 => record(fields).prop_map(String::into_bytes),
        1 => record(fields).prop_map(|r| format!("{r}\r").into_bytes()),
        1 => record(fields).prop_map(|r| r.replacen(' ', "   ", 2).into_bytes()),
        1 => record(fields).prop_map(|r| format!("  {r}  ").into_bytes()),
        1 => record(fields).prop_map(|r| r.replacen(' ', "\t", 1).into_bytes()),
        1 => record(fields).prop_map(|r| r.rsplit_once(' ').map_or(r.clone(), |(a, _)| a.to_string()).into_bytes()),
        1 => record(fields).prop_map(|r| format!("{r} extra").into_bytes()),
        1 => record(fields).prop_map(|r| { let mut b = r.into_bytes(); b.push(0xff); b }),
        1 => Just(Vec::new()),
        1 => Just(b"\r".to_vec()),
        1 => Just(vpcflow::format::DEFAULT_V2.split_whitespace().collect::<Vec<_>>().join(" ").into_bytes()),
        1 => Just(b"\xEF\xBB\xBFversion account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status".to_vec()),
        1 => Just(b"interface-id srcaddr dstaddr dstport bytes start action log-status".to_vec()),
        1 => Just(b"not a header at all".to_vec()),
        1 => Just(vec![b'7'; 300]),
    ]
}

fn text() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(line(&V2), 0..60).prop_map(|lines| lines.join(&b'\n'))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn fast_decoder_equals_the_reference(setup in any::<[u8; 4]>(), text in text(), newline in any::<bool>()) {
        let mut text = text;
        if newline {
            text.push(b'\n');
        }
        // The default layout (no --fields), so that generated v2 records are records.
        let setup = [setup[0] & !1, setup[1], setup[2], setup[3]];
        fuzz_checks::check_decoder(setup, &text);
    }
}

/// A large input (many slices of the block decoder, lines across slice ends, full
/// batches) through both decoders with the default options.
#[test]
fn fast_decoder_equals_the_reference_on_the_generated_corpus() {
    use std::io::Read;
    let root = env!("CARGO_MANIFEST_DIR");
    for file in ["v2-noheader.log.gz", "v5.log.gz", "v7-switch.log.gz"] {
        let mut text = Vec::new();
        flate2::read::GzDecoder::new(
            std::fs::File::open(format!("{root}/testdata/corpus/{file}")).unwrap(),
        )
        .read_to_end(&mut text)
        .unwrap();
        for setup in [
            [0u8, 0x20, 8, 255],
            [0x80, 0x60, 3, 200],
            [0, 0x20, 1, 0],
            [0, 0, 2, 255],
        ] {
            fuzz_checks::check_decoder(setup, &text);
        }
    }
}
