//! The emulator's organisation: users and groups as Slack stores them, with the indexes that
//! make every lookup O(1) (by id, email and userName) and a page of a listing O(page).
//!
//! Users are never removed (Slack only deactivates), so an insertion-ordered map gives stable
//! creation-order paging. The same types are the seed and persistence format.
//!
//! A stored user keeps the attribute table's text attributes in one [`TextValues`], by the
//! table's slots, not in a field each ([`STORED`]): a row added to the table is stored,
//! merged, dropped and rendered with no change here. Its fields are what Slack keeps with
//! rules of its own (the user name under both its SCIM names, the two phones, the one photo,
//! address and role) or scimsync does not manage.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::time::{Duration, Instant};

use indexmap::IndexMap;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};

use super::lag::History;
use super::policy::LagScope;
use crate::model::{Attribute, ScimSlot, Shown, TextValues};
use crate::slack_rules::{email_key, user_name_key};

/// What kind of account a user is; decides what SCIM may do to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// A full member.
    #[default]
    Member,
    /// A workspace or org admin.
    Admin,
    /// An owner: an admin's token cannot modify it.
    Owner,
    /// The primary owner: cannot be deactivated.
    PrimaryOwner,
    /// A bot user: listed, but cannot be deactivated over SCIM.
    Bot,
}

/// The one address Slack stores (FACTS §2.3): five parts, no `type`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoredAddress {
    /// `streetAddress`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub street_address: Option<String>,
    /// `locality` (Slack's "City").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locality: Option<String>,
    /// `region`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// `postalCode` (Slack's "Zip Code").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    /// `country`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
}

impl StoredAddress {
    /// The part under `key` (an `addresses` entry's key: `streetAddress`, `locality`, …).
    pub fn part(&self, key: &str) -> &Option<String> {
        match key {
            "streetAddress" => &self.street_address,
            "locality" => &self.locality,
            "region" => &self.region,
            "postalCode" => &self.postal_code,
            _ => &self.country,
        }
    }

    /// The part under `key`, to set.
    pub fn part_mut(&mut self, key: &str) -> &mut Option<String> {
        match key {
            "streetAddress" => &mut self.street_address,
            "locality" => &mut self.locality,
            "region" => &mut self.region,
            "postalCode" => &mut self.postal_code,
            _ => &mut self.country,
        }
    }
}

/// A multi-channel guest (Slack's guest extension). `single_channel` marks a single-channel
/// guest, which only exists in seeds: SCIM cannot create one.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoredGuest {
    /// When the guest account expires (ISO-8601), if ever.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration: Option<String>,
    /// A single-channel guest (`ultra_restricted`), rather than a multi-channel one.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub single_channel: bool,
}

/// Where the emulator keeps a text attribute of the attribute table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Storage {
    /// In [`StoredUser::texts`], at the attribute's slot there.
    Texts,
    /// In [`StoredUser::primary_phone`]: one of the two phones, with rules of their own.
    PrimaryPhone,
    /// In [`StoredUser::mobile_phone`]: the other phone.
    MobilePhone,
    /// In [`StoredUser::secondary_email`]: the second of the two emails.
    SecondaryEmail,
    /// In [`StoredUser::role_title`]: the one role.
    Role,
    /// In [`StoredUser::photo`]: the one photo.
    Photo,
    /// In [`StoredUser::profile_url`]: the URL a create sent, which Slack may answer or not
    /// ([`super::policy::ProfileUrlReading`]).
    ProfileUrl,
    /// A part of [`StoredUser::address`], by its key in an `addresses` entry.
    Address(&'static str),
    /// In [`StoredUser::honorific_prefix`]: `name`'s one key with rules of its own (it makes
    /// a user one with custom-profile data, FACTS §2.9).
    HonorificPrefix,
    /// In [`StoredUser::user_name`]: Slack keeps `nickName` equal to `userName` (FACTS TL;DR
    /// 5), one value under two SCIM names, with rules of its own.
    UserName,
}

/// The core keys the emulator keeps by rules of its own, whatever the table says: the user
/// name, under both its SCIM names.
const USER_NAME_KEYS: [&str; 2] = ["userName", "nickName"];

