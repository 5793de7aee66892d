//! Several sources → one list of people, joined by identity.
//!
//! A record from a later source is the same person as an earlier one when both carry the
//! same employee number, or else the same email (case-insensitively), and the employee
//! numbers do not contradict each other. Records within one source are never merged with
//! each other: two rows for one email in one file are a duplicate, reported by validation.
//!
//! When two sources give one attribute different values, that is an error naming both
//! places, unless the later source is declared `override: true`, in which case it wins.
//! Group memberships from several sources add up.

use std::borrow::Cow;

use foldhash::HashMap;

use crate::diag::{Problem, SourceLocation};
use crate::slack_rules::email_key;

use super::Attribute;
use super::issue::{DirectoryIssue, DirectoryProblem};
use super::record::{AttrValue, PersonRecord, SourceContent};

/// One person after merging: the union of their records.
#[derive(Debug, Clone)]
pub(crate) struct MergedPerson<'a> {
    /// Where the person was first declared.
    pub location: SourceLocation,
    /// The last source that contributed (index in config order).
    last_source: usize,
    pub values: Vec<(Attribute, AttrValue<'a>, SourceLocation)>,
    pub groups: Vec<(Cow<'a, str>, SourceLocation)>,
    pub problems: Vec<DirectoryProblem>,
}

impl<'a> MergedPerson<'a> {
    pub(crate) fn value(&self, attribute: Attribute) -> Option<(&AttrValue<'a>, &SourceLocation)> {
        self.values
            .iter()
            .find(|(a, ..)| *a == attribute)
            .map(|(_, v, l)| (v, l))
    }

    pub(crate) fn text(&self, attribute: Attribute) -> Option<&str> {
        match self.value(attribute) {
            Some((AttrValue::Text(t), _)) => Some(t),
            _ => None,
        }
    }

    pub(crate) fn from_record(record: PersonRecord<'a>, source: usize) -> Self {
        MergedPerson {
            location: record.location,
            last_source: source,
            values: record.values,
            groups: record.groups,
            problems: record.problems,
        }
    }

    fn absorb(&mut self, record: PersonRecord<'a>, source: usize, override_earlier: bool) {
        let email = self.text(Attribute::Email).unwrap_or_default().to_string();
        self.last_source = source;
        self.problems.extend(record.problems);
        self.groups.extend(record.groups);
        for (attribute, value, location) in record.values {
            let Some(slot) = self.values.iter_mut().find(|(a, ..)| *a == attribute) else {
                self.values.push((attribute, value, location));
                continue;
            };
            // A blank is no value: it never contradicts one, and any value fills it.
            if slot.1.same_as(&value, attribute) || value == AttrValue::Blank {
                continue;
            }
            if slot.1 == AttrValue::Blank {
                slot.1 = value;
                slot.2 = location;
                continue;
            }
            if override_earlier {
                slot.1 = value;
                slot.2 = location;
            } else {
                self.problems.push(Problem::error(
                    location,
                    DirectoryIssue::Conflict {
                        email: email.clone(),
                        attribute,
                        value: value.display(),
                        other_value: slot.1.display(),
                        other: slot.2.clone(),
                    },
                ));
            }
        }
    }
}

/// Merges the people of `sources` (in config order, each with its `override` flag).
///
/// Only a later source joins an earlier one, so the first source is never looked up and the
/// last one is never indexed: one source (the usual directory) costs no index at all.
pub(crate) fn merge_people<'a>(
    sources: Vec<(Vec<PersonRecord<'a>>, bool)>,
) -> Vec<MergedPerson<'a>> {
    let rows: usize = sources.iter().map(|(records, _)| records.len()).sum();
    let last = sources.len().saturating_sub(1);
    // Sized for the indexed rows up front: growing maps of hundreds of thousands of keys
    // rehashes every key at each doubling.
    let indexed: usize = sources[..last].iter().map(|(r, _)| r.len()).sum();
    let mut people: Vec<MergedPerson<'a>> = Vec::with_capacity(rows);
    let mut by_employee: HashMap<String, usize> =
        HashMap::with_capacity_and_hasher(indexed, Default::default());
    let mut by_email: HashMap<String, usize> =
        HashMap::with_capacity_and_hasher(indexed, Default::default());
    for (source, (records, override_earlier)) in sources.into_iter().enumerate() {
        // Whether an earlier source may hold these people, and a later one may join them.
        let (look_up, index) = (source > 0, source < last);
        for record in records {
            if !look_up && !index {
                people.push(MergedPerson::from_record(record, source));
                continue;
            }
            let employee = record.text(Attribute::EmployeeNumber).map(str::to_string);
            let email = record.text(Attribute::Email).map(email_key);
            let earlier = |i: &usize| people[*i].last_source < source;
            let target = employee
                .as_ref()
                .and_then(|e| by_employee.get(e))
                .filter(|i| earlier(i))
                .or_else(|| {
                    let i = email
                        .as_ref()
                        .filter(|e| !e.is_empty())
                        .and_then(|e| by_email.get(e))
                        .filter(|i| earlier(i))?;
                    // Same email, different employee numbers: two people (and a duplicate
                    // email that validation reports).
                    let theirs = people[*i].text(Attribute::EmployeeNumber);
                    match (theirs, &employee) {
                        (Some(a), Some(b)) if a != b => None,
                        _ => Some(i),
                    }
                })
                .copied();
            match target {
                Some(i) => {
                    people[i].absorb(record, source, override_earlier);
                    // An override may have changed the person's keys.
                    if !index {
                        continue;
                    }
                    if let Some(e) = people[i].text(Attribute::EmployeeNumber)
                        && !by_employee.contains_key(e)
                    {
                        by_employee.insert(e.to_string(), i);
                    }
                    if let Some(e) = people[i].text(Attribute::Email) {
                        by_email.entry(email_key(e)).or_insert(i);
                    }
                }
                None => {
                    let i = people.len();
                    people.push(MergedPerson::from_record(record, source));
                    if !index {
                        continue;
                    }
                    if let Some(e) = employee {
                        by_employee.entry(e).or_insert(i);
                    }
                    if let Some(e) = email {
                        by_email.entry(e).or_insert(i);
                    }
                }
            }
        }
    }
    people
}

