//! The `bindery` command line: parse, then hand over to `cli`.
use std::process::ExitCode;

use clap::Parser;

mod cli;

/// mimalloc, not glibc's malloc: less CPU per forwarded connection and per
/// HTTP request, for a few MB more resident memory.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    cli::init_tracing(args.log_format);
    match cli::run(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
