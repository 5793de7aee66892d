//! The daemon's Prometheus metrics. Labels are bounded (outcome, op kind, result, guard):
//! never a user id or an email (STYLE habit 6).

use std::sync::Mutex;
use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabel {
    pub outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OpLabels {
    pub kind: &'static str,
    pub result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabel {
    pub kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct GuardLabel {
    pub guard: String,
}

pub struct Metrics {
    registry: Mutex<Registry>,
    pub passes: Family<OutcomeLabel, Counter>,
    pub ops: Family<OpLabels, Counter>,
    pub rate_limited: Counter,
    pub rate_limit_wait_seconds: Counter<f64, AtomicU64>,
    pub guard_trips: Family<GuardLabel, Counter>,
    pub last_success: Gauge<f64, AtomicU64>,
    pub plan_ops: Family<KindLabel, Gauge>,
    pub plan_conflicts: Gauge,
    pub pass_duration: Histogram,
}

/// Every op kind, so the plan-size gauges are zeroed when a kind disappears from the plan.
pub const OP_KINDS: [&str; 7] = [
    "create_user",
    "reactivate_user",
    "update_user",
    "deactivate_user",
    "create_group",
    "update_group",
    "delete_group",
];

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let m = Metrics {
            registry: Mutex::new(Registry::default()),
            passes: Family::default(),
            ops: Family::default(),
            rate_limited: Counter::default(),
            rate_limit_wait_seconds: Counter::default(),
            guard_trips: Family::default(),
            last_success: Gauge::default(),
            plan_ops: Family::default(),
            plan_conflicts: Gauge::default(),
            // 0.1 s … ~7 min: a converged pass to a large initial import.
            pass_duration: Histogram::new(exponential_buckets(0.1, 2.0, 13)),
        };
        {
            let mut r = m.registry.lock().expect("fresh");
            r.register(
                "scimsync_passes",
                "Reconcile passes by outcome (success, partial, guard, error, locked)",
                m.passes.clone(),
            );
            r.register(
                "scimsync_ops",
                "Writes by op kind and result (applied, failed, skipped)",
                m.ops.clone(),
            );
            r.register(
                "scimsync_rate_limited",
                "429 answers from Slack (waited out, never failures)",
                m.rate_limited.clone(),
            );
            r.register(
                "scimsync_rate_limit_wait_seconds",
                "Time requests spent waiting for the rate limiter",
                m.rate_limit_wait_seconds.clone(),
            );
            r.register(
                "scimsync_guard_trips",
                "Passes stopped by a safety guard, by guard",
                m.guard_trips.clone(),
            );
            r.register(
                "scimsync_last_success_timestamp_seconds",
                "When a pass last completed (Unix time); alert when it grows old",
                m.last_success.clone(),
            );
            r.register(
                "scimsync_plan_ops",
                "Changes in the latest plan, by kind",
                m.plan_ops.clone(),
            );
            r.register(
                "scimsync_plan_conflicts",
                "Conflicts in the latest plan",
                m.plan_conflicts.clone(),
            );
            r.register(
                "scimsync_pass_duration_seconds",
                "Duration of reconcile passes",
                m.pass_duration.clone(),
            );
        }
        m
    }

    /// The Prometheus text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        let registry = self.registry.lock().unwrap_or_else(|p| p.into_inner());
        encode(&mut out, &registry).expect("writing to a String cannot fail");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition_has_every_family() {
        let m = Metrics::new();
        m.passes
            .get_or_create(&OutcomeLabel { outcome: "success" })
            .inc();
        m.ops
            .get_or_create(&OpLabels {
                kind: "create_user",
                result: "applied",
            })
            .inc_by(3);
        m.last_success.set(1_700_000_000.0);
        let text = m.encode();
        assert!(
            text.contains("scimsync_passes_total{outcome=\"success\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("scimsync_ops_total{kind=\"create_user\",result=\"applied\"} 3"),
            "{text}"
        );
        assert!(
            text.contains("scimsync_last_success_timestamp_seconds 1700000000"),
            "{text}"
        );
        assert!(
            text.contains("# TYPE scimsync_pass_duration_seconds histogram"),
            "{text}"
        );
    }
}
