//! The command line: its arguments, and the rendering of what a command ends with. Results go
//! to stdout, logs to stderr. [`main`] parses, sets up logging, runs the command's handler
//! (`src/cli/commands.rs`), which returns an [`Outcome`], and `finish` — the one place — says
//! the outcome's words and exits with [`exit::of`] it. Other parts live in `src/cli/`: colour
//! (`--color`, `NO_COLOR`), the confirmation on a terminal, completions and the manual page,
//! the log writer.
//!
//! What reaches a terminal is escaped ([`crate::diag::escape`]): each value from outside (a
//! finding, an error, a source problem) on its own line, and every line `say!` writes, the text
//! and markdown plans and the text log as a whole, so a control sequence in a name, a title or a
//! Slack error message is shown, never obeyed.

use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use serde::Serialize;

use crate::apply::OpOutcome;
use crate::apply::progress::Console;
use crate::config::DEFAULT_CONFIG_PATH;
use crate::diag::escape::{terminal, terminal_text};
use crate::diag::render_fancy;
use crate::exit::{self, Failure, Outcome};
use crate::pass::{Applied, PassError, PassReport};
use crate::plan::render::{Format, JsonPlan};
use crate::plan::{Guard, GuardTrip, Plan};

pub use color::ColorChoice;

/// The environment variable that supplies `--config` wherever it is taken (the flag wins).
pub const CONFIG_ENV: &str = "SCIMSYNC_CONFIG";

/// Writes a line to stderr with every token-shaped string redacted and every control
/// character but its line breaks shown escaped.
macro_rules! say {
    ($($arg:tt)*) => {
        say_raw!(
            "{}\n",
            crate::diag::escape::terminal_text(&format!($($arg)*), false)
        )
    };
}

/// Writes to stderr with every token-shaped string redacted (no newline added).
macro_rules! say_raw {
    ($($arg:tt)*) => {{
        let text = format!($($arg)*);
        let _ = std::io::Write::write_all(
            &mut std::io::stderr().lock(),
            crate::slack_rules::redact_tokens(&text).as_bytes(),
        );
    }};
}

mod color;
mod commands;
mod confirm;
mod docs;
mod log;

/// `--config`, declared once and flattened into every subcommand that reads a config.
#[derive(Debug, Clone, Args)]
pub struct ConfigFile {
    /// The config file (`run` re-reads it every pass, and keeps the last good one when it
    /// breaks).
    #[arg(long, short, env = CONFIG_ENV, default_value = DEFAULT_CONFIG_PATH)]
    pub config: PathBuf,
}

impl ConfigFile {
    /// The file's path.
    pub fn path(&self) -> &std::path::Path {
        &self.config
    }
}