/// Where the emulator keeps `attribute`; `None` for attributes that are not text.
const fn storage(attribute: Attribute) -> Option<Storage> {
    STORAGE[attribute as usize]
}

/// Each attribute's [`Storage`], by [`Attribute`] order, worked out as the crate compiles (a
/// page reads it for every value it writes).
const STORAGE: [Option<Storage>; Attribute::ALL.len()] = {
    let mut storage = [None; Attribute::ALL.len()];
    let mut i = 0;
    while i < Attribute::ALL.len() {
        storage[i] = storage_of(Attribute::ALL[i]);
        i += 1;
    }
    storage
};

const fn storage_of(attribute: Attribute) -> Option<Storage> {
    match attribute.slot() {
        None => None,
        Some(ScimSlot::PrimaryPhone) => Some(Storage::PrimaryPhone),
        Some(ScimSlot::MobilePhone) => Some(Storage::MobilePhone),
        Some(ScimSlot::SecondaryEmail) => Some(Storage::SecondaryEmail),
        Some(ScimSlot::Role) => Some(Storage::Role),
        Some(ScimSlot::Photo) => Some(Storage::Photo),
        Some(ScimSlot::Address(key)) => Some(Storage::Address(key)),
        Some(ScimSlot::Core(path)) if eq(path, PROFILE_URL) => Some(Storage::ProfileUrl),
        Some(ScimSlot::Core(path)) if eq(path, HONORIFIC_PREFIX) => Some(Storage::HonorificPrefix),
        Some(ScimSlot::Core(path)) if is_user_name_key(path) => Some(Storage::UserName),
        Some(_) => Some(Storage::Texts),
    }
}

/// Where Slack shows the profile URL.
const PROFILE_URL: &str = "profileUrl";

/// Where Slack keeps the honorific prefix.
const HONORIFIC_PREFIX: &str = "name.honorificPrefix";

const fn eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

const fn is_user_name_key(path: &str) -> bool {
    let mut i = 0;
    while i < USER_NAME_KEYS.len() {
        if path.eq_ignore_ascii_case(USER_NAME_KEYS[i]) {
            return true;
        }
        i += 1;
    }
    false
}

/// The text attributes whose value gives a user custom-profile data ([`Shown::WithProfileData`]).
const PROFILE_DATA: [Attribute; PROFILE_DATA_COUNT] = {
    let mut list = [Attribute::Id; PROFILE_DATA_COUNT];
    let (mut n, mut i) = (0, 0);
    while i < Attribute::TEXT.len() {
        if shows_with_profile_data(Attribute::TEXT[i]) {
            list[n] = Attribute::TEXT[i];
            n += 1;
        }
        i += 1;
    }
    list
};

const PROFILE_DATA_COUNT: usize = {
    let (mut n, mut i) = (0, 0);
    while i < Attribute::TEXT.len() {
        if shows_with_profile_data(Attribute::TEXT[i]) {
            n += 1;
        }
        i += 1;
    }
    n
};

const fn shows_with_profile_data(attribute: Attribute) -> bool {
    matches!(attribute.scim(), Some(s) if matches!(s.shown, Shown::WithProfileData))
}

/// How many attributes the emulator keeps in [`StoredUser::texts`].
const STORED_COUNT: usize = {
    let (mut n, mut i) = (0, 0);
    while i < Attribute::TEXT.len() {
        if matches!(storage(Attribute::TEXT[i]), Some(Storage::Texts)) {
            n += 1;
        }
        i += 1;
    }
    n
};

/// The attributes the emulator keeps in [`StoredUser::texts`], in the table's order: every
/// text and date attribute at a slot the emulator has no rules of its own for.
pub(crate) const STORED: [Attribute; STORED_COUNT] = {
    let mut stored = [Attribute::Id; STORED_COUNT];
    let (mut n, mut i) = (0, 0);
    while i < Attribute::TEXT.len() {
        if matches!(storage(Attribute::TEXT[i]), Some(Storage::Texts)) {
            stored[n] = Attribute::TEXT[i];
            n += 1;
        }
        i += 1;
    }
    stored
};

