//! Fixture round-trips: every JSON body recorded from Slack (or from the official SDKs' samples)
//! under `tests/fixtures/slack/` (copied from `../shared/slack-scim/fixtures/`, provenance in its `SOURCES.md`) parses into the crate's SCIM types and serialises back
//! to the same JSON; the well-known keys land in typed fields rather than in `other`. The bodies
//! the emulator serves are held to the same standard.

use std::path::{Path, PathBuf};

use scimsync::directory::Attribute;
use scimsync::emulator::{StoredAddress, StoredGroup, StoredGuest, StoredUser};
use scimsync::scim::Version;
use scimsync::scim::listed_user::LeanUser;
use scimsync::scim::live::LiveUser;
use scimsync::scim::types::{
    Address, AuthenticationScheme, Capability, Enterprise, Group, Guest, ListResponse, Manager,
    Meta, MultiValue, Name, Nullable, Profile, Ref, ResourceType, RoleValue, SchemaExtension,
    ServiceProviderConfig, User, V1Error, urn,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::harness::{self, BOTH};

/// Fixture files present when this test was written; the walk must find at least these many.
const FIXTURES_AT_LEAST: usize = 21;

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/slack")
}

/// Every `*.json` below `dir`, sorted.
fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display()));
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "json") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// Which SCIM type a body is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    UserList,
    User,
    GroupList,
    Group,
    ServiceProviderConfig,
    ResourceTypes,
}

/// The type of a fixture, from its name: the Java SDK's samples are named after the request path
/// (`Users.json`, `Users/<id>.json`), python-slack-scim's after the resource (`v1_user_1.json`).
/// An unknown name is an error, so that a new fixture cannot be skipped silently.
fn kind_of(path: &Path) -> Kind {
    let name = path.file_name().unwrap().to_str().unwrap();
    let parent = path
        .parent()
        .and_then(Path::file_name)
        .and_then(|p| p.to_str())
        .unwrap_or_default();
    match (parent, name) {
        (_, "Users.json") => Kind::UserList,
        ("Users", _) => Kind::User,
        (_, "Groups.json") => Kind::GroupList,
        ("Groups", _) => Kind::Group,
        (_, "ServiceProviderConfigs.json" | "ServiceProviderConfig.json") => {
            Kind::ServiceProviderConfig
        }
        (_, "ResourceTypes.json") => Kind::ResourceTypes,
        (_, n) if n.starts_with("v1_users_") => Kind::UserList,
        (_, n) if n.starts_with("v1_user_") => Kind::User,
        (_, n) if n.starts_with("v1_groups_") => Kind::GroupList,
        (_, n) if n.starts_with("v1_group_") => Kind::Group,
        (_, n) if n.starts_with("v1_service_provider_config") => Kind::ServiceProviderConfig,
        _ => panic!(
            "{}: no SCIM type is known for this fixture name; teach `kind_of` in {} about it",
            path.display(),
            file!()
        ),
    }
}

/// The JSON paths where `a` and `b` differ, for a readable failure.
fn json_diff(a: &Value, b: &Value, path: &str, out: &mut Vec<String>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for (k, v) in x {
                match y.get(k) {
                    Some(w) => json_diff(v, w, &format!("{path}.{k}"), out),
                    None => out.push(format!("{path}.{k}: lost (was {v})")),
                }
            }
            for (k, w) in y {
                if !x.contains_key(k) {
                    out.push(format!("{path}.{k}: added ({w})"));
                }
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (v, w)) in x.iter().zip(y).enumerate() {
                json_diff(v, w, &format!("{path}[{i}]"), out);
            }
        }
        _ if a != b => out.push(format!("{path}: {a} became {b}")),
        _ => {}
    }
}

/// Parses `original` as `T`, serialises it back and requires the same JSON.
fn round_trip<T: Serialize + DeserializeOwned>(what: &str, original: &Value) -> T {
    let typed: T = serde_json::from_value(original.clone()).unwrap_or_else(|e| {
        panic!(
            "{what}: does not parse as {}: {e}",
            std::any::type_name::<T>()
        )
    });
    let back = serde_json::to_value(&typed).unwrap();
    let mut diff = Vec::new();
    json_diff(original, &back, "$", &mut diff);
    assert!(
        diff.is_empty() && back == *original,
        "{what}: round trip through {} changed the body:\n  {}",
        std::any::type_name::<T>(),
        diff.join("\n  ")
    );
    typed
}

/// Checks that the keys a type models were read into its typed fields: none of `modelled` may
/// sit in `other` (a renamed or dropped field would park its key there and still round-trip).
struct Audit {
    problems: Vec<String>,
}

