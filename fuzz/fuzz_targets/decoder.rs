//! Fuzz target `decoder`: see `check_decoder` in `tests/fuzz_checks/mod.rs`.
#![no_main]

#[allow(dead_code)]
mod fuzz_checks {
    include!("../../tests/fuzz_checks/mod.rs");
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if data.len() < 4 { return; }
    fuzz_checks::check_decoder([data[0], data[1], data[2], data[3]], &data[4..]);
});