/// The attribute at a core path (`displayName`, `name.givenName`), if the table has one: the
/// rules Slack applies to a few fields name them by their SCIM path.
pub fn core_attribute(path: &str) -> Option<Attribute> {
    Attribute::TEXT
        .into_iter()
        .find(|a| matches!(a.slot(), Some(ScimSlot::Core(p)) if p == path))
}

/// One Slack account, as the emulator stores it. Text attributes of the attribute table live
/// in [`StoredUser::texts`] (see [`StoredUser::text`]); the fields are what Slack keeps with
/// rules of its own or scimsync does not manage. The seed and persistence format writes each
/// field by name and each text attribute by its name in the table (`given_name`, `title`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StoredUser {
    /// `U…`/`W…`; generated when a seed leaves it empty.
    pub id: String,
    /// What kind of account this is.
    pub role: Role,
    /// The userName (= nickName), normalised as Slack stores it.
    pub user_name: String,
    /// The primary email.
    pub email: String,
    /// The secondary email, if any.
    pub secondary_email: Option<String>,
    /// `false` once deactivated (Slack never deletes a user).
    pub active: bool,
    /// The text and date attributes the emulator stores (`STORED`), each set or not, kept
    /// as Slack keeps them (dates as Slack writes them).
    pub texts: TextValues,
    /// `name.honorificPrefix` (a custom profile field).
    pub honorific_prefix: Option<String>,
    /// The one photo URL stored; unset renders as a gravatar URL.
    pub photo: Option<String>,
    /// The one address stored.
    pub address: Option<StoredAddress>,
    /// The `profileUrl` a create sent (Slack ignores it on update, FACTS §2.2).
    pub profile_url: Option<String>,
    /// Slack's "primaryPhone" (written with `type: mobile` or `primary: true`).
    pub primary_phone: Option<String>,
    /// Slack's "mobilePhone" (written with `type: work` or `primary: false`).
    pub mobile_phone: Option<String>,
    /// The one role stored (`roles[0].value`).
    pub role_title: Option<String>,
    /// A Slack user id once stored (Slack resolves emails and userNames on write).
    pub manager_id: Option<String>,
    /// The guest extension, for guests.
    pub guest: Option<StoredGuest>,
    /// `meta.created`, local offset, second precision.
    pub created: String,
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

    /// The user with `attribute` set to `value` (for seeds and tests).
    ///
    /// # Panics
    /// If `attribute` is not a text or date attribute.
    #[must_use]
    pub fn with(mut self, attribute: Attribute, value: impl Into<String>) -> StoredUser {
        self.set_text(attribute, Some(value.into()));
        self
    }

    /// The value of a text or date attribute as Slack holds it (the user name for an
    /// attribute at `nickName`); `None` when unset or not a text attribute.
    pub fn text(&self, attribute: Attribute) -> Option<&str> {
        match storage(attribute)? {
            Storage::Texts => self.texts.get(attribute),
            Storage::PrimaryPhone => self.primary_phone.as_deref(),
            Storage::MobilePhone => self.mobile_phone.as_deref(),
            Storage::SecondaryEmail => self.secondary_email.as_deref(),
            Storage::Role => self.role_title.as_deref(),
            Storage::Photo => self.photo.as_deref(),
            Storage::ProfileUrl => self.profile_url.as_deref(),
            Storage::Address(key) => self.address.as_ref()?.part(key).as_deref(),
            Storage::HonorificPrefix => self.honorific_prefix.as_deref(),
            Storage::UserName => Some(&self.user_name),
        }
    }

    /// Sets (or, with `None`, unsets) a text or date attribute. The user name is never unset
    /// this way (Slack refuses to, with `username_empty`).
    ///
    /// # Panics
    /// If `attribute` is not a text or date attribute: a programming error.
    pub fn set_text(&mut self, attribute: Attribute, value: Option<String>) {
        match storage(attribute) {
            Some(Storage::Texts) => self.texts.set(attribute, value),
            Some(Storage::PrimaryPhone) => self.primary_phone = value,
            Some(Storage::MobilePhone) => self.mobile_phone = value,
            Some(Storage::SecondaryEmail) => self.secondary_email = value,
            Some(Storage::Role) => self.role_title = value,
            Some(Storage::Photo) => self.photo = value,
            Some(Storage::ProfileUrl) => self.profile_url = value,
            Some(Storage::Address(key)) => {
                let mut address = self.address.take().unwrap_or_default();
                *address.part_mut(key) = value;
                self.address = (address != StoredAddress::default()).then_some(address);
            }
            Some(Storage::HonorificPrefix) => self.honorific_prefix = value,
            Some(Storage::UserName) => {
                if let Some(name) = value {
                    self.user_name = name;
                }
            }
            None => panic!("{attribute} is not a text attribute"),
        }
    }

    /// The value at a core path (`displayName`, `name.givenName`): Slack's rules on a few
    /// fields name them so.
    pub fn core_text(&self, path: &str) -> Option<&str> {
        self.text(core_attribute(path)?)
    }

    /// Whether the user carries custom-profile data; such users are rendered with the full key
    /// set and `null` placeholders (FACTS §2.9).
    pub fn has_profile_data(&self) -> bool {
        self.address.is_some()
            || self.mobile_phone.is_some()
            || self.role_title.is_some()
            || self.honorific_prefix.is_some()
            || self.manager_id.is_some()
            || PROFILE_DATA.into_iter().any(|a| self.text(a).is_some())
    }

    /// Drops every custom-profile field, as Slack does to a create carrying an invalid one
    /// (FACTS §2.8, TL;DR 7): the address, both phones, roles, `name.honorificPrefix`, the
    /// manager and every text attribute whose row says it is one
    /// ([`crate::model::Scim::custom`]: `title`, `userType`, `preferredLanguage`, `locale`,
    /// the enterprise extension, and the profile extension's `startDate` — FACTS does not say
    /// whether `startDate` counts; dropping it too is the unkinder reading). The standard
    /// profile (names, display name, photo, timezone, emails) is kept.
    pub fn clear_custom_profile(&mut self) {
        self.address = None;
        self.mobile_phone = None;
        self.role_title = None;
        self.honorific_prefix = None;
        self.manager_id = None;
        for a in Attribute::TEXT {
            if a.scim().is_some_and(|s| s.custom) && storage(a) != Some(Storage::UserName) {
                self.set_text(a, None);
            }
        }
    }

    /// The organisation's custom profile fields the user's values need ([`Attribute::profile_field`]).
    pub fn profile_fields(&self) -> impl Iterator<Item = &'static str> + '_ {
        Attribute::ALL.into_iter().filter_map(|a| {
            let field = a.profile_field()?;
            let set = match a {
                Attribute::Manager => self.manager_id.is_some(),
                _ => self.text(a).is_some(),
            };
            set.then_some(field)
        })
    }

    /// Whether the user is a (multi- or single-channel) guest.
    pub fn is_guest(&self) -> bool {
        self.guest.is_some()
    }
}

