//! `scimsync apply --metrics-textfile FILE`: the daemon's metrics for the cron mode, written
//! after every apply — a success, a partial pass, a guard trip or a failure alike — in the
//! Prometheus text format (0.0.4) that node_exporter's textfile collector reads.
//!
//! One apply is one process, so the file carries the history: counters and histograms add
//! this run to the values the file held (a counter that only ever said "1" would never
//! `increase()`), `scimsync_last_success_timestamp_seconds` keeps the latest success even when
//! this run failed, `scimsync_start_time_seconds` keeps the first run, and a run that did not
//! get as far as a plan keeps the previous plan's gauges. The file is replaced atomically
//! (written to an unpredictable temporary name beside it, created exclusively, fsynced,
//! renamed: see [`crate::files::write_atomically`]), so the collector never reads half of it
//! and a link planted at either name is never written through, and is world-readable (0644)
//! whatever the umask: it holds no id and no email. A folder anyone may replace files in is
//! refused; a sticky or group-shared one is used with a warning (see [`Textfile::write`]).

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use super::Metrics;
use crate::pass::{PassError, PassOutcome, PassReport};
use crate::scim::observe::RequestObserver;

/// The metrics of one `apply` run, counted as it goes and rendered when it ends, for
/// `--metrics-textfile` and `--metrics-push` alike.
pub struct RunMetrics {
    metrics: Metrics,
    started: Instant,
}

/// How a run ended, in the text format: this run's series alone.
pub struct Finished {
    /// This run's series (Prometheus text format 0.0.4).
    pub text: String,
    /// Whether the run got as far as a plan (else the plan's gauges say nothing new).
    pub planned: bool,
}

impl Default for RunMetrics {
    fn default() -> Self {
        RunMetrics::new()
    }
}

impl RunMetrics {
    /// Starts timing a run.
    pub fn new() -> RunMetrics {
        RunMetrics {
            metrics: Metrics::new(),
            started: Instant::now(),
        }
    }

    /// The observer to give the pass ([`crate::pass::Request::observer`]), so its SCIM
    /// requests are counted.
    pub fn observer(&self) -> Arc<dyn RequestObserver> {
        self.metrics.slack_observer()
    }

    /// Records how the run ended (call once) and renders its series.
    pub fn finish(&self, result: Result<&PassReport, &PassError>) -> Finished {
        let planned = match result {
            Ok(report) => {
                self.metrics.record_plan(&report.plan);
                self.metrics.record_report(report);
                self.metrics.set_interval(report.config.daemon.interval);
                true
            }
            Err(_) => false,
        };
        self.metrics
            .record_pass_end(outcome_label(result), self.started.elapsed());
        Finished {
            text: to_text_format(&self.metrics.encode()),
            planned,
        }
    }
}

/// The file `--metrics-textfile` names.
pub struct Textfile {
    path: PathBuf,
}

impl Textfile {
    /// The metrics file at `path`.
    pub fn new(path: &Path) -> Textfile {
        Textfile {
            path: path.to_path_buf(),
        }
    }

    /// The file written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Replaces the file with the run's metrics added to the history the file held (read only
    /// from a regular file, never through a link), and returns what it wrote. Fails, writing
    /// nothing, when anyone may replace files in its folder.
    pub fn write(&self, run: &Finished) -> std::io::Result<String> {
        self.check_folder()?;
        // The history, from a regular file only: a link planted at the name is not read
        // through (its target's lines would be carried into a file anyone may read).
        let previous = crate::files::read_regular(&self.path)
            .ok()
            .flatten()
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        let text = carry_forward(&previous, &run.text, run.planned);
        crate::files::write_atomically(
            &self.path,
            text.as_bytes(),
            // No id, no email: readable by node_exporter.
            Some(0o644),
        )?;
        Ok(text)
    }

    /// Refuses a folder anyone may replace files in; warns about one others may only add to
    /// (a sticky `/tmp`, a collector folder shared by a group): the file is public and written
    /// by rename, so nobody can redirect the write, but others could take its name first.
    fn check_folder(&self) -> std::io::Result<()> {
        let folder = crate::files::folder_of(&self.path);
        if let Some(risk) = crate::files::check_folder(folder, crate::files::FolderUse::Public)? {
            tracing::warn!(
                path = %self.path.display(),
                "the metrics file's folder {} is not private: {risk}; the file is written all \
                 the same (it holds no id and no email, and is replaced by rename, never written \
                 through)",
                folder.display()
            );
        }
        Ok(())
    }
}