/// Concatenates the sources' contents for merging: people per source with their override
/// flag, and every group record in order.
pub(crate) type Split = (
    Vec<(Vec<PersonRecord<'static>>, bool)>,
    Vec<super::record::GroupRecord>,
    Vec<DirectoryProblem>,
);

pub(crate) fn split(contents: Vec<(SourceContent, bool)>) -> Split {
    let mut people = Vec::new();
    let mut groups = Vec::new();
    let mut warnings = Vec::new();
    for (content, override_earlier) in contents {
        people.push((content.people, override_earlier));
        groups.extend(content.groups);
        warnings.extend(content.warnings);
    }
    (people, groups, warnings)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn rec(file: &str, line: u32, values: &[(Attribute, &str)]) -> PersonRecord<'static> {
        let file: Arc<str> = file.into();
        let mut r = PersonRecord::new(SourceLocation::new(&file, line, 1));
        for (i, (a, v)) in values.iter().enumerate() {
            r.values.push((
                *a,
                AttrValue::Text(v.to_string().into()),
                SourceLocation::new(&file, line, u32::try_from(i * 10 + 1).unwrap()),
            ));
        }
        r
    }

    #[test]
    fn joins_by_employee_number_then_email() {
        use Attribute::*;
        let yaml = vec![
            rec("d.yaml", 2, &[(Email, "ada@x.io"), (Title, "Eng")]),
            rec("d.yaml", 5, &[(Email, "bob@x.io"), (EmployeeNumber, "7")]),
        ];
        let csv = vec![
            rec("p.csv", 2, &[(Email, "ADA@x.io"), (Department, "R&D")]),
            rec("p.csv", 3, &[(Email, "robert@x.io"), (EmployeeNumber, "7")]),
        ];
        let people = merge_people(vec![(yaml, false), (csv, true)]);
        assert_eq!(people.len(), 2);
        assert_eq!(people[0].text(Department), Some("R&D"));
        assert_eq!(people[0].text(Title), Some("Eng"));
        assert_eq!(people[0].location.to_string(), "d.yaml:2:1");
        assert_eq!(
            people[0].value(Department).unwrap().1.to_string(),
            "p.csv:2:11"
        );
        // Matched by employee number; the override source renames the email.
        assert_eq!(people[1].text(Email), Some("robert@x.io"));
        assert!(people.iter().all(|p| p.problems.is_empty()));
    }

    #[test]
    fn conflicts_name_both_places_unless_overridden() {
        use Attribute::*;
        let yaml = vec![rec("d.yaml", 2, &[(Email, "ada@x.io"), (Title, "Eng")])];
        let csv = vec![rec("p.csv", 4, &[(Email, "ada@x.io"), (Title, "Boss")])];
        let people = merge_people(vec![(yaml, false), (csv, false)]);
        assert_eq!(people.len(), 1);
        assert_eq!(
            people[0].problems[0].to_string(),
            "p.csv:4:11: error: title of ada@x.io is \"Boss\" here but \"Eng\" at d.yaml:2:11; mark the later source `override: true` to let it win"
        );
        assert_eq!(people[0].text(Title), Some("Eng"));
    }

    #[test]
    fn a_blank_never_conflicts_and_any_value_fills_it() {
        use Attribute::*;
        let blank = |mut r: PersonRecord<'static>, a: Attribute| {
            let at = r.location.clone();
            r.values.push((a, AttrValue::Blank, at));
            r
        };
        let yaml = vec![blank(rec("d.yaml", 2, &[(Email, "ada@x.io")]), Title)];
        let csv = vec![blank(
            rec("p.csv", 4, &[(Email, "ada@x.io"), (Title, "Boss")]),
            Phone,
        )];
        let later = vec![blank(rec("q.csv", 3, &[(Email, "ada@x.io")]), Title)];
        let people = merge_people(vec![(yaml, false), (csv, false), (later, false)]);
        assert_eq!(people.len(), 1);
        assert!(people[0].problems.is_empty(), "{:?}", people[0].problems);
        assert_eq!(people[0].text(Title), Some("Boss"));
        assert_eq!(people[0].value(Title).unwrap().1.to_string(), "p.csv:4:11");
        assert_eq!(people[0].value(Phone).unwrap().0, &AttrValue::Blank);
    }

    #[test]
    fn same_source_duplicates_and_contradicting_employee_numbers_stay_apart() {
        use Attribute::*;
        let csv = vec![
            rec("p.csv", 2, &[(Email, "ada@x.io")]),
            rec("p.csv", 3, &[(Email, "ada@x.io")]),
        ];
        assert_eq!(merge_people(vec![(csv, false)]).len(), 2);
        let a = vec![rec(
            "a.csv",
            2,
            &[(Email, "ada@x.io"), (EmployeeNumber, "1")],
        )];
        let b = vec![rec(
            "b.csv",
            2,
            &[(Email, "ada@x.io"), (EmployeeNumber, "2")],
        )];
        assert_eq!(merge_people(vec![(a, false), (b, false)]).len(), 2);
    }
}
