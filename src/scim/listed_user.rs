//! The users of a listing page, decoded lean ([`LeanUser`]): only the keys the planner reads (and its fingerprints
//! hash), their strings borrowed from the page wherever the JSON has no escape, every other
//! key skipped unread. [`super::live`] turns a [`LeanUser`] into a `LiveUser`, and turns a full
//! [`User`] into one through [`LeanUser::of`], so both paths share one conversion; the tests
//! prove the two decodings give equal `LiveUser`s over Slack's recorded bodies and the
//! emulator's pages.
//!
//! The text attributes it keeps are the attribute table's: a key is kept because a row's
//! [`ScimSlot`] names it (in the core object, an object under it such as `name`, or an
//! extension), in an array per object indexed by the row's place ([`Place`]) — no field per
//! attribute, no allocation per value, no key compared that the table does not name.
//!
//! The full [`User`] stays the type for everything else (dumps, writes, the emulator). What
//! the lean decoding gives up: a key the planner does not read is not checked (a malformed
//! `meta` or `externalId` no longer fails the listing); a key it reads is checked as
//! before (type, and twice is an error).

use std::borrow::Cow;

use serde::de::{self, Deserialize, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};

use super::Version;
use super::types::{
    Address, ByKey, Flag, Group, Guest, MultiValue, Nullable, RoleValue, User, urn,
};
use crate::model::{Attribute, ScimSlot, TABLE};

/// A string borrowed from the page where it can be (an escaped string is owned).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Str<'a>(pub Cow<'a, str>);

impl Str<'_> {
    /// The string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for Str<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct StrVisitor;
        impl<'de> Visitor<'de> for StrVisitor {
            type Value = Str<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Str<'de>, E> {
                Ok(Str(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Str<'de>, E> {
                Ok(Str(Cow::Owned(v.to_string())))
            }
            fn visit_string<E>(self, v: String) -> Result<Str<'de>, E> {
                Ok(Str(Cow::Owned(v)))
            }
        }
        d.deserialize_str(StrVisitor)
    }
}

impl Nullable<Str<'_>> {
    /// The string, if set and not blank (as [`Nullable::text`]).
    pub fn lean_text(&self) -> Option<&str> {
        self.value()
            .map(Str::as_str)
            .filter(|s| !s.trim().is_empty())
    }
}

/// A borrowed view of a full body's string.
fn view(v: &Nullable<String>) -> Nullable<Str<'_>> {
    match v {
        Nullable::Missing => Nullable::Missing,
        Nullable::Null => Nullable::Null,
        Nullable::Value(s) => Nullable::Value(Str(Cow::Borrowed(s))),
    }
}

/// A borrowed view of a full body's object.
fn view_with<'a, T, U>(v: &'a Nullable<T>, f: impl FnOnce(&'a T) -> U) -> Nullable<U> {
    match v {
        Nullable::Missing => Nullable::Missing,
        Nullable::Null => Nullable::Null,
        Nullable::Value(t) => Nullable::Value(f(t)),
    }
}

/// A lean object: each listed key into its field (twice is an error, as for the full types),
/// every other key skipped without building anything.
macro_rules! lean_object {
    ($(#[$meta:meta])* pub struct $name:ident { $($(#[$fmeta:meta])* $field:ident : $ty:ty = $wire:literal),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Default)]
        pub struct $name<'a> {
            $(
                $(#[$fmeta])*
                pub $field: Nullable<$ty>,
            )*
        }

        impl<'de> Deserialize<'de> for $name<'de> {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct Fields;
                impl<'de> Visitor<'de> for Fields {
                    type Value = $name<'de>;
                    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        f.write_str(concat!("struct ", stringify!($name)))
                    }
                    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<$name<'de>, A::Error> {
                        let mut out = $name::default();
                        while let Some(key) = map.next_key::<Str<'de>>()? {
                            match key.as_str() {
                                $(
                                    $wire => {
                                        if out.$field.is_present() {
                                            return Err(serde::de::Error::duplicate_field($wire));
                                        }
                                        out.$field = map.next_value()?;
                                    }
                                )*
                                _ => {
                                    map.next_value::<IgnoredAny>()?;
                                }
                            }
                        }
                        Ok(out)
                    }
                }
                d.deserialize_map(Fields)
            }
        }
    };
}

lean_object! {
    /// An entry of `emails` or `phoneNumbers`.
    pub struct LeanValue {
        /// `value`.
        value: Str<'a> = "value",
        /// `primary`.
        primary: Flag = "primary",
    }
}

