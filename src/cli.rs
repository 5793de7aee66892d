//! The command line: parse, set up logging, run a command, map the outcome to an exit code.
//! Results go to stdout, logs to stderr. Parts live in `src/cli/`: colour (`--color`,
//! `NO_COLOR`), the confirmation on a terminal, completions and the manual page.
//!
//! What reaches a terminal is escaped ([`crate::diag::escape`]): each value from outside (a
//! finding, an error, a source problem) on its own line, and every line `say!` writes, the text
//! and markdown plans and the text log as a whole, so a control sequence in a name, a title or a
//! Slack error message is shown, never obeyed.

mod color;
mod confirm;
mod docs;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use std::io::{IsTerminal, Write};

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::apply::progress::{Console, Style, show_while};
use crate::config::{DEFAULT_CONFIG_PATH, EnvOverrides};
use crate::diag::escape::{terminal, terminal_text};
use crate::diag::render_fancy;
use crate::emulator::{
    Emulator, EmulatorConfig, Faults, GroupNames, ProfileErrors, Store, TokenRole,
};
use crate::exit;
use crate::metrics::textfile::Textfile;
use crate::pass::{self, Applied, PassError, PassReport, Request};
use crate::plan::Guard;
use crate::plan::render::{self, Format};
use crate::shutdown::Shutdown;
use crate::validate::{self as check, SchemaKind};

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
        let _ = std::io::stderr()
            .lock()
            .write_all(crate::slack_rules::redact_tokens(&text).as_bytes());
    }};
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
        #[arg(long, short, env = CONFIG_ENV, default_value = DEFAULT_CONFIG_PATH)]
        config: PathBuf,
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
        #[arg(long, short, env = CONFIG_ENV, default_value = DEFAULT_CONFIG_PATH)]
        config: PathBuf,
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
    /// Write the live Slack organisation as a directory YAML (to adopt an existing org).
    Dump {
        /// The config file (for the target).
        #[arg(long, short, env = CONFIG_ENV, default_value = DEFAULT_CONFIG_PATH)]
        config: PathBuf,
        /// Write to this file instead of stdout.
        #[arg(long)]
        out: Option<PathBuf>,
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
    #[arg(long, short, env = CONFIG_ENV, default_value = DEFAULT_CONFIG_PATH)]
    pub config: PathBuf,
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
    #[arg(long, short, env = CONFIG_ENV, default_value = DEFAULT_CONFIG_PATH)]
    pub config: PathBuf,
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
    /// Seed the organisation from this YAML or JSON file (format: README, "Emulator").
    #[arg(long)]
    pub seed: Option<PathBuf>,
    /// Persist the state to this JSON file after writes; loaded at start if it exists.
    #[arg(long)]
    pub persist: Option<PathBuf>,
    /// Environment variable holding the bearer token to accept.
    #[arg(long, default_value = "SCIMSYNC_EMULATOR_TOKEN")]
    pub token_env: String,
    /// Run Slack's rate limits this many times faster.
    #[arg(long, default_value_t = 1.0)]
    pub time_scale: f64,
    /// Turn rate limiting off.
    #[arg(long)]
    pub no_rate_limits: bool,
    /// Probability of answering 500/503.
    #[arg(long, default_value_t = 0.0)]
    pub error_rate: f64,
    /// Probability of dropping the connection.
    #[arg(long, default_value_t = 0.0)]
    pub drop_rate: f64,
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
    /// Reads (listings, filtered GETs, GET by id) show the state as it was this many
    /// milliseconds ago, as Slack's lagging reads do; writes and uniqueness see the truth.
    #[arg(long, default_value_t = 0, value_name = "MS")]
    pub read_lag_ms: u64,
    /// Whether a second group with an existing name is refused (409) or created.
    #[arg(long, value_enum, default_value_t = GroupNamesArg::Unique)]
    pub group_names: GroupNamesArg,
    /// A create with invalid profile data: `drop` every profile field silently (Slack's
    /// documented behaviour) or answer 400 naming the field (`strict`).
    #[arg(long, value_enum, default_value_t = ProfileErrorsArg::Drop)]
    pub profile_errors: ProfileErrorsArg,
    /// Channel names that share the user-name namespace, besides general and random.
    #[arg(long, value_delimiter = ',', value_name = "NAME,...")]
    pub channels: Vec<String>,
    /// How long a client may take to send a request's headers (on a new or an idle
    /// connection) before it is disconnected, in milliseconds.
    #[arg(long, default_value_t = 10_000, value_name = "MS",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub header_timeout_ms: u64,
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

/// The `scimsync` binary: parses the command line, runs the command (async ones on a
/// multi-threaded runtime) and returns its exit code (see [`exit`]).
pub fn main() -> ExitCode {
    // A panic's message goes through the same redaction as every other line.
    std::panic::set_hook(Box::new(|info| {
        say!("internal error: {info}");
    }));
    let cli = match parse_args() {
        Ok(cli) => cli,
        Err(e) => {
            // --help and --version are answers, not errors.
            let code = if e.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    color::set(color::Colors::from_env(cli.color));
    let console = Console::new();
    init_logging(cli.log_format, console.clone());
    let command = match cli.command {
        Command::Completions { shell } => {
            write_stdout(&docs::completions(shell));
            return ExitCode::SUCCESS;
        }
        Command::Man { out_dir: None } => {
            write_stdout(&docs::man_page());
            return ExitCode::SUCCESS;
        }
        Command::Man { out_dir: Some(dir) } => {
            return match docs::write_man_page(&dir) {
                Ok(_) => ExitCode::SUCCESS,
                Err(e) => {
                    say!(
                        "error: cannot write the manual page into {}: {e}",
                        dir.display()
                    );
                    ExitCode::from(exit::ERROR)
                }
            };
        }
        Command::Validate { config } => return validate(&config),
        Command::Schema { kind } => {
            let kind = match kind {
                SchemaArg::Config => SchemaKind::Config,
                SchemaArg::Directory => SchemaKind::Directory,
            };
            print(&check::json_schema(kind));
            return ExitCode::SUCCESS;
        }
        other => other,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            say!("error: cannot start the async runtime: {e}");
            return ExitCode::from(exit::ERROR);
        }
    };
    let code = runtime.block_on(async {
        match command {
            Command::Emulator(args) => run_emulator(args).await,
            Command::Plan(args) => run_plan(&args).await,
            Command::Apply(args) => run_apply(&args, &console).await,
            Command::Run {
                config,
                listen,
                interval,
                shutdown_deadline,
            } => {
                let options = crate::daemon::RunOptions {
                    config,
                    listen,
                    interval,
                    shutdown_deadline,
                };
                crate::daemon::run(options, Shutdown::on_signals(false)).await
            }
            Command::Healthcheck { url } => healthcheck(&url).await,
            Command::Dump { config, out } => run_dump(&config, out.as_deref()).await,
            Command::Validate { .. }
            | Command::Schema { .. }
            | Command::Completions { .. }
            | Command::Man { .. } => unreachable!("handled above"),
        }
    });
    ExitCode::from(code)
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

fn validate(config: &std::path::Path) -> ExitCode {
    let today = chrono::Utc::now().date_naive();
    let report = check::validate(config, &EnvOverrides::from_process_env(), today);
    let colors = color::get();
    let stdout_terminal = std::io::stdout().is_terminal();
    let color = colors.for_terminal(stdout_terminal);
    let text = report.render(config, colors.fancy(stdout_terminal), color);
    print(&terminal_text(&text, color));
    if report.is_valid() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(exit::ERROR)
    }
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

/// Loads the config and prepares a pass for `request`.
async fn prepare(
    config_path: &std::path::Path,
    request: &Request,
) -> Result<pass::Prepared, PassError> {
    let config = pass::load_config(config_path)?;
    pass::prepare(config, request, chrono::Utc::now().date_naive()).await
}

async fn run_plan(args: &PlanArgs) -> u8 {
    if args.max_bytes.is_some() && args.format != FormatArg::Markdown {
        say!("error: --max-bytes bounds --format markdown only");
        return exit::USAGE;
    }
    let report = match prepare(&args.config, &Request::default()).await {
        Ok(p) => p.one_shot().finish().await,
        Err(e) => Err(e),
    };
    let report = match report {
        Ok(r) => r,
        Err(e) => {
            report_error(&e);
            return exit::of_error(&e);
        }
    };
    report_findings(&report);
    if let Some(path) = &args.json_out {
        let json = render::render(&report.plan, Format::Json, false);
        if let Err(e) = std::fs::write(path, crate::slack_rules::redact_tokens(&json).as_bytes()) {
            say!("error: cannot write {}: {e}", path.display());
            return exit::ERROR;
        }
    }
    // A file gets colour only when asked for with --color always.
    let color = color::get().for_terminal(args.out.is_none() && std::io::stdout().is_terminal());
    let text = match args.max_bytes {
        Some(max) => {
            render::markdown_bounded(&report.plan, usize::try_from(max).unwrap_or(usize::MAX))
        }
        None => shown(
            render::render(&report.plan, format_of(args.format), color),
            args.format,
            color,
        ),
    };
    match &args.out {
        Some(path) => {
            if let Err(e) =
                std::fs::write(path, crate::slack_rules::redact_tokens(&text).as_bytes())
            {
                say!("error: cannot write {}: {e}", path.display());
                return exit::ERROR;
            }
        }
        None => print(&text),
    }
    exit::of_plan(&report, args.detailed_exitcode)
}

async fn run_apply(args: &ApplyArgs, console: &Arc<Console>) -> u8 {
    let textfile = args.metrics_textfile.as_deref().map(Textfile::new);
    let request = Request {
        apply: !args.dry_run,
        saved_plan: args.plan.clone(),
        allow: args.allow.clone(),
        observer: textfile.as_ref().map(Textfile::observer),
    };
    let prepared = match prepare(&args.config, &request).await {
        Ok(p) => p.one_shot(),
        Err(e) => {
            write_textfile(textfile.as_ref(), Err(&e));
            report_error(&e);
            return exit::of_error(&e);
        }
    };
    let color = color::get().stdout();
    for p in &prepared.source_problems {
        say!("{}", terminal(&p.to_string()));
    }
    let dry_run = args.dry_run;
    // With --format json stdout is one JSON document: the plan, and once applied its outcome.
    let json = args.format == FormatArg::Json;
    if !json || dry_run {
        print(&shown(
            render::render(&prepared.plan, format_of(args.format), color),
            args.format,
            color,
        ));
    }
    if !dry_run && !confirm::before_apply(&prepared.plan, &request.allow, args.yes, json).await {
        let _ = prepared.finish().await;
        say!("Not applied: the answer was not 'yes'. Nothing was written.");
        return exit::DECLINED;
    }
    let (result, interrupted) = if dry_run {
        (prepared.finish().await, None)
    } else {
        apply_interruptibly(prepared, &request.allow, console).await
    };
    write_textfile(textfile.as_ref(), result.as_ref());
    let report = match result {
        Ok(r) => r,
        Err(e) => {
            report_error(&e);
            return exit::of_error(&e);
        }
    };
    // Source problems were shown before the plan; the rest of the findings now, but a state
    // that could not be saved only after what applied.
    let findings = report.findings();
    for f in findings
        .iter()
        .filter(|f| !matches!(f.topic, "source" | "state"))
    {
        say!("{}: {}", f.severity, terminal(&f.text));
    }
    if let Applied::GuardTripped(_) = &report.applied {
        say!("nothing was written");
    }
    if json && !dry_run {
        print(&applied_json(&report));
    } else if let Applied::Done(outcome) = &report.applied {
        print(&format!("\n{}", terminal_text(&outcome.render(), false)));
    }
    for f in findings.iter().filter(|f| f.topic == "state") {
        say!("{}: {}", f.severity, terminal(&f.text));
    }
    if let (Some(code), Applied::Done(o)) = (interrupted, &report.applied) {
        say!(
            "interrupted: {} of {} changes applied, {} not started; exit {code}",
            o.applied(),
            o.ops.len(),
            o.not_started()
        );
        return code;
    }
    if dry_run {
        exit::of_plan(&report, false)
    } else {
        exit::of_apply(&report)
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

/// `apply --metrics-textfile`: the run's metrics, whatever its outcome; a failure to write them
/// is a warning (the exit code stays the run's).
fn write_textfile(textfile: Option<&Textfile>, result: Result<&PassReport, &PassError>) {
    if let Some(t) = textfile
        && let Err(e) = t.write(result)
    {
        say!(
            "warning: cannot write the metrics file {}: {e}",
            t.path().display()
        );
    }
}

/// Applies, showing progress on stderr (a bar on a terminal, log lines otherwise). The first
/// SIGINT, SIGTERM or SIGHUP starts no further change and lets those in flight finish (the
/// summary and the audit log's `apply_end` follow); a second one exits at once. Also returns
/// the exit code of the signal that stopped the apply, if one did.
async fn apply_interruptibly(
    prepared: pass::Prepared,
    allow: &[Guard],
    console: &Arc<Console>,
) -> (Result<PassReport, PassError>, Option<u8>) {
    let shutdown = Shutdown::on_signals(true);
    let notices = tokio::spawn({
        let (shutdown, console) = (shutdown.clone(), console.clone());
        async move {
            shutdown.stopping().await;
            let _ = console.write(b"");
            say!(
                "interrupted: starting no more changes, finishing those in flight (again to abort)"
            );
            shutdown.aborting().await;
            say!("aborted: changes in flight may or may not have applied");
            let code = shutdown.signal().map_or(exit::ABORTED, exit::of_signal);
            // The one exit outside `main`: a second signal must end the process at once,
            // without waiting for the changes in flight.
            std::process::exit(i32::from(code));
        }
    });
    let style = if std::io::stderr().is_terminal() {
        Style::Bar(console.clone())
    } else {
        Style::Lines
    };
    let progress = prepared.progress.clone();
    let result = show_while(progress, style, prepared.apply(allow, &shutdown)).await;
    notices.abort();
    (result, shutdown.signal().map(exit::of_signal))
}

/// `apply --format json`'s one document: the JSON plan with an `outcome` member — `result`
/// (`applied`, `guard_tripped` or `nothing_to_do`), the guards that tripped, and every op's
/// result.
fn applied_json(report: &PassReport) -> String {
    let plan = render::render(&report.plan, Format::Json, false);
    let mut doc: serde_json::Value =
        serde_json::from_str(&plan).expect("the JSON plan renderer writes JSON");
    let outcome = match &report.applied {
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
    doc["outcome"] = outcome;
    let mut text = serde_json::to_string_pretty(&doc).expect("JSON values serialise");
    text.push('\n');
    text
}

async fn run_dump(config_path: &std::path::Path, out: Option<&std::path::Path>) -> u8 {
    let result = async {
        let config = pass::load_config(config_path)?;
        let connection = pass::Connection::open(&config).await?;
        let live = connection.read_live().await;
        connection.close().await?;
        live
    }
    .await;
    let live = match result {
        Ok(l) => l,
        Err(e) => {
            report_error(&e);
            return exit::ERROR;
        }
    };
    let yaml = crate::directory::dump::dump(&live);
    // A one-shot command: the listing is left to the process's exit, not freed record by record.
    std::mem::forget(live);
    match out {
        Some(path) => match std::fs::write(path, yaml) {
            Ok(()) => exit::OK,
            Err(e) => {
                say!("error: cannot write {}: {e}", path.display());
                exit::ERROR
            }
        },
        None => {
            print(&yaml);
            exit::OK
        }
    }
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

async fn healthcheck(url: &str) -> u8 {
    let client = match crate::scim::http_client_builder()
        .timeout(Duration::from_secs(5))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            say!("error: {e}");
            return exit::ERROR;
        }
    };
    match client.get(url).send().await {
        Ok(r) if r.status().is_success() => exit::OK,
        Ok(r) => {
            say!("unhealthy: {url} answered {}", r.status());
            exit::ERROR
        }
        Err(e) => {
            say!("unhealthy: {url}: {e}");
            exit::ERROR
        }
    }
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

/// stderr for the log, with every token-shaped string redacted from each write (tracing writes
/// an event at a time); a text log also has its control characters escaped
/// ([`terminal_text`]: line breaks and, with colour, colour sequences stay).
struct RedactingStderr {
    /// `None` for JSON lines (serde escapes them); for text, whether it is coloured.
    text_colours: Option<bool>,
    /// Where the lines go: stderr, shared with the progress bar.
    console: Arc<Console>,
}

impl std::io::Write for RedactingStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let raw = String::from_utf8_lossy(buf);
        let text = match self.text_colours {
            Some(colours) => terminal_text(&raw, colours),
            None => raw,
        };
        // A log line never runs into the progress bar: the console clears it first.
        self.console
            .write(crate::slack_rules::redact_tokens(&text).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

fn init_logging(format: LogFormat, console: Arc<Console>) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SCIMSYNC_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let json = match format {
        LogFormat::Json => true,
        LogFormat::Text => false,
        LogFormat::Auto => !std::io::stderr().is_terminal(),
    };
    let colours = color::get().stderr();
    let text_colours = (!json).then_some(colours);
    let builder = tracing_subscriber::fmt()
        .with_ansi(colours)
        .with_env_filter(filter)
        .with_writer(move || RedactingStderr {
            text_colours,
            console: console.clone(),
        });
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

async fn run_emulator(args: EmulatorArgs) -> u8 {
    let id_prefix = if args.grid { 'W' } else { 'U' };
    let seed_file = args
        .seed
        .clone()
        .or_else(|| args.persist.clone().filter(|p| p.exists()));
    let store = match &seed_file {
        Some(path) => match Store::load(path, id_prefix, args.random_seed) {
            Ok(s) => s,
            Err(e) => {
                say!("error: {e}");
                return exit::ERROR;
            }
        },
        None => Store::default_org(id_prefix, args.random_seed),
    };
    let config = EmulatorConfig {
        token: std::env::var(&args.token_env).unwrap_or_else(|_| DEFAULT_EMULATOR_TOKEN.into()),
        rate_limit_scale: (!args.no_rate_limits).then_some(args.time_scale),
        faults: Faults {
            error_rate: args.error_rate,
            drop_rate: args.drop_rate,
            latency: Duration::from_millis(args.latency_ms),
            seed: args.random_seed,
        },
        write_hold: Duration::from_millis(args.write_hold_ms),
        token_role: match args.token_role {
            TokenRoleArg::Owner => TokenRole::Owner,
            TokenRoleArg::Admin => TokenRole::Admin,
        },
        persist: args.persist.clone(),
        read_lag: Duration::from_millis(args.read_lag_ms),
        group_names: match args.group_names {
            GroupNamesArg::Unique => GroupNames::Unique,
            GroupNamesArg::Duplicate => GroupNames::Duplicate,
        },
        profile_errors: match args.profile_errors {
            ProfileErrorsArg::Drop => ProfileErrors::Drop,
            ProfileErrorsArg::Strict => ProfileErrors::Strict,
        },
        channels: args.channels.clone(),
        header_timeout: Duration::from_millis(args.header_timeout_ms),
        ..EmulatorConfig::default()
    };
    let emulator = match Emulator::start(config, store, args.listen).await {
        Ok(e) => e,
        Err(e) => {
            say!("error: cannot listen on {}: {e}", args.listen);
            return exit::ERROR;
        }
    };
    tracing::info!(
        v1 = %emulator.base_url(crate::scim::Version::V1),
        v2 = %emulator.base_url(crate::scim::Version::V2),
        "emulator listening"
    );
    // Tell a parent process (or a person) where to connect, on stdout.
    print(&format!(
        "{}\n",
        emulator.base_url(crate::scim::Version::V2)
    ));
    Shutdown::on_signals(false).stopping().await;
    match emulator.shutdown().await {
        Ok(()) => exit::OK,
        Err(e) => {
            say!("error: cannot persist the emulator state: {e}");
            exit::ERROR
        }
    }
}
