//! Releases: the release workflow (`.github/workflows/release.yml`) parsed and held to its
//! rules, and — when `SCIMSYNC_RELEASE_CHECK=1` (.ci/run sets it; a plain `cargo test` skips
//! it, it takes minutes) — `scripts/release` run for the host target from two clones of the
//! commit in two folders: the tarball's contents, `sha256sum -c`, the SBOM's direct
//! dependencies and versions, and byte-identical binaries and tarballs.
//!
//! What the two-folder check compares: both clones build into one CARGO_TARGET_DIR (the
//! repository's target/, scripts/release's default), so the registry dependencies are compiled once and shared (their flags name no
//! folder, so the second build reuses them); scimsync's own crates (its library, its build
//! script and its binary) are cleaned and rebuilt from the second folder. It proves that the
//! source folder does not reach the binary, and that the tarball, the completions, the man page,
//! the SBOM and sha256sums are deterministic. It does not prove that the dependencies compile
//! the same twice: the release workflow's two fully separate builds (each folder its own target
//! folder) check that on every release.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_yaml::Value;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

const WORKFLOW: &str = ".github/workflows/release.yml";

fn workflow_text() -> String {
    std::fs::read_to_string(root().join(WORKFLOW)).unwrap()
}

fn workflow() -> Value {
    serde_yaml::from_str(&workflow_text()).unwrap()
}

fn steps<'a>(w: &'a Value, job: &str) -> &'a Vec<Value> {
    w["jobs"][job]["steps"]
        .as_sequence()
        .unwrap_or_else(|| panic!("no job {job}"))
}

