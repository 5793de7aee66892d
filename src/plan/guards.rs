//! Guards: blast-radius limits evaluated on a plan before anything is written (DESIGN §4).
//! A tripped guard stops the whole apply; each trip says which limit and by how much.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Op, Plan};
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
    /// More attribute values cleared (`blank: clear`) than `max_clears`: a column that
    /// arrives empty must not wipe that attribute for everyone. Each (account, attribute)
    /// cleared counts one, as each (group, member) removed counts one for
    /// `max_membership_removals`.
    MaxClears,
    /// More clears than `max_clear_ratio` × managed users (at least one).
    MaxClearRatio,
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
    pub const ALL: [Guard; 10] = [
        Guard::MaxDeactivations,
        Guard::MaxDeactivationRatio,
        Guard::MaxReactivations,
        Guard::MaxReactivationRatio,
        Guard::MaxClears,
        Guard::MaxClearRatio,
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
            Guard::MaxClears => "max_clears",
            Guard::MaxClearRatio => "max_clear_ratio",
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

/// The attribute values a plan clears (`blank: clear`), by attribute name: each account
/// losing one attribute's value counts one (an update's change to no value).
pub fn clears(plan: &Plan) -> BTreeMap<&'static str, usize> {
    let mut by_attribute = BTreeMap::new();
    for op in &plan.ops {
        if let Op::UpdateUser { changes, .. } = &op.op {
            for c in changes.iter().filter(|c| c.to.is_none()) {
                *by_attribute.entry(c.attribute.name()).or_insert(0) += 1;
            }
        }
    }
    by_attribute
}

/// One kind of guarded change under a count limit and a ratio limit: a plan must pass both,
/// and the ratio always allows at least one ([`ratio_allowance`]).
struct Limited {
    /// The count guard and its limit.
    count: (Guard, u32),
    /// The ratio guard and its share of managed users.
    ratio: (Guard, f64),
    /// How many the plan makes.
    n: usize,
    /// The change, plural (`deactivations`).
    what: &'static str,
    /// What the count guard's message says after `planned` (the clears by attribute).
    detail: String,
    /// What the ratio guard's message counts.
    share: Share,
}

/// The trips of one [`Limited`] kind of change among `managed` users.
fn limited(l: &Limited, managed: usize) -> Vec<GuardTrip> {
    let mut trips = Vec::new();
    let (guard, limit) = l.count;
    let n = l.n;
    if n > limit as usize {
        trips.push(GuardTrip {
            guard,
            limit: f64::from(limit),
            actual: n as f64,
            message: format!(
                "{n} {} planned{}, limit {limit} ({} over)",
                l.what,
                l.detail,
                n - limit as usize
            ),
        });
    }
    let (guard, share) = l.ratio;
    let allowed = ratio_allowance(share, managed);
    if n > allowed {
        #[allow(clippy::cast_precision_loss)] // counts of people are far below 2^52
        let actual = n as f64 / managed.max(1) as f64;
        trips.push(GuardTrip {
            guard,
            limit: share,
            actual,
            message: l.share.message(n, managed, actual, share, allowed),
        });
    }
    trips
}