/// The `outcome` label of an `apply` run, as the daemon counts its passes.
pub fn outcome_label(result: Result<&PassReport, &PassError>) -> &'static str {
    match result {
        Ok(report) => match report.outcome() {
            PassOutcome::Success => "success",
            PassOutcome::Partial => "partial",
            PassOutcome::Guard => "guard",
        },
        Err(PassError::Locked(_)) => "locked",
        Err(_) => "error",
    }
}

/// OpenMetrics text (what `/metrics` serves) as the Prometheus text format 0.0.4 that
/// node_exporter parses: a counter family is named with its `_total` suffix, and the `# EOF`
/// and `# UNIT` lines go.
pub fn to_text_format(openmetrics: &str) -> String {
    let counters: HashSet<&str> = openmetrics
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|rest| rest.strip_suffix(" counter"))
        .collect();
    let mut out = String::new();
    for line in openmetrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let renamed = ["# HELP ", "# TYPE "].iter().find_map(|tag| {
            let rest = line.strip_prefix(tag)?;
            let (name, tail) = rest.split_once(' ')?;
            counters
                .contains(name)
                .then(|| format!("{tag}{name}_total {tail}"))
        });
        out.push_str(renamed.as_deref().unwrap_or(line));
        out.push('\n');
    }
    out
}

/// The family a sample belongs to, given the families' types: itself, or a histogram's
/// `_bucket`, `_sum` and `_count`.
fn family_of<'a>(sample: &'a str, types: &HashMap<&str, &str>) -> Option<&'a str> {
    if types.contains_key(sample) {
        return Some(sample);
    }
    ["_bucket", "_sum", "_count"].iter().find_map(|suffix| {
        let base = sample.strip_suffix(suffix)?;
        (types.get(base) == Some(&"histogram")).then_some(base)
    })
}

/// `name{labels}` → value, for every sample line.
fn samples(text: &str) -> Vec<(&str, f64)> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let (key, value) = l.rsplit_once(' ')?;
            Some((key, value.trim().parse().ok()?))
        })
        .collect()
}

/// The gauges the latest plan sets: a run that failed before planning keeps the previous
/// plan's values (and series) rather than reading as "nothing left to do".
const PLAN_GAUGES: [&str; 6] = [
    "scimsync_plan_ops",
    "scimsync_plan_conflicts",
    "scimsync_plan_skipped_rows",
    "scimsync_pending_deactivations",
    "scimsync_drift_objects",
    "scimsync_stuck_ops",
];

/// This run's value of a sample, merged with what the file held before (see the module doc).
fn merge(name: &str, kind: &str, current: f64, previous: Option<f64>, planned: bool) -> f64 {
    let Some(previous) = previous else {
        return current;
    };
    match (kind, name) {
        ("counter" | "histogram", _) => current + previous,
        (_, "scimsync_last_success_timestamp_seconds") => current.max(previous),
        (_, "scimsync_start_time_seconds") if previous > 0.0 => previous,
        (_, "scimsync_interval_seconds") if current == 0.0 => previous,
        (_, name) if !planned && PLAN_GAUGES.contains(&name) => previous,
        _ => current,
    }
}

