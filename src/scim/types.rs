//! SCIM wire types for Slack's v1.1 and v2.0 dialects.
//!
//! Slack's bodies distinguish "absent", `null` and a value (FACTS §2.9: placeholders such as
//! `"honorificPrefix": null` appear only on some users), and real bodies carry keys no schema
//! lists (the Java SDK's samples even merge an `Errors` object into resources). So every field
//! is a [`Nullable`] and every object keeps its unknown keys in `other`: parsing and
//! re-serialising a body loses nothing, which the fixture tests check.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::model::ScimSlot;

/// Schema URNs exactly as Slack spells them (FACTS §2.1).
pub mod urn {
    /// v1 core: users and groups alike.
    pub const CORE_V1: &str = "urn:scim:schemas:core:1.0";
    /// v1 enterprise extension (employee number, department, manager, …).
    pub const ENTERPRISE_V1: &str = "urn:scim:schemas:extension:enterprise:1.0";
    /// v1 multi-channel guest extension (Slack's own).
    pub const GUEST_V1: &str = "urn:scim:schemas:extension:slack:guest:1.0";
    /// v1 profile extension: `startDate` (Slack's own).
    pub const PROFILE_V1: &str = "urn:scim:schemas:extension:slack:profile:1.0";
    /// v2 core user.
    pub const USER_V2: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
    /// v2 core group.
    pub const GROUP_V2: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
    /// v2 enterprise extension (employee number, department, manager, …).
    pub const ENTERPRISE_V2: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
    /// v2 multi-channel guest extension (Slack's own).
    pub const GUEST_V2: &str = "urn:ietf:params:scim:schemas:extension:slack:guest:2.0:User";
    /// v2 profile extension: `startDate` (Slack's own).
    pub const PROFILE_V2: &str = "urn:ietf:params:scim:schemas:extension:slack:profile:2.0:User";
    /// v2 directory extension: listed by `/ResourceTypes`, undocumented; passed through untouched.
    pub const DIRECTORY_V2: &str =
        "urn:ietf:params:scim:schemas:extension:slack:directory:2.0:User";
    /// v2 listing response.
    pub const LIST_V2: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
    /// v2 PATCH request body.
    pub const PATCH_OP_V2: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
    /// v2 error response body.
    pub const ERROR_V2: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
    /// v2 `/ServiceProviderConfig` body.
    pub const SPC_V2: &str = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
    /// v2 `/ResourceTypes` entry.
    pub const RESOURCE_TYPE_V2: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
}

/// The two SCIM dialects Slack serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Version {
    /// SCIM 1.1, served under `/scim/v1/`.
    V1,
    /// SCIM 2.0, served under `/scim/v2/`.
    V2,
}

impl Version {
    /// The URL path segment naming the dialect: `v1` or `v2` (as in `/scim/v2/Users`).
    pub fn path_segment(self) -> &'static str {
        match self {
            Version::V1 => "v1",
            Version::V2 => "v2",
        }
    }

    /// The dialect a path segment names; the inverse of [`Version::path_segment`].
    pub fn from_path_segment(s: &str) -> Option<Version> {
        match s {
            "v1" => Some(Version::V1),
            "v2" => Some(Version::V2),
            _ => None,
        }
    }

    /// The key (and `schemas` entry) of the enterprise extension in this dialect.
    pub fn enterprise_urn(self) -> &'static str {
        match self {
            Version::V1 => urn::ENTERPRISE_V1,
            Version::V2 => urn::ENTERPRISE_V2,
        }
    }

    /// The key (and `schemas` entry) of the guest extension in this dialect.
    pub fn guest_urn(self) -> &'static str {
        match self {
            Version::V1 => urn::GUEST_V1,
            Version::V2 => urn::GUEST_V2,
        }
    }

    /// The key (and `schemas` entry) of the profile extension in this dialect.
    pub fn profile_urn(self) -> &'static str {
        match self {
            Version::V1 => urn::PROFILE_V1,
            Version::V2 => urn::PROFILE_V2,
        }
    }

    /// The core user schema URN: the first `schemas` entry of a user body.
    pub fn user_urn(self) -> &'static str {
        match self {
            Version::V1 => urn::CORE_V1,
            Version::V2 => urn::USER_V2,
        }
    }

    /// The core group schema URN: the first `schemas` entry of a group body (v1 shares it
    /// with users).
    pub fn group_urn(self) -> &'static str {
        match self {
            Version::V1 => urn::CORE_V1,
            Version::V2 => urn::GROUP_V2,
        }
    }
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.path_segment())
    }
}