/// The parsed command line: global options and one subcommand.
#[derive(Debug, Parser)]
#[command(
    name = "scimsync",
    version = crate::model::build::LONG_VERSION,
    about = "Keep Slack's people and groups equal to a declared directory."
)]
pub struct Cli {
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Auto)]
    pub log_format: LogFormat,
    /// Colour: `auto` on a terminal unless NO_COLOR is set; `always` even then.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// How log lines on stderr are written (`--log-format`); `SCIMSYNC_LOG` picks which.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable text on a terminal, JSON lines otherwise.
    Auto,
    /// Human-readable text.
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// The subcommands; each variant's doc is its `--help` text.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check the config and every directory source (no network). Exit 0 when valid, 1 if not.
    ///
    /// Environment overrides: SCIMSYNC_TARGET_URL, SCIMSYNC_TARGET_VERSION,
    /// SCIMSYNC_TOKEN_ENV, SCIMSYNC_TOKEN_FILE.
    Validate {
        /// The config file.
        #[command(flatten)]
        config: ConfigFile,
    },
    /// Print the JSON Schema of the config file or of the YAML directory.
    Schema {
        /// Which file's schema.
        #[arg(value_enum)]
        kind: SchemaArg,
    },
    /// Read the sources and Slack, and report the plan. Writes nothing.
    Plan(PlanArgs),
    /// Plan and apply once, then exit (the cron mode). Exit 0 all applied, 3 a guard
    /// tripped (nothing written), 4 partial, 6 not confirmed on a terminal (nothing written).
    ///
    /// When stdin is a terminal (whatever stdout is: `apply | tee apply.log` too) it asks
    /// before writing; only `yes` applies. Without one (cron, CI) it applies without asking.
    Apply(ApplyArgs),
    /// Reconcile every `daemon.interval` until stopped: the container mode. Serves
    /// /healthz, /readyz, /metrics and POST /reconcile on `daemon.listen`.
    ///
    /// SIGHUP re-reads the config and starts a pass now (a config that does not compile is
    /// logged and the last good one kept); SIGTERM or Ctrl-C stops after the pass in flight.
    Run {
        /// The config file (re-read every pass; the last good one is kept if it breaks).
        #[command(flatten)]
        config: ConfigFile,
        /// Listen here instead of `daemon.listen`.
        #[arg(long)]
        listen: Option<SocketAddr>,
        /// Pass interval instead of `daemon.interval` (e.g. 30s, 15m).
        #[arg(long, value_parser = interval_arg)]
        interval: Option<Duration>,
        /// After SIGTERM, how long the pass in flight may take to finish.
        #[arg(long, value_parser = deadline_arg, default_value = "30s")]
        shutdown_deadline: Duration,
    },
    /// Exit 0 if the daemon at URL answers /healthz (for container health checks).
    Healthcheck {
        /// The daemon's health endpoint.
        #[arg(long, default_value = "http://127.0.0.1:9090/healthz")]
        url: String,
    },
    /// Write the live Slack organisation as a directory YAML (to adopt an existing org), or
    /// as an emulator seed (`--as-seed`, to rehearse on a copy).
    Dump {
        /// The config file (for the target).
        #[command(flatten)]
        config: ConfigFile,
        /// Write to this file instead of stdout.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Write an emulator seed instead (`scimsync emulator --seed FILE`): a copy of the
        /// organisation with bots, deactivated accounts, guests and ids, to rehearse against.
        #[arg(long)]
        as_seed: bool,
    },
    /// Serve the Slack-faithful SCIM emulator (v1 and v2) until interrupted.
    Emulator(EmulatorArgs),
    /// Print a shell completion script: `scimsync completions bash > ~/.local/share/bash-completion/completions/scimsync`.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page, scimsync(1), in roff: `scimsync man | man -l -`.
    Man {
        /// Write scimsync.1 into this folder instead of stdout.
        #[arg(long, value_name = "DIR")]
        out_dir: Option<PathBuf>,
    },
}

/// Options of `scimsync plan`.
#[derive(Debug, Args)]
pub struct PlanArgs {
    /// The config file.
    #[command(flatten)]
    pub config: ConfigFile,
    /// Report format.
    #[arg(long, value_enum, default_value_t = FormatArg::Text)]
    pub format: FormatArg,
    /// Write the report to this file instead of stdout.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Exit 2 when changes are pending, 5 when the plan has conflicts, 0 when in sync.
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// With `--format markdown`: never write more than this many bytes (the summary and
    /// counts always; the changes that fit; a note on the rest). GitHub refuses comments over
    /// 65,536 characters.
    #[arg(long, value_name = "BYTES", value_parser = clap::value_parser!(u64).range(1024..=100_000_000))]
    pub max_bytes: Option<u64>,
    /// Also write the full JSON plan to this file (e.g. the artifact next to a bounded
    /// markdown comment), from the same reading of Slack.
    #[arg(long, value_name = "FILE")]
    pub json_out: Option<PathBuf>,
}

/// Options of `scimsync apply`.
#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// The config file.
    #[command(flatten)]
    pub config: ConfigFile,
    /// Report the plan and write nothing (same as `scimsync plan`).
    #[arg(long)]
    pub dry_run: bool,
    /// Apply exactly this saved plan (`scimsync plan --format json --out FILE`); refused if a
    /// resource it touches changed since.
    #[arg(long, value_name = "FILE")]
    pub plan: Option<PathBuf>,
    /// Apply even though this safety guard trips (repeatable).
    #[arg(long, value_enum, value_name = "GUARD")]
    pub allow: Vec<Guard>,
    /// Format of the plan report printed before applying.
    #[arg(long, value_enum, default_value_t = FormatArg::Text)]
    pub format: FormatArg,
    /// Do not ask for confirmation on a terminal (without a terminal nothing is asked).
    #[arg(long, short)]
    pub yes: bool,
    /// After the run (whatever its outcome) write the daemon's metrics to this file for
    /// node_exporter's textfile collector, atomically, carrying counters over from the last.
    #[arg(long, value_name = "FILE", conflicts_with = "dry_run")]
    pub metrics_textfile: Option<PathBuf>,
    /// After the run (whatever its outcome) push the same series to a Prometheus Pushgateway:
    /// `PUT URL/metrics/job/scimsync`, or the group URL given (`…/metrics/job/…`). A failed
    /// push is a warning; the exit code stays the apply's.
    #[arg(long, value_name = "URL", conflicts_with = "dry_run")]
    pub metrics_push: Option<String>,
}

