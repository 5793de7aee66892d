//! Group writes with Slack's semantics (FACTS §3): members must be active, non-guest users;
//! v1 PATCH removes with `"operation":"delete"`; v2 `remove` on `members` without a filter
//! empties the group (whatever `value` says — the documented, dangerous reading of FACTS
//! §10.5); PUT replaces the member list; DELETE is permanent; auto-generated groups refuse
//! every write. Whether two groups may share a name is undocumented: [`GroupNames`] says.

use serde_json::Value;

use super::error::{ApiError, require_schemas};
use super::filter::{self, Filterable};
use super::policy::GroupNames;
use super::store::{Store, StoredGroup, now_timestamp};
use crate::scim::types::{Group, Nullable, PatchOp, Ref, urn};
use crate::scim::{ErrorCode, Version};

/// Slack refuses more members than this in one request (`too_many_users`).
pub const MAX_MEMBERS_PER_REQUEST: usize = 15_000;

fn parse_group(body: &Value) -> Result<Group, ApiError> {
    let g: Group =
        serde_json::from_value(body.clone()).map_err(|e| ApiError::payload(e.to_string()))?;
    if let Some(key) = g.other.keys().find(|k| !k.starts_with("urn:")) {
        return Err(ApiError::payload(format!("unsupported attribute {key}")));
    }
    Ok(g)
}

/// Member ids from `[{"value":"U…"}]`, checked: they exist, are active and are not guests.
fn member_ids(store: &Store, refs: &[Ref]) -> Result<Vec<String>, ApiError> {
    if refs.len() > MAX_MEMBERS_PER_REQUEST {
        return Err(ApiError::bad_request(ErrorCode::TooManyUsers));
    }
    let mut ids = Vec::with_capacity(refs.len());
    for r in refs {
        let id = r
            .value
            .text()
            .ok_or_else(|| ApiError::payload("member without value"))?;
        let user = store.user(id).ok_or_else(|| {
            ApiError::with(400, ErrorCode::NoSuchGroupMembers, format!("user={id}"))
        })?;
        if !user.active || user.is_guest() {
            return Err(ApiError::with(
                400,
                ErrorCode::UnableToAddDeletedOrGuestToGroup,
                format!("user={id}"),
            ));
        }
        ids.push(id.to_string());
    }
    Ok(ids)
}

/// A group's name, trimmed; with [`GroupNames::Unique`], not another group's.
fn check_name(
    store: &Store,
    name: &str,
    own_id: Option<&str>,
    names: GroupNames,
) -> Result<String, ApiError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(ApiError::payload("displayName is required"));
    }
    if names == GroupNames::Unique
        && let Some(other) = store.group_by_name(name)
        && Some(other.id.as_str()) != own_id
    {
        return Err(ApiError::with(
            409,
            ErrorCode::GroupCreationFailed,
            format!("name_taken={name}"),
        ));
    }
    Ok(name.to_string())
}

fn add_members(members: &mut Vec<String>, ids: Vec<String>) {
    for id in ids {
        if !members.contains(&id) {
            members.push(id);
        }
    }
}

/// `POST /Groups`.
pub fn create(store: &mut Store, body: &Value, names: GroupNames) -> Result<String, ApiError> {
    require_schemas(body)?;
    let g = parse_group(body)?;
    let name = check_name(
        store,
        g.display_name.text().unwrap_or_default(),
        None,
        names,
    )?;
    let mut members = Vec::new();
    add_members(
        &mut members,
        member_ids(store, g.members.value().map_or(&[], Vec::as_slice))?,
    );
    let group = StoredGroup {
        id: store.new_group_id(),
        display_name: name,
        members,
        auto_generated: false,
        created: now_timestamp(),
    };
    let id = group.id.clone();
    store.insert_group(group);
    Ok(id)
}

