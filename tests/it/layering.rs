//! The module graph of `src/` reads top-down and has no cycles: each top-level module may use
//! only the modules below it in [`LAYERS`] (DESIGN §10). A `use crate::…` or a `crate::…` path
//! that points upward fails this test, naming the file and line.

use std::path::{Path, PathBuf};

/// Top-level modules of `src/`, from the front ends down to the shared vocabulary.
const LAYERS: &[&str] = &[
    "main",
    "lib",
    "cli",
    "daemon",
    "metrics",
    "exit",
    "pass",
    "memory",
    "validate",
    "apply",
    "plan",
    "directory",
    "config",
    "emulator",
    "scim",
    "diag",
    "model",
    "slack_rules",
    "files",
    "shutdown",
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file of `src/` belongs to.
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap();
    let first = rel
        .components()
        .next()
        .unwrap()
        .as_os_str()
        .to_string_lossy();
    first.trim_end_matches(".rs").to_string()
}

/// Every top-level module a line names through `crate::` (in a path or a `use crate::{…}`).
fn referenced(line: &str) -> Vec<String> {
    let code = line.split("//").next().unwrap_or_default();
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                let name: String = item
                    .trim()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    out.push(name);
                }
            }
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            out.push(name);
        }
    }
    out
}

#[test]
fn no_module_uses_one_above_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let rank = |m: &str| LAYERS.iter().position(|l| *l == m);
    let mut upward = Vec::new();
    for file in &files {
        let module = module_of(&src, file);
        let own = rank(&module)
            .unwrap_or_else(|| panic!("{}: module {module} is not in LAYERS", file.display()));
        let text = std::fs::read_to_string(file).unwrap();
        for (n, line) in text.lines().enumerate() {
            if line.trim_start().starts_with("//") {
                continue;
            }
            for target in referenced(line) {
                let Some(theirs) = rank(&target) else {
                    continue; // a macro or an item of lib.rs, not a module
                };
                if theirs < own {
                    upward.push(format!(
                        "{}:{}: {module} uses {target}, which is above it",
                        file.strip_prefix(&src).unwrap().display(),
                        n + 1
                    ));
                }
            }
        }
    }
    assert!(upward.is_empty(), "upward imports:\n{}", upward.join("\n"));
}

#[test]
fn the_scanner_sees_grouped_and_inline_paths() {
    assert_eq!(
        referenced("use crate::{config::Config, plan};"),
        ["config", "plan"]
    );
    assert_eq!(
        referenced("let x = crate::scim::Version::V1; // crate::cli"),
        ["scim"]
    );
}