/// The plan report's format on the command line (`--format`); see [`Format`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// For a person at a terminal (coloured there).
    Text,
    /// Machine-readable; what `apply --plan FILE` takes back.
    Json,
    /// For a pull-request comment.
    Markdown,
}

/// Which JSON Schema `scimsync schema` prints.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum SchemaArg {
    /// The config file (scimsync.yaml).
    Config,
    /// A YAML directory source.
    Directory,
}

/// Options of `scimsync emulator`.
#[derive(Debug, Args)]
pub struct EmulatorArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Seed the organisation from this YAML or JSON file (format: README, "Emulator"; `scimsync
    /// dump --as-seed` writes one).
    #[arg(long)]
    pub seed: Option<PathBuf>,
    /// Persist the state to this JSON file after writes; loaded at start if it exists.
    #[arg(long)]
    pub persist: Option<PathBuf>,
    /// Environment variable holding the bearer token to accept.
    #[arg(long, default_value = "SCIMSYNC_EMULATOR_TOKEN")]
    pub token_env: String,
    /// Start from a set of settings; the flags below change single ones. `like-slack`: Slack's
    /// rate limits, deactivations read 3 s late, duplicate group names, 2% 5xx and 2% lost
    /// replies, strict bodies and filters, /Groups filters refused.
    #[arg(long, value_enum, default_value_t = PresetArg::Kind)]
    pub preset: PresetArg,
    /// Run Slack's rate limits this many times faster.
    #[arg(long, default_value_t = 1.0)]
    pub time_scale: f64,
    /// Turn rate limiting off.
    #[arg(long)]
    pub no_rate_limits: bool,
    /// Probability of answering 500/503 [default: 0, like-slack 0.02].
    #[arg(long)]
    pub error_rate: Option<f64>,
    /// Probability of dropping the connection [default: 0, like-slack 0.02].
    #[arg(long)]
    pub drop_rate: Option<f64>,
    /// Latency added to every request, in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// How long a write holds its resource's lock, in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub write_hold_ms: u64,
    /// Seed of the fault injector and id generator.
    #[arg(long, default_value_t = 1)]
    pub random_seed: u64,
    /// Enterprise Grid: user ids start with W.
    #[arg(long)]
    pub grid: bool,
    /// Whose token it is: an admin's token cannot modify owners.
    #[arg(long, value_enum, default_value_t = TokenRoleArg::Owner)]
    pub token_role: TokenRoleArg,
    /// Reads (listings, filtered GETs, GET by id) show the writes of `--lag-scope` this many
    /// milliseconds late, as Slack's lagging reads do; writes and uniqueness see the truth
    /// [default: 0, like-slack 3000].
    #[arg(long, value_name = "MS")]
    pub read_lag_ms: Option<u64>,
    /// Which writes `--read-lag-ms` delays: `deactivation` (and photo changes, what Slack is
    /// seen to do) or `all` (a stress setting) [default: all, like-slack deactivation].
    #[arg(long, value_enum)]
    pub lag_scope: Option<LagScopeArg>,
    /// Whether a second group with an existing name is refused (409) or created
    /// [default: unique, like-slack duplicate].
    #[arg(long, value_enum)]
    pub group_names: Option<GroupNamesArg>,
    /// A create with invalid profile data: `drop` every profile field silently (Slack's
    /// documented behaviour) or answer 400 naming the field (`strict`) [default: drop].
    #[arg(long, value_enum)]
    pub profile_errors: Option<ProfileErrorsArg>,
    /// `strict`: only documented filters, `application/json` bodies, known URNs, extension
    /// objects with their URN in `schemas`; `lenient`: what other clients may send
    /// [default: lenient, like-slack strict].
    #[arg(long, value_enum)]
    pub parsing: Option<ParsingArg>,
    /// What a filter on /Groups gets (Slack documents none) [default: honour, like-slack
    /// refuse].
    #[arg(long, value_enum)]
    pub group_filters: Option<GroupFiltersArg>,
    /// Channel names that share the user-name namespace, besides general and random.
    #[arg(long, value_delimiter = ',', value_name = "NAME,...")]
    pub channels: Vec<String>,
    /// A file of channel names, one a line (`#` optional), added to `--channels`.
    #[arg(long, value_name = "FILE")]
    pub channels_file: Option<PathBuf>,
    /// How long a client may take to send a request's headers (on a new or an idle
    /// connection) before it is disconnected, in milliseconds.
    #[arg(long, default_value_t = 10_000, value_name = "MS",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub header_timeout_ms: u64,
    /// How a photo written reads back: a URL of the emulator's own (`rehost`) or the one sent
    /// (`echo`). FACTS does not say which Slack does.
    #[arg(long, value_enum, default_value_t = PhotoReadingArg::Rehost)]
    pub photo_reading: PhotoReadingArg,
    /// How the profileUrl a create sent reads back: Slack's own URL (`slack`) or the one sent
    /// (`echo`); updates are ignored under both. FACTS has both.
    #[arg(long, value_enum, default_value_t = crate::emulator::ProfileUrlReading::Slack)]
    pub profile_url_reading: crate::emulator::ProfileUrlReading,
    /// How the parts of an address read back: as sent (`keep`) or trimmed (`trim`). FACTS
    /// does not say.
    #[arg(long, value_enum, default_value_t = crate::emulator::AddressReading::Keep)]
    pub address_reading: crate::emulator::AddressReading,
    /// How a role reads back: as sent (`exact`) or lower-cased (`lower`). FACTS does not say.
    #[arg(long, value_enum, default_value_t = crate::emulator::RoleReading::Exact)]
    pub role_reading: crate::emulator::RoleReading,
    /// Custom profile fields the organisation has besides those SCIM creates; a write needing
    /// one past 50 gets 400 unable_to_create_team_profile_fields.
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub custom_profile_fields: usize,
    /// A value Slack finds invalid for a custom profile field, ATTRIBUTE=VALUE (`*` matches any
    /// run of characters; repeatable): a create carrying one loses its custom profile
    /// (`--profile-errors drop`), an update is refused.
    #[arg(long, value_name = "ATTRIBUTE=VALUE")]
    pub drop_profile_on_invalid: Vec<crate::emulator::InvalidValue>,
}

