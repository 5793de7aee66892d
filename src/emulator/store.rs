//! The emulator's organisation: users and groups as Slack stores them, with the indexes that
//! make every lookup O(1) (by id, email and userName) and a page of a listing O(page).
//!
//! Users are never removed (Slack only deactivates), so an insertion-ordered map gives stable
//! creation-order paging. The same types are the seed and persistence format.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use crate::slack_rules::{email_key, user_name_key};

/// What kind of account a user is; decides what SCIM may do to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    #[default]
    Member,
    Admin,
    Owner,
    PrimaryOwner,
    Bot,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoredAddress {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub street_address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locality: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
}

/// A multi-channel guest (Slack's guest extension). `single_channel` marks a single-channel
/// guest, which only exists in seeds: SCIM cannot create one.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoredGuest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub single_channel: bool,
}

/// One Slack account, as the emulator stores it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoredUser {
    /// `U…`/`W…`; generated when a seed leaves it empty.
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub role: Role,
    pub user_name: String,
    pub email: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secondary_email: Option<String>,
    #[serde(default = "yes")]
    pub active: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub given_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub honorific_prefix: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub photo: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<StoredAddress>,
    /// Slack's "primaryPhone" (written with `type: mobile` or `primary: true`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_phone: Option<String>,
    /// Slack's "mobilePhone" (written with `type: work` or `primary: false`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mobile_phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_language: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub employee_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_center: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub division: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    /// A Slack user id once stored (Slack resolves emails and userNames on write).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manager_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_date: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guest: Option<StoredGuest>,
    /// `meta.created`, local offset, second precision.
    #[serde(default)]
    pub created: String,
}

fn yes() -> bool {
    true
}

impl StoredUser {
    /// An active member with just a userName and an email.
    pub fn new(user_name: &str, email: &str) -> StoredUser {
        StoredUser {
            user_name: user_name.into(),
            email: email.into(),
            active: true,
            ..StoredUser::default()
        }
    }

    /// Whether the user carries custom-profile data; such users are rendered with the full key
    /// set and `null` placeholders (FACTS §2.9).
    pub fn has_profile_data(&self) -> bool {
        self.address.is_some()
            || self.primary_phone.is_some()
            || self.mobile_phone.is_some()
            || self.user_type.is_some()
            || self.role_title.is_some()
            || self.preferred_language.is_some()
            || self.locale.is_some()
            || self.honorific_prefix.is_some()
            || self.employee_number.is_some()
            || self.cost_center.is_some()
            || self.organization.is_some()
            || self.division.is_some()
            || self.department.is_some()
            || self.manager_id.is_some()
    }

    pub fn is_guest(&self) -> bool {
        self.guest.is_some()
    }
}

/// A user group.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoredGroup {
    #[serde(default)]
    pub id: String,
    pub display_name: String,
    /// Member user ids, in the order they were added. Seeds may give emails or userNames.
    #[serde(default)]
    pub members: Vec<String>,
    /// Slack-generated groups ("Team Admins") reject every SCIM write.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub auto_generated: bool,
    #[serde(default)]
    pub created: String,
}

/// The seed and persistence format: `users` and `groups`, YAML or JSON.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Snapshot {
    #[serde(default)]
    pub users: Vec<StoredUser>,
    #[serde(default)]
    pub groups: Vec<StoredGroup>,
}

#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("{path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: String, message: String },
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
}

/// The organisation's state and its indexes.
#[derive(Debug)]
pub struct Store {
    users: IndexMap<String, StoredUser>,
    by_email: HashMap<String, String>,
    by_user_name: HashMap<String, String>,
    groups: IndexMap<String, StoredGroup>,
    /// user id → ids of the groups that list it, for each user's read-only `groups`.
    memberships: HashMap<String, BTreeSet<String>>,
    rng: fastrand::Rng,
    id_prefix: char,
}

