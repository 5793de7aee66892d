//! The `scimsync` executable. The command line and everything it drives live in the library
//! ([`scimsync::cli`]); this file only hands the process's exit code back to the OS.

use std::process::ExitCode;

fn main() -> ExitCode {
    scimsync::cli::main()
}