fn writable(store: &Store, id: &str) -> Result<StoredGroup, ApiError> {
    let g = store
        .group(id)
        .cloned()
        .ok_or_else(|| ApiError::with(404, ErrorCode::NoSuchGroup, format!("id={id}")))?;
    if g.auto_generated {
        return Err(ApiError::with(
            403,
            ErrorCode::PermissionDenied,
            "auto-generated group",
        ));
    }
    Ok(g)
}

/// `PUT /Groups/{id}`: name and member list replaced by what is sent.
pub fn replace(
    store: &mut Store,
    id: &str,
    body: &Value,
    names: GroupNames,
) -> Result<(), ApiError> {
    let mut g = writable(store, id)?;
    require_schemas(body)?;
    let body = parse_group(body)?;
    g.display_name = check_name(
        store,
        body.display_name.text().unwrap_or_default(),
        Some(id),
        names,
    )?;
    g.members.clear();
    add_members(
        &mut g.members,
        member_ids(store, body.members.value().map_or(&[], Vec::as_slice))?,
    );
    store.insert_group(g);
    Ok(())
}

/// `PATCH /Groups/{id}` in either dialect.
pub fn patch(
    store: &mut Store,
    version: Version,
    id: &str,
    body: &Value,
    names: GroupNames,
) -> Result<(), ApiError> {
    let mut g = writable(store, id)?;
    require_schemas(body)?;
    match version {
        Version::V1 => {
            let body = parse_group(body)?;
            if let Some(name) = body.display_name.value() {
                g.display_name = check_name(store, name, Some(id), names)?;
            }
            let refs = body.members.value().map_or(&[][..], Vec::as_slice);
            let (removes, adds): (Vec<Ref>, Vec<Ref>) = refs.iter().cloned().partition(|r| {
                r.operation
                    .value()
                    .is_some_and(|o| o.eq_ignore_ascii_case("delete"))
            });
            let removed: Vec<&str> = removes.iter().filter_map(|r| r.value.text()).collect();
            g.members.retain(|m| !removed.contains(&m.as_str()));
            add_members(&mut g.members, member_ids(store, &adds)?);
        }
        Version::V2 => {
            let ops: PatchOp = serde_json::from_value(body.clone())
                .map_err(|e| ApiError::payload(e.to_string()))?;
            if !ops.schemas.iter().any(|s| s == urn::PATCH_OP_V2) {
                return Err(ApiError::bad_request(ErrorCode::MissingSchemaElement));
            }
            for op in &ops.operations {
                let (path, value) = (op.path.as_deref(), op.value.as_ref());
                apply_operation(store, &mut g, names, &op.op, path, value)?;
            }
        }
    }
    if g.members.len() > MAX_MEMBERS_PER_REQUEST {
        return Err(ApiError::bad_request(ErrorCode::GroupMemberMaxExceeded));
    }
    store.insert_group(g);
    Ok(())
}

fn refs_of(value: Option<&Value>) -> Result<Vec<Ref>, ApiError> {
    match value {
        None => Ok(Vec::new()),
        Some(v @ Value::Array(_)) => {
            serde_json::from_value(v.clone()).map_err(|e| ApiError::payload(e.to_string()))
        }
        Some(v @ Value::Object(_)) => serde_json::from_value(v.clone())
            .map(|r| vec![r])
            .map_err(|e| ApiError::payload(e.to_string())),
        Some(_) => Err(ApiError::payload("members must be objects")),
    }
}

struct MemberView<'a>(&'a str);

impl Filterable for MemberView<'_> {
    fn values(&self, attr: &str) -> Option<Vec<String>> {
        (attr == "value").then(|| vec![self.0.to_string()])
    }
}