impl Store {
    /// An empty organisation. `id_prefix` is `U` (a workspace) or `W` (Enterprise Grid).
    pub fn new(id_prefix: char, seed: u64) -> Store {
        Store {
            users: IndexMap::new(),
            by_email: HashMap::new(),
            by_user_name: HashMap::new(),
            groups: IndexMap::new(),
            memberships: HashMap::new(),
            rng: fastrand::Rng::with_seed(seed),
            id_prefix,
        }
    }

    /// The organisation every fresh emulator starts with unless seeded: a primary owner, a bot
    /// that SCIM cannot touch, and the auto-generated "Team Admins" group.
    pub fn default_org(id_prefix: char, seed: u64) -> Store {
        let snapshot = Snapshot {
            users: vec![
                StoredUser {
                    role: Role::PrimaryOwner,
                    given_name: Some("Primary".into()),
                    family_name: Some("Owner".into()),
                    ..StoredUser::new("primary-owner", "primary-owner@example.com")
                },
                StoredUser {
                    role: Role::Bot,
                    given_name: Some("scimsync-bot".into()),
                    ..StoredUser::new(
                        "scimsync-bot",
                        "botuser-T0EMULATOR-A0SCIMSYNC@slack-bots.com",
                    )
                },
            ],
            groups: vec![StoredGroup {
                display_name: "Team Admins".into(),
                members: vec!["primary-owner".into()],
                auto_generated: true,
                ..StoredGroup::default()
            }],
        };
        Store::from_snapshot(snapshot, id_prefix, seed, "default organisation")
            .expect("the default organisation is valid")
    }

