//! What a reader gets out of one source, before sources are merged: people and groups with
//! attribute values already parsed and located.

use std::borrow::Cow;

use chrono::NaiveDate;

use crate::diag::SourceLocation;

use super::issue::DirectoryProblem;
use super::{Attribute, Guest};

/// One attribute value, parsed. Text may borrow from what the reader read (a CSV row's
/// cells, handed on before the next row is read): copied once, into the user it becomes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AttrValue<'a> {
    Text(Cow<'a, str>),
    Date(NaiveDate),
    Guest(Guest),
    Bool(bool),
    /// Written blank (an empty cell, `title: ""`, `title:`): no value. Whether Slack's value
    /// is kept or cleared is the attribute's `blank:` policy, applied by the planner.
    Blank,
}

impl AttrValue<'_> {
    /// The value with borrowed text copied.
    pub(crate) fn into_owned(self) -> AttrValue<'static> {
        match self {
            AttrValue::Text(t) => AttrValue::Text(Cow::Owned(t.into_owned())),
            AttrValue::Date(d) => AttrValue::Date(d),
            AttrValue::Guest(g) => AttrValue::Guest(g),
            AttrValue::Bool(b) => AttrValue::Bool(b),
            AttrValue::Blank => AttrValue::Blank,
        }
    }

    /// How the value reads in a message.
    pub(crate) fn display(&self) -> String {
        match self {
            AttrValue::Text(t) => t.to_string(),
            AttrValue::Date(d) => d.to_string(),
            AttrValue::Guest(Guest { expiration: None }) => "guest".into(),
            AttrValue::Guest(Guest {
                expiration: Some(e),
            }) => format!("guest until {}", e.to_rfc3339()),
            AttrValue::Bool(b) => b.to_string(),
            AttrValue::Blank => "(blank)".into(),
        }
    }

    /// Whether two sources agree. Emails (and managers, which are emails) compare
    /// case-insensitively, like Slack does.
    pub(crate) fn same_as(&self, other: &AttrValue<'_>, attribute: Attribute) -> bool {
        match (self, other) {
            (AttrValue::Text(a), AttrValue::Text(b))
                if matches!(attribute, Attribute::Email | Attribute::Manager) =>
            {
                a.eq_ignore_ascii_case(b)
            }
            _ => self == other,
        }
    }
}

/// A person as one source declares them; text values may borrow from the reader's buffer.
#[derive(Debug, Clone)]
pub(crate) struct PersonRecord<'a> {
    /// The row or list item.
    pub location: SourceLocation,
    /// Set attributes (groups aside), each with where its value is.
    pub values: Vec<(Attribute, AttrValue<'a>, SourceLocation)>,
    /// Group names with where each is written.
    pub groups: Vec<(Cow<'a, str>, SourceLocation)>,
    /// Problems with this person's values found while reading (a bad date, a blank name).
    pub problems: Vec<DirectoryProblem>,
    /// Other given names of the row (every header mapped to `given_name`), kept only when
    /// managers are looked up by name.
    pub aliases: Vec<Cow<'a, str>>,
}

impl PersonRecord<'_> {
    pub(crate) fn new(location: SourceLocation) -> Self {
        PersonRecord {
            location,
            values: Vec::new(),
            groups: Vec::new(),
            problems: Vec::new(),
            aliases: Vec::new(),
        }
    }

    pub(crate) fn text(&self, attribute: Attribute) -> Option<&str> {
        self.values.iter().find_map(|(a, v, _)| match v {
            AttrValue::Text(t) if *a == attribute => Some(&**t),
            _ => None,
        })
    }

    /// The record with its borrowed text copied, to be kept past the reader's next row.
    pub(crate) fn into_owned(self) -> PersonRecord<'static> {
        PersonRecord {
            location: self.location,
            values: self
                .values
                .into_iter()
                .map(|(attribute, value, at)| (attribute, value.into_owned(), at))
                .collect(),
            groups: self
                .groups
                .into_iter()
                .map(|(name, at)| (Cow::Owned(name.into_owned()), at))
                .collect(),
            problems: self.problems,
            aliases: self
                .aliases
                .into_iter()
                .map(|a| Cow::Owned(a.into_owned()))
                .collect(),
        }
    }
}

/// A group as one source declares it.
#[derive(Debug, Clone)]
pub(crate) struct GroupRecord {
    pub name: String,
    pub location: SourceLocation,
    /// Member emails as written, with where each is written.
    pub members: Vec<(String, SourceLocation)>,
}

/// Everything one source declares.
#[derive(Debug, Clone, Default)]
pub(crate) struct SourceContent {
    /// The people kept (a reader handing each person on as it reads keeps none).
    pub people: Vec<PersonRecord<'static>>,
    /// How many people the source declares, kept or handed on.
    pub rows: usize,
    /// How many rows its row filter left out.
    pub filtered: usize,
    pub groups: Vec<GroupRecord>,
    /// Warnings about the source as a whole (e.g. a header without rows).
    pub warnings: Vec<DirectoryProblem>,
}

impl SourceContent {
    /// Counts a row read: kept (true, returned) or left out by the row filter.
    pub(crate) fn count(&mut self, kept: bool) -> bool {
        if kept {
            self.rows += 1;
        } else {
            self.filtered += 1;
        }
        kept
    }

    /// A header without rows is a warning (a source whose filter left every row out is an
    /// error instead: see the source's sanity checks).
    pub(crate) fn warn_when_no_rows(&mut self, file: &std::sync::Arc<str>) {
        if self.rows == 0 && self.filtered == 0 {
            self.warnings.push(crate::diag::Problem::warning(
                SourceLocation::file(file),
                super::issue::DirectoryIssue::NoRows,
            ));
        }
    }
}

pub(crate) use crate::model::time::{parse_day as parse_date, parse_instant as parse_expiration};

/// Parses the spellings of yes and no that HR exports use.
pub(crate) fn parse_bool(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "y" | "1" | "active" => Some(true),
        "false" | "no" | "n" | "0" | "inactive" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_expirations_and_bools() {
        assert_eq!(
            parse_date("2024-04-10"),
            NaiveDate::from_ymd_opt(2024, 4, 10)
        );
        assert_eq!(parse_date("10/04/2024"), None);
        assert_eq!(parse_date("2024-02-30"), None);
        assert_eq!(
            parse_expiration("2025-06-30").unwrap().to_rfc3339(),
            "2025-06-30T23:59:59+00:00"
        );
        assert_eq!(
            parse_expiration("2025-06-30T12:00:00+02:00")
                .unwrap()
                .to_rfc3339(),
            "2025-06-30T10:00:00+00:00"
        );
        assert_eq!(parse_expiration("soon"), None);
        assert_eq!(parse_bool(" Yes "), Some(true));
        assert_eq!(parse_bool("inactive"), Some(false));
        assert_eq!(parse_bool("maybe"), None);
    }

    #[test]
    fn emails_agree_case_insensitively() {
        let a = AttrValue::Text("Ada@Example.com".into());
        let b = AttrValue::Text("ada@example.com".into());
        assert!(a.same_as(&b, Attribute::Email));
        assert!(!a.same_as(&b, Attribute::Title));
    }
}
