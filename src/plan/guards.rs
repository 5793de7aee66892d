//! Guards: blast-radius limits evaluated on a plan before anything is written (DESIGN §4).
//! A tripped guard stops the whole apply; each trip says which limit and by how much.

use serde::{Deserialize, Serialize};

use super::Plan;
use crate::config::Safety;

/// A safety guard, named by its `safety:` key; `--allow` takes the same name with dashes.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "snake_case")]
pub enum Guard {
    /// More deactivations than `max_deactivations`.
    MaxDeactivations,
    /// A larger share of managed users deactivated than `max_deactivation_ratio`.
    MaxDeactivationRatio,
    /// More reactivations than `max_reactivations`: a blank `active` column must not wake
    /// every leaver.
    MaxReactivations,
    /// A larger share of managed users reactivated than `max_reactivation_ratio`.
    MaxReactivationRatio,
    /// More group-membership removals than `max_membership_removals`.
    MaxMembershipRemovals,
    /// A group deletion while `allow_group_deletion` is false.
    AllowGroupDeletion,
    /// Fewer directory users than `min_directory_users`.
    MinDirectoryUsers,
    /// A source shrank by more than `max_source_shrink` since the last successful apply.
    MaxSourceShrink,
}

impl Guard {
    /// Every guard, for zero-initialised metric series.
    pub const ALL: [Guard; 8] = [
        Guard::MaxDeactivations,
        Guard::MaxDeactivationRatio,
        Guard::MaxReactivations,
        Guard::MaxReactivationRatio,
        Guard::MaxMembershipRemovals,
        Guard::AllowGroupDeletion,
        Guard::MinDirectoryUsers,
        Guard::MaxSourceShrink,
    ];

    /// The guard's `safety:` key (`max_deactivations`), as in JSON and metric labels.
    pub const fn key(self) -> &'static str {
        match self {
            Guard::MaxDeactivations => "max_deactivations",
            Guard::MaxDeactivationRatio => "max_deactivation_ratio",
            Guard::MaxReactivations => "max_reactivations",
            Guard::MaxReactivationRatio => "max_reactivation_ratio",
            Guard::MaxMembershipRemovals => "max_membership_removals",
            Guard::AllowGroupDeletion => "allow_group_deletion",
            Guard::MinDirectoryUsers => "min_directory_users",
            Guard::MaxSourceShrink => "max_source_shrink",
        }
    }

    /// The command-line flag that overrides it (`--allow max-deactivations`).
    pub fn flag(self) -> String {
        format!("--allow {}", self.key().replace('_', "-"))
    }
}

impl std::fmt::Display for Guard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.key())
    }
}

/// A guard the plan trips, with the limit and by how much.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GuardTrip {
    /// The guard that tripped.
    pub guard: Guard,
    /// The configured limit.
    pub limit: f64,
    /// What the plan would do.
    pub actual: f64,
    /// A sentence naming the limit and by how much it is exceeded.
    pub message: String,
}

/// How many changes a ratio limit allows among `managed` users: `⌊ratio × managed⌋`, but at
/// least one. A count and a ratio limit both apply (a plan must pass each), and the ratio's
/// floor of one is what lets a small organisation's single leaver through by default: with
/// 4 people and a 5% ratio, ⌊0.2⌋ would block everyone, so one is allowed; with 10,000 people
/// the ratio allows 500, and 600 trips it.
pub fn ratio_allowance(ratio: f64, managed: usize) -> usize {
    #[allow(
        clippy::cast_precision_loss,
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss
    )]
    // managed ≪ 2^52 and ratio ∈ [0, 1]: the product is a non-negative count of people.
    let share = (ratio * managed as f64).floor() as usize;
    share.max(1)
}

