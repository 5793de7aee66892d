//! The command line: parse, set up logging, run a command, map the outcome to an exit code.
//! Results go to stdout, logs to stderr.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use std::io::{IsTerminal, Write};

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::config::{DEFAULT_CONFIG_PATH, EnvOverrides};
use crate::diag::{render_fancy, render_plain};
use crate::emulator::{
    Emulator, EmulatorConfig, Faults, GroupNames, ProfileErrors, Store, TokenRole,
};
use crate::exit;
use crate::pass::{self, Applied, PassError, PassReport, Request};
use crate::plan::Guard;
use crate::plan::render::{self, Format};
use crate::validate::{self as check, SchemaKind};

/// Writes a line to stderr with every token-shaped string redacted.
macro_rules! say {
    ($($arg:tt)*) => {
        say_raw!("{}\n", format_args!($($arg)*))
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
    version,
    about = "Keep Slack's people and groups equal to a declared directory."
)]
pub struct Cli {
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Auto)]
    pub log_format: LogFormat,
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
        #[arg(long, short, default_value = DEFAULT_CONFIG_PATH)]
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
    /// tripped (nothing written), 4 partial.
    Apply(ApplyArgs),
    /// Reconcile every `daemon.interval` until stopped: the container mode. Serves
    /// /healthz, /readyz, /metrics and POST /reconcile on `daemon.listen`.
    Run {
        /// The config file (re-read every pass).
        #[arg(long, short, default_value = DEFAULT_CONFIG_PATH)]
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
        #[arg(long, short, default_value = DEFAULT_CONFIG_PATH)]
        config: PathBuf,
        /// Write to this file instead of stdout.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Serve the Slack-faithful SCIM emulator (v1 and v2) until interrupted.
    Emulator(EmulatorArgs),
}

/// Options of `scimsync plan`.
#[derive(Debug, Args)]
pub struct PlanArgs {
    /// The config file.
    #[arg(long, short, default_value = DEFAULT_CONFIG_PATH)]
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
}

/// Options of `scimsync apply`.
#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// The config file.
    #[arg(long, short, default_value = DEFAULT_CONFIG_PATH)]
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
    let cli = match Cli::try_parse() {
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
    init_logging(cli.log_format);
    let command = match cli.command {
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
            Command::Apply(args) => run_apply(&args).await,
            Command::Run {
                config,
                listen,
                interval,
                shutdown_deadline,
            } => {
                crate::daemon::run(crate::daemon::RunOptions {
                    config,
                    listen,
                    interval,
                    shutdown_deadline,
                })
                .await
            }
            Command::Healthcheck { url } => healthcheck(&url).await,
            Command::Dump { config, out } => run_dump(&config, out.as_deref()).await,
            Command::Validate { .. } | Command::Schema { .. } => unreachable!("handled above"),
        }
    });
    ExitCode::from(code)
}

fn validate(config: &std::path::Path) -> ExitCode {
    let today = chrono::Utc::now().date_naive();
    let report = check::validate(config, &EnvOverrides::from_process_env(), today);
    let fancy = std::io::stdout().is_terminal();
    print(&report.render(config, fancy));
    if report.is_valid() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(exit::ERROR)
    }
}

/// Prints a pass error to stderr: config and directory problems with their locations.
fn report_error(e: &PassError) {
    let fancy = std::io::stderr().is_terminal();
    let problems = match e {
        PassError::Config(c) if fancy => render_fancy(&c.problems),
        PassError::Config(c) => render_plain(&c.problems),
        PassError::Directory(d) if fancy => render_fancy(&d.problems),
        PassError::Directory(d) => render_plain(&d.problems),
        _ => String::new(),
    };
    say_raw!("{problems}");
    say!("error: {e}");
}

/// Prints what the pass found besides the plan (skipped rows, source warnings, guard trips)
/// to stderr: the same findings the daemon logs.
fn report_findings(report: &PassReport) {
    for f in report.findings() {
        match f.topic {
            "source" => say!("{}", f.text),
            _ => say!("{}: {}", f.severity, f.text),
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
    let color = args.out.is_none() && std::io::stdout().is_terminal();
    let text = render::render(&report.plan, format_of(args.format), color);
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

async fn run_apply(args: &ApplyArgs) -> u8 {
    let request = Request {
        apply: !args.dry_run,
        saved_plan: args.plan.clone(),
        allow: args.allow.clone(),
    };
    let prepared = match prepare(&args.config, &request).await {
        Ok(p) => p.one_shot(),
        Err(e) => {
            report_error(&e);
            return exit::of_error(&e);
        }
    };
    let color = std::io::stdout().is_terminal();
    for p in &prepared.source_problems {
        say!("{p}");
    }
    let dry_run = args.dry_run;
    // With --format json stdout is one JSON document: the plan, and once applied its outcome.
    let json = args.format == FormatArg::Json;
    if !json || dry_run {
        print(&render::render(
            &prepared.plan,
            format_of(args.format),
            color,
        ));
    }
    let result = if dry_run {
        prepared.finish().await
    } else {
        prepared.apply(&request.allow, None).await
    };
    let report = match result {
        Ok(r) => r,
        Err(e) => {
            report_error(&e);
            return exit::of_error(&e);
        }
    };
    // Source problems were shown before the plan; the rest of the findings now.
    for f in report.findings().iter().filter(|f| f.topic != "source") {
        say!("{}: {}", f.severity, f.text);
    }
    if let Applied::GuardTripped(_) = &report.applied {
        say!("nothing was written");
    }
    if json && !dry_run {
        print(&applied_json(&report));
    } else if let Applied::Done(outcome) = &report.applied {
        print(&format!("\n{}", outcome.render()));
    }
    if dry_run {
        exit::of_plan(&report, false)
    } else {
        exit::of_apply(&report)
    }
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

/// Writes to stdout, ignoring a closed pipe (`scimsync schema config | head`), with every
/// token-shaped string redacted.
fn print(text: &str) {
    let _ = std::io::stdout()
        .lock()
        .write_all(crate::slack_rules::redact_tokens(text).as_bytes());
}

/// stderr for the log, with every token-shaped string redacted from each write (tracing writes
/// an event at a time).
struct RedactingStderr;

impl std::io::Write for RedactingStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        std::io::stderr()
            .lock()
            .write_all(crate::slack_rules::redact_tokens(&text).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SCIMSYNC_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let json = match format {
        LogFormat::Json => true,
        LogFormat::Text => false,
        LogFormat::Auto => !std::io::stderr().is_terminal(),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| RedactingStderr);
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
    crate::daemon::wait_for_signal().await;
    match emulator.shutdown().await {
        Ok(()) => exit::OK,
        Err(e) => {
            say!("error: cannot persist the emulator state: {e}");
            exit::ERROR
        }
    }
}
