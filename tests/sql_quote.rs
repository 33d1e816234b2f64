//! The SQL quoting functions on hostile names, on the stable toolchain (the fuzz target
//! `sql_quote` in `fuzz/` runs the same check for hours on nightly): quote then unquote
//! gives the original, nothing ends a literal, an identifier or a comment early, and
//! Spark is left no `${` to substitute.

#[allow(dead_code)]
mod checks {
    include!("sql_quote/checks.rs");
}

use proptest::prelude::*;

const HOSTILE: [&str; 16] = [
    "",
    "'",
    "''",
    "\\",
    "\\'",
    "${env:HOME}",
    "$${a}",
    "$\\u007B",
    "'; DROP TABLE flows; --",
    "$$ a $$",
    "-- x\n/* y */",
    "\"my db\".`a``b`.c",
    "a\u{2028}b\u{202e}",
    "flows LIMIT 0) SELECT 'pwned'; CREATE TABLE evil AS SELECT 1",
    "`\"'\\{}$",
    "\0",
];

#[test]
fn sql_quoting_round_trips_hostile_names() {
    for h in HOSTILE {
        checks::check_sql_quote(h.as_bytes());
    }
}

fn pieces() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        Just(b"'".to_vec()),
        Just(b"\"".to_vec()),
        Just(b"`".to_vec()),
        Just(b"\\".to_vec()),
        Just(b"$".to_vec()),
        Just(b"{".to_vec()),
        Just(b"${".to_vec()),
        Just(b".".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"flows".to_vec()),
        Just(b"u007B".to_vec()),
        proptest::collection::vec(any::<u8>(), 0..8),
    ];
    proptest::collection::vec(piece, 0..12).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn sql_quoting_round_trips_arbitrary_text(data in pieces()) {
        checks::check_sql_quote(&data);
    }
}
