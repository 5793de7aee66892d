//! The `scimsync` executable. The command line and everything it drives live in the library
//! ([`scimsync::cli`]); this file only hands the process's exit code back to the OS.

use std::process::ExitCode;

/// jemalloc, built with its background thread on and a half-second decay (`.cargo/config.toml`):
/// memory a pass frees is returned to the system within half a second instead of staying
/// resident beside what the pass still holds, and until the next pass (README, "Sizing").
#[cfg(unix)]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    scimsync::cli::main()
}
