//! The deployment files say what README promises: the Kubernetes manifests are locked down
//! (a NetworkPolicy, no service-account token, a volume for the audit log), and the container
//! image holds what its default command and README's `docker run` need, none of it excluded
//! by `.dockerignore`. (No Docker daemon runs here: `deploy/build-image.sh` builds and checks
//! the image itself where buildah is available.)

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Every YAML document of a manifest file, as JSON values.
fn documents(file: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(file).unwrap();
    serde_yaml::Deserializer::from_str(&text)
        .map(|doc| Value::deserialize(doc).unwrap())
        .filter(|v| !v.is_null())
        .collect()
}

/// The Kubernetes objects the base deploys, plus the cron component's CronJob (the
/// alternative), as written (the overlays are rendered by `kubectl kustomize` below).
fn objects() -> Vec<Value> {
    let dir = root().join("deploy/kubernetes/base");
    let kustomization = &documents(&dir.join("kustomization.yaml"))[0];
    let mut files: Vec<PathBuf> = kustomization["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| dir.join(r.as_str().unwrap()))
        .collect();
    files.push(root().join("deploy/kubernetes/components/cron/cronjob.yaml"));
    files.iter().flat_map(|f| documents(f)).collect()
}

fn of_kind<'a>(objects: &'a [Value], kind: &str) -> Vec<&'a Value> {
    objects.iter().filter(|o| o["kind"] == kind).collect()
}

/// The pod templates of the Deployment and the CronJob.
fn pod_specs(objects: &[Value]) -> Vec<&Value> {
    let mut out: Vec<&Value> = of_kind(objects, "Deployment")
        .into_iter()
        .map(|d| &d["spec"]["template"]["spec"])
        .collect();
    out.extend(
        of_kind(objects, "CronJob")
            .into_iter()
            .map(|c| &c["spec"]["jobTemplate"]["spec"]["template"]["spec"]),
    );
    out
}

