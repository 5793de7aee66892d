//! The metrics of the memory across passes (`plan::memory`), kept apart from the rest of the
//! daemon's metrics: pending deactivations, drift by attribute and stuck ops, all read from
//! the latest plan. Labels are attribute names only (bounded), never ids or emails.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::model::Attribute;
use crate::plan::Plan;

/// The label set of `scimsync_drift_objects`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AttributeLabel {
    /// The attribute's name, e.g. `title`.
    pub attribute: String,
}

/// Gauges overwritten by every pass's plan.
#[derive(Default)]
pub struct StateMetrics {
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

    /// The latest plan's pending deactivations, drift and stuck ops.
    pub fn record(&self, plan: &Plan) {
        let count = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
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
}
