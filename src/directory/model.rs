//! The desired state the planner consumes: users and groups as the sources declare them,
//! each with the place it was declared.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::diag::SourceLocation;
pub use crate::model::{Attribute, TextValues};

/// A multi-channel guest (single-channel guests cannot be provisioned over SCIM).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Guest {
    /// When the guest account expires. A date without a time means the end of that day, UTC.
    pub expiration: Option<DateTime<Utc>>,
}

/// Where one attribute of a user came from (several sources may contribute to one user).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttributeOrigin {
    /// The attribute.
    pub attribute: Attribute,
    /// Where its value is written.
    pub location: SourceLocation,
}

/// Where each attribute of a user came from, kept small: an attribute written on the user's
/// own line (the common case: a row's cells) is its column there, 4 bytes; one written
/// elsewhere (another source, another line) keeps its whole location. The first place given
/// for an attribute is the one kept. At 100,000 users a location per attribute came to 29 MB,
/// and a column and attribute in 8 bytes with a vector for the rest 12 MB.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origins {
    /// Attributes written on the user's own line: the attribute's row of the table
    /// ([`Attribute::ALL`]) in the top 8 bits, its column there in the low 24.
    columns: Vec<u32>,
    /// Attributes written anywhere else (or past column 16,777,215), rare.
    elsewhere: Box<[AttributeOrigin]>,
}

const _: () = assert!(
    Attribute::ALL.len() <= 256,
    "an attribute's row fits in 8 bits"
);

/// The columns a packed origin holds (24 bits).
const COLUMN_BITS: u32 = 24;

impl Origins {
    /// Room for `n` attributes written on the user's line.
    pub fn with_capacity(n: usize) -> Self {
        Origins {
            columns: Vec::with_capacity(n),
            elsewhere: Box::default(),
        }
    }

    /// An attribute and a column, unpacked.
    fn unpack(packed: u32) -> (Attribute, u32) {
        (
            Attribute::ALL[(packed >> COLUMN_BITS) as usize],
            packed & ((1 << COLUMN_BITS) - 1),
        )
    }

    /// Records where `origin.attribute` is written, for a user declared at `at`; an attribute
    /// already recorded keeps its first place.
    pub fn push(&mut self, at: &SourceLocation, origin: AttributeOrigin) {
        if self.contains(origin.attribute) {
            return;
        }
        let l = &origin.location;
        if l.line == at.line
            && l.column < 1 << COLUMN_BITS
            && (Arc::ptr_eq(&l.file, &at.file) || l.file == at.file)
        {
            let row = u32::try_from(origin.attribute as usize).expect("asserted above");
            self.columns.push(row << COLUMN_BITS | l.column);
        } else {
            let mut elsewhere = std::mem::take(&mut self.elsewhere).into_vec();
            elsewhere.push(origin);
            self.elsewhere = elsewhere.into_boxed_slice();
        }
    }

    /// Whether a place is recorded for `attribute`.
    pub fn contains(&self, attribute: Attribute) -> bool {
        self.columns
            .iter()
            .any(|&p| Origins::unpack(p).0 == attribute)
            || self.elsewhere.iter().any(|o| o.attribute == attribute)
    }

    /// Where `attribute` is written, for a user declared at `at`.
    pub fn get(&self, at: &SourceLocation, attribute: Attribute) -> Option<SourceLocation> {
        let on_line = self
            .columns
            .iter()
            .map(|&p| Origins::unpack(p))
            .find(|&(a, _)| a == attribute);
        if let Some((_, column)) = on_line {
            return Some(SourceLocation::new(&at.file, at.line, column));
        }
        self.elsewhere
            .iter()
            .find(|o| o.attribute == attribute)
            .map(|o| o.location.clone())
    }

    /// The files the recorded places are in (one per place; the user's own file for those
    /// on its line), for a user declared at `at`.
    pub fn files<'a>(&'a self, at: &'a SourceLocation) -> impl Iterator<Item = &'a str> {
        self.columns
            .iter()
            .map(|_| &*at.file)
            .chain(self.elsewhere.iter().map(|o| &*o.location.file))
    }
}

/// A person as the directory wants them in Slack.
///
/// Emails and user names are kept as written (for display and for sending) next to their
/// comparison keys (trimmed, lower-cased): compare keys, send values. Unset optional
/// attributes are `None`; an attribute written blank (and given by no source) is in
/// `blanks`, and the attribute's `blank:` policy says whether Slack's value is kept or
/// cleared.
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
    /// Text and date attributes as the sources give them (trimmed; dates as `YYYY-MM-DD`).
    pub texts: TextValues,
    /// The manager's email key; the manager is a user of this directory.
    pub manager: Option<String>,
    /// Set for a multi-channel guest.
    pub guest: Option<Guest>,
    /// `false` for leavers: the account is to be deactivated (never deleted).
    pub active: bool,
    /// Attributes written blank (an empty cell, `title: ""`) that no source gives a value:
    /// kept in Slack, or cleared where the config's `blank: clear` says so.
    pub blanks: Vec<Attribute>,
    /// Where the user was first declared (`people.csv:14`).
    pub location: SourceLocation,
    /// Where each set attribute came from.
    pub origins: Origins,
}

