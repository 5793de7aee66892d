//! The test plumbing holds: every start of the binary anywhere under `tests/` goes through
//! `harness.rs` (`command`, `async_command`, `wrapper`), which clears every `SCIMSYNC_*`
//! variable, so no test sees a developer's shell and no runner clears its own subset.

use std::path::{Path, PathBuf};

use crate::harness;

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// `file:line` of every line of a text file under `tests/` that holds `needle`, outside
/// `tests/it/harness.rs`.
fn places(needle: &str) -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut all = Vec::new();
    files(&root.join("tests"), &mut all);
    all.sort();
    let mut out = Vec::new();
    for path in all {
        let rel = path.strip_prefix(root).unwrap();
        if rel == Path::new("tests/it/harness.rs") {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue; // not text
        };
        for (n, line) in text.lines().enumerate() {
            if line.contains(needle) {
                out.push(format!("{}:{}", rel.display(), n + 1));
            }
        }
    }
    out
}

#[test]
fn only_the_harness_names_the_binary() {
    // Spelt in two halves, so that this file does not name it either.
    let found = places(concat!("CARGO_BIN_EXE", "_scimsync"));
    assert!(
        found.is_empty(),
        "start the binary with harness::command(), async_command() or wrapper(), not at:\n{}",
        found.join("\n")
    );
}

#[test]
fn no_test_clears_scimsync_variables_itself() {
    let found = places(concat!("env_remove(\"SCIM", "SYNC_"));
    assert!(
        found.is_empty(),
        "harness::command() clears every SCIMSYNC_* variable; a local subset at:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_runner_clears_every_scimsync_variable_and_the_ambient_ones() {
    let c = harness::command();
    let removed: Vec<String> = c
        .get_envs()
        .filter(|(_, v)| v.is_none())
        .map(|(k, _)| k.to_string_lossy().into_owned())
        .collect();
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy().into_owned();
        if name.starts_with("SCIMSYNC_") {
            assert!(removed.contains(&name), "{name} reaches the binary");
        }
    }
    for name in ["STATE_DIRECTORY", "NO_COLOR"] {
        assert!(
            removed.iter().any(|r| r == name),
            "{name} reaches the binary"
        );
    }
    assert_eq!(
        harness::wrapper("sh").get_envs().count(),
        c.get_envs().count(),
        "a wrapper starts from the same clean environment"
    );
}
