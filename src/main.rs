//! `vaultstream`: one binary, one CLI, every role.
//!
//! Layout:
//! - [`cli`]: the clap command tree and settings assembly.
//! - `cli/*`: one file per command group (serve, submit, migrate, doctor).
//!
//! Exit codes: 0 ok, 1 runtime failure, 2 bad usage or bad configuration.

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    cli::main()
}