lean_object! {
    /// A group as a listing reads it for the planner: its id, name and members' ids (a page
    /// of 1,000 groups of 50 members decoded whole, `$ref` and `display` included, took 10 MB).
    pub struct LeanGroup {
        /// `id`.
        id: Str<'a> = "id",
        /// `displayName`.
        display_name: Str<'a> = "displayName",
        /// `members`.
        members: Vec<LeanMember<'a>> = "members",
    }
}

lean_object! {
    /// An entry of a group's `members`: the member's id.
    pub struct LeanMember {
        /// `value`.
        value: Str<'a> = "value",
    }
}

impl<'a> LeanGroup<'a> {
    /// A borrowed view of a full body: what the lean decoding of the same JSON gives.
    pub fn of(g: &'a Group) -> LeanGroup<'a> {
        LeanGroup {
            id: view(&g.id),
            display_name: view(&g.display_name),
            members: view_with(&g.members, |list| {
                list.iter()
                    .map(|m| LeanMember {
                        value: view(&m.value),
                    })
                    .collect()
            }),
        }
    }
}

lean_object! {
    /// An entry of `addresses` (Slack keeps one): its five parts and `primary`.
    pub struct LeanAddress {
        /// `streetAddress`.
        street_address: Str<'a> = "streetAddress",
        /// `locality`.
        locality: Str<'a> = "locality",
        /// `region`.
        region: Str<'a> = "region",
        /// `postalCode`.
        postal_code: Str<'a> = "postalCode",
        /// `country`.
        country: Str<'a> = "country",
        /// `primary`.
        primary: Flag = "primary",
    }
}

impl<'a> LeanAddress<'a> {
    /// The part under `key` (an [`ScimSlot::Address`] key).
    pub fn part(&self, key: &str) -> &Nullable<Str<'a>> {
        match key {
            "streetAddress" => &self.street_address,
            "locality" => &self.locality,
            "region" => &self.region,
            "postalCode" => &self.postal_code,
            _ => &self.country,
        }
    }

    fn of(a: &Address) -> LeanAddress<'_> {
        LeanAddress {
            street_address: view(&a.street_address),
            locality: view(&a.locality),
            region: view(&a.region),
            postal_code: view(&a.postal_code),
            country: view(&a.country),
            primary: a.primary.clone(),
        }
    }
}

lean_object! {
    /// The enterprise extension's `manager`.
    pub struct LeanManager {
        /// `managerId`.
        manager_id: Str<'a> = "managerId",
    }
}

lean_object! {
    /// The guest extension (either dialect).
    pub struct LeanGuest {
        /// `expiration`.
        expiration: Str<'a> = "expiration",
    }
}

/// The objects of a user body that hold text attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Object {
    /// The user itself, and objects under it (`name`).
    Core,
    /// The enterprise extension, in either dialect.
    Enterprise,
    /// Slack's profile extension, in either dialect.
    Profile,
}

/// Where the lean decoding keeps a text attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// In [`LeanUser::core`] at this index.
    Core(usize),
    /// In [`LeanEnterprise::texts`] at this index.
    Enterprise(usize),
    /// In [`LeanProfile::texts`] at this index.
    Profile(usize),
    /// An entry of a list ([`LeanUser::phone_numbers`], [`LeanUser::emails`],
    /// [`LeanUser::roles`], [`LeanUser::addresses`]), read by [`super::live`].
    Entry,
}

/// The object a slot is in, and the key or dotted path it has there.
const fn object_of(slot: ScimSlot) -> Option<(Object, &'static str)> {
    match slot {
        ScimSlot::Core(path) => Some((Object::Core, path)),
        ScimSlot::Enterprise(key) => Some((Object::Enterprise, key)),
        ScimSlot::Profile(key) => Some((Object::Profile, key)),
        ScimSlot::PrimaryPhone
        | ScimSlot::MobilePhone
        | ScimSlot::SecondaryEmail
        | ScimSlot::Role
        | ScimSlot::Photo
        | ScimSlot::Address(_) => None,
    }
}

/// How many text attributes live in `object`.
const fn count(object: Object) -> usize {
    let (mut n, mut i) = (0, 0);
    while i < TABLE.len() {
        if let Some(scim) = TABLE[i].kind.scim()
            && let Some((o, _)) = object_of(scim.slot)
            && o as u8 == object as u8
        {
            n += 1;
        }
        i += 1;
    }
    n
}