/// The keys of a stored user in seeds and persisted states, but the text attributes'.
const FIELDS: [&str; 16] = [
    "id",
    "role",
    "user_name",
    "email",
    "secondary_email",
    "active",
    "honorific_prefix",
    "photo",
    "profile_url",
    "address",
    "primary_phone",
    "mobile_phone",
    "role_title",
    "manager_id",
    "guest",
    "created",
];

/// Every key a stored user may have: [`FIELDS`], then the names of [`STORED`].
const SEED_KEYS: [&str; FIELDS.len() + STORED_COUNT] = {
    let mut keys = [""; FIELDS.len() + STORED_COUNT];
    assert!(keys.len() <= 64, "the keys seen are bits of a u64");
    let mut i = 0;
    while i < FIELDS.len() {
        keys[i] = FIELDS[i];
        i += 1;
    }
    let mut k = 0;
    while k < STORED_COUNT {
        keys[i + k] = STORED[k].name();
        k += 1;
    }
    keys
};

/// Written as the seed format has it: set fields and text attributes only (`id`, `role`,
/// `active` and `created` always).
impl Serialize for StoredUser {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("id", &self.id)?;
        map.serialize_entry("role", &self.role)?;
        map.serialize_entry("user_name", &self.user_name)?;
        map.serialize_entry("email", &self.email)?;
        if let Some(v) = &self.secondary_email {
            map.serialize_entry("secondary_email", v)?;
        }
        map.serialize_entry("active", &self.active)?;
        for (attribute, value) in self.texts.iter() {
            map.serialize_entry(attribute.name(), value)?;
        }
        let optional = [
            ("honorific_prefix", &self.honorific_prefix),
            ("photo", &self.photo),
            ("profile_url", &self.profile_url),
        ];
        for (key, value) in optional {
            if let Some(v) = value {
                map.serialize_entry(key, v)?;
            }
        }
        if let Some(a) = &self.address {
            map.serialize_entry("address", a)?;
        }
        let optional = [
            ("primary_phone", &self.primary_phone),
            ("mobile_phone", &self.mobile_phone),
            ("role_title", &self.role_title),
            ("manager_id", &self.manager_id),
        ];
        for (key, value) in optional {
            if let Some(v) = value {
                map.serialize_entry(key, v)?;
            }
        }
        if let Some(g) = &self.guest {
            map.serialize_entry("guest", g)?;
        }
        map.serialize_entry("created", &self.created)?;
        map.end()
    }
}

