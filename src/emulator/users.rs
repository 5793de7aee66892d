//! User writes with Slack's semantics: POST, v1 partial-resource PATCH, v2 PatchOp, PUT that
//! blanks what is not sent, DELETE that only deactivates — and Slack's rules on every result
//! (userName rules and normalisation, unique email and userName including deactivated
//! accounts and channel names, display-name rules, protected accounts, invalid custom-profile
//! data dropped on create).
//!
//! The attribute table's text attributes are merged from their slots ([`merge_texts`]),
//! cleared by their paths and spelt by them; what is written here by name is Slack's rules
//! (the user name and its `nickName`, names, emails, phones, photos, addresses, roles, the
//! manager, guests).

use serde_json::{Map, Value, json};

use super::error::{ApiError, require_schemas};
use super::filter::{self, Filterable};
use super::policy::{ProfileErrors, ProfileUrlReading, Rules, TokenRole};
use super::store::{Role, STORED, Store, StoredAddress, StoredUser, core_attribute, now_timestamp};
use crate::model::CUSTOM_PROFILE_FIELD_LIMIT;
use crate::model::{Attribute, ScimSlot};
use crate::scim::types::{
    Address, Enterprise, Flag, MultiValue, Nullable, PatchOp, RoleValue, User, urn,
};
use crate::scim::{ErrorCode, Version};
use crate::slack_rules::{self, RuleViolation};

/// Slack's default timezone for new accounts (FACTS §2.2).
const DEFAULT_TIMEZONE: &str = "America/Los_Angeles";

/// Non-URN keys a user body may carry beyond the modelled attributes; any other key is
/// `invalid_request_payload` (a typo such as `user_name` must not be silently ignored).
const KNOWN_KEYS: &[&str] = &["Errors"];

fn parse_user(body: &Value) -> Result<User, ApiError> {
    let user: User =
        serde_json::from_value(body.clone()).map_err(|e| ApiError::payload(e.to_string()))?;
    for key in user.other.keys() {
        if !KNOWN_KEYS.contains(&key.as_str()) && !key.starts_with("urn:") {
            return Err(ApiError::payload(format!("unsupported attribute {key}")));
        }
    }
    Ok(user)
}

/// `POST /Users`.
pub fn create(store: &mut Store, body: &Value, rules: &Rules) -> Result<String, ApiError> {
    require_schemas(body)?;
    let u = parse_user(body)?;
    match &u.user_name {
        Nullable::Missing | Nullable::Null => {
            return Err(ApiError::bad_request(ErrorCode::UsernameRequired));
        }
        Nullable::Value(s) if s.trim().is_empty() => {
            return Err(ApiError::bad_request(ErrorCode::UsernameEmpty));
        }
        _ => {}
    }
    if u.emails.value().is_none_or(|e| e.is_empty()) {
        return Err(ApiError::bad_request(ErrorCode::EmailEmpty));
    }
    let mut draft = StoredUser {
        active: true,
        ..StoredUser::default()
    };
    set_core(&mut draft, "timezone", Some(DEFAULT_TIMEZONE.into()));
    merge(&mut draft, &u, Mode::Create)?;
    if !u.name.is_present() {
        // Slack fills the name from the display name when none is sent (FACTS §2.2).
        let fallback = slack_rules::slack_normalize_user_name(&draft.user_name)
            .unwrap_or_else(|_| draft.user_name.clone());
        let given = draft
            .core_text("displayName")
            .map_or(fallback, str::to_string);
        set_core(&mut draft, "name.givenName", Some(given));
    }
    if draft.guest.is_some() && u.active.is_missing() {
        draft.active = true;
    }
    draft.id = store.new_user_id();
    draft.created = now_timestamp();
    commit(store, None, draft, rules)
}

/// What a PUT keeps of the core attributes it is not sent: the name and the timezone, as
/// Slack's own example does (FACTS §2.4; the photo, not a text attribute, is kept too).
const PUT_KEEPS: [&str; 2] = ["name", "timezone"];

fn kept_by_put(path: &str) -> bool {
    PUT_KEEPS.iter().any(|k| {
        path.strip_prefix(k)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
    })
}

/// Sets the text attribute at a core path, if the table has one there.
fn set_core(d: &mut StoredUser, path: &str, value: Option<String>) {
    if let Some(a) = core_attribute(path) {
        d.set_text(a, value);
    }
}

/// `PUT /Users/{id}`: replaces the user; anything not sent becomes blank (FACTS §2.4), except
/// the name, photo and timezone, which Slack's own example keeps. `active` not sent ⇒ false.
pub fn replace(store: &mut Store, id: &str, body: &Value, rules: &Rules) -> Result<(), ApiError> {
    let old = existing(store, id)?;
    require_schemas(body)?;
    let u = parse_user(body)?;
    if u.user_name.text().is_none() {
        return Err(ApiError::bad_request(ErrorCode::UsernameEmpty));
    }
    reject_password(&u)?;
    let mut draft = StoredUser {
        id: old.id.clone(),
        role: old.role,
        created: old.created.clone(),
        honorific_prefix: old.honorific_prefix.clone(),
        photo: old.photo.clone(),
        email: old.email.clone(),
        active: false,
        ..StoredUser::default()
    };
    for a in STORED {
        if let Some(ScimSlot::Core(path)) = a.slot()
            && kept_by_put(path)
        {
            draft.set_text(a, old.text(a).map(str::to_string));
        }
    }
    merge(&mut draft, &u, Mode::Replace)?;
    commit(store, Some(&old), draft, rules).map(drop)
}

/// `PATCH /Users/{id}` in either dialect.
pub fn patch(
    store: &mut Store,
    version: Version,
    id: &str,
    body: &Value,
    rules: &Rules,
) -> Result<(), ApiError> {
    let old = existing(store, id)?;
    require_schemas(body)?;
    let mut draft = old.clone();
    match version {
        Version::V1 => {
            let u = parse_user(body)?;
            reject_password(&u)?;
            merge(&mut draft, &u, Mode::Merge)?;
            if let Some(attrs) = u.meta.value().and_then(|m| m.attributes.value()) {
                for path in attrs {
                    clear_path(&mut draft, path)?;
                }
            }
        }
        Version::V2 => {
            let ops: PatchOp = serde_json::from_value(body.clone())
                .map_err(|e| ApiError::payload(e.to_string()))?;
            if !ops.schemas.iter().any(|s| s == urn::PATCH_OP_V2) {
                return Err(ApiError::bad_request(ErrorCode::MissingSchemaElement));
            }
            for op in &ops.operations {
                apply_operation(&mut draft, &op.op, op.path.as_deref(), op.value.as_ref())?;
            }
        }
    }
    commit(store, Some(&old), draft, rules).map(drop)
}

