//! Managers named by name or employee number (`manager: {header: Reporting To, by: name}`),
//! resolved to the email of the one person of the same source they name.
//!
//! HR exports give the manager as a name ("Brown, Joseph") or an employee number far more
//! often than as an email. A name matches a person's display name, or one of their given
//! names (every header mapped to `given_name`, fallbacks included: the manager column often
//! holds the legal name where the given name is the preferred one) with their family name,
//! written `First Last` or `Last, First`; compared case-insensitively with spaces collapsed.
//! It must match exactly one person — or, when it matches several, exactly one active one (a
//! manager is someone who works here; a leaver of the same name is no candidate). Anything
//! else is an error at the manager's cell naming the candidates, never a guess.

use std::borrow::Cow;
use std::collections::HashMap;

use crate::config::LookupBy;
use crate::diag::Problem;

use super::Attribute;
use super::issue::DirectoryIssue;
use super::record::{AttrValue, PersonRecord};

/// How many candidates an ambiguous name lists.
const CANDIDATES: usize = 5;

/// A name as compared: lower case, a comma followed by one space, runs of spaces one space.
fn normal(name: &str) -> String {
    name.replace(',', ", ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// The keys `person` is found by.
fn keys(person: &PersonRecord<'_>, by: LookupBy) -> Vec<String> {
    match by {
        LookupBy::Email => Vec::new(),
        LookupBy::EmployeeNumber => person
            .text(Attribute::EmployeeNumber)
            .map(|n| vec![n.trim().to_lowercase()])
            .unwrap_or_default(),
        LookupBy::Name => {
            let mut keys: Vec<String> = person
                .text(Attribute::DisplayName)
                .map(normal)
                .into_iter()
                .collect();
            if let Some(family) = person.text(Attribute::FamilyName) {
                let given = person.text(Attribute::GivenName).into_iter();
                for first in given.chain(person.aliases.iter().map(|a| &**a)) {
                    keys.push(normal(&format!("{first} {family}")));
                    keys.push(normal(&format!("{family}, {first}")));
                }
            }
            keys.sort_unstable();
            keys.dedup();
            keys
        }
    }
}

/// Whether the person is active (no `active` value reads as active).
fn active(person: &PersonRecord<'_>) -> bool {
    !person
        .values
        .iter()
        .any(|(a, v, _)| *a == Attribute::Active && *v == AttrValue::Bool(false))
}

/// Replaces each manager cell of `people` (all of one source) with the email of the one
/// person it names by `by`; a cell that names nobody or several people becomes an error of
/// its row, and no manager.
pub(crate) fn resolve(people: &mut [PersonRecord<'static>], by: LookupBy) {
    if by == LookupBy::Email {
        return;
    }
    let mut index: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, person) in people.iter().enumerate() {
        for key in keys(person, by) {
            index.entry(key).or_default().push(i);
        }
    }
    let mut outcomes = Vec::new();
    for (i, person) in people.iter().enumerate() {
        let Some(slot) = person
            .values
            .iter()
            .position(|(a, v, _)| *a == Attribute::Manager && matches!(v, AttrValue::Text(_)))
        else {
            continue;
        };
        let AttrValue::Text(cell) = &person.values[slot].1 else {
            continue;
        };
        let key = match by {
            LookupBy::Name => normal(cell),
            _ => cell.trim().to_lowercase(),
        };
        let found = index.get(&key).map_or(&[][..], Vec::as_slice);
        outcomes.push((i, slot, pick(people, found, cell, by)));
    }
    for (i, slot, outcome) in outcomes {
        let person = &mut people[i];
        match outcome {
            Ok(email) => person.values[slot].1 = AttrValue::Text(Cow::Owned(email)),
            Err(issue) => {
                let (_, _, at) = person.values.remove(slot);
                person.problems.push(Problem::error(at, issue));
            }
        }
    }
}

/// The email of the one person among `found` (or the one active one), or the error.
fn pick(
    people: &[PersonRecord<'static>],
    found: &[usize],
    cell: &str,
    by: LookupBy,
) -> Result<String, DirectoryIssue> {
    let email = |i: usize| people[i].text(Attribute::Email).unwrap_or("").to_string();
    match found {
        [] => Err(DirectoryIssue::ManagerNotFound {
            by: match by {
                LookupBy::Name => "name",
                _ => "employee number",
            },
            value: cell.to_string(),
        }),
        [one] => Ok(email(*one)),
        several => {
            let active: Vec<usize> = several
                .iter()
                .copied()
                .filter(|&i| active(&people[i]))
                .collect();
            if let [one] = active[..] {
                return Ok(email(one));
            }
            let candidates = several
                .iter()
                .take(CANDIDATES)
                .map(|&i| format!("{} at {}", email(i), people[i].location.file_line()))
                .collect();
            Err(DirectoryIssue::ManagerAmbiguous {
                value: cell.to_string(),
                candidates,
            })
        }
    }
}

/// What a column's values look like, for a hint when a lookup fails for many rows.
pub(crate) fn looks_like(values: &[&str]) -> Option<LookupBy> {
    let share =
        |f: &dyn Fn(&str) -> bool| values.iter().filter(|v| f(v)).count() * 2 > values.len();
    if share(&|v| v.contains('@')) {
        Some(LookupBy::Email)
    } else if share(&|v| v.chars().all(|c| c.is_ascii_digit() || c == '-') && !v.is_empty()) {
        Some(LookupBy::EmployeeNumber)
    } else if share(&|v| v.chars().any(char::is_alphabetic) && (v.contains(',') || v.contains(' ')))
    {
        Some(LookupBy::Name)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::diag::SourceLocation;

    fn person(
        line: u32,
        email: &str,
        given: &str,
        family: &str,
        manager: &str,
    ) -> PersonRecord<'static> {
        let file: Arc<str> = "hr.csv".into();
        let at = SourceLocation::new(&file, line, 1);
        let mut p = PersonRecord::new(at.clone());
        let text = |t: &str| AttrValue::Text(Cow::Owned(t.to_string()));
        p.values.push((Attribute::Email, text(email), at.clone()));
        p.values
            .push((Attribute::GivenName, text(given), at.clone()));
        p.values
            .push((Attribute::FamilyName, text(family), at.clone()));
        if !manager.is_empty() {
            p.values.push((
                Attribute::Manager,
                text(manager),
                SourceLocation::new(&file, line, 9),
            ));
        }
        p
    }

    #[test]
    fn names_resolve_to_the_one_person_and_ambiguity_names_the_candidates() {
        let mut people = vec![
            person(2, "jo@x.io", "Joseph", "Brown", ""),
            person(3, "al@x.io", "Alice", "Smith", "Brown,  Joseph"),
            person(4, "bo@x.io", "Bo", "Li", "joseph brown"),
            person(5, "s1@x.io", "Sam", "Lee", ""),
            person(6, "s2@x.io", "Sam", "Lee", ""),
            person(7, "cy@x.io", "Cy", "Ng", "Lee, Sam"),
            person(8, "dd@x.io", "Di", "Do", "Nobody, Here"),
        ];
        people[1].aliases.push("Ally".into());
        resolve(&mut people, LookupBy::Name);
        assert_eq!(people[1].text(Attribute::Manager), Some("jo@x.io"));
        assert_eq!(people[2].text(Attribute::Manager), Some("jo@x.io"));
        assert_eq!(people[5].text(Attribute::Manager), None);
        assert_eq!(
            people[5].problems[0].to_string(),
            "hr.csv:7:9: error: manager \"Lee, Sam\" matches 2 people: s1@x.io at hr.csv:5, s2@x.io at hr.csv:6; the name must be one person's (use `by: employee_number` or `by: email` when names repeat)"
        );
        assert_eq!(
            people[6].problems[0].to_string(),
            "hr.csv:8:9: error: manager \"Nobody, Here\" matches no name of this source's people"
        );
        // A leaver of the same name is no candidate.
        let (at4, at5) = (people[4].location.clone(), people[5].location.clone());
        people[4]
            .values
            .push((Attribute::Active, AttrValue::Bool(false), at4));
        people[5]
            .values
            .push((Attribute::Manager, AttrValue::Text("Sam Lee".into()), at5));
        resolve(&mut people, LookupBy::Name);
        assert_eq!(people[5].text(Attribute::Manager), Some("s1@x.io"));
    }

    #[test]
    fn the_kind_of_values_a_column_holds() {
        assert_eq!(
            looks_like(&["Brown, Joseph", "Ng, Cy"]),
            Some(LookupBy::Name)
        );
        assert_eq!(
            looks_like(&["1001", "1002"]),
            Some(LookupBy::EmployeeNumber)
        );
        assert_eq!(looks_like(&["a@x.io", "b@x.io"]), Some(LookupBy::Email));
    }
}
