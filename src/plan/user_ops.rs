//! The op builders for users: a create with the declared attributes, an update with only the
//! attributes that differ (each attribute's mode and blank rule applied), each with the keys
//! it takes and releases and the users it refers to, for [`super::user_order`]; and the sort
//! key that puts ops in email and name order.

use super::index::Key;
use super::refs::{Ref, Refs};
use super::{Change, GuestSpec, Op, UserFields};
use crate::config::{AttributeMode, AttributePolicy, Blank, Policy};
use crate::directory::{Attribute, DesiredUser, Directory};
use crate::scim::live::LiveUser;
use crate::slack_rules::email_key;

/// A user op with what ordering needs to know about it.
pub(super) struct UserOp {
    pub(super) op: Op,
    pub(super) subject: String,
    pub(super) source: String,
    pub(super) takes: Vec<Key>,
    pub(super) releases: Vec<Key>,
    /// Email key of the user this op creates.
    pub(super) creates: Option<String>,
    /// Email keys of users created in this plan that the op refers to (its manager).
    pub(super) needs: Vec<String>,
    pub(super) rank: u8,
}

/// The order ops of one kind are listed in: by email or group name, then by Slack id.
pub(super) fn sort_key(op: &Op) -> (String, String) {
    match op {
        Op::CreateUser { email, .. } => (email_key(email), String::new()),
        Op::UpdateUser { email, id, .. } | Op::DeactivateUser { email, id, .. } => {
            (email_key(email), id.clone())
        }
        Op::CreateGroup { name, .. } => (name.to_lowercase(), String::new()),
        Op::UpdateGroup { name, id, .. } | Op::DeleteGroup { name, id } => {
            (name.to_lowercase(), id.clone())
        }
    }
}

/// How many of the organisation's custom profile fields the directory's values need: the
/// distinct fields ([`Attribute::profile_field`]) of the attributes the policy does not
/// ignore that some directory user has a value for — Slack creates a field the first time a
/// user has a value for it (FACTS §2.8). An estimate: the organisation may have some already.
pub(super) fn custom_profile_fields(dir: &Directory, policy: &Policy) -> usize {
    let fields: std::collections::BTreeSet<&str> = Attribute::ALL
        .into_iter()
        .filter(|a| mode(policy, *a) != AttributeMode::Ignore)
        .filter_map(|a| {
            let field = a.profile_field()?;
            let given = dir.users.iter().any(|d| match a {
                Attribute::Manager => d.manager.is_some(),
                _ => d.texts.get(a).is_some(),
            });
            given.then_some(field)
        })
        .collect();
    fields.len()
}

fn mode(policy: &Policy, a: Attribute) -> AttributeMode {
    policy.attributes.mode(a)
}

fn guest_spec(d: &DesiredUser) -> Option<GuestSpec> {
    d.guest.as_ref().map(|g| GuestSpec {
        expiration: g
            .expiration
            .map(|e| e.format("%Y-%m-%dT%H:%M:%SZ").to_string()),
    })
}

pub(super) fn create_op(d: &DesiredUser, refs: &Refs<'_>, policy: &Policy) -> UserOp {
    let mut fields = UserFields {
        email: Some(d.email.trim().to_string()),
        user_name: Some(d.user_name_key.clone()),
        active: Some(true),
        ..UserFields::default()
    };
    for (attr, v) in d.texts.iter() {
        if mode(policy, attr) != AttributeMode::Ignore {
            fields.text.insert(attr, Some(v.to_string()));
        }
    }
    if mode(policy, Attribute::Guest) != AttributeMode::Ignore && d.guest.is_some() {
        fields.guest = Some(guest_spec(d));
    }
    let mut needs = Vec::new();
    if mode(policy, Attribute::Manager) != AttributeMode::Ignore
        && let Some(m) = d.manager.as_deref().and_then(|m| refs.get(m))
    {
        if let Ref::New(k) = m {
            needs.push(k.to_string());
        }
        fields.manager = Some(Some(m.owned()));
    }
    let user_name = d.user_name_key.clone();
    UserOp {
        takes: vec![
            Key::Email(d.email_key.clone()),
            Key::UserName(user_name.clone()),
        ],
        releases: Vec::new(),
        creates: Some(d.email_key.clone()),
        needs,
        subject: d.email.clone(),
        source: d.location.to_string(),
        rank: 1,
        op: Op::CreateUser {
            email: d.email.trim().to_string(),
            user_name,
            fields,
            source: d.location.to_string(),
        },
    }
}

/// The guest status change a directory user asks of their account, as people read it
/// (`member`, `guest`, `guest until …`), if any. Only sources that say something about guests
/// manage it.
fn guest_change(d: &DesiredUser, l: &LiveUser) -> Option<(String, String)> {
    let want = d
        .guest
        .as_ref()
        .map(|g| g.expiration.map(|e| e.timestamp()));
    let have = l.guest.map(|g| g.map(|e| e.timestamp()));
    if !d.origins.contains(Attribute::Guest) || want == have {
        return None;
    }
    let show = |g: Option<Option<i64>>| match g {
        None => "member".to_string(),
        Some(None) => "guest".to_string(),
        Some(Some(t)) => format!(
            "guest until {}",
            chrono::DateTime::from_timestamp(t, 0)
                .map(|d| d.format("%Y-%m-%dT%H:%M:%SZ").to_string())
                .unwrap_or_default()
        ),
    };
    Some((show(have), show(want)))
}

