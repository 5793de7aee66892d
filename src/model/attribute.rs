//! The user attributes scimsync manages: one table ([`TABLE`]) that the directory readers, the
//! config, the planner, the SCIM layer, the emulator and the reports all read. A row is the
//! whole definition of its attribute, as a flag of ripgrep's `defs.rs` is: its names in files,
//! what it holds, its docs, its policy default ([`Spec::never_cleared`]), what Slack requires
//! of a value ([`Check`]) and, for a text or date attribute, where it lives in a SCIM user of
//! either dialect and how Slack keeps and shows it ([`Scim`]).
//!
//! Adding a text or date attribute is a variant of [`Attribute`] and a row of [`TABLE`], here,
//! and nothing else in the code: the YAML and CSV readers, the config's `attributes:` and
//! `columns:` keys, the planner, the SCIM writer (create bodies, v1 and v2 PATCH), both SCIM
//! readers (the full types and the lean listing decoding), `dump`, and the emulator — its
//! stored user, its merge of writes, its clears, its page writer and the writer's reference
//! renderer — all work from the row. Then regenerate the JSON Schemas (`scimsync schema
//! config` and `scimsync schema directory` into `config/schema/`; a test holds them current)
//! and write the row's tests. `nickname` was added so: its row, the schemas and tests.
//!
//! What a row cannot say needs code, and the row says where: a SCIM location the full types
//! ([`crate::scim::types::User`]) do not model (they model every attribute of Slack's user,
//! so only a location Slack does not have); a location with rules of its own, as an entry of
//! a list Slack keeps one or two of (the phones, [`ScimSlot::PrimaryPhone`] and
//! [`ScimSlot::MobilePhone`]: two stored, swapped on the way out; the secondary email, the
//! role, the photo — whose URL Slack answers of its own, so it is compared by what scimsync
//! last applied, [`Attribute::compared_by_memory`], as the profile URL is —, the address,
//! one entry of five parts that a write replaces whole, [`ScimSlot::Address`]) and the
//! user name, which Slack keeps under both `userName` and `nickName` (FACTS TL;DR 5: the
//! emulator stores one name, and [`Check::UserName`] holds a source's nickname to the user
//! name, so that a plan converges); and a new kind of [`Check`].

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize, Serializer};

/// A user attribute a source can set. Names are the ones used in the YAML directory, in the
/// config's attribute policy, in plans and in reports; the order is [`TABLE`]'s.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)] // Each variant is described by its row of `TABLE`.
pub enum Attribute {
    Id,
    Email,
    UserName,
    Nickname,
    SecondaryEmail,
    HonorificPrefix,
    GivenName,
    FamilyName,
    DisplayName,
    Photo,
    ProfileUrl,
    Title,
    Role,
    Phone,
    MobilePhone,
    AddressStreet,
    AddressLocality,
    AddressRegion,
    AddressPostalCode,
    AddressCountry,
    Timezone,
    Locale,
    PreferredLanguage,
    UserType,
    EmployeeNumber,
    CostCenter,
    Organization,
    Division,
    Department,
    Manager,
    StartDate,
    Guest,
    Active,
    Groups,
}

/// What an attribute holds. It decides how sources write it, where a user keeps it, how it
/// is compared and how it reaches Slack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An identity key (`id`, `email`, `user_name`): kept in fields of its own and compared
    /// by key (DESIGN §2).
    Key,
    /// Free text, kept in a user's [`TextValues`] and written to Slack where [`Scim`] says.
    Text(Scim),
    /// A calendar day, kept in a user's [`TextValues`] as `YYYY-MM-DD` and written to Slack
    /// where [`Scim`] says, the way Slack writes dates.
    Date(Scim),
    /// Another user of the directory, by email; in Slack, the enterprise manager's id.
    Manager,
    /// Multi-channel guest status, with an optional expiry.
    Guest,
    /// Whether the account is active (false for a leaver).
    Active,
    /// Names of the groups the user belongs to.
    Groups,
}

/// A text or date attribute in a SCIM user: where it is, and how Slack keeps and shows it.
/// The SCIM layer reads and writes it from [`Scim::slot`]; the emulator stores, drops and
/// renders it from all three.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scim {
    /// Where it lives, in both dialects.
    pub slot: ScimSlot,
    /// How a user body shows it (FACTS §2.9).
    pub shown: Shown,
    /// Whether Slack keeps it as a custom profile field (FACTS §2.8): a create carrying an
    /// invalid custom-profile value loses every one of them (TL;DR 7).
    pub custom: bool,
}

