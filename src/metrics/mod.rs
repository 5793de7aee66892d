//! The Prometheus metrics of a pass, for both front ends: served by the daemon on `/metrics`,
//! and written by `scimsync apply --metrics-textfile` for node_exporter's textfile collector
//! (see [`textfile`]) or pushed to a Pushgateway by `--metrics-push` (see [`push`]); below both, so neither reaches into the other for them. Labels are
//! bounded (outcome, op kind, result, guard, endpoint class, HTTP status): never a user id or
//! an email (STYLE habit 6).

pub mod plan_state;
pub mod push;
pub mod textfile;

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::model::build;
use crate::pass::{Applied, PassReport};
use crate::plan::{Guard, OpKind, Plan};
use crate::scim::limits::Endpoint;
use crate::scim::observe::{RequestObserver, TRANSPORT_ERROR, status_label};

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

/// Every value of the `result` label of `scimsync_config_reloads_total`.
pub const RELOAD_RESULTS: [&str; 2] = ["success", "failure"];

/// The label set of `scimsync_config_reloads_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReloadLabel {
    /// One of [`RELOAD_RESULTS`].
    pub result: &'static str,
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

/// Buckets of `scimsync_slack_request_duration_seconds`: 10 ms to a minute; a request times
/// out after 30 s, so the last bucket holds the timeouts.
pub const REQUEST_BUCKETS: [f64; 13] = [
    0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0,
];

/// Buckets of `scimsync_pass_duration_seconds`: half a second (a converged pass against a small
/// organisation) to two hours (an initial import of 100,000 people at Slack's write rate).
pub const PASS_BUCKETS: [f64; 14] = [
    0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0, 7200.0,
];

/// Statuses whose `scimsync_slack_requests_total` series exist at zero from the start, for
/// every endpoint class: the ones alerts watch. Other statuses appear when first seen.
pub const STATUSES_AT_ZERO: [&str; 4] = ["429", "500", "503", TRANSPORT_ERROR];

/// The label set of `scimsync_slack_requests_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// The endpoint class's [`Endpoint::name`], e.g. `user_create`.
    pub endpoint: &'static str,
    /// The HTTP status code, or `transport_error` when no answer came.
    pub status: String,
}

/// The label set of `scimsync_slack_request_duration_seconds`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EndpointLabel {
    /// The endpoint class's [`Endpoint::name`].
    pub endpoint: &'static str,
}

/// The label set of `scimsync_build_info`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct BuildLabels {
    /// The crate version.
    pub version: &'static str,
    /// The short commit hash, or `unknown`.
    pub commit: &'static str,
    /// The build's UTC date.
    pub build_date: &'static str,
}

/// A histogram family whose members all use [`REQUEST_BUCKETS`].
type RequestHistograms = Family<EndpointLabel, Histogram, fn() -> Histogram>;

fn request_histogram() -> Histogram {
    Histogram::new(REQUEST_BUCKETS)
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
    /// `scimsync_pass_duration_seconds`: wall time of whole passes ([`PASS_BUCKETS`]).
    pub pass_duration: Histogram,
    /// Pending deactivations, drift by attribute, stuck ops (the state's metrics).
    pub state: plan_state::StateMetrics,
    /// `scimsync_slack_requests_total{endpoint,status}`: HTTP attempts sent to Slack.
    pub slack_requests: Family<RequestLabels, Counter>,
    /// `scimsync_slack_request_duration_seconds{endpoint}`: each attempt's wall time.
    pub slack_request_duration: RequestHistograms,
    /// `scimsync_build_info{version,commit,build_date}`: always 1.
    pub build_info: Family<BuildLabels, Gauge>,
    /// `scimsync_start_time_seconds`: when the daemon started (for `apply
    /// --metrics-textfile`: the first run the file remembers).
    pub start_time: Gauge<f64, AtomicU64>,
    /// `scimsync_interval_seconds`: the configured pass interval (`daemon.interval`), so an
    /// alert can say "no success for 3 intervals" without knowing it.
    pub interval: Gauge<f64, AtomicU64>,
    /// `scimsync_config_reloads_total{result}`: the daemon's reads of its config file (one
    /// per pass; SIGHUP starts a pass); a failure keeps the last good config in force.
    pub config_reloads: Family<ReloadLabel, Counter>,
}

/// Unix time now, in seconds with millisecond precision.
pub fn unix_now() -> f64 {
    #[allow(clippy::cast_precision_loss)] // milliseconds since 1970 fit f64 exactly
    let now = chrono::Utc::now().timestamp_millis() as f64 / 1000.0;
    now
}

/// Records each SCIM attempt into the request families (cheap clones of the registered ones).
#[derive(Debug)]
struct SlackRequests {
    requests: Family<RequestLabels, Counter>,
    duration: RequestHistograms,
}