/// `DELETE /Users/{id}`: deactivates; idempotent.
pub fn deactivate(store: &mut Store, id: &str, rules: &Rules) -> Result<(), ApiError> {
    let old = existing(store, id)?;
    let mut draft = old.clone();
    draft.active = false;
    commit(store, Some(&old), draft, rules).map(drop)
}

fn existing(store: &Store, id: &str) -> Result<StoredUser, ApiError> {
    store
        .user(id)
        .cloned()
        .ok_or_else(|| ApiError::with(404, ErrorCode::NoSuchUser, format!("id={id}")))
}

fn reject_password(u: &User) -> Result<(), ApiError> {
    if u.password.is_present() {
        Err(ApiError::bad_request(ErrorCode::PasswordChangeNotAllowed))
    } else {
        Ok(())
    }
}

/// Checks Slack's rules on the would-be user and stores it. `old` is the user before an
/// update, `None` for a create.
fn commit(
    store: &mut Store,
    old: Option<&StoredUser>,
    mut draft: StoredUser,
    rules: &Rules,
) -> Result<String, ApiError> {
    if let Some(old) = old {
        check_protected(old, &mut draft, rules)?;
    }
    check_names_and_emails(&mut draft, old.is_some())?;
    check_unique(store, old, &draft, rules)?;
    check_custom_profile(store, old, &mut draft, rules)?;
    check_profile_fields(store, &draft, rules)?;
    if draft.photo.is_some() && draft.photo != old.and_then(|o| o.photo.clone()) {
        draft.photo = draft.photo.map(|p| rules.photo_reading.answer(&p));
    }
    read_back_profile(old, &mut draft, rules);

    let id = draft.id.clone();
    let deactivated = old.is_some_and(|o| o.active) && !draft.active;
    match old {
        Some(_) => store.replace_user(draft),
        None => store.insert_user(draft),
    }
    if deactivated {
        store.remove_from_all_groups(&id);
    }
    Ok(id)
}

/// What an update may not do to protected accounts (FACTS §8): modify an owner with an
/// admin's token, deactivate the primary owner or a bot, make an admin a guest. Converting to
/// or from a guest reactivates (FACTS §2.7).
fn check_protected(
    old: &StoredUser,
    draft: &mut StoredUser,
    rules: &Rules,
) -> Result<(), ApiError> {
    let who = || format!("user={}", draft.user_name);
    let owner = matches!(old.role, Role::Owner | Role::PrimaryOwner);
    if owner && rules.token_role == TokenRole::Admin && draft != old {
        return Err(ApiError::with(403, ErrorCode::CannotModifyOwner, who()));
    }
    if old.active && !draft.active {
        match old.role {
            Role::PrimaryOwner => {
                return Err(ApiError::new(403, ErrorCode::CannotDisablePrimaryOwner));
            }
            Role::Bot => {
                return Err(ApiError::new(403, ErrorCode::CannotDisableBotUserWithScim));
            }
            _ => {}
        }
    }
    if draft.guest.is_some() && old.guest.is_none() && old.role != Role::Member {
        return Err(ApiError::with(400, ErrorCode::CannotMakeUserGuest, who()));
    }
    if !old.active && draft.guest.is_some() != old.guest.is_some() {
        draft.active = true;
    }
    Ok(())
}

/// userName (Slack rewrites what it can and rejects the rest), emails, display and person
/// names (FACTS §2.2, §6.3).
fn check_names_and_emails(draft: &mut StoredUser, is_update: bool) -> Result<(), ApiError> {
    let who = format!("user={}", draft.user_name);
    let rule = |v: RuleViolation| ApiError::with(400, v.code(), &who);
    draft.user_name =
        slack_rules::slack_normalize_user_name(&draft.user_name).map_err(|v| match v {
            RuleViolation::UserNameTooLong if is_update => {
                ApiError::with(400, ErrorCode::LongUsername, &who)
            }
            RuleViolation::UserNameEmpty => ApiError::bad_request(ErrorCode::UsernameEmpty),
            other => rule(other),
        })?;
    if draft.email.trim().is_empty() {
        return Err(ApiError::bad_request(ErrorCode::MissingPrimaryEmail));
    }
    for email in std::iter::once(&draft.email).chain(draft.secondary_email.iter()) {
        slack_rules::check_email(email)
            .map_err(|_| ApiError::with(400, ErrorCode::EmailInvalid, format!("email={email}")))?;
    }
    if let Some(d) = draft.core_text("displayName") {
        slack_rules::check_display_name(d).map_err(rule)?;
    }
    slack_rules::check_person_name(
        draft.core_text("name.givenName"),
        draft.core_text("name.familyName"),
    )
    .map_err(rule)
}

/// Uniqueness against the true state, deactivated accounts included (FACTS §8), and the
/// namespace userNames share with channels (FACTS TL;DR 6): a new or renamed user may not
/// take a channel's name, though no user holds it.
fn check_unique(
    store: &Store,
    old: Option<&StoredUser>,
    draft: &StoredUser,
    rules: &Rules,
) -> Result<(), ApiError> {
    for email in std::iter::once(&draft.email).chain(draft.secondary_email.iter()) {
        if let Some(holder) = store.email_holder(email)
            && holder != draft.id
        {
            return Err(ApiError::with(
                409,
                ErrorCode::EmailTaken,
                format!("email={email}"),
            ));
        }
    }
    let taken_by_user = store
        .user_name_holder(&draft.user_name)
        .is_some_and(|holder| holder != draft.id);
    let renamed = old.is_none_or(|o| o.user_name != draft.user_name);
    if taken_by_user || (renamed && rules.is_channel(&draft.user_name)) {
        return Err(ApiError::with(
            409,
            ErrorCode::UsernameTaken,
            format!("username={}", draft.user_name),
        ));
    }
    Ok(())
}

/// Checks the custom-profile values; Slack stores the manager as a user id, whichever key was
/// sent. On create, an invalid value drops every custom-profile field silently (FACTS TL;DR
/// 7) unless the emulator is strict. FACTS speaks of creates only, so updates are refused
/// whatever the setting (the stricter reading).
///
/// The values the emulator can tell are invalid: a manager that is no user, and those it was
/// told of (`--drop-profile-on-invalid`): FACTS does not say which other values Slack finds
/// invalid.
fn check_custom_profile(
    store: &Store,
    old: Option<&StoredUser>,
    draft: &mut StoredUser,
    rules: &Rules,
) -> Result<(), ApiError> {
    check_invalid_values(old, draft, rules)?;
    let Some(m) = draft.manager_id.clone() else {
        return Ok(());
    };
    match store.resolve_user(&m) {
        Some(id) => draft.manager_id = Some(id),
        None if old.is_none() && rules.profile_errors == ProfileErrors::Drop => {
            draft.clear_custom_profile();
        }
        None => {
            return Err(ApiError::with(
                400,
                ErrorCode::NoSuchUser,
                format!("manager={m}"),
            ));
        }
    }
    Ok(())
}