/// `current` (text format) with the history of `previous` carried into it: merged values, and
/// the counter and histogram series only the previous file had, within their families.
pub fn carry_forward(previous: &str, current: &str, planned: bool) -> String {
    let types: HashMap<&str, &str> = current
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE ")?.split_once(' '))
        .collect();
    let before = samples(previous);
    let before_map: HashMap<&str, f64> = before.iter().copied().collect();
    let mut seen: HashSet<&str> = HashSet::new();
    let mut out = String::new();
    let mut family: Option<&str> = None;
    let carried = |family: Option<&str>, seen: &HashSet<&str>, out: &mut String| {
        let Some(f) = family else { return };
        let kept_gauge = !planned && PLAN_GAUGES.contains(&f);
        if !kept_gauge && !matches!(types.get(f), Some(&"counter" | &"histogram")) {
            return;
        }
        for (key, value) in &before {
            let name = key.split('{').next().unwrap_or(key);
            if family_of(name, &types) == Some(f) && !seen.contains(key) {
                let _ = writeln!(out, "{key} {value}");
            }
        }
    };
    for line in current.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            carried(family, &seen, &mut out);
            family = rest.split(' ').next();
        }
        let sample = (!line.starts_with('#'))
            .then(|| line.rsplit_once(' '))
            .flatten()
            .and_then(|(key, v)| Some((key, v.trim().parse::<f64>().ok()?)));
        let Some((key, value)) = sample else {
            out.push_str(line);
            out.push('\n');
            continue;
        };
        seen.insert(key);
        let name = key.split('{').next().unwrap_or(key);
        let kind = family_of(name, &types)
            .and_then(|f| types.get(f))
            .copied()
            .unwrap_or("untyped");
        let family_name = family_of(name, &types).unwrap_or(name);
        let merged = merge(
            family_name,
            kind,
            value,
            before_map.get(key).copied(),
            planned,
        );
        let _ = writeln!(out, "{key} {merged}");
    }
    carried(family, &seen, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const RUN: &str = "# HELP scimsync_passes_total Passes\n\
        # TYPE scimsync_passes_total counter\n\
        scimsync_passes_total{outcome=\"success\"} 1\n\
        scimsync_passes_total{outcome=\"error\"} 0\n\
        # HELP scimsync_last_success_timestamp_seconds Last\n\
        # TYPE scimsync_last_success_timestamp_seconds gauge\n\
        scimsync_last_success_timestamp_seconds 0\n\
        # HELP scimsync_plan_conflicts Conflicts\n\
        # TYPE scimsync_plan_conflicts gauge\n\
        scimsync_plan_conflicts 0\n\
        # HELP scimsync_d_seconds D\n\
        # TYPE scimsync_d_seconds histogram\n\
        scimsync_d_seconds_sum 2.5\n\
        scimsync_d_seconds_count 1\n\
        scimsync_d_seconds_bucket{le=\"+Inf\"} 1\n";

    #[test]
    fn counters_get_their_total_name_and_the_openmetrics_lines_go() {
        let om = "# HELP scimsync_passes Passes.\n# TYPE scimsync_passes counter\n\
                  scimsync_passes_total{outcome=\"success\"} 1\n# HELP g G.\n# TYPE g gauge\n\
                  # UNIT g seconds\ng 2\n# EOF\n";
        assert_eq!(
            to_text_format(om),
            "# HELP scimsync_passes_total Passes.\n# TYPE scimsync_passes_total counter\n\
             scimsync_passes_total{outcome=\"success\"} 1\n# HELP g G.\n# TYPE g gauge\ng 2\n"
        );
    }

    #[test]
    fn counters_and_histograms_add_up_and_the_last_success_is_kept() {
        let previous = RUN
            .replace("{outcome=\"success\"} 1", "{outcome=\"success\"} 4")
            .replace("_seconds 0\n", "_seconds 1700000000.5\n")
            .replace("scimsync_plan_conflicts 0", "scimsync_plan_conflicts 2")
            + "";
        // The previous file also had a series this run does not: carried, in its family.
        let previous = previous.replace(
            "scimsync_passes_total{outcome=\"error\"} 0\n",
            "scimsync_passes_total{outcome=\"error\"} 0\nscimsync_passes_total{outcome=\"odd\"} 7\n",
        );
        let failed_run = RUN
            .replace("{outcome=\"success\"} 1", "{outcome=\"success\"} 0")
            .replace("{outcome=\"error\"} 0", "{outcome=\"error\"} 1");
        let merged = carry_forward(&previous, &failed_run, false);
        assert!(
            merged.contains("scimsync_passes_total{outcome=\"success\"} 4\n"),
            "{merged}"
        );
        assert!(
            merged.contains("scimsync_passes_total{outcome=\"error\"} 1\n"),
            "{merged}"
        );
        let odd = merged.find("{outcome=\"odd\"} 7").expect(&merged);
        assert!(
            odd < merged.find("# HELP scimsync_last").unwrap(),
            "{merged}"
        );
        assert!(merged.contains("scimsync_last_success_timestamp_seconds 1700000000.5\n"));
        assert!(
            merged.contains("scimsync_plan_conflicts 2\n"),
            "no plan: kept"
        );
        // A labelled plan gauge this run did not set (no plan): the previous series are kept.
        let skipped = "# HELP scimsync_plan_skipped_rows Skipped\n\
            # TYPE scimsync_plan_skipped_rows gauge\n";
        let row = "scimsync_plan_skipped_rows{source=\"people.csv\",cause=\"email\"} 1\n";
        let kept = carry_forward(&format!("{skipped}{row}"), skipped, false);
        assert!(kept.contains(row), "{kept}");
        assert!(!carry_forward(&format!("{skipped}{row}"), skipped, true).contains(row));
        assert!(merged.contains("scimsync_d_seconds_sum 5\n"), "{merged}");
        assert!(merged.contains("scimsync_d_seconds_bucket{le=\"+Inf\"} 2\n"));
        // A run that planned sets the plan's gauges.
        let planned = carry_forward(&previous, RUN, true);
        assert!(planned.contains("scimsync_plan_conflicts 0\n"), "{planned}");
        // No previous file: this run's values.
        assert_eq!(carry_forward("", RUN, true), RUN);
    }
}
