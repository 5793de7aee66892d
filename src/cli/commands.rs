//! The command handlers: each runs one subcommand and returns an [`Outcome`] — a report, a
//! [`Failure`], a declined confirmation, an interruption with its signal. They print the
//! reports they produce as they go (`apply` must show its plan before it asks); the outcome's
//! own words and the exit code are for [`super::finish`], the one place that says them.

use std::io::IsTerminal;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use super::{
    ApplyArgs, Command, EmulatorArgs, FormatArg, GroupFiltersArg, GroupNamesArg, LagScopeArg,
    ParsingArg, PlanArgs, PresetArg, ProfileErrorsArg, SchemaArg, TokenRoleArg, applied_json,
    color, confirm, docs, format_of, print, report_findings, shown, write_stdout,
};
use crate::apply::progress::{Console, Style, show_while};
use crate::config::EnvOverrides;
use crate::diag::escape::{terminal, terminal_text};
use crate::emulator::{
    Emulator, EmulatorConfig, GroupFilters, GroupNames, LagScope, Parsing, Preset, ProfileErrors,
    Store, TokenRole, read_channels,
};
use crate::exit::{self, Failure, Outcome};
use crate::metrics::push::Pushgateway;
use crate::metrics::textfile::{RunMetrics, Textfile};
use crate::pass::{self, Applied, PassError, PassReport, Request};
use crate::plan::Guard;
use crate::plan::render::{self, Format};
use crate::shutdown::{Shutdown, Signal};
use crate::validate::{self as check, SchemaKind};

/// Runs `command`: the ones that need no network at once, the others on a multi-threaded
/// runtime.
pub fn run(command: Command, console: &Arc<Console>) -> Outcome {
    let command = match command {
        Command::Completions { shell } => {
            write_stdout(&docs::completions(shell));
            return Outcome::Done;
        }
        Command::Man { out_dir: None } => {
            write_stdout(&docs::man_page());
            return Outcome::Done;
        }
        Command::Man { out_dir: Some(dir) } => {
            return match docs::write_man_page(&dir) {
                Ok(_) => Outcome::Done,
                Err(e) => Outcome::Failed(Failure::Other(format!(
                    "cannot write the manual page into {}: {e}",
                    dir.display()
                ))),
            };
        }
        Command::Validate { config } => return validate(config.path()),
        Command::Schema { kind } => {
            let kind = match kind {
                SchemaArg::Config => SchemaKind::Config,
                SchemaArg::Directory => SchemaKind::Directory,
            };
            print(&check::json_schema(kind));
            return Outcome::Done;
        }
        other => other,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            return Outcome::Failed(Failure::Other(format!(
                "cannot start the async runtime: {e}"
            )));
        }
    };
    runtime.block_on(run_async(command, console))
}

/// The commands that run on the async runtime.
async fn run_async(command: Command, console: &Arc<Console>) -> Outcome {
    match command {
        Command::Emulator(args) => run_emulator(args).await,
        Command::Plan(args) => run_plan(&args).await,
        Command::Apply(args) => run_apply(&args, console).await,
        Command::Run {
            config,
            listen,
            interval,
            shutdown_deadline,
        } => {
            let options = crate::daemon::RunOptions {
                config: config.config,
                listen,
                interval,
                shutdown_deadline,
            };
            crate::daemon::run(options, Shutdown::on_signals(false)).await
        }
        Command::Healthcheck { url } => healthcheck(&url).await,
        Command::Dump {
            config,
            out,
            as_seed,
        } => run_dump(config.path(), out.as_deref(), as_seed).await,
        Command::Validate { .. }
        | Command::Schema { .. }
        | Command::Completions { .. }
        | Command::Man { .. } => unreachable!("run without the runtime"),
    }
}

fn validate(config: &Path) -> Outcome {
    let today = chrono::Utc::now().date_naive();
    let report = check::validate(config, &EnvOverrides::from_process_env(), today);
    let colors = color::get();
    let stdout_terminal = std::io::stdout().is_terminal();
    let color = colors.for_terminal(stdout_terminal);
    let text = report.render(config, colors.fancy(stdout_terminal), color);
    print(&terminal_text(&text, color));
    if report.is_valid() {
        Outcome::Done
    } else {
        Outcome::Invalid
    }
}

/// Loads the config and prepares a pass for `request`.
async fn prepare(config_path: &Path, request: &Request) -> Result<pass::Prepared, PassError> {
    let config = pass::load_config(config_path)?;
    pass::prepare(config, request, chrono::Utc::now().date_naive()).await
}

/// Writes `text` to `path` with every token-shaped string redacted.
fn write_redacted(path: &Path, text: &str) -> Result<(), Failure> {
    std::fs::write(path, crate::slack_rules::redact_tokens(text).as_bytes()).map_err(|source| {
        Failure::Write {
            path: path.to_path_buf(),
            source,
        }
    })
}

