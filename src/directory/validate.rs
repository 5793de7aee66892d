//! Slack's rules and the directory's own consistency, checked on the merged people before
//! anything is planned (DESIGN §3). Every problem is collected; none stops the others.
//!
//! Pure: "today" (for guest expiry) is a parameter, never read from a clock here.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::NaiveDate;

use crate::config::diagnostics::{Problem, SourceLocation};
use crate::slack_rules::{
    check_display_name, check_email, check_person_name, check_user_name, email_key,
    slack_normalize_user_name, user_name_key,
};

use super::issue::{DirectoryIssue, DirectoryProblem};
use super::merge::MergedPerson;
use super::record::{AttrValue, GroupRecord};
use super::{Attribute, AttributeOrigin, DesiredGroup, DesiredUser, SkippedUser};

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
    people: Vec<MergedPerson>,
    group_records: Vec<GroupRecord>,
    today: NaiveDate,
) -> Validated {
    let mut problems: Vec<DirectoryProblem> = Vec::new();
    let mut users: Vec<DesiredUser> = Vec::with_capacity(people.len());
    // Index of the users with at least one error.
    let mut invalid: Vec<bool> = Vec::with_capacity(people.len());

    for person in people {
        let mut own = person.problems.clone();
        let user = build_user(person, today, &mut own);
        invalid.push(own.iter().any(Problem::is_error));
        problems.extend(own);
        users.push(user);
    }

    check_unique(&users, &mut invalid, &mut problems);
    let by_email = email_index(&users);
    check_managers(&users, &by_email, &mut invalid, &mut problems);
    let groups = build_groups(&users, &invalid, &by_email, group_records, &mut problems);

    let mut out = Validated {
        groups,
        problems,
        ..Validated::default()
    };
    for (user, invalid) in users.into_iter().zip(invalid) {
        if invalid {
            out.skipped.push(SkippedUser {
                email_key: user.email_key,
                employee_number: user.employee_number,
                id: user.id,
                location: user.location,
            });
        } else {
            out.users.push(user);
        }
    }
    out.users.sort_by(|a, b| a.email_key.cmp(&b.email_key));
    out.skipped.sort_by(|a, b| a.email_key.cmp(&b.email_key));
    out
}