/// `--photo-reading`: FACTS does not say whether Slack answers the photo URL it was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PhotoReadingArg {
    /// Slack re-hosts the image and answers a URL of its own.
    Rehost,
    /// Slack answers the URL it was sent.
    Echo,
}

/// `--preset`: a named set of emulator settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PresetArg {
    /// Fast and lenient (rate limits on unless `--no-rate-limits`).
    Kind,
    /// Never kinder than Slack: the way to rehearse.
    LikeSlack,
}

/// `--lag-scope`: which writes reads see late.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LagScopeArg {
    /// Every write (a stress setting beyond Slack's evidence).
    All,
    /// Deactivations and photo changes only (what Slack is seen to do).
    Deactivation,
    /// Photo changes only.
    Photo,
}

/// `--parsing`: how strictly bodies and filters are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ParsingArg {
    /// What other clients may send beyond the documentation.
    Lenient,
    /// Only what Slack documents.
    Strict,
}

/// `--group-filters`: what a filter on /Groups gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GroupFiltersArg {
    /// Honoured.
    Honour,
    /// Refused with 400 `invalid_query`.
    Refuse,
    /// Ignored: the unfiltered listing.
    Ignore,
}

/// `--group-names`: FACTS does not say whether Slack refuses duplicate group names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GroupNamesArg {
    /// A second group with an existing name is refused with 409.
    Unique,
    /// A second group with an existing name is created.
    Duplicate,
}

/// `--profile-errors`: what a create with invalid profile data gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProfileErrorsArg {
    /// Accepted, every profile field silently dropped (Slack's documented behaviour).
    Drop,
    /// 400 naming the field.
    Strict,
}