    /// Loads a seed or a persisted state (`.json`, else YAML).
    pub fn load(path: &Path, id_prefix: char, seed: u64) -> Result<Store, SeedError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| SeedError::Read {
            path: name.clone(),
            source,
        })?;
        let snapshot: Snapshot = if path.extension().is_some_and(|e| e == "json") {
            serde_json::from_str(&text).map_err(|e| SeedError::Parse {
                path: name.clone(),
                message: e.to_string(),
            })?
        } else {
            serde_yaml::from_str(&text).map_err(|e| SeedError::Parse {
                path: name.clone(),
                message: e.to_string(),
            })?
        };
        Store::from_snapshot(snapshot, id_prefix, seed, &name)
    }

    /// Builds the store from a snapshot, generating missing ids and timestamps, resolving
    /// group members given by email or userName, and enforcing Slack's uniqueness rules.
    pub fn from_snapshot(
        snapshot: Snapshot,
        id_prefix: char,
        seed: u64,
        origin: &str,
    ) -> Result<Store, SeedError> {
        let invalid = |message: String| SeedError::Invalid {
            path: origin.to_string(),
            message,
        };
        let mut store = Store::new(id_prefix, seed);
        for (i, mut user) in snapshot.users.into_iter().enumerate() {
            if user.id.is_empty() {
                user.id = store.new_user_id();
            }
            if user.created.is_empty() {
                user.created = now_timestamp();
            }
            user.user_name = user_name_key(&user.user_name);
            if store.users.contains_key(&user.id) {
                return Err(invalid(format!("users[{i}]: duplicate id {}", user.id)));
            }
            if store.user_by_email(&user.email).is_some() {
                return Err(invalid(format!(
                    "users[{i}]: email {} is taken",
                    user.email
                )));
            }
            if store.user_by_user_name(&user.user_name).is_some() {
                return Err(invalid(format!(
                    "users[{i}]: userName {} is taken",
                    user.user_name
                )));
            }
            store.insert_user(user);
        }
        for (i, mut group) in snapshot.groups.into_iter().enumerate() {
            if group.id.is_empty() {
                group.id = store.new_group_id();
            }
            if group.created.is_empty() {
                group.created = now_timestamp();
            }
            let mut members = Vec::with_capacity(group.members.len());
            for m in &group.members {
                let id = store
                    .resolve_user(m)
                    .ok_or_else(|| invalid(format!("groups[{i}]: no user {m}")))?;
                if !members.contains(&id) {
                    members.push(id);
                }
            }
            group.members = members;
            if store.groups.contains_key(&group.id) {
                return Err(invalid(format!("groups[{i}]: duplicate id {}", group.id)));
            }
            store.insert_group(group);
        }
        Ok(store)
    }

    /// The whole state, for persistence or inspection.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            users: self.users.values().cloned().collect(),
            groups: self.groups.values().cloned().collect(),
        }
    }

    /// A user id, email or userName → the user's id.
    pub fn resolve_user(&self, key: &str) -> Option<String> {
        if self.users.contains_key(key) {
            return Some(key.to_string());
        }
        self.user_by_email(key)
            .or_else(|| self.user_by_user_name(key))
            .map(|u| u.id.clone())
    }

    pub fn new_user_id(&mut self) -> String {
        loop {
            let prefix = self.id_prefix;
            let id = format!("{prefix}{}", self.random_suffix(10));
            if !self.users.contains_key(&id) {
                return id;
            }
        }
    }

    pub fn new_group_id(&mut self) -> String {
        loop {
            let id = format!("S{}", self.random_suffix(10));
            if !self.groups.contains_key(&id) {
                return id;
            }
        }
    }

    fn random_suffix(&mut self, len: usize) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        (0..len)
            .map(|_| ALPHABET[self.rng.usize(..ALPHABET.len())] as char)
            .collect()
    }

    pub fn user_count(&self) -> usize {
        self.users.len()
    }

    pub fn group_count(&self) -> usize {
        self.groups.len()
    }

    pub fn user(&self, id: &str) -> Option<&StoredUser> {
        self.users.get(id)
    }

    pub fn user_at(&self, index: usize) -> Option<&StoredUser> {
        self.users.get_index(index).map(|(_, u)| u)
    }

    pub fn users(&self) -> impl Iterator<Item = &StoredUser> {
        self.users.values()
    }

    pub fn user_by_email(&self, email: &str) -> Option<&StoredUser> {
        self.by_email
            .get(&email_key(email))
            .and_then(|id| self.users.get(id))
    }

    pub fn user_by_user_name(&self, user_name: &str) -> Option<&StoredUser> {
        self.by_user_name
            .get(&user_name_key(user_name))
            .and_then(|id| self.users.get(id))
    }

    /// Who holds an email as primary or secondary, if anyone (deactivated accounts included).
    pub fn email_holder(&self, email: &str) -> Option<&str> {
        self.by_email.get(&email_key(email)).map(String::as_str)
    }

    pub fn user_name_holder(&self, user_name: &str) -> Option<&str> {
        self.by_user_name
            .get(&user_name_key(user_name))
            .map(String::as_str)
    }

    /// Adds a user; the caller has checked uniqueness.
    pub fn insert_user(&mut self, user: StoredUser) {
        self.index_user(&user);
        self.users.insert(user.id.clone(), user);
    }

    /// Replaces a user, re-indexing its email and userName.
    pub fn replace_user(&mut self, user: StoredUser) {
        if let Some(old) = self.users.get(&user.id).cloned() {
            self.unindex_user(&old);
        }
        self.index_user(&user);
        let id = user.id.clone();
        self.users.insert(id, user);
    }

    fn index_user(&mut self, user: &StoredUser) {
        self.by_email
            .insert(email_key(&user.email), user.id.clone());
        if let Some(secondary) = &user.secondary_email {
            self.by_email.insert(email_key(secondary), user.id.clone());
        }
        self.by_user_name
            .insert(user_name_key(&user.user_name), user.id.clone());
    }

    fn unindex_user(&mut self, user: &StoredUser) {
        self.by_email.remove(&email_key(&user.email));
        if let Some(secondary) = &user.secondary_email {
            self.by_email.remove(&email_key(secondary));
        }
        self.by_user_name.remove(&user_name_key(&user.user_name));
    }

    pub fn group(&self, id: &str) -> Option<&StoredGroup> {
        self.groups.get(id)
    }

    pub fn group_at(&self, index: usize) -> Option<&StoredGroup> {
        self.groups.get_index(index).map(|(_, g)| g)
    }

    pub fn groups(&self) -> impl Iterator<Item = &StoredGroup> {
        self.groups.values()
    }

    pub fn group_by_name(&self, name: &str) -> Option<&StoredGroup> {
        let name = name.trim().to_lowercase();
        self.groups
            .values()
            .find(|g| g.display_name.trim().to_lowercase() == name)
    }

    /// The ids of the groups a user belongs to.
    pub fn groups_of(&self, user_id: &str) -> impl Iterator<Item = &StoredGroup> {
        self.memberships
            .get(user_id)
            .into_iter()
            .flatten()
            .filter_map(|gid| self.groups.get(gid))
    }

    /// Adds or replaces a group, keeping the membership index in step.
    pub fn insert_group(&mut self, group: StoredGroup) {
        if let Some(old) = self.groups.get(&group.id) {
            for m in old.members.clone() {
                if let Some(set) = self.memberships.get_mut(&m) {
                    set.remove(&group.id);
                }
            }
        }
        for m in &group.members {
            self.memberships
                .entry(m.clone())
                .or_default()
                .insert(group.id.clone());
        }
        self.groups.insert(group.id.clone(), group);
    }

    /// Deletes a group for good (Slack's group DELETE is permanent).
    pub fn remove_group(&mut self, id: &str) -> Option<StoredGroup> {
        let group = self.groups.shift_remove(id)?;
        for m in &group.members {
            if let Some(set) = self.memberships.get_mut(m) {
                set.remove(id);
            }
        }
        Some(group)
    }

    /// Takes a user out of every group (Slack removes deactivated members from user groups).
    pub fn remove_from_all_groups(&mut self, user_id: &str) {
        let Some(group_ids) = self.memberships.remove(user_id) else {
            return;
        };
        for gid in group_ids {
            if let Some(g) = self.groups.get_mut(&gid) {
                g.members.retain(|m| m != user_id);
            }
        }
    }
}