/// The attributes written blank that the config says to clear (`blank: clear`; never a name,
/// a key or the guest flag, which the config refuses too) and that Slack holds, with Slack's
/// value: the text attributes and the manager's id.
fn cleared<'l>(
    d: &DesiredUser,
    l: &'l LiveUser,
    policy: &Policy,
) -> impl Iterator<Item = (Attribute, &'l str)> {
    d.blanks.iter().copied().filter_map(move |a| {
        let clears = mode(policy, a) == AttributeMode::Enforce
            && policy.attributes.blank(a) == Blank::Clear
            && AttributePolicy::cannot_clear(a).is_none();
        let have = match a {
            Attribute::Manager => l.manager_id.as_deref(),
            _ if a.kind().is_text() => l.text(a),
            _ => None,
        };
        Some((a, have.filter(|_| clears)?))
    })
}

/// Whether an update sends `a`. `report` attributes are planned as enforced; the state's drift
/// check then holds back the changes that would revert a hand edit (`crate::memory::recall`).
fn updated(policy: &Policy, a: Attribute) -> bool {
    matches!(
        mode(policy, a),
        AttributeMode::Enforce | AttributeMode::Report
    )
}

/// Slack stores one address, and a write of it replaces it whole (FACTS §2.3): an update that
/// changes any part of it sends every part — the directory's where it is updated, Slack's
/// where it is not (a part no source gives, or one the policy does not update) — so the
/// parts it does not change are written as they are, not lost.
fn whole_address(d: &DesiredUser, l: &LiveUser, policy: &Policy, fields: &mut UserFields) {
    if !fields.text.keys().any(|a| a.is_address()) {
        return;
    }
    for a in Attribute::TEXT.into_iter().filter(|a| a.is_address()) {
        if fields.text.contains_key(&a) {
            continue;
        }
        let want = d.texts.get(a).filter(|_| updated(policy, a));
        if let Some(v) = want.or_else(|| l.text(a)) {
            fields.text.insert(a, Some(v.to_string()));
        }
    }
}

pub(super) fn update_op(
    d: &DesiredUser,
    l: &LiveUser,
    refs: &Refs<'_>,
    policy: &Policy,
) -> Option<UserOp> {
    let reactivate = !l.active;
    let enforced = |a: Attribute| updated(policy, a);
    let mut fields = UserFields::default();
    let mut changes = Vec::new();
    let mut takes = Vec::new();
    let mut releases = Vec::new();
    let mut change = |attribute: Attribute, from: Option<&str>, to: Option<&str>| {
        changes.push(Change {
            attribute,
            from: from.map(str::to_string),
            to: to.map(str::to_string),
        });
    };

    if enforced(Attribute::Email) && d.email_key != l.email_key() {
        change(Attribute::Email, Some(&l.email), Some(d.email.trim()));
        fields.email = Some(d.email.trim().to_string());
        takes.push(Key::Email(d.email_key.clone()));
        releases.push(Key::Email(l.email_key()));
    }
    if enforced(Attribute::UserName)
        && d.user_name.is_some()
        && d.user_name_key != l.user_name_key()
    {
        change(
            Attribute::UserName,
            Some(&l.user_name),
            Some(&d.user_name_key),
        );
        fields.user_name = Some(d.user_name_key.clone());
        takes.push(Key::UserName(d.user_name_key.clone()));
        releases.push(Key::UserName(l.user_name_key()));
    }
    // Text and dates (kept as `YYYY-MM-DD`, so equal days compare equal). An attribute no
    // source gives is not managed: never blanked.
    for (attr, want) in d.texts.iter() {
        let have = l.text(attr);
        if enforced(attr) && !have.is_some_and(|h| attr.same_value(want, h)) {
            change(attr, have, Some(want));
            fields.text.insert(attr, Some(want.to_string()));
        }
    }
    for (attr, have) in cleared(d, l, policy) {
        change(attr, Some(have), None);
        match attr {
            Attribute::Manager => fields.manager = Some(None),
            _ => _ = fields.text.insert(attr, None),
        }
    }
    whole_address(d, l, policy, &mut fields);
    if enforced(Attribute::Guest)
        && let Some((from, to)) = guest_change(d, l)
    {
        change(Attribute::Guest, Some(&from), Some(&to));
        fields.guest = Some(guest_spec(d));
    }
    let mut needs = Vec::new();
    if enforced(Attribute::Manager)
        && let Some(m) = d.manager.as_deref().and_then(|m| refs.get(m))
    {
        let differs = match m {
            Ref::Id(id) => l.manager_id.as_deref() != Some(id),
            Ref::New(k) => {
                needs.push(k.to_string());
                true
            }
        };
        if differs {
            let to = d.manager.as_deref();
            change(Attribute::Manager, l.manager_id.as_deref(), to);
            fields.manager = Some(Some(m.owned()));
        }
    }
    if reactivate {
        fields.active = Some(true);
        change(Attribute::Active, Some("false"), Some("true"));
    }
    if changes.is_empty() {
        return None;
    }
    let rank = if takes.is_empty() && !reactivate {
        2
    } else {
        0
    };
    Some(UserOp {
        takes,
        releases,
        creates: None,
        needs,
        subject: d.email.clone(),
        source: d.location.to_string(),
        rank,
        op: Op::UpdateUser {
            id: l.id.clone(),
            email: l.email.clone(),
            reactivate,
            fields,
            changes,
            source: d.location.to_string(),
        },
    })
}