/// Where a text attribute lives in a SCIM user (the same path in both dialects; extensions
/// sit under the dialect's URN).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScimSlot {
    /// A core attribute, by dotted path (`title`, `name.givenName`).
    Core(&'static str),
    /// An attribute of the enterprise extension (`employeeNumber`).
    Enterprise(&'static str),
    /// An attribute of Slack's profile extension (`startDate`).
    Profile(&'static str),
    /// The value of the `phoneNumbers` entry marked primary: Slack's primaryPhone (FACTS
    /// TL;DR 1).
    PrimaryPhone,
    /// The other `phoneNumbers` entry: Slack's mobilePhone, written with `type: work` and
    /// shown with `type: mobile` (FACTS TL;DR 1).
    MobilePhone,
    /// The `emails` entry not marked primary: Slack keeps two emails (FACTS §2.3).
    SecondaryEmail,
    /// The value of the one `roles` entry Slack keeps (FACTS §2.3).
    Role,
    /// The value of the one `photos` entry Slack keeps (FACTS §2.2): Slack may answer a URL
    /// of its own and shows a change late, so a photo is compared by what scimsync last
    /// applied ([`Attribute::compared_by_memory`]).
    Photo,
    /// A part of the one `addresses` entry Slack keeps (FACTS §2.3), by its key in the entry
    /// (`streetAddress`, `locality`, …). Slack stores one address, so a write of any part
    /// carries every part (`crate::plan`), and a clear of every part removes it.
    Address(&'static str),
}

/// How Slack shows a text attribute in a user body (FACTS §2.9).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shown {
    /// In every body, `""` when unset (`displayName`, `name.givenName`, `title`).
    Always,
    /// Only in the bodies of users with custom-profile data, `null` when unset; a value makes
    /// its user one of them (`userType`, the enterprise extension's keys, the primary phone).
    WithProfileData,
    /// Only when set (the profile extension's `startDate`).
    WhenSet,
}

/// What Slack requires of a text value, checked as a directory is loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// Any text.
    Free,
    /// Slack's display-name rules (FACTS §2.2): at most 80 characters, no `@`.
    DisplayName,
    /// Slack's rules for a given or family name.
    PersonName,
    /// The user name under another SCIM name: Slack keeps the two equal (`nickName`, FACTS
    /// TL;DR 5), so a value must be the user name Slack will hold for the person — the
    /// `user_name` given, else the one derived from the email — compared as user names are,
    /// and is kept as Slack spells it.
    UserName,
    /// Slack's rule for a photo (FACTS §2.2): a public URL or a `data:` URL — so an
    /// `http(s)://` URL with a host, or `data:` with its `,`.
    PhotoUrl,
}

impl Check {
    /// Whether `value` is a photo Slack takes ([`Check::PhotoUrl`]).
    pub fn is_photo_url(value: &str) -> bool {
        let lower = value.trim().to_ascii_lowercase();
        if let Some(data) = lower.strip_prefix("data:") {
            return data.contains(',');
        }
        ["https://", "http://"].iter().any(|scheme| {
            lower
                .strip_prefix(scheme)
                .and_then(|rest| rest.split(['/', '?', '#']).next())
                .is_some_and(|host| !host.is_empty() && !host.contains(char::is_whitespace))
        })
    }
}

/// One row of [`TABLE`]: everything scimsync knows about an attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spec {
    /// The attribute this row describes.
    pub attribute: Attribute,
    /// The name in YAML directories, in the attribute policy, in plans and in reports.
    pub name: &'static str,
    /// What the attribute holds.
    pub kind: Kind,
    /// Whether the config's `attributes:` policy may set how it is kept in sync.
    pub policy: bool,
    /// What Slack requires of a text value (checked as a directory is loaded).
    pub check: Check,
    /// Why a blank value in a source can never clear Slack's (so `blank: clear` is refused),
    /// if it cannot: Slack needs the value, or clearing it would unmatch or demote accounts.
    pub never_cleared: Option<&'static str>,
    /// The key that maps a CSV header to it under a source's `columns:`.
    pub column: &'static str,
    /// One line for people: what the value is (used for the JSON Schemas' descriptions).
    pub doc: &'static str,
}

const fn row(
    attribute: Attribute,
    name: &'static str,
    kind: Kind,
    policy: bool,
    doc: &'static str,
) -> Spec {
    Spec {
        attribute,
        name,
        kind,
        policy,
        check: Check::Free,
        never_cleared: None,
        column: name,
        doc,
    }
}

const fn text(attribute: Attribute, name: &'static str, scim: Scim, doc: &'static str) -> Spec {
    row(attribute, name, Kind::Text(scim), true, doc)
}

/// A core attribute of Slack's standard profile: in every body, kept when a create's custom
/// profile is dropped.
const fn standard(path: &'static str) -> Scim {
    Scim {
        slot: ScimSlot::Core(path),
        shown: Shown::Always,
        custom: false,
    }
}

/// A custom profile field (FACTS §2.8): shown only on users with custom-profile data, except
/// the profile extension's keys, shown when set.
const fn custom(slot: ScimSlot) -> Scim {
    Scim {
        slot,
        shown: match slot {
            ScimSlot::Profile(_) => Shown::WhenSet,
            _ => Shown::WithProfileData,
        },
        custom: true,
    }
}

/// Why a person's name is never cleared.
const NAME_REQUIRED: Option<&str> = Some("a name is never cleared (Slack requires one)");

/// Why a key or a status has no blank rule.
const NO_BLANK_RULE: Option<&str> = Some("it has no blank rule");

use Attribute as A;
use ScimSlot::{
    Address, Core, Enterprise, MobilePhone, Photo, PrimaryPhone, Profile, Role, SecondaryEmail,
};

