//! The pass lock: one pass at a time per config on a host, from before the listing to the last
//! write, so two processes never plan against each other's half-done writes.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::PassError;
use crate::config::Config;
use crate::plan;

/// An exclusive lock on a file, held while applying, so that two scimsync processes on one
/// host (a daemon and a cron job, or two daemons) never apply at once. Released on drop, and
/// by the kernel if the process dies.
pub struct ApplyLock {
    _file: std::fs::File,
}

impl ApplyLock {
    /// The lock file for a config: the configured one, else one per config file in
    /// [`default_lock_dir`].
    pub fn path_for(config: &Config) -> PathBuf {
        if let Some(p) = &config.lock_file {
            return p.clone();
        }
        let absolute =
            std::fs::canonicalize(&*config.file).unwrap_or_else(|_| PathBuf::from(&*config.file));
        let dir = default_lock_dir(&|name| std::env::var_os(name), &|p| p.is_dir());
        dir.join(format!(
            "scimsync-{}.lock",
            plan::fingerprint(&absolute.display().to_string())
        ))
    }

    /// Takes the lock, or fails at once if another process holds it. The file is created with
    /// mode 0600 and never truncated; it is opened without following a symbolic link at its
    /// name and without blocking, and must be a regular file: its default place may be the
    /// shared temporary folder, where anyone can plant a link (which would make this process
    /// create the file it points to) or a FIFO (which would hang it) at a name known in
    /// advance.
    pub fn try_acquire(config: &Config) -> Result<ApplyLock, PassError> {
        let path = Self::path_for(config);
        let file = open(&path).map_err(|source| PassError::LockFile {
            path: path.display().to_string(),
            source,
        })?;
        match file.try_lock() {
            Ok(()) => Ok(ApplyLock { _file: file }),
            Err(std::fs::TryLockError::WouldBlock) => {
                Err(PassError::Locked(path.display().to_string()))
            }
            Err(std::fs::TryLockError::Error(source)) => Err(PassError::LockFile {
                path: path.display().to_string(),
                source,
            }),
        }
    }
}

/// Opens (creating, mode 0600) the lock file at `path`: see [`ApplyLock::try_acquire`].
fn open(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    crate::files::open_regular(
        path,
        std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600),
    )
}

use crate::memory::store::SYSTEMD_STATE_DIR;

/// Where the lock goes when the config names none: a place every scimsync on the host sees,
/// never a private temporary folder (systemd's `PrivateTmp=yes` gives each unit its own
/// `/tmp`, so a lock there would not stop a manual `apply` from running beside the timer).
///
/// In order: `$STATE_DIRECTORY` (set by systemd for the shipped units; its first entry),
/// `/var/lib/scimsync` when it exists (the same folder, for a manual run on that host),
/// `$XDG_RUNTIME_DIR`, then the temporary folder. `env` and `is_dir` are the process
/// environment and the file system (tests pass their own).
pub fn default_lock_dir(
    env: &dyn Fn(&str) -> Option<OsString>,
    is_dir: &dyn Fn(&Path) -> bool,
) -> PathBuf {
    let set = |name: &str| env(name).filter(|v| !v.is_empty());
    if let Some(state) = set("STATE_DIRECTORY") {
        let first = state
            .to_string_lossy()
            .split(':')
            .next()
            .unwrap_or_default()
            .to_string();
        if !first.is_empty() {
            return PathBuf::from(first);
        }
    }
    if is_dir(Path::new(SYSTEMD_STATE_DIR)) {
        return PathBuf::from(SYSTEMD_STATE_DIR);
    }
    if let Some(runtime) = set("XDG_RUNTIME_DIR") {
        return PathBuf::from(runtime);
    }
    std::env::temp_dir()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<OsString> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect();
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| OsString::from(v))
        }
    }

    #[test]
    fn the_timer_the_daemon_and_a_manual_run_share_one_folder() {
        let exists = |p: &Path| p == Path::new(SYSTEMD_STATE_DIR);
        // Under the shipped units systemd sets STATE_DIRECTORY.
        let unit = default_lock_dir(&env(&[("STATE_DIRECTORY", "/var/lib/scimsync")]), &exists);
        // A person running `scimsync apply` on the same host has no such variable, and a
        // private /tmp would differ: the state folder is found all the same.
        let manual = default_lock_dir(&env(&[("XDG_RUNTIME_DIR", "/run/user/0")]), &exists);
        assert_eq!(unit, manual);
        assert_eq!(unit, PathBuf::from(SYSTEMD_STATE_DIR));
    }

    #[test]
    fn elsewhere_the_runtime_folder_then_the_temporary_one() {
        let nowhere = |_: &Path| false;
        assert_eq!(
            default_lock_dir(&env(&[("STATE_DIRECTORY", "/s1:/s2")]), &nowhere),
            PathBuf::from("/s1")
        );
        assert_eq!(
            default_lock_dir(&env(&[("XDG_RUNTIME_DIR", "/run/user/1000")]), &nowhere),
            PathBuf::from("/run/user/1000")
        );
        assert_eq!(default_lock_dir(&env(&[]), &nowhere), std::env::temp_dir());
    }

    #[test]
    fn the_lock_file_is_private_never_truncated_and_never_a_link_or_a_fifo() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("scimsync.lock");
        let file = open(&path).unwrap();
        assert!(file.try_lock().is_ok());
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        drop(file);
        std::fs::write(&path, "kept").unwrap();
        drop(open(&path).unwrap());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "kept");

        // A link planted at a predictable name in a shared folder: its target is not created.
        let link = dir.path().join("link.lock");
        let target = dir.path().join("nologin");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let e = open(&link).unwrap_err();
        assert!(e.to_string().contains("symbolic link"), "{e}");
        assert!(!target.exists());

        // A FIFO fails at once rather than waiting for a reader.
        let fifo = dir.path().join("fifo.lock");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        let e = open(&fifo).unwrap_err();
        assert!(e.to_string().contains("a FIFO"), "{e}");
    }
}