/// What a ratio guard's message counts: people (`40 of 200 managed users would be
/// reactivated`), or clears, of which one person may have several.
enum Share {
    /// Accounts; the participle says what happens to them (`deactivated`).
    Users(&'static str),
    /// Attribute values cleared.
    Clears,
}

impl Share {
    /// The ratio guard's message: `n` changes among `managed` users (`actual` of them) over
    /// the limit `share`, which allows `k`.
    fn message(&self, n: usize, managed: usize, actual: f64, share: f64, k: usize) -> String {
        let (pct, limit) = (actual * 100.0, share * 100.0);
        match self {
            Share::Users(done) => format!(
                "{n} of {managed} managed users would be {done} ({pct:.1}%), limit {limit:.1}% \
                 ({k} {})",
                if k == 1 { "user" } else { "users" }
            ),
            Share::Clears => format!(
                "{n} clears planned for {managed} managed users ({pct:.1}%), limit {limit:.1}% \
                 ({k} {})",
                if k == 1 { "clear" } else { "clears" }
            ),
        }
    }
}

/// The count-and-ratio guards: deactivations, reactivations and clears.
fn counted(plan: &Plan, safety: &Safety) -> Vec<GuardTrip> {
    let s = plan.summary();
    let clears = clears(plan);
    let detail = clears
        .iter()
        .map(|(name, n)| format!("{name} {n}"))
        .collect::<Vec<_>>()
        .join(", ");
    let kinds = [
        Limited {
            count: (Guard::MaxDeactivations, safety.max_deactivations),
            ratio: (Guard::MaxDeactivationRatio, safety.max_deactivation_ratio),
            n: s.deactivate,
            what: "deactivations",
            detail: String::new(),
            share: Share::Users("deactivated"),
        },
        Limited {
            count: (Guard::MaxReactivations, safety.max_reactivations),
            ratio: (Guard::MaxReactivationRatio, safety.max_reactivation_ratio),
            n: s.reactivate,
            what: "reactivations",
            detail: String::new(),
            share: Share::Users("reactivated"),
        },
        Limited {
            count: (Guard::MaxClears, safety.max_clears),
            ratio: (Guard::MaxClearRatio, safety.max_clear_ratio),
            n: clears.values().sum(),
            what: "clears",
            detail: format!(" (blank cells under `blank: clear`: {detail})"),
            share: Share::Clears,
        },
    ];
    kinds
        .iter()
        .flat_map(|l| limited(l, plan.counts.managed_users))
        .collect()
}

/// Every guard the plan trips under `safety`.
pub fn evaluate(plan: &Plan, safety: &Safety) -> Vec<GuardTrip> {
    let s = plan.summary();
    let mut trips = counted(plan, safety);
    let mut trip = |guard: Guard, limit: f64, actual: f64, message: String| {
        trips.push(GuardTrip {
            guard,
            limit,
            actual,
            message,
        });
    };
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

/// Every guard a finished plan trips: [`evaluate`]'s, then the `max_source_shrink` ones against
/// the last successful apply's source sizes (`last`). What the memory step and a saved plan's
/// re-check both set.
pub fn all(
    plan: &Plan,
    safety: &Safety,
    last: Option<&std::collections::BTreeMap<String, usize>>,
) -> Vec<GuardTrip> {
    let mut trips = evaluate(plan, safety);
    trips.extend(shrink(&plan.counts, safety, last));
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
    use crate::model::{Attribute, Change};
    use crate::plan::{Counts, PlannedOp};

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
                    reason: crate::plan::Leaving::Absent,
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
            max_clears: 1000,
            max_clear_ratio: 1.0,
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

    /// A plan of updates over `managed` managed users: for each `(attributes, n)`, `n` more
    /// accounts each losing those attributes' values (`blank: clear`), plus one title set.
    fn clearing(groups: &[(&[Attribute], usize)], managed: usize) -> Plan {
        let mut p = plan(0, 0, 0, managed, managed);
        let mut i = 0;
        for &(attributes, n) in groups {
            for _ in 0..n {
                let mut changes: Vec<Change> = attributes
                    .iter()
                    .map(|&attribute| Change {
                        attribute,
                        from: Some("old".into()),
                        to: None,
                    })
                    .collect();
                changes.push(Change {
                    attribute: Attribute::Department,
                    from: Some("a".into()),
                    to: Some("b".into()),
                });
                p.ops.push(PlannedOp::new(Op::UpdateUser {
                    id: format!("W{i}"),
                    email: format!("u{i}@example.com"),
                    reactivate: false,
                    fields: crate::plan::UserFields::default(),
                    changes,
                    source: "people.csv:2".into(),
                }));
                i += 1;
            }
        }
        p
    }

    #[test]
    fn each_account_attribute_cleared_counts_one_like_each_membership_removed() {
        let p = clearing(
            &[
                (&[Attribute::Title], 3),
                (&[Attribute::Title, Attribute::Manager], 2),
            ],
            100,
        );
        let by = clears(&p);
        assert_eq!(by.get("title"), Some(&5));
        assert_eq!(by.get("manager"), Some(&2));
        assert_eq!(by.get("department"), None, "a new value is no clear");
        let s = Safety {
            max_clears: 7,
            ..lenient()
        };
        assert!(tripped(&p, &s).is_empty(), "7 clears, limit 7");
        let s = Safety {
            max_clears: 6,
            ..lenient()
        };
        assert_eq!(tripped(&p, &s), [Guard::MaxClears]);
        let s = Safety {
            max_clear_ratio: 0.07,
            ..lenient()
        };
        assert!(tripped(&p, &s).is_empty(), "7 of 100 allowed");
        let s = Safety {
            max_clear_ratio: 0.06,
            ..lenient()
        };
        assert_eq!(tripped(&p, &s), [Guard::MaxClearRatio]);
    }

    #[test]
    fn an_empty_column_trips_the_clear_guards_and_one_blank_cell_passes_by_default() {
        let d = Safety::default();
        // One person's blank Job Title cell, in a tiny and a large organisation.
        assert!(evaluate(&clearing(&[(&[Attribute::Title], 1)], 3), &d).is_empty());
        assert!(evaluate(&clearing(&[(&[Attribute::Title], 1)], 10_000), &d).is_empty());
        // The Job Title column arrives empty for a 400-person company.
        let trips = evaluate(&clearing(&[(&[Attribute::Title], 400)], 400), &d);
        let names: Vec<Guard> = trips.iter().map(|t| t.guard).collect();
        assert_eq!(names, [Guard::MaxClears, Guard::MaxClearRatio]);
        assert_eq!(
            trips[0].message,
            "400 clears planned (blank cells under `blank: clear`: title 400), limit 25 (375 over)"
        );
        assert_eq!(
            trips[1].message,
            "400 clears planned for 400 managed users (100.0%), limit 5.0% (20 clears)"
        );
        // A small organisation's empty column trips the ratio though not the count.
        assert_eq!(
            tripped(&clearing(&[(&[Attribute::Manager], 10)], 10), &d),
            [Guard::MaxClearRatio]
        );
        // Reactivations clear too: a rejoiner's blank cell is one clear like any other.
        let mut p = clearing(&[(&[Attribute::Title], 30)], 10_000);
        if let Op::UpdateUser { reactivate, .. } = &mut p.ops[0].op {
            *reactivate = true;
        }
        assert_eq!(tripped(&p, &d), [Guard::MaxClears]);
    }

    #[test]
    fn the_clear_guards_are_overridden_by_their_own_flags() {
        assert_eq!(Guard::MaxClears.flag(), "--allow max-clears");
        assert_eq!(Guard::MaxClearRatio.flag(), "--allow max-clear-ratio");
        use clap::ValueEnum;
        assert_eq!(Guard::from_str("max-clears", false), Ok(Guard::MaxClears));
        assert_eq!(
            Guard::from_str("max-clear-ratio", false),
            Ok(Guard::MaxClearRatio)
        );
        assert!(
            Guard::ALL.contains(&Guard::MaxClears) && Guard::ALL.contains(&Guard::MaxClearRatio)
        );
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

    /// `shrink` over one source `a` that had `before` users at the last apply and has `now`.
    fn shrink_of(before: usize, now: usize, limit: f64) -> Vec<GuardTrip> {
        let counts = Counts {
            source_users: [("a".to_string(), now)].into(),
            ..Counts::default()
        };
        let safety = Safety {
            max_source_shrink: Some(limit),
            ..lenient()
        };
        shrink(&counts, &safety, Some(&[("a".to_string(), before)].into()))
    }

    #[test]
    fn a_source_that_grew_or_kept_its_size_trips_nothing() {
        assert!(shrink_of(10, 15, 0.1).is_empty(), "grew");
        assert!(shrink_of(10, 10, 0.0).is_empty(), "same size");
        assert!(
            shrink_of(0, 0, 0.0).is_empty(),
            "empty before: nothing to compare"
        );
        assert!(shrink_of(0, 3, 0.0).is_empty());
    }

    #[test]
    fn a_source_trips_only_past_its_limit() {
        assert!(shrink_of(10, 8, 0.2).is_empty(), "20% fewer is the limit");
        let trips = shrink_of(10, 7, 0.2);
        assert_eq!(trips.len(), 1);
        assert_eq!(trips[0].guard, Guard::MaxSourceShrink);
        assert!((trips[0].actual - 0.3).abs() < 1e-9, "{}", trips[0].actual);
        assert_eq!(
            trips[0].message,
            "source a has 7 users, 10 at the last successful apply: 30.0% fewer, limit 20.0%"
        );
        let gone = shrink_of(10, 0, 0.2);
        assert!(
            (gone[0].actual - 1.0).abs() < 1e-9,
            "a source gone counts as none"
        );
    }

    #[test]
    fn no_limit_or_no_last_apply_means_no_shrink_guard() {
        let counts = Counts::default();
        let last = [("a".to_string(), 10)].into();
        assert!(shrink(&counts, &lenient(), Some(&last)).is_empty());
        let safety = Safety {
            max_source_shrink: Some(0.1),
            ..lenient()
        };
        assert!(shrink(&counts, &safety, None).is_empty());
        assert_eq!(shrink(&counts, &safety, Some(&last)).len(), 1);
    }
}
