//! Every path a config names, resolved by one rule — and, under `SCIMSYNC_CONFINE`, kept
//! inside one folder.
//!
//! The PR workflow plans a pull request's config, which may name any path: a source at
//! `../../home/runner/.ssh/id_rsa`, a state folder at `/etc`, a symlink committed in the pull
//! request pointing anywhere. With `SCIMSYNC_CONFINE=DIR` every path the config names must lie
//! inside `DIR` once symlinks are resolved (a file that does not exist yet: its nearest
//! existing folder, resolved, and the rest of the path), or the config is refused at that key.
//!
//! [`Paths::config_path`] is the only way the compiler turns a config's text into a path (the
//! lexical [`resolve`] is private to this module), so a file key added later is confined by
//! the same call that makes its path relative to the config's folder. Paths the environment
//! names (`SCIMSYNC_TOKEN_FILE`, `SCIMSYNC_STATE_DIR`) come from whoever runs scimsync, not
//! from the config, and are not confined: [`Paths::env_path`].

use std::ffi::OsString;
use std::path::{Component, Path, PathBuf};

/// The confined folder: as named, and with symlinks resolved.
#[derive(Debug, Clone)]
pub(super) struct Confinement {
    /// `SCIMSYNC_CONFINE` as given.
    pub named: String,
    /// The folder, canonical.
    folder: PathBuf,
}

impl Confinement {
    /// The folder `named` (relative to the working directory), which must exist.
    pub fn new(named: &str) -> Result<Confinement, String> {
        let folder = std::fs::canonicalize(resolve(Path::new(""), named.trim()))
            .map_err(|e| e.to_string())?;
        if !folder.is_dir() {
            return Err("not a folder".into());
        }
        Ok(Confinement {
            named: named.trim().to_string(),
            folder,
        })
    }

    /// Why `path` is not inside the folder, if it is not.
    fn leaves(&self, path: &Path) -> Option<String> {
        match physical(path) {
            Ok(real) if real.starts_with(&self.folder) => None,
            Ok(real) => Some(format!("it resolves to {}", real.display())),
            Err(why) => Some(why),
        }
    }
}

/// How the compiler resolves the paths of one config.
#[derive(Debug)]
pub(super) struct Paths<'a> {
    /// The config file's folder.
    pub base: &'a Path,
    /// `SCIMSYNC_CONFINE`, when set.
    pub confinement: Option<&'a Confinement>,
}

/// A path the config names that leaves the confined folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Outside {
    /// The path as resolved against the config's folder.
    pub path: PathBuf,
    /// The confined folder as named.
    pub folder: String,
    /// Where it leads instead, or why it cannot be resolved.
    pub why: String,
}

impl Paths<'_> {
    /// The path the config's `text` names, relative to the config's folder; under
    /// `SCIMSYNC_CONFINE`, an error unless it lies inside the confined folder.
    pub fn config_path(&self, text: &str) -> Result<PathBuf, Outside> {
        let path = resolve(self.base, text.trim());
        match self
            .confinement
            .and_then(|c| c.leaves(&path).map(|w| (c, w)))
        {
            None => Ok(path),
            Some((confinement, why)) => Err(Outside {
                path,
                folder: confinement.named.clone(),
                why,
            }),
        }
    }

    /// A path the environment names, relative to the working directory; never confined.
    pub fn env_path(text: &str) -> PathBuf {
        resolve(Path::new(""), text.trim())
    }

    /// Whether two paths name one file (once symlinks are resolved), or are the same text.
    pub fn same_file(a: &Path, b: &Path) -> bool {
        a == b || matches!((physical(a), physical(b)), (Ok(a), Ok(b)) if a == b)
    }
}

/// `path` with every symlink resolved, for a path that may not exist yet: its nearest
/// existing ancestor canonicalized and the rest appended. A dangling symlink on the way is an
/// error: writing through it would create its target, wherever that is.
fn physical(path: &Path) -> Result<PathBuf, String> {
    let mut missing: Vec<OsString> = Vec::new();
    let mut current = if path.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        path.to_path_buf()
    };
    loop {
        match std::fs::canonicalize(&current) {
            Ok(mut real) => {
                real.extend(missing.iter().rev());
                return Ok(real);
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if std::fs::symlink_metadata(&current).is_ok() {
                    return Err(format!(
                        "{} is a symlink to a missing file",
                        current.display()
                    ));
                }
                let Some(name) = current.file_name() else {
                    return Err(e.to_string());
                };
                missing.push(name.to_owned());
                current = match current.parent() {
                    Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
                    _ => PathBuf::from("."),
                };
            }
            Err(e) => return Err(format!("it cannot be resolved: {e}")),
        }
    }
}