/// How many text attributes live in the core object (and objects under it).
pub const CORE: usize = count(Object::Core);
/// How many text attributes live in the enterprise extension.
pub const ENTERPRISE: usize = count(Object::Enterprise);
/// How many text attributes live in the profile extension.
pub const PROFILE: usize = count(Object::Profile);

/// The key (or dotted path) of each text attribute of `object`, by index.
const fn keys<const N: usize>(object: Object) -> [&'static str; N] {
    let mut keys = [""; N];
    let (mut n, mut i) = (0, 0);
    while i < TABLE.len() {
        if let Some(scim) = TABLE[i].kind.scim()
            && let Some((o, key)) = object_of(scim.slot)
            && o as u8 == object as u8
        {
            keys[n] = key;
            n += 1;
        }
        i += 1;
    }
    keys
}

const CORE_KEYS: [&str; CORE] = keys(Object::Core);

/// The object under the core each core attribute is in (`name` for `name.givenName`), if any.
const CORE_PARENTS: [Option<&str>; CORE] = {
    let mut parents = [None; CORE];
    let mut i = 0;
    while i < CORE {
        let bytes = CORE_KEYS[i].as_bytes();
        let mut k = 0;
        while k < bytes.len() {
            if bytes[k] == b'.' {
                parents[i] = Some(CORE_KEYS[i].split_at(k).0);
                break;
            }
            k += 1;
        }
        i += 1;
    }
    parents
};
const ENTERPRISE_KEYS: [&str; ENTERPRISE] = keys(Object::Enterprise);
const PROFILE_KEYS: [&str; PROFILE] = keys(Object::Profile);

/// Each attribute's [`Place`], by [`Attribute`] order (`None` for attributes that are not text).
const PLACES: [Option<Place>; TABLE.len()] = {
    let mut places = [None; TABLE.len()];
    let (mut core, mut enterprise, mut profile) = (0, 0, 0);
    let mut i = 0;
    while i < TABLE.len() {
        if let Some(scim) = TABLE[i].kind.scim() {
            places[i] = Some(match scim.slot {
                ScimSlot::Core(_) => {
                    core += 1;
                    Place::Core(core - 1)
                }
                ScimSlot::Enterprise(_) => {
                    enterprise += 1;
                    Place::Enterprise(enterprise - 1)
                }
                ScimSlot::Profile(_) => {
                    profile += 1;
                    Place::Profile(profile - 1)
                }
                ScimSlot::PrimaryPhone
                | ScimSlot::MobilePhone
                | ScimSlot::SecondaryEmail
                | ScimSlot::Role
                | ScimSlot::Photo
                | ScimSlot::Address(_) => Place::Entry,
            });
        }
        i += 1;
    }
    assert!(CORE <= 64, "seen-objects bits are a u64");
    places
};

impl Place {
    /// Where the lean decoding keeps a text attribute; `None` if it is not one.
    pub const fn of(attribute: Attribute) -> Option<Place> {
        PLACES[attribute as usize]
    }
}

/// The values of the text attributes an object holds, by index.
#[derive(Debug, Clone, PartialEq)]
pub struct LeanTexts<'a, const N: usize>(pub [Nullable<Str<'a>>; N]);

impl<const N: usize> Default for LeanTexts<'_, N> {
    fn default() -> Self {
        LeanTexts(std::array::from_fn(|_| Nullable::Missing))
    }
}

impl<'a, const N: usize> LeanTexts<'a, N> {
    /// The values of `object`'s keys, borrowed: what the lean decoding of it gives.
    fn of(object: &'a dyn ByKey, keys: &[&'static str; N]) -> Self {
        LeanTexts(std::array::from_fn(|i| {
            object.string(keys[i]).map_or(Nullable::Missing, view)
        }))
    }

    /// Reads the value of `key` (index `i`) into place, refusing a key given twice.
    fn read<A: MapAccess<'a>>(
        &mut self,
        map: &mut A,
        i: usize,
        key: &'static str,
    ) -> Result<(), A::Error> {
        if self.0[i].is_present() {
            return Err(de::Error::duplicate_field(key));
        }
        self.0[i] = map.next_value()?;
        Ok(())
    }
}

/// The enterprise extension (either dialect): its text attributes and the manager.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LeanEnterprise<'a> {
    /// The text attributes, by [`Place::Enterprise`] index.
    pub texts: LeanTexts<'a, ENTERPRISE>,
    /// `manager`.
    pub manager: Nullable<LeanManager<'a>>,
}

