//! A listing's users decoded lean: only the keys the planner reads (and its fingerprints
//! hash), their strings borrowed from the page wherever the JSON has no escape, every other
//! key skipped unread. [`super::live`] turns a [`LeanUser`] into a `LiveUser`, and turns a full
//! [`User`] into one through [`LeanUser::of`], so both paths share one conversion; the tests
//! prove the two decodings give equal `LiveUser`s over Slack's recorded bodies and the
//! emulator's pages.
//!
//! The full [`User`] stays the type for everything else (dumps, writes, the emulator). What
//! the lean decoding gives up: a key the planner does not read is not checked (a malformed
//! `meta` or a repeated `photos` no longer fails the listing); a key it reads is checked as
//! before (type, and twice is an error).

use std::borrow::Cow;

use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, Visitor};

use super::types::{Enterprise, Flag, Guest, MultiValue, Nullable, Profile, User};

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
    /// `name`: the parts the planner compares.
    pub struct LeanName {
        /// `givenName`.
        given_name: Str<'a> = "givenName",
        /// `familyName`.
        family_name: Str<'a> = "familyName",
    }
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
    /// The enterprise extension's `manager`.
    pub struct LeanManager {
        /// `managerId`.
        manager_id: Str<'a> = "managerId",
    }
}

lean_object! {
    /// The enterprise extension (either dialect).
    pub struct LeanEnterprise {
        /// `employeeNumber`.
        employee_number: Str<'a> = "employeeNumber",
        /// `costCenter`.
        cost_center: Str<'a> = "costCenter",
        /// `organization`.
        organization: Str<'a> = "organization",
        /// `division`.
        division: Str<'a> = "division",
        /// `department`.
        department: Str<'a> = "department",
        /// `manager`.
        manager: LeanManager<'a> = "manager",
    }
}

lean_object! {
    /// The guest extension (either dialect).
    pub struct LeanGuest {
        /// `expiration`.
        expiration: Str<'a> = "expiration",
    }
}

lean_object! {
    /// The profile extension (either dialect).
    pub struct LeanProfile {
        /// `startDate`.
        start_date: Str<'a> = "startDate",
    }
}

lean_object! {
    /// A user as the planner reads it: the keys of [`User`] that `LiveUser` is made of.
    pub struct LeanUser {
        /// `id`.
        id: Str<'a> = "id",
        /// `userName`.
        user_name: Str<'a> = "userName",
        /// `name`.
        name: LeanName<'a> = "name",
        /// `displayName`.
        display_name: Str<'a> = "displayName",
        /// `title`.
        title: Str<'a> = "title",
        /// `timezone`.
        timezone: Str<'a> = "timezone",
        /// `active`.
        active: Flag = "active",
        /// `emails`.
        emails: Vec<LeanValue<'a>> = "emails",
        /// `phoneNumbers`.
        phone_numbers: Vec<LeanValue<'a>> = "phoneNumbers",
        /// `userType`.
        user_type: Str<'a> = "userType",
        /// `preferredLanguage`.
        preferred_language: Str<'a> = "preferredLanguage",
        /// `locale`.
        locale: Str<'a> = "locale",
        /// The v1 enterprise extension.
        enterprise_v1: LeanEnterprise<'a> = "urn:scim:schemas:extension:enterprise:1.0",
        /// The v2 enterprise extension.
        enterprise_v2: LeanEnterprise<'a> = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
        /// The v1 guest extension.
        guest_v1: LeanGuest<'a> = "urn:scim:schemas:extension:slack:guest:1.0",
        /// The v2 guest extension.
        guest_v2: LeanGuest<'a> = "urn:ietf:params:scim:schemas:extension:slack:guest:2.0:User",
        /// The v1 profile extension.
        profile_v1: LeanProfile<'a> = "urn:scim:schemas:extension:slack:profile:1.0",
        /// The v2 profile extension.
        profile_v2: LeanProfile<'a> = "urn:ietf:params:scim:schemas:extension:slack:profile:2.0:User",
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

impl LeanEnterprise<'_> {
    fn of(e: &Enterprise) -> LeanEnterprise<'_> {
        LeanEnterprise {
            employee_number: view(&e.employee_number),
            cost_center: view(&e.cost_center),
            organization: view(&e.organization),
            division: view(&e.division),
            department: view(&e.department),
            manager: view_with(&e.manager, |m| LeanManager {
                manager_id: view(&m.manager_id),
            }),
        }
    }
}

fn guest(g: &Guest) -> LeanGuest<'_> {
    LeanGuest {
        expiration: view(&g.expiration),
    }
}

fn profile(p: &Profile) -> LeanProfile<'_> {
    LeanProfile {
        start_date: view(&p.start_date),
    }
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
            name: view_with(&u.name, |n| LeanName {
                given_name: view(&n.given_name),
                family_name: view(&n.family_name),
            }),
            display_name: view(&u.display_name),
            title: view(&u.title),
            timezone: view(&u.timezone),
            active: u.active.clone(),
            emails: values(&u.emails),
            phone_numbers: values(&u.phone_numbers),
            user_type: view(&u.user_type),
            preferred_language: view(&u.preferred_language),
            locale: view(&u.locale),
            enterprise_v1: view_with(&u.enterprise_v1, LeanEnterprise::of),
            enterprise_v2: view_with(&u.enterprise_v2, LeanEnterprise::of),
            guest_v1: view_with(&u.guest_v1, guest),
            guest_v2: view_with(&u.guest_v2, guest),
            profile_v1: view_with(&u.profile_v1, profile),
            profile_v2: view_with(&u.profile_v2, profile),
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::LiveUser;

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
        let bad_unread = r#"{"id": "W1", "meta": 5, "photos": "x"}"#;
        assert!(serde_json::from_str::<User>(bad_unread).is_err());
        let lean: LeanUser<'_> = serde_json::from_str(bad_unread).unwrap();
        assert_eq!(lean.id.lean_text(), Some("W1"));
    }

    #[test]
    fn a_body_without_an_id_is_no_user() {
        let lean: LeanUser<'_> = serde_json::from_str(r#"{"id": " ", "userName": "a"}"#).unwrap();
        assert_eq!(LiveUser::from_lean(&lean), None);
    }
}
