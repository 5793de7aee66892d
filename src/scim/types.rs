//! SCIM wire types for Slack's v1.1 and v2.0 dialects.
//!
//! Slack's bodies distinguish "absent", `null` and a value (FACTS §2.9: placeholders such as
//! `"honorificPrefix": null` appear only on some users), and real bodies carry keys no schema
//! lists (the Java SDK's samples even merge an `Errors` object into resources). So every field
//! is a [`Nullable`] and every object keeps its unknown keys in `other`: parsing and
//! re-serialising a body loses nothing, which the fixture tests check.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

/// Schema URNs exactly as Slack spells them (FACTS §2.1).
pub mod urn {
    pub const CORE_V1: &str = "urn:scim:schemas:core:1.0";
    pub const ENTERPRISE_V1: &str = "urn:scim:schemas:extension:enterprise:1.0";
    pub const GUEST_V1: &str = "urn:scim:schemas:extension:slack:guest:1.0";
    pub const PROFILE_V1: &str = "urn:scim:schemas:extension:slack:profile:1.0";
    pub const USER_V2: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
    pub const GROUP_V2: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
    pub const ENTERPRISE_V2: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
    pub const GUEST_V2: &str = "urn:ietf:params:scim:schemas:extension:slack:guest:2.0:User";
    pub const PROFILE_V2: &str = "urn:ietf:params:scim:schemas:extension:slack:profile:2.0:User";
    pub const DIRECTORY_V2: &str =
        "urn:ietf:params:scim:schemas:extension:slack:directory:2.0:User";
    pub const LIST_V2: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
    pub const PATCH_OP_V2: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
    pub const ERROR_V2: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
    pub const SPC_V2: &str = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
    pub const RESOURCE_TYPE_V2: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
}

/// The two SCIM dialects Slack serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Version {
    V1,
    V2,
}

impl Version {
    pub fn path_segment(self) -> &'static str {
        match self {
            Version::V1 => "v1",
            Version::V2 => "v2",
        }
    }

    pub fn from_path_segment(s: &str) -> Option<Version> {
        match s {
            "v1" => Some(Version::V1),
            "v2" => Some(Version::V2),
            _ => None,
        }
    }

    pub fn enterprise_urn(self) -> &'static str {
        match self {
            Version::V1 => urn::ENTERPRISE_V1,
            Version::V2 => urn::ENTERPRISE_V2,
        }
    }

    pub fn guest_urn(self) -> &'static str {
        match self {
            Version::V1 => urn::GUEST_V1,
            Version::V2 => urn::GUEST_V2,
        }
    }

    pub fn profile_urn(self) -> &'static str {
        match self {
            Version::V1 => urn::PROFILE_V1,
            Version::V2 => urn::PROFILE_V2,
        }
    }

    pub fn user_urn(self) -> &'static str {
        match self {
            Version::V1 => urn::CORE_V1,
            Version::V2 => urn::USER_V2,
        }
    }

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
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Nullable<T> {
    #[default]
    Missing,
    Null,
    Value(T),
}

impl<T> Nullable<T> {
    pub fn is_missing(&self) -> bool {
        matches!(self, Nullable::Missing)
    }

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

