//! The limits that stop an apply before anything is written, and the settings that cannot
//! work without the state kept between passes.

use std::time::Duration;

use super::Compiler;
use super::values::parse_duration;
use crate::config::raw::{AttributeMode, EnvOverrides, RawConfig, RawSafety};
use crate::config::{ConfigIssue, Policy, Safety, StateDir, UnmanagedGroups};
use crate::diag::yaml::Step;
use crate::model::Attribute;

const SAFETY: Step<'static> = Step::Key("safety");

/// A key under `safety:`, and its dotted name in messages.
type Key = (&'static str, &'static str);

/// The [`Key`] of `safety.<key>`.
macro_rules! key {
    ($key:literal) => {
        ($key, concat!("safety.", $key))
    };
}

/// The longest duration a setting may hold: a longer grace period or backoff is a stopped
/// sync (and no arithmetic on a week can overflow).
const A_WEEK: Duration = Duration::from_secs(7 * 24 * 3600);

impl Compiler<'_> {
    /// `safety:`, each limit the default unless set; ratios between 0 and 1.
    pub(super) fn compile_safety(&mut self, raw: &RawConfig) -> Safety {
        let mut safety = Safety::default();
        let Some(raw) = &raw.safety else {
            return safety;
        };
        let counts = [
            (&mut safety.max_deactivations, raw.max_deactivations),
            (&mut safety.max_reactivations, raw.max_reactivations),
            (&mut safety.max_clears, raw.max_clears),
            (
                &mut safety.max_membership_removals,
                raw.max_membership_removals,
            ),
            (&mut safety.min_directory_users, raw.min_directory_users),
        ];
        for (limit, set) in counts {
            if let Some(v) = set {
                *limit = v;
            }
        }
        if let Some(v) = raw.allow_group_deletion {
            safety.allow_group_deletion = v;
        }
        self.compile_ratios(raw, &mut safety);
        if let Some(text) = &raw.deactivation_grace {
            safety.deactivation_grace = self.compile_duration(
                &[SAFETY, Step::Key("deactivation_grace")],
                "safety.deactivation_grace",
                text,
            );
        }
        if let Some(v) = raw.max_source_shrink {
            safety.max_source_shrink = Some(self.compile_ratio(key!("max_source_shrink"), v));
        }
        safety
    }

    /// The shares of managed users: deactivations, reactivations, clears.
    fn compile_ratios(&mut self, raw: &RawSafety, safety: &mut Safety) {
        let ratios = [
            (
                &mut safety.max_deactivation_ratio,
                key!("max_deactivation_ratio"),
                raw.max_deactivation_ratio,
            ),
            (
                &mut safety.max_reactivation_ratio,
                key!("max_reactivation_ratio"),
                raw.max_reactivation_ratio,
            ),
            (
                &mut safety.max_clear_ratio,
                key!("max_clear_ratio"),
                raw.max_clear_ratio,
            ),
        ];
        for (limit, key, set) in ratios {
            if let Some(v) = set {
                *limit = self.compile_ratio(key, v);
            }
        }
    }

    /// A `safety` ratio: between 0 and 1, else an error (the config is then refused, so the
    /// value returned does not matter; it is the default).
    fn compile_ratio(&mut self, (key, field): Key, v: f64) -> f64 {
        if (0.0..=1.0).contains(&v) {
            return v;
        }
        self.error(
            &[SAFETY, Step::Key(key)],
            ConfigIssue::OutOfRange {
                field,
                value: v.to_string(),
                range: "between 0 and 1",
            },
        );
        Safety::default().max_deactivation_ratio
    }

    /// A duration of at most a week, or an error at `path`.
    pub(super) fn compile_duration(
        &mut self,
        path: &[Step<'static>],
        field: &'static str,
        text: &str,
    ) -> Option<Duration> {
        let issue = match parse_duration(text) {
            Some(v) if v <= A_WEEK => return Some(v),
            Some(_) => ConfigIssue::OutOfRange {
                field,
                value: text.to_string(),
                range: "at most 168h (a week)",
            },
            None => ConfigIssue::NotADuration {
                field,
                value: text.to_string(),
            },
        };
        self.error(path, issue);
        None
    }

    /// With no state (`state_dir: false`, or `SCIMSYNC_STATE_DIR=false`), every setting that
    /// needs the state is an error at its place.
    pub(super) fn check_stateless(
        &mut self,
        raw: &RawConfig,
        policy: &Policy,
        state_dir: &StateDir,
        env: &EnvOverrides,
    ) {
        if *state_dir != StateDir::Off {
            return;
        }
        for (path, field) in needs_state(raw, policy) {
            let issue = if env.state_dir.is_some() {
                ConfigIssue::NeedsStateFromEnv { field }
            } else {
                ConfigIssue::NeedsState { field }
            };
            self.error(&path, issue);
        }
    }

    /// Unmanaged groups to be deleted while the guard forbids deletions: a warning, since
    /// the guard will stop every such apply.
    /// Refuses a policy whose managed attributes alone (those not `ignore`) need more custom
    /// profile fields than Slack allows an organisation (FACTS §2.8).
    pub(super) fn check_profile_fields(&mut self, policy: &Policy) {
        let managed: Vec<Attribute> = Attribute::ALL
            .into_iter()
            .filter(|a| a.profile_field().is_some())
            .filter(|a| policy.attributes.mode(*a) != AttributeMode::Ignore)
            .collect();
        let fields: Vec<&'static str> = managed.iter().filter_map(|a| a.profile_field()).collect();
        if let Some(n) = crate::model::profile_fields_over_limit(&fields) {
            let names: Vec<&str> = managed.iter().map(|a| a.name()).collect();
            self.error(
                &[Step::Key("attributes")],
                ConfigIssue::TooManyProfileFields {
                    fields: n,
                    limit: crate::model::CUSTOM_PROFILE_FIELD_LIMIT,
                    attributes: names.join(", "),
                },
            );
        }
    }

    pub(super) fn check_group_deletion(&mut self, policy: &Policy) {
        if policy.unmanaged_groups == UnmanagedGroups::Delete && !policy.safety.allow_group_deletion
        {
            self.warn(
                &[Step::Key("groups"), Step::Key("unmanaged")],
                ConfigIssue::GroupDeletionNotAllowed,
            );
        }
    }
}