impl RequestObserver for SlackRequests {
    fn request(&self, endpoint: Endpoint, status: Option<u16>, elapsed: Duration) {
        self.requests
            .get_or_create(&RequestLabels {
                endpoint: endpoint.name(),
                status: status_label(status),
            })
            .inc();
        self.duration
            .get_or_create(&EndpointLabel {
                endpoint: endpoint.name(),
            })
            .observe(elapsed.as_secs_f64());
    }
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
            pass_duration: Histogram::new(PASS_BUCKETS),
            slack_requests: Family::default(),
            slack_request_duration: Family::new_with_constructor(request_histogram),
            build_info: Family::default(),
            start_time: Gauge::default(),
            interval: Gauge::default(),
            config_reloads: Family::default(),
            state: plan_state::StateMetrics::default(),
        };
        m.register_all();
        m.start_time.set(unix_now());
        m.build_info
            .get_or_create(&BuildLabels {
                version: build::VERSION,
                commit: build::COMMIT,
                build_date: build::BUILD_DATE,
            })
            .set(1);
        m.zero_known_series();
        m
    }

    /// Registers every family under its name and help text.
    fn register_all(&self) {
        let m = self;
        {
            let mut r = m.registry.lock().expect("fresh");
            r.register(
                "scimsync_build_info",
                "The running scimsync: version, commit and build date (always 1)",
                m.build_info.clone(),
            );
            r.register(
                "scimsync_start_time_seconds",
                "When the daemon started (Unix time); for a textfile, its first run",
                m.start_time.clone(),
            );
            r.register(
                "scimsync_interval_seconds",
                "The configured pass interval (daemon.interval)",
                m.interval.clone(),
            );
            r.register(
                "scimsync_slack_requests",
                "HTTP attempts sent to Slack's SCIM API by endpoint class and status \
                 (transport_error: no answer)",
                m.slack_requests.clone(),
            );
            r.register(
                "scimsync_slack_request_duration_seconds",
                "Duration of HTTP attempts to Slack's SCIM API by endpoint class",
                m.slack_request_duration.clone(),
            );
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
            r.register(
                "scimsync_config_reloads",
                "Reads of the config file by the daemon (every pass, SIGHUP included), by result; \
                 on failure the last good config stays in force",
                m.config_reloads.clone(),
            );
            m.state.register(&mut r);
        }
    }

    /// Every known series exists from the start at zero, so an alert on its increase fires on
    /// the first event.
    fn zero_known_series(&self) {
        let m = self;
        for endpoint in Endpoint::ALL {
            let endpoint = endpoint.name();
            let _ = m
                .slack_request_duration
                .get_or_create(&EndpointLabel { endpoint });
            for status in STATUSES_AT_ZERO {
                let _ = m.slack_requests.get_or_create(&RequestLabels {
                    endpoint,
                    status: status.to_string(),
                });
            }
        }
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
        for result in RELOAD_RESULTS {
            let _ = m.config_reloads.get_or_create(&ReloadLabel { result });
        }
    }

    /// What the SCIM client tells about each attempt it sends, recorded into
    /// `scimsync_slack_requests_total` and `scimsync_slack_request_duration_seconds`.
    pub fn slack_observer(&self) -> Arc<dyn RequestObserver> {
        Arc::new(SlackRequests {
            requests: self.slack_requests.clone(),
            duration: self.slack_request_duration.clone(),
        })
    }

    /// The configured pass interval.
    pub fn set_interval(&self, interval: Duration) {
        self.interval.set(interval.as_secs_f64());
    }

    /// A read of the config file: it compiled (`true`), or the last good one stays.
    pub fn record_config_reload(&self, compiled: bool) {
        let result = if compiled { "success" } else { "failure" };
        self.config_reloads
            .get_or_create(&ReloadLabel { result })
            .inc();
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
            self.last_success.set(unix_now());
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

    #[test]
    fn build_info_and_every_watched_request_series_exist_from_the_start() {
        let m = Metrics::new();
        let text = m.encode();
        let info = format!(
            "scimsync_build_info{{version=\"{}\",commit=\"{}\",build_date=\"{}\"}} 1",
            build::VERSION,
            build::COMMIT,
            build::BUILD_DATE
        );
        assert!(text.contains(&info), "{text}");
        for endpoint in Endpoint::ALL {
            for status in STATUSES_AT_ZERO {
                let series = format!(
                    "scimsync_slack_requests_total{{endpoint=\"{}\",status=\"{status}\"}} 0",
                    endpoint.name()
                );
                assert!(text.contains(&series), "{series}");
            }
            let count = format!(
                "scimsync_slack_request_duration_seconds_count{{endpoint=\"{}\"}} 0",
                endpoint.name()
            );
            assert!(text.contains(&count), "{count}");
        }
        // One attempt of each kind: a status, and no answer at all.
        let observer = m.slack_observer();
        observer.request(Endpoint::UserCreate, Some(201), Duration::from_millis(40));
        observer.request(Endpoint::UserCreate, None, Duration::from_millis(30_020));
        let text = m.encode();
        assert!(
            text.contains(
                "scimsync_slack_requests_total{endpoint=\"user_create\",status=\"201\"} 1"
            ),
            "{text}"
        );
        assert!(text.contains(
            "scimsync_slack_requests_total{endpoint=\"user_create\",status=\"transport_error\"} 1"
        ));
        // A timed-out request (a little over 30 s) lands in the 60 s bucket, not the 30 s one.
        assert!(text.contains(
            "scimsync_slack_request_duration_seconds_bucket{le=\"30.0\",endpoint=\"user_create\"} 1"
        ), "{text}");
        assert!(text.contains(
            "scimsync_slack_request_duration_seconds_bucket{le=\"60.0\",endpoint=\"user_create\"} 2"
        ));
        assert!(text.contains("scimsync_start_time_seconds 1"), "{text}");
    }
}