/// The prefix of the address parts' names (`address.street`): a directory writes them as one
/// `address:` mapping of the parts ([`Attribute::address_part`]).
pub const ADDRESS: &str = "address";

/// An address part's row: a custom profile field (FACTS §2.8), in a directory under
/// `address:` as `part`.
const fn address(
    attribute: Attribute,
    name: &'static str,
    key: &'static str,
    doc: &'static str,
) -> Spec {
    text(attribute, name, custom(Address(key)), doc)
}

/// The attributes, in [`Attribute`]'s order, which is the order plans and reports list them.
pub const TABLE: &[Spec] = &[
    Spec {
        never_cleared: Some("Slack requires a user name"),
        ..row(
            A::Id,
            "id",
            Kind::Key,
            false,
            "Slack user id (U… or W…), e.g. from `scimsync dump`; the strongest match key.",
        )
    },
    Spec {
        never_cleared: Some("Slack requires a user name"),
        ..row(
            A::Email,
            "email",
            Kind::Key,
            false,
            "Primary email; unique case-insensitively.",
        )
    },
    Spec {
        never_cleared: Some("Slack requires a user name"),
        ..row(
            A::UserName,
            "user_name",
            Kind::Key,
            true,
            "Slack username: at most 21 of a-z 0-9 . _ - (lower-cased), not reserved. Default: derived from the email the way Slack does.",
        )
    },
    Spec {
        check: Check::UserName,
        never_cleared: Some("Slack requires a nickname (it is the user name)"),
        ..text(
            A::Nickname,
            "nickname",
            standard("nickName"),
            "Slack's nickName, which Slack keeps equal to the user name: it must be the user name Slack will hold (user_name, or the one derived from the email).",
        )
    },
    text(
        A::SecondaryEmail,
        "secondary_email",
        // Slack keeps two emails; the secondary is part of the standard profile, and a user
        // body with custom-profile data shows an empty placeholder for it (FACTS §2.3).
        Scim {
            slot: SecondaryEmail,
            shown: Shown::Always,
            custom: false,
        },
        "A second email Slack keeps beside the primary one.",
    ),
    text(
        A::HonorificPrefix,
        "honorific_prefix",
        custom(Core("name.honorificPrefix")),
        "Honorific prefix (name.honorificPrefix), e.g. Dr.",
    ),
    Spec {
        check: Check::PersonName,
        never_cleared: NAME_REQUIRED,
        ..text(
            A::GivenName,
            "given_name",
            standard("name.givenName"),
            "Given (first) name.",
        )
    },
    Spec {
        check: Check::PersonName,
        never_cleared: NAME_REQUIRED,
        ..text(
            A::FamilyName,
            "family_name",
            standard("name.familyName"),
            "Family (last) name.",
        )
    },
    Spec {
        check: Check::DisplayName,
        ..text(
            A::DisplayName,
            "display_name",
            standard("displayName"),
            "Display name: at most 80 characters, no '@'.",
        )
    },
    Spec {
        check: Check::PhotoUrl,
        ..text(
            A::Photo,
            "photo",
            // Standard profile (kept when a create's custom profile is dropped), in every body.
            Scim {
                slot: Photo,
                shown: Shown::Always,
                custom: false,
            },
            "Profile photo: a public URL or a data: URL. Compared by what scimsync last applied (Slack answers a URL of its own); create-only when no state is kept between passes.",
        )
    },
    text(
        A::ProfileUrl,
        "profile_url",
        standard("profileUrl"),
        "Profile URL. Slack answers a URL of its own and ignores updates: compared by what scimsync last applied; create-only when no state is kept between passes.",
    ),
    text(
        A::Title,
        "title",
        // Among the custom profile fields Slack creates (FACTS §2.8), yet in every body (§2.9).
        Scim {
            custom: true,
            ..standard("title")
        },
        "Job title.",
    ),
    text(
        A::Role,
        "role",
        custom(Role),
        "Role (the one `roles` entry Slack keeps), e.g. Tech Lead.",
    ),
    text(
        A::Phone,
        "phone",
        custom(PrimaryPhone),
        "Phone number (Slack's primary phone).",
    ),
    text(
        A::MobilePhone,
        "mobile_phone",
        custom(MobilePhone),
        "Mobile phone number (Slack's mobilePhone, beside the primary phone).",
    ),
    address(
        A::AddressStreet,
        "address.street",
        "streetAddress",
        "Street and number of the one address Slack keeps (`street` under `address:`).",
    ),
    address(
        A::AddressLocality,
        "address.locality",
        "locality",
        "City (`locality` under `address:`; Slack's City field).",
    ),
    address(
        A::AddressRegion,
        "address.region",
        "region",
        "State or province (`region` under `address:`).",
    ),
    address(
        A::AddressPostalCode,
        "address.postal_code",
        "postalCode",
        "Postal or ZIP code (`postal_code` under `address:`; Slack's Zip Code field).",
    ),
    address(
        A::AddressCountry,
        "address.country",
        "country",
        "Country (`country` under `address:`).",
    ),
    text(
        A::Timezone,
        "timezone",
        standard("timezone"),
        "IANA time zone, e.g. Europe/Paris.",
    ),
    text(
        A::Locale,
        "locale",
        custom(Core("locale")),
        "Locale, e.g. en-US.",
    ),
    text(
        A::PreferredLanguage,
        "preferred_language",
        custom(Core("preferredLanguage")),
        "Preferred language, e.g. en.",
    ),
    text(
        A::UserType,
        "user_type",
        custom(Core("userType")),
        "User type, e.g. Employee or Contractor.",
    ),
    Spec {
        never_cleared: Some("a match key is never cleared"),
        ..text(
            A::EmployeeNumber,
            "employee_number",
            custom(Enterprise("employeeNumber")),
            "Enterprise employeeNumber (\"Employee ID\"); a stable match key. Quote it.",
        )
    },
    text(
        A::CostCenter,
        "cost_center",
        custom(Enterprise("costCenter")),
        "Enterprise cost center.",
    ),
    text(
        A::Organization,
        "organization",
        custom(Enterprise("organization")),
        "Enterprise organization.",
    ),
    text(
        A::Division,
        "division",
        custom(Enterprise("division")),
        "Enterprise division.",
    ),
    text(
        A::Department,
        "department",
        custom(Enterprise("department")),
        "Enterprise department.",
    ),
    Spec {
        column: "manager_email",
        ..row(
            A::Manager,
            "manager",
            Kind::Manager,
            true,
            "The manager's email; the manager must be in the directory.",
        )
    },
    row(
        A::StartDate,
        "start_date",
        Kind::Date(custom(Profile("startDate"))),
        true,
        "Start date, YYYY-MM-DD.",
    ),
    Spec {
        never_cleared: Some("a blank guest cell already means a full member"),
        ..row(
            A::Guest,
            "guest",
            Kind::Guest,
            true,
            "Marks a multi-channel guest (single-channel guests cannot be provisioned over SCIM).",
        )
    },
    Spec {
        never_cleared: NO_BLANK_RULE,
        ..row(
            A::Active,
            "active",
            Kind::Active,
            false,
            "false for a leaver: the account is deactivated (Slack never deletes users). Default: true.",
        )
    },
    Spec {
        never_cleared: NO_BLANK_RULE,
        ..row(
            A::Groups,
            "groups",
            Kind::Groups,
            false,
            "Names of groups this person belongs to.",
        )
    },
];

