use std::process::ExitCode;

fn main() -> ExitCode {
    scimsync::cli::main()
}
