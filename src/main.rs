//! The `vpcflow` command line: arguments, printing and exit codes. All the work is in
//! the library.

mod cli;

fn main() -> std::process::ExitCode {
    cli::run()
}
