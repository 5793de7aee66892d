//! Guards: blast-radius limits evaluated on a plan before anything is written (DESIGN §4).
//! A tripped guard stops the whole apply; each trip says which limit and by how much.

use serde::{Deserialize, Serialize};

use super::Plan;
use crate::config::Safety;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GuardTrip {
    /// The `safety` key that tripped (`max_deactivations`, …).
    pub guard: String,
    pub limit: f64,
    pub actual: f64,
    pub message: String,
}

/// Every guard the plan trips under `safety`.
pub fn evaluate(plan: &Plan, safety: &Safety) -> Vec<GuardTrip> {
    let s = plan.summary();
    let mut trips = Vec::new();
    let mut trip = |guard: &str, limit: f64, actual: f64, message: String| {
        trips.push(GuardTrip {
            guard: guard.into(),
            limit,
            actual,
            message,
        });
    };
    if s.deactivate > safety.max_deactivations as usize {
        trip(
            "max_deactivations",
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
            "max_deactivation_ratio",
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
            "max_membership_removals",
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
            "allow_group_deletion",
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
            "min_directory_users",
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
