//! Slack's rules and the directory's own consistency, checked on the merged people before
//! anything is planned (DESIGN §3). Every problem is collected; none stops the others.
//!
//! Pure: "today" (for guest expiry) is a parameter, never read from a clock here.

use foldhash::HashMap;

use chrono::NaiveDate;

use crate::diag::{Problem, SourceLocation};
use crate::slack_rules::{
    check_display_name, check_email, check_person_name, check_user_name, email_key, into_email_key,
    slack_normalize_user_name, user_name_key,
};

use super::issue::{DirectoryIssue, DirectoryProblem};
use super::merge::MergedPerson;
use super::record::{AttrValue, GroupRecord};
use super::{
    Attribute, AttributeOrigin, DesiredGroup, DesiredUser, Origins, SkippedUser, TextValues,
};
use crate::model::{Check, Kind};

/// The outcome of validation: valid users, the invalid ones, groups, and every problem.
#[derive(Debug, Default)]
pub(crate) struct Validated {
    pub users: Vec<DesiredUser>,
    pub skipped: Vec<SkippedUser>,
    pub groups: Vec<DesiredGroup>,
    pub problems: Vec<DirectoryProblem>,
}

/// Validates merged people and group declarations.
pub(crate) fn validate(
    people: Vec<MergedPerson<'_>>,
    group_records: Vec<GroupRecord>,
    today: NaiveDate,
) -> Validated {
    let mut users = Users::new(today, people.len());
    for person in people {
        users.add(person);
    }
    users.finish(group_records)
}

/// Users built and checked one by one (each person's own values), before the checks across
/// people ([`Users::finish`]): a reader may hand each person over as soon as it is read.
pub(crate) struct Users {
    today: NaiveDate,
    users: Vec<DesiredUser>,
    /// The names of the groups each user lists, as written, sorted, without duplicates: read
    /// only to gather the groups, so not kept on the users (a vector and a name each, 7 MB at
    /// 100,000 users).
    group_names: Vec<Vec<String>>,
    /// Whether each user has an error.
    invalid: Vec<bool>,
    problems: Vec<DirectoryProblem>,
}

impl Users {
    /// Room for `capacity` people (as many as a source has lines, say: an address space
    /// reserved, not memory touched).
    pub(crate) fn new(today: NaiveDate, capacity: usize) -> Self {
        Users {
            today,
            users: Vec::with_capacity(capacity),
            group_names: Vec::with_capacity(capacity),
            invalid: Vec::with_capacity(capacity),
            problems: Vec::new(),
        }
    }

    /// Builds and checks one person.
    pub(crate) fn add(&mut self, mut person: MergedPerson<'_>) {
        let mut own = std::mem::take(&mut person.problems);
        let (user, group_names) = build_user(person, self.today, &mut own);
        self.invalid.push(own.iter().any(Problem::is_error));
        self.problems.extend(own);
        self.users.push(user);
        self.group_names.push(group_names);
    }

    /// The checks across people (unique keys, managers, groups), then sorting.
    pub(crate) fn finish(self, group_records: Vec<GroupRecord>) -> Validated {
        let Users {
            mut users,
            group_names,
            mut invalid,
            mut problems,
            ..
        } = self;
        check_unique(&users, &mut invalid, &mut problems);
        let by_email = email_index(&users);
        check_managers(&users, &by_email, &mut invalid, &mut problems);
        let groups = build_groups(
            &users,
            &group_names,
            &by_email,
            group_records,
            &mut problems,
        );
        drop(group_names);

        let mut out = Validated {
            groups,
            problems,
            ..Validated::default()
        };
        // Sort by email key through an index permutation applied in place: users are large,
        // so each is swapped into place once rather than shuffled by the sort.
        // The keys are gathered first, so the sort does not reach into each user for them.
        let mut keys: Vec<(&str, usize)> = users
            .iter()
            .enumerate()
            .map(|(i, u)| (u.email_key.as_str(), i))
            .collect();
        keys.sort_unstable();
        let order: Vec<usize> = keys.into_iter().map(|(_, i)| i).collect();
        permute(&mut users, &mut invalid, order);
        for (user, _) in users.iter().zip(&invalid).filter(|(_, bad)| **bad) {
            out.skipped.push(SkippedUser {
                email_key: user.email_key.clone(),
                employee_number: user.employee_number().map(str::to_string),
                id: user.id.clone(),
                user_name_key: user.user_name.as_ref().map(|_| user.user_name_key.clone()),
                location: user.location.clone(),
            });
        }
        let mut flags = invalid.iter();
        users.retain(|_| !flags.next().copied().unwrap_or(false));
        out.users = users;
        out
    }
}

