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

use crate::pass::{Applied, PassReport};
use crate::plan::{Guard, OpKind, Plan};

/// Every value of the `result` label of `scimsync_ops_total`.
const OP_RESULTS: [&str; 3] = ["applied", "failed", "skipped"];

/// Every value of the `outcome` label of `scimsync_passes_total`.
pub const PASS_OUTCOMES: [&str; 5] = ["success", "partial", "guard", "error", "locked"];

/// The label set of `scimsync_passes_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabel {
    /// One of [`PASS_OUTCOMES`].
    pub outcome: &'static str,
}

/// The label set of `scimsync_ops_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OpLabels {
    /// The op's [`OpKind::as_str`], e.g. `create_user`.
    pub kind: &'static str,
    /// `applied`, `failed` or `skipped`.
    pub result: &'static str,
}

/// The label set of `scimsync_plan_ops`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabel {
    /// The op's [`OpKind::as_str`].
    pub kind: &'static str,
}

/// The label set of `scimsync_guard_trips_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct GuardLabel {
    /// The guard's [`Guard::key`], as `--allow` spells it.
    pub guard: &'static str,
}

/// Every metric the daemon exports on `/metrics`, registered once in [`Metrics::new`]. The
/// handles are cheap clones of what the registry holds: updating a field updates the
/// exposition.
pub struct Metrics {
    registry: Mutex<Registry>,
    /// `scimsync_passes_total{outcome}`: passes, by how they ended.
    pub passes: Family<OutcomeLabel, Counter>,
    /// `scimsync_ops_total{kind,result}`: writes attempted, by op kind and result.
    pub ops: Family<OpLabels, Counter>,
    /// `scimsync_rate_limited_total`: 429 answers, each waited out and retried.
    pub rate_limited: Counter,
    /// `scimsync_rate_limit_wait_seconds_total`: seconds requests spent waiting for the limiter.
    pub rate_limit_wait_seconds: Counter<f64, AtomicU64>,
    /// `scimsync_guard_trips_total{guard}`: passes a safety guard stopped before any write.
    pub guard_trips: Family<GuardLabel, Counter>,
    /// `scimsync_last_success_timestamp_seconds`: Unix time (seconds, millisecond precision)
    /// when a pass last ended in success or partial; 0 until then.
    pub last_success: Gauge<f64, AtomicU64>,
    /// `scimsync_plan_ops{kind}`: ops in the latest plan, overwritten every pass.
    pub plan_ops: Family<KindLabel, Gauge>,
    /// `scimsync_plan_conflicts`: conflicts in the latest plan, overwritten every pass.
    pub plan_conflicts: Gauge,
    /// `scimsync_pass_duration_seconds`: wall time of whole passes, 0.1 s to ~7 min buckets.
    pub pass_duration: Histogram,
    /// Pending deactivations, drift by attribute, stuck ops (the state's metrics).
    pub state: super::state_metrics::StateMetrics,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A fresh registry with every family registered and every known label combination
    /// present at zero, so `increase()` alerts fire on the first event.
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
            state: super::state_metrics::StateMetrics::default(),
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
            m.state.register(&mut r);
        }
        // Every known series exists from the start at zero, so an alert on its increase fires
        // on the first one.
        for kind in OpKind::ALL {
            let _ = m.plan_ops.get_or_create(&KindLabel {
                kind: kind.as_str(),
            });
            for result in OP_RESULTS {
                let _ = m.ops.get_or_create(&OpLabels {
                    kind: kind.as_str(),
                    result,
                });
            }
        }
        for guard in Guard::ALL {
            let _ = m
                .guard_trips
                .get_or_create(&GuardLabel { guard: guard.key() });
        }
        for outcome in PASS_OUTCOMES {
            let _ = m.passes.get_or_create(&OutcomeLabel { outcome });
        }
        m
    }

    /// The latest plan's size and conflicts.
    pub fn record_plan(&self, plan: &Plan) {
        for kind in OpKind::ALL {
            let n = plan.ops.iter().filter(|op| op.kind() == kind).count();
            self.plan_ops
                .get_or_create(&KindLabel {
                    kind: kind.as_str(),
                })
                .set(i64::try_from(n).unwrap_or(i64::MAX));
        }
        self.plan_conflicts
            .set(i64::try_from(plan.conflicts.len()).unwrap_or(i64::MAX));
        self.state.record(plan);
    }

    /// What a pass that ran did: guard trips, op results, rate limiting.
    pub fn record_report(&self, report: &PassReport) {
        match &report.applied {
            Applied::GuardTripped(trips) => {
                for g in trips {
                    self.guard_trips
                        .get_or_create(&GuardLabel {
                            guard: g.guard.key(),
                        })
                        .inc();
                }
            }
            Applied::Done(o) => {
                for op in &o.ops {
                    self.ops
                        .get_or_create(&OpLabels {
                            kind: op.kind.as_str(),
                            result: op.result.label(),
                        })
                        .inc();
                }
                self.rate_limited.inc_by(o.rate_limited);
                self.rate_limit_wait_seconds.inc_by(o.waited.as_secs_f64());
            }
            Applied::NotRequested | Applied::NothingToDo => {}
        }
    }

    /// A pass's end: its outcome label and duration; a success or partial pass is recent.
    pub fn record_pass_end(&self, outcome: &'static str, duration: std::time::Duration) {
        self.passes.get_or_create(&OutcomeLabel { outcome }).inc();
        self.pass_duration.observe(duration.as_secs_f64());
        if matches!(outcome, "success" | "partial") {
            #[allow(clippy::cast_precision_loss)] // milliseconds since 1970 fit f64 exactly
            let now = chrono::Utc::now().timestamp_millis() as f64 / 1000.0;
            self.last_success.set(now);
        }
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