async fn run_plan(args: &PlanArgs) -> Outcome {
    match plan(args).await {
        Ok(outcome) | Err(outcome) => outcome,
    }
}

async fn plan(args: &PlanArgs) -> Result<Outcome, Outcome> {
    let failed = |f: Failure| Outcome::Failed(f);
    if args.max_bytes.is_some() && args.format != FormatArg::Markdown {
        return Err(failed(Failure::Usage(
            "--max-bytes bounds --format markdown only".into(),
        )));
    }
    let report = match prepare(args.config.path(), &Request::default()).await {
        Ok(p) => p.leave_to_exit().finish().await,
        Err(e) => Err(e),
    };
    let report = report.map_err(|e| failed(e.into()))?;
    report_findings(&report);
    if let Some(path) = &args.json_out {
        let json = render::render(&report.plan, Format::Json, false);
        write_redacted(path, &json).map_err(failed)?;
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
        Some(path) => write_redacted(path, &text).map_err(failed)?,
        None => print(&text),
    }
    Ok(Outcome::Planned {
        report: Box::new(report),
        detailed: args.detailed_exitcode,
    })
}

async fn run_apply(args: &ApplyArgs, console: &Arc<Console>) -> Outcome {
    let pushgateway = match args
        .metrics_push
        .as_deref()
        .map(Pushgateway::new)
        .transpose()
    {
        Ok(p) => p,
        Err(e) => return Outcome::Failed(Failure::Other(format!("--metrics-push {e}"))),
    };
    let run_metrics =
        (args.metrics_textfile.is_some() || pushgateway.is_some()).then(RunMetrics::new);
    let request = Request {
        apply: !args.dry_run,
        saved_plan: args.plan.clone(),
        allow: args.allow.clone(),
        observer: run_metrics.as_ref().map(RunMetrics::observer),
        ..Request::default()
    };
    let report_metrics = |result| {
        publish_metrics(
            run_metrics.as_ref(),
            args.metrics_textfile.as_deref(),
            pushgateway.as_ref(),
            result,
        )
    };
    let prepared = match prepare(args.config.path(), &request).await {
        Ok(p) => p.leave_to_exit(),
        Err(e) => {
            report_metrics(Err(&e)).await;
            return Outcome::Failed(e.into());
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
        return Outcome::Declined;
    }
    let (result, signal) = if dry_run {
        (prepared.finish().await, None)
    } else {
        apply_interruptibly(prepared, &request.allow, console).await
    };
    report_metrics(result.as_ref()).await;
    match result {
        Ok(report) => {
            show_applied(&report, json && !dry_run);
            if dry_run {
                Outcome::Planned {
                    report: Box::new(report),
                    detailed: false,
                }
            } else {
                exit::of_applied(report, signal)
            }
        }
        Err(e) => Outcome::Failed(e.into()),
    }
}

/// What `apply` prints once the pass has run: the findings on stderr, the outcome on stdout
/// (with `json`, the one JSON document of the plan and its outcome), and last — after what
/// applied — a state that could not be saved.
fn show_applied(report: &PassReport, json: bool) {
    // Source problems were shown before the plan.
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
    if json {
        print(&applied_json(&report.plan, &report.applied));
    } else if let Applied::Done(outcome) = &report.applied {
        print(&format!("\n{}", terminal_text(&outcome.render(), false)));
    }
    for f in findings.iter().filter(|f| f.topic == "state") {
        say!("{}: {}", f.severity, terminal(&f.text));
    }
}

/// `apply --metrics-textfile` and `--metrics-push`: the run's metrics, whatever its outcome,
/// written to the file (carrying its history) and pushed (what the file holds, or this run's
/// series without a file). A failure of either is a warning: the exit code stays the run's.
async fn publish_metrics(
    run: Option<&RunMetrics>,
    textfile: Option<&Path>,
    pushgateway: Option<&Pushgateway>,
    result: Result<&PassReport, &PassError>,
) {
    let Some(run) = run else { return };
    let finished = run.finish(result);
    let mut text = finished.text.clone();
    if let Some(path) = textfile {
        match Textfile::new(path).write(&finished) {
            Ok(written) => text = written,
            Err(e) => say!(
                "warning: cannot write the metrics file {}: {e}",
                path.display()
            ),
        }
    }
    if let Some(pushgateway) = pushgateway
        && let Err(e) = pushgateway.push(&text).await
    {
        say!("warning: cannot push the metrics to the Pushgateway: {e}");
    }
}

/// Applies, showing progress on stderr (a bar on a terminal, log lines otherwise). The first
/// SIGINT, SIGTERM or SIGHUP starts no further change and lets those in flight finish (the
/// summary and the audit log's `apply_end` follow); a second one exits at once. Also returns
/// the signal that stopped the apply, if one did.
async fn apply_interruptibly(
    prepared: pass::Prepared,
    allow: &[Guard],
    console: &Arc<Console>,
) -> (Result<PassReport, PassError>, Option<Signal>) {
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
    (result, shutdown.signal())
}

async fn run_dump(config_path: &Path, out: Option<&Path>, as_seed: bool) -> Outcome {
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
        Err(e) => return Outcome::Failed(e.into()),
    };
    let yaml = if as_seed {
        crate::directory::dump::seed::dump_as_seed(&live)
    } else {
        crate::directory::dump::dump(&live)
    };
    // A one-shot command: the listing is left to the process's exit, not freed record by record.
    std::mem::forget(live);
    match out {
        Some(path) => match std::fs::write(path, yaml) {
            Ok(()) => Outcome::Done,
            Err(source) => Outcome::Failed(Failure::Write {
                path: path.to_path_buf(),
                source,
            }),
        },
        None => {
            print(&yaml);
            Outcome::Done
        }
    }
}

