//! Plan fields → SCIM request bodies, per dialect. PATCH, never PUT (PUT blanks whatever is
//! not sent); only the attributes the plan changes. v1 sends a partial resource and deletes
//! with `meta.attributes`; v2 sends PatchOp operations. Multi-valued attributes are written
//! with `add` and `primary: true`, which sets Slack's primary email or primaryPhone without
//! wiping the secondary — the directory's `phone` is Slack's primaryPhone (FACTS TL;DR 1).

use serde_json::{Map, Value, json};

use super::Version;
use super::types::urn;
use crate::model::{Kind, ScimSlot, UserFields};

/// Member changes per group request. Slack accepts up to 15,000 and recommends at most 5,000.
pub const MEMBERSHIP_CHUNK: usize = 1000;

/// `value` as a SCIM filter's string value (RFC 7644 §3.4.2.2: a JSON string): double-quoted,
/// with `"` and `\` backslash-escaped and every control character (C0, DEL, C1) written as
/// `\uXXXX`. Every filter and filtered path scimsync sends puts its values through this, so a
/// value — a group name from the directory — can never end the string and add a clause of its
/// own (`eng" or displayName eq "admins`).
pub fn filter_value(value: &str) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => {
                write!(out, "\\u{:04x}", u32::from(c)).expect("writing to a String");
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `2020-06-15` → Slack's `2020-06-15T00:00:00+0000`, the way Slack writes dates.
fn slack_date(value: &str) -> String {
    if value.len() == 10 {
        format!("{value}T00:00:00+0000")
    } else {
        value.to_string()
    }
}

fn insert_path(obj: &mut Map<String, Value>, path: &str, value: Value) {
    match path.split_once('.') {
        Some((head, rest)) => {
            let inner = obj
                .entry(head.to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(m) = inner {
                insert_path(m, rest, value);
            }
        }
        None => {
            obj.insert(path.to_string(), value);
        }
    }
}

/// A manager's Slack id, resolved by the executor (`None` clears the manager).
pub type ManagerId = Option<String>;

/// The resource-shaped part of a user write: every set value in place, plus the list of
/// attributes to clear (v1 `meta.attributes` paths).
fn resource(
    version: Version,
    fields: &UserFields,
    manager: Option<ManagerId>,
) -> (Map<String, Value>, Vec<String>, Vec<&'static str>) {
    let mut o = Map::new();
    let mut clears = Vec::new();
    let mut schemas = vec![version.user_urn()];
    let ent = version.enterprise_urn();
    let prof = version.profile_urn();
    let mut ent_obj = Map::new();
    let mut prof_obj = Map::new();
    if let Some(e) = &fields.email {
        push_entry(&mut o, "emails", json!({"value": e, "primary": true}));
    }
    if let Some(u) = &fields.user_name {
        o.insert("userName".into(), json!(u));
    }
    for (attribute, value) in &fields.text {
        let Some(slot) = attribute.slot() else {
            continue;
        };
        let value = match (attribute.kind(), value) {
            (Kind::Date(_), Some(v)) => Some(slack_date(v)),
            (_, v) => v.clone(),
        };
        match (slot, value) {
            (ScimSlot::Core(path), Some(v)) => insert_path(&mut o, path, json!(v)),
            (ScimSlot::Core(path), None) => clears.push(path.to_string()),
            // Slack's request mapping (FACTS §2.3): `primary: true` sets the primaryPhone,
            // `type: work` the mobilePhone; both go in one `phoneNumbers` list.
            (ScimSlot::PrimaryPhone, Some(v)) => {
                push_entry(&mut o, "phoneNumbers", json!({"value": v, "primary": true}));
            }
            (ScimSlot::MobilePhone, Some(v)) => {
                push_entry(&mut o, "phoneNumbers", json!({"value": v, "type": "work"}));
            }
            (ScimSlot::SecondaryEmail, Some(v)) => {
                push_entry(&mut o, "emails", json!({"value": v, "primary": false}));
            }
            (ScimSlot::Photo, Some(v)) => {
                o.insert("photos".into(), json!([{"value": v, "primary": true}]));
            }
            (ScimSlot::Photo, None) => push_clear(&mut clears, "photos"),
            (ScimSlot::Role, Some(v)) => {
                o.insert("roles".into(), json!([{"value": v, "primary": true}]));
            }
            // Slack clears a whole multi-valued attribute only: both phones (the one still
            // declared is written again on the next pass), the secondary email (a `remove`
            // on `emails` keeps the primary), the role.
            (ScimSlot::PrimaryPhone | ScimSlot::MobilePhone, None) => {
                push_clear(&mut clears, "phoneNumbers");
            }
            (ScimSlot::SecondaryEmail, None) => push_clear(&mut clears, "emails"),
            (ScimSlot::Role, None) => push_clear(&mut clears, "roles"),
            (ScimSlot::Address(_), _) => {} // all parts at once, below
            (ScimSlot::Enterprise(k), Some(v)) => {
                ent_obj.insert(k.into(), json!(v));
            }
            (ScimSlot::Enterprise(k), None) => clears.push(format!("{ent}.{k}")),
            (ScimSlot::Profile(k), Some(v)) => {
                prof_obj.insert(k.into(), json!(v));
            }
            (ScimSlot::Profile(k), None) => clears.push(format!("{prof}.{k}")),
        }
    }
    insert_address(fields, &mut o, &mut clears);
    match manager {
        Some(Some(id)) => {
            ent_obj.insert("manager".into(), json!({"managerId": id}));
        }
        Some(None) => clears.push(format!("{ent}.manager.managerId")),
        None => {}
    }
    if !ent_obj.is_empty() {
        schemas.push(ent);
        o.insert(ent.into(), Value::Object(ent_obj));
    }
    if !prof_obj.is_empty() {
        schemas.push(prof);
        o.insert(prof.into(), Value::Object(prof_obj));
    }
    match &fields.guest {
        Some(Some(g)) => {
            schemas.push(version.guest_urn());
            let mut guest = Map::new();
            guest.insert("type".into(), json!("multi"));
            if let Some(e) = &g.expiration {
                guest.insert("expiration".into(), json!(e));
            }
            o.insert(version.guest_urn().into(), Value::Object(guest));
        }
        Some(None) => clears.push(version.guest_urn().to_string()),
        None => {}
    }
    if let Some(active) = fields.active {
        o.insert("active".into(), json!(active));
    }
    (o, clears, schemas)
}

/// The address parts among `fields` as one `addresses` entry of the parts set: Slack stores
/// one address and a write replaces it whole, so the planner sends every part with any one
/// (`crate::plan`). When every part sent is a clear, the address is removed.
fn insert_address(fields: &UserFields, o: &mut Map<String, Value>, clears: &mut Vec<String>) {
    let mut entry = Map::new();
    let mut any = false;
    for (attribute, value) in &fields.text {
        if let Some(ScimSlot::Address(key)) = attribute.slot() {
            any = true;
            if let Some(v) = value {
                entry.insert(key.into(), json!(v));
            }
        }
    }
    if !any {
        return;
    }
    if entry.is_empty() {
        push_clear(clears, "addresses");
    } else {
        entry.insert("primary".into(), json!(true));
        o.insert("addresses".into(), json!([entry]));
    }
}

/// Appends `entry` to the list at `key` of `o`.
fn push_entry(o: &mut Map<String, Value>, key: &str, entry: Value) {
    if let Value::Array(list) = o.entry(key).or_insert_with(|| json!([])) {
        list.push(entry);
    }
}

/// Adds a clear path once.
fn push_clear(clears: &mut Vec<String>, path: &str) {
    if !clears.iter().any(|c| c == path) {
        clears.push(path.to_string());
    }
}

/// `POST /Users`.
pub fn create_user(
    version: Version,
    email: &str,
    user_name: &str,
    fields: &UserFields,
    manager: Option<ManagerId>,
) -> Value {
    let mut fields = fields.clone();
    fields.email = Some(email.to_string());
    fields.user_name = Some(user_name.to_string());
    fields.active = Some(true);
    let (mut o, _, schemas) = resource(version, &fields, manager);
    o.insert("schemas".into(), json!(schemas));
    Value::Object(o)
}

/// `PATCH /Users/{id}` with only the given changes.
pub fn update_user(version: Version, fields: &UserFields, manager: Option<ManagerId>) -> Value {
    let (o, clears, schemas) = resource(version, fields, manager);
    match version {
        Version::V1 => {
            let mut body = o;
            body.insert("schemas".into(), json!(schemas));
            if !clears.is_empty() {
                body.insert("meta".into(), json!({"attributes": clears}));
            }
            Value::Object(body)
        }
        Version::V2 => {
            let mut ops = Vec::new();
            for (key, value) in o {
                let multi = key == "emails" || key == "phoneNumbers" || key == "roles";
                let ext = key.starts_with("urn:");
                match (multi, ext, value) {
                    (true, _, v) => ops.push(json!({"op": "add", "path": key, "value": v})),
                    (false, true, Value::Object(m)) => {
                        // Extension attributes one by one, RFC-style `urn:…:attribute` paths,
                        // so unrelated fields of the extension are left alone.
                        if key == version.guest_urn() {
                            ops.push(json!({"op": "add", "path": key, "value": m}));
                        } else {
                            for (k, v) in m {
                                ops.push(json!({"op": "replace", "path": format!("{key}:{k}"), "value": v}));
                            }
                        }
                    }
                    (false, false, Value::Object(m)) => {
                        for (k, v) in m {
                            ops.push(
                                json!({"op": "replace", "path": format!("{key}.{k}"), "value": v}),
                            );
                        }
                    }
                    (_, _, v) => ops.push(json!({"op": "replace", "path": key, "value": v})),
                }
            }
            for path in clears {
                let path = version_path(&path);
                ops.push(json!({"op": "remove", "path": path}));
            }
            json!({"schemas": [urn::PATCH_OP_V2], "Operations": ops})
        }
    }
}

/// v1-style `urn….attribute` clear paths become v2's `urn…:attribute`.
fn version_path(path: &str) -> String {
    for u in [urn::ENTERPRISE_V2, urn::PROFILE_V2] {
        if let Some(rest) = path.strip_prefix(u).and_then(|r| r.strip_prefix('.')) {
            return format!("{u}:{rest}");
        }
    }
    path.to_string()
}

/// `POST /Groups`, with at most [`MEMBERSHIP_CHUNK`] members (the rest follow as PATCHes).
pub fn create_group(version: Version, name: &str, members: &[String]) -> Value {
    let members: Vec<Value> = members.iter().map(|m| json!({"value": m})).collect();
    json!({"schemas": [version.group_urn()], "displayName": name, "members": members})
}

/// `PATCH /Groups/{id}` bodies for a rename and member changes, chunked.
pub fn update_group(
    version: Version,
    rename: Option<&str>,
    add: &[String],
    remove: &[String],
) -> Vec<Value> {
    let mut changes: Vec<(bool, &String)> = add.iter().map(|m| (true, m)).collect();
    changes.extend(remove.iter().map(|m| (false, m)));
    let mut bodies = Vec::new();
    let mut chunks: Vec<&[(bool, &String)]> = changes.chunks(MEMBERSHIP_CHUNK).collect();
    if chunks.is_empty() {
        chunks.push(&[]);
    }
    for (i, chunk) in chunks.into_iter().enumerate() {
        let rename = if i == 0 { rename } else { None };
        if chunk.is_empty() && rename.is_none() {
            continue;
        }
        let body = match version {
            Version::V1 => {
                let members: Vec<Value> = chunk
                    .iter()
                    .map(|(add, m)| {
                        if *add {
                            json!({"value": m})
                        } else {
                            json!({"value": m, "operation": "delete"})
                        }
                    })
                    .collect();
                let mut b = json!({"schemas": [urn::CORE_V1]});
                if !members.is_empty() {
                    b["members"] = Value::Array(members);
                }
                if let Some(n) = rename {
                    b["displayName"] = json!(n);
                }
                b
            }
            Version::V2 => {
                let mut ops = Vec::new();
                if let Some(n) = rename {
                    ops.push(json!({"op": "replace", "path": "displayName", "value": n}));
                }
                let adds: Vec<Value> = chunk
                    .iter()
                    .filter(|(add, _)| *add)
                    .map(|(_, m)| json!({"value": m}))
                    .collect();
                if !adds.is_empty() {
                    ops.push(json!({"op": "add", "path": "members", "value": adds}));
                }
                // One filtered remove per member: `remove` on `members` without a filter
                // empties the group (FACTS §3.4, §10.5).
                for (_, m) in chunk.iter().filter(|(add, _)| !*add) {
                    ops.push(json!({
                        "op": "remove",
                        "path": format!("members[value eq {}]", filter_value(m)),
                    }));
                }
                json!({"schemas": [urn::PATCH_OP_V2], "Operations": ops})
            }
        };
        bodies.push(body);
    }
    bodies
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Attribute, GuestSpec, LiveUser};

    fn fields() -> UserFields {
        let mut f = UserFields::default();
        f.text.insert(Attribute::Title, Some("Lead".into()));
        f.text.insert(Attribute::Department, Some("R&D".into()));
        f.text.insert(Attribute::Phone, Some("555".into()));
        f.text.insert(Attribute::GivenName, Some("Ada".into()));
        f.text
            .insert(Attribute::StartDate, Some("2020-06-15".into()));
        f
    }

    #[test]
    fn v1_partial_resource_with_meta_attributes_for_clears() {
        let mut f = fields();
        f.text.insert(Attribute::CostCenter, None);
        f.guest = Some(None);
        let b = update_user(Version::V1, &f, Some(None));
        assert_eq!(b["title"], "Lead");
        assert_eq!(b["name"], json!({"givenName": "Ada"}));
        assert_eq!(
            b["phoneNumbers"],
            json!([{"value": "555", "primary": true}])
        );
        assert_eq!(b[urn::ENTERPRISE_V1], json!({"department": "R&D"}));
        assert_eq!(
            b[urn::PROFILE_V1],
            json!({"startDate": "2020-06-15T00:00:00+0000"})
        );
        assert_eq!(
            b["meta"]["attributes"],
            json!([
                "urn:scim:schemas:extension:enterprise:1.0.costCenter",
                "urn:scim:schemas:extension:enterprise:1.0.manager.managerId",
                urn::GUEST_V1
            ])
        );
        assert!(
            b.get("userName").is_none() && b.get("emails").is_none(),
            "only what changes"
        );
    }

    #[test]
    fn v2_patch_ops() {
        let mut f = fields();
        f.email = Some("new@example.com".into());
        f.active = Some(true);
        f.guest = Some(Some(GuestSpec {
            expiration: Some("2030-01-01T00:00:00Z".into()),
        }));
        let b = update_user(Version::V2, &f, Some(Some("W2".into())));
        let ops = b["Operations"].as_array().unwrap();
        let find = |path: &str| ops.iter().find(|o| o["path"] == path).cloned();
        assert_eq!(find("title").unwrap()["op"], "replace");
        assert_eq!(find("emails").unwrap()["op"], "add");
        assert_eq!(find("name.givenName").unwrap()["value"], "Ada");
        assert_eq!(
            find(&format!("{}:manager", urn::ENTERPRISE_V2)).unwrap()["value"],
            json!({"managerId": "W2"})
        );
        assert_eq!(find(urn::GUEST_V2).unwrap()["value"]["type"], "multi");
        assert_eq!(find("active").unwrap()["value"], true);
    }

    /// Whatever the table says about a text attribute, what a write sends is what a read
    /// finds: POST bodies in both dialects, and v1's partial resource, read back through
    /// [`LiveUser::from_scim`].
    #[test]
    fn every_text_attribute_reads_back_from_what_is_written() {
        let mut f = UserFields::default();
        for a in Attribute::TEXT {
            let value = match a.kind() {
                Kind::Date(_) => "2024-04-10".to_string(),
                _ => format!("{a} value"),
            };
            f.text.insert(a, Some(value));
        }
        let bodies = [
            ("v1 POST", create_user(Version::V1, "a@x.io", "a", &f, None)),
            ("v2 POST", create_user(Version::V2, "a@x.io", "a", &f, None)),
            ("v1 PATCH", update_user(Version::V1, &f, None)),
        ];
        for (what, mut body) in bodies {
            body["id"] = json!("W1");
            let user: crate::scim::types::User = serde_json::from_value(body).unwrap();
            let live = LiveUser::from_scim(&user).unwrap();
            for (a, value) in &f.text {
                assert_eq!(live.text(*a), value.as_deref(), "{what} {a}");
            }
        }
    }

    /// The nickname, a core attribute at `nickName`: a key of the v1 resource and of a POST,
    /// a `replace` of its path in v2; never cleared (Slack requires one).
    #[test]
    fn the_nickname_is_written_at_nick_name_in_both_dialects() {
        let mut f = UserFields {
            user_name: Some("ada.l".into()),
            ..UserFields::default()
        };
        f.text.insert(Attribute::Nickname, Some("ada.l".into()));
        let v1 = update_user(Version::V1, &f, None);
        assert_eq!(
            v1,
            json!({"schemas": [urn::CORE_V1], "userName": "ada.l", "nickName": "ada.l"})
        );
        let v2 = update_user(Version::V2, &f, None);
        assert_eq!(
            v2["Operations"],
            json!([
                {"op": "replace", "path": "nickName", "value": "ada.l"},
                {"op": "replace", "path": "userName", "value": "ada.l"},
            ])
        );
        let post = create_user(Version::V2, "ada@x.io", "ada.l", &f, None);
        assert_eq!(post["nickName"], "ada.l");
        assert!(Attribute::Nickname.never_cleared().is_some());
    }

    #[test]
    fn filter_values_are_json_strings_that_cannot_end_early() {
        assert_eq!(filter_value("eng"), r#""eng""#);
        assert_eq!(
            filter_value(r#"eng" or displayName eq "admins"#),
            r#""eng\" or displayName eq \"admins""#
        );
        assert_eq!(filter_value(r"a\"), r#""a\\""#);
        assert_eq!(filter_value(r#"a\""#), r#""a\\\"""#);
        assert_eq!(
            filter_value("t\x1b[2K\n\t\u{7f}\u{9b}é"),
            r#""t\u001b[2K\u000a\u0009\u007f\u009bé""#
        );
        // Each reads back, as a JSON string, as exactly the value.
        for v in [
            "eng",
            r#"eng" or displayName eq "admins"#,
            r"\",
            "\"\\\"",
            "a\u{0}b\u{1f}\u{7f}\u{85}",
            "Zoë — R&D",
        ] {
            let back: String = serde_json::from_str(&filter_value(v)).unwrap();
            assert_eq!(back, v);
        }
    }

    #[test]
    fn group_changes_are_chunked_and_v2_removes_by_filter() {
        let add: Vec<String> = (0..1500).map(|i| format!("U{i}")).collect();
        let remove = vec!["UX".to_string()];
        let bodies = update_group(Version::V2, Some("new"), &add, &remove);
        assert_eq!(bodies.len(), 2);
        let ops = bodies[0]["Operations"].as_array().unwrap();
        assert_eq!(
            ops[0],
            json!({"op": "replace", "path": "displayName", "value": "new"})
        );
        assert_eq!(ops[1]["value"].as_array().unwrap().len(), 1000);
        let last = bodies[1]["Operations"].as_array().unwrap();
        assert_eq!(
            last.last().unwrap(),
            &json!({"op": "remove", "path": "members[value eq \"UX\"]"})
        );
        let v1 = update_group(Version::V1, None, &[], &remove);
        assert_eq!(
            v1[0]["members"],
            json!([{"value": "UX", "operation": "delete"}])
        );
        assert!(update_group(Version::V1, None, &[], &[]).is_empty());
    }
}