/// The values the emulator was told Slack finds invalid ([`super::policy::InvalidValue`]), among those a
/// write sets: a create loses its custom profile (FACTS TL;DR 7) unless the emulator is
/// strict; an update, or a strict create, is refused with the field's code.
fn check_invalid_values(
    old: Option<&StoredUser>,
    draft: &mut StoredUser,
    rules: &Rules,
) -> Result<(), ApiError> {
    let invalid = rules.invalid_values.iter().find_map(|rule| {
        let value = draft.text(rule.attribute)?;
        let unchanged = old.is_some_and(|o| o.text(rule.attribute) == Some(value));
        (!unchanged && rule.matches(value)).then(|| (rule, value.to_string()))
    });
    match invalid {
        None => Ok(()),
        Some(_) if old.is_none() && rules.profile_errors == ProfileErrors::Drop => {
            draft.clear_custom_profile();
            Ok(())
        }
        Some((rule, value)) => Err(ApiError::with(
            400,
            rule.code(),
            format!("{}={value}", rule.attribute),
        )),
    }
}

/// Slack creates a custom profile field the first time a user has a value for it, up to
/// [`CUSTOM_PROFILE_FIELD_LIMIT`] per organisation, those it had before SCIM included
/// (`rules.custom_profile_fields`): a write needing one more is refused with 400
/// `unable_to_create_team_profile_fields`, naming the field (FACTS §2.8).
fn check_profile_fields(store: &Store, draft: &StoredUser, rules: &Rules) -> Result<(), ApiError> {
    let have = rules.custom_profile_fields + store.profile_fields_created();
    let new = store.new_profile_fields(draft);
    match new.get(CUSTOM_PROFILE_FIELD_LIMIT.saturating_sub(have)) {
        Some(field) => Err(ApiError::with(
            400,
            ErrorCode::UnableToCreateTeamProfileFields,
            format!("field={field}"),
        )),
        None => Ok(()),
    }
}

/// What Slack keeps of the profile URL, the role and the address written: a profile URL only
/// from a create, and only under the echo reading ("updates not supported", FACTS §2.2, §10
/// #8); the role and the address parts as their readings say (FACTS is silent on case and
/// trimming).
fn read_back_profile(old: Option<&StoredUser>, draft: &mut StoredUser, rules: &Rules) {
    draft.profile_url = match old {
        Some(old) => old.profile_url.clone(),
        None => draft
            .profile_url
            .take()
            .filter(|_| rules.profile_url_reading == ProfileUrlReading::Echo),
    };
    if draft.role_title != old.and_then(|o| o.role_title.clone()) {
        draft.role_title = draft.role_title.take().map(|r| rules.role_reading.keep(r));
    }
    if let Some(mut a) = draft.address.take() {
        let keep = |part: &mut Option<String>| *part = rules.address_reading.keep(part.take());
        keep(&mut a.street_address);
        keep(&mut a.locality);
        keep(&mut a.region);
        keep(&mut a.postal_code);
        keep(&mut a.country);
        draft.address = (a != StoredAddress::default()).then_some(a);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Create,
    Replace,
    Merge,
}

/// `Some(text)` for a non-blank string, `None` for `""`, `" "` or `null` (Slack's way of
/// clearing a field), and no change when absent.
fn set_text(slot: &mut Option<String>, v: &Nullable<String>) {
    if let Some(value) = new_text(v.as_ref()) {
        *slot = value;
    }
}

/// What a body's value does to a stored text: `None` leaves it (absent), `Some(None)` clears
/// it (`""`, `" "` or `null`), `Some(Some(text))` sets it.
fn new_text(v: Nullable<&String>) -> Option<Option<String>> {
    match v {
        Nullable::Missing => None,
        Nullable::Null => Some(None),
        Nullable::Value(s) if s.trim().is_empty() => Some(None),
        Nullable::Value(s) => Some(Some(s.clone())),
    }
}

/// The text attributes the emulator stores ([`STORED`]), each from its slot in the body: once
/// for a core attribute, in each dialect's extension for an extension's (v2 last). A `null`
/// object on the way (`"name": null`, an extension) clears what it holds.
fn merge_texts(d: &mut StoredUser, u: &User) {
    for a in STORED {
        let Some(slot) = a.slot() else { continue };
        let versions: &[Version] = match slot {
            ScimSlot::Core(_) => &[Version::V2],
            _ => &[Version::V1, Version::V2],
        };
        for &version in versions {
            if let Some(value) = u.text_at(slot, version).and_then(new_text) {
                d.set_text(a, value);
            }
        }
    }
}

/// Applies a (partial) user resource to `d`.
fn merge(d: &mut StoredUser, u: &User, mode: Mode) -> Result<(), ApiError> {
    if mode != Mode::Merge {
        // Replace and create start from blank emails (the draft's email is only for PUT
        // bodies that omit emails, which Slack rejects).
        if u.emails.value().is_none_or(|e| e.is_empty()) {
            return Err(ApiError::bad_request(ErrorCode::EmailEmpty));
        }
        d.email.clear();
        d.secondary_email = None;
    }
    merge_names(d, u)?;
    merge_texts(d, u);
    if let Some(url) = u.profile_url.text() {
        d.profile_url = Some(url.to_string()); // kept from a create only (`commit`)
    }
    if let Some(active) = u.active.value() {
        d.active = active.is_true();
    }
    if let Some(emails) = u.emails.value() {
        merge_emails(d, emails)?;
    }
    merge_multi_valued(d, u, mode);
    merge_extensions(d, u)
}

/// userName (or nickName, which mirrors it: Slack keeps one name under both keys, FACTS TL;DR
/// 5) and `name`'s rule and its one key the table does not hold, `honorificPrefix` (the
/// others are text attributes, merged by [`merge_texts`]).
fn merge_names(d: &mut StoredUser, u: &User) -> Result<(), ApiError> {
    if let Some(name) = u.user_name.value() {
        d.user_name = name.clone();
    } else if let Some(nick) = u.nick_name.text() {
        // nickName and userName mirror each other.
        d.user_name = nick.to_string();
    }
    if let Some(name) = u.name.value() {
        let blank = |v: &Nullable<String>| v.is_present() && v.text().is_none();
        if blank(&name.given_name) && blank(&name.family_name) {
            return Err(ApiError::with(
                400,
                RuleViolation::NameRequired.code(),
                format!("user={}", d.user_name),
            ));
        }
        set_text(&mut d.honorific_prefix, &name.honorific_prefix);
    } else if u.name == Nullable::Null {
        d.honorific_prefix = None;
    }
    Ok(())
}

/// Phones, photos, addresses and roles: one or two values stored of each (FACTS §2.3).
fn merge_multi_valued(d: &mut StoredUser, u: &User, mode: Mode) {
    match &u.phone_numbers {
        Nullable::Value(phones) => merge_phones(d, phones, mode != Mode::Merge),
        Nullable::Null => {
            d.primary_phone = None;
            d.mobile_phone = None;
        }
        Nullable::Missing => {}
    }
    match &u.photos {
        Nullable::Value(photos) => {
            d.photo = pick_primary(photos.iter().filter(|p| !is_delete(&p.operation)))
                .and_then(|p| p.value.text().map(str::to_string));
        }
        Nullable::Null => d.photo = None,
        Nullable::Missing => {}
    }
    match &u.addresses {
        Nullable::Value(addresses) => merge_address(d, addresses),
        Nullable::Null => d.address = None,
        Nullable::Missing => {}
    }
    match &u.roles {
        Nullable::Value(roles) => {
            let live: Vec<&RoleValue> = roles
                .iter()
                .filter(|r| !matches!(r, RoleValue::Entry(e) if is_delete(&e.operation)))
                .collect();
            d.role_title = live
                .first()
                .and_then(|r| r.value())
                .filter(|s| !s.trim().is_empty())
                .map(str::to_string);
        }
        Nullable::Null => d.role_title = None,
        Nullable::Missing => {}
    }
}

/// The enterprise extension's manager and the guest extension, under either version's URN
/// (their text attributes are merged by [`merge_texts`]).
fn merge_extensions(d: &mut StoredUser, u: &User) -> Result<(), ApiError> {
    for ent in [&u.enterprise_v1, &u.enterprise_v2] {
        match ent {
            Nullable::Value(e) => merge_manager(d, e)?,
            Nullable::Null => d.manager_id = None,
            Nullable::Missing => {}
        }
    }
    for guest in [&u.guest_v1, &u.guest_v2] {
        match guest {
            Nullable::Value(g) => {
                if g.kind.text() != Some("multi") {
                    return Err(ApiError::payload("guest type must be \"multi\""));
                }
                let mut stored = d.guest.clone().unwrap_or_default();
                set_text(&mut stored.expiration, &g.expiration);
                d.guest = Some(stored);
            }
            Nullable::Null => d.guest = None,
            Nullable::Missing => {}
        }
    }
    Ok(())
}

fn is_delete(op: &Nullable<String>) -> bool {
    op.value().is_some_and(|o| o.eq_ignore_ascii_case("delete"))
}

fn is_primary(v: &MultiValue) -> Option<bool> {
    v.primary.value().map(Flag::is_true)
}

/// The entry marked primary, else the first.
fn pick_primary<'a>(
    mut entries: impl Iterator<Item = &'a MultiValue> + Clone,
) -> Option<&'a MultiValue> {
    entries
        .clone()
        .find(|e| is_primary(e) == Some(true))
        .or_else(|| entries.next())
}