async fn healthcheck(url: &str) -> Outcome {
    let client = match crate::scim::http_client_builder()
        .timeout(Duration::from_secs(5))
        .build()
    {
        Ok(c) => c,
        Err(e) => return Outcome::Failed(Failure::Other(e.to_string())),
    };
    match client.get(url).send().await {
        Ok(r) if r.status().is_success() => Outcome::Done,
        Ok(r) => Outcome::Failed(Failure::Unhealthy(format!("{url} answered {}", r.status()))),
        Err(e) => Outcome::Failed(Failure::Unhealthy(format!("{url}: {e}"))),
    }
}

/// The emulator's settings from its flags (`token` is the bearer token to accept): the
/// preset's, with every flag given changing its one setting.
fn emulator_config(args: &EmulatorArgs, token: String) -> Result<EmulatorConfig, Failure> {
    let mut config = EmulatorConfig::preset(match args.preset {
        PresetArg::Kind => Preset::Kind,
        PresetArg::LikeSlack => Preset::LikeSlack,
    });
    config.token = token;
    config.rate_limit_scale = (!args.no_rate_limits).then_some(args.time_scale);
    let faults = &mut config.faults;
    faults.error_rate = args.error_rate.unwrap_or(faults.error_rate);
    faults.drop_rate = args.drop_rate.unwrap_or(faults.drop_rate);
    faults.latency = Duration::from_millis(args.latency_ms);
    faults.seed = args.random_seed;
    config.write_hold = Duration::from_millis(args.write_hold_ms);
    config.token_role = match args.token_role {
        TokenRoleArg::Owner => TokenRole::Owner,
        TokenRoleArg::Admin => TokenRole::Admin,
    };
    config.persist = args.persist.clone();
    if let Some(ms) = args.read_lag_ms {
        config.read_lag = Duration::from_millis(ms);
    }
    emulator_readings(args, &mut config);
    config.photo_reading = match args.photo_reading {
        crate::cli::PhotoReadingArg::Rehost => crate::emulator::PhotoReading::Rehost,
        crate::cli::PhotoReadingArg::Echo => crate::emulator::PhotoReading::Echo,
    };
    config.profile_url_reading = args.profile_url_reading;
    config.address_reading = args.address_reading;
    config.role_reading = args.role_reading;
    config.custom_profile_fields = args.custom_profile_fields;
    config
        .invalid_values
        .clone_from(&args.drop_profile_on_invalid);
    config.channels = args.channels.clone();
    if let Some(path) = &args.channels_file {
        let names = read_channels(path).map_err(|e| {
            Failure::Other(format!(
                "cannot read the channel list {}: {e}",
                path.display()
            ))
        })?;
        config.channels.extend(names);
    }
    config.header_timeout = Duration::from_millis(args.header_timeout_ms);
    Ok(config)
}

/// The readings of what Slack leaves open, where a flag names one.
fn emulator_readings(args: &EmulatorArgs, config: &mut EmulatorConfig) {
    if let Some(scope) = args.lag_scope {
        config.lag_scope = match scope {
            LagScopeArg::All => LagScope::All,
            LagScopeArg::Deactivation => LagScope::Deactivation,
            LagScopeArg::Photo => LagScope::Photo,
        };
    }
    if let Some(names) = args.group_names {
        config.group_names = match names {
            GroupNamesArg::Unique => GroupNames::Unique,
            GroupNamesArg::Duplicate => GroupNames::Duplicate,
        };
    }
    if let Some(errors) = args.profile_errors {
        config.profile_errors = match errors {
            ProfileErrorsArg::Drop => ProfileErrors::Drop,
            ProfileErrorsArg::Strict => ProfileErrors::Strict,
        };
    }
    if let Some(parsing) = args.parsing {
        config.parsing = match parsing {
            ParsingArg::Lenient => Parsing::Lenient,
            ParsingArg::Strict => Parsing::Strict,
        };
    }
    if let Some(filters) = args.group_filters {
        config.group_filters = match filters {
            GroupFiltersArg::Honour => GroupFilters::Honour,
            GroupFiltersArg::Refuse => GroupFilters::Refuse,
            GroupFiltersArg::Ignore => GroupFilters::Ignore,
        };
    }
}