/// Slack's `meta.created` format: local offset, second precision.
pub fn now_timestamp() -> String {
    chrono::Local::now()
        .format("%Y-%m-%dT%H:%M:%S%:z")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_org_has_an_owner_a_bot_and_team_admins() {
        let store = Store::default_org('U', 1);
        assert_eq!(store.user_count(), 2);
        let owner = store.user_by_user_name("primary-owner").unwrap();
        assert_eq!(owner.role, Role::PrimaryOwner);
        assert!(owner.id.starts_with('U') && owner.id.len() == 11);
        let admins = store.group_by_name("team admins").unwrap();
        assert!(admins.auto_generated);
        assert_eq!(admins.members, vec![owner.id.clone()]);
        assert_eq!(store.groups_of(&owner.id).count(), 1);
    }

    #[test]
    fn seeds_reject_duplicate_emails_case_insensitively() {
        let snapshot: Snapshot = serde_yaml::from_str(
            "users:\n - {user_name: a, email: A@x.com}\n - {user_name: b, email: a@X.com}\n",
        )
        .unwrap();
        let err = Store::from_snapshot(snapshot, 'U', 1, "seed.yaml").unwrap_err();
        assert!(
            err.to_string()
                .contains("seed.yaml: users[1]: email a@X.com is taken")
        );
    }

    #[test]
    fn ids_are_deterministic_per_seed() {
        let a = Store::default_org('W', 7);
        let b = Store::default_org('W', 7);
        let ids = |s: &Store| s.users().map(|u| u.id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&a), ids(&b));
        assert!(ids(&a).iter().all(|id| id.starts_with('W')));
    }
}