/// Emails: two stored. Primary = `primary: true`, else `type: work`, else the first; the next
/// one is the secondary. v1's `operation: delete` removes an entry; the primary cannot be
/// removed without a replacement.
fn merge_emails(d: &mut StoredUser, emails: &[MultiValue]) -> Result<(), ApiError> {
    for e in emails.iter().filter(|e| is_delete(&e.operation)) {
        let Some(v) = e.value.text() else { continue };
        if d.secondary_email
            .as_deref()
            .is_some_and(|s| s.eq_ignore_ascii_case(v))
        {
            d.secondary_email = None;
        } else if d.email.eq_ignore_ascii_case(v) {
            d.email.clear();
        }
    }
    let live: Vec<&MultiValue> = emails
        .iter()
        .filter(|e| !is_delete(&e.operation) && e.value.text().is_some())
        .collect();
    let primary = live
        .iter()
        .position(|e| is_primary(e) == Some(true))
        .or_else(|| {
            live.iter().position(|e| {
                e.kind
                    .text()
                    .is_some_and(|k| k.eq_ignore_ascii_case("work"))
            })
        })
        .or(if d.email.is_empty() && !live.is_empty() {
            Some(0)
        } else {
            None
        });
    if let Some(p) = primary {
        d.email = live[p].value.text().unwrap_or_default().trim().to_string();
    }
    if let Some(s) = live.iter().enumerate().find(|(i, _)| Some(*i) != primary) {
        d.secondary_email = s.1.value.text().map(|s| s.trim().to_string());
    }
    if d.email.is_empty() {
        return Err(ApiError::bad_request(ErrorCode::MissingPrimaryEmail));
    }
    Ok(())
}

/// Phones with Slack's mapping (FACTS §2.3): `primary: true` or `type: mobile` →
/// primaryPhone; `primary: false` or `type: work` → mobilePhone; neither → primaryPhone for
/// the first entry, mobilePhone after.
///
/// When two entries of one request claim the same slot, the second takes the other slot if it
/// is free. That is what makes writing back a read swap the numbers without losing one
/// (FACTS TL;DR 1): a read shows mobilePhone as `{"type":"mobile"}` and primaryPhone as
/// `{"primary":true}`, both of which claim primaryPhone on the way in — the first gets it, the
/// second becomes the mobilePhone. FACTS documents the swap, not the tie-break; a third entry
/// for a full pair replaces its own slot's value.
fn merge_phones(d: &mut StoredUser, phones: &[MultiValue], replace: bool) {
    if replace {
        d.primary_phone = None;
        d.mobile_phone = None;
    }
    let (mut primary_taken, mut mobile_taken) = (false, false);
    for p in phones {
        let value = p.value.text().map(str::to_string);
        if is_delete(&p.operation) {
            if d.primary_phone.is_some() && d.primary_phone == value {
                d.primary_phone = None;
            }
            if d.mobile_phone.is_some() && d.mobile_phone == value {
                d.mobile_phone = None;
            }
            continue;
        }
        if value.is_none() {
            continue; // a read-back placeholder
        }
        let kind = p.kind.text().map(str::to_ascii_lowercase);
        let wants_primary = match (is_primary(p), kind.as_deref()) {
            (Some(flag), _) => flag,
            (None, Some("mobile")) => true,
            (None, Some("work")) => false,
            (None, _) => !primary_taken,
        };
        let to_primary = if wants_primary {
            !primary_taken || mobile_taken
        } else {
            mobile_taken && !primary_taken
        };
        if to_primary {
            d.primary_phone = value;
            primary_taken = true;
        } else {
            d.mobile_phone = value;
            mobile_taken = true;
        }
    }
}

fn merge_address(d: &mut StoredUser, addresses: &[Address]) {
    if addresses.iter().any(|a| is_delete(&a.operation)) {
        d.address = None;
    }
    let live: Vec<&Address> = addresses
        .iter()
        .filter(|a| !is_delete(&a.operation))
        .collect();
    let chosen = live
        .iter()
        .find(|a| a.primary.value().is_some_and(Flag::is_true))
        .or_else(|| {
            live.iter()
                .find(|a| a.kind.text().is_some_and(|k| k == "work"))
        })
        .or(live.first());
    if let Some(a) = chosen {
        let t = |v: &Nullable<String>| v.text().map(str::to_string);
        let stored = StoredAddress {
            street_address: t(&a.street_address),
            locality: t(&a.locality),
            region: t(&a.region),
            postal_code: t(&a.postal_code),
            country: t(&a.country),
        };
        d.address = (stored != StoredAddress::default()).then_some(stored);
    }
}