/// A field that may be absent, explicitly `null`, or set. Use with
/// `#[serde(default, skip_serializing_if = "Nullable::is_missing")]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Nullable<T> {
    /// The key is absent, and stays absent when written back.
    #[default]
    Missing,
    /// The key is `null` (Slack's placeholder for an unset attribute), and stays `null`.
    Null,
    /// The key has a value (which may still be `""`: see [`Nullable::text`]).
    Value(T),
}

impl<T> Nullable<T> {
    /// Whether the key is absent (the `skip_serializing_if` predicate).
    pub fn is_missing(&self) -> bool {
        matches!(self, Nullable::Missing)
    }

    /// Whether the key is there, `null` or not.
    pub fn is_present(&self) -> bool {
        !self.is_missing()
    }

    /// The value, if set (absent and `null` both give `None`).
    pub fn value(&self) -> Option<&T> {
        match self {
            Nullable::Value(v) => Some(v),
            _ => None,
        }
    }

    /// The value, if set, by value.
    pub fn into_value(self) -> Option<T> {
        match self {
            Nullable::Value(v) => Some(v),
            _ => None,
        }
    }

    /// The value, if set, to modify in place.
    pub fn as_mut(&mut self) -> Option<&mut T> {
        match self {
            Nullable::Value(v) => Some(v),
            _ => None,
        }
    }
}

impl<T> From<Option<T>> for Nullable<T> {
    /// `None` becomes an explicit `null`.
    fn from(v: Option<T>) -> Self {
        match v {
            Some(v) => Nullable::Value(v),
            None => Nullable::Null,
        }
    }
}

impl Nullable<String> {
    /// The string, if set and not blank: Slack's `""`, `null` and absence all mean "unset".
    pub fn text(&self) -> Option<&str> {
        self.value()
            .map(|s| s.as_str())
            .filter(|s| !s.trim().is_empty())
    }
}

impl<T: Serialize> Serialize for Nullable<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Nullable::Value(v) => v.serialize(s),
            _ => s.serialize_none(),
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Nullable<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Option::<T>::deserialize(d)?.into())
    }
}

/// A boolean that some clients send as a string (`"primary": "true"`, FACTS §2.3 roles).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Flag {
    /// A JSON boolean.
    Bool(bool),
    /// A string; `"true"` (any case) and `"1"` mean true.
    Text(String),
}

/// A boolean or a string, read without buffering (what `#[serde(untagged)]` would do for
/// every `active` and `primary` of a listing).
impl<'de> Deserialize<'de> for Flag {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct FlagVisitor;
        impl serde::de::Visitor<'_> for FlagVisitor {
            type Value = Flag;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a boolean or a string")
            }
            fn visit_bool<E>(self, v: bool) -> Result<Flag, E> {
                Ok(Flag::Bool(v))
            }
            fn visit_str<E>(self, v: &str) -> Result<Flag, E> {
                Ok(Flag::Text(v.to_string()))
            }
            fn visit_string<E>(self, v: String) -> Result<Flag, E> {
                Ok(Flag::Text(v))
            }
        }
        d.deserialize_any(FlagVisitor)
    }
}

impl Flag {
    /// The flag's meaning, whichever way it was sent.
    pub fn is_true(&self) -> bool {
        match self {
            Flag::Bool(b) => *b,
            Flag::Text(s) => s.eq_ignore_ascii_case("true") || s == "1",
        }
    }
}

/// What a field's type says about finding a text attribute in it: a string is one, a
/// [`scim_object!`] type may hold some by key, anything else holds none. This is what lets a
/// text attribute's row find its value in a body without a field of its own ([`User::text_at`]).
pub trait Field {
    /// The field, if its type is a string.
    fn string(v: &Nullable<Self>) -> Option<&Nullable<String>>
    where
        Self: Sized,
    {
        let _ = v;
        None
    }

    /// The field, if its type is an object whose keys can be looked up.
    fn object(v: &Nullable<Self>) -> Option<Nullable<&dyn ByKey>>
    where
        Self: Sized,
    {
        let _ = v;
        None
    }
}

impl Field for String {
    fn string(v: &Nullable<Self>) -> Option<&Nullable<String>> {
        Some(v)
    }
}

impl<T> Field for Vec<T> {}
impl Field for Flag {}
impl Field for Value {}
impl Field for bool {}
impl Field for u64 {}