/// The profile extension (either dialect): its text attributes.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LeanProfile<'a> {
    /// The text attributes, by [`Place::Profile`] index.
    pub texts: LeanTexts<'a, PROFILE>,
}

/// A user as the planner reads it: the keys of [`User`] that `LiveUser` is made of.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LeanUser<'a> {
    /// `id`.
    pub id: Nullable<Str<'a>>,
    /// `userName`.
    pub user_name: Nullable<Str<'a>>,
    /// `active`.
    pub active: Nullable<Flag>,
    /// `emails`.
    pub emails: Nullable<Vec<LeanValue<'a>>>,
    /// `phoneNumbers`.
    pub phone_numbers: Nullable<Vec<LeanValue<'a>>>,
    /// `photos` (Slack keeps one).
    pub photos: Nullable<Vec<LeanValue<'a>>>,
    /// `roles` (Slack keeps one; few users have it, so it is read whole).
    pub roles: Nullable<Vec<RoleValue>>,
    /// `addresses` (Slack keeps one).
    pub addresses: Nullable<Vec<LeanAddress<'a>>>,
    /// The text attributes of the core object and the objects under it (`name.givenName`),
    /// by [`Place::Core`] index: an object under the core that is `null` makes its attributes
    /// `null`.
    pub core: LeanTexts<'a, CORE>,
    /// The v1 enterprise extension.
    pub enterprise_v1: Nullable<LeanEnterprise<'a>>,
    /// The v2 enterprise extension.
    pub enterprise_v2: Nullable<LeanEnterprise<'a>>,
    /// The v1 guest extension.
    pub guest_v1: Nullable<LeanGuest<'a>>,
    /// The v2 guest extension.
    pub guest_v2: Nullable<LeanGuest<'a>>,
    /// The v1 profile extension.
    pub profile_v1: Nullable<LeanProfile<'a>>,
    /// The v2 profile extension.
    pub profile_v2: Nullable<LeanProfile<'a>>,
}

/// Sets `field` from the map's next value, refusing a key given twice.
fn once<'de, T: Deserialize<'de>, A: MapAccess<'de>>(
    map: &mut A,
    field: &mut Nullable<T>,
    key: &'static str,
) -> Result<(), A::Error> {
    if field.is_present() {
        return Err(de::Error::duplicate_field(key));
    }
    *field = map.next_value()?;
    Ok(())
}

impl<'de> Deserialize<'de> for LeanUser<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct UserVisitor;
        impl<'de> Visitor<'de> for UserVisitor {
            type Value = LeanUser<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("struct LeanUser")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<LeanUser<'de>, A::Error> {
                let mut out = LeanUser::default();
                // Objects under the core already read, by the index of their first attribute.
                let mut objects_seen = 0u64;
                while let Some(key) = map.next_key::<Str<'de>>()? {
                    let m = &mut map;
                    match key.as_str() {
                        "id" => once(m, &mut out.id, "id")?,
                        "userName" => once(m, &mut out.user_name, "userName")?,
                        "active" => once(m, &mut out.active, "active")?,
                        "emails" => once(m, &mut out.emails, "emails")?,
                        "phoneNumbers" => once(m, &mut out.phone_numbers, "phoneNumbers")?,
                        "roles" => once(m, &mut out.roles, "roles")?,
                        "photos" => once(m, &mut out.photos, "photos")?,
                        "addresses" => once(m, &mut out.addresses, "addresses")?,
                        urn::ENTERPRISE_V1 => once(m, &mut out.enterprise_v1, urn::ENTERPRISE_V1)?,
                        urn::ENTERPRISE_V2 => once(m, &mut out.enterprise_v2, urn::ENTERPRISE_V2)?,
                        urn::GUEST_V1 => once(m, &mut out.guest_v1, urn::GUEST_V1)?,
                        urn::GUEST_V2 => once(m, &mut out.guest_v2, urn::GUEST_V2)?,
                        urn::PROFILE_V1 => once(m, &mut out.profile_v1, urn::PROFILE_V1)?,
                        urn::PROFILE_V2 => once(m, &mut out.profile_v2, urn::PROFILE_V2)?,
                        key => read_core(m, key, &mut out.core, &mut objects_seen)?,
                    }
                }
                Ok(out)
            }
        }
        d.deserialize_map(UserVisitor)
    }
}