/// Joins a config-relative path to the config's folder and tidies `.` and `..` lexically,
/// so `config/../examples/people.csv` reads as `examples/people.csv` in messages. (The path
/// opened is this one, so the confinement check, made on it, holds for what is opened.)
fn resolve(base: &Path, path: &str) -> PathBuf {
    let joined = base.join(path);
    let mut out = PathBuf::new();
    for component in joined.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                let last = out.components().next_back();
                match last {
                    Some(Component::Normal(_)) => {
                        out.pop();
                    }
                    Some(Component::RootDir | Component::Prefix(_)) => {}
                    _ => out.push(".."),
                }
            }
            other => out.push(other),
        }
    }
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_resolve_against_the_config_folder() {
        let base = Path::new("config");
        assert_eq!(
            resolve(base, "../examples/people.csv"),
            PathBuf::from("examples/people.csv")
        );
        assert_eq!(resolve(base, "dir.yaml"), PathBuf::from("config/dir.yaml"));
        assert_eq!(resolve(base, "/abs/x.csv"), PathBuf::from("/abs/x.csv"));
        assert_eq!(resolve(Path::new(""), "../x"), PathBuf::from("../x"));
        let paths = Paths {
            base,
            confinement: None,
        };
        assert_eq!(
            paths.config_path(" /anywhere/x.csv "),
            Ok(PathBuf::from("/anywhere/x.csv"))
        );
    }

    /// A root holding `outside.csv` and the confined `pr/` holding `in.csv`.
    fn tree() -> (tempfile::TempDir, Confinement) {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join("pr")).unwrap();
        std::fs::write(root.path().join("outside.csv"), "x").unwrap();
        std::fs::write(root.path().join("pr/in.csv"), "x").unwrap();
        let confinement = Confinement::new(&root.path().join("pr").display().to_string()).unwrap();
        (root, confinement)
    }

    #[test]
    fn a_confined_path_stays_inside_once_symlinks_are_resolved() {
        let (root, confinement) = tree();
        let base = root.path().join("pr");
        let paths = Paths {
            base: &base,
            confinement: Some(&confinement),
        };
        let symlink = |target: &Path, name: &str| {
            std::os::unix::fs::symlink(target, base.join(name)).unwrap();
        };
        symlink(&root.path().join("outside.csv"), "out.csv");
        symlink(&base.join("in.csv"), "in-link.csv");
        symlink(root.path(), "up");
        symlink(&root.path().join("missing.log"), "dangling.log");
        symlink(&base, "self");
        // Inside: files, links that stay inside, files and folders not made yet.
        for inside in [
            "in.csv",
            "./in.csv",
            "in-link.csv",
            "self/in.csv",
            "state/not/yet/made",
            "new.log",
            &base.join("in.csv").display().to_string(),
        ] {
            assert!(paths.config_path(inside).is_ok(), "{inside}");
        }
        // Outside: by `..`, by an absolute path, by a symlink to a file or a folder, by a
        // dangling symlink (writing through it would create its target).
        for outside in [
            "../outside.csv",
            "../pr-sibling/new.log",
            "/etc/passwd",
            "out.csv",
            "up/outside.csv",
            "up/pr/../outside.csv",
            "dangling.log",
        ] {
            let e = paths.config_path(outside).unwrap_err();
            assert_eq!(e.folder, confinement.named, "{outside}");
        }
        let e = paths.config_path("out.csv").unwrap_err();
        assert!(e.why.starts_with("it resolves to "), "{e:?}");
        assert!(e.why.ends_with("outside.csv"), "{e:?}");
        let e = paths.config_path("dangling.log").unwrap_err();
        assert!(e.why.ends_with("is a symlink to a missing file"), "{e:?}");
    }

    #[test]
    fn the_confined_folder_must_exist() {
        let dir = tempfile::tempdir().unwrap();
        assert!(Confinement::new(&dir.path().join("nope").display().to_string()).is_err());
        std::fs::write(dir.path().join("file"), "").unwrap();
        assert_eq!(
            Confinement::new(&dir.path().join("file").display().to_string()).unwrap_err(),
            "not a folder"
        );
    }
}