fn merge_manager(d: &mut StoredUser, e: &Enterprise) -> Result<(), ApiError> {
    match &e.manager {
        Nullable::Value(m) => {
            if m.manager_id.is_missing() {
                return Err(ApiError::bad_request(
                    ErrorCode::ImproperEnterpriseSchemaFormat,
                ));
            }
            set_text(&mut d.manager_id, &m.manager_id);
        }
        Nullable::Null => d.manager_id = None,
        Nullable::Missing => {}
    }
    Ok(())
}

/// Clears the stored text attributes at the slots `at` picks.
fn clear_texts(d: &mut StoredUser, at: impl Fn(ScimSlot) -> bool) {
    for a in STORED {
        if a.slot().is_some_and(&at) {
            d.set_text(a, None);
        }
    }
}

/// The stored text attribute at a path's slot, its key compared case-insensitively.
fn stored_at(matches: impl Fn(ScimSlot) -> Option<&'static str>, key: &str) -> Option<Attribute> {
    STORED.into_iter().find(|a| {
        a.slot()
            .and_then(&matches)
            .is_some_and(|k| k.eq_ignore_ascii_case(key))
    })
}

/// The extension URNs a path may start with, and which extension each is.
const EXTENSIONS: &[(&str, &str)] = &[
    (urn::ENTERPRISE_V2, "enterprise"),
    (urn::ENTERPRISE_V1, "enterprise"),
    (urn::GUEST_V2, "guest"),
    (urn::GUEST_V1, "guest"),
    (urn::PROFILE_V2, "profile"),
    (urn::PROFILE_V1, "profile"),
];

/// Splits `urn…:User:employeeNumber` or `urn…:User.manager.managerId` (both separators are
/// in Slack's examples) into the extension and its sub-path.
fn split_extension(path: &str) -> Option<(&'static str, &'static str, String)> {
    for (u, ext) in EXTENSIONS {
        if path.len() >= u.len() && path[..u.len()].eq_ignore_ascii_case(u) {
            let rest = &path[u.len()..];
            let sub = rest.strip_prefix([':', '.']).unwrap_or(rest);
            if !rest.is_empty() && !rest.starts_with([':', '.']) {
                continue;
            }
            return Some((u, ext, sub.to_string()));
        }
    }
    None
}

/// Clears one attribute by path (v1 `meta.attributes`, v2 `remove` without a filter).
fn clear_path(d: &mut StoredUser, path: &str) -> Result<(), ApiError> {
    let unknown = || ApiError::payload(format!("unknown path {path}"));
    if let Some((_, ext, sub)) = split_extension(path) {
        let sub = sub.to_ascii_lowercase();
        match (ext, sub.as_str()) {
            ("enterprise", "") => {
                clear_texts(d, |s| matches!(s, ScimSlot::Enterprise(_)));
                d.manager_id = None;
            }
            ("enterprise", "manager" | "manager.managerid") => d.manager_id = None,
            ("guest", "") => d.guest = None,
            ("guest", "expiration") => {
                if let Some(g) = d.guest.as_mut() {
                    g.expiration = None;
                }
            }
            ("profile", "") => clear_texts(d, |s| matches!(s, ScimSlot::Profile(_))),
            (ext, key) => {
                let slot_key = |s| match (ext, s) {
                    ("enterprise", ScimSlot::Enterprise(k)) | ("profile", ScimSlot::Profile(k)) => {
                        Some(k)
                    }
                    _ => None,
                };
                let a = stored_at(slot_key, key).ok_or_else(unknown)?;
                d.set_text(a, None);
            }
        }
        return Ok(());
    }
    match path.to_ascii_lowercase().as_str() {
        "name" => {
            clear_texts(
                d,
                |s| matches!(s, ScimSlot::Core(p) if p.starts_with("name.")),
            );
            d.honorific_prefix = None;
        }
        "name.honorificprefix" => d.honorific_prefix = None,
        // `remove` on emails removes only the secondary (the primary cannot go).
        "emails" => d.secondary_email = None,
        "phonenumbers" => {
            d.primary_phone = None;
            d.mobile_phone = None;
        }
        "addresses" | "address" => d.address = None,
        "roles" => d.role_title = None,
        "photos" => d.photo = None,
        "username" | "nickname" => return Err(ApiError::bad_request(ErrorCode::UsernameEmpty)),
        "active" => d.active = false,
        _ => {
            let core = |s| match s {
                ScimSlot::Core(p) => Some(p),
                _ => None,
            };
            let a = stored_at(core, path).ok_or_else(unknown)?;
            d.set_text(a, None);
        }
    }
    Ok(())
}

/// Nests `value` under a dotted path: `name.givenName` → `{"name":{"givenName":v}}`, and an
/// extension sub-path under its URN.
fn nest(path: &str, value: Value) -> Value {
    if let Some((u, _, sub)) = split_extension(path) {
        let inner = if sub.is_empty() {
            value
        } else {
            nest(&sub, value)
        };
        return json!({ u: inner });
    }
    let mut out = value;
    for key in path.rsplit('.') {
        let mut m = Map::new();
        m.insert(canonical_key(key), out);
        out = Value::Object(m);
    }
    out
}

/// Attribute names are case-insensitive; the typed body wants Slack's spelling: the keys
/// the emulator knows itself, then those of the table's slots (`givenName`, `costCenter`).
fn canonical_key(key: &str) -> String {
    const KEYS: &[&str] = &[
        "userName",
        "nickName",
        "name",
        "honorificPrefix",
        "profileUrl",
        "active",
        "emails",
        "photos",
        "addresses",
        "phoneNumbers",
        "roles",
        "manager",
        "managerId",
        "expiration",
        "type",
        "externalId",
        "password",
    ];
    let table = Attribute::TEXT
        .into_iter()
        .filter_map(|a| match a.slot()? {
            ScimSlot::Core(path)
            | ScimSlot::Enterprise(path)
            | ScimSlot::Profile(path)
            | ScimSlot::Address(path) => Some(path),
            ScimSlot::PrimaryPhone
            | ScimSlot::MobilePhone
            | ScimSlot::SecondaryEmail
            | ScimSlot::Role
            | ScimSlot::Photo => None,
        })
        .flat_map(|path| path.split('.'));
    KEYS.iter()
        .copied()
        .chain(table)
        .find(|k| k.eq_ignore_ascii_case(key))
        .map_or_else(|| key.to_string(), str::to_string)
}