/// A key of the user object that may be a core text attribute (`title`) or hold some
/// (`name`); anything else is skipped unread.
fn read_core<'de, A: MapAccess<'de>>(
    map: &mut A,
    key: &str,
    core: &mut LeanTexts<'de, CORE>,
    objects_seen: &mut u64,
) -> Result<(), A::Error> {
    for (i, path) in CORE_KEYS.iter().enumerate() {
        let Some(parent) = CORE_PARENTS[i] else {
            if *path == key {
                return core.read(map, i, path);
            }
            continue;
        };
        if parent == key {
            if *objects_seen & (1 << i) != 0 {
                return Err(de::Error::duplicate_field(parent));
            }
            *objects_seen |= 1 << i;
            return map.next_value_seed(Under { parent, core });
        }
    }
    map.next_value::<IgnoredAny>()?;
    Ok(())
}

/// An object under the core (`name`): its keys that are text attributes (`name.givenName`)
/// read into the core's texts; `null` makes them all `null`.
struct Under<'t, 'a> {
    /// The object's key, the first segment of its attributes' paths.
    parent: &'static str,
    core: &'t mut LeanTexts<'a, CORE>,
}

impl Under<'_, '_> {
    /// The index of the attribute at `parent.key`, if any.
    fn index(&self, key: &str) -> Option<usize> {
        CORE_KEYS.iter().position(|path| {
            path.strip_prefix(self.parent)
                .and_then(|rest| rest.strip_prefix('.'))
                == Some(key)
        })
    }
}

impl<'de> DeserializeSeed<'de> for Under<'_, 'de> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for Under<'_, 'de> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "`{}`: an object or null", self.parent)
    }
    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        for (i, parent) in CORE_PARENTS.iter().enumerate() {
            if *parent == Some(self.parent) {
                self.core.0[i] = Nullable::Null;
            }
        }
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.visit_none()
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<Str<'de>>()? {
            match self.index(key.as_str()) {
                Some(i) => self.core.read(&mut map, i, CORE_KEYS[i])?,
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

impl<'de> Deserialize<'de> for LeanEnterprise<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct EnterpriseVisitor;
        impl<'de> Visitor<'de> for EnterpriseVisitor {
            type Value = LeanEnterprise<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("struct LeanEnterprise")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = LeanEnterprise::default();
                while let Some(key) = map.next_key::<Str<'de>>()? {
                    match key.as_str() {
                        "manager" => once(&mut map, &mut out.manager, "manager")?,
                        key => match ENTERPRISE_KEYS.iter().position(|k| *k == key) {
                            Some(i) => out.texts.read(&mut map, i, ENTERPRISE_KEYS[i])?,
                            None => {
                                map.next_value::<IgnoredAny>()?;
                            }
                        },
                    }
                }
                Ok(out)
            }
        }
        d.deserialize_map(EnterpriseVisitor)
    }
}

impl<'de> Deserialize<'de> for LeanProfile<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ProfileVisitor;
        impl<'de> Visitor<'de> for ProfileVisitor {
            type Value = LeanProfile<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("struct LeanProfile")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = LeanProfile::default();
                while let Some(key) = map.next_key::<Str<'de>>()? {
                    match PROFILE_KEYS.iter().position(|k| *k == key.as_str()) {
                        Some(i) => out.texts.read(&mut map, i, PROFILE_KEYS[i])?,
                        None => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(out)
            }
        }
        d.deserialize_map(ProfileVisitor)
    }
}

impl LeanValue<'_> {
    fn of(m: &MultiValue) -> LeanValue<'_> {
        LeanValue {
            value: view(&m.value),
            primary: m.primary.clone(),
        }
    }
}

fn guest(g: &Guest) -> LeanGuest<'_> {
    LeanGuest {
        expiration: view(&g.expiration),
    }
}

/// A borrowed view of an extension of `u`, in `version`, through `f`.
fn extension<'a, T>(u: &'a User, key: &str, f: impl FnOnce(&'a dyn ByKey) -> T) -> Nullable<T> {
    match u.object(key) {
        Some(Nullable::Value(e)) => Nullable::Value(f(e)),
        Some(Nullable::Null) => Nullable::Null,
        _ => Nullable::Missing,
    }
}