/// How many attributes there are.
const COUNT: usize = TABLE.len();

/// How many custom profile fields an organisation may have, those SCIM creates included;
/// one more is refused with `unable_to_create_team_profile_fields` (FACTS §2.8).
pub const CUSTOM_PROFILE_FIELD_LIMIT: usize = 50;

/// The distinct custom profile fields `attributes` need ([`Attribute::profile_field`]), when
/// more than Slack allows an organisation ([`CUSTOM_PROFILE_FIELD_LIMIT`]): the count, for a
/// refusal. With today's table at most 19 fields exist, so only a wider table (or a test)
/// reaches it.
pub fn profile_fields_over_limit(attributes: &[&'static str]) -> Option<usize> {
    let fields: std::collections::BTreeSet<&str> = attributes.iter().copied().collect();
    (fields.len() > CUSTOM_PROFILE_FIELD_LIMIT).then_some(fields.len())
}

/// How many attributes are parts of the address.
const ADDRESS_PARTS: usize = {
    let (mut n, mut i) = (0, 0);
    while i < COUNT {
        if matches!(
            TABLE[i].kind.scim(),
            Some(Scim {
                slot: ScimSlot::Address(_),
                ..
            })
        ) {
            n += 1;
        }
        i += 1;
    }
    n
};

/// How many attributes a user keeps in [`TextValues`] ([`Kind::Text`] and [`Kind::Date`]).
pub const TEXT_SLOTS: usize = {
    let mut n = 0;
    let mut i = 0;
    while i < COUNT {
        if TABLE[i].kind.is_text() {
            n += 1;
        }
        i += 1;
    }
    n
};

/// Each attribute's index in [`TextValues`], by [`Attribute`] order.
const TEXT_SLOT: [Option<usize>; COUNT] = {
    let mut slots = [None; COUNT];
    let mut next = 0;
    let mut i = 0;
    while i < COUNT {
        // The table is in the enum's order: row `i` is the attribute with discriminant `i`.
        assert!(
            TABLE[i].attribute as usize == i,
            "TABLE is not in Attribute's order"
        );
        if let Some(scim) = TABLE[i].kind.scim() {
            assert!(scim.is_consistent(), "a row's Scim breaks Slack's rules");
            slots[i] = Some(next);
            next += 1;
        }
        i += 1;
    }
    slots
};

impl Scim {
    /// Whether the row says what Slack does: the enterprise extension and the primary phone
    /// are shown with custom-profile data, the profile extension when set, and only custom
    /// profile fields are shown that way. (Checked on every row as the crate compiles.)
    const fn is_consistent(self) -> bool {
        let shown_by_slot = match self.slot {
            ScimSlot::Enterprise(_)
            | ScimSlot::PrimaryPhone
            | ScimSlot::MobilePhone
            | ScimSlot::Role
            | ScimSlot::Address(_) => matches!(self.shown, Shown::WithProfileData),
            ScimSlot::SecondaryEmail | ScimSlot::Photo => matches!(self.shown, Shown::Always),
            ScimSlot::Profile(_) => matches!(self.shown, Shown::WhenSet),
            ScimSlot::Core(_) => !matches!(self.shown, Shown::WhenSet),
        };
        shown_by_slot && (self.custom || matches!(self.shown, Shown::Always))
    }
}

impl Kind {
    /// Whether a user keeps the value in [`TextValues`].
    pub const fn is_text(self) -> bool {
        matches!(self, Kind::Text(_) | Kind::Date(_))
    }

    /// Where and how Slack keeps a text or date attribute.
    pub const fn scim(self) -> Option<Scim> {
        match self {
            Kind::Text(scim) | Kind::Date(scim) => Some(scim),
            _ => None,
        }
    }
}

impl Attribute {
    /// Every attribute, in the order plans and reports list them.
    pub const ALL: [Attribute; COUNT] = {
        let mut all = [Attribute::Id; COUNT];
        let mut i = 0;
        while i < COUNT {
            all[i] = TABLE[i].attribute;
            i += 1;
        }
        all
    };

    /// Every attribute's name, in [`Attribute::ALL`]'s order (for "expected one of" messages).
    pub const NAMES: [&'static str; COUNT] = {
        let mut names = [""; COUNT];
        let mut i = 0;
        while i < COUNT {
            names[i] = TABLE[i].name;
            i += 1;
        }
        names
    };

    /// The keys of a person in a YAML directory, in [`TABLE`]'s order: every attribute's
    /// name, but the address parts', which are written under one `address:` mapping
    /// ([`ADDRESS`], in the place of the first part).
    pub const DIRECTORY_KEYS: [&'static str; COUNT - ADDRESS_PARTS + 1] = {
        let mut keys = [""; COUNT - ADDRESS_PARTS + 1];
        let (mut n, mut i) = (0, 0);
        let mut address_seen = false;
        while i < COUNT {
            if matches!(
                TABLE[i].kind.scim(),
                Some(Scim {
                    slot: ScimSlot::Address(_),
                    ..
                })
            ) {
                if !address_seen {
                    keys[n] = ADDRESS;
                    n += 1;
                    address_seen = true;
                }
            } else {
                keys[n] = TABLE[i].name;
                n += 1;
            }
            i += 1;
        }
        keys
    };

    /// The attributes a user keeps in [`TextValues`], by slot (also in [`TABLE`]'s order).
    pub const TEXT: [Attribute; TEXT_SLOTS] = {
        let mut text = [Attribute::Id; TEXT_SLOTS];
        let mut i = 0;
        while i < COUNT {
            if let Some(slot) = TEXT_SLOT[i] {
                text[slot] = TABLE[i].attribute;
            }
            i += 1;
        }
        text
    };

    /// The attribute's row of [`TABLE`].
    pub const fn spec(self) -> &'static Spec {
        &TABLE[self as usize]
    }

    /// The attribute's name in files (`given_name`, `manager`, …).
    pub const fn name(self) -> &'static str {
        self.spec().name
    }

    /// What the attribute holds.
    pub const fn kind(self) -> Kind {
        self.spec().kind
    }

    /// Where and how Slack keeps a text or date attribute.
    pub const fn scim(self) -> Option<Scim> {
        self.kind().scim()
    }

    /// Where a text or date attribute lives in a SCIM user.
    pub const fn slot(self) -> Option<ScimSlot> {
        match self.scim() {
            Some(scim) => Some(scim.slot),
            None => None,
        }
    }

    /// Why a blank value in a source never clears Slack's, if it cannot ([`Spec::never_cleared`]).
    pub const fn never_cleared(self) -> Option<&'static str> {
        self.spec().never_cleared
    }

    /// The attribute's index in [`TextValues`], for text and date attributes.
    pub const fn text_slot(self) -> Option<usize> {
        TEXT_SLOT[self as usize]
    }

    /// Whether Slack answers a value of its own for what was written (the photo, FACTS §2.2;
    /// the profile URL, which Slack also ignores on update, §2.2 and §10 #8), so the value is
    /// compared by what scimsync last applied (the memory), never by Slack's; without the
    /// memory it can only be set on create.
    pub const fn compared_by_memory(self) -> bool {
        matches!(self.slot(), Some(ScimSlot::Photo)) || matches!(self, Attribute::ProfileUrl)
    }

    /// The organisation-wide custom profile field Slack creates the first time a user has a
    /// value for the attribute (FACTS §2.8: addresses — City, Zip Code, Country, … —, the
    /// enterprise extension's keys and its manager, `name.honorificPrefix`, `locale`,
    /// `phoneNumbers`, `preferredLanguage`, `roles`, `title`, `userType`), by the name Slack
    /// gives it where FACTS says it. FACTS lists `phoneNumbers` once but Slack keeps two
    /// phones: each counts (the count is an estimate, and the higher one). `startDate` is not
    /// in Slack's list, so it counts for nothing here.
    pub const fn profile_field(self) -> Option<&'static str> {
        Some(match self {
            A::HonorificPrefix => "Honorific Prefix",
            A::Title => "Title",
            A::Role => "Role",
            A::Phone => "Phone",
            A::MobilePhone => "Mobile Phone",
            A::AddressStreet => "Street Address",
            A::AddressLocality => "City",
            A::AddressRegion => "Region",
            A::AddressPostalCode => "Zip Code",
            A::AddressCountry => "Country",
            A::Locale => "Locale",
            A::PreferredLanguage => "Preferred Language",
            A::UserType => "User Type",
            A::EmployeeNumber => "Employee ID",
            A::CostCenter => "Cost Center",
            A::Organization => "Organization",
            A::Division => "Division",
            A::Department => "Department",
            A::Manager => "Manager",
            _ => return None,
        })
    }

    /// Whether Slack's value `have` is the directory's `want`: equal, but for a role in any
    /// case (Slack's schema says every attribute is `caseExact: false`, and FACTS does not say
    /// whether a role reads back as written, so a plan never rewrites a role's case).
    pub fn same_value(self, want: &str, have: &str) -> bool {
        match self.slot() {
            Some(ScimSlot::Role) => want == have || want.to_lowercase() == have.to_lowercase(),
            _ => want == have,
        }
    }

    /// For a part of the address, its key under a directory's `address:` mapping (`street`,
    /// `postal_code`): the part of its name after `address.`.
    pub fn address_part(self) -> Option<&'static str> {
        match self.slot()? {
            ScimSlot::Address(_) => self.name().strip_prefix(ADDRESS)?.strip_prefix('.'),
            _ => None,
        }
    }

    /// Whether the attribute is a part of the address.
    pub const fn is_address(self) -> bool {
        matches!(self.slot(), Some(ScimSlot::Address(_)))
    }

    /// The attribute with this name in files.
    pub fn from_name(name: &str) -> Option<Attribute> {
        TABLE.iter().find(|s| s.name == name).map(|s| s.attribute)
    }
}

