//! The command line: parse, dispatch, map outcomes to exit codes. Logic lives in the modules.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::config::check::{self, SchemaKind};
use crate::config::{DEFAULT_CONFIG_PATH, EnvOverrides};

/// Declarative directory sync for Slack over SCIM.
#[derive(Debug, Parser)]
#[command(name = "scimsync", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check the config and every directory source (no network). Exit 0 when valid, 1 if not.
    ///
    /// Environment overrides: SCIMSYNC_TARGET_URL, SCIMSYNC_TARGET_VERSION,
    /// SCIMSYNC_TOKEN_ENV, SCIMSYNC_TOKEN_FILE.
    Validate {
        /// The config file.
        #[arg(long, short, default_value = DEFAULT_CONFIG_PATH)]
        config: PathBuf,
    },
    /// Print the JSON Schema of the config file or of the YAML directory.
    Schema {
        #[arg(value_enum)]
        kind: SchemaArg,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum SchemaArg {
    Config,
    Directory,
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Validate { config } => {
            let today = chrono::Utc::now().date_naive();
            let report = check::validate(&config, &EnvOverrides::from_process_env(), today);
            let fancy = std::io::stdout().is_terminal();
            print(&report.render(&config, fancy));
            if report.is_valid() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Command::Schema { kind } => {
            let kind = match kind {
                SchemaArg::Config => SchemaKind::Config,
                SchemaArg::Directory => SchemaKind::Directory,
            };
            print(&check::json_schema(kind));
            ExitCode::SUCCESS
        }
    }
}

/// Writes to stdout, ignoring a closed pipe (`scimsync schema config | head`).
fn print(text: &str) {
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}