/// Whose token the emulator pretends to accept (`--token-role`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TokenRoleArg {
    /// An owner's token: may modify anyone, owners too.
    Owner,
    /// An admin's token: cannot modify owners.
    Admin,
}

/// The emulator's token when `--token-env` names an unset variable. Not a secret: the
/// emulator guards nothing real.
pub const DEFAULT_EMULATOR_TOKEN: &str = "xoxp-emulator-token";

/// The `scimsync` binary: parses the command line, runs the command and returns its exit
/// code (see [`exit`]).
pub fn main() -> ExitCode {
    // A panic's message goes through the same redaction as every other line.
    std::panic::set_hook(Box::new(|info| {
        say!("internal error: {info}");
    }));
    let cli = match parse_args() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            // --help and --version are answers, not errors.
            return finish(&if e.use_stderr() {
                Outcome::Usage
            } else {
                Outcome::Done
            });
        }
    };
    color::set(color::Colors::from_env(cli.color));
    let console = Console::new();
    log::init(cli.log_format, console.clone());
    finish(&commands::run(cli.command, &console))
}

/// The one place a command's outcome becomes words on stderr and the process's exit code.
fn finish(outcome: &Outcome) -> ExitCode {
    match outcome {
        Outcome::Failed(failure) => report_failure(failure),
        Outcome::Declined => say!("Not applied: the answer was not 'yes'. Nothing was written."),
        Outcome::Interrupted { report, .. } => {
            if let Applied::Done(o) = &report.applied {
                say!(
                    "interrupted: {} of {} changes applied, {} not started; exit {}",
                    o.applied(),
                    o.ops.len(),
                    o.not_started(),
                    exit::of(outcome)
                );
            }
        }
        Outcome::Done
        | Outcome::Invalid
        | Outcome::Planned { .. }
        | Outcome::Applied(_)
        | Outcome::Aborted
        | Outcome::Usage => {}
    }
    ExitCode::from(exit::of(outcome))
}

/// Prints why a command failed to stderr.
fn report_failure(failure: &Failure) {
    match failure {
        Failure::Pass(e) => report_error(e),
        Failure::Unhealthy(what) => say!("unhealthy: {what}"),
        Failure::Logged => {}
        Failure::Write { .. } | Failure::Usage(_) | Failure::Other(_) => say!("error: {failure}"),
    }
}

/// Parses the process's arguments. An empty `SCIMSYNC_CONFIG` counts as unset, as an empty
/// `NO_COLOR` and the empty `SCIMSYNC_TARGET_*` overrides do (clap would take it as an empty
/// path).
fn parse_args() -> Result<Cli, clap::Error> {
    use clap::{CommandFactory, FromArgMatches};
    let mut command = Cli::command();
    if std::env::var_os(CONFIG_ENV).is_some_and(|v| v.is_empty()) {
        let takers: Vec<String> = command
            .get_subcommands()
            .filter(|s| s.get_arguments().any(|a| a.get_id() == "config"))
            .map(|s| s.get_name().to_string())
            .collect();
        for name in takers {
            command = command.mut_subcommand(name, |s| {
                s.mut_arg("config", |a| a.env(clap::builder::Resettable::Reset))
            });
        }
    }
    // clap's own help and errors follow --color too (it reads NO_COLOR itself).
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    command = command.color(match color::flag_in(&args) {
        Some(ColorChoice::Always) => clap::ColorChoice::Always,
        Some(ColorChoice::Never) => clap::ColorChoice::Never,
        Some(ColorChoice::Auto) | None => clap::ColorChoice::Auto,
    });
    let matches = command.try_get_matches_from(args)?;
    Cli::from_arg_matches(&matches)
}

/// Prints a pass error to stderr: config and directory problems with their locations.
fn report_error(e: &PassError) {
    let colors = color::get();
    let fancy = colors.fancy(std::io::stderr().is_terminal());
    let paint = colors.stderr();
    let problems = match e {
        PassError::Config(c) if fancy => render_fancy(&c.problems, paint),
        PassError::Config(c) => plain_lines(&c.problems),
        PassError::Directory(d) if fancy => render_fancy(&d.problems, paint),
        PassError::Directory(d) => plain_lines(&d.problems),
        _ => String::new(),
    };
    say_raw!("{}", terminal_text(&problems, fancy && paint));
    say!("error: {}", terminal(&e.to_string()));
}