/// One v2 PatchOp operation on a group (FACTS §3.4).
fn apply_operation(
    store: &Store,
    g: &mut StoredGroup,
    names: GroupNames,
    op: &str,
    path: Option<&str>,
    value: Option<&Value>,
) -> Result<(), ApiError> {
    let op = op.to_ascii_lowercase();
    let path = path.map(str::trim).filter(|p| !p.is_empty());
    match (op.as_str(), path.map(str::to_ascii_lowercase).as_deref()) {
        ("add", Some("members")) => {
            add_members(&mut g.members, member_ids(store, &refs_of(value)?)?)
        }
        ("replace", Some("members")) => {
            let ids = member_ids(store, &refs_of(value)?)?;
            g.members.clear();
            add_members(&mut g.members, ids);
        }
        // Slack's documented semantics: remove on `members` empties the group.
        ("remove", Some("members")) => g.members.clear(),
        ("add" | "replace", Some("displayname")) => {
            let name = value
                .and_then(Value::as_str)
                .ok_or_else(|| ApiError::payload("displayName must be a string"))?;
            g.display_name = check_name(store, name, Some(&g.id), names)?;
        }
        ("remove", Some(p)) if p.starts_with("members[") => {
            let p = path.unwrap_or_default();
            let close = p
                .rfind(']')
                .ok_or_else(|| ApiError::bad_request(ErrorCode::InvalidFilterGroup))?;
            let expr = filter::parse(&p["members[".len()..close])?;
            g.members.retain(|m| !expr.matches(&MemberView(m)));
        }
        ("add" | "replace", None) => {
            let body = parse_group(value.ok_or_else(|| ApiError::payload("missing value"))?)?;
            if let Some(name) = body.display_name.value() {
                g.display_name = check_name(store, name, Some(&g.id), names)?;
            }
            if let Nullable::Value(refs) = &body.members {
                let ids = member_ids(store, refs)?;
                if op == "replace" {
                    g.members.clear();
                }
                add_members(&mut g.members, ids);
            }
        }
        _ => {
            return Err(ApiError::payload(format!(
                "unsupported operation {op} {}",
                path.unwrap_or("")
            )));
        }
    }
    Ok(())
}

/// `DELETE /Groups/{id}`: permanent.
pub fn delete(store: &mut Store, id: &str) -> Result<(), ApiError> {
    writable(store, id)?;
    store.remove_group(id);
    Ok(())
}

/// A stored group as filters see it.
pub struct GroupView<'a>(
    /// The group.
    pub &'a StoredGroup,
);

impl Filterable for GroupView<'_> {
    fn values(&self, attr: &str) -> Option<Vec<String>> {
        Some(match attr {
            "displayname" => vec![self.0.display_name.clone()],
            "id" => vec![self.0.id.clone()],
            "members" | "members.value" => self.0.members.clone(),
            _ => return None,
        })
    }
}

