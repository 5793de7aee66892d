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
    /// More group-membership removals than `max_membership_removals`.
    MaxMembershipRemovals,
    /// A group deletion while `allow_group_deletion` is false.
    AllowGroupDeletion,
    /// Fewer directory users than `min_directory_users`.
    MinDirectoryUsers,
}

impl Guard {
    /// Every guard, for zero-initialised metric series.
    pub const ALL: [Guard; 5] = [
        Guard::MaxDeactivations,
        Guard::MaxDeactivationRatio,
        Guard::MaxMembershipRemovals,
        Guard::AllowGroupDeletion,
        Guard::MinDirectoryUsers,
    ];

    /// The guard's `safety:` key (`max_deactivations`), as in JSON and metric labels.
    pub const fn key(self) -> &'static str {
        match self {
            Guard::MaxDeactivations => "max_deactivations",
            Guard::MaxDeactivationRatio => "max_deactivation_ratio",
            Guard::MaxMembershipRemovals => "max_membership_removals",
            Guard::AllowGroupDeletion => "allow_group_deletion",
            Guard::MinDirectoryUsers => "min_directory_users",
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
    if s.deactivate > safety.max_deactivations as usize {
        trip(
            Guard::MaxDeactivations,
            f64::from(safety.max_deactivations),
            s.deactivate as f64,
            format!(
                "{} deactivations planned, limit {} ({} over)",
                s.deactivate,
                safety.max_deactivations,
                s.deactivate - safety.max_deactivations as usize
            ),
        );
    }
    let managed = plan.counts.managed_users.max(1);
    let ratio = s.deactivate as f64 / managed as f64;
    if s.deactivate > 0 && ratio > safety.max_deactivation_ratio {
        trip(
            Guard::MaxDeactivationRatio,
            safety.max_deactivation_ratio,
            ratio,
            format!(
                "{} of {} managed users would be deactivated ({:.1}%), limit {:.1}%",
                s.deactivate,
                plan.counts.managed_users,
                ratio * 100.0,
                safety.max_deactivation_ratio * 100.0
            ),
        );
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
