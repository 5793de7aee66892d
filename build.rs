//! Records the commit and the build date for `scimsync --version` and `scimsync_build_info`
//! (read by `src/model/build.rs`): `SCIMSYNC_BUILD_COMMIT` is `git rev-parse --short HEAD`
//! ("unknown" without git, e.g. in a container build without `.git`, unless the variable is
//! set by the builder), `SCIMSYNC_BUILD_DATE` the UTC date of `SOURCE_DATE_EPOCH` when set
//! (reproducible builds), else of now.
//!
//! Reruns only when HEAD moves (its file, the ref it points to, packed refs) or one of the
//! variables changes: any `rerun-if-changed` line stops cargo rerunning it on every edit.

use std::path::Path;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH");
    println!("cargo:rerun-if-env-changed=SCIMSYNC_BUILD_COMMIT");
    let commit = std::env::var("SCIMSYNC_BUILD_COMMIT")
        .ok()
        .filter(|c| !c.trim().is_empty())
        .or_else(|| git(&["rev-parse", "--short", "HEAD"]))
        .unwrap_or_else(|| "unknown".into());
    watch_head();
    let epoch = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.trim().parse::<i64>().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0))
        });
    println!("cargo:rustc-env=SCIMSYNC_BUILD_COMMIT={commit}");
    println!("cargo:rustc-env=SCIMSYNC_BUILD_DATE={}", date(epoch));
}

/// A git command's trimmed stdout, if git ran and succeeded.
fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (out.status.success() && !text.is_empty()).then_some(text)
}

/// Reruns when HEAD moves: HEAD itself (a checkout), the branch it points to (a commit) and
/// packed-refs (a gc). `--git-path` finds them in a worktree too. Only existing files are
/// named: a missing one would make cargo rerun the script on every build.
fn watch_head() {
    let mut paths = vec![git(&["rev-parse", "--git-path", "HEAD"])];
    if let Some(reference) = git(&["symbolic-ref", "-q", "HEAD"]) {
        paths.push(git(&["rev-parse", "--git-path", &reference]));
    }
    paths.push(git(&["rev-parse", "--git-path", "packed-refs"]));
    for path in paths.into_iter().flatten() {
        if Path::new(&path).exists() {
            println!("cargo:rerun-if-changed={path}");
        }
    }
}

/// `YYYY-MM-DD` (UTC) of a Unix time: Howard Hinnant's days-to-civil.
fn date(epoch: i64) -> String {
    let z = epoch.div_euclid(86_400) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}