/// Whether a filter attribute exists on groups.
pub fn is_group_filter_attr(attr: &str) -> bool {
    GroupView(&StoredGroup::default()).values(attr).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emulator::store::{Snapshot, StoredUser};
    use serde_json::json;

    // The writes with unique group names, as by default.
    fn create(s: &mut Store, body: &Value) -> Result<String, ApiError> {
        super::create(s, body, GroupNames::Unique)
    }

    fn patch(s: &mut Store, v: Version, id: &str, body: &Value) -> Result<(), ApiError> {
        super::patch(s, v, id, body, GroupNames::Unique)
    }

    fn replace(s: &mut Store, id: &str, body: &Value) -> Result<(), ApiError> {
        super::replace(s, id, body, GroupNames::Unique)
    }

    #[test]
    fn duplicate_names_are_refused_or_accepted_as_configured() {
        let (mut s, _) = org();
        let body = json!({"schemas":[urn::GROUP_V2],"displayName":"eng"});
        let first = create(&mut s, &body).unwrap();
        let err = create(
            &mut s,
            &json!({"schemas":[urn::GROUP_V2],"displayName":" ENG "}),
        )
        .unwrap_err();
        assert_eq!(
            (err.status, err.code),
            (409, ErrorCode::GroupCreationFailed)
        );
        let second = super::create(&mut s, &body, GroupNames::Duplicate).unwrap();
        assert_ne!(first, second);
        assert_eq!(s.groups().filter(|g| g.display_name == "eng").count(), 2);
    }

    fn org() -> (Store, Vec<String>) {
        let mut users: Vec<StoredUser> = (0..3)
            .map(|i| StoredUser::new(&format!("u{i}"), &format!("u{i}@x.com")))
            .collect();
        users[2].active = false;
        let store = Store::from_snapshot(
            Snapshot {
                users,
                groups: vec![],
            },
            'U',
            1,
            "t",
        )
        .unwrap();
        let ids = store.users().map(|u| u.id.clone()).collect();
        (store, ids)
    }

    #[test]
    fn v2_membership_ops() {
        let (mut s, ids) = org();
        let gid = create(
            &mut s,
            &json!({"schemas":[urn::GROUP_V2],"displayName":"eng",
            "members":[{"value":ids[0]},{"value":ids[1]}]}),
        )
        .unwrap();
        let ops = |o: Value| json!({"schemas":[urn::PATCH_OP_V2],"Operations":o});
        patch(
            &mut s,
            Version::V2,
            &gid,
            &ops(json!([{"op":"remove","path":format!("members[value eq \"{}\"]", ids[0])}])),
        )
        .unwrap();
        assert_eq!(s.group(&gid).unwrap().members, vec![ids[1].clone()]);
        patch(
            &mut s,
            Version::V2,
            &gid,
            &ops(json!([{"op":"add","path":"members","value":[{"value":ids[0]}]}])),
        )
        .unwrap();
        patch(
            &mut s,
            Version::V2,
            &gid,
            &ops(json!([{"op":"remove","path":format!("members[value eq {}]", ids[1])}])),
        )
        .unwrap();
        assert_eq!(s.group(&gid).unwrap().members, vec![ids[0].clone()]);
        // The Java SDK's shape: remove on `members` with a value list empties the group.
        patch(
            &mut s,
            Version::V2,
            &gid,
            &ops(json!([{"op":"remove","path":"members","value":[{"value":ids[0]}]}])),
        )
        .unwrap();
        assert!(s.group(&gid).unwrap().members.is_empty());
        assert_eq!(s.groups_of(&ids[0]).count(), 0);
    }

    #[test]
    fn deactivated_users_cannot_be_added() {
        let (mut s, ids) = org();
        let err = create(
            &mut s,
            &json!({"schemas":[urn::CORE_V1],"displayName":"x","members":[{"value":ids[2]}]}),
        )
        .unwrap_err();
        assert!(
            err.description
                .starts_with("unable_to_add_deleted_or_guest_to_group")
        );
        let err = create(
            &mut s,
            &json!({"schemas":[urn::CORE_V1],"displayName":"x","members":[{"value":"UNOPE"}]}),
        )
        .unwrap_err();
        assert!(err.description.starts_with("no_such_group_members"));
    }

    #[test]
    fn v1_patch_and_put() {
        let (mut s, ids) = org();
        let gid = create(
            &mut s,
            &json!({"schemas":[urn::CORE_V1],"displayName":"eng","members":[{"value":ids[0]}]}),
        )
        .unwrap();
        patch(
            &mut s,
            Version::V1,
            &gid,
            &json!({"schemas":[urn::CORE_V1],
            "members":[{"value":ids[1]},{"value":ids[0],"operation":"delete"}]}),
        )
        .unwrap();
        assert_eq!(s.group(&gid).unwrap().members, vec![ids[1].clone()]);
        replace(
            &mut s,
            &gid,
            &json!({"schemas":[urn::CORE_V1],"displayName":"eng2"}),
        )
        .unwrap();
        let g = s.group(&gid).unwrap();
        assert_eq!(g.display_name, "eng2");
        assert!(
            g.members.is_empty(),
            "PUT without members empties the group"
        );
        delete(&mut s, &gid).unwrap();
        assert!(s.group(&gid).is_none());
    }

    #[test]
    fn auto_generated_groups_are_read_only() {
        let mut s = Store::default_org('U', 1);
        let gid = s.group_by_name("Team Admins").unwrap().id.clone();
        assert_eq!(delete(&mut s, &gid).unwrap_err().status, 403);
    }
}