/// Read as the seed format has it: `user_name` and `email` required, every other key
/// optional, an unknown or repeated key an error (as `deny_unknown_fields` would).
impl<'de> Deserialize<'de> for StoredUser {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(SeedUser)
    }
}

struct SeedUser;

impl<'de> Visitor<'de> for SeedUser {
    type Value = StoredUser;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("struct StoredUser")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<StoredUser, A::Error> {
        let mut u = StoredUser::default();
        let (mut user_name, mut email, mut active) = (None, None, None);
        let mut seen = 0u64;
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            let Some(i) = SEED_KEYS.iter().position(|k| *k == key) else {
                return Err(de::Error::unknown_field(&key, &SEED_KEYS));
            };
            let key = SEED_KEYS[i];
            if seen & (1 << i) != 0 {
                return Err(de::Error::duplicate_field(key));
            }
            seen |= 1 << i;
            match key {
                "id" => u.id = map.next_value()?,
                "role" => u.role = map.next_value()?,
                "user_name" => user_name = Some(map.next_value()?),
                "email" => email = Some(map.next_value()?),
                "secondary_email" => u.secondary_email = map.next_value()?,
                "active" => active = Some(map.next_value()?),
                "honorific_prefix" => u.honorific_prefix = map.next_value()?,
                "photo" => u.photo = map.next_value()?,
                "profile_url" => u.profile_url = map.next_value()?,
                "address" => u.address = map.next_value()?,
                "primary_phone" => u.primary_phone = map.next_value()?,
                "mobile_phone" => u.mobile_phone = map.next_value()?,
                "role_title" => u.role_title = map.next_value()?,
                "manager_id" => u.manager_id = map.next_value()?,
                "guest" => u.guest = map.next_value()?,
                "created" => u.created = map.next_value()?,
                name => {
                    let attribute = Attribute::from_name(name).expect("a STORED name");
                    u.texts.set(attribute, map.next_value::<Option<String>>()?);
                }
            }
        }
        u.user_name = user_name.ok_or_else(|| de::Error::missing_field("user_name"))?;
        u.email = email.ok_or_else(|| de::Error::missing_field("email"))?;
        u.active = active.unwrap_or(true);
        Ok(u)
    }
}

/// A user group.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoredGroup {
    /// `S…`; generated when a seed leaves it empty.
    #[serde(default)]
    pub id: String,
    /// `displayName`.
    pub display_name: String,
    /// Member user ids, in the order they were added. Seeds may give emails or userNames.
    #[serde(default)]
    pub members: Vec<String>,
    /// Slack-generated groups ("Team Admins") reject every SCIM write.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub auto_generated: bool,
    /// `meta.created`, local offset, second precision.
    #[serde(default)]
    pub created: String,
}