/// A SCIM object's modelled keys, looked up by their name on the wire.
pub trait ByKey {
    /// The string at `key`; `None` when this type models no string there.
    fn string(&self, key: &str) -> Option<&Nullable<String>>;

    /// The object at `key`; `None` when this type models no object there.
    fn object(&self, key: &str) -> Option<Nullable<&dyn ByKey>>;
}

impl<T> Nullable<T> {
    /// The value by reference, absent and `null` kept apart.
    pub fn as_ref(&self) -> Nullable<&T> {
        match self {
            Nullable::Missing => Nullable::Missing,
            Nullable::Null => Nullable::Null,
            Nullable::Value(v) => Nullable::Value(v),
        }
    }
}

macro_rules! scim_object {
    ($(#[$meta:meta])* pub struct $name:ident { $($(#[$fmeta:meta])* $field:ident : $ty:ty = $wire:literal),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Default)]
        pub struct $name {
            $(
                $(#[$fmeta])*
                #[doc = concat!("\n\n`", $wire, "` on the wire.")]
                pub $field: Nullable<$ty>,
            )*
            /// Keys this type does not model, kept so that nothing is lost on a round trip.
            pub other: Map<String, Value>,
        }

        /// The modelled keys that are present, in declaration order, then the unmodelled ones.
        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                use serde::ser::SerializeMap;
                let mut map = s.serialize_map(None)?;
                $(
                    if self.$field.is_present() {
                        map.serialize_entry($wire, &self.$field)?;
                    }
                )*
                for (key, value) in &self.other {
                    map.serialize_entry(key, value)?;
                }
                map.end()
            }
        }

        /// Straight from the map: each modelled key into its field (twice is an error), any
        /// other into `other`, with no intermediate buffering of the object.
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct Fields;
                impl<'de> serde::de::Visitor<'de> for Fields {
                    type Value = $name;
                    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        f.write_str(concat!("struct ", stringify!($name)))
                    }
                    fn visit_map<A: serde::de::MapAccess<'de>>(
                        self,
                        mut map: A,
                    ) -> Result<$name, A::Error> {
                        let mut out = $name::default();
                        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
                            match &*key {
                                $(
                                    $wire => {
                                        if out.$field.is_present() {
                                            return Err(serde::de::Error::duplicate_field($wire));
                                        }
                                        out.$field = map.next_value()?;
                                    }
                                )*
                                _ => {
                                    let value = map.next_value()?;
                                    out.other.insert(key.into_owned(), value);
                                }
                            }
                        }
                        Ok(out)
                    }
                }
                d.deserialize_map(Fields)
            }
        }

        impl ByKey for $name {
            fn string(&self, key: &str) -> Option<&Nullable<String>> {
                match key {
                    $($wire => <$ty as Field>::string(&self.$field),)*
                    _ => None,
                }
            }

            fn object(&self, key: &str) -> Option<Nullable<&dyn ByKey>> {
                match key {
                    $($wire => <$ty as Field>::object(&self.$field),)*
                    _ => None,
                }
            }
        }

        impl Field for $name {
            fn object(v: &Nullable<Self>) -> Option<Nullable<&dyn ByKey>> {
                Some(match v {
                    Nullable::Missing => Nullable::Missing,
                    Nullable::Null => Nullable::Null,
                    Nullable::Value(o) => Nullable::Value(o as &dyn ByKey),
                })
            }
        }
    };
}

/// A map key, borrowed from the input where it can be.
struct Key<'de>(std::borrow::Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> serde::de::Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a key")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(std::borrow::Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(std::borrow::Cow::Owned(v.to_string())))
            }
            fn visit_string<E>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key(std::borrow::Cow::Owned(v)))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

scim_object! {
    /// `meta` of a resource. v1 PATCH bodies misuse `meta.attributes` to delete attributes.
    pub struct Meta {
        /// When the resource was created (RFC 3339).
        created: String = "created",
        /// The resource's own URL.
        location: String = "location",
        /// `User` or `Group`.
        resource_type: String = "resourceType",
        /// When the resource last changed (RFC 3339).
        last_modified: String = "lastModified",
        /// An entity tag, where the server sends one.
        version: String = "version",
        /// v1 PATCH only: attribute paths to remove (`name.familyName`, an extension URN, …).
        attributes: Vec<String> = "attributes",
    }
}