/// Checks one person's own values and builds their [`DesiredUser`].
fn build_user(
    person: MergedPerson,
    today: NaiveDate,
    problems: &mut Vec<DirectoryProblem>,
) -> DesiredUser {
    let location = person.location.clone();
    let origin = |attribute: Attribute| {
        person
            .value(attribute)
            .map_or_else(|| location.clone(), |(_, at)| at.clone())
    };
    let text = |attribute: Attribute| person.text(attribute).map(str::to_string);

    let email = text(Attribute::Email).unwrap_or_default();
    if email.is_empty() {
        problems.push(Problem::error(
            origin(Attribute::Email),
            DirectoryIssue::MissingEmail,
        ));
    } else if check_email(&email).is_err() {
        problems.push(Problem::error(
            origin(Attribute::Email),
            DirectoryIssue::InvalidEmail {
                email: email.clone(),
            },
        ));
    }

    let id = text(Attribute::Id);
    if let Some(id) = &id
        && !is_slack_user_id(id)
    {
        problems.push(Problem::error(
            origin(Attribute::Id),
            DirectoryIssue::InvalidId { id: id.clone() },
        ));
    }

    let user_name = text(Attribute::UserName);
    let user_name_key = match &user_name {
        Some(name) => match check_user_name(name) {
            Ok(key) => key,
            Err(violation) => {
                problems.push(Problem::error(
                    origin(Attribute::UserName),
                    DirectoryIssue::InvalidUserName {
                        user_name: name.clone(),
                        violation,
                    },
                ));
                user_name_key(name)
            }
        },
        None if email.is_empty() => String::new(),
        None => match slack_normalize_user_name(&email) {
            Ok(key) => key,
            Err(violation) => {
                problems.push(Problem::error(
                    origin(Attribute::Email),
                    DirectoryIssue::DerivedUserNameInvalid {
                        email: email.clone(),
                        violation,
                    },
                ));
                String::new()
            }
        },
    };

    let display_name = text(Attribute::DisplayName);
    if let Some(name) = &display_name
        && let Err(violation) = check_display_name(name)
    {
        problems.push(Problem::error(
            origin(Attribute::DisplayName),
            DirectoryIssue::InvalidDisplayName { violation },
        ));
    }
    for attribute in [Attribute::GivenName, Attribute::FamilyName] {
        if let Some(name) = person.text(attribute)
            && let Err(violation) = check_person_name(Some(name), None)
        {
            problems.push(Problem::error(
                origin(attribute),
                DirectoryIssue::InvalidName {
                    attribute,
                    violation,
                },
            ));
        }
    }

    let guest = match person.value(Attribute::Guest) {
        Some((AttrValue::Guest(guest), at)) => {
            match guest.expiration {
                None => problems.push(Problem::warning(
                    at.clone(),
                    DirectoryIssue::GuestWithoutExpiry {
                        email: email.clone(),
                    },
                )),
                Some(expiration) if expiration.date_naive() < today => {
                    problems.push(Problem::warning(
                        at.clone(),
                        DirectoryIssue::GuestExpired {
                            email: email.clone(),
                            expiration: expiration.date_naive().to_string(),
                        },
                    ))
                }
                Some(_) => {}
            }
            Some(guest.clone())
        }
        _ => None,
    };
    let start_date = match person.value(Attribute::StartDate) {
        Some((AttrValue::Date(d), _)) => Some(*d),
        _ => None,
    };
    let active = !matches!(
        person.value(Attribute::Active),
        Some((AttrValue::Bool(false), _))
    );

    let mut group_names: BTreeMap<String, String> = BTreeMap::new();
    for (name, _) in &person.groups {
        group_names
            .entry(group_key(name))
            .or_insert_with(|| name.clone());
    }
    let mut origins: Vec<AttributeOrigin> = person
        .values
        .iter()
        .map(|(attribute, _, location)| AttributeOrigin {
            attribute: *attribute,
            location: location.clone(),
        })
        .collect();
    if let Some((_, location)) = person.groups.first() {
        origins.push(AttributeOrigin {
            attribute: Attribute::Groups,
            location: location.clone(),
        });
    }

    DesiredUser {
        id,
        email_key: email_key(&email),
        email,
        user_name,
        user_name_key,
        given_name: text(Attribute::GivenName),
        family_name: text(Attribute::FamilyName),
        display_name,
        title: text(Attribute::Title),
        phone: text(Attribute::Phone),
        timezone: text(Attribute::Timezone),
        locale: text(Attribute::Locale),
        preferred_language: text(Attribute::PreferredLanguage),
        user_type: text(Attribute::UserType),
        employee_number: text(Attribute::EmployeeNumber),
        cost_center: text(Attribute::CostCenter),
        organization: text(Attribute::Organization),
        division: text(Attribute::Division),
        department: text(Attribute::Department),
        manager: text(Attribute::Manager).map(|m| email_key(&m)),
        start_date,
        guest,
        active,
        groups: group_names.into_values().collect(),
        location,
        origins,
    }
}