#[test]
fn pods_get_no_api_token_and_keep_the_audit_log_on_a_volume_claim() {
    let objects = objects();
    let claims: Vec<&str> = of_kind(&objects, "PersistentVolumeClaim")
        .iter()
        .map(|c| c["metadata"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(claims.len(), 1, "{claims:?}");
    let specs = pod_specs(&objects);
    assert_eq!(specs.len(), 2, "the daemon and the CronJob");
    for spec in specs {
        assert_eq!(spec["automountServiceAccountToken"], false, "{spec}");
        assert_eq!(
            spec["securityContext"]["fsGroup"], 65532,
            "the volume is writable"
        );
        let mount = spec["containers"][0]["volumeMounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["mountPath"] == "/var/lib/scimsync")
            .expect("/var/lib/scimsync is mounted");
        let volume = spec["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["name"] == mount["name"])
            .unwrap();
        assert_eq!(
            volume["persistentVolumeClaim"]["claimName"], claims[0],
            "{volume}"
        );
    }
    // The audit log the shipped config writes is on that volume.
    let config =
        std::fs::read_to_string(root().join("deploy/kubernetes/overlays/example/scimsync.yaml"))
            .unwrap();
    assert!(config.contains("audit_log: /var/lib/scimsync/"), "{config}");
}

#[test]
fn the_network_policy_admits_only_prometheus_and_lets_out_only_dns_and_https() {
    let objects = objects();
    let policies = of_kind(&objects, "NetworkPolicy");
    assert_eq!(policies.len(), 1);
    let p = &policies[0]["spec"];
    let deployment = of_kind(&objects, "Deployment")[0];
    let pod_labels = &deployment["spec"]["template"]["metadata"]["labels"];
    for (k, v) in p["podSelector"]["matchLabels"].as_object().unwrap() {
        assert_eq!(&pod_labels[k], v, "the policy selects the daemon's pods");
    }
    assert_eq!(p["policyTypes"], serde_json::json!(["Ingress", "Egress"]));
    // In: one rule, from the monitoring namespace's Prometheus, to the metrics port only.
    let ingress = p["ingress"].as_array().unwrap();
    assert_eq!(ingress.len(), 1);
    let port = &deployment["spec"]["template"]["spec"]["containers"][0]["ports"][0];
    assert_eq!(
        ingress[0]["ports"],
        serde_json::json!([{"protocol": "TCP", "port": port["containerPort"]}])
    );
    let from = &ingress[0]["from"][0];
    assert_eq!(
        from["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"],
        "monitoring"
    );
    assert!(from["podSelector"]["matchLabels"].is_object(), "{from}");
    // Out: DNS and 443, nothing else.
    let mut ports: Vec<(String, u64)> = p["egress"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|rule| rule["ports"].as_array().unwrap().iter())
        .map(|port| {
            (
                port["protocol"].as_str().unwrap().to_string(),
                port["port"].as_u64().unwrap(),
            )
        })
        .collect();
    ports.sort();
    assert_eq!(
        ports,
        [("TCP".into(), 53), ("TCP".into(), 443), ("UDP".into(), 53)]
    );
}

/// Whether `.dockerignore` keeps `path` (relative to the root, `/`-separated) out of the
/// build context: a pattern matches the path or one of its folders; `*` within a segment,
/// `**/` any depth.
fn docker_ignored(path: &str, patterns: &[String]) -> bool {
    fn glob(pattern: &str, text: &str) -> bool {
        match pattern.split_once('*') {
            None => pattern == text,
            Some((head, tail)) => {
                text.starts_with(head)
                    && (head.len()..=text.len())
                        .any(|i| !text[head.len()..i].contains('/') && glob(tail, &text[i..]))
            }
        }
    }
    let segments: Vec<&str> = path.split('/').collect();
    let prefixes: Vec<String> = (1..=segments.len())
        .map(|n| segments[..n].join("/"))
        .collect();
    patterns.iter().any(|p| {
        let p = p.trim_end_matches('/');
        match p.strip_prefix("**/") {
            Some(any_depth) => prefixes.iter().any(|pre| {
                let last = pre.rsplit('/').next().unwrap();
                glob(any_depth, last)
            }),
            None => prefixes.iter().any(|pre| glob(p, pre)),
        }
    })
}

fn dockerignore() -> Vec<String> {
    std::fs::read_to_string(root().join(".dockerignore"))
        .unwrap()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect()
}

#[test]
fn the_dockerignore_matcher_reads_patterns_as_docker_does() {
    let p: Vec<String> = ["target/", "**/target/", "*.jsonl", "tests/fuzz/artifacts/"]
        .map(String::from)
        .to_vec();
    assert!(docker_ignored("target/release/scimsync", &p));
    assert!(docker_ignored("tests/fuzz/target/x", &p));
    assert!(docker_ignored("audit.jsonl", &p));
    assert!(!docker_ignored("examples/audit.jsonl", &p), "root only");
    assert!(docker_ignored("tests/fuzz/artifacts/csv/crash-1", &p));
    assert!(!docker_ignored("tests/fuzz/seeds/a", &p));
    assert!(!docker_ignored("src/main.rs", &p));
}

/// The build stage's `COPY SRC… DEST` sources (not `--from` ones).
fn copied_sources(dockerfile: &str) -> Vec<String> {
    dockerfile
        .lines()
        .filter_map(|l| l.strip_prefix("COPY "))
        .filter(|rest| !rest.starts_with("--"))
        .flat_map(|rest| {
            let words: Vec<&str> = rest.split_whitespace().collect();
            words[..words.len() - 1]
                .iter()
                .map(|w| w.to_string())
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The allocator is built to give memory a pass frees back within half a second
/// (`.cargo/config.toml`; README, "Sizing"): jemalloc prints the options it was built with.
#[test]
fn the_allocator_gives_freed_memory_back_within_half_a_second() {
    let out = crate::harness::command()
        .arg("--version")
        .env("_RJEM_MALLOC_CONF", "stats_print:true")
        .output()
        .unwrap();
    let stats = String::from_utf8_lossy(&out.stderr);
    assert!(
        stats.contains(
            r#"config.malloc_conf: "background_thread:true,dirty_decay_ms:500,muzzy_decay_ms:0""#
        ),
        "{}",
        stats
            .lines()
            .filter(|l| l.contains("malloc_conf"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn the_image_holds_what_its_default_command_and_readme_docker_run_need() {
    let dockerfile = std::fs::read_to_string(root().join("Dockerfile")).unwrap();
    let ignore = dockerignore();
    let sources = copied_sources(&dockerfile);
    for needed in [
        "Cargo.toml",
        "Cargo.lock",
        "build.rs",
        ".cargo",
        "src",
        "tests",
        "config",
        "examples",
    ] {
        assert!(
            sources.iter().any(|s| s == needed),
            "COPY {needed}: {sources:?}"
        );
    }
    for s in &sources {
        assert!(root().join(s).exists(), "{s} is not in the repository");
        assert!(!docker_ignored(s, &ignore), ".dockerignore excludes {s}");
    }
    for heavy in [
        "target/debug/x",
        ".git/HEAD",
        "tests/fuzz/artifacts/csv/crash-1",
    ] {
        assert!(
            docker_ignored(heavy, &ignore),
            "{heavy} is sent to the daemon"
        );
    }
    // The default command: the demo config, on every interface.
    let cmd_line = dockerfile.lines().rfind(|l| l.starts_with("CMD ")).unwrap();
    let cmd: Vec<String> = serde_json::from_str(&cmd_line["CMD ".len()..]).unwrap();
    let listen = cmd.iter().position(|a| a == "--listen").unwrap();
    assert_eq!(cmd[listen + 1], "0.0.0.0:9090", "{cmd:?}");
    let config = &cmd[cmd.iter().position(|a| a == "--config").unwrap() + 1];
    assert_eq!(config, "/opt/scimsync/config/scimsync.yaml");
    assert!(dockerfile.contains("COPY config ./demo/opt/scimsync/config"));
    assert!(dockerfile.contains("COPY examples ./demo/opt/scimsync/examples"));
    assert!(dockerfile.contains("COPY --from=build --chown=65532:65532 /src/demo/ /"));
    // Every file that config reads is in config/ or examples/ (so under /opt/scimsync in the
    // image) and reaches the build context; what it writes lands under /opt/scimsync too.
    let loaded = scimsync::config::Config::load(
        &root().join("config/scimsync.yaml"),
        &scimsync::config::EnvOverrides::default(),
    )
    .unwrap();
    let mut read: Vec<PathBuf> = loaded.sources.iter().map(|s| s.path.clone()).collect();
    read.extend(loaded.target.emulator_seed.clone());
    assert!(read.len() >= 3, "{read:?}");
    let canonical_root = root().canonicalize().unwrap();
    for path in read {
        let path = path.canonicalize().unwrap();
        let rel = path.strip_prefix(&canonical_root).unwrap();
        let rel = rel.to_string_lossy().replace('\\', "/");
        assert!(
            rel.starts_with("config/") || rel.starts_with("examples/"),
            "{rel} is not in the image"
        );
        assert!(
            !docker_ignored(&rel, &ignore),
            ".dockerignore excludes {rel}"
        );
    }
    for written in [
        loaded.audit_log.clone(),
        loaded.target.emulator_state.clone(),
    ]
    .into_iter()
    .flatten()
    {
        let parent = written.parent().unwrap().canonicalize().unwrap();
        assert_eq!(parent, canonical_root, "{written:?} lands in /opt/scimsync");
    }
    // README's docker run is the default command's (no arguments after the image).
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    assert!(
        readme.contains("docker run --rm -p 9090:9090 scimsync\n"),
        "README's demo docker run"
    );
}

/// The licence files are there and say what `Cargo.toml` says: `Apache-2.0 OR MIT`, the Rust
/// ecosystem's convention; CHANGELOG and SECURITY exist.
#[test]
fn the_licence_files_match_cargo_toml() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    assert!(
        manifest
            .lines()
            .any(|l| l == "license = \"Apache-2.0 OR MIT\""),
        "Cargo.toml's licence"
    );
    let apache = std::fs::read_to_string(root.join("LICENSE-APACHE")).unwrap();
    assert!(apache.contains("Apache License") && apache.contains("Version 2.0, January 2004"));
    assert!(apache.contains("END OF TERMS AND CONDITIONS"));
    let mit = std::fs::read_to_string(root.join("LICENSE-MIT")).unwrap();
    assert!(mit.starts_with("MIT License") && mit.contains("Permission is hereby granted"));
    let changelog = std::fs::read_to_string(root.join("CHANGELOG.md")).unwrap();
    assert!(changelog.contains("## [Unreleased]") && changelog.contains("Keep a Changelog"));
    let security = std::fs::read_to_string(root.join("SECURITY.md")).unwrap();
    assert!(security.contains("Reporting a vulnerability") && security.contains("In scope"));
}

/// `NAME=value` lines of deploy/release.env, the one place naming the repository and image.
fn release_env() -> std::collections::HashMap<String, String> {
    std::fs::read_to_string(root().join("deploy/release.env"))
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Every file git tracks (or would: untracked but not ignored), relative to the root.
fn repository_files() -> Vec<String> {
    let out = std::process::Command::new("git")
        .args(["ls-files", "--cached", "--others", "--exclude-standard"])
        .current_dir(root())
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|f| root().join(f).is_file())
        .map(String::from)
        .collect()
}

#[test]
fn one_place_names_the_repository_and_the_image() {
    let release = release_env();
    let (repository, image, version) = (
        &release["SCIMSYNC_REPOSITORY"],
        &release["SCIMSYNC_IMAGE"],
        &release["SCIMSYNC_VERSION"],
    );
    assert_eq!(
        version,
        env!("CARGO_PKG_VERSION"),
        "the release the deploy files install"
    );
    assert_eq!(image, &format!("ghcr.io/{repository}"));
    // No placeholder anywhere (this test names it in pieces).
    let placeholders = [
        format!("ghcr.io/{}/", "example"),
        format!("github.com/{}/", "example"),
    ];
    for file in repository_files() {
        let Ok(text) = std::fs::read_to_string(root().join(&file)) else {
            continue;
        };
        for p in &placeholders {
            assert!(
                !text.contains(p.as_str()),
                "{file} holds the placeholder {p}"
            );
        }
        // Every image reference in the deploy files is release.env's, at its version.
        if file.starts_with("deploy/") || file.starts_with(".github/") {
            for line in text.lines().filter(|l| l.contains("ghcr.io/")) {
                assert!(line.contains(image.as_str()), "{file}: {line}");
            }
            for line in text.lines().filter(|l| l.contains("newTag:")) {
                assert!(line.contains(&format!("\"{version}\"")), "{file}: {line}");
            }
        }
    }
}

/// kubectl, when installed; CI (`SCIMSYNC_REQUIRE_KUBECTL=1`, set by .ci/run when it has
/// kubectl) fails rather than skipping.
fn kubectl() -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("kubectl"))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        assert!(
            std::env::var_os("SCIMSYNC_REQUIRE_KUBECTL").is_none(),
            "SCIMSYNC_REQUIRE_KUBECTL is set and kubectl is not on PATH"
        );
        eprintln!("kubectl is not installed: the overlays were not rendered");
    }
    found
}

/// `kubectl kustomize DIR`, as objects.
fn render(kubectl: &Path, dir: &str) -> Vec<Value> {
    let out = std::process::Command::new(kubectl)
        .arg("kustomize")
        .arg(root().join(dir))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "kubectl kustomize {dir}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_yaml::Deserializer::from_slice(&out.stdout)
        .map(|doc| Value::deserialize(doc).unwrap())
        .filter(|v| !v.is_null())
        .collect()
}

#[test]
fn every_overlay_renders_with_kubectl_kustomize() {
    let Some(kubectl) = kubectl() else { return };
    let release = release_env();
    let image = format!(
        "{}:{}",
        release["SCIMSYNC_IMAGE"], release["SCIMSYNC_VERSION"]
    );
    // The base: no config, no sample directory.
    let base = render(&kubectl, "deploy/kubernetes/base");
    assert!(
        of_kind(&base, "ConfigMap").is_empty(),
        "the base embeds a config"
    );
    let overlays: Vec<String> = std::fs::read_dir(root().join("deploy/kubernetes/overlays"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(overlays.len() >= 2, "{overlays:?}");
    for overlay in overlays {
        let objects = render(&kubectl, &format!("deploy/kubernetes/overlays/{overlay}"));
        let maps = of_kind(&objects, "ConfigMap");
        assert_eq!(maps.len(), 1, "{overlay}");
        let config_map = maps[0]["metadata"]["name"].as_str().unwrap();
        assert!(
            config_map.starts_with("scimsync-config-"),
            "{overlay}: generated, hashed"
        );
        let config = maps[0]["data"]["scimsync.yaml"].as_str().unwrap();
        assert!(
            config.contains("csv: hr/people.csv"),
            "{overlay}: the HR export"
        );
        for object in &objects {
            assert_eq!(
                object["metadata"]["namespace"]
                    .as_str()
                    .or(Some("scimsync")),
                Some("scimsync")
            );
        }
        let specs = pod_specs(&objects);
        assert_eq!(
            specs.len(),
            1,
            "{overlay}: the daemon or the CronJob, not both"
        );
        let spec = specs[0];
        let container = &spec["containers"][0];
        assert_eq!(container["image"], image.as_str(), "{overlay}");
        assert!(
            container["resources"]["limits"]["memory"].is_string(),
            "{overlay}"
        );
        assert!(
            container["resources"]["requests"]["cpu"].is_string(),
            "{overlay}"
        );
        let volumes = spec["volumes"].as_array().unwrap();
        let volume = |name: &str| volumes.iter().find(|v| v["name"] == name).unwrap();
        assert_eq!(
            volume("config")["configMap"]["name"],
            config_map,
            "{overlay}"
        );
        assert_eq!(
            volume("hr-export")["persistentVolumeClaim"]["readOnly"],
            true
        );
        let mounts = container["volumeMounts"].as_array().unwrap();
        let hr = mounts.iter().find(|m| m["name"] == "hr-export").unwrap();
        assert_eq!(hr["mountPath"], "/etc/scimsync/hr");
        assert_eq!(hr["readOnly"], true);
        let args: Vec<&str> = container["args"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect();
        if of_kind(&objects, "CronJob").is_empty() {
            assert_eq!(args[0], "run", "{overlay}");
        } else {
            assert_eq!(args[0], "apply", "{overlay}");
            assert!(
                args.iter().any(|a| a.starts_with("--metrics-push=http")),
                "{overlay}: the CronJob pushes its metrics: {args:?}"
            );
            assert!(
                of_kind(&objects, "Service").is_empty(),
                "{overlay}: no daemon Service"
            );
            let policy = serde_json::to_string(&of_kind(&objects, "NetworkPolicy")[0]).unwrap();
            assert!(
                policy.contains("9091"),
                "{overlay}: the Pushgateway is reachable"
            );
        }
    }
}

/// The systemd units: the timer's schedule is one `Persistent=true` acts on, and every unit's
/// documentation is the man page the release tarball installs.
#[test]
fn the_systemd_timer_catches_up_and_the_units_point_at_the_man_page() {
    let dir = root().join("deploy/systemd");
    let timer = std::fs::read_to_string(dir.join("scimsync-apply.timer")).unwrap();
    let keys: Vec<&str> = timer
        .lines()
        .filter_map(|l| l.split_once('=').map(|(k, _)| k))
        .collect();
    if timer.lines().any(|l| l == "Persistent=true") {
        assert!(
            keys.contains(&"OnCalendar"),
            "Persistent= acts on OnCalendar= only"
        );
    }
    assert!(!keys.contains(&"OnUnitActiveSec") && !keys.contains(&"OnBootSec"));
    for unit in [
        "scimsync.service",
        "scimsync-apply.service",
        "scimsync-apply.timer",
    ] {
        let text = std::fs::read_to_string(dir.join(unit)).unwrap();
        assert!(
            text.lines().any(|l| l == "Documentation=man:scimsync(1)"),
            "{unit}"
        );
    }
}

/// The released image has no base image (nothing to pin, nothing to patch but the binary):
/// deploy/release/image builds it from scratch. The source-build Dockerfile's bases are
/// pinned by digest, or say why not and where the released image comes from.
#[test]
fn the_released_image_is_from_scratch_and_the_dockerfile_says_how_its_bases_are_pinned() {
    let image = std::fs::read_to_string(root().join("deploy/release/image")).unwrap();
    assert!(
        image.contains("buildah from --quiet scratch"),
        "buildah: from scratch"
    );
    let froms: Vec<&str> = image.lines().filter(|l| l.starts_with("FROM ")).collect();
    assert_eq!(froms, ["FROM scratch"], "docker: from scratch");
    assert!(image.contains("--user 65532:65532") && image.contains("USER 65532:65532"));
    assert!(image.contains("healthcheck") && image.contains("HEALTHCHECK"));
    let dockerfile = std::fs::read_to_string(root().join("Dockerfile")).unwrap();
    let unpinned: Vec<&str> = dockerfile
        .lines()
        .filter(|l| l.starts_with("FROM ") && !l.contains("@sha256:"))
        .collect();
    if !unpinned.is_empty() {
        assert!(
            dockerfile.contains("Base images by tag, not pinned")
                && dockerfile.contains("deploy/release/image makes it FROM scratch"),
            "unpinned bases {unpinned:?} without the note"
        );
    }
    assert!(dockerfile.contains("USER 65532:65532"));
    assert!(dockerfile.contains("HEALTHCHECK"));
}
