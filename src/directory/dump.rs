//! `scimsync dump`: the live organisation written as a directory YAML, so that adopting an
//! existing Slack organisation starts from an empty plan. Every account keeps its Slack `id`
//! (the first match key); bots and Slack-generated groups are left out, as the planner
//! leaves them alone.

use std::collections::HashMap;

use serde::Serialize;

use crate::scim::live::{LiveState, LiveUser};

#[derive(Serialize)]
struct DumpFile<'a> {
    users: Vec<DumpUser<'a>>,
    groups: Vec<DumpGroup<'a>>,
}

#[derive(Serialize)]
struct DumpUser<'a> {
    id: &'a str,
    email: &'a str,
    user_name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    given_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    family_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    display_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    title: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    phone: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    timezone: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    locale: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    preferred_language: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_type: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    employee_number: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cost_center: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    organization: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    division: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    department: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    manager: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    start_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    guest: Option<DumpGuest>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    inactive: bool,
}

#[derive(Serialize)]
struct DumpGuest {
    #[serde(skip_serializing_if = "Option::is_none")]
    expiration: Option<String>,
}

#[derive(Serialize)]
struct DumpGroup<'a> {
    name: &'a str,
    members: Vec<&'a str>,
}

/// The live state as directory YAML.
pub fn dump(live: &LiveState) -> String {
    let by_id: HashMap<&str, &LiveUser> = live.users.iter().map(|u| (u.id.as_str(), u)).collect();
    let mut users: Vec<&LiveUser> = live.users.iter().filter(|u| !u.is_bot).collect();
    users.sort_by_key(|u| u.email_key());
    let users = users
        .into_iter()
        .map(|u| DumpUser {
            id: &u.id,
            email: &u.email,
            user_name: &u.user_name,
            given_name: u.given_name.as_deref(),
            family_name: u.family_name.as_deref(),
            display_name: u.display_name.as_deref(),
            title: u.title.as_deref(),
            phone: u.phone.as_deref(),
            timezone: u.timezone.as_deref(),
            locale: u.locale.as_deref(),
            preferred_language: u.preferred_language.as_deref(),
            user_type: u.user_type.as_deref(),
            employee_number: u.employee_number.as_deref(),
            cost_center: u.cost_center.as_deref(),
            organization: u.organization.as_deref(),
            division: u.division.as_deref(),
            department: u.department.as_deref(),
            manager: u
                .manager_id
                .as_deref()
                .and_then(|m| by_id.get(m))
                .filter(|m| !m.is_bot)
                .map(|m| m.email.as_str()),
            start_date: u.start_date.map(|d| d.to_string()),
            guest: u.guest.map(|g| DumpGuest {
                expiration: g.map(|e| e.format("%Y-%m-%dT%H:%M:%SZ").to_string()),
            }),
            inactive: !u.active,
        })
        .collect();
    let mut groups: Vec<_> = live.groups.iter().filter(|g| !g.auto_generated).collect();
    groups.sort_by_key(|g| g.name_key());
    let groups = groups
        .into_iter()
        .map(|g| DumpGroup {
            name: &g.name,
            members: g
                .members
                .iter()
                .filter_map(|m| by_id.get(m.as_str()))
                .filter(|u| u.active && !u.is_bot)
                .map(|u| u.email.as_str())
                .collect(),
        })
        .collect();
    let yaml = serde_yaml::to_string(&DumpFile { users, groups }).expect("YAML serialises");
    // `active: false` reads better than a negated flag; the serialiser only skips `false`.
    format!(
        "# Written by `scimsync dump`: the live organisation as a directory.\n{}",
        yaml.replace("inactive: true", "active: false")
    )
}