impl std::fmt::Display for Attribute {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // `pad`, so that reports can align names with `{:<12}`.
        f.pad(self.name())
    }
}

/// Attributes sort by name, so maps keyed by them list them as plans always have.
impl Ord for Attribute {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.name().cmp(other.name())
    }
}

impl PartialOrd for Attribute {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// An attribute is written as its name.
impl Serialize for Attribute {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for Attribute {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = std::borrow::Cow::<'de, str>::deserialize(d)?;
        Attribute::from_name(&name)
            .ok_or_else(|| de::Error::unknown_variant(&name, &Attribute::NAMES))
    }
}

/// A user's text and date attributes ([`Attribute::TEXT`]), each unset or a value, in one
/// allocation: a bit per slot saying which are set, then one buffer holding where each set
/// value ends (a `u32` each, in slot order) followed by the set values one after another. A
/// user stays compact — 32 bytes and one allocation for all their values, not a field (or a
/// span) per attribute, which at 100,000 users in the directory and as many listed came to
/// 48 MB, nor a string and a vector of ends (another 6 MB) — and an attribute added to
/// [`TABLE`] needs no field anywhere. The form is canonical (slot order, no stale bytes), so
/// two equal sets of values are equal field by field.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct TextValues {
    /// Bit `k` set: slot `k` has a value.
    set: u64,
    /// One `u32` (little-endian) per bit of `set`: where the value of that rank ends in the
    /// text; then the text, the set values in slot order.
    buf: Vec<u8>,
}

