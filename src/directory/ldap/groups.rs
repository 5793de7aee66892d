//! Each person's groups: from their own `memberOf` values, or from group entries whose
//! `member` / `uniqueMember` values name people and other groups, flattened so a person in
//! a nested group is in every group that contains it. A cycle of nested groups is an error
//! naming the cycle: the directory needs fixing, and guessing could add people to groups.

use std::collections::{BTreeSet, HashMap, HashSet};

use super::{Entry, GroupsFrom, LdapError, LdapPerson, LdapSettings};

/// The member attributes read from group entries.
const MEMBER_ATTRIBUTES: [&str; 2] = ["member", "uniqueMember"];

/// The attributes asked of group entries.
pub(super) fn group_attributes(name_attribute: &str) -> Vec<String> {
    let mut wanted = vec![name_attribute.to_string()];
    wanted.extend(MEMBER_ATTRIBUTES.iter().map(|a| (*a).to_string()));
    wanted
}

/// A DN compared loosely: lower case, no spaces around `,` and `=`, a `uniqueMember`'s
/// `#'…'B` unique identifier dropped.
pub(super) fn normalize_dn(dn: &str) -> String {
    let dn = match dn.rfind("#'") {
        Some(at) if dn.ends_with("'B") => &dn[..at],
        _ => dn,
    };
    let mut out = String::with_capacity(dn.len());
    for part in dn.split(',') {
        if !out.is_empty() {
            out.push(',');
        }
        let mut sides = part.splitn(2, '=');
        let key = sides.next().unwrap_or_default().trim();
        out.push_str(&key.to_lowercase());
        if let Some(value) = sides.next() {
            out.push('=');
            out.push_str(&value.trim().to_lowercase());
        }
    }
    out
}

/// The value of a DN's first part: `cn=Engineering,ou=groups,…` → `Engineering`.
pub(super) fn first_rdn_value(dn: &str) -> &str {
    let first = dn.split(',').next().unwrap_or(dn);
    first.split_once('=').map_or(first, |(_, v)| v).trim()
}

/// The values of `name` (case-insensitive) in an entry.
fn values<'a>(entry: &'a Entry, name: &str) -> impl Iterator<Item = &'a String> {
    entry
        .attributes
        .iter()
        .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
        .flat_map(|(_, v)| v)
}

/// The people with their groups.
pub(super) fn assign(
    settings: &LdapSettings,
    people: Vec<Entry>,
    group_entries: Option<&[Entry]>,
) -> Result<Vec<LdapPerson>, LdapError> {
    match (&settings.groups, group_entries) {
        (Some(GroupsFrom::MemberOf { attribute }), _) => {
            Ok(from_member_of(settings, people, attribute))
        }
        (Some(GroupsFrom::Entries { name_attribute, .. }), Some(groups)) => {
            let memberships = flatten(groups, name_attribute)?;
            Ok(people
                .into_iter()
                .map(|entry| {
                    let groups = memberships
                        .get(&normalize_dn(&entry.dn))
                        .map(|g| g.iter().cloned().collect())
                        .unwrap_or_default();
                    person(entry, groups)
                })
                .collect())
        }
        _ => Ok(people.into_iter().map(|e| person(e, Vec::new())).collect()),
    }
}

/// A person from their entry and groups.
fn person(entry: Entry, groups: Vec<String>) -> LdapPerson {
    LdapPerson {
        dn: entry.dn,
        attributes: entry.attributes,
        groups,
    }
}

/// Groups named by each person's `memberOf` values; the attribute itself is kept only if
/// the columns map it.
fn from_member_of(settings: &LdapSettings, people: Vec<Entry>, attribute: &str) -> Vec<LdapPerson> {
    let mapped = settings
        .attributes
        .iter()
        .any(|a| a.eq_ignore_ascii_case(attribute));
    people
        .into_iter()
        .map(|mut entry| {
            let groups: BTreeSet<String> = values(&entry, attribute)
                .map(|dn| first_rdn_value(dn).to_string())
                .filter(|name| !name.is_empty())
                .collect();
            if !mapped {
                entry
                    .attributes
                    .retain(|(n, _)| !n.eq_ignore_ascii_case(attribute));
            }
            person(entry, groups.into_iter().collect())
        })
        .collect()
}

/// One group to flatten: its key (a normalized DN, a lowercased email), its name and the
/// keys of its members (people or other groups).
#[derive(Debug, Clone)]
pub(crate) struct GroupNode {
    /// How members name this group.
    pub key: String,
    /// The group's name.
    pub name: String,
    /// Its members' keys.
    pub members: Vec<String>,
}

/// Group entries as nodes keyed by normalized DN.
fn nodes(entries: &[Entry], name_attribute: &str) -> Vec<GroupNode> {
    entries
        .iter()
        .map(|entry| GroupNode {
            key: normalize_dn(&entry.dn),
            name: values(entry, name_attribute)
                .next()
                .cloned()
                .unwrap_or_else(|| first_rdn_value(&entry.dn).to_string()),
            members: MEMBER_ATTRIBUTES
                .iter()
                .flat_map(|a| values(entry, a))
                .map(|dn| normalize_dn(dn))
                .collect(),
        })
        .collect()
}

/// Person DN (normalized) → the names of every group they are in, directly or through
/// nested groups.
fn flatten(
    entries: &[Entry],
    name_attribute: &str,
) -> Result<HashMap<String, BTreeSet<String>>, LdapError> {
    flatten_groups(nodes(entries, name_attribute)).map_err(LdapError::Cycle)
}