impl Audit {
    fn new() -> Audit {
        Audit {
            problems: Vec::new(),
        }
    }

    fn other(&mut self, path: &str, other: &Map<String, Value>, modelled: &[&str]) {
        for key in other.keys() {
            if modelled.contains(&key.as_str()) {
                self.problems.push(format!(
                    "{path}: `{key}` went to `other`, not a typed field"
                ));
            }
        }
    }

    fn finish(self, what: &str) {
        assert!(
            self.problems.is_empty(),
            "{what}:\n  {}",
            self.problems.join("\n  ")
        );
    }
}

/// The typed sub-objects of a resource, walked for [`Audit`].
trait Audited {
    fn audit(&self, path: &str, a: &mut Audit);
}

impl<T: Audited> Audited for Nullable<T> {
    fn audit(&self, path: &str, a: &mut Audit) {
        if let Some(v) = self.value() {
            v.audit(path, a);
        }
    }
}

impl<T: Audited> Audited for Vec<T> {
    fn audit(&self, path: &str, a: &mut Audit) {
        for (i, v) in self.iter().enumerate() {
            v.audit(&format!("{path}[{i}]"), a);
        }
    }
}

impl Audited for Meta {
    fn audit(&self, path: &str, a: &mut Audit) {
        a.other(
            path,
            &self.other,
            &[
                "created",
                "location",
                "resourceType",
                "lastModified",
                "version",
                "attributes",
            ],
        );
    }
}

impl Audited for Name {
    fn audit(&self, path: &str, a: &mut Audit) {
        a.other(
            path,
            &self.other,
            &["givenName", "familyName", "honorificPrefix", "formatted"],
        );
    }
}

impl Audited for MultiValue {
    fn audit(&self, path: &str, a: &mut Audit) {
        a.other(
            path,
            &self.other,
            &["value", "display", "type", "primary", "operation"],
        );
    }
}

impl Audited for RoleValue {
    fn audit(&self, path: &str, a: &mut Audit) {
        if let RoleValue::Entry(e) = self {
            e.audit(path, a);
        }
    }
}

impl Audited for Address {
    fn audit(&self, path: &str, a: &mut Audit) {
        a.other(
            path,
            &self.other,
            &[
                "streetAddress",
                "locality",
                "region",
                "postalCode",
                "country",
                "formatted",
                "type",
                "primary",
                "operation",
            ],
        );
    }
}

impl Audited for Ref {
    fn audit(&self, path: &str, a: &mut Audit) {
        a.other(
            path,
            &self.other,
            &["value", "display", "$ref", "type", "operation"],
        );
    }
}

impl Audited for Manager {
    fn audit(&self, path: &str, a: &mut Audit) {
        a.other(path, &self.other, &["managerId", "displayName", "value"]);
    }
}

impl Audited for Enterprise {
    fn audit(&self, path: &str, a: &mut Audit) {
        a.other(
            path,
            &self.other,
            &[
                "employeeNumber",
                "costCenter",
                "organization",
                "division",
                "department",
                "manager",
            ],
        );
        self.manager.audit(&format!("{path}.manager"), a);
    }
}

impl Audited for Guest {
    fn audit(&self, path: &str, a: &mut Audit) {
        a.other(path, &self.other, &["type", "expiration", "channels"]);
        self.channels.audit(&format!("{path}.channels"), a);
    }
}

impl Audited for Profile {
    fn audit(&self, path: &str, a: &mut Audit) {
        a.other(path, &self.other, &["startDate"]);
    }
}

impl Audited for V1Error {
    fn audit(&self, path: &str, a: &mut Audit) {
        a.other(path, &self.other, &["description", "code"]);
    }
}