const _: () = assert!(TEXT_SLOTS <= 64, "TextValues keeps a bit per slot in a u64");

/// The bytes one value's end takes.
const END: usize = std::mem::size_of::<u32>();

impl TextValues {
    /// The value of `attribute`; `None` when unset or not a text attribute.
    pub fn get(&self, attribute: Attribute) -> Option<&str> {
        self.slot(attribute.text_slot()?)
    }

    /// Where slot `slot`'s value is (or would go) among the set ones.
    fn rank(&self, slot: usize) -> usize {
        (self.set & ((1u64 << slot) - 1)).count_ones() as usize
    }

    /// How many values are set.
    fn count(&self) -> usize {
        self.set.count_ones() as usize
    }

    /// Where the value of rank `rank` ends in the text.
    fn end(&self, rank: usize) -> usize {
        let at = rank * END;
        let bytes: [u8; END] = self.buf[at..at + END].try_into().expect("END bytes");
        u32::from_le_bytes(bytes) as usize
    }

    /// Sets where the value of rank `rank` ends in the text.
    ///
    /// # Panics
    /// If one user's values came to 4 GiB.
    fn set_end(&mut self, rank: usize, end: usize) {
        let end = u32::try_from(end).expect("a user's values fit in 4 GiB");
        self.buf[rank * END..(rank + 1) * END].copy_from_slice(&end.to_le_bytes());
    }

    /// The text: every set value, one after another.
    fn text(&self) -> &str {
        std::str::from_utf8(&self.buf[self.count() * END..]).expect("values are set as text")
    }

    /// The byte range in the text of the value of rank `rank`.
    fn span(&self, rank: usize) -> (usize, usize) {
        (self.span_start(rank), self.end(rank))
    }

