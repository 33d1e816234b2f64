//! Property test: random valid records, in random field orders of random field
//! subsets, round-trip text -> batch -> JSON Lines exactly. The expected JSON is built
//! from the generated values, not from the parser.

use std::net::{Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;
use serde_json::{json, Map, Value};
use vpcflow::format::{column_name, Kind, KNOWN_FIELDS};
use vpcflow::output::jsonl::JsonLinesWriter;
use vpcflow::output::BatchWriter;
use vpcflow::parse::{decode_slice, DecoderOptions};
use vpcflow::Layout;

/// One generated value: its text in the log and its expected JSON.
fn value_for(kind: Kind) -> BoxedStrategy<(String, Value)> {
    let null = Just(("-".to_string(), Value::Null));
    let some: BoxedStrategy<(String, Value)> = match kind {
        Kind::Int32 { max } => (0..=max).prop_map(|v| (v.to_string(), json!(v))).boxed(),
        Kind::Int64 => (0..=i64::MAX)
            .prop_map(|v| (v.to_string(), json!(v)))
            .boxed(),
        // Seconds (before 2200), and milliseconds of 2000 to 2200, which read as seconds.
        Kind::Timestamp => prop_oneof![
            (0..7_258_118_400i64).prop_map(|v| (v.to_string(), json!(v))),
            (946_684_800_000..7_258_118_400_000i64).prop_map(|v| (v.to_string(), json!(v / 1000))),
        ]
        .boxed(),
        Kind::Addr => prop_oneof![
            any::<u32>().prop_map(|v| {
                let a = Ipv4Addr::from(v).to_string();
                (a.clone(), json!(a))
            }),
            any::<u128>()
                // IPv4-mapped IPv6 addresses print as IPv4 (they are how IPv4 is stored).
                .prop_filter("not IPv4-mapped", |v| (v >> 32) != 0xffff)
                .prop_map(|v| {
                    let a = Ipv6Addr::from(v);
                    // Any valid spelling in, the canonical one out.
                    let full = a
                        .segments()
                        .iter()
                        .map(|s| format!("{s:04x}"))
                        .collect::<Vec<_>>()
                        .join(":");
                    (full, json!(a.to_string()))
                }),
        ]
        .boxed(),
        // Values never look like field names, so no record is mistaken for a header.
        Kind::Dict | Kind::Str => {
            "[A-Z0-9][A-Za-z0-9:/._-]{0,20}|[a-z]{1,3}-[0-9a-f]{8,17}|é[a-z]{0,3}"
                .prop_map(|s| (s.clone(), json!(s)))
                .boxed()
        }
    };
    prop_oneof![1 => null, 6 => some].boxed()
}

/// A layout (distinct known fields plus sometimes an unknown one, shuffled) and rows.
fn records() -> impl Strategy<Value = (Vec<String>, Vec<Vec<(String, Value)>>)> {
    let names = proptest::sample::subsequence(
        KNOWN_FIELDS.iter().map(|f| f.name).collect::<Vec<_>>(),
        1..KNOWN_FIELDS.len(),
    );
    (names, any::<bool>())
        .prop_flat_map(|(names, extra)| {
            let mut names: Vec<String> = names.into_iter().map(String::from).collect();
            if extra {
                names.push("x-custom-field".into());
            }
            Just(names).prop_shuffle()
        })
        .prop_flat_map(|names| {
            let kinds: Vec<Kind> = names
                .iter()
                .map(|n| vpcflow::format::lookup(n).map_or(Kind::Str, |d| d.kind))
                .collect();
            let row: Vec<BoxedStrategy<(String, Value)>> =
                kinds.into_iter().map(value_for).collect();
            (Just(names), proptest::collection::vec(row, 1..20))
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn text_to_batch_to_jsonl((names, rows) in records(), header in any::<bool>(), batch_size in 1usize..8) {
        let mut text = String::new();
        let layout = if header {
            text.push_str(&names.join(" "));
            text.push('\n');
            None
        } else {
            Some(std::sync::Arc::new(Layout::new(names.iter().map(String::as_str)).unwrap()))
        };
        for row in &rows {
            let tokens: Vec<&str> = row.iter().map(|(t, _)| t.as_str()).collect();
            text.push_str(&tokens.join(" "));
            text.push('\n');
        }
        let d = decode_slice(text.as_bytes(), DecoderOptions { batch_size, layout, projection: None,     ..DecoderOptions::default() });
        prop_assert!(d.rejects.is_empty(), "{:?}", d.rejects);
        prop_assert_eq!(d.counts.records, rows.len() as u64);
        prop_assert_eq!(d.counts.headers, header as u64);

        let mut out = Vec::new();
        let mut w = JsonLinesWriter::new(&mut out);
        for b in &d.batches {
            w.write(b).unwrap();
        }
        w.finish().unwrap();
        let got: Vec<Value> = String::from_utf8(out).unwrap().lines()
            .map(|l| serde_json::from_str(l).unwrap()).collect();
        let want: Vec<Value> = rows.iter().map(|row| {
            let mut m = Map::new();
            for (name, (_, v)) in names.iter().zip(row) {
                m.insert(column_name(name), v.clone());
            }
            Value::Object(m)
        }).collect();
        prop_assert_eq!(got, want);
    }
}