/// Every `run` script of a job, joined.
fn scripts(w: &Value, job: &str) -> String {
    steps(w, job)
        .iter()
        .filter_map(|s| s["run"].as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

fn uses(step: &Value) -> &str {
    step["uses"].as_str().unwrap_or_default()
}

#[test]
fn the_release_workflow_runs_on_version_tags_with_actions_pinned_by_commit() {
    let w = workflow();
    let on = w["on"].as_mapping().unwrap();
    assert_eq!(on.len(), 1, "only tags trigger it");
    assert_eq!(
        w["on"]["push"]["tags"],
        serde_yaml::from_str::<Value>("[\"v*\"]").unwrap()
    );
    assert!(w["on"]["push"].get("branches").is_none());
    assert_eq!(w["permissions"], Value::Mapping(serde_yaml::Mapping::new()));
    // Every action by full commit, with its version in a comment.
    let mut pinned = 0;
    for line in workflow_text().lines() {
        let Some(rest) = line.trim().trim_start_matches("- ").strip_prefix("uses: ") else {
            continue;
        };
        let (action, comment) = rest
            .split_once(" # ")
            .unwrap_or_else(|| panic!("{line}: no version comment"));
        let (_, sha) = action.split_once('@').unwrap();
        assert!(
            sha.len() == 40
                && sha
                    .bytes()
                    .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()),
            "{line}: not pinned by commit"
        );
        assert!(
            comment.starts_with('v') && comment[1..].split('.').all(|n| n.parse::<u32>().is_ok()),
            "{line}"
        );
        pinned += 1;
    }
    assert!(pinned >= 6, "{pinned} actions");
    // Only the publishing job may mint an OIDC token (keyless signing, provenance).
    for (job, j) in w["jobs"].as_mapping().unwrap() {
        let id_token = j["permissions"]["id-token"].as_str();
        if job.as_str() == Some("publish") {
            assert_eq!(id_token, Some("write"));
        } else {
            assert_eq!(id_token, None, "{job:?}");
        }
    }
}

#[test]
fn the_release_workflow_builds_both_architectures_reproducibly_and_checks_the_policy() {
    let w = workflow();
    let targets: BTreeSet<&str> = w["jobs"]["build"]["strategy"]["matrix"]["include"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|m| m["target"].as_str().unwrap())
        .collect();
    assert_eq!(
        targets,
        BTreeSet::from(["aarch64-unknown-linux-musl", "x86_64-unknown-linux-musl"])
    );
    let build = scripts(&w, "build");
    assert!(
        build.contains("scripts/release --target \"$TARGET\" --out dist"),
        "{build}"
    );
    // The full two-build check: another clone, its own target folder, compared byte for byte.
    assert!(build.contains("git clone"), "{build}");
    assert!(
        build.contains("CARGO_TARGET_DIR=\"$RUNNER_TEMP/again-target\""),
        "{build}"
    );
    assert!(
        build.contains("cmp \"target/$TARGET/release/scimsync\""),
        "{build}"
    );
    assert!(build.contains("dist/*.tar.gz"), "{build}");
    assert!(
        build.contains("deploy/release/image"),
        "the image from that binary"
    );
    let check = scripts(&w, "check");
    assert!(
        check.contains("deny --locked check advisories licenses bans sources"),
        "{check}"
    );
    assert!(
        check.contains(". deploy/release.env"),
        "one place names the repository"
    );
    assert!(check.contains("[ \"$TAG\" = \"v$version\" ]"), "{check}");
}

#[test]
fn the_release_workflow_signs_verifies_and_attests_what_it_publishes() {
    let w = workflow();
    let publish = scripts(&w, "publish");
    let at = |text: &str| {
        publish
            .find(text)
            .unwrap_or_else(|| panic!("publish does not run {text:?}"))
    };
    // Checksums, then each signature made and verified, then the image signed and verified
    // by digest, then the release.
    let order = [
        at("sha256sum --check --strict sha256sums"),
        at("cosign sign-blob --yes --bundle"),
        at("cosign verify-blob --bundle"),
        at("buildah manifest push --all"),
        at("cosign sign --yes \"$IMAGE@$DIGEST\""),
        at("cosign verify --certificate-identity"),
        at("gh release create"),
    ];
    assert!(order.is_sorted(), "{order:?}");
    assert!(
        publish.contains("--certificate-oidc-issuer https://token.actions.githubusercontent.com")
    );
    assert!(publish.contains("/.github/workflows/release.yml@refs/tags/${TAG}"));
    let signed = &publish[at("for f in dist/*.tar.gz")..];
    assert!(signed.starts_with("for f in dist/*.tar.gz dist/*.cdx.json dist/sha256sums; do"));
    // Provenance for the tarballs and SBOMs, and for the image.
    let attest: Vec<&Value> = steps(&w, "publish")
        .iter()
        .filter(|s| uses(s).starts_with("actions/attest-build-provenance@"))
        .collect();
    assert_eq!(attest.len(), 2);
    assert!(
        attest[0]["with"]["subject-path"]
            .as_str()
            .unwrap()
            .contains("dist/*.tar.gz")
    );
    assert_eq!(attest[1]["with"]["push-to-registry"], Value::Bool(true));
    assert!(
        steps(&w, "publish")
            .iter()
            .any(|s| uses(s).starts_with("sigstore/cosign-installer@"))
    );
    assert!(publish.contains("--notes-file notes.md"));
}

/// The workflow's own CHANGELOG extraction, run on a changelog: the tag's section only.
#[test]
fn the_release_text_is_the_tags_changelog_section() {
    let publish = scripts(&workflow(), "publish");
    let line = publish
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("awk "))
        .expect("an awk line");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("CHANGELOG.md"),
        "# Changelog\n\n## [Unreleased]\n- next\n\n## [0.2.0] - 2027-01-02\n### Added\n- two\n\n\
         ## [0.1.0] - 2026-12-01\n- one\n",
    )
    .unwrap();
    let out = Command::new("bash")
        .arg("-c")
        .arg(line)
        .env("VERSION", "0.2.0")
        .current_dir(dir.path())
        .status()
        .unwrap();
    assert!(out.success());
    let notes = std::fs::read_to_string(dir.path().join("notes.md")).unwrap();
    assert_eq!(notes, "### Added\n- two\n\n");
}

