//! The module graph of `src/` reads top-down and has no cycles (DESIGN §10):
//!
//! * each top-level module may use only the modules below it in [`LAYERS`];
//! * no two files of `src/` import each other, directly or around a longer loop, also inside
//!   one module (`emulator/page.rs` → `emulator/render.rs` → `emulator/page.rs`).
//!
//! The scanner reads every import a file makes: whole `use` trees (rustfmt-wrapped over many
//! lines, nested groups, `pub use`, `self`/`super`/`crate` and plain child-module paths) and
//! `crate::…`/`super::…`/`self::…` paths written in code. An import is resolved to the file
//! that defines what it names, through the re-exports it passes (`super::Store` where
//! `emulator/mod.rs` says `pub use store::Store` is an import of `emulator/store.rs`). Tests
//! (`#[cfg(test)]` modules, files and `use`s) count for the layers but not for file cycles: a
//! test may cross-check two siblings that must not know each other.

use std::collections::{BTreeMap, BTreeSet};
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

/// A module path below the crate root (`["emulator", "page"]`; empty for the root).
type ModPath = Vec<String>;

/// One import: where it is written and the absolute path it names.
#[derive(Debug, Clone)]
struct Import {
    line: usize,
    path: ModPath,
    /// Only tests compile it.
    test: bool,
    /// A `pub use`: the module passes the name on rather than using it.
    reexport: bool,
}

/// What a file says: its imports, the names its `use`s bind and the child files only tests
/// compile (`#[cfg(test)] mod tests;`).
#[derive(Debug, Default)]
struct Scan {
    imports: Vec<Import>,
    bindings: BTreeMap<String, ModPath>,
    test_children: BTreeSet<String>,
    inline_modules: BTreeSet<ModPath>,
}

// ---- Reading a file: comments and literals blanked, then tokens ----