scim_object! {
    /// A user's `name`. Slack stores `givenName`, `familyName` and `honorificPrefix` (FACTS §2.2).
    pub struct Name {
        /// First name; Slack fills it from `displayName` when no `name` is sent.
        given_name: String = "givenName",
        /// Last name.
        family_name: String = "familyName",
        /// Stored by Slack as the "Honorific Prefix" custom profile field.
        honorific_prefix: String = "honorificPrefix",
        /// The whole name as one string, where a body carries it.
        formatted: String = "formatted",
    }
}

scim_object! {
    /// An entry of `emails`, `phoneNumbers`, `photos` or `roles`. `operation: "delete"` is v1's
    /// way of removing an entry in a PATCH.
    pub struct MultiValue {
        /// The email, phone number, photo URL or role.
        value: String = "value",
        /// A label for people, when the server gives one.
        display: String = "display",
        /// `type` on the wire: `work`, `mobile`, … Slack routes phone numbers by it.
        kind: String = "type",
        /// Whether this is the primary entry (sometimes sent as a string).
        primary: Flag = "primary",
        /// v1 PATCH only: `delete` removes this entry.
        operation: String = "operation",
    }
}

scim_object! {
    /// An entry of `addresses`. Slack stores one, without `type` or `primary`, as custom
    /// profile fields (City, Country, Zip Code, …; FACTS §2.3).
    pub struct Address {
        /// Street and number.
        street_address: String = "streetAddress",
        /// City.
        locality: String = "locality",
        /// State or province.
        region: String = "region",
        /// Postal or ZIP code.
        postal_code: String = "postalCode",
        /// Country.
        country: String = "country",
        /// The whole address as one string.
        formatted: String = "formatted",
        /// `type` on the wire (`work`, …): picks the primary on write; Slack does not store it.
        kind: String = "type",
        /// Whether this is the primary address (write only at Slack).
        primary: Flag = "primary",
        /// v1 PATCH only: `delete` removes this entry.
        operation: String = "operation",
    }
}

scim_object! {
    /// A reference to another resource: a user's group or a group's member.
    pub struct Ref {
        /// The referenced resource's Slack id (`U…`/`W…` for users, `S…` for groups).
        value: String = "value",
        /// Its name or email, for people; may be empty.
        display: String = "display",
        /// `$ref` on the wire: its URL.
        reference: String = "$ref",
        /// `type` on the wire (`User`, `Group`, `direct`, …), where sent.
        kind: String = "type",
        /// v1 PATCH only: `delete` removes this member.
        operation: String = "operation",
    }
}

scim_object! {
    /// The enterprise extension's `manager`. Slack reads and writes `managerId`; the RFC 7643
    /// keys are kept for bodies that carry them.
    pub struct Manager {
        /// Slack's key: the manager's Slack id (on write, also a primary email or userName).
        manager_id: String = "managerId",
        /// RFC 7643: the manager's name.
        display_name: String = "displayName",
        /// RFC 7643: the manager's id.
        value: String = "value",
    }
}

scim_object! {
    /// The enterprise extension; Slack stores each field as a custom profile field.
    pub struct Enterprise {
        /// "Employee ID": a stable key the planner can match accounts by.
        employee_number: String = "employeeNumber",
        /// "Cost Center".
        cost_center: String = "costCenter",
        /// "Organization".
        organization: String = "organization",
        /// "Division".
        division: String = "division",
        /// "Department".
        department: String = "department",
        /// "Manager".
        manager: Manager = "manager",
    }
}

scim_object! {
    /// Slack's multi-channel guest extension.
    pub struct Guest {
        /// `type` on the wire: `multi` (single-channel guests cannot be provisioned).
        kind: String = "type",
        /// When the guest account expires (RFC 3339); absent or `null` for never.
        expiration: String = "expiration",
        /// v1 reads only: the channels the guest may use.
        channels: Vec<Ref> = "channels",
    }
}

scim_object! {
    /// Slack's profile extension (only `startDate`).
    pub struct Profile {
        /// The first day at work (ISO 8601), shown by Slack's "Celebrations".
        start_date: String = "startDate",
    }
}

scim_object! {
    /// A v1 error body: `{"Errors":{"description":"…","code":400}}`.
    pub struct V1Error {
        /// Slack's error code, often followed by details: `username_taken (username=ada)`.
        description: String = "description",
        /// The HTTP status, as a number or a string.
        code: Value = "code",
    }
}