/// Reorders `users` (and their flags) so that position `k` holds what was at `order[k]`,
/// following each cycle of the permutation with swaps.
fn permute(users: &mut [DesiredUser], flags: &mut [bool], mut order: Vec<usize>) {
    for start in 0..order.len() {
        let mut k = start;
        while order[k] != start {
            let next = order[k];
            users.swap(k, next);
            flags.swap(k, next);
            order[k] = k;
            k = next;
        }
        order[k] = k;
    }
}

/// Builds a person's [`DesiredUser`] (moving their values, not copying them) and checks
/// their own values; returns it with the names of the groups they list (sorted, without
/// duplicates).
fn build_user(
    person: MergedPerson<'_>,
    today: NaiveDate,
    problems: &mut Vec<DirectoryProblem>,
) -> (DesiredUser, Vec<String>) {
    let mut user = DesiredUser {
        id: None,
        email: String::new(),
        email_key: String::new(),
        user_name: None,
        user_name_key: String::new(),
        texts: TextValues::default(),
        manager: None,
        guest: None,
        active: true,
        blanks: Vec::new(),
        location: person.location,
        origins: Origins::with_capacity(person.values.len() + 1),
    };
    // Every text and date value in one allocation.
    let (values, bytes) = person
        .values
        .iter()
        .filter_map(|(attribute, value, _)| match (attribute.kind(), value) {
            (Kind::Text(_), AttrValue::Text(t)) => Some(t.len()),
            (Kind::Date(_), AttrValue::Date(_)) => Some("YYYY-MM-DD".len()),
            _ => None,
        })
        .fold((0, 0), |(n, sum), len| (n + 1, sum + len));
    user.texts.reserve(values, bytes);
    for (attribute, value, location) in person.values {
        user.set_origin(AttributeOrigin {
            attribute,
            location,
        });
        match (attribute.kind(), value) {
            (Kind::Text(_), AttrValue::Text(t)) => user.texts.set(attribute, Some(t)),
            (Kind::Date(_), AttrValue::Date(d)) => user.texts.set(attribute, Some(d.to_string())),
            (Kind::Key, AttrValue::Text(t)) => match attribute {
                Attribute::Id => user.id = Some(t.into_owned()),
                Attribute::UserName => user.user_name = Some(t.into_owned()),
                _ => user.email = t.into_owned(),
            },
            (Kind::Manager, AttrValue::Text(t)) => user.manager = Some(t.into_owned()),
            (Kind::Guest, AttrValue::Guest(g)) => user.guest = Some(g),
            (Kind::Active, AttrValue::Bool(b)) => user.active = b,
            (_, AttrValue::Blank) => user.blanks.push(attribute),
            // Readers give each kind its own value; groups come separately.
            _ => {}
        }
    }
    if let Some((_, location)) = person.groups.first() {
        let location = location.clone();
        user.set_origin(AttributeOrigin {
            attribute: Attribute::Groups,
            location,
        });
    }
    // The names are gathered into a vector of their own size: collected from the reader's
    // (larger) pairs in place, a user's one or two names kept all of its room — 19 MB at
    // 100,000 users.
    let group_names = if person.groups.len() < 2 {
        // One group (or none) is sorted and unique as it is.
        let mut names = Vec::with_capacity(person.groups.len());
        names.extend(person.groups.into_iter().map(|(name, _)| name.into_owned()));
        names
    } else {
        let mut group_keys: Vec<(String, String)> = person
            .groups
            .into_iter()
            .map(|(name, _)| (group_key(&name), name.into_owned()))
            .collect();
        group_keys.sort();
        group_keys.dedup_by(|a, b| a.0 == b.0);
        let mut names = Vec::with_capacity(group_keys.len());
        names.extend(group_keys.into_iter().map(|(_, name)| name));
        names
    };
    user.email_key = email_key(&user.email);
    user.manager = user.manager.map(into_email_key);
    user.user_name_key = check_user(&user, today, problems);
    keep_user_names(&mut user, problems);
    (user, group_names)
}

