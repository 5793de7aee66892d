//! Slack's official Python SDK against the emulator: `tests/python/slack_sdk_compat.py` calls
//! every method of `slack_sdk.scim.SCIMClient` (SCIM v1, FACTS §9.1) and checks what the SDK
//! parses; this test starts the emulator, runs the script, and checks from the emulator's own
//! counters that the calls really reached it.

use std::path::Path;
use std::process::{Command, Output};

use scimsync::emulator::{EmulatorConfig, Faults, Preset, Store};
use scimsync::scim::Version;
use scimsync::scim::limits::Endpoint;

use crate::harness;

const SCRIPT: &str = "tests/python/slack_sdk_compat.py";

/// Proxy settings the SDK would pick up; the emulator is on loopback.
const PROXY_VARS: [&str; 6] = [
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
];

/// The Python that runs the script: `python3` when it has the SDK, else a virtualenv under
/// `target/` that this test makes once (no system-wide `pip`, which Debian 12 refuses).
fn interpreter() -> std::path::PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let system = Command::new("python3")
        .args(["-c", "import slack_sdk.scim"])
        .output();
    if system.is_ok_and(|o| o.status.success()) {
        return "python3".into();
    }
    let venv = root.join("target/python-venv");
    let bin = venv.join("bin/python");
    let ready = Command::new(&bin)
        .args(["-c", "import slack_sdk.scim"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ready {
        let made = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .output()
            .unwrap_or_else(|e| panic!("cannot run python3 ({e}); the SDK test needs it"));
        assert!(
            made.status.success(),
            "python3 -m venv failed:\n{}",
            show(&made)
        );
        let installed = Command::new(&bin)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
            ])
            .arg("slack_sdk>=3.30,<4")
            .output()
            .expect("the virtualenv's python runs");
        assert!(
            installed.status.success(),
            "cannot install slack_sdk into {}:\n{}",
            venv.display(),
            show(&installed)
        );
    }
    bin
}

fn python() -> Command {
    static INTERPRETER: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    let mut cmd = Command::new(INTERPRETER.get_or_init(interpreter));
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"));
    for var in PROXY_VARS {
        cmd.env_remove(var);
    }
    cmd
}

fn show(output: &Output) -> String {
    format!(
        "exit: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Fails, rather than skips, when the SDK cannot be had.
fn require_slack_sdk() {
    let output = python()
        .args(["-c", "import slack_sdk.scim"])
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run python3 ({e}); the SDK compatibility test needs it")
        });
    assert!(
        output.status.success(),
        "python cannot import slack_sdk\n{}",
        show(&output)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn slack_python_sdk_scim_client_works_against_the_emulator() {
    run_sdk(harness::org().await, "honour").await;
}

/// Under `like-slack` (Slack's rate limits, deactivations seen 3 s late, strict bodies and
/// filters, `/Groups` filters refused), without its injected faults: the SDK retries neither
/// a 5xx nor a lost reply by default, and this test is about what a successful call looks
/// like. The script polls for a deactivation, as Slack's own Java remote tests do.
#[tokio::test(flavor = "multi_thread")]
async fn slack_python_sdk_scim_client_works_under_like_slack() {
    let config = EmulatorConfig {
        faults: Faults::default(),
        ..EmulatorConfig::preset(Preset::LikeSlack)
    };
    let org = harness::org_with(config, Store::default_org('U', 1)).await;
    run_sdk(org, "refuse").await;
}

/// Runs the script against `org`, telling it what a `/Groups` filter gets there, and checks
/// from the emulator's counters that every endpoint class was reached.
async fn run_sdk(org: harness::Org, group_filters: &'static str) {
    assert!(
        Path::new(env!("CARGO_MANIFEST_DIR")).join(SCRIPT).exists(),
        "{SCRIPT} is missing"
    );
    // Re-raise the check's own panic, so its message is the test's failure.
    tokio::task::spawn_blocking(require_slack_sdk)
        .await
        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));

    let base_url = org.emu.base_url(Version::V1);
    let token = org.emu.token().to_string();
    let output = tokio::task::spawn_blocking(move || {
        python()
            .arg(SCRIPT)
            .env("SCIM_BASE_URL", base_url)
            .env("SCIM_TOKEN", token)
            .env("SCIM_GROUP_FILTERS", group_filters)
            .output()
            .expect("python3 runs")
    })
    .await
    .unwrap();
    assert!(
        output.status.success(),
        "slack_sdk compatibility script failed\n{}",
        show(&output)
    );

    // The script really talked to this emulator, through every endpoint class.
    let stats = org.emu.stats();
    let at_least = [
        ("GET", Endpoint::UsersList, 5),
        ("GET", Endpoint::UserGet, 3),
        ("POST", Endpoint::UserCreate, 3),
        ("PATCH", Endpoint::UserUpdate, 2),
        ("PUT", Endpoint::UserUpdate, 3),
        ("DELETE", Endpoint::UserDelete, 2),
        ("GET", Endpoint::GroupsList, 3),
        ("GET", Endpoint::GroupGet, 3),
        ("POST", Endpoint::GroupCreate, 1),
        ("PATCH", Endpoint::GroupUpdate, 3),
        ("PUT", Endpoint::GroupUpdate, 2),
        ("DELETE", Endpoint::GroupDelete, 1),
        ("GET", Endpoint::Metadata, 2),
    ];
    for (method, endpoint, n) in at_least {
        assert!(
            stats.count(method, endpoint) >= n,
            "expected at least {n} {method} {} requests, saw {}; all: {:?}\n{}",
            endpoint.name(),
            stats.count(method, endpoint),
            stats.requests,
            show(&output)
        );
    }
    assert!(
        stats.writes_applied >= 15,
        "writes applied: {}",
        stats.writes_applied
    );
    for status in [200, 201, 204, 400, 401] {
        assert!(
            stats.statuses.get(&status).is_some_and(|n| *n > 0),
            "no HTTP {status} answered; statuses: {:?}",
            stats.statuses
        );
    }
}
