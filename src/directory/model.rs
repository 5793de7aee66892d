//! The desired state the planner consumes: users and groups as the sources declare them,
//! each with the place it was declared.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};

use crate::diag::SourceLocation;
pub use crate::model::Attribute;

/// A multi-channel guest (single-channel guests cannot be provisioned over SCIM).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Guest {
    /// When the guest account expires. A date without a time means the end of that day, UTC.
    pub expiration: Option<DateTime<Utc>>,
}

/// Where one attribute of a user came from (several sources may contribute to one user).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttributeOrigin {
    pub attribute: Attribute,
    pub location: SourceLocation,
}

/// A person as the directory wants them in Slack.
///
/// Emails and user names are kept as written (for display and for sending) next to their
/// comparison keys (trimmed, lower-cased): compare keys, send values. Unset optional
/// attributes are `None`; blank values in sources mean unset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredUser {
    /// A Slack user id given in the source (match key `id`).
    pub id: Option<String>,
    /// Primary email as written.
    pub email: String,
    /// Primary email, trimmed and lower-cased: the identity key.
    pub email_key: String,
    /// The userName as written, if a source gave one.
    pub user_name: Option<String>,
    /// The userName Slack will hold: the written one lower-cased, or, when none was written,
    /// derived from the email the way Slack does (FACTS TL;DR 5).
    pub user_name_key: String,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub display_name: Option<String>,
    pub title: Option<String>,
    pub phone: Option<String>,
    pub timezone: Option<String>,
    pub locale: Option<String>,
    pub preferred_language: Option<String>,
    pub user_type: Option<String>,
    pub employee_number: Option<String>,
    pub cost_center: Option<String>,
    pub organization: Option<String>,
    pub division: Option<String>,
    pub department: Option<String>,
    /// The manager's email key; the manager is a user of this directory.
    pub manager: Option<String>,
    pub start_date: Option<NaiveDate>,
    pub guest: Option<Guest>,
    /// `false` for leavers: the account is to be deactivated (never deleted).
    pub active: bool,
    /// Names of the groups this user belongs to, as written, sorted, without duplicates.
    pub groups: Vec<String>,
    /// Where the user was first declared (`people.csv:14`).
    pub location: SourceLocation,
    /// Where each set attribute came from.
    pub origins: Vec<AttributeOrigin>,
}

impl DesiredUser {
    /// Where `attribute` was set, or the user's own location if it was not.
    pub fn origin(&self, attribute: Attribute) -> &SourceLocation {
        self.origins
            .iter()
            .find(|o| o.attribute == attribute)
            .map_or(&self.location, |o| &o.location)
    }
}

/// A group as the directory wants it: a name and its members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredGroup {
    /// The display name as first written.
    pub name: String,
    /// The name trimmed and lower-cased, for matching live groups.
    pub name_key: String,
    /// Members' email keys, sorted, without duplicates; every one is a user of the directory.
    pub members: Vec<String>,
    /// Where the group was first declared (a `groups:` entry, or the first user naming it).
    pub location: SourceLocation,
}

/// A directory user left out because it broke a rule (with `invalid_users: skip`).
///
/// The planner must leave the matching Slack account alone — neither update nor deactivate
/// it — since the directory does still list this person, only wrongly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedUser {
    pub email_key: String,
    pub employee_number: Option<String>,
    pub id: Option<String>,
    pub location: SourceLocation,
}

/// The desired state: every valid user and group, sorted by their keys.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Directory {
    /// Valid users, sorted by `email_key`.
    pub users: Vec<DesiredUser>,
    /// Groups, sorted by `name_key`.
    pub groups: Vec<DesiredGroup>,
    /// Users that broke a rule and were skipped, sorted by `email_key`.
    pub skipped: Vec<SkippedUser>,
    /// The sources read, in config order, as named in messages.
    pub sources: Vec<Arc<str>>,
}

impl Directory {
    /// The user with this email key (trimmed, lower-cased).
    pub fn user_by_email(&self, email_key: &str) -> Option<&DesiredUser> {
        self.users
            .binary_search_by(|u| u.email_key.as_str().cmp(email_key))
            .ok()
            .map(|i| &self.users[i])
    }

    /// The group with this name key (trimmed, lower-cased).
    pub fn group_by_name(&self, name_key: &str) -> Option<&DesiredGroup> {
        self.groups
            .binary_search_by(|g| g.name_key.as_str().cmp(name_key))
            .ok()
            .map(|i| &self.groups[i])
    }
}