fn enterprise<'a>(u: &'a User, version: Version) -> Nullable<LeanEnterprise<'a>> {
    extension(u, version.enterprise_urn(), |e| LeanEnterprise {
        texts: LeanTexts::of(e, &ENTERPRISE_KEYS),
        manager: match e.object("manager") {
            Some(Nullable::Value(m)) => Nullable::Value(LeanManager {
                manager_id: m.string("managerId").map_or(Nullable::Missing, view),
            }),
            Some(Nullable::Null) => Nullable::Null,
            _ => Nullable::Missing,
        },
    })
}

fn profile<'a>(u: &'a User, version: Version) -> Nullable<LeanProfile<'a>> {
    extension(u, version.profile_urn(), |p| LeanProfile {
        texts: LeanTexts::of(p, &PROFILE_KEYS),
    })
}

impl<'a> LeanUser<'a> {
    /// A borrowed view of a full body: what the lean decoding of the same JSON gives.
    pub fn of(u: &'a User) -> LeanUser<'a> {
        let values = |v: &'a Nullable<Vec<MultiValue>>| {
            view_with(v, |list| list.iter().map(LeanValue::of).collect())
        };
        LeanUser {
            id: view(&u.id),
            user_name: view(&u.user_name),
            active: u.active.clone(),
            emails: values(&u.emails),
            phone_numbers: values(&u.phone_numbers),
            roles: u.roles.clone(),
            photos: values(&u.photos),
            addresses: view_with(&u.addresses, |list| {
                list.iter().map(LeanAddress::of).collect()
            }),
            core: LeanTexts(std::array::from_fn(|i| {
                match u.text_at(ScimSlot::Core(CORE_KEYS[i]), Version::V2) {
                    Some(Nullable::Value(s)) => Nullable::Value(Str(Cow::Borrowed(s))),
                    Some(Nullable::Null) => Nullable::Null,
                    _ => Nullable::Missing,
                }
            })),
            enterprise_v1: enterprise(u, Version::V1),
            enterprise_v2: enterprise(u, Version::V2),
            guest_v1: view_with(&u.guest_v1, guest),
            guest_v2: view_with(&u.guest_v2, guest),
            profile_v1: profile(u, Version::V1),
            profile_v2: profile(u, Version::V2),
        }
    }

