//! A saved plan re-checked against the config it is applied with. `apply --plan FILE` writes
//! exactly what a reviewer saw, but only what the *current* config still allows: an account
//! protected, excluded or put out of scope since the plan was made is never written, a policy
//! tightened since (`unmanaged_users`, `groups.unmanaged`, an attribute made `ignore` or
//! `create_only`) is honoured, and a hand-edited op that targets an account the planner would
//! never touch is refused. Each refusal names the op. Pure: the caller lists Slack first.

use std::collections::HashMap;

use super::{Leaving, Op, OpKind, Plan};
use crate::config::{
    AttributeMode, AttributePolicy, Blank, Policy, UnmanagedGroups, UnmanagedUsers,
};
use crate::model::{Attribute, LiveGroup, LiveState, LiveUser};
use crate::slack_rules::email_key;

/// An op of a saved plan that the current config forbids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The op's position in the plan.
    pub index: usize,
    /// The op's kind.
    pub kind: OpKind,
    /// The email or group name it is about.
    pub subject: String,
    /// Why the current config forbids it.
    pub reason: String,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "op {} ({} {}): {}",
            self.index, self.kind, self.subject, self.reason
        )
    }
}

/// Every op of `plan` that `policy` forbids against `live` (which the plan's fingerprints say
/// is unchanged for every resource the plan touches).
pub fn recheck(plan: &Plan, live: &LiveState, policy: &Policy) -> Vec<Refusal> {
    let users: HashMap<&str, &LiveUser> = live.users.iter().map(|u| (u.id.as_str(), u)).collect();
    let groups: HashMap<&str, &LiveGroup> =
        live.groups.iter().map(|g| (g.id.as_str(), g)).collect();
    let mut out = Vec::new();
    for (index, op) in plan.ops.iter().enumerate() {
        let refuse = |reason: String| Refusal {
            index,
            kind: op.kind(),
            subject: op.subject().to_string(),
            reason,
        };
        if let Some(reason) = forbidden(&op.op, &users, &groups, policy) {
            out.push(refuse(reason));
        }
    }
    out
}

/// A change that clears an attribute the current config no longer clears (`blank: keep`, the
/// default, or one never cleared): only `blank: clear` makes the planner plan a clear.
fn kept_blank(changes: &[super::Change], policy: &Policy) -> Option<String> {
    changes
        .iter()
        .find(|c| {
            c.to.is_none()
                && (c.attribute.kind().is_text() || c.attribute == Attribute::Manager)
                && (policy.attributes.blank(c.attribute) != Blank::Clear
                    || AttributePolicy::cannot_clear(c.attribute).is_some())
        })
        .map(|c| {
            format!(
                "it clears {}, and the config no longer says `blank: clear`",
                c.attribute
            )
        })
}

/// Why the current policy forbids `op`, if it does.
fn forbidden(
    op: &Op,
    users: &HashMap<&str, &LiveUser>,
    groups: &HashMap<&str, &LiveGroup>,
    policy: &Policy,
) -> Option<String> {
    let account = |id: &str| -> Result<&LiveUser, String> {
        let u = users
            .get(id)
            .copied()
            .ok_or_else(|| format!("account {id} is not in Slack"))?;
        untouchable(u, policy).map_or(Ok(u), Err)
    };
    match op {
        Op::CreateUser { email, fields, .. } => {
            if !policy.scope.contains(&email_key(email), None) {
                return Some(format!("{email} is outside the current scope"));
            }
            ignored_attributes(fields.text.keys().copied(), policy, false)
        }
        Op::UpdateUser { id, changes, .. } => match account(id) {
            Err(reason) => Some(reason),
            Ok(_) => ignored_attributes(changes.iter().map(|c| c.attribute), policy, true)
                .or_else(|| kept_blank(changes, policy)),
        },
        Op::DeactivateUser { id, reason, .. } => match account(id) {
            Err(why) => Some(why),
            Ok(_)
                if *reason == Leaving::Absent
                    && policy.unmanaged_users != UnmanagedUsers::Deactivate =>
            {
                Some("unmanaged_users is no longer `deactivate`".into())
            }
            Ok(_) => None,
        },
        Op::UpdateGroup { id, remove, .. } => {
            if let Some(g) = groups.get(id.as_str()).filter(|g| g.auto_generated) {
                return Some(generated(g));
            }
            remove.iter().find_map(|m| {
                account(m)
                    .err()
                    .map(|why| format!("it removes a member the config keeps out of reach: {why}"))
            })
        }
        Op::DeleteGroup { id, .. } => {
            if policy.unmanaged_groups != UnmanagedGroups::Delete {
                Some("groups.unmanaged is no longer `delete`".into())
            } else {
                groups
                    .get(id.as_str())
                    .filter(|g| g.auto_generated)
                    .map(|g| generated(g))
            }
        }
        Op::CreateGroup { .. } => None,
    }
}