/// `text` with every comment, string and character literal replaced by spaces (newlines
/// kept), so that neither a doc comment nor a message can look like an import.
fn blank(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let end = literal_end(&chars, i);
        if end > i {
            out.extend(
                chars[i..end]
                    .iter()
                    .map(|c| if *c == '\n' { '\n' } else { ' ' }),
            );
            i = end;
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

/// Where the comment or literal starting at `i` ends; `i` when none starts there.
fn literal_end(c: &[char], i: usize) -> usize {
    let at = |k: usize| c.get(k).copied().unwrap_or('\0');
    let after_ident = i > 0 && (c[i - 1].is_alphanumeric() || c[i - 1] == '_');
    match (at(i), at(i + 1)) {
        ('/', '/') => (i..c.len()).find(|&k| c[k] == '\n').unwrap_or(c.len()),
        ('/', '*') => block_comment_end(c, i),
        ('"', _) => string_end(c, i + 1),
        ('b', '"') if !after_ident => string_end(c, i + 2),
        ('r' | 'b', '"' | '#' | 'r') if !after_ident => raw_string_end(c, i),
        ('\'', '\\') => (i + 3..c.len())
            .find(|&k| c[k] == '\'')
            .map_or(i, |k| k + 1),
        ('\'', _) if at(i + 2) == '\'' => i + 3,
        _ => i,
    }
}

fn block_comment_end(c: &[char], start: usize) -> usize {
    let (mut depth, mut k) = (0, start);
    while k + 1 < c.len() {
        match (c[k], c[k + 1]) {
            ('/', '*') => (depth, k) = (depth + 1, k + 2),
            ('*', '/') if depth == 1 => return k + 2,
            ('*', '/') => (depth, k) = (depth - 1, k + 2),
            _ => k += 1,
        }
    }
    c.len()
}

/// The end of a string whose text starts at `k` (past the opening quote).
fn string_end(c: &[char], mut k: usize) -> usize {
    while k < c.len() {
        match c[k] {
            '\\' => k += 2,
            '"' => return k + 1,
            _ => k += 1,
        }
    }
    c.len()
}

/// The end of `r"…"`, `r#"…"#`, `br"…"` starting at `start`; `start` for a raw identifier.
fn raw_string_end(c: &[char], start: usize) -> usize {
    let mut k = start + usize::from(c[start] == 'b');
    if c.get(k) != Some(&'r') {
        return start;
    }
    k += 1;
    let hashes = c[k..].iter().take_while(|h| **h == '#').count();
    k += hashes;
    if c.get(k) != Some(&'"') {
        return start;
    }
    let close: Vec<char> = std::iter::once('"')
        .chain(std::iter::repeat_n('#', hashes))
        .collect();
    (k + 1..c.len())
        .find(|&e| c[e..].starts_with(&close))
        .map_or(c.len(), |e| e + close.len())
}

/// A token of blanked code and the line it is on.
#[derive(Debug, Clone, PartialEq)]
struct Token {
    text: String,
    line: usize,
}

fn tokens(code: &str) -> Vec<Token> {
    let mut out = Vec::new();
    for (n, line) in code.lines().enumerate() {
        let chars: Vec<char> = line.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            let len = if c.is_alphanumeric() || c == '_' {
                chars[i..]
                    .iter()
                    .take_while(|c| c.is_alphanumeric() || **c == '_')
                    .count()
            } else if c == ':' && chars.get(i + 1) == Some(&':') {
                2
            } else {
                1
            };
            if !c.is_whitespace() {
                out.push(Token {
                    text: chars[i..i + len].iter().collect(),
                    line: n + 1,
                });
            }
            i += len;
        }
    }
    out
}

// ---- Use trees ----

/// A path a `use` tree names, the line of its last segment and the name it binds (`None`
/// for a glob).
type Leaf = (Vec<String>, usize, Option<String>);

/// The paths a `use` tree names, from the token after `use` to its `;`.
fn use_tree(toks: &[Token]) -> Vec<Leaf> {
    let mut out = Vec::new();
    let mut at = 0;
    tree(toks, &mut at, &[], &mut out);
    out
}

/// One tree at `toks[*at]` under `prefix`: `a::b`, `a::{…}`, `a as b`, `*`.
fn tree(toks: &[Token], at: &mut usize, prefix: &[String], out: &mut Vec<Leaf>) {
    let mut path = prefix.to_vec();
    loop {
        let Some(t) = toks.get(*at) else { return };
        *at += 1;
        match t.text.as_str() {
            "{" => return group(toks, at, &path, out),
            "*" => return out.push((path, t.line, None)),
            "::" => {}
            name => {
                path.push(name.to_string());
                if toks.get(*at).is_none_or(|t| t.text != "::") {
                    let bound = bound_name(toks, at, &mut path);
                    return out.push((path, t.line, Some(bound)));
                }
            }
        }
    }
}

/// The name a leaf binds: its `as` alias, or its last segment (`a::b::{self}` binds `b`).
fn bound_name(toks: &[Token], at: &mut usize, path: &mut Vec<String>) -> String {
    if toks.get(*at).is_some_and(|t| t.text == "as") {
        *at += 2;
        let alias = toks[*at - 1].text.clone();
        if path.last().is_some_and(|l| l == "self") {
            path.pop();
        }
        return alias;
    }
    if path.last().is_some_and(|l| l == "self") {
        path.pop();
    }
    path.last().cloned().unwrap_or_default()
}

/// The items of `{…}` after `prefix`, up to the closing brace.
fn group(toks: &[Token], at: &mut usize, prefix: &[String], out: &mut Vec<Leaf>) {
    while let Some(t) = toks.get(*at) {
        match t.text.as_str() {
            "}" => {
                *at += 1;
                return;
            }
            "," => *at += 1,
            _ => tree(toks, at, prefix, out),
        }
    }
}

// ---- A file's imports ----

/// Where a scan stands: the module the code is in and whether only tests compile it.
struct Scope {
    name: String,
    depth: usize,
    test: bool,
}

/// Turns a path as written in module `module` into an absolute one; `None` for another
/// crate's. `is_module` says whether a path is a module of this crate (for `use child::x`).
fn absolute(
    module: &[String],
    path: &[String],
    is_module: &dyn Fn(&[String]) -> bool,
) -> Option<ModPath> {
    let first = path.first()?.as_str();
    let mut base = match first {
        "crate" | "scimsync" => return Some(path[1..].to_vec()),
        "self" => return Some([module, &path[1..]].concat()),
        "super" => module.to_vec(),
        _ => {
            let here = [module, &path[..1]].concat();
            return is_module(&here).then(|| [module, path].concat());
        }
    };
    let supers = path.iter().take_while(|s| *s == "super").count();
    for _ in 0..supers {
        base.pop()?;
    }
    Some([&base[..], &path[supers..]].concat())
}

/// Reads one file (`module` is its module path) into its imports and bindings.
fn scan(module: &[String], text: &str, is_module: &dyn Fn(&[String]) -> bool) -> Scan {
    let toks = tokens(&blank(text));
    let mut scan = Scan::default();
    let mut scopes: Vec<Scope> = Vec::new();
    let (mut depth, mut pending_test, mut i) = (0usize, false, 0usize);
    let mut public = false;
    while i < toks.len() {
        let here: ModPath = [module, &names(&scopes)].concat();
        let test = pending_test || scopes.last().is_some_and(|s| s.test);
        match toks[i].text.as_str() {
            "#" if toks.get(i + 1).is_some_and(|t| t.text == "[") => {
                let end = closing(&toks, i + 1, "[", "]");
                let attr: Vec<&str> = toks[i..end].iter().map(|t| t.text.as_str()).collect();
                pending_test |= attr.contains(&"cfg") && attr.contains(&"test");
                i = end;
                continue;
            }
            "pub" => {
                public = true;
                i += 1;
                continue;
            }
            "crate" | "super" | "(" | ")" | "in" if public || pending_test => {}
            "mod" => {
                let name = toks[i + 1].text.clone();
                if toks.get(i + 2).is_some_and(|t| t.text == "{") {
                    scan.inline_modules
                        .insert([&here[..], std::slice::from_ref(&name)].concat());
                    scopes.push(Scope { name, depth, test });
                } else if test && scopes.is_empty() {
                    scan.test_children.insert(name);
                }
                (pending_test, public) = (false, false);
                i += 2;
                continue;
            }
            "use" if toks.get(i + 1).is_some_and(|t| t.text != "<") => {
                let end = (i..toks.len())
                    .find(|&k| toks[k].text == ";")
                    .unwrap_or(toks.len());
                let inline = scan.inline_modules.clone();
                let known = |p: &[String]| is_module(p) || inline.contains(p);
                for (path, line, bound) in use_tree(&toks[i + 1..end]) {
                    let Some(path) = absolute(&here, &path, &known) else {
                        continue;
                    };
                    if let (Some(name), true) = (bound, scopes.is_empty() && !test) {
                        scan.bindings.insert(name, path.clone());
                    }
                    scan.imports.push(Import {
                        line,
                        path,
                        test,
                        reexport: public,
                    });
                }
                (pending_test, public) = (false, false);
                i = end;
                continue;
            }
            "{" => depth += 1,
            "}" => {
                depth -= 1;
                if scopes.last().is_some_and(|s| s.depth == depth) {
                    scopes.pop();
                }
            }
            "crate" | "super" | "self" | "scimsync" => {
                if let Some((path, line, end)) = code_path(&toks, i) {
                    if let Some(path) = absolute(&here, &path, is_module) {
                        scan.imports.push(Import {
                            line,
                            path,
                            test,
                            reexport: false,
                        });
                    }
                    i = end;
                    (pending_test, public) = (false, false);
                    continue;
                }
            }
            _ => (pending_test, public) = (false, false),
        }
        i += 1;
    }
    scan
}

fn names(scopes: &[Scope]) -> Vec<String> {
    scopes.iter().map(|s| s.name.clone()).collect()
}

/// The index past the bracket that closes the one at `open`.
fn closing(toks: &[Token], open: usize, left: &str, right: &str) -> usize {
    let mut depth = 0;
    for (k, t) in toks.iter().enumerate().skip(open) {
        if t.text == left {
            depth += 1;
        } else if t.text == right {
            depth -= 1;
            if depth == 0 {
                return k + 1;
            }
        }
    }
    toks.len()
}

/// A path written in code from `toks[i]` (`crate::a::b`): its segments, the line of its last
/// one, and the index past it. `None` unless `::` follows.
fn code_path(toks: &[Token], i: usize) -> Option<(Vec<String>, usize, usize)> {
    let mut path = vec![toks[i].text.clone()];
    let mut k = i + 1;
    while toks.get(k).is_some_and(|t| t.text == "::")
        && toks
            .get(k + 1)
            .is_some_and(|t| t.text.chars().all(|c| c.is_alphanumeric() || c == '_'))
    {
        path.push(toks[k + 1].text.clone());
        k += 2;
    }
    (path.len() > 1).then(|| (path, toks[k - 1].line, k))
}

// ---- The tree ----

/// Every file of `src/`, scanned: its path relative to `src/`, module path and scan.
struct Tree {
    files: Vec<(String, ModPath, Scan)>,
    /// Files only tests compile.
    test_files: BTreeSet<usize>,
}

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

/// The module path of a file of `src/` (`main.rs` is the executable's own crate, `["main"]`).
fn module_path(rel: &Path) -> ModPath {
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    if parts.last().is_some_and(|l| l == "mod" || l == "lib") {
        parts.pop();
    }
    parts
}

impl Tree {
    /// Reads `files` (path relative to `src/`, text).
    fn read(files: &[(String, String)]) -> Tree {
        let modules: BTreeSet<ModPath> = files
            .iter()
            .map(|(rel, _)| module_path(Path::new(rel)))
            .collect();
        let is_module = |p: &[String]| modules.contains(p);
        let files: Vec<(String, ModPath, Scan)> = files
            .iter()
            .map(|(rel, text)| {
                let module = module_path(Path::new(rel));
                let scan = scan(&module, text, &is_module);
                (rel.clone(), module, scan)
            })
            .collect();
        let mut tree = Tree {
            files,
            test_files: BTreeSet::new(),
        };
        tree.mark_test_files();
        tree
    }

    fn from_disk(src: &Path) -> Tree {
        let mut paths = Vec::new();
        rust_files(src, &mut paths);
        paths.sort();
        let files: Vec<(String, String)> = paths
            .iter()
            .map(|p| {
                let rel = p.strip_prefix(src).unwrap().to_string_lossy().into_owned();
                (rel, std::fs::read_to_string(p).unwrap())
            })
            .collect();
        Tree::read(&files)
    }

    /// A file is test-only when its parent declares it `#[cfg(test)]`, or a test file is an
    /// ancestor.
    fn mark_test_files(&mut self) {
        for k in 0..self.files.len() {
            let module = &self.files[k].1;
            let test = (1..=module.len()).any(|n| {
                let (parent, name) = (&module[..n - 1], &module[n - 1]);
                self.file_of_module(parent)
                    .is_some_and(|p| self.files[p].2.test_children.contains(name))
            });
            if test {
                self.test_files.insert(k);
            }
        }
    }

    fn file_of_module(&self, module: &[String]) -> Option<usize> {
        self.files
            .iter()
            .position(|(rel, m, _)| m == module && rel != "main.rs")
    }

    /// The file that defines what `path` names: the deepest module file on it, followed
    /// through the names that module's `use`s bind.
    fn defining_file(&self, path: &[String]) -> Option<usize> {
        let mut path = path.to_vec();
        for _ in 0..16 {
            let (len, file) = (0..=path.len())
                .rev()
                .find_map(|n| self.file_of_module(&path[..n]).map(|f| (n, f)))?;
            let next = path.get(len);
            match next.and_then(|n| self.files[file].2.bindings.get(n)) {
                Some(target) => path = [&target[..], &path[len + 1..]].concat(),
                None => return Some(file),
            }
        }
        None
    }

    /// The file-to-file imports compiled outside tests: (from, to, line).
    fn edges(&self) -> Vec<(usize, usize, usize)> {
        let mut out = Vec::new();
        for (from, (_, _, scan)) in self.files.iter().enumerate() {
            if self.test_files.contains(&from) {
                continue;
            }
            for import in scan.imports.iter().filter(|i| !i.test && !i.reexport) {
                if let Some(to) = self.defining_file(&import.path)
                    && to != from
                {
                    out.push((from, to, import.line));
                }
            }
        }
        out
    }

    /// Each group of files that import each other around a loop, as lines naming the
    /// imports inside the group.
    fn cycles(&self) -> Vec<String> {
        let edges = self.edges();
        let n = self.files.len();
        let mut next = vec![BTreeSet::new(); n];
        for (from, to, _) in &edges {
            next[*from].insert(*to);
        }
        let reach: Vec<BTreeSet<usize>> = (0..n).map(|s| reachable(&next, s)).collect();
        let mut seen = BTreeSet::new();
        let mut out = Vec::new();
        for a in 0..n {
            let group: BTreeSet<usize> = (0..n)
                .filter(|b| reach[a].contains(b) && reach[*b].contains(&a))
                .collect();
            if group.len() < 2 || !seen.insert(group.clone()) {
                continue;
            }
            let names: Vec<&str> = group.iter().map(|f| self.files[*f].0.as_str()).collect();
            let mut lines = vec![format!("file cycle: {}", names.join(", "))];
            let inside: BTreeSet<&(usize, usize, usize)> = edges
                .iter()
                .filter(|(from, to, _)| group.contains(from) && group.contains(to))
                .collect();
            for (from, to, line) in inside {
                let (a, b) = (&self.files[*from].0, &self.files[*to].0);
                lines.push(format!("  {a}:{line} uses {b}"));
            }
            out.push(lines.join("\n"));
        }
        out
    }

    /// Every import that names a top-level module above the importing file's own.
    fn upward(&self) -> Vec<String> {
        let rank = |m: &str| LAYERS.iter().position(|l| *l == m);
        let mut out = Vec::new();
        for (rel, module, scan) in &self.files {
            let top = module.first().map_or("lib", String::as_str);
            let own = rank(top).unwrap_or_else(|| panic!("{rel}: module {top} is not in LAYERS"));
            for import in &scan.imports {
                let Some(target) = import.path.first() else {
                    continue;
                };
                if rank(target).is_some_and(|theirs| theirs < own) {
                    out.push(format!(
                        "{rel}:{}: {top} uses {target}, which is above it",
                        import.line
                    ));
                }
            }
        }
        out
    }
}

/// The nodes reachable from `start` in one step or more.
fn reachable(next: &[BTreeSet<usize>], start: usize) -> BTreeSet<usize> {
    let mut seen = BTreeSet::new();
    let mut todo: Vec<usize> = next[start].iter().copied().collect();
    while let Some(n) = todo.pop() {
        if seen.insert(n) {
            todo.extend(next[n].iter().copied());
        }
    }
    seen
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

#[test]
fn no_module_uses_one_above_it() {
    let upward = Tree::from_disk(&src()).upward();
    assert!(upward.is_empty(), "upward imports:\n{}", upward.join("\n"));
}

#[test]
fn no_files_import_each_other_around_a_loop() {
    let cycles = Tree::from_disk(&src()).cycles();
    assert!(cycles.is_empty(), "{}", cycles.join("\n"));
}

// ---- The scanner, on small trees ----

fn tree_of(files: &[(&str, &str)]) -> Tree {
    let files: Vec<(String, String)> = files
        .iter()
        .map(|(p, t)| (p.to_string(), t.to_string()))
        .collect();
    Tree::read(&files)
}

fn imported(module: &[&str], text: &str, modules: &[&[&str]]) -> Vec<String> {
    let modules: Vec<ModPath> = modules
        .iter()
        .map(|m| m.iter().map(|s| s.to_string()).collect())
        .collect();
    let module: ModPath = module.iter().map(|s| s.to_string()).collect();
    scan(&module, text, &|p| modules.iter().any(|m| m == p))
        .imports
        .iter()
        .map(|i| format!("{}:{}", i.line, i.path.join("::")))
        .collect()
}

#[test]
fn the_scanner_reads_wrapped_nested_and_public_use_trees() {
    let text =
        "pub use crate::{\n    a::b,\n    c::{d, e as f, self},\n};\npub(crate) use super::x::*;\n";
    assert_eq!(
        imported(&["m", "n"], text, &[]),
        ["2:a::b", "3:c::d", "3:c::e", "3:c", "5:m::x"]
    );
}

#[test]
fn the_scanner_resolves_super_self_and_child_modules() {
    let text = "use super::super::p::Q;\nuse self::k::L;\nuse child::R;\nuse std::fmt;\n\
                mod t {\n    use super::S;\n}\n";
    assert_eq!(
        imported(&["a", "b"], text, &[&["a", "b", "child"]]),
        ["1:p::Q", "2:a::b::k::L", "3:a::b::child::R", "6:a::b::S"]
    );
}

#[test]
fn the_scanner_sees_paths_in_code_but_not_in_comments_or_strings() {
    let text = "fn f() {\n    let x = crate::scim::Version::V1; // crate::cli\n    \
                let s = \"crate::plan\";\n    /* super::daemon */\n    super::y::z();\n}\n";
    assert_eq!(
        imported(&["m"], text, &[]),
        ["2:scim::Version::V1", "5:y::z"]
    );
}

#[test]
fn a_wrapped_upward_import_is_found() {
    let tree = tree_of(&[
        ("lib.rs", "pub mod cli;\npub mod model;\n"),
        ("cli.rs", ""),
        (
            "model/mod.rs",
            "use crate::{\n    files::open,\n    cli::Args,\n};\n",
        ),
    ]);
    assert_eq!(
        tree.upward(),
        ["model/mod.rs:3: model uses cli, which is above it"]
    );
}

#[test]
fn a_file_cycle_is_found_through_a_re_export() {
    let tree = tree_of(&[
        (
            "emulator/mod.rs",
            "mod page;\nmod render;\npub use render::Site;\n",
        ),
        ("emulator/page.rs", "use super::Site;\n"),
        (
            "emulator/render.rs",
            "pub struct Site;\nfn f() { super::page::write() }\n",
        ),
    ]);
    assert_eq!(
        tree.cycles(),
        ["file cycle: emulator/page.rs, emulator/render.rs\n  \
          emulator/page.rs:1 uses emulator/render.rs\n  \
          emulator/render.rs:2 uses emulator/page.rs"]
    );
}

#[test]
fn a_test_module_may_cross_check_siblings() {
    let tree = tree_of(&[
        ("e/mod.rs", "mod a;\nmod b;\n#[cfg(test)]\nmod tests;\n"),
        (
            "e/a.rs",
            "use super::b::B;\n#[cfg(test)]\nmod tests {\n    use super::super::b::X;\n}\n",
        ),
        ("e/b.rs", "pub struct B;\n#[cfg(test)]\nuse super::a::A;\n"),
        ("e/tests.rs", "use super::a::A;\nuse super::b::B;\n"),
    ]);
    assert!(tree.cycles().is_empty(), "{:?}", tree.cycles());
    assert_eq!(tree.edges().len(), 1);
}
