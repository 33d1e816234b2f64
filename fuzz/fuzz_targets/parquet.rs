//! Fuzz target `parquet`: see `check_parquet` in `tests/fuzz_checks/mod.rs`. Seeds:
//! `fuzz/parquet-seeds.py` (pyarrow).
#![no_main]

#[allow(dead_code)]
mod fuzz_checks {
    include!("../../tests/fuzz_checks/mod.rs");
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    fuzz_checks::check_parquet(data);
});