impl Audited for User {
    fn audit(&self, path: &str, a: &mut Audit) {
        a.other(
            path,
            &self.other,
            &[
                "schemas",
                "id",
                "externalId",
                "meta",
                "userName",
                "nickName",
                "name",
                "displayName",
                "profileUrl",
                "title",
                "timezone",
                "active",
                "password",
                "emails",
                "photos",
                "addresses",
                "phoneNumbers",
                "userType",
                "roles",
                "preferredLanguage",
                "locale",
                "groups",
                urn::ENTERPRISE_V1,
                urn::ENTERPRISE_V2,
                urn::GUEST_V1,
                urn::GUEST_V2,
                urn::PROFILE_V1,
                urn::PROFILE_V2,
                "Errors",
            ],
        );
        self.meta.audit(&format!("{path}.meta"), a);
        self.name.audit(&format!("{path}.name"), a);
        self.emails.audit(&format!("{path}.emails"), a);
        self.photos.audit(&format!("{path}.photos"), a);
        self.addresses.audit(&format!("{path}.addresses"), a);
        self.phone_numbers.audit(&format!("{path}.phoneNumbers"), a);
        self.roles.audit(&format!("{path}.roles"), a);
        self.groups.audit(&format!("{path}.groups"), a);
        self.enterprise_v1
            .audit(&format!("{path}.{}", urn::ENTERPRISE_V1), a);
        self.enterprise_v2
            .audit(&format!("{path}.{}", urn::ENTERPRISE_V2), a);
        self.guest_v1.audit(&format!("{path}.{}", urn::GUEST_V1), a);
        self.guest_v2.audit(&format!("{path}.{}", urn::GUEST_V2), a);
        self.profile_v1
            .audit(&format!("{path}.{}", urn::PROFILE_V1), a);
        self.profile_v2
            .audit(&format!("{path}.{}", urn::PROFILE_V2), a);
        self.errors.audit(&format!("{path}.Errors"), a);
    }
}

impl Audited for Group {
    fn audit(&self, path: &str, a: &mut Audit) {
        a.other(
            path,
            &self.other,
            &[
                "schemas",
                "id",
                "externalId",
                "displayName",
                "members",
                "meta",
                "Errors",
            ],
        );
        self.members.audit(&format!("{path}.members"), a);
        self.meta.audit(&format!("{path}.meta"), a);
        self.errors.audit(&format!("{path}.Errors"), a);
    }
}

impl<T: Audited> Audited for ListResponse<T> {
    fn audit(&self, path: &str, a: &mut Audit) {
        a.other(
            path,
            &self.other,
            &[
                "totalResults",
                "itemsPerPage",
                "startIndex",
                "schemas",
                "Resources",
                "Errors",
            ],
        );
        self.resources.audit(&format!("{path}.Resources"), a);
        self.errors.audit(&format!("{path}.Errors"), a);
    }
}

impl Audited for Capability {
    fn audit(&self, path: &str, a: &mut Audit) {
        a.other(
            path,
            &self.other,
            &["supported", "maxOperations", "maxPayloadSize", "maxResults"],
        );
    }
}

impl Audited for AuthenticationScheme {
    fn audit(&self, path: &str, a: &mut Audit) {
        a.other(
            path,
            &self.other,
            &[
                "type",
                "name",
                "description",
                "specUrl",
                "specUri",
                "documentationUri",
                "primary",
            ],
        );
    }
}

impl Audited for ServiceProviderConfig {
    fn audit(&self, path: &str, a: &mut Audit) {
        a.other(
            path,
            &self.other,
            &[
                "schemas",
                "documentationUri",
                "authenticationSchemes",
                "patch",
                "bulk",
                "filter",
                "changePassword",
                "sort",
                "etag",
                "xmlDataFormat",
                "meta",
            ],
        );
        self.authentication_schemes
            .audit(&format!("{path}.authenticationSchemes"), a);
        for (name, c) in [
            ("patch", &self.patch),
            ("bulk", &self.bulk),
            ("filter", &self.filter),
            ("changePassword", &self.change_password),
            ("sort", &self.sort),
            ("etag", &self.etag),
            ("xmlDataFormat", &self.xml_data_format),
        ] {
            c.audit(&format!("{path}.{name}"), a);
        }
        self.meta.audit(&format!("{path}.meta"), a);
    }
}

impl Audited for SchemaExtension {
    fn audit(&self, path: &str, a: &mut Audit) {
        a.other(path, &self.other, &["schema", "required"]);
    }
}

impl Audited for ResourceType {
    fn audit(&self, path: &str, a: &mut Audit) {
        a.other(
            path,
            &self.other,
            &[
                "schemas",
                "id",
                "name",
                "endpoint",
                "description",
                "schema",
                "schemaExtensions",
                "meta",
            ],
        );
        self.schema_extensions
            .audit(&format!("{path}.schemaExtensions"), a);
        self.meta.audit(&format!("{path}.meta"), a);
    }
}

/// Round trip plus audit.
fn check<T: Serialize + DeserializeOwned + Audited>(what: &str, original: &Value) -> T {
    let typed: T = round_trip(what, original);
    let mut audit = Audit::new();
    typed.audit("$", &mut audit);
    audit.finish(what);
    typed
}

// ------------------------------------------------------------------ typed sanity per kind

