//! How long applying a plan must take under Slack's rate limits (FACTS §7): the floor that the
//! per-endpoint buckets and the org-wide write bucket set, at the configured share. A token
//! bucket of `burst` refilled at `rate` lets at most `burst + rate·t` requests through in `t`,
//! so `n` requests to one bucket take at least `(n − burst) / rate`; the apply takes at least
//! the longest of these. The plan report states it, and the apply benchmark measures against
//! it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Op, Plan};
use crate::scim::limits::{Endpoint, Quota, RateSet};
use crate::scim::write::MEMBERSHIP_CHUNK;

/// The floor of one apply's duration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    /// Seconds the apply needs at least.
    pub seconds: f64,
    /// The share of Slack's budgets it was computed for.
    pub share: f64,
    /// How many times faster than Slack the budgets run (1 against Slack; N in a rehearsal
    /// against `scimsync emulator --time-scale N`): `seconds` is already divided by it.
    #[serde(default = "one")]
    pub time_scale: f64,
    /// The bucket that sets the floor: an endpoint (`user_create`) or `write` (org-wide).
    pub bound_by: String,
    /// Write requests per endpoint, by endpoint name.
    pub requests: BTreeMap<String, usize>,
}

fn one() -> f64 {
    1.0
}

/// The write requests applying `op` sends, by endpoint (retries and 429s aside).
fn requests(op: &Op) -> Vec<(Endpoint, usize)> {
    let chunks = |n: usize| n.div_ceil(MEMBERSHIP_CHUNK);
    match op {
        Op::CreateUser { .. } => vec![(Endpoint::UserCreate, 1)],
        Op::UpdateUser { .. } => vec![(Endpoint::UserUpdate, 1)],
        Op::DeactivateUser { .. } => vec![(Endpoint::UserDelete, 1)],
        Op::CreateGroup { members, .. } => vec![
            (Endpoint::GroupCreate, 1),
            (
                Endpoint::GroupUpdate,
                chunks(members.len().saturating_sub(MEMBERSHIP_CHUNK)),
            ),
        ],
        Op::UpdateGroup {
            rename,
            add,
            remove,
            ..
        } => vec![(
            Endpoint::GroupUpdate,
            chunks(add.len() + remove.len()).max(usize::from(rename.is_some())),
        )],
        Op::DeleteGroup { .. } => vec![(Endpoint::GroupDelete, 1)],
    }
}

/// A count as a float (exact below 2^53).
#[allow(clippy::cast_precision_loss)] // request counts stay far below 2^53
fn float(n: usize) -> f64 {
    n as f64
}

/// Seconds `n` requests need through `quota` at `share`: `(n − burst) / rate`, at least 0.
fn through(n: usize, quota: Quota, share: f64) -> f64 {
    let burst = f64::from(quota.burst) * share;
    let per_second = (f64::from(quota.per_minute) * share).max(1.0) / 60.0;
    ((float(n) - burst) / per_second).max(0.0)
}

/// The least time applying `plan` takes at `share` (in (0, 1]) of Slack's budgets.
pub fn estimate(plan: &Plan, share: f64) -> Estimate {
    let share = share.clamp(0.001, 1.0);
    let mut per: BTreeMap<Endpoint, usize> = BTreeMap::new();
    for op in &plan.ops {
        for (endpoint, n) in requests(op) {
            *per.entry(endpoint).or_default() += n;
        }
    }
    per.retain(|_, n| *n > 0);
    let writes: usize = per.values().sum();
    let mut seconds = through(writes, RateSet::Write.quota(), share);
    let mut bound_by = RateSet::Write.name().to_string();
    for (endpoint, &n) in &per {
        if let Some(q) = endpoint.quota() {
            let t = through(n, q, share);
            if t > seconds {
                seconds = t;
                bound_by = endpoint.name().to_string();
            }
        }
    }
    Estimate {
        seconds,
        share,
        time_scale: 1.0,
        bound_by,
        requests: per
            .into_iter()
            .map(|(e, n)| (e.name().to_string(), n))
            .collect(),
    }
}

impl Estimate {
    /// The same floor with the budgets running `time_scale` times faster (a rehearsal).
    pub fn time_scaled(mut self, time_scale: f64) -> Estimate {
        if time_scale > 0.0 {
            self.seconds /= time_scale;
            self.time_scale = time_scale;
        }
        self
    }

    /// One sentence for the plan report: `Estimated apply time: at least 5m 27s at 100% of
    /// Slack's rate limits (bound by user_create: 1,000 requests).`
    pub fn sentence(&self) -> String {
        let requests = |n: usize| format!("{n} request{}", if n == 1 { "" } else { "s" });
        let bound = match self.requests.get(&self.bound_by) {
            Some(&n) => format!("{}: {}", self.bound_by, requests(n)),
            None => format!(
                "the org-wide write limit: {}",
                requests(self.requests.values().sum::<usize>())
            ),
        };
        let scale = if (self.time_scale - 1.0).abs() > f64::EPSILON {
            format!(", time-scaled ×{}", self.time_scale)
        } else {
            String::new()
        };
        let time = match human(self.seconds) {
            under if self.seconds < 1.0 => under,
            t => format!("at least {t}"),
        };
        format!(
            "Estimated apply time: {time} at {}% of Slack's rate limits{scale} (bound by \
             {bound}).",
            (self.share * 100.0).round()
        )
    }
}