    pub fn into_value(self) -> Option<T> {
        match self {
            Nullable::Value(v) => Some(v),
            _ => None,
        }
    }

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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Flag {
    Bool(bool),
    Text(String),
}

impl Flag {
    pub fn is_true(&self) -> bool {
        match self {
            Flag::Bool(b) => *b,
            Flag::Text(s) => s.eq_ignore_ascii_case("true") || s == "1",
        }
    }
}

macro_rules! scim_object {
    ($(#[$meta:meta])* pub struct $name:ident { $($(#[$fmeta:meta])* $field:ident : $ty:ty),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
        #[serde(rename_all = "camelCase")]
        pub struct $name {
            $(
                $(#[$fmeta])*
                #[serde(default, skip_serializing_if = "Nullable::is_missing")]
                pub $field: Nullable<$ty>,
            )*
            /// Keys this type does not model, kept so that nothing is lost on a round trip.
            #[serde(flatten)]
            pub other: Map<String, Value>,
        }
    };
}

scim_object! {
    /// `meta` of a resource. v1 PATCH bodies misuse `meta.attributes` to delete attributes.
    pub struct Meta {
        created: String,
        location: String,
        resource_type: String,
        last_modified: String,
        version: String,
        attributes: Vec<String>,
    }
}

scim_object! {
    pub struct Name {
        given_name: String,
        family_name: String,
        honorific_prefix: String,
        formatted: String,
    }
}

scim_object! {
    /// An entry of `emails`, `phoneNumbers`, `photos` or `roles`. `operation: "delete"` is v1's
    /// way of removing an entry in a PATCH.
    pub struct MultiValue {
        value: String,
        display: String,
        #[serde(rename = "type")]
        kind: String,
        primary: Flag,
        operation: String,
    }
}

scim_object! {
    pub struct Address {
        street_address: String,
        locality: String,
        region: String,
        postal_code: String,
        country: String,
        formatted: String,
        #[serde(rename = "type")]
        kind: String,
        primary: Flag,
        operation: String,
    }
}

scim_object! {
    /// A reference to another resource: a user's group or a group's member.
    pub struct Ref {
        value: String,
        display: String,
        #[serde(rename = "$ref")]
        reference: String,
        #[serde(rename = "type")]
        kind: String,
        operation: String,
    }
}

scim_object! {
    pub struct Manager {
        manager_id: String,
        display_name: String,
        value: String,
    }
}

scim_object! {
    /// The enterprise extension; Slack stores each field as a custom profile field.
    pub struct Enterprise {
        employee_number: String,
        cost_center: String,
        organization: String,
        division: String,
        department: String,
        manager: Manager,
    }
}

scim_object! {
    /// Slack's multi-channel guest extension.
    pub struct Guest {
        #[serde(rename = "type")]
        kind: String,
        expiration: String,
        channels: Vec<Ref>,
    }
}

scim_object! {
    /// Slack's profile extension (only `startDate`).
    pub struct Profile {
        start_date: String,
    }
}

scim_object! {
    /// A v1 error body: `{"Errors":{"description":"…","code":400}}`.
    pub struct V1Error {
        description: String,
        code: Value,
    }
}

scim_object! {
    /// A Slack user, either dialect. Extensions sit under their version's URN.
    pub struct User {
        schemas: Vec<String>,
        id: String,
        external_id: String,
        meta: Meta,
        user_name: String,
        nick_name: String,
        name: Name,
        display_name: String,
        profile_url: String,
        title: String,
        timezone: String,
        active: Flag,
        password: String,
        emails: Vec<MultiValue>,
        photos: Vec<MultiValue>,
        addresses: Vec<Address>,
        phone_numbers: Vec<MultiValue>,
        user_type: String,
        roles: Vec<RoleValue>,
        preferred_language: String,
        locale: String,
        groups: Vec<Ref>,
        #[serde(rename = "urn:scim:schemas:extension:enterprise:1.0")]
        enterprise_v1: Enterprise,
        #[serde(rename = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User")]
        enterprise_v2: Enterprise,
        #[serde(rename = "urn:scim:schemas:extension:slack:guest:1.0")]
        guest_v1: Guest,
        #[serde(rename = "urn:ietf:params:scim:schemas:extension:slack:guest:2.0:User")]
        guest_v2: Guest,
        #[serde(rename = "urn:scim:schemas:extension:slack:profile:1.0")]
        profile_v1: Profile,
        #[serde(rename = "urn:ietf:params:scim:schemas:extension:slack:profile:2.0:User")]
        profile_v2: Profile,
        #[serde(rename = "Errors")]
        errors: V1Error,
    }
}

/// Roles come as objects or, from some clients, bare strings (FACTS §2.3).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RoleValue {
    Text(String),
    Entry(MultiValue),
}

impl RoleValue {
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

    pub fn guest(&self) -> &Nullable<Guest> {
        if self.guest_v2.is_present() {
            &self.guest_v2
        } else {
            &self.guest_v1
        }
    }

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
}

scim_object! {
    /// A Slack user group (an IdP group on Enterprise Grid).
    pub struct Group {
        schemas: Vec<String>,
        id: String,
        external_id: String,
        display_name: String,
        members: Vec<Ref>,
        meta: Meta,
        #[serde(rename = "Errors")]
        errors: V1Error,
    }
}

/// A page of a listing; the key is `Resources` in both dialects.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", bound(deserialize = "T: Deserialize<'de>"))]
pub struct ListResponse<T> {
    #[serde(default, skip_serializing_if = "Nullable::is_missing")]
    pub total_results: Nullable<u64>,
    #[serde(default, skip_serializing_if = "Nullable::is_missing")]
    pub items_per_page: Nullable<u64>,
    #[serde(default, skip_serializing_if = "Nullable::is_missing")]
    pub start_index: Nullable<u64>,
    #[serde(default, skip_serializing_if = "Nullable::is_missing")]
    pub schemas: Nullable<Vec<String>>,
    #[serde(
        rename = "Resources",
        default,
        skip_serializing_if = "Nullable::is_missing"
    )]
    pub resources: Nullable<Vec<T>>,
    #[serde(
        rename = "Errors",
        default,
        skip_serializing_if = "Nullable::is_missing"
    )]
    pub errors: Nullable<V1Error>,
    #[serde(flatten)]
    pub other: Map<String, Value>,
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
        #[serde(rename = "Errors")]
        errors: V1Error,
        schemas: Vec<String>,
        detail: String,
        status: Value,
        scim_type: String,
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
    pub struct Capability {
        supported: bool,
        max_operations: u64,
        max_payload_size: u64,
        max_results: u64,
    }
}

scim_object! {
    pub struct AuthenticationScheme {
        #[serde(rename = "type")]
        kind: String,
        name: String,
        description: String,
        spec_url: String,
        spec_uri: String,
        documentation_uri: String,
        primary: bool,
    }
}

scim_object! {
    /// `GET /ServiceProviderConfigs` (both dialects; Slack's v2 body keeps the v1 shape).
    pub struct ServiceProviderConfig {
        schemas: Vec<String>,
        documentation_uri: String,
        authentication_schemes: Vec<AuthenticationScheme>,
        patch: Capability,
        bulk: Capability,
        filter: Capability,
        change_password: Capability,
        sort: Capability,
        etag: Capability,
        xml_data_format: Capability,
        meta: Meta,
    }
}

scim_object! {
    pub struct SchemaExtension {
        schema: String,
        required: bool,
    }
}

scim_object! {
    /// An entry of v2 `GET /ResourceTypes`.
    pub struct ResourceType {
        schemas: Vec<String>,
        id: String,
        name: String,
        endpoint: String,
        description: String,
        schema: String,
        schema_extensions: Vec<SchemaExtension>,
        meta: Meta,
    }
}

/// A v2 PATCH request.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct PatchOp {
    #[serde(default)]
    pub schemas: Vec<String>,
    #[serde(rename = "Operations", alias = "operations", default)]
    pub operations: Vec<PatchOperation>,
}

/// One operation of a v2 PATCH. `op` is compared case-insensitively (clients send `Replace`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PatchOperation {
    pub op: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
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