impl DesiredUser {
    /// The value of a text or date attribute.
    pub fn text(&self, attribute: Attribute) -> Option<&str> {
        self.texts.get(attribute)
    }

    /// The enterprise employeeNumber: a match key (DESIGN §2).
    pub fn employee_number(&self) -> Option<&str> {
        self.text(Attribute::EmployeeNumber)
    }

    /// Where `attribute` was set, or the user's own location if it was not.
    pub fn origin(&self, attribute: Attribute) -> SourceLocation {
        self.origins
            .get(&self.location, attribute)
            .unwrap_or_else(|| self.location.clone())
    }

    /// Records where an attribute was set (the first place given for it is kept).
    pub fn set_origin(&mut self, origin: AttributeOrigin) {
        self.origins.push(&self.location, origin);
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
    /// The email key, as a match key.
    pub email_key: String,
    /// The employee number, as a match key.
    pub employee_number: Option<String>,
    /// The Slack id, as a match key.
    pub id: Option<String>,
    /// The user name as written (lower-cased), as a match key; `None` when the row gave
    /// none (a name derived from a broken email is no key).
    pub user_name_key: Option<String>,
    /// Where the user is declared.
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A place on the user's own line keeps only its column, one elsewhere keeps all of it;
    /// either reads back whole, and the first place given for an attribute wins.
    #[test]
    fn origins_read_back_where_each_attribute_was_written() {
        let file: Arc<str> = Arc::from("people.csv");
        let at = SourceLocation::new(&file, 14, 1);
        let mut o = Origins::with_capacity(2);
        let place = |file: &str, line, column| AttributeOrigin {
            attribute: Attribute::Title,
            location: SourceLocation::new(&Arc::from(file), line, column),
        };
        o.push(&at, place("people.csv", 14, 20));
        o.push(&at, place("people.csv", 14, 30));
        o.push(
            &at,
            AttributeOrigin {
                attribute: Attribute::Department,
                ..place("people.csv", 15, 3)
            },
        );
        o.push(
            &at,
            AttributeOrigin {
                attribute: Attribute::Manager,
                ..place("hr.yaml", 14, 9)
            },
        );
        let read = |a| o.get(&at, a).map(|l| l.to_string());
        assert_eq!(read(Attribute::Title).as_deref(), Some("people.csv:14:20"));
        assert_eq!(
            read(Attribute::Department).as_deref(),
            Some("people.csv:15:3")
        );
        assert_eq!(read(Attribute::Manager).as_deref(), Some("hr.yaml:14:9"));
        assert_eq!(read(Attribute::GivenName), None);
        assert!(o.contains(Attribute::Manager) && !o.contains(Attribute::GivenName));
        assert_eq!(o.columns.len(), 1, "only the title is on the user's line");
        let mut files: Vec<&str> = o.files(&at).collect();
        files.sort_unstable();
        assert_eq!(files, ["hr.yaml", "people.csv", "people.csv"]);
    }

    /// Every attribute packs with its column and reads back as itself, the largest column
    /// that fits included; a column past 24 bits is kept whole, elsewhere.
    #[test]
    fn every_attribute_and_any_column_read_back() {
        let file: Arc<str> = Arc::from("people.csv");
        let at = SourceLocation::new(&file, 7, 1);
        let mut o = Origins::with_capacity(Attribute::ALL.len());
        let far = (1 << COLUMN_BITS) - 1;
        let column = |k: usize| {
            if k == 0 {
                far
            } else {
                u32::try_from(k).unwrap() + 1
            }
        };
        for (k, a) in Attribute::ALL.into_iter().enumerate() {
            let location = SourceLocation::new(&file, 7, column(k));
            o.push(
                &at,
                AttributeOrigin {
                    attribute: a,
                    location,
                },
            );
        }
        assert_eq!(o.columns.len(), Attribute::ALL.len());
        for (k, a) in Attribute::ALL.into_iter().enumerate() {
            let want = SourceLocation::new(&file, 7, column(k));
            assert_eq!(o.get(&at, a), Some(want), "{a}");
        }
        let mut wide = Origins::default();
        let location = SourceLocation::new(&file, 7, 1 << COLUMN_BITS);
        wide.push(
            &at,
            AttributeOrigin {
                attribute: Attribute::Title,
                location: location.clone(),
            },
        );
        assert!(wide.columns.is_empty());
        assert_eq!(wide.get(&at, Attribute::Title), Some(location));
    }
}
