//! The `vpcflow` command line; all the work is in the library.

fn main() -> std::process::ExitCode {
    vpcflow::cli::run()
}
