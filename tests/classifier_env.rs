//! `VPCFLOW_PORTABLE=1` forces the portable block classifier (CI runs the whole test
//! suite once that way, so the portable path is tested on machines with AVX2 too).

use vpcflow::parse::classify::Classifier;

#[test]
fn the_environment_variable_forces_the_portable_classifier() {
    // The only test of this binary, so no other thread reads the environment.
    std::env::set_var("VPCFLOW_PORTABLE", "1");
    assert_eq!(Classifier::detect(), Classifier::Portable);
    std::env::set_var("VPCFLOW_PORTABLE", "0");
    let native = Classifier::detect();
    if cfg!(target_arch = "x86_64") {
        assert_ne!(native, Classifier::Portable, "x86-64 has SSE2 at least");
    }
    std::env::remove_var("VPCFLOW_PORTABLE");
    assert_eq!(Classifier::detect(), native);
}