/// Member key → the names of every group it is in, directly or through nested groups; a
/// cycle of nested groups is an error holding the names along it.
pub(crate) fn flatten_groups(
    list: Vec<GroupNode>,
) -> Result<HashMap<String, BTreeSet<String>>, Vec<String>> {
    let groups: HashMap<String, Group> = list
        .into_iter()
        .map(|n| {
            let group = Group {
                name: n.name,
                members: n.members,
            };
            (n.key, group)
        })
        .collect();
    let mut expanded: HashMap<&str, HashSet<String>> = HashMap::new();
    let mut keys: Vec<&String> = groups.keys().collect();
    keys.sort();
    for key in keys {
        expand(key, &groups, &mut expanded, &mut Vec::new())?;
    }
    let mut memberships: HashMap<String, BTreeSet<String>> = HashMap::new();
    for (key, people) in &expanded {
        for person in people {
            memberships
                .entry(person.clone())
                .or_default()
                .insert(groups[*key].name.clone());
        }
    }
    Ok(memberships)
}

/// A group being flattened.
struct Group {
    name: String,
    members: Vec<String>,
}

/// The non-group members of group `key` and of every group nested in it, memoized in
/// `expanded`; `path` is the chain of groups being expanded, to catch a cycle.
fn expand<'a>(
    key: &'a str,
    groups: &'a HashMap<String, Group>,
    expanded: &mut HashMap<&'a str, HashSet<String>>,
    path: &mut Vec<&'a str>,
) -> Result<(), Vec<String>> {
    if expanded.contains_key(key) {
        return Ok(());
    }
    if let Some(start) = path.iter().position(|k| *k == key) {
        let mut cycle: Vec<String> = path[start..]
            .iter()
            .map(|k| groups[*k].name.clone())
            .collect();
        cycle.push(groups[key].name.clone());
        return Err(cycle);
    }
    path.push(key);
    let mut people = HashSet::new();
    for member in &groups[key].members {
        if let Some((nested, _)) = groups.get_key_value(member) {
            expand(nested, groups, expanded, path)?;
            people.extend(expanded[nested.as_str()].iter().cloned());
        } else {
            people.insert(member.clone());
        }
    }
    path.pop();
    expanded.insert(key, people);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(dn: &str, attributes: &[(&str, &[&str])]) -> Entry {
        Entry {
            dn: dn.into(),
            attributes: attributes
                .iter()
                .map(|(n, v)| ((*n).into(), v.iter().map(|s| (*s).into()).collect()))
                .collect(),
        }
    }

    #[test]
    fn dns_compare_loosely() {
        assert_eq!(
            normalize_dn("CN=Ada Lovelace, OU=People ,dc=Example"),
            "cn=ada lovelace,ou=people,dc=example"
        );
        assert_eq!(normalize_dn("uid=a,dc=x#'0101'B"), "uid=a,dc=x");
        assert_eq!(first_rdn_value("cn=Eng Team,ou=g"), "Eng Team");
    }

    #[test]
    fn nested_groups_are_flattened() {
        let groups = [
            entry(
                "cn=all,ou=g",
                &[("cn", &["all"]), ("member", &["cn=eng,ou=g", "uid=c,ou=p"])],
            ),
            entry(
                "cn=eng,ou=g",
                &[
                    ("cn", &["eng"]),
                    ("uniqueMember", &["cn=be,ou=g", "uid=a,ou=p"]),
                ],
            ),
            entry(
                "cn=be,ou=g",
                &[("cn", &["be"]), ("member", &["UID=b, ou=p"])],
            ),
        ];
        let m = flatten(&groups, "cn").unwrap();
        let names = |dn: &str| m[dn].iter().cloned().collect::<Vec<_>>();
        assert_eq!(names("uid=a,ou=p"), ["all", "eng"]);
        assert_eq!(names("uid=b,ou=p"), ["all", "be", "eng"]);
        assert_eq!(names("uid=c,ou=p"), ["all"]);
    }

    #[test]
    fn member_of_names_groups_by_their_first_rdn_and_is_dropped_unless_mapped() {
        let settings = LdapSettings {
            url: "ldaps://h".into(),
            start_tls: false,
            ca_file: None,
            bind_dn: None,
            password: None,
            base_dn: "dc=x".into(),
            filter: "(objectClass=person)".into(),
            attributes: vec!["mail".into()],
            groups: Some(GroupsFrom::MemberOf {
                attribute: "memberOf".into(),
            }),
            page_size: 10,
            timeout: std::time::Duration::from_secs(1),
        };
        let people = vec![entry(
            "uid=a,ou=p",
            &[
                ("mail", &["a@example.com"]),
                (
                    "memberOf",
                    &[
                        "cn=Eng Team,ou=g,dc=x",
                        "CN=sales, ou=g",
                        "cn=Eng Team,ou=old",
                    ],
                ),
            ],
        )];
        let read = assign(&settings, people, None).unwrap();
        assert_eq!(read[0].groups, ["Eng Team", "sales"]);
        assert_eq!(
            read[0].attributes.len(),
            1,
            "memberOf is not a mapped column"
        );
    }

    #[test]
    fn a_cycle_is_an_error_naming_it() {
        let groups = [
            entry("cn=a,ou=g", &[("cn", &["a"]), ("member", &["cn=b,ou=g"])]),
            entry(
                "cn=b,ou=g",
                &[("cn", &["b"]), ("member", &["cn=c,ou=g", "uid=x"])],
            ),
            entry("cn=c,ou=g", &[("cn", &["c"]), ("member", &["cn=a,ou=g"])]),
        ];
        let e = flatten(&groups, "cn").unwrap_err();
        assert_eq!(
            e,
            LdapError::Cycle(vec!["a".into(), "b".into(), "c".into(), "a".into()])
        );
        assert_eq!(
            e.to_string(),
            "nested LDAP groups form a cycle: a → b → c → a"
        );
    }
}