/// The seed and persistence format: `users` and `groups`, YAML or JSON.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Snapshot {
    /// Users, in creation order.
    #[serde(default)]
    pub users: Vec<StoredUser>,
    /// Groups, in creation order.
    #[serde(default)]
    pub groups: Vec<StoredGroup>,
}

/// Why a seed or persisted state cannot be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    /// The file cannot be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a snapshot in YAML or JSON.
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// The parser's message.
        message: String,
    },
    /// The snapshot breaks one of Slack's rules (duplicate ids, emails, userNames, unknown
    /// group members).
    #[error("{path}: {message}")]
    Invalid {
        /// The file.
        path: String,
        /// Which entry and rule.
        message: String,
    },
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
    /// The seed `rng` started from: the organisation's identity.
    seed: u64,
    id_prefix: char,
    /// Users replaced within the read lag, for lagging reads (empty without a lag).
    user_history: History<StoredUser>,
    /// Groups replaced or deleted within the read lag.
    group_history: History<StoredGroup>,
    /// Which writes the read lag applies to.
    lag_scope: LagScope,
    /// The custom profile fields SCIM writes have created (Slack creates one the first time a
    /// user has a value for it, FACTS §2.8).
    profile_fields: BTreeSet<&'static str>,
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
            seed,
            id_prefix,
            user_history: History::default(),
            group_history: History::default(),
            lag_scope: LagScope::All,
            profile_fields: BTreeSet::new(),
        }
    }

    /// Makes every write from now on visible to reads only `lag` after it is made (see
    /// [`super::lag`]); `Duration::ZERO` (the default) makes reads see the true state.
    pub fn set_read_lag(&mut self, lag: Duration) {
        self.user_history.set_lag(lag);
        self.group_history.set_lag(lag);
    }

    /// Which writes the read lag applies to from now on (default: [`LagScope::All`]).
    pub fn set_lag_scope(&mut self, scope: LagScope) {
        self.lag_scope = scope;
    }

    /// Whether a user write from `old` to `new` is seen late under the lag scope: every one,
    /// or only a deactivation or a photo change (FACTS TL;DR 16).
    fn user_write_lags(&self, old: Option<&StoredUser>, new: &StoredUser) -> bool {
        match (self.lag_scope, old) {
            (LagScope::All, _) => true,
            (LagScope::Deactivation | LagScope::Photo, None) => false,
            (LagScope::Deactivation, Some(old)) => {
                (old.active && !new.active) || old.photo != new.photo
            }
            (LagScope::Photo, Some(old)) => old.photo != new.photo,
        }
    }

    /// Whether group writes are seen late under the lag scope.
    fn group_writes_lag(&self) -> bool {
        self.lag_scope == LagScope::All && !self.group_history.lag().is_zero()
    }

    /// The read lag in force.
    pub fn read_lag(&self) -> Duration {
        self.user_history.lag()
    }

    /// Users replaced within the read lag.
    pub(super) fn user_history(&self) -> &History<StoredUser> {
        &self.user_history
    }

    /// Groups replaced or deleted within the read lag.
    pub(super) fn group_history(&self) -> &History<StoredGroup> {
        &self.group_history
    }

    /// The organisation every fresh emulator starts with unless seeded: a primary owner, a bot
    /// that SCIM cannot touch, and the auto-generated "Team Admins" group.
    pub fn default_org(id_prefix: char, seed: u64) -> Store {
        let snapshot = Snapshot {
            users: vec![
                StoredUser {
                    role: Role::PrimaryOwner,
                    ..StoredUser::new("primary-owner", "primary-owner@example.com")
                        .with(Attribute::GivenName, "Primary")
                        .with(Attribute::FamilyName, "Owner")
                },
                StoredUser {
                    role: Role::Bot,
                    ..StoredUser::new(
                        "scimsync-bot",
                        "botuser-T0EMULATOR-A0SCIMSYNC@slack-bots.com",
                    )
                    .with(Attribute::GivenName, "scimsync-bot")
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

    /// The organisation's id, as Web API `auth.test` gives it: `E…` on Enterprise Grid, `T…`
    /// otherwise. It follows from the store's random seed, as its user ids do, so an
    /// organisation reloaded from its persisted state with the same seed keeps it, and two
    /// emulators seeded differently are two organisations.
    pub fn team_id(&self) -> String {
        let prefix = if self.is_grid() { 'E' } else { 'T' };
        format!(
            "{prefix}0{:09X}",
            self.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 28
        )
    }

    /// Whether the organisation is an Enterprise Grid one (`W…` user ids).
    pub fn is_grid(&self) -> bool {
        self.id_prefix == 'W'
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

    /// A fresh, unused user id with the organisation's prefix.
    pub fn new_user_id(&mut self) -> String {
        loop {
            let prefix = self.id_prefix;
            let id = format!("{prefix}{}", self.random_suffix(10));
            if !self.users.contains_key(&id) {
                return id;
            }
        }
    }

    /// A fresh, unused group id (`S…`).
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

    /// How many users exist (deactivated ones included).
    pub fn user_count(&self) -> usize {
        self.users.len()
    }

    /// How many groups exist.
    pub fn group_count(&self) -> usize {
        self.groups.len()
    }

    /// The user with this id.
    pub fn user(&self, id: &str) -> Option<&StoredUser> {
        self.users.get(id)
    }

    /// The `index`-th user in creation order (0-based).
    pub fn user_at(&self, index: usize) -> Option<&StoredUser> {
        self.users.get_index(index).map(|(_, u)| u)
    }

    /// Where a user is in creation order (0-based).
    pub fn user_position(&self, id: &str) -> Option<usize> {
        self.users.get_index_of(id)
    }

    /// Every user, in creation order.
    pub fn users(&self) -> impl Iterator<Item = &StoredUser> {
        self.users.values()
    }

    /// The user holding this email as primary or secondary (case-insensitive).
    pub fn user_by_email(&self, email: &str) -> Option<&StoredUser> {
        self.by_email
            .get(&email_key(email))
            .and_then(|id| self.users.get(id))
    }

    /// The user with this userName (case-insensitive).
    pub fn user_by_user_name(&self, user_name: &str) -> Option<&StoredUser> {
        self.by_user_name
            .get(&user_name_key(user_name))
            .and_then(|id| self.users.get(id))
    }

    /// Who holds an email as primary or secondary, if anyone (deactivated accounts included).
    pub fn email_holder(&self, email: &str) -> Option<&str> {
        self.by_email.get(&email_key(email)).map(String::as_str)
    }

    /// Who holds a userName, if anyone (deactivated accounts included).
    pub fn user_name_holder(&self, user_name: &str) -> Option<&str> {
        self.by_user_name
            .get(&user_name_key(user_name))
            .map(String::as_str)
    }

    /// Adds a user; the caller has checked uniqueness.
    pub fn insert_user(&mut self, user: StoredUser) {
        self.profile_fields.extend(user.profile_fields());
        self.index_user(&user);
        if self.user_write_lags(None, &user) {
            self.user_history.record(&user.id, None, Instant::now());
        }
        self.users.insert(user.id.clone(), user);
    }

    /// Replaces a user, re-indexing its email and userName.
    pub fn replace_user(&mut self, user: StoredUser) {
        self.profile_fields.extend(user.profile_fields());
        let old = self.users.get(&user.id).cloned();
        if let Some(old) = &old {
            self.unindex_user(old);
        }
        self.index_user(&user);
        if self.user_write_lags(old.as_ref(), &user) {
            self.user_history.record(&user.id, old, Instant::now());
        }
        let id = user.id.clone();
        self.users.insert(id, user);
    }

    /// The custom profile fields `user`'s values need that the organisation does not have yet
    /// (Slack would create them).
    pub fn new_profile_fields(&self, user: &StoredUser) -> Vec<&'static str> {
        user.profile_fields()
            .filter(|f| !self.profile_fields.contains(f))
            .collect()
    }

    /// How many custom profile fields SCIM writes have created.
    pub fn profile_fields_created(&self) -> usize {
        self.profile_fields.len()
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

    /// The group with this id.
    pub fn group(&self, id: &str) -> Option<&StoredGroup> {
        self.groups.get(id)
    }

    /// The `index`-th group in creation order (0-based).
    pub fn group_at(&self, index: usize) -> Option<&StoredGroup> {
        self.groups.get_index(index).map(|(_, g)| g)
    }

    /// Every group, in creation order.
    pub fn groups(&self) -> impl Iterator<Item = &StoredGroup> {
        self.groups.values()
    }

    /// The first group with this name (trimmed, case-insensitive).
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
        let old = self.groups.get(&group.id).cloned();
        if let Some(old) = &old {
            for m in &old.members {
                if let Some(set) = self.memberships.get_mut(m) {
                    set.remove(&group.id);
                }
            }
        }
        self.remember_group(&group.id, old);
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
        if self.group_writes_lag() {
            self.remember_group(id, Some(group.clone()));
        }
        Some(group)
    }

    /// Records a group's version before a write, for lagging reads. A group may have 15,000
    /// members, so nothing is cloned when there is no lag.
    fn remember_group(&mut self, id: &str, previous: Option<StoredGroup>) {
        if self.group_writes_lag() {
            self.group_history.record(id, previous, Instant::now());
        }
    }

    /// Takes a user out of every group (Slack removes deactivated members from user groups).
    pub fn remove_from_all_groups(&mut self, user_id: &str) {
        let Some(group_ids) = self.memberships.remove(user_id) else {
            return;
        };
        let lagging = self.group_writes_lag();
        for gid in group_ids {
            if let Some(g) = self.groups.get_mut(&gid) {
                let previous = lagging.then(|| g.clone());
                g.members.retain(|m| m != user_id);
                if lagging {
                    self.group_history.record(&gid, previous, Instant::now());
                }
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
    use crate::model::Attribute;

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

    /// Seeds name each text attribute by its name in the table; the format round-trips, and
    /// an unknown or repeated key, or a missing userName, is refused with its name.
    #[test]
    fn seeds_hold_text_attributes_by_their_table_names() {
        let yaml = "users:\n - {user_name: ada, email: a@x.com, title: Lead, \
                    start_date: '2024-04-10', primary_phone: '555', cost_center: null, \
                    active: false}\n";
        let snapshot: Snapshot = serde_yaml::from_str(yaml).unwrap();
        let ada = &snapshot.users[0];
        assert_eq!(ada.text(Attribute::Title), Some("Lead"));
        assert_eq!(ada.text(Attribute::StartDate), Some("2024-04-10"));
        assert_eq!(ada.text(Attribute::Phone), Some("555"));
        assert_eq!(ada.text(Attribute::CostCenter), None);
        assert!(!ada.active);
        let json = serde_json::to_string(&snapshot).unwrap();
        assert!(json.contains(r#""title":"Lead""#), "{json}");
        let back: Snapshot = serde_json::from_str(&json).unwrap();
        assert_eq!(&back.users[0], ada);
        assert!(
            serde_yaml::from_str::<Snapshot>("users:\n - {user_name: a, email: a@x.com}\n")
                .unwrap()
                .users[0]
                .active
        );

        let err = |yaml: &str| {
            serde_yaml::from_str::<Snapshot>(yaml)
                .unwrap_err()
                .to_string()
        };
        let unknown = err("users:\n - {user_name: a, email: a@x.com, nick: b}\n");
        assert!(
            unknown.contains("unknown field `nick`, expected one of `id`")
                && unknown.contains("`title`")
                && unknown.contains("line 2"),
            "{unknown}"
        );
        let twice = err("users:\n - {user_name: a, email: a@x.com, title: b, title: c}\n");
        assert!(twice.contains("duplicate field `title`"), "{twice}");
        let missing = err("users:\n - {email: a@x.com}\n");
        assert!(missing.contains("missing field `user_name`"), "{missing}");
        // Kept by rules of their own: the phone is `primary_phone`, the user name `user_name`.
        assert!(err("users:\n - {user_name: a, email: a@x.com, phone: '1'}\n").contains("`phone`"));
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