/// One line per problem (`file:line:col: error: message`), each escaped as one value.
fn plain_lines<K: std::fmt::Display>(problems: &[crate::diag::Problem<K>]) -> String {
    problems
        .iter()
        .map(|p| format!("{}\n", terminal(&p.to_string())))
        .collect()
}

/// Prints what the pass found besides the plan (skipped rows, source warnings, guard trips)
/// to stderr: the same findings the daemon logs, less the sentence on what the plan leaves
/// undone (the plan on stdout lists each item).
fn report_findings(report: &PassReport) {
    for f in report.findings() {
        match f.topic {
            "source" => say!("{}", terminal(&f.text)),
            "plan" => {}
            _ => say!("{}: {}", f.severity, terminal(&f.text)),
        }
    }
    if matches!(report.applied, Applied::GuardTripped(_)) {
        say!("nothing was written");
    }
}

fn format_of(f: FormatArg) -> Format {
    match f {
        FormatArg::Text => Format::Text,
        FormatArg::Json => Format::Json,
        FormatArg::Markdown => Format::Markdown,
    }
}

/// A rendered report as it is written out: text and markdown through [`terminal_text`] (their
/// values are escaped where they are placed; this is the last line of defence), JSON as it is
/// (serde escapes every string).
fn shown(report: String, format: FormatArg, color: bool) -> String {
    match format {
        FormatArg::Json => report,
        FormatArg::Text => terminal_text(&report, color).into_owned(),
        FormatArg::Markdown => terminal_text(&report, false).into_owned(),
    }
}

/// `apply --format json`'s one document: the JSON plan with an `outcome` member.
#[derive(Serialize)]
struct AppliedDocument<'a> {
    #[serde(flatten)]
    plan: JsonPlan<'a>,
    outcome: AppliedOutcome<'a>,
}

/// What the apply did: `result` (`applied`, `guard_tripped` or `nothing_to_do`), the guards
/// that tripped, and every op's result.
#[derive(Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
enum AppliedOutcome<'a> {
    Applied {
        applied: usize,
        failed: usize,
        skipped: usize,
        rate_limited: u64,
        ops: &'a [OpOutcome],
    },
    GuardTripped {
        guards: &'a [GuardTrip],
    },
    NothingToDo,
}