async fn run_emulator(args: EmulatorArgs) -> Outcome {
    let id_prefix = if args.grid { 'W' } else { 'U' };
    let seed_file = args
        .seed
        .clone()
        .or_else(|| args.persist.clone().filter(|p| p.exists()));
    let store = match &seed_file {
        Some(path) => match Store::load(path, id_prefix, args.random_seed) {
            Ok(s) => s,
            Err(e) => return Outcome::Failed(Failure::Other(e.to_string())),
        },
        None => Store::default_org(id_prefix, args.random_seed),
    };
    let token =
        std::env::var(&args.token_env).unwrap_or_else(|_| super::DEFAULT_EMULATOR_TOKEN.into());
    let config = match emulator_config(&args, token) {
        Ok(c) => c,
        Err(e) => return Outcome::Failed(e),
    };
    let emulator = match Emulator::start(config, store, args.listen).await {
        Ok(e) => e,
        Err(e) => {
            return Outcome::Failed(Failure::Other(format!(
                "cannot listen on {}: {e}",
                args.listen
            )));
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
        Ok(()) => Outcome::Done,
        Err(e) => Outcome::Failed(Failure::Other(format!(
            "cannot persist the emulator state: {e}"
        ))),
    }
}

#[cfg(test)]
mod emulator_flag_tests {
    use clap::Parser;

    use super::*;

    fn config_of(flags: &[&str]) -> EmulatorConfig {
        let args = ["scimsync", "emulator"].iter().chain(flags);
        let cli = super::super::Cli::try_parse_from(args).unwrap();
        let Command::Emulator(args) = cli.command else {
            panic!("not the emulator command");
        };
        emulator_config(&args, "t".into()).unwrap()
    }

    #[test]
    fn a_preset_is_the_base_and_each_flag_changes_one_setting() {
        let kind = config_of(&[]);
        assert_eq!(kind.parsing, Parsing::Lenient);
        assert_eq!(kind.read_lag, Duration::ZERO);
        assert_eq!(kind.faults.error_rate, 0.0);
        assert_eq!(kind.rate_limit_scale, Some(1.0));

        let slack = config_of(&["--preset", "like-slack"]);
        assert_eq!(slack.parsing, Parsing::Strict);
        assert_eq!(slack.lag_scope, LagScope::Deactivation);
        assert_eq!(slack.read_lag, Duration::from_secs(3));
        assert_eq!(slack.group_names, GroupNames::Duplicate);
        assert_eq!(slack.group_filters, GroupFilters::Refuse);
        assert!(slack.faults.drop_rate > 0.0);

        let changed = config_of(&[
            "--preset",
            "like-slack",
            "--read-lag-ms",
            "20000",
            "--lag-scope",
            "all",
            "--parsing",
            "lenient",
            "--group-filters",
            "ignore",
            "--error-rate",
            "0",
        ]);
        assert_eq!(changed.read_lag, Duration::from_secs(20));
        assert_eq!(changed.lag_scope, LagScope::All);
        assert_eq!(changed.parsing, Parsing::Lenient);
        assert_eq!(changed.group_filters, GroupFilters::Ignore);
        assert_eq!(changed.faults.error_rate, 0.0);
        assert!(
            changed.faults.drop_rate > 0.0,
            "the preset's other settings stay"
        );
        assert_eq!(changed.group_names, GroupNames::Duplicate);
    }

    #[test]
    fn a_channels_file_adds_to_the_channels_and_a_missing_one_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("channels.txt");
        std::fs::write(&file, "#support\ndesign\n").unwrap();
        let c = config_of(&[
            "--channels",
            "ops",
            "--channels-file",
            file.to_str().unwrap(),
        ]);
        assert_eq!(c.channels, ["ops", "support", "design"]);

        let missing = dir.path().join("nope.txt");
        let cli = super::super::Cli::try_parse_from([
            "scimsync",
            "emulator",
            "--channels-file",
            missing.to_str().unwrap(),
        ])
        .unwrap();
        let Command::Emulator(args) = cli.command else {
            panic!("not the emulator command");
        };
        let Err(Failure::Other(e)) = emulator_config(&args, "t".into()) else {
            panic!("a missing channel list is an error");
        };
        assert!(e.contains("nope.txt"), "{e}");
    }
}