/// One v2 PatchOp operation (FACTS §2.4).
fn apply_operation(
    d: &mut StoredUser,
    op: &str,
    path: Option<&str>,
    value: Option<&Value>,
) -> Result<(), ApiError> {
    let op = op.to_ascii_lowercase();
    if !matches!(op.as_str(), "add" | "replace" | "remove") {
        return Err(ApiError::payload(format!("unknown op {op}")));
    }
    let Some(path) = path.map(str::trim).filter(|p| !p.is_empty()) else {
        // No path: the value is a partial resource.
        if op == "remove" {
            return Err(ApiError::payload("remove needs a path"));
        }
        let v = value.ok_or_else(|| ApiError::payload("missing value"))?;
        let u = parse_user(v)?;
        reject_password(&u)?;
        return merge(d, &u, Mode::Merge);
    };

    if let Some(open) = path.find('[') {
        return apply_filtered(d, &op, path, open, value);
    }

    if op == "remove" {
        return clear_path(d, path);
    }
    let mut v = value
        .cloned()
        .ok_or_else(|| ApiError::payload("missing value"))?;
    let lower = path.to_ascii_lowercase();
    let multi = matches!(
        lower.as_str(),
        "emails" | "phonenumbers" | "photos" | "addresses" | "roles"
    );
    if multi && !v.is_array() {
        v = Value::Array(vec![v]); // `add` accepts a single object or an array
    }
    if op == "replace" && multi {
        match lower.as_str() {
            "emails" => {
                d.email.clear();
                d.secondary_email = None;
            }
            other => clear_path(d, other)?,
        }
    }
    let u = parse_user(&nest(path, v))?;
    reject_password(&u)?;
    merge(d, &u, Mode::Merge)
}

/// A stored multi-valued entry as a filter sees it.
struct Entry {
    value: String,
    kind: Option<&'static str>,
    primary: bool,
}

impl Filterable for Entry {
    fn values(&self, attr: &str) -> Option<Vec<String>> {
        Some(match attr {
            "value" => vec![self.value.clone()],
            "type" => self.kind.map(|k| vec![k.to_string()]).unwrap_or_default(),
            "primary" => vec![self.primary.to_string()],
            _ => return None,
        })
    }
}

/// `emails[primary eq false]`, `emails[value eq "x"]`, `phoneNumbers[value eq "1"].value`…
fn apply_filtered(
    d: &mut StoredUser,
    op: &str,
    path: &str,
    open: usize,
    value: Option<&Value>,
) -> Result<(), ApiError> {
    let attr = path[..open].to_ascii_lowercase();
    let close = path
        .rfind(']')
        .ok_or_else(|| ApiError::bad_request(ErrorCode::InvalidFilterGroup))?;
    let expr = filter::parse(&path[open + 1..close])?;
    let sub = path[close + 1..]
        .trim_start_matches('.')
        .to_ascii_lowercase();
    let new_value = match value {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Object(o)) => o.get("value").and_then(Value::as_str).map(str::to_string),
        _ => None,
    };
    if op != "remove" && new_value.is_none() {
        return Err(ApiError::payload("missing value"));
    }
    if !sub.is_empty() && sub != "value" {
        return Err(ApiError::payload(format!(
            "unsupported sub-attribute {sub}"
        )));
    }
    let replacement = if op == "remove" { None } else { new_value };
    // A stored value the filter matches, seen as the entry a read shows, is replaced.
    let update = |slot: &mut Option<String>, kind: Option<&'static str>, primary: bool| {
        let Some(value) = slot.clone() else { return };
        if expr.matches(&Entry {
            value,
            kind,
            primary,
        }) {
            slot.clone_from(&replacement);
        }
    };
    match attr.as_str() {
        "emails" => {
            let mut primary = Some(d.email.clone());
            update(&mut primary, None, true);
            update(&mut d.secondary_email, None, false);
            d.email =
                primary.ok_or_else(|| ApiError::bad_request(ErrorCode::MissingPrimaryEmail))?;
        }
        "phonenumbers" => {
            update(&mut d.mobile_phone, Some("mobile"), false);
            update(&mut d.primary_phone, None, true);
        }
        "roles" => update(&mut d.role_title, None, true),
        "photos" => update(&mut d.photo, Some("photo"), true),
        _ => {
            return Err(ApiError::payload(format!(
                "unsupported filtered path {path}"
            )));
        }
    }
    Ok(())
}

/// A stored user as filters see it (FACTS §5).
pub struct UserView<'a>(
    /// The user.
    pub &'a StoredUser,
);

impl Filterable for UserView<'_> {
    fn values(&self, attr: &str) -> Option<Vec<String>> {
        let u = self.0;
        let flag = |b: bool| vec![if b { "1" } else { "0" }.to_string()];
        Some(match attr {
            "username" | "nickname" => vec![u.user_name.clone()],
            "email" | "emails" | "emails.value" => std::iter::once(u.email.clone())
                .chain(u.secondary_email.clone())
                .collect(),
            "restricted" => flag(u.guest.as_ref().is_some_and(|g| !g.single_channel)),
            "ultra_restricted" => flag(u.guest.as_ref().is_some_and(|g| g.single_channel)),
            "id" => vec![u.id.clone()],
            "active" => vec![u.active.to_string()],
            "displayname" => u
                .core_text("displayName")
                .map(str::to_string)
                .into_iter()
                .collect(),
            "externalid" => vec![String::new()],
            _ => return None,
        })
    }
}