/// What every user body has, read through the typed fields.
fn user_basics(what: &str, u: &User) {
    assert!(u.id.value().is_some(), "{what}: id not typed");
    assert!(u.user_name.value().is_some(), "{what}: userName not typed");
    assert!(
        u.emails.value().is_some_and(|e| !e.is_empty()),
        "{what}: emails not typed"
    );
    assert!(u.active.value().is_some(), "{what}: active not typed");
    assert!(
        u.meta.value().is_some_and(|m| m.location.value().is_some()),
        "{what}: meta.location not typed"
    );
    assert!(u.schemas.value().is_some(), "{what}: schemas not typed");
}

fn group_basics(what: &str, g: &Group) {
    assert!(g.id.value().is_some(), "{what}: id not typed");
    assert!(
        g.display_name.value().is_some(),
        "{what}: displayName not typed"
    );
    assert!(g.members.value().is_some(), "{what}: members not typed");
}

fn list_basics<T>(what: &str, l: &ListResponse<T>) {
    assert!(
        !l.resources().is_empty(),
        "{what}: Resources empty or not typed"
    );
    if let Some(total) = l.total_results.value() {
        assert!(*total >= l.resources().len() as u64, "{what}: totalResults");
    }
}

fn check_file(path: &Path) -> Kind {
    let what = path
        .strip_prefix(fixtures_dir())
        .unwrap_or(path)
        .display()
        .to_string();
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{what}: {e}"));
    let original: Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{what}: not JSON: {e}"));
    let kind = kind_of(path);
    match kind {
        Kind::UserList => {
            let l: ListResponse<User> = check(&what, &original);
            list_basics(&what, &l);
            for (i, u) in l.resources().iter().enumerate() {
                user_basics(&format!("{what} Resources[{i}]"), u);
            }
        }
        Kind::User => user_basics(&what, &check::<User>(&what, &original)),
        Kind::GroupList => {
            let l: ListResponse<Group> = check(&what, &original);
            list_basics(&what, &l);
            for (i, g) in l.resources().iter().enumerate() {
                group_basics(&format!("{what} Resources[{i}]"), g);
            }
        }
        Kind::Group => group_basics(&what, &check::<Group>(&what, &original)),
        Kind::ServiceProviderConfig => {
            let spc: ServiceProviderConfig = check(&what, &original);
            let schemes = spc.authentication_schemes.value().expect("schemes typed");
            assert!(!schemes.is_empty(), "{what}: authenticationSchemes");
            for c in [&spc.patch, &spc.bulk, &spc.filter, &spc.sort, &spc.etag] {
                assert!(
                    c.value().and_then(|c| c.supported.value()).is_some(),
                    "{what}: a capability's `supported` is not typed"
                );
            }
        }
        Kind::ResourceTypes => {
            let l: ListResponse<ResourceType> = check(&what, &original);
            list_basics(&what, &l);
            for r in l.resources() {
                assert!(r.endpoint.value().is_some(), "{what}: endpoint not typed");
                assert!(
                    r.schema_extensions.value().is_some(),
                    "{what}: schemaExtensions not typed"
                );
            }
        }
    }
    kind
}

#[test]
fn every_fixture_round_trips_through_the_scim_types() {
    let dir = fixtures_dir();
    let files = json_files(&dir);
    assert!(
        files.len() >= FIXTURES_AT_LEAST,
        "found {} fixtures under {}, expected at least {FIXTURES_AT_LEAST}",
        files.len(),
        dir.display()
    );
    let kinds: Vec<Kind> = files.iter().map(|f| check_file(f)).collect();
    for kind in [
        Kind::UserList,
        Kind::User,
        Kind::GroupList,
        Kind::Group,
        Kind::ServiceProviderConfig,
        Kind::ResourceTypes,
    ] {
        assert!(kinds.contains(&kind), "no fixture of kind {kind:?}");
    }
}

#[test]
fn unknown_fixture_names_are_refused() {
    let r = std::panic::catch_unwind(|| kind_of(Path::new("x/fixture/v1_schemas_users.json")));
    assert!(r.is_err(), "an unknown fixture name must not be skipped");
}

#[test]
fn the_audit_notices_a_modelled_key_in_other() {
    // As if `title` had lost its typed field: the body would still round-trip via `other`.
    let mut u = User::default();
    u.other
        .insert("title".into(), Value::String("Analyst".into()));
    let mut name = Name::default();
    name.other
        .insert("givenName".into(), Value::String("Ada".into()));
    u.name = Nullable::Value(name);
    let mut audit = Audit::new();
    u.audit("$", &mut audit);
    assert_eq!(audit.problems.len(), 2, "{:?}", audit.problems);
}

fn fixture(rel: &str) -> Value {
    let path = fixtures_dir().join(rel);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{rel}: {e}"));
    serde_json::from_str(&text).unwrap()
}