/// `5m 27s`, `1h 02m`, `12s`, `under 1s`.
fn human(seconds: f64) -> String {
    if seconds < 1.0 {
        return "under 1s".into();
    }
    // Rounded up, and far below u64::MAX: a plan's requests are counted in millions at most.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let s = seconds.ceil() as u64;
    match s {
        s if s >= 3600 => format!("{}h {:02}m", s / 3600, s / 60 % 60),
        s if s >= 60 => format!("{}m {:02}s", s / 60, s % 60),
        s => format!("{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{PlannedOp, UserFields, UserRef};

    fn plan(ops: Vec<Op>) -> Plan {
        Plan::of(ops.into_iter().map(PlannedOp::new).collect())
    }

    fn mixed(n: usize) -> Vec<Op> {
        let mut ops = Vec::new();
        for i in 0..n {
            ops.push(Op::CreateUser {
                email: format!("n{i}@example.com"),
                user_name: format!("n{i}"),
                fields: UserFields::default(),
                source: String::new(),
            });
            ops.push(Op::UpdateUser {
                id: format!("U{i}"),
                email: format!("u{i}@example.com"),
                reactivate: false,
                fields: UserFields::default(),
                changes: vec![],
                source: String::new(),
            });
            ops.push(Op::DeactivateUser {
                id: format!("D{i}"),
                email: format!("d{i}@example.com"),
                reason: crate::plan::Leaving::Absent,
            });
        }
        ops
    }

    #[test]
    fn each_endpoint_bucket_and_the_org_bucket_set_a_floor() {
        // 1,000 each of creates, updates and deactivations: each endpoint needs
        // (1000 − 20) / 3 per second = 326.7 s; the org bucket (3000 − 180) / 10 = 282 s.
        let e = estimate(&plan(mixed(1000)), 1.0);
        assert!((e.seconds - 980.0 / 3.0).abs() < 1e-6, "{e:?}");
        assert_eq!(e.requests["user_delete"], 1000);
        assert!(e.bound_by.starts_with("user_"), "{e:?}");
        assert_eq!(
            e.sentence(),
            format!(
                "Estimated apply time: at least 5m 27s at 100% of Slack's rate limits (bound \
                 by {}: 1000 requests).",
                e.bound_by
            )
        );
        // At half the budget: rates and bursts halve, (1000 − 10) / 1.5 = 660 s.
        let half = estimate(&plan(mixed(1000)), 0.5);
        assert!((half.seconds - 660.0).abs() < 1e-6, "{half:?}");
        // A rehearsal against an emulator running the limits 60 times faster: 11 s.
        let rehearsal = half.time_scaled(60.0);
        assert!((rehearsal.seconds - 11.0).abs() < 1e-6, "{rehearsal:?}");
        assert!(
            rehearsal
                .sentence()
                .contains("at least 11s at 50% of Slack's rate limits, time-scaled ×60 (bound"),
            "{}",
            rehearsal.sentence()
        );
    }

    #[test]
    fn one_request_is_one_request() {
        let e = estimate(&plan(vec![mixed(1).remove(0)]), 1.0);
        assert!(
            e.sentence()
                .ends_with("(bound by the org-wide write limit: 1 request)."),
            "{}",
            e.sentence()
        );
        let mut e = e;
        e.bound_by = "user_create".into();
        assert!(e.sentence().ends_with("(bound by user_create: 1 request)."));
    }

    #[test]
    fn the_org_wide_bucket_binds_when_every_endpoint_is_busy() {
        // 2,000 writes spread over six endpoints: no endpoint needs more than
        // (334 − 20) / 3 = 105 s, but the org bucket needs (2000 − 180) / 10 = 182 s.
        let mut ops = Vec::new();
        for i in 0..334 {
            ops.extend(mixed(1).into_iter().map(|mut op| {
                if let Op::CreateUser { email, .. } = &mut op {
                    *email = format!("c{i}@example.com");
                }
                op
            }));
            ops.push(Op::CreateGroup {
                name: format!("g{i}"),
                members: vec![],
                source: String::new(),
            });
            ops.push(Op::UpdateGroup {
                id: format!("S{i}"),
                name: format!("s{i}"),
                rename: None,
                add: vec![UserRef::Id("U1".into())],
                remove: vec![],
            });
            ops.push(Op::DeleteGroup {
                id: format!("X{i}"),
                name: format!("x{i}"),
            });
        }
        let e = estimate(&plan(ops), 1.0);
        assert_eq!(e.bound_by, "write");
        assert!((e.seconds - (2004.0 - 180.0) / 10.0).abs() < 1e-6, "{e:?}");
        assert!(
            e.sentence()
                .contains("(bound by the org-wide write limit: 2004 requests)")
        );
    }

    #[test]
    fn big_groups_count_their_chunks_and_small_plans_fit_the_burst() {
        let members = (0..2500).map(|i| UserRef::Id(format!("U{i}"))).collect();
        let e = estimate(
            &plan(vec![Op::CreateGroup {
                name: "all".into(),
                members,
                source: String::new(),
            }]),
            1.0,
        );
        assert_eq!(e.requests["group_create"], 1);
        assert_eq!(e.requests["group_update"], 2);
        assert!(e.seconds.abs() < f64::EPSILON);
        assert!(
            e.sentence().contains("Estimated apply time: under 1s at"),
            "{}",
            e.sentence()
        );
        assert_eq!(human(3725.0), "1h 02m");
    }
}