    fn slot(&self, slot: usize) -> Option<&str> {
        if self.set & (1u64 << slot) == 0 {
            return None;
        }
        let (start, end) = self.span(self.rank(slot));
        Some(&self.text()[start..end])
    }

    /// Sets (or, with `None`, unsets) `attribute`.
    ///
    /// # Panics
    /// If `attribute` is not a text or date attribute: a programming error. (Also if one
    /// user's values came to 4 GiB.)
    #[allow(clippy::needless_pass_by_value)] // owned or borrowed, whichever the caller has
    pub fn set<V: AsRef<str>>(&mut self, attribute: Attribute, value: Option<V>) {
        let slot = attribute
            .text_slot()
            .unwrap_or_else(|| panic!("{attribute} is not a text attribute"));
        let value = value.as_ref().map(AsRef::as_ref);
        if self.slot(slot) == value {
            return;
        }
        let rank = self.rank(slot);
        // Take out the value the slot had (rare: values are set once as a user is read).
        let at = if self.set & (1u64 << slot) == 0 {
            self.span_start(rank)
        } else {
            let (start, end) = self.span(rank);
            let text = self.count() * END;
            self.buf.drain(text + start..text + end);
            self.buf.drain(rank * END..(rank + 1) * END);
            self.set &= !(1u64 << slot);
            for r in rank..self.count() {
                self.set_end(r, self.end(r) - (end - start));
            }
            start
        };
        if let Some(value) = value {
            let text = self.count() * END;
            self.buf
                .splice(text + at..text + at, value.bytes())
                .for_each(drop);
            self.buf
                .splice(rank * END..rank * END, [0; END])
                .for_each(drop);
            self.set |= 1u64 << slot;
            self.set_end(rank, at + value.len());
            for r in rank + 1..self.count() {
                self.set_end(r, self.end(r) + value.len());
            }
        }
    }

    /// Where a value of rank `rank` starts in the text (the end of the one before it).
    fn span_start(&self, rank: usize) -> usize {
        match rank {
            0 => 0,
            r => self.end(r - 1),
        }
    }

    /// Room for `values` more values of `bytes` bytes in all: one allocation when a reader
    /// knows them.
    pub fn reserve(&mut self, values: usize, bytes: usize) {
        self.buf.reserve_exact(values * END + bytes);
    }

    /// The set values with their attributes, in [`TABLE`]'s order.
    pub fn iter(&self) -> impl Iterator<Item = (Attribute, &str)> {
        let text = self.text();
        (0..TEXT_SLOTS)
            .filter(|&slot| self.set & (1u64 << slot) != 0)
            .enumerate()
            .map(move |(rank, slot)| {
                let (start, end) = self.span(rank);
                (Attribute::TEXT[slot], &text[start..end])
            })
    }
}

impl std::hash::Hash for TextValues {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        for slot in 0..TEXT_SLOTS {
            self.slot(slot).hash(state);
        }
    }
}