/// Text values that are the user name under another SCIM name ([`Check::UserName`]): each
/// must be the user name Slack will hold for the person, and is kept as Slack spells it (so
/// it compares equal to what Slack answers). A value breaking the user name's rules is
/// reported by [`check_user`].
fn keep_user_names(user: &mut DesiredUser, problems: &mut Vec<DirectoryProblem>) {
    for attribute in Attribute::TEXT {
        if attribute.spec().check != Check::UserName {
            continue;
        }
        let Some(Ok(key)) = user.text(attribute).map(check_user_name) else {
            continue;
        };
        if key == user.user_name_key || user.user_name_key.is_empty() {
            user.texts.set(attribute, Some(key));
        } else {
            problems.push(Problem::error(
                user.origin(attribute),
                DirectoryIssue::NotTheUserName {
                    attribute,
                    value: user.text(attribute).unwrap_or_default().to_string(),
                    user_name: user.user_name_key.clone(),
                },
            ));
        }
    }
}

/// Checks a user's own values against Slack's rules; returns the userName Slack will hold.
fn check_user(
    user: &DesiredUser,
    today: NaiveDate,
    problems: &mut Vec<DirectoryProblem>,
) -> String {
    let at = |attribute: Attribute| user.origin(attribute);
    if user.email.is_empty() {
        problems.push(Problem::error(
            at(Attribute::Email),
            DirectoryIssue::MissingEmail,
        ));
    } else if check_email(&user.email).is_err() {
        problems.push(Problem::error(
            at(Attribute::Email),
            DirectoryIssue::InvalidEmail {
                email: user.email.clone(),
            },
        ));
    }
    if let Some(id) = &user.id
        && !is_slack_user_id(id)
    {
        problems.push(Problem::error(
            at(Attribute::Id),
            DirectoryIssue::InvalidId { id: id.clone() },
        ));
    }
    let user_name_key = match &user.user_name {
        Some(name) => match check_user_name(name) {
            Ok(key) => key,
            Err(violation) => {
                problems.push(Problem::error(
                    at(Attribute::UserName),
                    DirectoryIssue::InvalidUserName {
                        user_name: name.clone(),
                        violation,
                    },
                ));
                user_name_key(name)
            }
        },
        None if user.email.is_empty() => String::new(),
        None => match slack_normalize_user_name(&user.email) {
            Ok(key) => key,
            Err(violation) => {
                problems.push(Problem::error(
                    at(Attribute::Email),
                    DirectoryIssue::DerivedUserNameInvalid {
                        email: user.email.clone(),
                        violation,
                    },
                ));
                String::new()
            }
        },
    };
    // Each text value against what its row says Slack requires of it.
    for (attribute, value) in user.texts.iter() {
        let issue = match attribute.spec().check {
            Check::DisplayName => check_display_name(value)
                .err()
                .map(|violation| DirectoryIssue::InvalidDisplayName { violation }),
            Check::PersonName | Check::UserName => {
                let checked = match attribute.spec().check {
                    Check::PersonName => check_person_name(Some(value), None),
                    _ => check_user_name(value).map(drop),
                };
                checked.err().map(|violation| DirectoryIssue::InvalidName {
                    attribute,
                    violation,
                })
            }
            Check::PhotoUrl => {
                (!Check::is_photo_url(value)).then(|| DirectoryIssue::InvalidValue {
                    attribute,
                    value: value.to_string(),
                    expected: "a public URL (https://…) or a data: URL",
                })
            }
            Check::Free => None,
        };
        if let Some(issue) = issue {
            problems.push(Problem::error(at(attribute), issue));
        }
    }
    match user.guest.as_ref().map(|g| g.expiration) {
        Some(None) => problems.push(Problem::warning(
            at(Attribute::Guest),
            DirectoryIssue::GuestWithoutExpiry {
                email: user.email.clone(),
            },
        )),
        Some(Some(expiration)) if expiration.date_naive() < today => {
            problems.push(Problem::warning(
                at(Attribute::Guest),
                DirectoryIssue::GuestExpired {
                    email: user.email.clone(),
                    expiration: expiration.date_naive().to_string(),
                },
            ))
        }
        _ => {}
    }
    user_name_key
}

