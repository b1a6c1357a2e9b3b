//! `bindery crd`
use std::process::ExitCode;

pub fn run() -> anyhow::Result<ExitCode> {
    print!("{}", bindery::catalog::crd_yaml()?);
    Ok(ExitCode::SUCCESS)
}
