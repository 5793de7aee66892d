//! The readings the emulator offers where Slack's behaviour is undocumented or optional
//! (DESIGN §8: "where FACTS.md is silent, it offers both readings as a flag rather than
//! inventing a guarantee a client could rely on"), and [`Rules`], the part of the
//! configuration that user and group writes obey.

use std::collections::HashSet;
use std::path::Path;

use schemars::JsonSchema;
use serde::Deserialize;

use crate::model::{Attribute, ScimSlot};
use crate::slack_rules::user_name_key;

/// Who the token belongs to: an admin's token cannot modify owners (FACTS §1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TokenRole {
    /// An owner's token: may modify anyone SCIM may modify.
    #[default]
    Owner,
    /// An admin's token: owners refuse its writes (`cannot_modify_owner`).
    Admin,
}

/// Whether two groups may have the same `displayName`. FACTS does not say whether Slack
/// refuses a duplicate group name, so both readings exist; a client must work with either.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum GroupNames {
    /// A second group with an existing name (compared trimmed, case-insensitively) is refused
    /// with 409 `group_creation_failed (name_taken=…)`; so is a rename onto an existing name.
    #[default]
    Unique,
    /// Any number of groups may share a name: a create with an existing name makes another
    /// group.
    Duplicate,
}

/// What a user create with an invalid custom-profile value gets (FACTS TL;DR 7, §2.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProfileErrors {
    /// Slack's documented behaviour: the create succeeds and every custom-profile field of the
    /// new user is silently dropped (see [`StoredUser::clear_custom_profile`] for the list).
    ///
    /// [`StoredUser::clear_custom_profile`]: super::StoredUser::clear_custom_profile
    #[default]
    Drop,
    /// The create is refused with a 400 naming the field (e.g. `no_such_user (manager=…)`).
    Strict,
}

/// Which writes reads see late (FACTS TL;DR 16). Slack's own remote tests read a just-created,
/// just-patched or just-replaced user at once, by id and by `userName eq`; only a deactivation
/// (and a photo change) is seen late. `Deactivation` is that evidence; `All` is a stress
/// setting beyond it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum LagScope {
    /// Every write, of users and groups, is seen `read_lag` late.
    #[default]
    All,
    /// Only a user's deactivation and a photo change are seen late; every other write, and
    /// every group write, at once.
    Deactivation,
    /// Only a photo change is seen late (FACTS §2.2: "not visible immediately"): the photo's
    /// own lag, without the deactivations'.
    Photo,
}

/// How strictly request bodies, headers and filters are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Parsing {
    /// Accepts what scimsync and other clients may send beyond the documentation: any RFC
    /// 7644 filter operator and `not`, filters on any attribute the emulator models, an
    /// extension object without its URN in `schemas`, any `Content-Type`, unknown URNs.
    #[default]
    Lenient,
    /// Only what FACTS documents: an extension object needs its URN in `schemas` (FACTS
    /// §2.1); `schemas` lists only known URNs; a body is sent as `application/json` (FACTS
    /// §1.2); user filters only on `userName`, `email`, `restricted` and `ultra_restricted`
    /// with `eq co sw pr gt ge lt le`, `and`, `or` and parentheses (FACTS §5).
    Strict,
}

/// What a `filter` on `/Groups` gets. Slack documents no group filter (FACTS §5), so a client
/// must not depend on one: both readings of an undocumented filter exist, besides honouring it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum GroupFilters {
    /// Honoured like a user filter (on `displayName`, `id`, `members`).
    #[default]
    Honour,
    /// Refused with 400 `invalid_query`.
    Refuse,
    /// Ignored: the answer is the unfiltered listing.
    Ignore,
}

/// Channels every workspace has: a user can never be named after them, since user and channel
/// names share one namespace (FACTS TL;DR 6; Slack's own example is `@general`/`#general`).
/// `#random` can be renamed in a real workspace, but exists by default, so the emulator keeps
/// it reserved (the stricter reading).
pub const DEFAULT_CHANNELS: &[&str] = &["general", "random"];

/// What user and group writes need to know of the configuration.
#[derive(Debug, Clone)]
pub struct Rules {
    /// Whose token the requests carry.
    pub token_role: TokenRole,
    /// Whether group names must be unique.
    pub group_names: GroupNames,
    /// What an invalid custom-profile value on create gets.
    pub profile_errors: ProfileErrors,
    /// Channel names (normalised), which no user may take.
    channels: HashSet<String>,
    /// How strictly bodies and filters are read.
    pub parsing: Parsing,
    /// What a `/Groups` filter gets.
    pub group_filters: GroupFilters,
    /// How a photo written reads back.
    pub photo_reading: PhotoReading,
    /// How a profile URL a create sent reads back.
    pub profile_url_reading: ProfileUrlReading,
    /// How an address written reads back.
    pub address_reading: AddressReading,
    /// How a role written reads back.
    pub role_reading: RoleReading,
    /// How many custom profile fields the organisation has besides those SCIM writes create.
    pub custom_profile_fields: usize,
    /// Values Slack finds invalid for a custom profile field.
    pub invalid_values: Vec<InvalidValue>,
}