impl<'a> AppliedOutcome<'a> {
    fn of(applied: &'a Applied) -> AppliedOutcome<'a> {
        match applied {
            Applied::Done(o) => AppliedOutcome::Applied {
                applied: o.applied(),
                failed: o.failed(),
                skipped: o.skipped(),
                rate_limited: o.rate_limited,
                ops: &o.ops,
            },
            Applied::GuardTripped(trips) => AppliedOutcome::GuardTripped { guards: trips },
            Applied::NothingToDo | Applied::NotRequested => AppliedOutcome::NothingToDo,
        }
    }
}

/// [`AppliedDocument`] as pretty JSON, its keys sorted (through a [`serde_json::Value`]) as
/// they always were.
fn applied_json(plan: &Plan, applied: &Applied) -> String {
    let doc = AppliedDocument {
        plan: JsonPlan::of(plan),
        outcome: AppliedOutcome::of(applied),
    };
    let value = serde_json::to_value(&doc).expect("the applied document serialises");
    let mut text = serde_json::to_string_pretty(&value).expect("JSON values serialise");
    text.push('\n');
    text
}

/// A duration flag within `range` (`range_text` says it to people).
fn duration_in(
    text: &str,
    range: &std::ops::RangeInclusive<Duration>,
    range_text: &str,
) -> Result<Duration, String> {
    let d = crate::config::parse_duration(text)
        .ok_or_else(|| format!("{text:?} is not a duration like 30s, 15m or 1h30m"))?;
    if range.contains(&d) {
        Ok(d)
    } else {
        Err(format!("{text} is out of range: {range_text}"))
    }
}

/// `run --interval`: the same range as `daemon.interval`.
fn interval_arg(text: &str) -> Result<Duration, String> {
    duration_in(
        text,
        &crate::config::INTERVAL_RANGE,
        "between 1s and 168h (a week)",
    )
}

/// `run --shutdown-deadline`: long enough for a request in flight, short enough for an
/// orchestrator's own kill timeout.
fn deadline_arg(text: &str) -> Result<Duration, String> {
    duration_in(
        text,
        &(Duration::from_secs(1)..=Duration::from_secs(3600)),
        "between 1s and 1h",
    )
}

/// Writes bytes to stdout as they are, ignoring a closed pipe (generated scripts and pages,
/// which hold no token).
fn write_stdout(bytes: &[u8]) {
    let _ = std::io::stdout().lock().write_all(bytes);
}

/// Writes to stdout, ignoring a closed pipe (`scimsync schema config | head`), with every
/// token-shaped string redacted.
fn print(text: &str) {
    let _ = std::io::stdout()
        .lock()
        .write_all(crate::slack_rules::redact_tokens(text).as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apply::{OpResult, Outcome as ApplyOutcome};
    use crate::plan::{Guard, OpKind};

    /// A plan with two creates (from an empty Slack) and one conflict.
    fn plan() -> Plan {
        let mut policy = crate::config::Policy::default();
        policy.scope.email_domains = vec!["example.com".into()];
        let mut p = crate::plan::plan(
            &crate::directory::Directory::default(),
            &crate::model::LiveState::default(),
            &policy,
        );
        p.conflicts.push(crate::plan::Conflict {
            subject: "dup@example.com".into(),
            reason: "email held by an account outside scope".into(),
            source: Some("people.csv:3".into()),
        });
        p
    }

    /// `applied_json` as it was written before it was a type: the JSON plan rendered, parsed
    /// back and patched with an `outcome` member.
    fn patched(plan: &Plan, applied: &Applied) -> String {
        let text = crate::plan::render::render(plan, Format::Json, false);
        let mut doc: serde_json::Value = serde_json::from_str(&text).unwrap();
        doc["outcome"] = match applied {
            Applied::Done(o) => serde_json::json!({
                "result": "applied",
                "applied": o.applied(),
                "failed": o.failed(),
                "skipped": o.skipped(),
                "rate_limited": o.rate_limited,
                "ops": o.ops,
            }),
            Applied::GuardTripped(trips) => serde_json::json!({
                "result": "guard_tripped",
                "guards": trips,
            }),
            Applied::NothingToDo | Applied::NotRequested => {
                serde_json::json!({"result": "nothing_to_do"})
            }
        };
        let mut text = serde_json::to_string_pretty(&doc).unwrap();
        text.push('\n');
        text
    }

    fn op(subject: &str, result: OpResult) -> OpOutcome {
        OpOutcome {
            kind: OpKind::CreateUser,
            subject: subject.into(),
            resource: Some("U1".into()),
            result,
        }
    }

    /// `scimsync ARGS` parsed as the binary parses them (less the environment).
    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("scimsync").chain(args.iter().copied()))
    }

    /// The config file a parsed command reads, if it reads one.
    fn config_of(cli: &Cli) -> Option<&std::path::Path> {
        match &cli.command {
            Command::Validate { config }
            | Command::Run { config, .. }
            | Command::Dump { config, .. } => Some(config.path()),
            Command::Plan(a) => Some(a.config.path()),
            Command::Apply(a) => Some(a.config.path()),
            _ => None,
        }
    }

    #[test]
    fn every_command_that_reads_a_config_takes_the_one_config_flag() {
        use clap::CommandFactory;
        for sub in ["validate", "plan", "apply", "run", "dump"] {
            for flag in ["--config", "-c"] {
                let cli = parse(&[sub, flag, "x.yaml"]).unwrap();
                assert_eq!(
                    config_of(&cli),
                    Some(std::path::Path::new("x.yaml")),
                    "{sub}"
                );
            }
        }
        // One declaration: the same flag, environment variable and default everywhere.
        let command = Cli::command();
        let takers: Vec<_> = command
            .get_subcommands()
            .filter_map(|s| s.get_arguments().find(|a| a.get_id() == "config"))
            .collect();
        assert_eq!(takers.len(), 5);
        for arg in takers {
            assert_eq!(arg.get_short(), Some('c'));
            assert_eq!(arg.get_env(), Some(std::ffi::OsStr::new(CONFIG_ENV)));
            assert_eq!(arg.get_default_values(), [DEFAULT_CONFIG_PATH]);
        }
    }

