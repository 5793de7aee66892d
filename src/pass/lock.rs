//! The pass lock: one pass at a time per config on a host, from before the listing to the last
//! write, so two processes never plan against each other's half-done writes.

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
    /// The lock file for a config: the configured one, else one per config file in the
    /// temporary folder.
    pub fn path_for(config: &Config) -> std::path::PathBuf {
        if let Some(p) = &config.lock_file {
            return p.clone();
        }
        let absolute = std::fs::canonicalize(&*config.file)
            .unwrap_or_else(|_| std::path::PathBuf::from(&*config.file));
        std::env::temp_dir().join(format!(
            "scimsync-{}.lock",
            plan::fingerprint(&absolute.display().to_string())
        ))
    }

    /// Takes the lock, or fails at once if another process holds it.
    pub fn try_acquire(config: &Config) -> Result<ApplyLock, PassError> {
        let path = Self::path_for(config);
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|source| PassError::LockFile {
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
