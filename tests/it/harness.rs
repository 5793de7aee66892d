//! Shared test plumbing: start an emulator, talk to it.

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use reqwest::{Client, Method, Response};
use scimsync::emulator::{Emulator, EmulatorConfig, Store};
use scimsync::scim::Version;
use serde_json::Value;

pub struct Org {
    pub emu: Emulator,
    pub http: Client,
}

/// An emulator with the default organisation (primary owner, bot, Team Admins) and no limits.
pub async fn org() -> Org {
    org_with(EmulatorConfig::default(), Store::default_org('U', 1)).await
}

pub async fn org_with(config: EmulatorConfig, store: Store) -> Org {
    let emu = Emulator::start(config, store, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("emulator starts");
    let http = scimsync::scim::http_client_builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    Org { emu, http }
}

/// A response's status, headers and JSON body (`Null` when empty).
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub raw: String,
    pub body: Value,
}

impl Reply {
    /// The error code of either error shape.
    pub fn code(&self) -> String {
        let e: scimsync::scim::types::ErrorBody =
            serde_json::from_value(self.body.clone()).expect("an error body");
        e.code().unwrap_or_default().to_string()
    }
}

pub async fn reply(r: Response) -> Reply {
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let raw = r.text().await.unwrap();
    let body = if raw.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&raw).unwrap_or_else(|e| panic!("not JSON ({e}): {raw}"))
    };
    Reply {
        status,
        headers,
        raw,
        body,
    }
}

impl Org {
    pub fn url(&self, v: Version, path: &str) -> String {
        format!("{}{}", self.emu.base_url(v), path.trim_start_matches('/'))
    }

    /// A SCIM call with the right token.
    pub async fn call(&self, v: Version, method: Method, path: &str, body: Option<Value>) -> Reply {
        let mut req = self
            .http
            .request(method, self.url(v, path))
            .bearer_auth(self.emu.token());
        if let Some(b) = body {
            req = req.json(&b);
        }
        reply(req.send().await.expect("request sent")).await
    }

    pub async fn get(&self, v: Version, path: &str) -> Reply {
        self.call(v, Method::GET, path, None).await
    }

    pub async fn post(&self, v: Version, path: &str, body: Value) -> Reply {
        self.call(v, Method::POST, path, Some(body)).await
    }

    pub async fn patch(&self, v: Version, path: &str, body: Value) -> Reply {
        self.call(v, Method::PATCH, path, Some(body)).await
    }

    pub async fn put(&self, v: Version, path: &str, body: Value) -> Reply {
        self.call(v, Method::PUT, path, Some(body)).await
    }

    pub async fn delete(&self, v: Version, path: &str) -> Reply {
        self.call(v, Method::DELETE, path, None).await
    }

    /// Creates a user and returns its id.
    pub async fn create_user(&self, v: Version, user_name: &str, email: &str) -> String {
        let r = self
            .post(
                v,
                "Users",
                serde_json::json!({"schemas": [v.user_urn()], "userName": user_name,
                                   "emails": [{"value": email, "primary": true}]}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.raw);
        r.body["id"].as_str().unwrap().to_string()
    }
}

pub const BOTH: [Version; 2] = [Version::V1, Version::V2];

/// The binary under test. Only this file names it: a test starts it through [`command`],
/// [`async_command`] or, when another program must start it (`sh -c 'ulimit …; exec'`,
/// `script`), [`wrapper`] and [`binary`]. `tests/it/plumbing.rs` holds every other file to that.
const BINARY: &str = env!("CARGO_BIN_EXE_scimsync");

/// Variables the binary reads besides its own `SCIMSYNC_*` ones, which a developer's shell (or
/// CI's) may hold: systemd's state folder and the colour switch. A test that wants one sets it.
const AMBIENT: [&str; 2] = ["STATE_DIRECTORY", "NO_COLOR"];

/// `c` with every `SCIMSYNC_*` variable of the test's own environment removed, and
/// [`AMBIENT`]'s too.
fn clean(mut c: std::process::Command) -> std::process::Command {
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("SCIMSYNC_") {
            c.env_remove(&name);
        }
    }
    for name in AMBIENT {
        c.env_remove(name);
    }
    c
}