fn is_slack_user_id(id: &str) -> bool {
    let mut chars = id.chars();
    matches!(chars.next(), Some('U' | 'W'))
        && id.len() >= 3
        && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

/// The key Slack compares group names by.
fn group_key(name: &str) -> String {
    let name = name.trim();
    if name.is_ascii() {
        name.to_ascii_lowercase()
    } else {
        name.to_lowercase()
    }
}

/// Emails, userNames, employee numbers and Slack ids each belong to one person only.
/// Both people of a duplicate are invalid: which one is right cannot be guessed.
fn check_unique(users: &[DesiredUser], invalid: &mut [bool], problems: &mut Vec<DirectoryProblem>) {
    let mut emails: HashMap<&str, usize> =
        HashMap::with_capacity_and_hasher(users.len(), Default::default());
    let mut user_names: HashMap<&str, usize> =
        HashMap::with_capacity_and_hasher(users.len(), Default::default());
    let mut employees: HashMap<&str, usize> =
        HashMap::with_capacity_and_hasher(users.len(), Default::default());
    let mut ids: HashMap<&str, usize> = HashMap::default();
    for (i, user) in users.iter().enumerate() {
        if !user.email_key.is_empty() {
            if let Some(&first) = emails.get(user.email_key.as_str()) {
                problems.push(Problem::error(
                    user.origin(Attribute::Email),
                    DirectoryIssue::DuplicateEmail {
                        email: user.email.clone(),
                        first: users[first].origin(Attribute::Email),
                    },
                ));
                invalid[i] = true;
                invalid[first] = true;
                // A duplicate email implies the same derived userName: say it once.
                continue;
            }
            emails.insert(&user.email_key, i);
        }
        if !user.user_name_key.is_empty() {
            let at = |u: &DesiredUser| {
                let attribute = if u.user_name.is_some() {
                    Attribute::UserName
                } else {
                    Attribute::Email
                };
                u.origin(attribute)
            };
            if let Some(&first) = user_names.get(user.user_name_key.as_str()) {
                problems.push(Problem::error(
                    at(user),
                    DirectoryIssue::DuplicateUserName {
                        user_name: user.user_name_key.clone(),
                        first: at(&users[first]),
                    },
                ));
                invalid[i] = true;
                invalid[first] = true;
            } else {
                user_names.insert(&user.user_name_key, i);
            }
        }
        for (attribute, value, index) in [
            (
                Attribute::EmployeeNumber,
                user.employee_number(),
                &mut employees,
            ),
            (Attribute::Id, user.id.as_deref(), &mut ids),
        ] {
            let Some(value) = value else { continue };
            if let Some(&first) = index.get(value) {
                problems.push(Problem::error(
                    user.origin(attribute),
                    DirectoryIssue::DuplicateKey {
                        attribute,
                        value: value.to_string(),
                        first: users[first].origin(attribute),
                    },
                ));
                invalid[i] = true;
                invalid[first] = true;
            } else {
                index.insert(value, i);
            }
        }
    }
}

/// Email key → index of the first user with it.
fn email_index(users: &[DesiredUser]) -> HashMap<&str, usize> {
    let mut index = HashMap::with_capacity_and_hasher(users.len(), Default::default());
    for (i, user) in users.iter().enumerate() {
        if !user.email_key.is_empty() {
            index.entry(user.email_key.as_str()).or_insert(i);
        }
    }
    index
}

/// Managers must be people of the directory, and not form a cycle.
fn check_managers(
    users: &[DesiredUser],
    by_email: &HashMap<&str, usize>,
    invalid: &mut [bool],
    problems: &mut Vec<DirectoryProblem>,
) {
    let mut next: Vec<Option<usize>> = vec![None; users.len()];
    for (i, user) in users.iter().enumerate() {
        let Some(manager) = &user.manager else {
            continue;
        };
        match by_email.get(manager.as_str()) {
            Some(&m) => next[i] = Some(m),
            None => {
                problems.push(Problem::error(
                    user.origin(Attribute::Manager),
                    DirectoryIssue::UnknownManager {
                        manager: manager.clone(),
                    },
                ));
                invalid[i] = true;
            }
        }
    }
    // Each person has at most one manager, so following managers from any person either
    // ends or enters exactly one cycle.
    const NEW: u8 = 0;
    const ON_PATH: u8 = 1;
    const DONE: u8 = 2;
    let mut state = vec![NEW; users.len()];
    let mut path = Vec::new(); // one buffer for every walk
    for start in 0..users.len() {
        let mut at = Some(start);
        while let Some(i) = at {
            match state[i] {
                DONE => break,
                ON_PATH => {
                    let from = path.iter().position(|&p| p == i).expect("on the path");
                    report_cycle(users, &path[from..], invalid, problems);
                    break;
                }
                _ => {
                    state[i] = ON_PATH;
                    path.push(i);
                    at = next[i];
                }
            }
        }
        for i in path.drain(..) {
            state[i] = DONE;
        }
    }
}

fn report_cycle(
    users: &[DesiredUser],
    cycle: &[usize],
    invalid: &mut [bool],
    problems: &mut Vec<DirectoryProblem>,
) {
    // Start the cycle at its smallest email so the message is deterministic.
    let first = (0..cycle.len())
        .min_by_key(|&k| &users[cycle[k]].email_key)
        .unwrap_or(0);
    let mut emails: Vec<String> = (0..cycle.len())
        .map(|k| users[cycle[(first + k) % cycle.len()]].email.clone())
        .collect();
    emails.push(emails[0].clone());
    let head = &users[cycle[first]];
    problems.push(Problem::error(
        head.origin(Attribute::Manager),
        DirectoryIssue::ManagerCycle { cycle: emails },
    ));
    for &i in cycle {
        invalid[i] = true;
    }
}

/// Groups from `groups:` declarations and from users' own lists. Members must be people of
/// the directory (invalid people included, so skipping someone never removes them from a
/// group); leavers cannot be members and are left out, silently: an HR export keeps its
/// terminated rows, group column and all, and a warning per leaver on every pass buried the
/// real problems (issue 23).
fn build_groups(
    users: &[DesiredUser],
    group_names: &[Vec<String>],
    by_email: &HashMap<&str, usize>,
    records: Vec<GroupRecord>,
    problems: &mut Vec<DirectoryProblem>,
) -> Vec<DesiredGroup> {
    let mut drafts: Vec<Draft> = Vec::new();
    let mut by_key: HashMap<String, usize> = HashMap::default();
    // Names as written → draft, so the common case (many people, few group names) costs
    // one lookup and no allocation.
    let mut by_name: HashMap<String, usize> = HashMap::default();
    let mut draft_for = |drafts: &mut Vec<Draft>, name: &str, location: &SourceLocation| {
        if let Some(&d) = by_name.get(name) {
            return d;
        }
        let key = group_key(name);
        let d = match by_key.get(&key) {
            Some(&d) => d,
            None => {
                drafts.push(Draft {
                    name: name.to_string(),
                    name_key: key.clone(),
                    location: location.clone(),
                    members: Vec::new(),
                });
                by_key.insert(key, drafts.len() - 1);
                drafts.len() - 1
            }
        };
        by_name.insert(name.to_string(), d);
        d
    };
    let mut declared: HashMap<String, SourceLocation> = HashMap::default();
    let mut later: Vec<DirectoryProblem> = Vec::new();
    for record in records {
        if record.name.is_empty() {
            later.push(Problem::error(
                record.location,
                DirectoryIssue::BlankGroupName,
            ));
            continue;
        }
        let key = group_key(&record.name);
        if let Some(first) = declared.get(&key) {
            later.push(Problem::warning(
                record.location.clone(),
                DirectoryIssue::DuplicateGroup {
                    name: record.name.clone(),
                    first: first.clone(),
                },
            ));
        } else {
            declared.insert(key, record.location.clone());
        }
        let d = draft_for(&mut drafts, &record.name, &record.location);
        for (member, at) in record.members {
            match by_email.get(email_key(&member).as_str()) {
                None => later.push(Problem::error(
                    at,
                    DirectoryIssue::UnknownMember {
                        member,
                        group: record.name.clone(),
                    },
                )),
                Some(&i) if !users[i].active => {}
                Some(&i) => drafts[d].members.push(i),
            }
        }
    }
    for (i, (user, names)) in users.iter().zip(group_names).enumerate() {
        if names.is_empty() || user.email_key.is_empty() {
            continue;
        }
        let at = user.origin(Attribute::Groups);
        for name in names {
            let d = draft_for(&mut drafts, name, &at);
            if user.active {
                // The first user with this email, or one of its duplicates (all invalid, and
                // members still, so that skipping them never removes them from a group).
                drafts[d].members.push(i);
            }
        }
    }
    problems.extend(later);
    finish_groups(drafts, users)
}

/// A group being gathered from declarations and users' lists.
struct Draft {
    name: String,
    name_key: String,
    location: SourceLocation,
    /// Indexes into `users`.
    members: Vec<usize>,
}

/// The groups, sorted by key, with members' email keys sorted and without duplicates.
fn finish_groups(drafts: Vec<Draft>, users: &[DesiredUser]) -> Vec<DesiredGroup> {
    let mut groups: Vec<DesiredGroup> = drafts
        .into_iter()
        .map(|draft| {
            let mut members: Vec<String> = draft
                .members
                .into_iter()
                .map(|i| users[i].email_key.clone())
                .collect();
            members.sort_unstable();
            members.dedup();
            DesiredGroup {
                name: draft.name,
                name_key: draft.name_key,
                members,
                location: draft.location,
            }
        })
        .collect();
    groups.sort_by(|a, b| a.name_key.cmp(&b.name_key));
    groups
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn permute_applies_the_order_in_place() {
        let file: Arc<str> = "f".into();
        let mut users: Vec<DesiredUser> = ["c", "a", "d", "b", "e"]
            .iter()
            .map(|e| {
                let mut record =
                    super::super::record::PersonRecord::new(SourceLocation::file(&file));
                record.values.push((
                    Attribute::Email,
                    AttrValue::Text(format!("{e}@x.io").into()),
                    SourceLocation::file(&file),
                ));
                let person = super::super::merge::merge_people(vec![(vec![record], false)])
                    .pop()
                    .unwrap();
                build_user(person, NaiveDate::MIN, &mut Vec::new()).0
            })
            .collect();
        let mut flags = vec![false, true, false, false, true];
        permute(&mut users, &mut flags, vec![1, 3, 0, 2, 4]);
        let emails: Vec<&str> = users.iter().map(|u| u.email.as_str()).collect();
        assert_eq!(emails, ["a@x.io", "b@x.io", "c@x.io", "d@x.io", "e@x.io"]);
        assert_eq!(flags, [true, false, false, false, true]);
    }
}