scim_object! {
    /// A Slack user, either dialect. Extensions sit under their version's URN.
    pub struct User {
        /// The URNs of the schemas the body uses: core first, then each extension present.
        schemas: Vec<String> = "schemas",
        /// The Slack user id (`U…`, or `W…` on Enterprise Grid); assigned by Slack.
        id: String = "id",
        /// The identity provider's id for the user.
        external_id: String = "externalId",
        /// Creation and modification times and location.
        meta: Meta = "meta",
        /// The handle: lower-cased and normalised by Slack, unique among all users (deactivated
        /// ones too).
        user_name: String = "userName",
        /// Mirrors `userName`: changing one changes the other.
        nick_name: String = "nickName",
        /// Given and family name.
        name: Name = "name",
        /// The name shown in Slack.
        display_name: String = "displayName",
        /// The user's Slack profile page: Slack answers with its own URL and ignores updates.
        profile_url: String = "profileUrl",
        /// Job title.
        title: String = "title",
        /// An IANA time zone (`Europe/Paris`); Slack's default is `America/Los_Angeles`.
        timezone: String = "timezone",
        /// False once deactivated; Slack's v1 schema types it as a string.
        active: Flag = "active",
        /// Only an initial password, only without an IdP; never returned.
        password: String = "password",
        /// At most two kept: the primary and one other.
        emails: Vec<MultiValue> = "emails",
        /// Profile photo URLs; Slack keeps one.
        photos: Vec<MultiValue> = "photos",
        /// Postal addresses; Slack keeps one.
        addresses: Vec<Address> = "addresses",
        /// Slack keeps two: the primary (`primary: true`) and a mobile (`type: mobile`).
        phone_numbers: Vec<MultiValue> = "phoneNumbers",
        /// A custom profile field.
        user_type: String = "userType",
        /// Slack keeps one role; objects or bare strings.
        roles: Vec<RoleValue> = "roles",
        /// A custom profile field.
        preferred_language: String = "preferredLanguage",
        /// A custom profile field.
        locale: String = "locale",
        /// Read only: the user's group memberships.
        groups: Vec<Ref> = "groups",
        /// The v1 enterprise extension.
        enterprise_v1: Enterprise = "urn:scim:schemas:extension:enterprise:1.0",
        /// The v2 enterprise extension.
        enterprise_v2: Enterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
        /// The v1 guest extension: present only on multi-channel guests.
        guest_v1: Guest = "urn:scim:schemas:extension:slack:guest:1.0",
        /// The v2 guest extension: present only on multi-channel guests.
        guest_v2: Guest = "urn:ietf:params:scim:schemas:extension:slack:guest:2.0:User",
        /// The v1 profile extension.
        profile_v1: Profile = "urn:scim:schemas:extension:slack:profile:1.0",
        /// The v2 profile extension.
        profile_v2: Profile = "urn:ietf:params:scim:schemas:extension:slack:profile:2.0:User",
        /// An error merged into a resource, as in the Java SDK's samples: kept, never acted on.
        errors: V1Error = "Errors",
    }
}

/// Roles come as objects or, from some clients, bare strings (FACTS §2.3).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum RoleValue {
    /// A bare string (`"Tech Lead"`).
    Text(String),
    /// An object (`{"value": "Tech Lead", "primary": true}`).
    Entry(MultiValue),
}

/// A string or an object, read without buffering the object first.
impl<'de> Deserialize<'de> for RoleValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct RoleVisitor;
        impl<'de> serde::de::Visitor<'de> for RoleVisitor {
            type Value = RoleValue;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a role: a string or an object")
            }
            fn visit_str<E>(self, v: &str) -> Result<RoleValue, E> {
                Ok(RoleValue::Text(v.to_string()))
            }
            fn visit_string<E>(self, v: String) -> Result<RoleValue, E> {
                Ok(RoleValue::Text(v))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<RoleValue, A::Error> {
                MultiValue::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(RoleValue::Entry)
            }
        }
        d.deserialize_any(RoleVisitor)
    }
}

impl RoleValue {
    /// The role's text, whichever shape carried it.
    pub fn value(&self) -> Option<&str> {
        match self {
            RoleValue::Text(s) => Some(s),
            RoleValue::Entry(e) => e.value.value().map(|s| s.as_str()),
        }
    }
}

impl User {
    /// The enterprise extension of whichever dialect the body used.
    pub fn enterprise(&self) -> &Nullable<Enterprise> {
        if self.enterprise_v2.is_present() {
            &self.enterprise_v2
        } else {
            &self.enterprise_v1
        }
    }