    /// The enterprise extension of whichever dialect the body used (as [`User::enterprise`]).
    pub fn enterprise(&self) -> &Nullable<LeanEnterprise<'a>> {
        if self.enterprise_v2.is_present() {
            &self.enterprise_v2
        } else {
            &self.enterprise_v1
        }
    }

    /// The guest extension of whichever dialect the body used (as [`User::guest`]).
    pub fn guest(&self) -> &Nullable<LeanGuest<'a>> {
        if self.guest_v2.is_present() {
            &self.guest_v2
        } else {
            &self.guest_v1
        }
    }

    /// The profile extension of whichever dialect the body used (as [`User::profile`]).
    pub fn profile(&self) -> &Nullable<LeanProfile<'a>> {
        if self.profile_v2.is_present() {
            &self.profile_v2
        } else {
            &self.profile_v1
        }
    }

    /// The non-blank value of a text attribute, an extension's from whichever dialect the
    /// body used; `None` for the primary phone (an entry of `phoneNumbers`, read by
    /// [`super::live`]) and for attributes that are not text.
    pub fn text(&self, attribute: Attribute) -> Option<&str> {
        match Place::of(attribute)? {
            Place::Core(i) => self.core.0[i].lean_text(),
            Place::Enterprise(i) => self.enterprise().value()?.texts.0[i].lean_text(),
            Place::Profile(i) => self.profile().value()?.texts.0[i].lean_text(),
            Place::Entry => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{LiveGroup, LiveUser};

    /// Both decodings of `json`: the lean one equals the lean view of the full one, and both
    /// give the same `LiveUser`.
    fn same(json: &str) -> LiveUser {
        let full: User = serde_json::from_str(json).unwrap();
        let lean: LeanUser<'_> = serde_json::from_str(json).unwrap();
        assert_eq!(LeanUser::of(&full), lean);
        let live = LiveUser::from_lean(&lean).unwrap();
        assert_eq!(LiveUser::from_scim(&full).unwrap(), live);
        live
    }

    #[test]
    fn placeholders_escapes_string_flags_and_both_dialects_decode_as_the_full_types_do() {
        let live = same(
            r#"{"id": "W1", "userName": "ada", "active": "True", "title": "Chief \"Q\" \u00e9",
            "displayName": null, "timezone": "", "name": {"givenName": " Ada ", "familyName": null,
            "formatted": "x"}, "emails": [{"value": "", "primary": true},
            {"value": "Ada@Example.com", "type": "work"}, {"value": "a@b.c", "primary": "false"}],
            "phoneNumbers": [{"value": "555", "type": "mobile"}, {"value": "556", "primary": "1"}],
            "meta": {"created": "2024", "location": "x"}, "photos": [{"value": "u"}],
            "urn:scim:schemas:extension:enterprise:1.0": {"department": "old"},
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":
                {"department": "R\u0026D", "manager": {"managerId": "W2", "displayName": "B"}},
            "urn:scim:schemas:extension:slack:guest:1.0": {"type": "multi", "expiration": null},
            "urn:ietf:params:scim:schemas:extension:slack:profile:2.0:User":
                {"startDate": "2024-04-10T00:00:00+0000", "other": [1, 2]}}"#,
        );
        assert!(live.active);
        assert_eq!(live.email, "Ada@Example.com");
        assert_eq!(
            live.text(crate::model::Attribute::Title),
            Some("Chief \"Q\" é")
        );
        assert_eq!(live.text(crate::model::Attribute::Department), Some("R&D"));
        assert_eq!(live.manager_id.as_deref(), Some("W2"));
        assert_eq!(live.guest, Some(None));
    }

    /// Groups: the lean decoding of Slack's own group pages (both dialects) and of a body with
    /// placeholders, escapes and duplicates equals the lean view of the full decoding, and
    /// both give the same `LiveGroup`s.
    #[test]
    fn groups_decode_lean_as_the_full_types_do() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/slack/");
        let pages = [
            "python-slack-scim/tests/fixture/v1_groups_1.json",
            "python-slack-scim/tests/fixture/v1_groups_2.json",
            "java-slack-sdk/json-logs/samples/scim/v1/Groups.json",
            "java-slack-sdk/json-logs/samples/scim/v2/Groups.json",
        ];
        let mut members = 0;
        for page in pages {
            let json = std::fs::read_to_string(format!("{dir}{page}")).unwrap();
            let full: crate::scim::types::ListResponse<Group> =
                serde_json::from_str(&json).unwrap();
            let lean: crate::scim::types::ListResponse<LeanGroup<'_>> =
                serde_json::from_str(&json).unwrap();
            let full = full.resources.into_value().unwrap();
            let lean = lean.resources.into_value().unwrap();
            assert_eq!(
                full.iter().map(LeanGroup::of).collect::<Vec<_>>(),
                lean,
                "{page}"
            );
            for (f, l) in full.iter().zip(&lean) {
                let live = LiveGroup::from_lean(l);
                assert_eq!(LiveGroup::from_scim(f), live, "{page}");
                members += live.map_or(0, |g| g.members.len());
            }
        }
        assert!(members > 0, "some page lists members");
        let odd = r#"{"id": "S1", "displayName": " Eng \u00e9 ", "schemas": ["x"],
            "members": [{"value": "W2", "display": "b"}, {"value": ""}, {"value": "W1",
            "$ref": "u"}, {"value": "W2"}, {"display": "no id"}], "meta": {"created": "x"}}"#;
        let full: Group = serde_json::from_str(odd).unwrap();
        let lean: LeanGroup<'_> = serde_json::from_str(odd).unwrap();
        assert_eq!(LeanGroup::of(&full), lean);
        let live = LiveGroup::from_lean(&lean).unwrap();
        assert_eq!(LiveGroup::from_scim(&full).unwrap(), live);
        assert_eq!(
            (live.name.as_str(), live.members.as_slice()),
            ("Eng é", &["W1".to_string(), "W2".to_string()][..])
        );
        let twice = r#"{"id": "S1", "members": [], "members": []}"#;
        assert!(serde_json::from_str::<LeanGroup<'_>>(twice).is_err());
        let bad = r#"{"id": "S1", "members": [{"value": 5}]}"#;
        assert!(serde_json::from_str::<LeanGroup<'_>>(bad).is_err());
        let no_id: LeanGroup<'_> = serde_json::from_str(r#"{"id": " ", "members": []}"#).unwrap();
        assert_eq!(LiveGroup::from_lean(&no_id), None);
    }

    #[test]
    fn unescaped_strings_are_borrowed_from_the_page() {
        let json = r#"{"id": "W1", "userName": "a\"b"}"#;
        let lean: LeanUser<'_> = serde_json::from_str(json).unwrap();
        assert!(matches!(lean.id.value().unwrap().0, Cow::Borrowed("W1")));
        assert!(matches!(lean.user_name.value().unwrap().0, Cow::Owned(_)));
    }

    #[test]
    fn a_key_the_planner_reads_is_still_checked_and_others_are_skipped_unread() {
        let twice = r#"{"id": "W1", "title": "a", "title": "b"}"#;
        assert!(serde_json::from_str::<User>(twice).is_err());
        assert!(serde_json::from_str::<LeanUser<'_>>(twice).is_err());
        let bad_type = r#"{"id": "W1", "title": 5}"#;
        assert!(serde_json::from_str::<LeanUser<'_>>(bad_type).is_err());
        let bad_read = r#"{"id": "W1", "addresses": "x"}"#;
        assert!(serde_json::from_str::<LeanUser<'_>>(bad_read).is_err());
        let bad_unread = r#"{"id": "W1", "meta": 5, "externalId": [1]}"#;
        assert!(serde_json::from_str::<User>(bad_unread).is_err());
        let lean: LeanUser<'_> = serde_json::from_str(bad_unread).unwrap();
        assert_eq!(lean.id.lean_text(), Some("W1"));
    }

    /// An object under the core is read like a key: twice is an error, `null` unsets what it
    /// holds, and a key of it no row names is skipped.
    #[test]
    fn objects_under_the_core_are_read_once_and_null_unsets_them() {
        let twice = r#"{"id": "W1", "name": {"givenName": "a"}, "name": {"familyName": "b"}}"#;
        assert!(serde_json::from_str::<User>(twice).is_err());
        let err = serde_json::from_str::<LeanUser<'_>>(twice).unwrap_err();
        assert!(err.to_string().contains("duplicate field `name`"), "{err}");
        let inner_twice = r#"{"id": "W1", "name": {"givenName": "a", "givenName": "b"}}"#;
        assert!(serde_json::from_str::<LeanUser<'_>>(inner_twice).is_err());
        let live = same(r#"{"id": "W1", "name": null, "title": "Lead"}"#);
        assert_eq!(live.text(Attribute::GivenName), None);
        let live = same(r#"{"id": "W1", "name": {"givenName": "Ada", "middleName": [1]}}"#);
        assert_eq!(live.text(Attribute::GivenName), Some("Ada"));
        let lean: LeanUser<'_> = serde_json::from_str(r#"{"id": "W1", "name": null}"#).unwrap();
        let Some(Place::Core(i)) = Place::of(Attribute::GivenName) else {
            panic!("givenName is a core attribute")
        };
        assert_eq!(lean.core.0[i], Nullable::Null);
    }

    /// Every text attribute's slot is a string the full types model, in both dialects, so
    /// [`LeanUser::of`] sees what the lean decoding reads.
    #[test]
    fn the_full_types_model_every_slot_of_the_table() {
        let user = User::default();
        for a in Attribute::TEXT {
            let slot = a.slot().unwrap();
            for version in [Version::V1, Version::V2] {
                assert_eq!(
                    user.text_at(slot, version).is_some(),
                    !matches!(
                        slot,
                        ScimSlot::PrimaryPhone
                            | ScimSlot::MobilePhone
                            | ScimSlot::SecondaryEmail
                            | ScimSlot::Role
                            | ScimSlot::Photo
                            | ScimSlot::Address(_)
                    ),
                    "{a} {version}"
                );
            }
        }
        let body: User = serde_json::from_str(
            r#"{"name": {"givenName": "Ada"}, "urn:scim:schemas:extension:enterprise:1.0": null}"#,
        )
        .unwrap();
        let given = body.text_at(ScimSlot::Core("name.givenName"), Version::V1);
        assert_eq!(given, Some(Nullable::Value(&"Ada".to_string())));
        let ent = ScimSlot::Enterprise("department");
        assert_eq!(body.text_at(ent, Version::V1), Some(Nullable::Null));
        assert_eq!(body.text_at(ent, Version::V2), Some(Nullable::Missing));
        assert_eq!(body.text_at(ScimSlot::Core("name.nope"), Version::V1), None);
    }

    #[test]
    fn a_body_without_an_id_is_no_user() {
        let lean: LeanUser<'_> = serde_json::from_str(r#"{"id": " ", "userName": "a"}"#).unwrap();
        assert_eq!(LiveUser::from_lean(&lean), None);
    }
}