#[test]
fn typed_fields_carry_the_fixtures_data() {
    // A real v1 user with custom-profile data: null placeholders and the enterprise extension.
    let rel = "python-slack-scim/tests/fixture/v1_user_2.json";
    let u: User = check(rel, &fixture(rel));
    assert_eq!(u.id.value().map(String::as_str), Some("W222"));
    assert_eq!(u.user_name.text(), Some("blaise.beahan"));
    let name = u.name.value().unwrap();
    assert_eq!(name.given_name.text(), Some("Blaise"));
    assert_eq!(name.honorific_prefix, Nullable::Null);
    let emails = u.emails.value().unwrap();
    assert_eq!(emails[0].value.text(), Some("blaise.beahan@example.com"));
    assert!(emails[0].primary.value().unwrap().is_true());
    assert_eq!(emails[1].value.value().map(String::as_str), Some(""));
    assert!(u.is_active());
    assert!(u.enterprise_v1.is_present() && u.enterprise_v2.is_missing());
    let ent = u.enterprise().value().expect("enterprise extension typed");
    assert_eq!(ent.employee_number, Nullable::Null);
    assert_eq!(
        ent.manager.value().map(|m| &m.manager_id),
        Some(&Nullable::Null)
    );
    let phones = u.phone_numbers.value().unwrap();
    assert_eq!(phones[0].kind.text(), Some("mobile"));
    assert_eq!(phones[0].value, Nullable::Null);
    assert_eq!(u.roles.value().unwrap()[0].value(), None);
    assert_eq!(u.user_type, Nullable::Null);
    assert!(u.other.is_empty(), "{:?}", u.other);

    // A listing with bots and groups on users.
    let rel = "python-slack-scim/tests/fixture/v1_users_1.json";
    let l: ListResponse<User> = check(rel, &fixture(rel));
    assert_eq!(
        l.resources().len() as u64,
        *l.items_per_page.value().unwrap()
    );
    assert!(l.resources().iter().all(|u| u.user_name.text().is_some()));

    // The Java SDK's v2 sample: v2 extensions under their v2 URNs.
    let rel = "java-slack-sdk/json-logs/samples/scim/v2/Users/00000000000.json";
    let u: User = check(rel, &fixture(rel));
    assert_eq!(u.id.value().map(String::as_str), Some("W00000000"));
    assert!(u.enterprise_v2.is_present() && u.enterprise_v1.is_missing());
    assert!(
        u.enterprise()
            .value()
            .is_some_and(|e| e.manager.is_present())
    );
    assert!(u.guest_v2.is_present());
    assert_eq!(
        u.guest().value().map(|g| g.kind.value().is_some()),
        Some(true)
    );
    let addr = &u.addresses.value().unwrap()[0];
    assert!(addr.street_address.is_present() && addr.primary.is_present());
    assert!(
        u.errors
            .value()
            .is_some_and(|e| e.code.value().is_some_and(Value::is_number))
    );

    // The Java SDK's v1 list sample: guest channels and the profile extension.
    let rel = "java-slack-sdk/json-logs/samples/scim/v1/Users.json";
    let l: ListResponse<User> = check(rel, &fixture(rel));
    let u = &l.resources()[0];
    let channels = u
        .guest()
        .value()
        .and_then(|g| g.channels.value())
        .expect("guest channels typed");
    assert_eq!(channels[0].value.text(), Some("C00000000"));
    assert!(
        u.profile_v1
            .value()
            .is_some_and(|p| p.start_date.is_present())
    );
    assert_eq!(u.groups.value().unwrap()[0].value.text(), Some("S00000000"));

    // Groups: members, and a body with escaped slashes.
    let rel = "python-slack-scim/tests/fixture/v1_group_3.json";
    let g: Group = check(rel, &fixture(rel));
    assert_eq!(g.display_name.text(), Some("test-group-333"));
    let m = &g.members.value().unwrap()[0];
    assert_eq!(m.value.text(), Some("M333"));
    assert_eq!(m.display.text(), Some("Michael Jackson"));
    assert_eq!(
        g.meta.value().and_then(|m| m.location.text()),
        Some("https://api.slack.com/scim/v1/Groups/S333")
    );

    let rel = "python-slack-scim/tests/fixture/v1_service_provider_configs.json";
    let spc: ServiceProviderConfig = check(rel, &fixture(rel));
    assert_eq!(
        spc.authentication_schemes.value().unwrap()[0].kind.text(),
        Some("oauthbearertoken")
    );
    assert_eq!(
        spc.filter.value().and_then(|f| f.supported.value()),
        Some(&false)
    );

    let rel = "java-slack-sdk/json-logs/samples/scim/v2/ResourceTypes.json";
    let l: ListResponse<ResourceType> = check(rel, &fixture(rel));
    assert!(
        l.resources()[0]
            .schema_extensions
            .value()
            .is_some_and(|e| e[0].required.value() == Some(&false))
    );
}