/// Every guard the plan trips under `safety`.
pub fn evaluate(plan: &Plan, safety: &Safety) -> Vec<GuardTrip> {
    let s = plan.summary();
    let mut trips = Vec::new();
    let mut trip = |guard: Guard, limit: f64, actual: f64, message: String| {
        trips.push(GuardTrip {
            guard,
            limit,
            actual,
            message,
        });
    };
    let managed = plan.counts.managed_users;
    for (count, ratio) in [
        (
            (Guard::MaxDeactivations, safety.max_deactivations),
            (Guard::MaxDeactivationRatio, safety.max_deactivation_ratio),
        ),
        (
            (Guard::MaxReactivations, safety.max_reactivations),
            (Guard::MaxReactivationRatio, safety.max_reactivation_ratio),
        ),
    ] {
        let (what, done, n) = if count.0 == Guard::MaxDeactivations {
            ("deactivation", "deactivated", s.deactivate)
        } else {
            ("reactivation", "reactivated", s.reactivate)
        };
        let (guard, limit) = count;
        if n > limit as usize {
            trip(
                guard,
                f64::from(limit),
                n as f64,
                format!(
                    "{n} {what}s planned, limit {limit} ({} over)",
                    n - limit as usize
                ),
            );
        }
        let (guard, share) = ratio;
        let allowed = ratio_allowance(share, managed);
        if n > allowed {
            #[allow(clippy::cast_precision_loss)] // counts of people are far below 2^52
            let actual = n as f64 / managed.max(1) as f64;
            trip(
                guard,
                share,
                actual,
                format!(
                    "{n} of {managed} managed users would be {done} ({:.1}%), limit {:.1}% \
                     ({allowed} {})",
                    actual * 100.0,
                    share * 100.0,
                    if allowed == 1 { "user" } else { "users" }
                ),
            );
        }
    }
    if s.membership_removals > safety.max_membership_removals as usize {
        trip(
            Guard::MaxMembershipRemovals,
            f64::from(safety.max_membership_removals),
            s.membership_removals as f64,
            format!(
                "{} group membership removals planned, limit {} ({} over)",
                s.membership_removals,
                safety.max_membership_removals,
                s.membership_removals - safety.max_membership_removals as usize
            ),
        );
    }
    if s.group_delete > 0 && !safety.allow_group_deletion {
        trip(
            Guard::AllowGroupDeletion,
            0.0,
            s.group_delete as f64,
            format!(
                "{} group deletion(s) planned, and group deletion is not allowed \
                 (deletion is permanent)",
                s.group_delete
            ),
        );
    }
    if plan.counts.directory_users < safety.min_directory_users as usize {
        trip(
            Guard::MinDirectoryUsers,
            f64::from(safety.min_directory_users),
            plan.counts.directory_users as f64,
            format!(
                "the directory has {} users, fewer than min_directory_users {}: \
                 a truncated or empty source is never read as \"everyone left\"",
                plan.counts.directory_users, safety.min_directory_users
            ),
        );
    }
    trips
}