    /// The guest extension of whichever dialect the body used: present only on guests.
    pub fn guest(&self) -> &Nullable<Guest> {
        if self.guest_v2.is_present() {
            &self.guest_v2
        } else {
            &self.guest_v1
        }
    }

    /// The profile extension of whichever dialect the body used.
    pub fn profile(&self) -> &Nullable<Profile> {
        if self.profile_v2.is_present() {
            &self.profile_v2
        } else {
            &self.profile_v1
        }
    }

    /// Whether `active` is set and true.
    pub fn is_active(&self) -> bool {
        self.active.value().is_some_and(Flag::is_true)
    }

    /// The value at a text attribute's slot — an extension's key read in `version`'s
    /// extension — absent when the key or an object on its path is, `null` when either is
    /// `null`. `None` when this type models no string there (the phones, the secondary email and
    /// the role are entries of lists, read by [`super::live`]), which the table's tests rule
    /// out for every other row.
    pub fn text_at(&self, slot: ScimSlot, version: Version) -> Option<Nullable<&String>> {
        let (object, path) = match slot {
            ScimSlot::Core(path) => (Nullable::Value(self as &dyn ByKey), path),
            ScimSlot::Enterprise(key) => (self.object(version.enterprise_urn())?, key),
            ScimSlot::Profile(key) => (self.object(version.profile_urn())?, key),
            ScimSlot::PrimaryPhone
            | ScimSlot::MobilePhone
            | ScimSlot::SecondaryEmail
            | ScimSlot::Role
            | ScimSlot::Photo
            | ScimSlot::Address(_) => return None,
        };
        string_at(object, path)
    }
}

/// The string at a dotted `path` under `object`.
fn string_at<'a>(object: Nullable<&'a dyn ByKey>, path: &str) -> Option<Nullable<&'a String>> {
    let object = match object {
        Nullable::Value(object) => object,
        Nullable::Null => return Some(Nullable::Null),
        Nullable::Missing => return Some(Nullable::Missing),
    };
    match path.split_once('.') {
        None => object.string(path).map(Nullable::as_ref),
        Some((parent, rest)) => string_at(object.object(parent)?, rest),
    }
}

scim_object! {
    /// A Slack user group (an IdP group on Enterprise Grid).
    pub struct Group {
        /// The group schema URN.
        schemas: Vec<String> = "schemas",
        /// The Slack group id (`S…`); assigned by Slack.
        id: String = "id",
        /// The identity provider's id for the group.
        external_id: String = "externalId",
        /// The group name.
        display_name: String = "displayName",
        /// The members: user ids, with their names in `display`.
        members: Vec<Ref> = "members",
        /// Creation and modification times and location.
        meta: Meta = "meta",
        /// An error merged into a resource, as in the Java SDK's samples: kept, never acted on.
        errors: V1Error = "Errors",
    }
}

/// A page of a listing; the key is `Resources` in both dialects.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListResponse<T> {
    /// Resources matching the request across all pages (not just this one).
    #[serde(skip_serializing_if = "Nullable::is_missing")]
    pub total_results: Nullable<u64>,
    /// Resources on this page.
    #[serde(skip_serializing_if = "Nullable::is_missing")]
    pub items_per_page: Nullable<u64>,
    /// The 1-based index of this page's first resource.
    #[serde(skip_serializing_if = "Nullable::is_missing")]
    pub start_index: Nullable<u64>,
    /// v2: the ListResponse URN.
    #[serde(skip_serializing_if = "Nullable::is_missing")]
    pub schemas: Nullable<Vec<String>>,
    /// The page's resources; see [`ListResponse::resources`].
    #[serde(rename = "Resources", skip_serializing_if = "Nullable::is_missing")]
    pub resources: Nullable<Vec<T>>,
    /// An error merged into the listing, as in the Java SDK's samples: kept, never acted on.
    #[serde(rename = "Errors", skip_serializing_if = "Nullable::is_missing")]
    pub errors: Nullable<V1Error>,
    /// Keys this type does not model, kept so that nothing is lost on a round trip.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

impl<T> Default for ListResponse<T> {
    fn default() -> Self {
        ListResponse {
            total_results: Nullable::Missing,
            items_per_page: Nullable::Missing,
            start_index: Nullable::Missing,
            schemas: Nullable::Missing,
            resources: Nullable::Missing,
            errors: Nullable::Missing,
            other: Map::new(),
        }
    }
}