// ------------------------------------------------------------------ the emulator's own bodies

/// Puts a user with every profile field, a multi-channel guest and a group of both into the
/// emulator; returns their ids.
fn seed_bodies_org(org: &harness::Org) -> (String, String, String) {
    org.emu.with_store(|s| {
        let owner = s.user_by_user_name("primary-owner").unwrap().id.clone();
        let full = StoredUser {
            id: s.new_user_id(),
            secondary_email: Some("ada.home@example.net".into()),
            photo: Some("https://avatars.slack-edge.com/2024-04-10/ada_192.png".into()),
            honorific_prefix: Some("Countess".into()),
            address: Some(StoredAddress {
                street_address: Some("12 St James's Square".into()),
                locality: Some("London".into()),
                region: Some("Westminster".into()),
                postal_code: Some("SW1Y 4JH".into()),
                country: Some("GB".into()),
            }),
            primary_phone: Some("555-4444".into()),
            mobile_phone: Some("555-5555".into()),
            role_title: Some("Tech Lead".into()),
            manager_id: Some(owner.clone()),
            created: "2024-04-10T09:00:00+01:00".into(),
            ..StoredUser::new("ada", "ada@example.com")
                .with(Attribute::GivenName, "Ada")
                .with(Attribute::FamilyName, "Lovelace")
                .with(Attribute::DisplayName, "ada")
                .with(Attribute::Title, "Analyst")
                .with(Attribute::Timezone, "Europe/London")
                .with(Attribute::UserType, "Employee")
                .with(Attribute::PreferredLanguage, "en")
                .with(Attribute::Locale, "en-GB")
                .with(Attribute::EmployeeNumber, "1815")
                .with(Attribute::CostCenter, "CC-1")
                .with(Attribute::Organization, "Analytical")
                .with(Attribute::Division, "Engines")
                .with(Attribute::Department, "Difference")
                .with(Attribute::StartDate, "2024-04-10T00:00:00+0000")
        };
        let guest = StoredUser {
            id: s.new_user_id(),
            guest: Some(StoredGuest {
                expiration: Some("2030-11-30T23:59:59Z".into()),
                single_channel: false,
            }),
            created: "2024-04-10T09:00:00+01:00".into(),
            ..StoredUser::new("visitor", "visitor@example.org")
        };
        let (full_id, guest_id) = (full.id.clone(), guest.id.clone());
        s.insert_user(full);
        s.insert_user(guest);
        let group = StoredGroup {
            id: s.new_group_id(),
            display_name: "Engineers".into(),
            members: vec![full_id.clone(), guest_id.clone(), owner],
            auto_generated: false,
            created: "2024-04-10T09:00:00+01:00".into(),
        };
        let group_id = group.id.clone();
        s.insert_group(group);
        (full_id, guest_id, group_id)
    })
}

/// `GET path` on the emulator, which must answer 200: a label for messages, and the body.
async fn served(org: &harness::Org, v: Version, path: &str) -> (String, Value) {
    let r = org.get(v, path).await;
    assert_eq!(r.status, 200, "GET {v} {path}: {}", r.raw);
    (format!("emulator {v} GET {path}"), r.body)
}

/// A user with full profile data: every custom field typed, phones swapped.
async fn check_full_user(org: &harness::Org, v: Version, full_id: &str, group_id: &str) {
    let (what, body) = served(org, v, &format!("Users/{full_id}")).await;
    let u: User = check(&what, &body);
    user_basics(&what, &u);
    assert_eq!(u.user_name.text(), Some("ada"));
    let ent = u
        .enterprise()
        .value()
        .unwrap_or_else(|| panic!("{what}: enterprise"));
    assert_eq!(ent.employee_number.text(), Some("1815"));
    assert_eq!(ent.department.text(), Some("Difference"));
    assert!(
        ent.manager
            .value()
            .is_some_and(|m| m.manager_id.text().is_some())
    );
    let (typed_ent, other_ent) = match v {
        Version::V1 => (&u.enterprise_v1, &u.enterprise_v2),
        Version::V2 => (&u.enterprise_v2, &u.enterprise_v1),
    };
    assert!(typed_ent.is_present() && other_ent.is_missing(), "{what}");
    assert_eq!(
        u.profile().value().and_then(|p| p.start_date.text()),
        Some("2024-04-10T00:00:00+0000")
    );
    let emails: Vec<_> = u
        .emails
        .value()
        .unwrap()
        .iter()
        .map(|e| e.value.text())
        .collect();
    assert_eq!(
        emails,
        [Some("ada@example.com"), Some("ada.home@example.net")]
    );
    let phones = u.phone_numbers.value().unwrap();
    assert!(
        phones
            .iter()
            .any(|p| p.kind.text() == Some("mobile") && p.value.text() == Some("555-5555")),
        "{what}: mobilePhone labelled mobile"
    );
    assert_eq!(
        u.addresses.value().unwrap()[0].locality.text(),
        Some("London")
    );
    assert_eq!(u.roles.value().unwrap()[0].value(), Some("Tech Lead"));
    assert_eq!(u.groups.value().unwrap()[0].value.text(), Some(group_id));
    assert!(u.other.is_empty(), "{what}: {:?}", u.other);
}

