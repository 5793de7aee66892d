//! A user update Slack refuses as a whole, sent again one attribute at a time.
//!
//! Slack refuses a PATCH when one value in it is invalid (FACTS TL;DR 7 for a create, where
//! the whole custom profile is dropped instead). Sent whole, one value Slack keeps refusing
//! would hold back every other value of the update, pass after pass: the profile a dropped
//! create left empty would never be repaired. So a refused update that carries several
//! attributes is sent again in its write units — the ones Slack stores whole stay together
//! (the address's parts, the two phones, which share one `phoneNumbers` list) — and only the
//! values Slack refuses are left to fail (and become stuck with Slack's code).

use std::collections::BTreeMap;

use crate::model::{Attribute, ScimSlot, UserFields};

/// The write units of an update: the account's own changes (email, user name, guest and
/// active state, names and other attributes that are no custom profile field) as one, then one
/// per custom profile field Slack stores whole, and the manager. Empty when the update is one
/// unit already, so there is nothing to split.
pub fn units(fields: &UserFields) -> Vec<UserFields> {
    let mut own = UserFields {
        email: fields.email.clone(),
        user_name: fields.user_name.clone(),
        guest: fields.guest.clone(),
        active: fields.active,
        ..UserFields::default()
    };
    let mut custom: BTreeMap<String, UserFields> = BTreeMap::new();
    for (&attribute, value) in &fields.text {
        match unit_of(attribute) {
            Some(unit) => {
                custom
                    .entry(unit)
                    .or_default()
                    .text
                    .insert(attribute, value.clone());
            }
            None => {
                own.text.insert(attribute, value.clone());
            }
        }
    }
    if fields.manager.is_some() {
        custom.insert(
            Attribute::Manager.to_string(),
            UserFields {
                manager: fields.manager.clone(),
                ..UserFields::default()
            },
        );
    }
    let mut out: Vec<UserFields> = Vec::new();
    if own != UserFields::default() {
        out.push(own);
    }
    out.extend(custom.into_values());
    if out.len() < 2 {
        out.clear();
    }
    out
}

/// The unit a custom profile attribute is written in: the `addresses` entry and the
/// `phoneNumbers` list are stored whole; any other custom field alone. None for an attribute
/// that is no custom profile field.
fn unit_of(attribute: Attribute) -> Option<String> {
    let scim = attribute.scim().filter(|s| s.custom)?;
    Some(match scim.slot {
        ScimSlot::Address(_) => "addresses".into(),
        ScimSlot::PrimaryPhone | ScimSlot::MobilePhone => "phoneNumbers".into(),
        _ => attribute.to_string(),
    })
}

/// The attributes a unit sets or clears, for a report.
pub fn names(unit: &UserFields) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    if unit.email.is_some() {
        out.push("email".into());
    }
    if unit.user_name.is_some() {
        out.push("user_name".into());
    }
    if unit.active.is_some() {
        out.push("active".into());
    }
    if unit.guest.is_some() {
        out.push("guest".into());
    }
    out.extend(unit.text.keys().map(ToString::to_string));
    if unit.manager.is_some() {
        out.push(Attribute::Manager.to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::UserRef;

    fn set(fields: &mut UserFields, a: Attribute, v: &str) {
        fields.text.insert(a, Some(v.into()));
    }

    #[test]
    fn an_update_splits_into_its_own_changes_and_each_custom_field_kept_whole() {
        let mut f = UserFields {
            active: Some(true),
            ..UserFields::default()
        };
        set(&mut f, Attribute::GivenName, "Lin");
        set(&mut f, Attribute::Title, "Lead!");
        set(&mut f, Attribute::Department, "Kitchen");
        set(&mut f, Attribute::Phone, "+1 555 0100");
        set(&mut f, Attribute::MobilePhone, "+1 555 0101");
        set(&mut f, Attribute::AddressLocality, "Paris");
        set(&mut f, Attribute::AddressCountry, "FR");
        let units = units(&f);
        let named: Vec<Vec<String>> = units.iter().map(names).collect();
        assert_eq!(
            named,
            [
                vec!["active".to_string(), "given_name".into()],
                vec!["address.country".into(), "address.locality".into()],
                vec!["department".into()],
                vec!["mobile_phone".into(), "phone".into()],
                vec!["title".into()],
            ]
        );
        // Every value is in exactly one unit.
        let total: usize = units.iter().map(|u| u.text.len()).sum();
        assert_eq!(total, f.text.len());
    }

    /// The account's own changes — email, user name, guest state, active — go together in the
    /// first unit, each as the update had it, and in no other.
    #[test]
    fn the_accounts_own_changes_stay_together_in_the_first_unit() {
        let mut f = UserFields {
            email: Some("lin@new.example".into()),
            user_name: Some("lin.w".into()),
            guest: Some(None),
            active: Some(false),
            ..UserFields::default()
        };
        set(&mut f, Attribute::Department, "Kitchen");
        let units = units(&f);
        let own = UserFields {
            text: BTreeMap::new(),
            manager: None,
            ..f.clone()
        };
        assert_eq!(units.len(), 2);
        assert_eq!(units[0], own);
        assert_eq!(names(&units[1]), ["department"]);
        assert_eq!(
            (
                &units[1].email,
                &units[1].user_name,
                &units[1].guest,
                units[1].active
            ),
            (&None, &None, &None, None)
        );
    }

    /// The manager is a unit of its own, carrying the update's manager (a clear included).
    #[test]
    fn the_manager_is_written_in_a_unit_of_its_own() {
        for manager in [Some(UserRef::Id("W2".into())), None] {
            let mut f = UserFields {
                manager: Some(manager.clone()),
                ..UserFields::default()
            };
            set(&mut f, Attribute::GivenName, "Lin");
            let units = units(&f);
            assert_eq!(units.len(), 2);
            assert_eq!(names(&units[0]), ["given_name"]);
            assert_eq!(units[0].manager, None);
            assert_eq!(names(&units[1]), ["manager"]);
            assert_eq!(units[1].manager, Some(manager));
        }
    }

    #[test]
    fn an_update_of_one_unit_is_not_split() {
        let mut f = UserFields::default();
        set(&mut f, Attribute::Title, "Lead");
        assert!(units(&f).is_empty());
        let mut f = UserFields::default();
        set(&mut f, Attribute::AddressLocality, "Paris");
        set(&mut f, Attribute::AddressCountry, "FR");
        assert!(units(&f).is_empty(), "the address is written whole");
        let mut f = UserFields::default();
        set(&mut f, Attribute::GivenName, "Lin");
        set(&mut f, Attribute::FamilyName, "Wu");
        assert!(units(&f).is_empty(), "no custom field");
    }
}