/// Whether a filter attribute exists on users.
pub fn is_user_filter_attr(attr: &str) -> bool {
    UserView(&StoredUser::default()).values(attr).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::emulator::store::StoredGuest;
    use crate::model::Attribute as A;

    fn owner_token() -> Rules {
        Rules::default()
    }

    fn admin_token() -> Rules {
        crate::emulator::EmulatorConfig {
            token_role: TokenRole::Admin,
            ..crate::emulator::EmulatorConfig::default()
        }
        .rules()
    }

    fn org() -> Store {
        Store::new('U', 3)
    }

    fn guest(expiration: Option<&str>) -> StoredGuest {
        StoredGuest {
            expiration: expiration.map(str::to_string),
            single_channel: false,
        }
    }

    fn post(store: &mut Store, body: &Value) -> Result<String, ApiError> {
        create(store, body, &owner_token())
    }

    fn ada(store: &mut Store) -> String {
        post(
            store,
            &json!({"schemas":[urn::CORE_V1],"userName":"Ada","emails":[{"value":"ada@example.com"}],
                   "name":{"givenName":"Ada","familyName":"Lovelace"}}),
        )
        .unwrap()
    }

    #[test]
    fn create_lower_cases_and_defaults() {
        let mut s = org();
        let id = ada(&mut s);
        let u = s.user(&id).unwrap();
        assert_eq!(u.user_name, "ada");
        assert!(u.active);
        assert_eq!(u.text(A::Timezone), Some(DEFAULT_TIMEZONE));
    }

    #[test]
    fn phone_mapping_swaps_types() {
        let mut s = org();
        let id = post(
            &mut s,
            &json!({"schemas":[urn::USER_V2],"userName":"p","emails":[{"value":"p@x.com"}],
                   "phoneNumbers":[{"value":"555-5555","type":"work"},{"value":"555-4444","type":"mobile"}]}),
        )
        .unwrap();
        let u = s.user(&id).unwrap();
        assert_eq!(u.mobile_phone.as_deref(), Some("555-5555"));
        assert_eq!(u.primary_phone.as_deref(), Some("555-4444"));
    }

    #[test]
    fn v1_patch_deletes_entries_and_attributes() {
        let mut s = org();
        let id = ada(&mut s);
        patch(&mut s, Version::V1, &id,
              &json!({"schemas":[urn::CORE_V1],"title":"Eng","emails":[{"value":"a2@example.com","primary":false}],
                      "urn:scim:schemas:extension:enterprise:1.0":{"department":"R&D"}}),
              &owner_token()).unwrap();
        let u = s.user(&id).unwrap();
        assert_eq!(u.secondary_email.as_deref(), Some("a2@example.com"));
        assert_eq!(u.text(A::Department), Some("R&D"));
        patch(&mut s, Version::V1, &id,
              &json!({"schemas":[urn::CORE_V1],"emails":[{"value":"a2@example.com","operation":"delete"}],
                      "meta":{"attributes":["title","urn:scim:schemas:extension:enterprise:1.0.department"]}}),
              &owner_token()).unwrap();
        let u = s.user(&id).unwrap();
        assert_eq!(u.secondary_email, None);
        assert_eq!(u.text(A::Title), None);
        assert_eq!(u.text(A::Department), None);
        assert!(s.email_holder("a2@example.com").is_none());
    }

    #[test]
    fn v2_paths() {
        let mut s = org();
        let id = ada(&mut s);
        let ops = |ops: Value| json!({"schemas":[urn::PATCH_OP_V2],"Operations":ops});
        patch(&mut s, Version::V2, &id, &ops(json!([
            {"op":"Replace","path":"title","value":"Lead"},
            {"op":"add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber","value":"E1"},
            {"op":"add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User.manager.managerId","value":"ada@example.com"},
            {"op":"replace","path":"name.givenName","value":"Augusta"},
            {"op":"add","path":"emails","value":{"value":"second@example.com","primary":false}},
            {"op":"add","path":"phoneNumbers","value":[{"value":"1","type":"mobile"},{"value":"2","type":"work"}]},
        ])), &owner_token()).unwrap();
        let u = s.user(&id).unwrap().clone();
        assert_eq!(u.text(A::Title), Some("Lead"));
        assert_eq!(u.text(A::EmployeeNumber), Some("E1"));
        assert_eq!(u.manager_id.as_deref(), Some(id.as_str()));
        assert_eq!(u.text(A::GivenName), Some("Augusta"));
        assert_eq!(u.text(A::FamilyName), Some("Lovelace"));
        assert_eq!(u.secondary_email.as_deref(), Some("second@example.com"));
        patch(&mut s, Version::V2, &id, &ops(json!([
            {"op":"replace","path":"phoneNumbers[value eq \"1\"].value","value":"9"},
            {"op":"remove","path":"emails[primary eq false]"},
            {"op":"remove","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber"},
        ])), &owner_token()).unwrap();
        let u = s.user(&id).unwrap();
        assert_eq!(u.primary_phone.as_deref(), Some("9"));
        assert_eq!(u.secondary_email, None);
        assert_eq!(u.text(A::EmployeeNumber), None);
        let err = patch(
            &mut s,
            Version::V2,
            &id,
            &ops(json!([{"op":"remove","path":"emails[value eq \"ada@example.com\"]"}])),
            &owner_token(),
        )
        .unwrap_err();
        assert_eq!(err.description, "missing_primary_email");
    }

    /// Slack keeps nickName equal to userName (FACTS TL;DR 5): the emulator keeps one name
    /// under both keys, so writing either renames the user and a read shows both, and
    /// neither can be removed.
    #[test]
    fn a_nickname_write_renames_the_user() {
        let mut s = org();
        let id = ada(&mut s);
        let ops = |ops: Value| json!({"schemas":[urn::PATCH_OP_V2],"Operations":ops});
        patch(
            &mut s,
            Version::V2,
            &id,
            &ops(json!([{"op":"replace","path":"nickname","value":"Ada.L"}])),
            &owner_token(),
        )
        .unwrap();
        let u = s.user(&id).unwrap();
        assert_eq!(u.user_name, "ada.l", "normalised as a userName");
        assert_eq!(u.text(A::Nickname), Some("ada.l"));
        patch(
            &mut s,
            Version::V1,
            &id,
            &json!({"schemas":[urn::CORE_V1],"nickName":"countess"}),
            &owner_token(),
        )
        .unwrap();
        assert_eq!(s.user(&id).unwrap().user_name, "countess");
        let err = patch(
            &mut s,
            Version::V2,
            &id,
            &ops(json!([{"op":"remove","path":"nickName"}])),
            &owner_token(),
        )
        .unwrap_err();
        assert_eq!(err.description, "username_empty");
        let id = post(
            &mut s,
            &json!({"schemas":[urn::CORE_V1],"userName":"lin","nickName":"lin",
                   "emails":[{"value":"lin@example.com"}]}),
        )
        .unwrap();
        assert_eq!(s.user(&id).unwrap().text(A::Nickname), Some("lin"));
    }

    #[test]
    fn uniqueness_includes_deactivated_accounts() {
        let mut s = org();
        let id = ada(&mut s);
        deactivate(&mut s, &id, &owner_token()).unwrap();
        deactivate(&mut s, &id, &owner_token()).unwrap(); // idempotent
        let err = post(&mut s, &json!({"schemas":[urn::CORE_V1],"userName":"other","emails":[{"value":"ADA@example.com"}]})).unwrap_err();
        assert_eq!(
            (err.status, err.description.as_str()),
            (409, "email_taken (email=ADA@example.com)")
        );
        let err = post(
            &mut s,
            &json!({"schemas":[urn::CORE_V1],"userName":"ADA","emails":[{"value":"x@example.com"}]}),
        )
        .unwrap_err();
        assert_eq!(
            (err.status, err.description.as_str()),
            (409, "username_taken (username=ada)")
        );
    }

    #[test]
    fn put_blanks_what_is_not_sent() {
        let mut s = org();
        let id = ada(&mut s);
        patch(
            &mut s,
            Version::V1,
            &id,
            &json!({"schemas":[urn::CORE_V1],"title":"Eng","displayName":"ada"}),
            &owner_token(),
        )
        .unwrap();
        replace(&mut s, &id, &json!({"schemas":[urn::CORE_V1],"userName":"ada","emails":[{"value":"ada@example.com"}]}), &owner_token()).unwrap();
        let u = s.user(&id).unwrap();
        assert_eq!(u.text(A::Title), None);
        assert_eq!(u.text(A::DisplayName), None);
        assert!(!u.active, "PUT without active deactivates");
        assert_eq!(u.text(A::GivenName), Some("Ada"), "the name survives");
    }

    #[test]
    fn protected_accounts() {
        let mut s = Store::default_org('U', 1);
        let owner = s.user_by_user_name("primary-owner").unwrap().id.clone();
        let bot = s.user_by_user_name("scimsync-bot").unwrap().id.clone();
        assert_eq!(
            deactivate(&mut s, &owner, &owner_token())
                .unwrap_err()
                .description,
            "cannot_disable_primary_owner"
        );
        assert_eq!(
            deactivate(&mut s, &bot, &owner_token())
                .unwrap_err()
                .description,
            "cannot_disable_bot_user_with_scim"
        );
        let err = patch(
            &mut s,
            Version::V1,
            &owner,
            &json!({"schemas":[urn::CORE_V1],"title":"x"}),
            &admin_token(),
        )
        .unwrap_err();
        assert_eq!(err.status, 403);
    }

    #[test]
    fn name_rules() {
        let mut s = org();
        let base = |extra: Value| {
            let mut b =
                json!({"schemas":[urn::CORE_V1],"userName":"u","emails":[{"value":"u@x.com"}]});
            b.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            b
        };
        let code = |r: Result<String, ApiError>| r.unwrap_err().description;
        assert_eq!(
            code(post(&mut s, &base(json!({"userName":"a".repeat(22)})))),
            "username_too_long (user=aaaaaaaaaaaaaaaaaaaaaa)"
        );
        assert_eq!(
            code(post(&mut s, &base(json!({"userName":"here"})))),
            "username_not_allowed (user=here)"
        );
        assert_eq!(
            code(post(&mut s, &base(json!({"displayName":"a@b"})))),
            "invalid_name_specials (user=u)"
        );
        assert_eq!(
            code(post(
                &mut s,
                &base(json!({"name":{"givenName":" ","familyName":""}}))
            )),
            "invalid_name_required (user=u)"
        );
        assert_eq!(
            code(post(&mut s, &base(json!({"userName":""})))),
            "username_empty"
        );
        assert_eq!(
            code(post(
                &mut s,
                &json!({"schemas":[urn::CORE_V1],"emails":[{"value":"u@x.com"}]})
            )),
            "username_required"
        );
        assert_eq!(
            code(post(
                &mut s,
                &json!({"userName":"u","emails":[{"value":"u@x.com"}]})
            )),
            "missing_schema_element"
        );
        assert_eq!(
            code(post(&mut s, &base(json!({"emails":[{"value":"nope"}]})))),
            "email_invalid (email=nope)"
        );
        let id = post(&mut s, &base(json!({"userName":"Some.One@Example.com"}))).unwrap();
        assert_eq!(s.user(&id).unwrap().user_name, "some.one");
    }

    #[test]
    fn guest_conversion_reactivates() {
        let mut s = org();
        let id = ada(&mut s);
        deactivate(&mut s, &id, &owner_token()).unwrap();
        patch(&mut s, Version::V1, &id,
              &json!({"schemas":[urn::CORE_V1, urn::GUEST_V1],
                      "urn:scim:schemas:extension:slack:guest:1.0":{"type":"multi","expiration":"2030-01-01T00:00:00Z"}}),
              &owner_token()).unwrap();
        let u = s.user(&id).unwrap();
        assert!(u.active);
        assert_eq!(u.guest, Some(guest(Some("2030-01-01T00:00:00Z"))));
    }

    /// Slack creates a custom profile field the first time a user has a value for it, up to
    /// 50 with those the organisation had: the write needing the 51st is refused, naming it;
    /// a value for a field that exists is not.
    #[test]
    fn the_51st_custom_profile_field_is_refused() {
        let mut store = org();
        let mut rules = Rules::default();
        rules.custom_profile_fields = 48;
        let body = |name: &str, extra: Value| {
            let mut b = json!({"schemas":[urn::CORE_V1, urn::ENTERPRISE_V1],"userName":name,
                               "emails":[{"value":format!("{name}@example.com")}]});
            b.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            b
        };
        create(
            &mut store,
            &body("a", json!({"title":"Lead","userType":"Employee"})),
            &rules,
        )
        .unwrap();
        assert_eq!(store.profile_fields_created(), 2);
        // Title exists: another user may use it; a third field is the 51st.
        create(&mut store, &body("b", json!({"title":"Cook"})), &rules).unwrap();
        let err = create(
            &mut store,
            &body("c", json!({"addresses":[{"locality":"Paris"}]})),
            &rules,
        )
        .unwrap_err();
        assert_eq!(err.status, 400);
        assert_eq!(
            err.description,
            "unable_to_create_team_profile_fields (field=City)"
        );
        assert!(store.user_by_email("c@example.com").is_none());
    }

    /// A value Slack was told is invalid: a create carrying it keeps its standard profile and
    /// loses its custom one (FACTS TL;DR 7); an update setting it is refused with the field's
    /// code; under strict profile errors a create is refused too.
    #[test]
    fn an_invalid_custom_value_drops_the_profile_on_create_and_is_refused_on_update() {
        let mut store = org();
        let mut rules = Rules::default();
        rules.invalid_values = vec!["phone=*x*".parse().unwrap()];
        let body = json!({"schemas":[urn::CORE_V1],"userName":"ada","emails":[{"value":"ada@example.com"}],
                          "name":{"givenName":"Ada"},"title":"Lead",
                          "phoneNumbers":[{"value":"555 x1","primary":true}]});
        let id = create(&mut store, &body, &rules).unwrap();
        let ada = store.user_by_email("ada@example.com").unwrap().clone();
        assert_eq!(ada.text(A::GivenName), Some("Ada"));
        assert_eq!(ada.text(A::Title), None, "dropped");
        assert_eq!(ada.text(A::Phone), None, "dropped");
        let set_phone =
            json!({"schemas":[urn::CORE_V1],"phoneNumbers":[{"value":"555 x1","primary":true}]});
        let err = patch(&mut store, Version::V1, &id, &set_phone, &rules).unwrap_err();
        assert_eq!(err.description, "phoneNumbers_invalid (phone=555 x1)");
        let fine = json!({"schemas":[urn::CORE_V1],"phoneNumbers":[{"value":"555 01","primary":true}],"title":"Lead"});
        patch(&mut store, Version::V1, &id, &fine, &rules).unwrap();
        assert_eq!(
            store
                .user_by_email("ada@example.com")
                .unwrap()
                .text(A::Phone),
            Some("555 01")
        );
        rules.profile_errors = ProfileErrors::Strict;
        let lin = body.to_string().replace("ada", "lin");
        let err = create(&mut store, &serde_json::from_str(&lin).unwrap(), &rules).unwrap_err();
        assert_eq!(err.description, "phoneNumbers_invalid (phone=555 x1)");
    }
}
