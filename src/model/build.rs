//! What this binary is: its version, the commit it was built from and when (recorded by
//! `build.rs`). `scimsync --version` prints them; the daemon exports them as
//! `scimsync_build_info`.

/// The crate's version (`Cargo.toml`).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// `git rev-parse --short HEAD` at build time, or "unknown" when built without git.
pub const COMMIT: &str = env!("SCIMSYNC_BUILD_COMMIT");

/// The build's UTC date, `YYYY-MM-DD` (from `SOURCE_DATE_EPOCH` when set).
pub const BUILD_DATE: &str = env!("SCIMSYNC_BUILD_DATE");

/// What `--version` prints after the program's name: `0.1.0 (commit 1a2b3c4, built 2026-11-30)`.
pub const LONG_VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("SCIMSYNC_BUILD_COMMIT"),
    ", built ",
    env!("SCIMSYNC_BUILD_DATE"),
    ")"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_long_version_names_version_commit_and_date() {
        assert!(LONG_VERSION.starts_with(VERSION));
        assert!(LONG_VERSION.contains(COMMIT));
        assert!(LONG_VERSION.contains(BUILD_DATE));
        assert!(!COMMIT.is_empty());
        // YYYY-MM-DD
        assert_eq!(BUILD_DATE.len(), 10, "{BUILD_DATE}");
        assert_eq!(BUILD_DATE.as_bytes()[4], b'-');
    }
}
