//! Fuzz target `header`: see `check_header` in `tests/fuzz_checks/mod.rs`.
#![no_main]

#[allow(dead_code)]
mod fuzz_checks {
    include!("../../tests/fuzz_checks/mod.rs");
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    fuzz_checks::check_header(data);
});