// ---- the release script itself (SCIMSYNC_RELEASE_CHECK=1) ----

fn run(command: &mut Command) -> String {
    let out = command.output().unwrap();
    assert!(
        out.status.success(),
        "{command:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A clean clone of the repository at `commit` in `dir`.
fn clone_head(dir: &Path, commit: &str) {
    run(Command::new("git")
        .arg("clone")
        .arg("--quiet")
        .arg("--no-local")
        .arg(root())
        .arg(dir));
    run(Command::new("git")
        .args(["checkout", "--quiet", "--detach", commit])
        .current_dir(dir));
}

/// Runs scripts/release in `checkout` into `out`, with the shared target folder.
fn release(checkout: &Path, out: &Path, target_dir: &Path, image: bool) -> String {
    let mut c = Command::new(checkout.join("scripts/release"));
    c.arg("--out")
        .arg(out)
        .env("CARGO_TARGET_DIR", target_dir)
        .current_dir(checkout);
    if !image {
        c.arg("--no-image");
    }
    run(&mut c)
}

fn host() -> String {
    let v = run(Command::new("rustc").arg("-vV"));
    v.lines()
        .find_map(|l| l.strip_prefix("host: "))
        .unwrap()
        .to_string()
}

/// The direct dependencies of Cargo.toml (normal and build; not dev).
fn direct_dependencies() -> BTreeSet<String> {
    let manifest: toml_like::Manifest = toml_like::read(&root().join("Cargo.toml"));
    manifest.dependencies
}

/// Just enough of Cargo.toml to list its dependency names: the keys of `[dependencies]` and
/// `[target.….dependencies]` tables, `package = "…"` renames resolved.
mod toml_like {
    use std::collections::BTreeSet;
    use std::path::Path;

    pub struct Manifest {
        pub dependencies: BTreeSet<String>,
    }

    pub fn read(path: &Path) -> Manifest {
        let text = std::fs::read_to_string(path).unwrap();
        let mut dependencies = BTreeSet::new();
        let mut in_deps = false;
        for line in text.lines() {
            let line = line.trim();
            if line.starts_with('[') {
                in_deps = line == "[dependencies]" || line.ends_with(".dependencies]");
                continue;
            }
            if !in_deps || line.starts_with('#') || line.is_empty() {
                continue;
            }
            let (key, value) = line.split_once('=').unwrap();
            let name = value
                .split("package = \"")
                .nth(1)
                .and_then(|rest| rest.split('"').next())
                .unwrap_or(key.trim());
            dependencies.insert(name.to_string());
        }
        Manifest { dependencies }
    }
}

/// name → version of every package Cargo.lock pins.
fn locked_versions() -> BTreeMap<String, BTreeSet<String>> {
    let lock = std::fs::read_to_string(root().join("Cargo.lock")).unwrap();
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut name = None;
    for line in lock.lines() {
        if let Some(n) = line.strip_prefix("name = \"") {
            name = Some(n.trim_end_matches('"').to_string());
        } else if let (Some(v), Some(n)) = (line.strip_prefix("version = \""), name.take()) {
            out.entry(n)
                .or_default()
                .insert(v.trim_end_matches('"').to_string());
        }
    }
    out
}

#[test]
fn the_release_script_builds_a_checked_reproducible_release() {
    if std::env::var_os("SCIMSYNC_RELEASE_CHECK").is_none() {
        eprintln!(
            "SCIMSYNC_RELEASE_CHECK is not set: the release build is skipped (.ci/run sets it)"
        );
        return;
    }
    let work = root().join("target/release-check");
    let _ = std::fs::remove_dir_all(work.join("a"));
    let _ = std::fs::remove_dir_all(work.join("b"));
    // The repository's own target folder, scripts/release's default: dependencies built by an
    // earlier release build here are reused.
    let (a, b, shared) = (
        work.join("a/scimsync"),
        work.join("b/scimsync"),
        root().join("target"),
    );
    // One commit for both clones, whatever happens to the checkout meanwhile.
    let head = run(Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(root()));
    let head = head.trim();
    clone_head(&a, head);
    let started = std::time::Instant::now();
    let log = release(&a, &work.join("a/dist"), &shared, true);
    eprintln!("first build: {:?}\n{log}", started.elapsed());
    let target = host();
    let version = env!("CARGO_PKG_VERSION");
    let name = format!("scimsync-{version}-{target}");
    let dist_a = work.join("a/dist");
    check_tarball(&dist_a, &name, &a);
    run(Command::new("sha256sum")
        .args(["--check", "--strict", "sha256sums"])
        .current_dir(&dist_a));
    check_sbom(&dist_a.join(format!("{name}.cdx.json")));
    check_image(&dist_a, &name, &log);

    // The second build, from another folder: scimsync's crates rebuilt, the registry's shared.
    let binary = shared.join(&target).join("release/scimsync");
    let first = std::fs::read(&binary).unwrap();
    run(Command::new("cargo")
        .args([
            "clean",
            "--quiet",
            "--release",
            "-p",
            "scimsync",
            "--target",
            &target,
        ])
        .env("CARGO_TARGET_DIR", &shared)
        .current_dir(&a));
    assert!(!binary.exists(), "cleaned");
    clone_head(&b, head);
    let started = std::time::Instant::now();
    release(&b, &work.join("b/dist"), &shared, false);
    eprintln!("second build: {:?}", started.elapsed());
    assert!(
        std::fs::read(&binary).unwrap() == first,
        "the binaries differ"
    );
    for file in [
        format!("{name}.tar.gz"),
        format!("{name}.cdx.json"),
        "sha256sums".into(),
    ] {
        let (x, y) = (dist_a.join(&file), work.join("b/dist").join(&file));
        assert!(
            std::fs::read(&x).unwrap() == std::fs::read(&y).unwrap(),
            "{file} differs"
        );
    }
    let _ = std::fs::remove_dir_all(work.join("a/scimsync"));
    let _ = std::fs::remove_dir_all(work.join("b"));
}

/// The tarball holds the binary, the licences, README, CHANGELOG, completions and the man
/// page, owned by 0:0, at the commit's time, and its binary runs.
fn check_tarball(dist: &Path, name: &str, checkout: &Path) {
    let tarball = dist.join(format!("{name}.tar.gz"));
    let listing = run(Command::new("tar").arg("-tvzf").arg(&tarball));
    let files: Vec<&str> = listing
        .lines()
        .map(|l| l.split_whitespace().last().unwrap())
        .collect();
    let expected: Vec<String> = [
        "",
        "CHANGELOG.md",
        "LICENSE-APACHE",
        "LICENSE-MIT",
        "README.md",
        "completions/",
        "completions/_scimsync",
        "completions/_scimsync.ps1",
        "completions/scimsync.bash",
        "completions/scimsync.elv",
        "completions/scimsync.fish",
        "man/",
        "man/scimsync.1",
        "scimsync",
    ]
    .iter()
    .map(|f| format!("{name}/{f}"))
    .collect();
    assert_eq!(files, expected, "sorted, nothing else");
    for line in listing.lines() {
        assert!(line.contains(" 0/0 "), "owned by 0:0: {line}");
    }
    let epoch = run(Command::new("git")
        .args(["log", "-1", "--format=%ct"])
        .current_dir(checkout));
    let unpacked = tempfile::tempdir().unwrap();
    run(Command::new("tar")
        .arg("-xzf")
        .arg(&tarball)
        .arg("-C")
        .arg(unpacked.path()));
    let dir: PathBuf = unpacked.path().join(name);
    let mtime = std::fs::metadata(dir.join("scimsync"))
        .unwrap()
        .modified()
        .unwrap();
    let secs = mtime
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert_eq!(secs.to_string(), epoch.trim(), "the commit's time");
    let version = run(Command::new(dir.join("scimsync")).arg("--version"));
    assert!(
        version.starts_with(&format!("scimsync {}", env!("CARGO_PKG_VERSION"))),
        "{version}"
    );
    // Built with the allocator's options of `.cargo/config.toml` (README, "Sizing").
    let allocator = Command::new(dir.join("scimsync"))
        .arg("--version")
        .env("_RJEM_MALLOC_CONF", "stats_print:true")
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&allocator.stderr).contains("dirty_decay_ms:500,muzzy_decay_ms:0"),
        "the release binary's allocator options"
    );
    let man = std::fs::read_to_string(dir.join("man/scimsync.1")).unwrap();
    assert!(
        man.starts_with(".ie") || man.contains(".TH scimsync 1"),
        "{}",
        &man[..200.min(man.len())]
    );
    let bash = std::fs::read_to_string(dir.join("completions/scimsync.bash")).unwrap();
    assert!(bash.contains("complete") && bash.contains("scimsync"));
}