/// Straight from the map, as [`scim_object!`] types are: the page's resources are decoded
/// once, never buffered first (a 1000-user page is most of a listing's decoding time).
impl<'de, T: Deserialize<'de>> Deserialize<'de> for ListResponse<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Fields<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for Fields<T> {
            type Value = ListResponse<T>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("struct ListResponse")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<ListResponse<T>, A::Error> {
                fn set<'de, V: Deserialize<'de>, A: serde::de::MapAccess<'de>>(
                    map: &mut A,
                    field: &mut Nullable<V>,
                    name: &'static str,
                ) -> Result<(), A::Error> {
                    if field.is_present() {
                        return Err(serde::de::Error::duplicate_field(name));
                    }
                    *field = map.next_value()?;
                    Ok(())
                }
                let mut out = ListResponse::default();
                while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
                    match &*key {
                        "totalResults" => set(&mut map, &mut out.total_results, "totalResults")?,
                        "itemsPerPage" => set(&mut map, &mut out.items_per_page, "itemsPerPage")?,
                        "startIndex" => set(&mut map, &mut out.start_index, "startIndex")?,
                        "schemas" => set(&mut map, &mut out.schemas, "schemas")?,
                        "Resources" => set(&mut map, &mut out.resources, "Resources")?,
                        "Errors" => set(&mut map, &mut out.errors, "Errors")?,
                        _ => {
                            let value = map.next_value()?;
                            out.other.insert(key.into_owned(), value);
                        }
                    }
                }
                Ok(out)
            }
        }
        d.deserialize_map(Fields(std::marker::PhantomData))
    }
}

impl<T> ListResponse<T> {
    /// The resources of the page; a missing `Resources` key is an empty page.
    pub fn resources(&self) -> &[T] {
        self.resources.value().map(Vec::as_slice).unwrap_or(&[])
    }
}

scim_object! {
    /// An error body of either shape. v1: `Errors{description,code}`; v2: `detail` and `status`
    /// (a number at Slack, a string per RFC 7644) — and Slack answers some v2 errors in the v1
    /// shape (FACTS TL;DR 9), so both are read on both versions.
    pub struct ErrorBody {
        /// The v1 shape: `Errors{description, code}`.
        errors: V1Error = "Errors",
        /// v2: the error URN.
        schemas: Vec<String> = "schemas",
        /// v2: Slack's error code, often followed by details.
        detail: String = "detail",
        /// v2: the HTTP status, a number at Slack, a string per RFC 7644.
        status: Value = "status",
        /// v2: the RFC 7644 error keyword (`uniqueness`, `invalidValue`, …), where sent.
        scim_type: String = "scimType",
    }
}

impl ErrorBody {
    /// Slack's error code: the leading token of `description`/`detail`
    /// (`"username_taken (username=ada)"` → `username_taken`, FACTS TL;DR 10).
    pub fn code(&self) -> Option<&str> {
        self.message()
            .and_then(|m| m.split_whitespace().next())
            .filter(|c| !c.is_empty())
    }

    /// The whole description or detail.
    pub fn message(&self) -> Option<&str> {
        self.errors
            .value()
            .and_then(|e| e.description.text())
            .or_else(|| self.detail.text())
    }
}

scim_object! {
    /// One feature of a [`ServiceProviderConfig`]: whether the server supports it, and limits.
    pub struct Capability {
        /// Whether the server supports the feature.
        supported: bool = "supported",
        /// Bulk: operations per request.
        max_operations: u64 = "maxOperations",
        /// Bulk: bytes per request.
        max_payload_size: u64 = "maxPayloadSize",
        /// Filter: resources per answer.
        max_results: u64 = "maxResults",
    }
}

scim_object! {
    /// How a client authenticates, as the service provider config lists it (a bearer token at
    /// Slack).
    pub struct AuthenticationScheme {
        /// `type` on the wire (`oauthbearertoken`).
        kind: String = "type",
        /// The scheme's name.
        name: String = "name",
        /// The scheme, in words.
        description: String = "description",
        /// The specification's URL (`specUrl`, as some bodies spell it).
        spec_url: String = "specUrl",
        /// The specification's URI (`specUri`, RFC 7643).
        spec_uri: String = "specUri",
        /// Where the provider documents it.
        documentation_uri: String = "documentationUri",
        /// Whether it is the preferred scheme.
        primary: bool = "primary",
    }
}