impl Rules {
    /// The rules of a configuration: its readings, and its `channels` besides
    /// [`DEFAULT_CHANNELS`].
    pub fn new(
        token_role: TokenRole,
        group_names: GroupNames,
        profile_errors: ProfileErrors,
        channels: &[String],
    ) -> Rules {
        let channels = DEFAULT_CHANNELS
            .iter()
            .copied()
            .chain(channels.iter().map(String::as_str))
            .map(channel_key)
            .filter(|c| !c.is_empty())
            .collect();
        Rules {
            token_role,
            group_names,
            profile_errors,
            channels,
            parsing: Parsing::default(),
            group_filters: GroupFilters::default(),
            photo_reading: PhotoReading::default(),
            profile_url_reading: ProfileUrlReading::default(),
            address_reading: AddressReading::default(),
            role_reading: RoleReading::default(),
            custom_profile_fields: 0,
            invalid_values: Vec::new(),
        }
    }

    /// Whether a (normalised) user name is taken by a channel.
    pub fn is_channel(&self, user_name: &str) -> bool {
        self.channels.contains(&user_name_key(user_name))
    }
}

impl Default for Rules {
    fn default() -> Rules {
        Rules::new(
            TokenRole::default(),
            GroupNames::default(),
            ProfileErrors::default(),
            &[],
        )
    }
}

/// Reads a channel list: one channel name a line, with or without `#`; blank lines are
/// skipped. The format `scimsync emulator --channels-file` takes (and the config's
/// `channels_file:`).
pub fn read_channels(path: &Path) -> std::io::Result<Vec<String>> {
    let text = std::fs::read_to_string(path)?;
    Ok(crate::slack_rules::channel_list(&text))
}

/// `#General ` → `general`: channel names are lower case, written with or without the `#`.
fn channel_key(name: &str) -> String {
    user_name_key(name.trim().trim_start_matches('#'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_are_the_defaults_plus_the_configured_ones() {
        let rules = Rules::new(
            TokenRole::Owner,
            GroupNames::Unique,
            ProfileErrors::Drop,
            &["#Eng-Team".into(), " ".into()],
        );
        for taken in ["general", "random", "eng-team"] {
            assert!(rules.is_channel(taken), "{taken}");
        }
        assert!(!rules.is_channel("ada"));
        assert!(
            !rules.is_channel(""),
            "a blank channel name reserves nothing"
        );
    }

    #[test]
    fn a_channel_list_is_one_name_a_line_with_or_without_the_hash() {
        assert_eq!(
            crate::slack_rules::channel_list("#support\n\n  design \r\n#\n"),
            ["support", "design"]
        );
    }
}

/// How Slack reads back a photo it was sent: FACTS §2.2 says only that a change shows late
/// and that an unset photo is a gravatar URL, not whether Slack answers the URL it was given,
/// so the emulator offers both readings (scimsync compares a photo by what it last applied,
/// right under either).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PhotoReading {
    /// Slack re-hosts the image and answers a URL of its own (the unkinder reading).
    #[default]
    Rehost,
    /// Slack answers the URL it was sent.
    Echo,
}

impl PhotoReading {
    /// The URL Slack answers for a photo written as `sent`.
    pub fn answer(self, sent: &str) -> String {
        use std::hash::{Hash, Hasher};
        match self {
            PhotoReading::Echo => sent.to_string(),
            PhotoReading::Rehost => {
                let mut h = std::collections::hash_map::DefaultHasher::new();
                sent.hash(&mut h);
                format!(
                    "https://avatars.slack-edge.example/emulator/{:016x}_192.png",
                    h.finish()
                )
            }
        }
    }
}

/// How Slack reads back the `profileUrl` a create sent (FACTS §10 #8: real responses show a
/// URL of Slack's own, the v2 POST example echoes the request's). A PATCH of it is ignored
/// under both ("updates not supported", FACTS §2.2). scimsync compares a profile URL by what
/// it last applied, right under either.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ProfileUrlReading {
    /// Slack answers `https://<workspace>.slack.com/team/<user name>` whatever was sent.
    #[default]
    Slack,
    /// Slack answers the URL the create sent.
    Echo,
}