impl std::fmt::Debug for TextValues {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_round_trip() {
        for a in Attribute::ALL {
            assert_eq!(Attribute::from_name(a.name()), Some(a));
            assert_eq!(serde_json::to_value(a).unwrap(), a.name());
            let back: Attribute = serde_json::from_value(a.name().into()).unwrap();
            assert_eq!(back, a);
        }
        let columns: std::collections::HashSet<_> = TABLE.iter().map(|s| s.column).collect();
        assert_eq!(columns.len(), TABLE.len(), "CSV column keys are unique");
        let err = serde_json::from_str::<Attribute>("\"nick\"").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("unknown variant `nick`, expected one of `id`")
        );
    }

    #[test]
    fn text_slots_cover_text_and_date_attributes_only() {
        for a in Attribute::ALL {
            assert_eq!(a.text_slot().is_some(), a.kind().is_text(), "{a}");
            assert_eq!(a.scim().is_some(), a.kind().is_text(), "{a}");
            assert_eq!(a.slot(), a.scim().map(|s| s.slot), "{a}");
            if let Some(slot) = a.text_slot() {
                assert_eq!(Attribute::TEXT[slot], a);
            }
        }
        let mut t = TextValues::default();
        t.set(Attribute::Title, Some("Lead"));
        t.set(Attribute::StartDate, Some("2024-04-10".to_string()));
        assert_eq!(t.get(Attribute::Title), Some("Lead"));
        assert_eq!(t.get(Attribute::Email), None);
        let set: Vec<_> = t.iter().collect();
        assert_eq!(
            set,
            [
                (Attribute::Title, "Lead"),
                (Attribute::StartDate, "2024-04-10")
            ]
        );
        t.set(Attribute::Title, None::<&str>);
        assert_eq!(t.get(Attribute::Title), None);
        assert_eq!(t.get(Attribute::StartDate), Some("2024-04-10"));
    }

    /// Values packed in one string read back, compare and hash by value whatever the order
    /// they were set in, and replacing one keeps no stale bytes.
    #[test]
    fn packed_values_compare_by_value() {
        use std::hash::{BuildHasher, RandomState};
        let mut a = TextValues::default();
        a.set(Attribute::Title, Some("Lead"));
        a.set(Attribute::Department, Some("R&D"));
        a.set(Attribute::GivenName, Some(""));
        let mut b = TextValues::default();
        b.set(Attribute::GivenName, Some(String::new()));
        b.set(Attribute::Department, Some("Ops"));
        b.set(Attribute::Title, Some("Lead"));
        assert_ne!(a, b);
        b.set(Attribute::Department, Some("R&D".to_string()));
        assert_eq!(a, b);
        let hasher = RandomState::new();
        assert_eq!(hasher.hash_one(&a), hasher.hash_one(&b));
        assert_eq!(b.text(), "LeadR&D", "no stale bytes");
        // An empty value is a value, not unset.
        assert_eq!(a.get(Attribute::GivenName), Some(""));
        assert_ne!(a, TextValues::default());
        a.set(Attribute::GivenName, None::<&str>);
        a.set(Attribute::Title, None::<&str>);
        assert_eq!(
            a.iter().collect::<Vec<_>>(),
            [(Attribute::Department, "R&D")]
        );
        assert_eq!(format!("{a:?}"), r#"{Department: "R&D"}"#);
    }

    /// Against a map as the model: any sequence of sets, replaces and unsets, in any slot
    /// order and with values of any length (empty and multi-byte included), reads back as
    /// the map, iterates in slot order, and equals a fresh set built from the map.
    #[test]
    fn values_behave_as_a_map_under_any_sequence_of_sets() {
        let values = [
            "",
            "a",
            "Lead",
            "Zoë Ångström",
            "2024-04-10",
            "x".repeat(300).leak(),
        ];
        let mut rng = fastrand::Rng::with_seed(28);
        for _ in 0..300 {
            let mut t = TextValues::default();
            let mut model = std::collections::BTreeMap::new();
            for _ in 0..rng.usize(1..40) {
                let slot = rng.usize(0..TEXT_SLOTS);
                let a = Attribute::TEXT[slot];
                if rng.u8(0..4) == 0 {
                    t.set(a, None::<&str>);
                    model.remove(&slot);
                } else {
                    let v = values[rng.usize(0..values.len())];
                    t.set(a, Some(v));
                    model.insert(slot, v);
                }
                for (k, &a) in Attribute::TEXT.iter().enumerate() {
                    assert_eq!(t.get(a), model.get(&k).copied(), "{a}");
                }
            }
            let listed: Vec<(Attribute, &str)> = t.iter().collect();
            let want: Vec<(Attribute, &str)> = model
                .iter()
                .map(|(&k, &v)| (Attribute::TEXT[k], v))
                .collect();
            assert_eq!(listed, want);
            let mut fresh = TextValues::default();
            for (a, v) in want.iter().rev() {
                fresh.set(*a, Some(*v));
            }
            assert_eq!(t, fresh);
            assert_eq!(
                t.text().len(),
                want.iter().map(|(_, v)| v.len()).sum::<usize>()
            );
            assert_eq!(
                t.buf.len(),
                want.len() * END + t.text().len(),
                "no stale bytes"
            );
        }
    }

    /// A user's values take 32 bytes inline, whatever the number of attributes.
    #[test]
    fn values_are_compact() {
        assert_eq!(std::mem::size_of::<TextValues>(), 32);
    }

    #[test]
    fn a_photo_is_a_url_with_a_host_or_a_data_url() {
        for ok in [
            "https://hr.example/a.png",
            "HTTP://x",
            "data:image/png;base64,iVBO",
            "data:,x",
        ] {
            assert!(Check::is_photo_url(ok), "{ok}");
        }
        for bad in [
            "hr.example/a.png",
            "https://",
            "https:///a.png",
            "data:image/png",
            "ftp://x/a",
            "",
        ] {
            assert!(!Check::is_photo_url(bad), "{bad}");
        }
    }

    /// The 50-field rule refuses the 51st distinct field, whatever repeats; today's table
    /// cannot reach it by itself.
    #[test]
    fn more_than_fifty_custom_profile_fields_are_refused() {
        let names: Vec<String> = (0..51).map(|i| format!("Field {i}")).collect();
        let fields: Vec<&'static str> = names
            .iter()
            .map(|n| &*Box::leak(n.clone().into_boxed_str()))
            .collect();
        assert_eq!(profile_fields_over_limit(&fields), Some(51));
        assert_eq!(profile_fields_over_limit(&fields[..50]), None);
        let mut repeated = fields[..50].to_vec();
        repeated.push(fields[0]);
        assert_eq!(
            profile_fields_over_limit(&repeated),
            None,
            "a field counts once"
        );
        let table: Vec<&'static str> = Attribute::ALL
            .into_iter()
            .filter_map(Attribute::profile_field)
            .collect();
        assert_eq!(table.len(), 19);
        assert_eq!(profile_fields_over_limit(&table), None);
    }

    #[test]
    fn display_pads_and_maps_sort_by_name() {
        assert_eq!(format!("[{:<8}]", Attribute::Title), "[title   ]");
        let mut sorted = Attribute::ALL;
        sorted.sort();
        let names: Vec<&str> = sorted.iter().map(|a| a.name()).collect();
        let mut expected = Attribute::NAMES.to_vec();
        expected.sort_unstable();
        assert_eq!(names, expected);
    }
}