fn is_slack_user_id(id: &str) -> bool {
    let mut chars = id.chars();
    matches!(chars.next(), Some('U' | 'W'))
        && id.len() >= 3
        && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

/// The key Slack compares group names by.
fn group_key(name: &str) -> String {
    name.trim().to_lowercase()
}

/// Emails, userNames, employee numbers and Slack ids each belong to one person only.
/// Both people of a duplicate are invalid: which one is right cannot be guessed.
fn check_unique(
    users: &[DesiredUser],
    invalid: &mut [bool],
    problems: &mut Vec<DirectoryProblem>,
) {
    let mut emails: HashMap<&str, usize> = HashMap::with_capacity(users.len());
    let mut user_names: HashMap<&str, usize> = HashMap::with_capacity(users.len());
    let mut employees: HashMap<&str, usize> = HashMap::new();
    let mut ids: HashMap<&str, usize> = HashMap::new();
    for (i, user) in users.iter().enumerate() {
        if !user.email_key.is_empty() {
            if let Some(&first) = emails.get(user.email_key.as_str()) {
                problems.push(Problem::error(
                    user.origin(Attribute::Email).clone(),
                    DirectoryIssue::DuplicateEmail {
                        email: user.email.clone(),
                        first: users[first].origin(Attribute::Email).clone(),
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
                u.origin(attribute).clone()
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
                &user.employee_number,
                &mut employees,
            ),
            (Attribute::Id, &user.id, &mut ids),
        ] {
            let Some(value) = value else { continue };
            if let Some(&first) = index.get(value.as_str()) {
                problems.push(Problem::error(
                    user.origin(attribute).clone(),
                    DirectoryIssue::DuplicateKey {
                        attribute,
                        value: value.clone(),
                        first: users[first].origin(attribute).clone(),
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
    let mut index = HashMap::with_capacity(users.len());
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
                    user.origin(Attribute::Manager).clone(),
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
    for start in 0..users.len() {
        let mut path = Vec::new();
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
        for i in path {
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
        head.origin(Attribute::Manager).clone(),
        DirectoryIssue::ManagerCycle { cycle: emails },
    ));
    for &i in cycle {
        invalid[i] = true;
    }
}

/// Groups from `groups:` declarations and from users' own lists. Members must be people of
/// the directory (invalid people included, so skipping someone never removes them from a
/// group); leavers cannot be members and are left out.
fn build_groups(
    users: &[DesiredUser],
    invalid: &[bool],
    by_email: &HashMap<&str, usize>,
    records: Vec<GroupRecord>,
    problems: &mut Vec<DirectoryProblem>,
) -> Vec<DesiredGroup> {
    struct Draft {
        name: String,
        location: SourceLocation,
        members: BTreeSet<String>,
    }
    let mut groups: BTreeMap<String, Draft> = BTreeMap::new();
    let mut leaver = |user: &DesiredUser, group: &str, at: &SourceLocation| {
        problems.push(Problem::warning(
            at.clone(),
            DirectoryIssue::LeaverInGroup {
                email: user.email.clone(),
                group: group.to_string(),
            },
        ));
    };
    let mut declared: HashMap<String, SourceLocation> = HashMap::new();
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
            declared.insert(key.clone(), record.location.clone());
        }
        let draft = groups.entry(key).or_insert_with(|| Draft {
            name: record.name.clone(),
            location: record.location.clone(),
            members: BTreeSet::new(),
        });
        for (member, at) in record.members {
            let key = email_key(&member);
            match by_email.get(key.as_str()) {
                None => later.push(Problem::error(
                    at,
                    DirectoryIssue::UnknownMember {
                        member,
                        group: record.name.clone(),
                    },
                )),
                Some(&i) if !users[i].active => leaver(&users[i], &record.name, &at),
                Some(_) => {
                    draft.members.insert(key);
                }
            }
        }
    }
    for (i, user) in users.iter().enumerate() {
        if user.groups.is_empty() || user.email_key.is_empty() {
            continue;
        }
        let at = user.origin(Attribute::Groups).clone();
        for name in &user.groups {
            let draft = groups.entry(group_key(name)).or_insert_with(|| Draft {
                name: name.clone(),
                location: at.clone(),
                members: BTreeSet::new(),
            });
            if !user.active {
                leaver(user, name, &at);
            } else if by_email.get(user.email_key.as_str()) == Some(&i) || invalid[i] {
                draft.members.insert(user.email_key.clone());
            }
        }
    }
    problems.extend(later);
    groups
        .into_iter()
        .map(|(name_key, draft)| DesiredGroup {
            name: draft.name,
            name_key,
            members: draft.members.into_iter().collect(),
            location: draft.location,
        })
        .collect()
}