scim_object! {
    /// `GET /ServiceProviderConfigs` (both dialects; Slack's v2 body keeps the v1 shape).
    pub struct ServiceProviderConfig {
        /// The config schema URN(s).
        schemas: Vec<String> = "schemas",
        /// Where the provider's SCIM documentation is.
        documentation_uri: String = "documentationUri",
        /// How clients authenticate.
        authentication_schemes: Vec<AuthenticationScheme> = "authenticationSchemes",
        /// PATCH support.
        patch: Capability = "patch",
        /// `/Bulk` support and its limits.
        bulk: Capability = "bulk",
        /// `filter=` support and its result limit.
        filter: Capability = "filter",
        /// Password changes.
        change_password: Capability = "changePassword",
        /// `sortBy` support.
        sort: Capability = "sort",
        /// Entity tag support.
        etag: Capability = "etag",
        /// v1: XML bodies.
        xml_data_format: Capability = "xmlDataFormat",
        /// Location and times of the config.
        meta: Meta = "meta",
    }
}

scim_object! {
    /// An extension a [`ResourceType`] allows.
    pub struct SchemaExtension {
        /// The extension's URN.
        schema: String = "schema",
        /// Whether every resource of the type must carry it (never, at Slack).
        required: bool = "required",
    }
}

scim_object! {
    /// An entry of v2 `GET /ResourceTypes`.
    pub struct ResourceType {
        /// The resource type schema URN.
        schemas: Vec<String> = "schemas",
        /// `User` or `Group`.
        id: String = "id",
        /// `User` or `Group`.
        name: String = "name",
        /// The path of its collection, relative to the base URL (`/Users`).
        endpoint: String = "endpoint",
        /// The type, in words.
        description: String = "description",
        /// Its core schema URN.
        schema: String = "schema",
        /// The extensions its resources may carry.
        schema_extensions: Vec<SchemaExtension> = "schemaExtensions",
        /// Location of the entry.
        meta: Meta = "meta",
    }
}

/// A v2 PATCH request.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct PatchOp {
    /// `[PatchOp URN]`.
    #[serde(default)]
    pub schemas: Vec<String>,
    /// The operations, applied in order (`Operations` on the wire).
    #[serde(rename = "Operations", alias = "operations", default)]
    pub operations: Vec<PatchOperation>,
}

/// One operation of a v2 PATCH. `op` is compared case-insensitively (clients send `Replace`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PatchOperation {
    /// `add`, `replace` or `remove`.
    pub op: String,
    /// The attribute the operation targets; absent, `value` is an object of attributes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The new value; absent for most `remove`s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nullable_keeps_absent_null_and_value_apart() {
        let u: User = serde_json::from_str(r#"{"title":null,"userName":"ada"}"#).unwrap();
        assert_eq!(u.title, Nullable::Null);
        assert_eq!(u.user_name, Nullable::Value("ada".into()));
        assert_eq!(u.display_name, Nullable::Missing);
        let back = serde_json::to_value(&u).unwrap();
        assert_eq!(back, serde_json::json!({"title":null,"userName":"ada"}));
    }

    #[test]
    fn unknown_keys_survive() {
        let raw = serde_json::json!({"userName":"ada","x-custom":{"a":[1,2]},
            "urn:ietf:params:scim:schemas:extension:slack:directory:2.0:User":{"k":"v"}});
        let u: User = serde_json::from_value(raw.clone()).unwrap();
        assert_eq!(serde_json::to_value(&u).unwrap(), raw);
    }

    #[test]
    fn error_code_is_the_leading_token_of_either_shape() {
        let v1: ErrorBody = serde_json::from_str(
            r#"{"Errors":{"description":"username_taken (username=ada)","code":409}}"#,
        )
        .unwrap();
        assert_eq!(v1.code(), Some("username_taken"));
        let v2: ErrorBody = serde_json::from_str(
            r#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"detail":"missing_schema_element","status":400}"#,
        )
        .unwrap();
        assert_eq!(v2.code(), Some("missing_schema_element"));
    }

    #[test]
    fn flags_accept_strings() {
        let r: RoleValue = serde_json::from_str(r#"{"value":"Lead","primary":"true"}"#).unwrap();
        match r {
            RoleValue::Entry(e) => assert!(e.primary.value().unwrap().is_true()),
            RoleValue::Text(_) => panic!("object parsed as text"),
        }
        let r: RoleValue = serde_json::from_str(r#""Lead""#).unwrap();
        assert_eq!(r.value(), Some("Lead"));
    }
}