/// How Slack reads back a role (FACTS §2.3 shows roles read back as written but says every
/// attribute is `caseExact: false`, so it may keep another case): both readings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum RoleReading {
    /// As sent.
    #[default]
    Exact,
    /// Lower-cased.
    Lower,
}

impl RoleReading {
    /// The role Slack keeps of `sent`.
    pub fn keep(self, sent: String) -> String {
        match self {
            RoleReading::Exact => sent,
            RoleReading::Lower => sent.to_lowercase(),
        }
    }
}

/// How Slack reads back the parts of an address (FACTS §2.3 is silent on whether it trims
/// them), so the emulator offers both readings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum AddressReading {
    /// Each part is kept as sent.
    #[default]
    Keep,
    /// Each part is trimmed of surrounding white space; a part left blank is unset.
    Trim,
}

impl AddressReading {
    /// The part Slack keeps of `sent`.
    pub fn keep(self, sent: Option<String>) -> Option<String> {
        match self {
            AddressReading::Keep => sent,
            AddressReading::Trim => sent.map(|s| s.trim().to_string()).filter(|s| !s.is_empty()),
        }
    }
}

/// A value Slack finds invalid for a custom profile field (FACTS does not say which values
/// are, so the emulator is told): `phone=*x*` — an attribute of the table kept as a custom
/// profile field, `=`, and a value, where `*` stands for any run of characters. A create
/// carrying one loses its whole custom profile under [`ProfileErrors::Drop`] (FACTS TL;DR 7);
/// an update carrying one is refused with the field's code (`phoneNumbers_invalid`, …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidValue {
    /// The attribute whose values are checked.
    pub attribute: Attribute,
    /// The value, `*` matching any run of characters.
    pub pattern: String,
}

impl std::str::FromStr for InvalidValue {
    type Err = String;

    fn from_str(s: &str) -> Result<InvalidValue, String> {
        let (name, pattern) = s
            .split_once('=')
            .ok_or_else(|| format!("{s:?} is not ATTRIBUTE=VALUE"))?;
        let attribute = Attribute::from_name(name.trim())
            .filter(|a| a.scim().is_some_and(|scim| scim.custom))
            .ok_or_else(|| {
                format!("{name:?} is not an attribute Slack keeps as a custom profile field")
            })?;
        Ok(InvalidValue {
            attribute,
            pattern: pattern.to_string(),
        })
    }
}

impl InvalidValue {
    /// Whether `value` is one of the invalid values.
    pub fn matches(&self, value: &str) -> bool {
        let mut parts = self.pattern.split('*');
        let first = parts.next().unwrap_or_default();
        let Some(mut rest) = value.strip_prefix(first) else {
            return false;
        };
        let parts: Vec<&str> = parts.collect();
        let Some((last, middle)) = parts.split_last() else {
            return rest.is_empty(); // no `*`: the whole value
        };
        for part in middle {
            match rest.find(part) {
                Some(i) => rest = &rest[i + part.len()..],
                None => return false,
            }
        }
        rest.len() >= last.len() && rest.ends_with(last)
    }

    /// The code Slack refuses an update carrying the value with (FACTS §6.2's per-attribute
    /// codes; `invalid_attribute_format` for the others).
    pub fn code(&self) -> crate::slack_rules::ErrorCode {
        use crate::slack_rules::ErrorCode;
        match self.attribute.slot() {
            Some(ScimSlot::PrimaryPhone | ScimSlot::MobilePhone) => ErrorCode::PhoneNumbersInvalid,
            Some(ScimSlot::Address(_)) => ErrorCode::AddressesInvalid,
            Some(ScimSlot::Role) => ErrorCode::RolesInvalid,
            _ => ErrorCode::InvalidAttributeFormat,
        }
    }
}

#[cfg(test)]
mod invalid_value_tests {
    use super::*;

    #[test]
    fn an_invalid_value_is_an_attribute_and_a_pattern() {
        let v: InvalidValue = "phone=*x*".parse().unwrap();
        assert_eq!(v.attribute, Attribute::Phone);
        assert!(v.matches("555 x 12") && v.matches("x") && !v.matches("555"));
        let exact: InvalidValue = "title=Boss".parse().unwrap();
        assert!(exact.matches("Boss") && !exact.matches("Bossy"));
        let ends: InvalidValue = "address.country=*land".parse().unwrap();
        assert!(ends.matches("Iceland") && !ends.matches("Landau"));
        assert_eq!(ends.code(), crate::slack_rules::ErrorCode::AddressesInvalid);
        assert!(
            "given_name=x".parse::<InvalidValue>().is_err(),
            "not a custom field"
        );
        assert!("phone".parse::<InvalidValue>().is_err());
    }
}