/// A guest: the guest extension of the right version.
async fn check_guest(org: &harness::Org, v: Version, guest_id: &str) {
    let (what, body) = served(org, v, &format!("Users/{guest_id}")).await;
    let g: User = check(&what, &body);
    user_basics(&what, &g);
    let guest = g.guest().value().unwrap_or_else(|| panic!("{what}: guest"));
    assert_eq!(guest.kind.text(), Some("multi"));
    assert_eq!(guest.expiration.text(), Some("2030-11-30T23:59:59Z"));
    match v {
        Version::V1 => assert!(g.guest_v1.is_present()),
        Version::V2 => assert!(g.guest_v2.is_present()),
    }
}

/// A group with its members.
async fn check_group(
    org: &harness::Org,
    v: Version,
    group_id: &str,
    full_id: &str,
    guest_id: &str,
) {
    let (what, body) = served(org, v, &format!("Groups/{group_id}")).await;
    let grp: Group = check(&what, &body);
    group_basics(&what, &grp);
    let members: Vec<_> = grp
        .members
        .value()
        .unwrap()
        .iter()
        .map(|m| m.value.text().unwrap().to_string())
        .collect();
    assert_eq!(members.len(), 3, "{what}");
    assert!(members.iter().any(|m| m == full_id) && members.iter().any(|m| m == guest_id));
}

/// Listings: whole, paged, filtered to nothing, and groups.
async fn check_listings(org: &harness::Org, v: Version) {
    let (what, body) = served(org, v, "Users?count=1000").await;
    let l: ListResponse<User> = check(&what, &body);
    list_basics(&what, &l);
    assert_eq!(l.resources().len(), 4, "{what}");
    assert_eq!(l.total_results.value(), Some(&4));
    for (i, u) in l.resources().iter().enumerate() {
        user_basics(&format!("{what} Resources[{i}]"), u);
    }
    let (what, body) = served(org, v, "Users?count=1&startIndex=2").await;
    let l: ListResponse<User> = check(&what, &body);
    assert_eq!(
        (
            l.items_per_page.value(),
            l.start_index.value(),
            l.resources().len()
        ),
        (Some(&1), Some(&2), 1),
        "{what}"
    );
    let (what, body) = served(org, v, "Users?filter=userName%20eq%20%22nobody%22").await;
    let l: ListResponse<User> = check(&what, &body);
    assert!(
        l.resources.is_present() && l.resources().is_empty(),
        "{what}"
    );
    let (what, body) = served(org, v, "Groups").await;
    let l: ListResponse<Group> = check(&what, &body);
    list_basics(&what, &l);
    assert_eq!(l.resources().len(), 2, "{what}");
    for (i, g) in l.resources().iter().enumerate() {
        group_basics(&format!("{what} Resources[{i}]"), g);
    }
}

/// Metadata, under both spellings, and v2's resource types.
async fn check_metadata(org: &harness::Org, v: Version) {
    for path in ["ServiceProviderConfigs", "ServiceProviderConfig"] {
        let (what, body) = served(org, v, path).await;
        let spc: ServiceProviderConfig = check(&what, &body);
        assert!(
            spc.authentication_schemes
                .value()
                .is_some_and(|s| !s.is_empty()),
            "{what}"
        );
        assert!(
            spc.patch
                .value()
                .and_then(|p| p.supported.value())
                .is_some()
        );
    }
    if v == Version::V2 {
        let (what, body) = served(org, v, "ResourceTypes").await;
        let l: ListResponse<ResourceType> = check(&what, &body);
        list_basics(&what, &l);
        let user = l
            .resources()
            .iter()
            .find(|r| r.id.text() == Some("User"))
            .unwrap_or_else(|| panic!("{what}: no User"));
        assert_eq!(user.endpoint.text(), Some("/Users"));
        let exts: Vec<_> = user
            .schema_extensions
            .value()
            .unwrap()
            .iter()
            .filter_map(|e| e.schema.text())
            .collect();
        assert!(exts.contains(&urn::ENTERPRISE_V2) && exts.contains(&urn::GUEST_V2));
    }
}