/// The reason a group Slack generates is refused, naming it as people know it.
fn generated(g: &LiveGroup) -> String {
    format!("group {:?} ({}) is generated by Slack", g.name, g.id)
}

/// Why scimsync may not write to this account at all under `policy`, if so.
fn untouchable(u: &LiveUser, policy: &Policy) -> Option<String> {
    let key = u.email_key();
    if !super::reaches(u, super::in_scope(&policy.scope, u)) {
        Some(if u.is_bot {
            format!("account {} is a bot", u.id)
        } else {
            format!(
                "account {} ({}) is outside the current scope",
                u.id, u.email
            )
        })
    } else if policy.scope.is_protected(&key, Some(&u.id)) {
        Some(format!("account {} ({}) is protected", u.id, u.email))
    } else {
        None
    }
}

/// The first attribute the policy says scimsync no longer writes (`ignore`; on updates also
/// `create_only`), as a reason.
fn ignored_attributes(
    attributes: impl Iterator<Item = Attribute>,
    policy: &Policy,
    update: bool,
) -> Option<String> {
    attributes
        .filter(|a| !matches!(a, Attribute::Active))
        .find_map(|a| match policy.attributes.mode(a) {
            AttributeMode::Ignore => Some(format!("attribute {a} is now `ignore`")),
            AttributeMode::CreateOnly if update => {
                Some(format!("attribute {a} is now `create_only`"))
            }
            _ => None,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::AccountRef;
    use crate::model::{Change, UserFields};
    use crate::plan::PlannedOp;
    use crate::plan::tests::{account, policy};

    fn plan_of(ops: Vec<Op>) -> Plan {
        Plan::of(ops.into_iter().map(PlannedOp::new).collect())
    }

    fn live() -> LiveState {
        let mut bot = account("W9", "bot@slack-bots.com");
        bot.is_bot = true;
        LiveState {
            users: vec![
                account("W1", "ada@example.com"),
                account("W2", "bob@partner.org"),
                bot,
            ],
            groups: vec![LiveGroup {
                id: "S1".into(),
                name: "Team Admins".into(),
                members: vec![],
                auto_generated: true,
            }],
        }
    }

    fn reasons(ops: Vec<Op>, policy: &Policy) -> Vec<String> {
        recheck(&plan_of(ops), &live(), policy)
            .into_iter()
            .map(|r| r.to_string())
            .collect()
    }

    fn inactive() -> Leaving {
        Leaving::Inactive {
            at: "people.csv:2".into(),
        }
    }

    fn deactivate(id: &str, reason: Leaving) -> Op {
        Op::DeactivateUser {
            id: id.into(),
            email: "x@example.com".into(),
            reason,
        }
    }

    #[test]
    fn a_clear_needs_blank_clear_in_the_current_config() {
        let clear_title = || Op::UpdateUser {
            id: "W1".into(),
            email: "ada@example.com".into(),
            reactivate: false,
            fields: UserFields::default(),
            changes: vec![Change {
                attribute: Attribute::Title,
                from: Some("Engineer".into()),
                to: None,
            }],
            source: "people.csv:2".into(),
        };
        let mut p = policy();
        assert_eq!(
            reasons(vec![clear_title()], &p),
            [
                "op 0 (update_user ada@example.com): it clears title, and the config no longer says `blank: clear`"
            ]
        );
        p.attributes.blanks.insert(Attribute::Title, Blank::Clear);
        assert!(reasons(vec![clear_title()], &p).is_empty());
    }

    #[test]
    fn every_write_is_held_to_the_current_scope_protection_and_policies() {
        let mut p = policy();
        assert!(reasons(vec![deactivate("W1", Leaving::Absent)], &p).is_empty());
        assert_eq!(
            reasons(vec![deactivate("W2", Leaving::Absent)], &p),
            [
                "op 0 (deactivate_user x@example.com): account W2 (bob@partner.org) is outside the current scope"
            ]
        );
        assert_eq!(
            reasons(vec![deactivate("W9", Leaving::Absent)], &p),
            ["op 0 (deactivate_user x@example.com): account W9 is a bot"]
        );
        assert_eq!(
            reasons(vec![deactivate("W7", Leaving::Absent)], &p),
            ["op 0 (deactivate_user x@example.com): account W7 is not in Slack"]
        );
        p.scope.protected = vec![AccountRef::Email("ada@example.com".into())];
        assert!(
            reasons(vec![deactivate("W1", inactive())], &p)[0]
                .ends_with("account W1 (ada@example.com) is protected")
        );
        p.scope.protected.clear();
        p.unmanaged_users = UnmanagedUsers::Report;
        assert_eq!(
            reasons(vec![deactivate("W1", Leaving::Absent)], &p),
            ["op 0 (deactivate_user x@example.com): unmanaged_users is no longer `deactivate`"]
        );
        // A leaver the directory marks inactive is still deactivated under `report`.
        assert!(reasons(vec![deactivate("W1", inactive())], &p).is_empty());
    }

    #[test]
    fn creates_updates_and_groups_are_rechecked_too() {
        let mut p = policy();
        let create = |email: &str| Op::CreateUser {
            email: email.into(),
            user_name: "x".into(),
            fields: UserFields::default(),
            source: "people.csv:2".into(),
        };
        assert!(reasons(vec![create("new@example.com")], &p).is_empty());
        assert_eq!(
            reasons(vec![create("new@partner.org")], &p),
            ["op 0 (create_user new@partner.org): new@partner.org is outside the current scope"]
        );
        let update = Op::UpdateUser {
            id: "W1".into(),
            email: "ada@example.com".into(),
            reactivate: false,
            fields: UserFields::default(),
            changes: vec![Change {
                attribute: Attribute::Title,
                from: None,
                to: Some("Lead".into()),
            }],
            source: "people.csv:2".into(),
        };
        assert!(reasons(vec![update.clone()], &p).is_empty());
        p.attributes
            .modes
            .insert(Attribute::Title, AttributeMode::CreateOnly);
        assert_eq!(
            reasons(vec![update], &p),
            ["op 0 (update_user ada@example.com): attribute title is now `create_only`"]
        );
        let removal = Op::UpdateGroup {
            id: "S5".into(),
            name: "eng".into(),
            rename: None,
            add: vec![],
            remove: vec!["W2".into()],
        };
        assert!(
            reasons(vec![removal], &p)[0]
                .contains("it removes a member the config keeps out of reach")
        );
        let delete = Op::DeleteGroup {
            id: "S5".into(),
            name: "eng".into(),
        };
        assert_eq!(
            reasons(vec![delete.clone()], &p),
            ["op 0 (delete_group eng): groups.unmanaged is no longer `delete`"]
        );
        p.unmanaged_groups = UnmanagedGroups::Delete;
        assert!(reasons(vec![delete], &p).is_empty());
        let admins = Op::DeleteGroup {
            id: "S1".into(),
            name: "Team Admins".into(),
        };
        assert_eq!(
            reasons(vec![admins], &p),
            ["op 0 (delete_group Team Admins): group \"Team Admins\" (S1) is generated by Slack"]
        );
    }

    #[test]
    fn a_create_is_refused_an_ignored_attribute_but_keeps_a_create_only_one() {
        let mut fields = UserFields::default();
        fields.text.insert(Attribute::Title, Some("Lead".into()));
        let create = Op::CreateUser {
            email: "new@example.com".into(),
            user_name: "new".into(),
            fields,
            source: "people.csv:2".into(),
        };
        let mut p = policy();
        p.attributes
            .modes
            .insert(Attribute::Title, AttributeMode::CreateOnly);
        assert!(reasons(vec![create.clone()], &p).is_empty());
        p.attributes
            .modes
            .insert(Attribute::Title, AttributeMode::Ignore);
        assert_eq!(
            reasons(vec![create], &p),
            ["op 0 (create_user new@example.com): attribute title is now `ignore`"]
        );
    }

    /// An update of `ada` that takes `attribute` away (`to: None`).
    fn takes_away(attribute: Attribute) -> Op {
        Op::UpdateUser {
            id: "W1".into(),
            email: "ada@example.com".into(),
            reactivate: false,
            fields: UserFields::default(),
            changes: vec![Change {
                attribute,
                from: Some("W2".into()),
                to: None,
            }],
            source: "people.csv:2".into(),
        }
    }

    #[test]
    fn a_manager_clear_needs_blank_clear_and_only_text_and_the_manager_are_blanks() {
        let mut p = policy();
        assert_eq!(
            reasons(vec![takes_away(Attribute::Manager)], &p),
            [format!(
                "op 0 (update_user ada@example.com): it clears {}, and the config no longer \
                 says `blank: clear`",
                Attribute::Manager
            )]
        );
        p.attributes.blanks.insert(Attribute::Manager, Blank::Clear);
        assert!(reasons(vec![takes_away(Attribute::Manager)], &p).is_empty());
        // Ending a guest's status or a membership is no blank of the directory's.
        for other in [Attribute::Guest, Attribute::Groups, Attribute::Active] {
            assert!(
                reasons(vec![takes_away(other)], &policy()).is_empty(),
                "{other}"
            );
        }
    }
}