/// The SBOM is CycloneDX 1.5 JSON and names every direct dependency at its locked version.
fn check_sbom(path: &Path) {
    let bom: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    assert_eq!(bom["bomFormat"], "CycloneDX");
    assert_eq!(bom["specVersion"], "1.5");
    assert_eq!(bom["metadata"]["component"]["name"], "scimsync");
    let components: BTreeMap<String, String> = bom["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_string(),
                c["version"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let locked = locked_versions();
    for dependency in direct_dependencies() {
        let version = components
            .get(&dependency)
            .unwrap_or_else(|| panic!("the SBOM does not name {dependency}"));
        assert!(
            locked[&dependency].contains(version),
            "{dependency} {version}: not the locked version"
        );
        let purl = format!("pkg:cargo/{dependency}@{version}");
        assert!(
            bom["components"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["purl"] == purl.as_str())
        );
    }
    // No dev-dependency (insta, proptest, tempfile are only in tests).
    for dev in ["insta", "proptest", "tempfile"] {
        assert!(!components.contains_key(dev), "{dev} is a dev-dependency");
    }
    let root_deps = bom["dependencies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| {
            d["ref"]
                .as_str()
                .unwrap()
                .starts_with("pkg:cargo/scimsync@")
        })
        .unwrap();
    assert!(root_deps["dependsOn"].as_array().unwrap().len() >= 30);
}

/// With buildah here, the image was built: a docker-archive whose config runs as 65532 with a
/// health check through `scimsync healthcheck`.
fn check_image(dist: &Path, name: &str, log: &str) {
    let archive = dist.join(format!("{name}.image.tar"));
    if log.contains("neither buildah nor a running docker") {
        eprintln!("no image builder here: the image was not built");
        return;
    }
    assert!(archive.is_file(), "{log}");
    let manifest = run(Command::new("tar")
        .arg("-xOf")
        .arg(&archive)
        .arg("manifest.json"));
    let manifest: serde_json::Value = serde_json::from_str(&manifest).unwrap();
    let config_file = manifest[0]["Config"].as_str().unwrap();
    let config = run(Command::new("tar")
        .arg("-xOf")
        .arg(&archive)
        .arg(config_file));
    let config: serde_json::Value = serde_json::from_str(&config).unwrap();
    let c = &config["config"];
    assert_eq!(c["User"], "65532:65532", "{c}");
    assert_eq!(
        c["Entrypoint"],
        serde_json::json!(["/usr/local/bin/scimsync"])
    );
    let health = c["Healthcheck"]["Test"].to_string();
    assert!(health.contains("\"healthcheck\""), "{health}");
    assert!(log.contains("localhost/scimsync:"), "{log}");
}
