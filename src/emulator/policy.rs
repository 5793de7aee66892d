//! The readings the emulator offers where Slack's behaviour is undocumented or optional
//! (DESIGN §8: "where FACTS.md is silent, it offers both readings as a flag rather than
//! inventing a guarantee a client could rely on"), and [`Rules`], the part of the
//! configuration that user and group writes obey.

use std::collections::HashSet;

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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
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
    /// How a photo written reads back.
    pub photo_reading: super::store::PhotoReading,
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
            photo_reading: super::store::PhotoReading::default(),
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
}