/// The one way a test starts the binary: a command for `scimsync` with every `SCIMSYNC_*`
/// variable of the test's own environment removed (and [`AMBIENT`]'s), so a developer's shell
/// (or CI's) never changes what a test sees. Callers add their own arguments, folder and
/// variables.
pub fn command() -> std::process::Command {
    clean(std::process::Command::new(BINARY))
}

/// [`command`] for tokio: for a child the test talks to while it runs.
pub fn async_command() -> tokio::process::Command {
    tokio::process::Command::from(command())
}

/// A command for `program` (a shell, util-linux `script`) that starts the binary itself, at
/// [`binary`]: in the same clean environment as [`command`].
pub fn wrapper(program: &str) -> std::process::Command {
    clean(std::process::Command::new(program))
}

/// The binary's path, for a [`wrapper`] to start (or a workflow's runner to link to).
pub fn binary() -> &'static str {
    BINARY
}

/// How a finished run ended and what it printed.
pub struct Ran {
    /// The exit code; -1 when a signal ended it.
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Ran {
    /// stdout then stderr, as one text.
    pub fn text(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

impl From<Output> for Ran {
    fn from(out: Output) -> Ran {
        Ran {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

/// `scimsync ARGS` in `dir`, with `env` set over the clean environment of [`command`]: its
/// raw output.
pub fn output(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = command();
    c.args(args).current_dir(dir);
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("scimsync runs")
}

/// [`output`], read as text.
pub fn run(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Ran {
    output(dir, args, env).into()
}

/// [`run`] as CI plans a pull request: confined to `pr` (`SCIMSYNC_CONFINE`), the target and
/// the token's variable pinned by the environment, no state.
pub fn run_confined(o: &Org, dir: &Path, pr: &Path, args: &[&str]) -> Ran {
    let url = o.emu.base_url(Version::V2);
    let env = [
        ("SCIMSYNC_CONFINE", pr.to_str().expect("a UTF-8 path")),
        ("SCIMSYNC_TARGET_URL", url.as_str()),
        ("SCIMSYNC_TOKEN_ENV", "SCIM_TOKEN"),
        ("SCIMSYNC_STATE_DIR", "false"),
        ("SCIM_TOKEN", o.emu.token()),
    ];
    run(dir, args, &env)
}

/// Runs `c` (its stdout and stderr piped here), killed if it has not ended within `limit`:
/// its exit code (`None` when it had to be killed), stdout then stderr, and how long it ran.
pub fn run_within(
    c: &mut std::process::Command,
    limit: Duration,
) -> (Option<i32>, String, Duration) {
    use std::io::Read;
    let started = std::time::Instant::now();
    let mut child = c
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let (mut out, mut err) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let stdout = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = out.read_to_string(&mut text);
        text
    });
    let stderr = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = err.read_to_string(&mut text);
        text
    });
    let code = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code();
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let took = started.elapsed();
    let text = stdout.join().unwrap() + &stderr.join().unwrap();
    (code, text, took)
}

/// `scimsync apply --config scimsync.yaml` in `dir` with `token` in `SCIM_TOKEN`, not yet
/// started: for a test that watches it run (callers set its output and spawn it).
pub fn apply_command(dir: &Path, token: &str) -> std::process::Command {
    let mut c = command();
    c.args(["apply", "--config", "scimsync.yaml"])
        .current_dir(dir)
        .env("SCIM_TOKEN", token);
    c
}

/// SIGTERM to `child`, then its exit status: it must end within 10 s.
pub async fn terminate(child: &mut tokio::process::Child) -> std::process::ExitStatus {
    signal(child.id().unwrap(), "-TERM");
    tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("it ends within 10 s of SIGTERM")
        .unwrap()
}

/// Sends `signal` (`-TERM`, `-HUP`, `-INT`) to process `pid`, as `kill` does.
pub fn signal(pid: u32, signal: &str) {
    let status = std::process::Command::new("kill")
        .args([signal, &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill {signal} {pid}");
}

/// The token of an emulator started by [`emulator_process`].
pub const EMULATOR_TOKEN: &str = "xoxp-it";

/// `scimsync emulator --listen 127.0.0.1:0 FLAGS` started by `c` ([`async_command`], or a
/// [`wrapper`] that passes its arguments on), with [`EMULATOR_TOKEN`] and its stdout piped
/// here, killed when dropped: the child and the v2 base URL it prints.
pub async fn emulator_process(
    mut c: tokio::process::Command,
    flags: &[&str],
) -> (tokio::process::Child, String) {
    use tokio::io::AsyncBufReadExt;
    let mut child = c
        .args(["emulator", "--listen", "127.0.0.1:0"])
        .args(["--token-env", "IT_EMULATOR_TOKEN"])
        .args(flags)
        .env("IT_EMULATOR_TOKEN", EMULATOR_TOKEN)
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let url = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
        .await
        .expect("the URL is printed")
        .unwrap()
        .unwrap();
    (child, url)
}

/// Runs the binary in `dir` on its `scimsync.yaml`, with `SCIM_TOKEN` set to `token`.
pub fn scimsync(dir: &Path, token: &str, args: &[&str]) -> Output {
    command()
        .args(args)
        .args(["--config", "scimsync.yaml"])
        .current_dir(dir)
        .env("SCIM_TOKEN", token)
        .output()
        .unwrap()
}

pub fn write_config(dir: &Path, url: &str, sources: &str) {
    write_config_with(dir, url, sources, "scope: {email_domains: [example.com]}\n");
}

/// A config with `extra` top-level YAML appended (its own keys, not repeated ones).
pub fn write_config_with(dir: &Path, url: &str, sources: &str, extra: &str) {
    std::fs::write(
        dir.join("scimsync.yaml"),
        format!(
            "target: {{url: \"{url}\", token_env: SCIM_TOKEN}}\n\
             sources:\n{sources}\
             {extra}"
        ),
    )
    .unwrap();
}

/// `scimsync ARGS --config scimsync.yaml` in `dir`: its exit code, and stdout then stderr as
/// one text.
pub fn run_text(o: &Org, dir: &Path, args: &[&str]) -> (i32, String) {
    let out = scimsync(dir, o.emu.token(), args);
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// A store holding exactly `users` (ids from a fixed seed).
pub fn store_of(users: Vec<scimsync::emulator::StoredUser>) -> Store {
    Store::from_snapshot(
        scimsync::emulator::Snapshot {
            users,
            groups: vec![],
        },
        'W',
        7,
        "test",
    )
    .unwrap()
}

/// A caller on `o`'s API in dialect `v` whose retries wait a millisecond.
pub fn caller(o: &Org, v: Version) -> scimsync::scim::caller::Caller {
    let client = scimsync::scim::ScimClient::new(
        &o.emu.base_url(v),
        None,
        scimsync::scim::Token::new(o.emu.token()).unwrap(),
        Duration::from_secs(5),
    )
    .unwrap();
    let mut caller = scimsync::scim::caller::Caller::new(std::sync::Arc::new(client), 1.0, 1.0);
    caller.policy.base = Duration::from_millis(1);
    caller
}

/// The plan for the config in `dir` against `o`, made in-process, with a caller whose retries
/// wait a millisecond: for tests that drive the executor directly (to inject a fault between
/// planning and applying).
pub async fn plan_in_process(
    o: &Org,
    v: Version,
    dir: &Path,
) -> (scimsync::plan::Plan, scimsync::scim::caller::Caller) {
    use scimsync::directory::{LoadOptions, SourceInput, build};
    let config = scimsync::config::Config::load(
        &dir.join("scimsync.yaml"),
        &scimsync::config::EnvOverrides::default(),
    )
    .unwrap();
    let bytes = std::fs::read(&config.sources[0].path).unwrap();
    let loaded = build(
        &[SourceInput {
            spec: &config.sources[0],
            bytes: &bytes,
        }],
        &LoadOptions {
            invalid_users: config.invalid_users,
            today: chrono::Utc::now().date_naive(),
        },
    )
    .unwrap();
    let caller = caller(o, v);
    let live = scimsync::model::LiveState::from_scim(
        &caller.list_users().await.unwrap(),
        &caller.list_groups().await.unwrap(),
    );
    (
        scimsync::plan::plan(&loaded.directory, &live, &config.policy),
        caller,
    )
}

/// The commonest setup: `people.yaml` holding `yaml`, and a config reading it from `url` with
/// `extra` appended.
pub fn yaml_setup(dir: &Path, url: &str, yaml: &str, extra: &str) {
    std::fs::write(dir.join("people.yaml"), yaml).unwrap();
    write_config_with(dir, url, "  - yaml: people.yaml\n", extra);
}

/// A free loopback port (bound, read, released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The value of one series in a Prometheus exposition (0 when absent).
pub fn series(metrics: &str, name_and_labels: &str) -> f64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name_and_labels} ")))
        .map_or(0.0, |v| v.parse().unwrap())
}

/// Polls `check` every 100 ms until it holds; fails the test after `timeout`.
pub async fn wait_until(what: &str, timeout: Duration, mut check: impl AsyncFnMut() -> bool) {
    let t = std::time::Instant::now();
    while !check().await {
        assert!(t.elapsed() < timeout, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `scimsync run` as the real binary in `dir` (its `scimsync.yaml`), with `token` in
/// `SCIM_TOKEN`: a pass every `interval`, its endpoints on a free loopback port, JSON logs on
/// stderr (piped when `stderr` is `Stdio::piped()`), killed when dropped.
pub struct Daemon {
    pub child: tokio::process::Child,
    pub port: u16,
    pub http: Client,
}

impl Daemon {
    pub fn start(
        dir: &Path,
        token: &str,
        interval: &str,
        extra: &[&str],
        stderr: std::process::Stdio,
    ) -> Daemon {
        let port = free_port();
        let child = async_command()
            .args(["run", "--config", "scimsync.yaml", "--interval", interval])
            .args([
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--log-format",
                "json",
            ])
            .args(extra)
            .current_dir(dir)
            .env("SCIM_TOKEN", token)
            .stdout(std::process::Stdio::null())
            .stderr(stderr)
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let http = scimsync::scim::http_client_builder().build().unwrap();
        Daemon { child, port, http }
    }

    /// `http://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Sends `sig` (`-HUP`, `-TERM`) to the daemon.
    pub fn signal(&self, sig: &str) {
        signal(self.child.id().unwrap(), sig);
    }

    /// An hourly daemon on `dir` (its logs piped), stopped after its first pass that ends
    /// with `outcome` (`success`, `guard`, …): its logs.
    pub async fn logs_of_first(dir: &Path, token: &str, outcome: &str) -> String {
        let daemon = Daemon::start(dir, token, "1h", &[], std::process::Stdio::piped());
        let series_name = format!("scimsync_passes_total{{outcome=\"{outcome}\"}}");
        wait_until(&series_name, Duration::from_secs(30), async || {
            series(&daemon.metrics().await, &series_name) >= 1.0
        })
        .await;
        daemon.stop().await.1
    }

    /// SIGTERM, then the daemon's exit status and its logs (its stderr, when piped).
    pub async fn stop(mut self) -> (std::process::ExitStatus, String) {
        use tokio::io::AsyncReadExt;
        self.signal("-TERM");
        let mut logs = String::new();
        if let Some(mut stderr) = self.child.stderr.take() {
            stderr.read_to_string(&mut logs).await.unwrap();
        }
        let status = tokio::time::timeout(Duration::from_secs(40), self.child.wait())
            .await
            .expect("the daemon stops")
            .unwrap();
        (status, logs)
    }

    /// The daemon's `/metrics` text; empty until it listens.
    pub async fn metrics(&self) -> String {
        match self.http.get(self.url("/metrics")).send().await {
            Ok(r) => r.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    }
}