/// Every setting the config makes that needs the state: where, and its name in messages.
fn needs_state(raw: &RawConfig, policy: &Policy) -> Vec<(Vec<Step<'static>>, String)> {
    let mut needs: Vec<(Vec<Step<'static>>, String)> = Vec::new();
    if let Some(safety) = &raw.safety {
        for (key, set) in [
            ("deactivation_grace", safety.deactivation_grace.is_some()),
            ("max_source_shrink", safety.max_source_shrink.is_some()),
        ] {
            if set {
                needs.push((vec![SAFETY, Step::Key(key)], format!("safety.{key}")));
            }
        }
    }
    if raw.stuck.is_some() {
        needs.push((vec![Step::Key("stuck")], "stuck".into()));
    }
    let mut reported: Vec<_> = policy
        .attributes
        .modes
        .iter()
        .filter(|(_, m)| **m == AttributeMode::Report)
        .map(|(a, _)| a.spec().name)
        .collect();
    reported.sort_unstable();
    for name in reported {
        needs.push((
            vec![Step::Key("attributes"), Step::Key(name)],
            format!("attributes.{name}: report"),
        ));
    }
    // A photo and a profile URL are compared by what scimsync last applied (Slack answers a
    // URL of its own): without the state they can only be set on create, the mode they get
    // when not given.
    for (a, mode) in &policy.attributes.modes {
        if a.compared_by_memory() && *mode == AttributeMode::Enforce {
            let what = match a {
                Attribute::ProfileUrl => "profile URL",
                _ => "photo URL",
            };
            needs.push((
                vec![Step::Key("attributes"), Step::Key(a.name())],
                format!(
                    "attributes.{a}: enforce (Slack answers a {what} of its own, so it is compared by what scimsync last applied; without the state it is create_only)"
                ),
            ));
        }
    }
    needs
}
