//! The metrics of what the latest plan leaves undone, kept apart from the rest of the
//! metrics: pending deactivations, drift by attribute and stuck ops (the memory across passes,
//! `crate::memory`), and rows skipped as invalid by source and cause, all read from the latest
//! plan. Labels are attribute names, source files as the config names them and a fixed set of
//! causes (bounded), never ids or emails.

use std::collections::BTreeSet;
use std::sync::Mutex;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::model::Attribute;
use crate::plan::{Plan, SkipCause, skipped::counts_by_source};

/// The label set of `scimsync_drift_objects`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AttributeLabel {
    /// The attribute's name, e.g. `title`.
    pub attribute: String,
}

/// The label set of `scimsync_plan_skipped_rows`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SkippedLabels {
    /// The source file, as the config names it.
    pub source: String,
    /// The cause's [`SkipCause::as_str`], e.g. `email`.
    pub cause: &'static str,
}

/// Gauges overwritten by every pass's plan.
#[derive(Default)]
pub struct StateMetrics {
    /// `scimsync_plan_skipped_rows{source,cause}`: rows skipped as invalid in the latest plan.
    pub skipped: Family<SkippedLabels, Gauge>,
    /// The sources seen so far: each keeps its series (at zero once fixed), so an alert's
    /// `for:` never sees a series vanish.
    sources: Mutex<BTreeSet<String>>,
    /// `scimsync_pending_deactivations`: leavers waiting out `safety.deactivation_grace`.
    pub pending_deactivations: Gauge,
    /// `scimsync_drift_objects{attribute}`: accounts whose value was changed in Slack by hand.
    pub drift: Family<AttributeLabel, Gauge>,
    /// `scimsync_stuck_ops`: ops Slack refused with the same error pass after pass.
    pub stuck: Gauge,
}

impl StateMetrics {
    /// Registers the gauges, every text attribute's drift series at zero.
    pub fn register(&self, r: &mut Registry) {
        r.register(
            "scimsync_pending_deactivations",
            "Leavers inside the deactivation grace period in the latest plan",
            self.pending_deactivations.clone(),
        );
        r.register(
            "scimsync_drift_objects",
            "Accounts with a value changed in Slack by hand in the latest plan, by attribute",
            self.drift.clone(),
        );
        r.register(
            "scimsync_plan_skipped_rows",
            "Directory rows skipped as invalid in the latest plan (not synced), by source and \
             cause (email, duplicate, user_name, invalid_value, source_conflict, manager, other)",
            self.skipped.clone(),
        );
        r.register(
            "scimsync_stuck_ops",
            "Ops Slack refused with the same error on consecutive passes, in the latest plan",
            self.stuck.clone(),
        );
        for a in Attribute::TEXT {
            let _ = self.drift.get_or_create(&AttributeLabel {
                attribute: a.to_string(),
            });
        }
    }

    /// The latest plan's skipped rows, pending deactivations, drift and stuck ops.
    pub fn record(&self, plan: &Plan) {
        let count = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
        let counts = counts_by_source(&plan.skipped);
        let mut sources = self.sources.lock().unwrap_or_else(|p| p.into_inner());
        sources.extend(plan.counts.source_users.keys().cloned());
        sources.extend(counts.keys().map(|(source, _)| source.clone()));
        for source in sources.iter() {
            for cause in SkipCause::ALL {
                let n = counts.get(&(source.clone(), cause)).copied().unwrap_or(0);
                self.skipped
                    .get_or_create(&SkippedLabels {
                        source: source.clone(),
                        cause: cause.as_str(),
                    })
                    .set(count(n));
            }
        }
        drop(sources);
        self.pending_deactivations.set(count(plan.pending.len()));
        self.stuck.set(count(plan.stuck.len()));
        for a in Attribute::TEXT {
            let n = plan.drift.iter().filter(|d| d.attribute == a).count();
            self.drift
                .get_or_create(&AttributeLabel {
                    attribute: a.to_string(),
                })
                .set(count(n));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_text_attribute_has_a_drift_series_from_the_start() {
        let m = StateMetrics::default();
        let mut r = Registry::default();
        m.register(&mut r);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &r).unwrap();
        assert!(
            text.contains("scimsync_drift_objects{attribute=\"title\"} 0"),
            "{text}"
        );
        assert!(text.contains("scimsync_pending_deactivations 0"), "{text}");
        assert!(text.contains("scimsync_stuck_ops 0"), "{text}");
    }

    #[test]
    fn skipped_rows_are_counted_by_source_and_cause_and_a_fixed_source_goes_to_zero() {
        use crate::plan::Skipped;
        let m = StateMetrics::default();
        let mut r = Registry::default();
        m.register(&mut r);
        let mut plan = Plan::of(vec![]);
        plan.counts.source_users.insert("people.csv".into(), 400);
        plan.counts.source_users.insert("extra.yaml".into(), 2);
        let row = |source: &str, category| Skipped {
            source: source.into(),
            subject: "new.hire@exmaple".into(),
            cause: "not a valid email".into(),
            category,
        };
        plan.skipped = vec![
            row("people.csv:14", SkipCause::Email),
            row("people.csv:20", SkipCause::Email),
            row("people.csv:31", SkipCause::Duplicate),
        ];
        m.record(&plan);
        let text = |r: &Registry| {
            let mut t = String::new();
            prometheus_client::encoding::text::encode(&mut t, r).unwrap();
            t
        };
        let t = text(&r);
        let series = |source: &str, cause: &str| {
            format!("scimsync_plan_skipped_rows{{source=\"{source}\",cause=\"{cause}\"}}")
        };
        assert!(
            t.contains(&format!("{} 2", series("people.csv", "email"))),
            "{t}"
        );
        assert!(
            t.contains(&format!("{} 1", series("people.csv", "duplicate"))),
            "{t}"
        );
        assert!(
            t.contains(&format!("{} 0", series("extra.yaml", "email"))),
            "{t}"
        );
        assert!(!t.contains("exmaple"), "no email in a label: {t}");
        // Fixed: every series stays, at zero.
        plan.skipped.clear();
        plan.counts.source_users.remove("extra.yaml");
        m.record(&plan);
        let t = text(&r);
        assert!(
            t.contains(&format!("{} 0", series("people.csv", "email"))),
            "{t}"
        );
        assert!(
            t.contains(&format!("{} 0", series("extra.yaml", "email"))),
            "{t}"
        );
    }
}