/// What the emulator serves, per version: each body must round-trip like Slack's.
#[tokio::test(flavor = "multi_thread")]
async fn emulator_bodies_round_trip_through_the_scim_types() {
    let org = harness::org().await;
    let (full_id, guest_id, group_id) = seed_bodies_org(&org);
    for v in BOTH {
        check_full_user(&org, v, &full_id, &group_id).await;
        check_guest(&org, v, &guest_id).await;
        check_group(&org, v, &group_id, &full_id, &guest_id).await;
        check_listings(&org, v).await;
        check_metadata(&org, v).await;
    }
}

// ------------------------------------------------------------ the listing's lean user decoding

/// The lean decoding of a users body (a listing or one user) against the full one: the same
/// resources, each equal to the lean view of its full decoding, and the same `LiveUser`.
/// Returns how many users it compared.
fn lean_equals_full(what: &str, raw: &[u8], list: bool) -> usize {
    let (full, lean): (Vec<User>, Vec<LeanUser<'_>>) = if list {
        let full: ListResponse<User> = serde_json::from_slice(raw).unwrap();
        let lean: ListResponse<LeanUser<'_>> = serde_json::from_slice(raw)
            .unwrap_or_else(|e| panic!("{what}: lean decoding failed: {e}"));
        (
            full.resources.into_value().unwrap_or_default(),
            lean.resources.into_value().unwrap_or_default(),
        )
    } else {
        let full: User = serde_json::from_slice(raw).unwrap();
        let lean: LeanUser<'_> = serde_json::from_slice(raw)
            .unwrap_or_else(|e| panic!("{what}: lean decoding failed: {e}"));
        (vec![full], vec![lean])
    };
    assert_eq!(full.len(), lean.len(), "{what}");
    for (i, (f, l)) in full.iter().zip(&lean).enumerate() {
        assert_eq!(&LeanUser::of(f), l, "{what} Resources[{i}]: lean view");
        assert_eq!(
            LiveUser::from_scim(f),
            LiveUser::from_lean(l),
            "{what} Resources[{i}]: LiveUser"
        );
    }
    full.len()
}

#[test]
fn the_lean_user_decoding_equals_the_full_one_on_every_recorded_body() {
    let mut users = 0;
    for path in json_files(&fixtures_dir()) {
        let raw = std::fs::read(&path).unwrap();
        let what = path.display().to_string();
        users += match kind_of(&path) {
            Kind::UserList => lean_equals_full(&what, &raw, true),
            Kind::User => lean_equals_full(&what, &raw, false),
            _ => 0,
        };
    }
    assert!(users >= 6, "compared {users} recorded users");
}

/// The emulator's listings in both dialects, with a user carrying every attribute the planner
/// reads: equal decodings, and every text attribute found (the lean decoding keeps each key
/// `Attribute::TEXT` names).
#[tokio::test(flavor = "multi_thread")]
async fn the_lean_user_decoding_equals_the_full_one_on_the_emulators_listings() {
    let org = harness::org().await;
    let (full_id, guest_id, _) = seed_bodies_org(&org);
    for v in BOTH {
        let r = org.get(v, "Users?count=1000").await;
        assert_eq!(r.status, 200, "{}", r.raw);
        let what = format!("emulator {v} Users");
        assert_eq!(lean_equals_full(&what, r.raw.as_bytes(), true), 4, "{what}");
        let lean: ListResponse<LeanUser<'_>> = serde_json::from_str(&r.raw).unwrap();
        let live: Vec<LiveUser> = lean
            .resources()
            .iter()
            .filter_map(LiveUser::from_lean)
            .collect();
        let full = live
            .iter()
            .find(|u| u.id == full_id)
            .expect("the full user");
        for a in Attribute::TEXT {
            assert!(full.text(a).is_some(), "{what}: {a} not read");
        }
        assert!(full.manager_id.is_some() && full.secondary_email.is_some());
        let guest = live.iter().find(|u| u.id == guest_id).expect("the guest");
        assert!(matches!(guest.guest, Some(Some(_))), "{what}: {guest:?}");
    }
}
