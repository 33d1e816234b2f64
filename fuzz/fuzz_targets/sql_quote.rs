//! Fuzz target `sql_quote`: see `check_sql_quote` in `tests/sql_quote/checks.rs`.
#![no_main]

#[allow(dead_code)]
mod checks {
    include!("../../tests/sql_quote/checks.rs");
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    checks::check_sql_quote(data);
});