/// The `max_source_shrink` trips: each source with fewer users than its count at the last
/// successful apply (`last`) by more than the ratio. No last apply: nothing to compare with.
pub fn shrink(
    counts: &super::Counts,
    safety: &Safety,
    last: Option<&std::collections::BTreeMap<String, usize>>,
) -> Vec<GuardTrip> {
    let (Some(limit), Some(last)) = (safety.max_source_shrink, last) else {
        return Vec::new();
    };
    let mut trips = Vec::new();
    for (source, &before) in last {
        let now = counts.source_users.get(source).copied().unwrap_or(0);
        if before == 0 || now >= before {
            continue;
        }
        #[allow(clippy::cast_precision_loss)] // counts of people are far below 2^52
        let shrunk = (before - now) as f64 / before as f64;
        if shrunk > limit {
            trips.push(GuardTrip {
                guard: Guard::MaxSourceShrink,
                limit,
                actual: shrunk,
                message: format!(
                    "source {source} has {now} users, {before} at the last successful apply: \
                     {:.1}% fewer, limit {:.1}%",
                    shrunk * 100.0,
                    limit * 100.0
                ),
            });
        }
    }
    trips
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Counts, Op, PlannedOp};

    /// A plan of `deactivate` deactivations, one group update removing `removals` members and
    /// `deletes` group deletions, over `managed` managed users and `directory` directory users.
    fn plan(
        deactivate: usize,
        removals: usize,
        deletes: usize,
        managed: usize,
        directory: usize,
    ) -> Plan {
        let mut ops: Vec<PlannedOp> = (0..deactivate)
            .map(|i| {
                PlannedOp::new(Op::DeactivateUser {
                    id: format!("W{i}"),
                    email: format!("u{i}@example.com"),
                    reason: "not in the directory".into(),
                })
            })
            .collect();
        if removals > 0 {
            ops.push(PlannedOp::new(Op::UpdateGroup {
                id: "S1".into(),
                name: "eng".into(),
                rename: None,
                add: vec![],
                remove: (0..removals).map(|i| format!("W{i}")).collect(),
            }));
        }
        ops.extend((0..deletes).map(|i| {
            PlannedOp::new(Op::DeleteGroup {
                id: format!("S{i}"),
                name: format!("g{i}"),
            })
        }));
        Plan {
            counts: Counts {
                managed_users: managed,
                directory_users: directory,
                ..Counts::default()
            },
            ..Plan::of(ops)
        }
    }

    fn tripped(p: &Plan, safety: &Safety) -> Vec<Guard> {
        evaluate(p, safety).into_iter().map(|t| t.guard).collect()
    }

    fn lenient() -> Safety {
        Safety {
            max_deactivations: 1000,
            max_deactivation_ratio: 1.0,
            max_reactivations: 1000,
            max_reactivation_ratio: 1.0,
            max_membership_removals: 1000,
            min_directory_users: 0,
            allow_group_deletion: true,
            deactivation_grace: None,
            max_source_shrink: None,
        }
    }

    #[test]
    fn each_guard_passes_at_its_limit_and_trips_one_over() {
        let s = Safety {
            max_deactivations: 3,
            ..lenient()
        };
        assert!(tripped(&plan(3, 0, 0, 100, 100), &s).is_empty());
        assert_eq!(
            tripped(&plan(4, 0, 0, 100, 100), &s),
            [Guard::MaxDeactivations]
        );

        let s = Safety {
            max_deactivation_ratio: 0.1,
            ..lenient()
        };
        assert!(tripped(&plan(10, 0, 0, 100, 100), &s).is_empty());
        assert_eq!(
            tripped(&plan(11, 0, 0, 100, 100), &s),
            [Guard::MaxDeactivationRatio]
        );

        let s = Safety {
            max_membership_removals: 5,
            ..lenient()
        };
        assert!(tripped(&plan(0, 5, 0, 100, 100), &s).is_empty());
        assert_eq!(
            tripped(&plan(0, 6, 0, 100, 100), &s),
            [Guard::MaxMembershipRemovals]
        );

        let s = Safety {
            min_directory_users: 10,
            ..lenient()
        };
        assert!(tripped(&plan(0, 0, 0, 100, 10), &s).is_empty());
        assert_eq!(
            tripped(&plan(0, 0, 0, 100, 9), &s),
            [Guard::MinDirectoryUsers]
        );

        let s = Safety {
            allow_group_deletion: false,
            ..lenient()
        };
        assert!(tripped(&plan(0, 0, 0, 100, 100), &s).is_empty());
        assert_eq!(
            tripped(&plan(0, 0, 1, 100, 100), &s),
            [Guard::AllowGroupDeletion]
        );
    }

    #[test]
    fn a_small_orgs_single_leaver_passes_and_a_large_orgs_mass_change_trips() {
        // `max_deactivations: 5` and nothing else: the 5% ratio still applies, and allows one.
        let s = Safety {
            max_deactivations: 5,
            ..Safety::default()
        };
        assert!(tripped(&plan(1, 0, 0, 4, 3), &s).is_empty(), "1 of 4");
        assert_eq!(
            tripped(&plan(2, 0, 0, 4, 2), &s),
            [Guard::MaxDeactivationRatio]
        );
        // 10,000 people: the ratio allows 500 but the count allows 25.
        let d = Safety::default();
        assert_eq!(
            tripped(&plan(600, 0, 0, 10_000, 9_400), &d),
            [Guard::MaxDeactivations, Guard::MaxDeactivationRatio]
        );
        let wide = Safety {
            max_deactivations: 1000,
            ..Safety::default()
        };
        assert!(tripped(&plan(500, 0, 0, 10_000, 9_500), &wide).is_empty());
        assert_eq!(
            tripped(&plan(501, 0, 0, 10_000, 9_499), &wide),
            [Guard::MaxDeactivationRatio]
        );
    }

    /// A plan of `n` reactivations over `managed` managed users.
    fn reactivations(n: usize, managed: usize) -> Plan {
        let mut p = plan(0, 0, 0, managed, managed);
        p.ops = (0..n)
            .map(|i| {
                PlannedOp::new(Op::UpdateUser {
                    id: format!("W{i}"),
                    email: format!("u{i}@example.com"),
                    reactivate: true,
                    fields: crate::plan::UserFields::default(),
                    changes: vec![],
                    source: "people.csv:2".into(),
                })
            })
            .collect();
        p
    }

    #[test]
    fn reactivations_have_their_own_count_and_ratio() {
        let s = Safety {
            max_reactivations: 3,
            ..lenient()
        };
        assert!(tripped(&reactivations(3, 100), &s).is_empty());
        assert_eq!(
            tripped(&reactivations(4, 100), &s),
            [Guard::MaxReactivations]
        );
        let s = Safety {
            max_reactivation_ratio: 0.1,
            ..lenient()
        };
        assert!(tripped(&reactivations(10, 100), &s).is_empty());
        assert_eq!(
            tripped(&reactivations(11, 100), &s),
            [Guard::MaxReactivationRatio]
        );
        // A blank `active` column waking 40 leavers of a 200-person org trips by default.
        let trips = evaluate(&reactivations(40, 200), &Safety::default());
        let names: Vec<Guard> = trips.iter().map(|t| t.guard).collect();
        assert_eq!(
            names,
            [Guard::MaxReactivations, Guard::MaxReactivationRatio]
        );
        assert_eq!(
            trips[0].message,
            "40 reactivations planned, limit 25 (15 over)"
        );
        assert_eq!(
            trips[1].message,
            "40 of 200 managed users would be reactivated (20.0%), limit 5.0% (10 users)"
        );
        // One rejoiner in a small org passes.
        assert!(evaluate(&reactivations(1, 4), &Safety::default()).is_empty());
    }

    #[test]
    fn the_ratio_allowance_is_the_floor_but_at_least_one() {
        assert_eq!(ratio_allowance(0.05, 4), 1);
        assert_eq!(ratio_allowance(0.05, 0), 1);
        assert_eq!(ratio_allowance(0.05, 39), 1);
        assert_eq!(ratio_allowance(0.05, 40), 2);
        assert_eq!(ratio_allowance(0.05, 10_000), 500);
        assert_eq!(ratio_allowance(0.0, 10_000), 1);
    }

    #[test]
    fn messages_name_the_limit_and_by_how_much() {
        let trips = evaluate(&plan(30, 0, 0, 30, 0), &Safety::default());
        assert_eq!(
            trips[0].message,
            "30 deactivations planned, limit 25 (5 over)"
        );
        assert_eq!(
            trips[1].message,
            "30 of 30 managed users would be deactivated (100.0%), limit 5.0% (1 user)"
        );
        assert_eq!(trips[0].limit, 25.0);
        assert_eq!(trips[0].actual, 30.0);
    }

    #[test]
    fn each_guard_is_overridden_by_its_key_with_dashes() {
        assert_eq!(
            Guard::MaxDeactivationRatio.flag(),
            "--allow max-deactivation-ratio"
        );
        assert_eq!(
            Guard::AllowGroupDeletion.flag(),
            "--allow allow-group-deletion"
        );
    }
}