    #[test]
    fn apply_flags_parse_and_refuse_what_does_not_go_together() {
        let cli = parse(&[
            "apply",
            "--allow",
            "max-deactivations",
            "--allow",
            "max-deactivation-ratio",
            "--format",
            "json",
            "-y",
        ])
        .unwrap();
        let Command::Apply(args) = cli.command else {
            panic!("not apply");
        };
        assert_eq!(
            args.allow,
            [Guard::MaxDeactivations, Guard::MaxDeactivationRatio]
        );
        assert_eq!(args.format, FormatArg::Json);
        assert!(args.yes && !args.dry_run);
        let e = parse(&["apply", "--dry-run", "--metrics-textfile", "m.prom"]).unwrap_err();
        assert_eq!(e.kind(), clap::error::ErrorKind::ArgumentConflict);
        let e = parse(&["apply", "--dry-run", "--metrics-push", "http://pg:9091"]).unwrap_err();
        assert_eq!(e.kind(), clap::error::ErrorKind::ArgumentConflict);
        assert!(e.use_stderr());
    }

    #[test]
    fn durations_and_bounds_are_checked_while_parsing() {
        let cli = parse(&["run", "--interval", "15m", "--shutdown-deadline", "45s"]).unwrap();
        let Command::Run {
            interval,
            shutdown_deadline,
            ..
        } = cli.command
        else {
            panic!("not run");
        };
        assert_eq!(interval, Some(Duration::from_secs(900)));
        assert_eq!(shutdown_deadline, Duration::from_secs(45));
        for bad in [
            &["run", "--interval", "soon"][..],
            &["run", "--shutdown-deadline", "2h"],
            &["plan", "--max-bytes", "10"],
            &["plan", "--no-such-flag"],
        ] {
            let e = parse(bad).unwrap_err();
            assert!(e.use_stderr(), "{bad:?}");
        }
        // --help and --version are answers, not errors (exit 0).
        assert!(!parse(&["--help"]).unwrap_err().use_stderr());
        assert!(!parse(&["--version"]).unwrap_err().use_stderr());
    }

    #[test]
    fn the_applied_document_is_byte_for_byte_the_plan_with_its_outcome() {
        let done = Applied::Done(ApplyOutcome {
            ops: vec![
                op("ada@example.com", OpResult::Applied { note: None }),
                op(
                    "bob@example.com",
                    OpResult::Failed {
                        status: Some(409),
                        code: Some("email_taken".into()),
                        message: "taken".into(),
                    },
                ),
                op(
                    "cy@example.com",
                    OpResult::Skipped {
                        reason: "scimsync is shutting down".into(),
                    },
                ),
            ],
            rate_limited: 2,
            ..ApplyOutcome::default()
        });
        let tripped = Applied::GuardTripped(vec![crate::plan::GuardTrip {
            guard: Guard::MaxDeactivations,
            limit: 1.0,
            actual: 2.5,
            message: "too many".into(),
        }]);
        let plan = plan();
        for applied in [done, tripped, Applied::NothingToDo, Applied::NotRequested] {
            let typed = applied_json(&plan, &applied);
            assert_eq!(typed, patched(&plan, &applied));
            let doc: serde_json::Value = serde_json::from_str(&typed).unwrap();
            assert!(
                doc["summary"].is_object() && doc["ops"].is_array(),
                "{typed}"
            );
            assert!(doc["outcome"]["result"].is_string(), "{typed}");
        }
    }

    #[test]
    fn the_outcome_names_its_result_and_counts() {
        let done = Applied::Done(ApplyOutcome {
            ops: vec![op("ada@example.com", OpResult::Applied { note: None })],
            ..ApplyOutcome::default()
        });
        let doc: serde_json::Value = serde_json::from_str(&applied_json(&plan(), &done)).unwrap();
        let outcome = &doc["outcome"];
        assert_eq!(outcome["result"], "applied");
        assert_eq!(outcome["applied"], 1);
        assert_eq!(outcome["failed"], 0);
        assert_eq!(outcome["skipped"], 0);
        assert_eq!(outcome["rate_limited"], 0);
        assert_eq!(outcome["ops"][0]["result"], "applied");
        assert_eq!(doc["conflicts"][0]["subject"], "dup@example.com");
    }
}
