//! What the planner decides with: the match keys, which accounts are managed (scope), what
//! happens to unmanaged users and groups, and how each attribute is kept in sync.

use super::Compiler;
use crate::config::raw::{Blank, MatchKey, RawAttributes, RawConfig, RawScope};
use crate::config::{
    AccountRef, AttributePolicy, ConfigIssue, DEFAULT_MATCH_KEYS, Policy, Scope, UnmanagedGroups,
    UnmanagedUsers,
};
use crate::diag::yaml::Step;
use crate::slack_rules;

impl Compiler<'_> {
    /// The planner's policy, its safety limits included.
    pub(super) fn compile_policy(&mut self, raw: &RawConfig) -> Policy {
        let match_keys = self.compile_match_keys(raw.match_keys.as_deref());
        let scope = raw
            .scope
            .as_ref()
            .map(|s| self.compile_scope(s))
            .unwrap_or_default();
        let attributes = self.compile_attributes(raw.attributes.as_ref());
        Policy {
            match_keys,
            scope,
            unmanaged_users: raw.unmanaged_users.unwrap_or(UnmanagedUsers::Report),
            unmanaged_groups: raw
                .groups
                .as_ref()
                .and_then(|g| g.unmanaged)
                .unwrap_or(UnmanagedGroups::Ignore),
            attributes,
            safety: self.compile_safety(raw),
            channels: self.compile_channels(raw),
        }
    }

    /// `channels_file:`: the channel names it lists, read now (relative to the config's
    /// folder); an unreadable file is an error naming it.
    fn compile_channels(&mut self, raw: &RawConfig) -> Option<std::collections::BTreeSet<String>> {
        let text = raw.channels_file.as_deref()?;
        let at = [Step::Key("channels_file")];
        let path = self.file_path(&at, text)?;
        match std::fs::read_to_string(&path) {
            Ok(listed) => Some(crate::config::channel_names(&listed)),
            Err(e) => {
                let issue = ConfigIssue::ChannelsFile {
                    path: path.display().to_string(),
                    cause: e.to_string(),
                };
                self.error(&at, issue);
                None
            }
        }
    }

    /// `match:`: at least one key, none twice; the default order when absent.
    fn compile_match_keys(&mut self, raw: Option<&[MatchKey]>) -> Vec<MatchKey> {
        let mut match_keys = Vec::new();
        match raw {
            None => match_keys = DEFAULT_MATCH_KEYS.to_vec(),
            Some([]) => self.error(&[Step::Key("match")], ConfigIssue::NoMatchKeys),
            Some(keys) => {
                for (i, key) in keys.iter().enumerate() {
                    if match_keys.contains(key) {
                        self.error(
                            &[Step::Key("match"), Step::Index(i)],
                            ConfigIssue::DuplicateMatchKey {
                                key: match_key_name(*key).into(),
                            },
                        );
                    } else {
                        match_keys.push(*key);
                    }
                }
            }
        }
        match_keys
    }

    /// `attributes:`: each attribute's mode and blank rule; `blank: clear` only where a
    /// value may be cleared.
    fn compile_attributes(&mut self, raw: Option<&RawAttributes>) -> AttributePolicy {
        let mut attributes = AttributePolicy::default();
        for (attribute, setting) in raw.iter().flat_map(|a| a.settings.iter().copied()) {
            if let Some(mode) = setting.mode() {
                attributes.modes.insert(attribute, mode);
            }
            let Some(blank) = setting.blank() else {
                continue;
            };
            if blank == Blank::Clear
                && let Some(reason) = AttributePolicy::cannot_clear(attribute)
            {
                let at = [
                    Step::Key("attributes"),
                    Step::Key(attribute.name()),
                    Step::Key("blank"),
                ];
                let attribute = attribute.name();
                self.error(&at, ConfigIssue::CannotClear { attribute, reason });
            }
            attributes.blanks.insert(attribute, blank);
        }
        attributes
    }

    /// `scope:`: domains (lower-cased, once each), and accounts excluded or protected.
    fn compile_scope(&mut self, raw: &RawScope) -> Scope {
        let mut scope = Scope::default();
        for (i, domain) in raw.email_domains.iter().flatten().enumerate() {
            match email_domain(domain) {
                Some(d) if scope.email_domains.contains(&d) => {}
                Some(d) => scope.email_domains.push(d),
                None => self.error(
                    &[
                        Step::Key("scope"),
                        Step::Key("email_domains"),
                        Step::Index(i),
                    ],
                    ConfigIssue::InvalidDomain {
                        domain: domain.clone(),
                    },
                ),
            }
        }
        scope.exclude = self.compile_accounts("exclude", raw.exclude.as_deref());
        scope.protected = self.compile_accounts("protected", raw.protected.as_deref());
        scope
    }

    /// The accounts listed under `scope.<field>`, each an email or a Slack user id.
    fn compile_accounts(&mut self, field: &'static str, raw: Option<&[String]>) -> Vec<AccountRef> {
        let mut accounts = Vec::new();
        for (i, value) in raw.unwrap_or_default().iter().enumerate() {
            match account_ref(value) {
                Some(account) => accounts.push(account),
                None => self.error(
                    &[Step::Key("scope"), Step::Key(field), Step::Index(i)],
                    ConfigIssue::InvalidAccount {
                        value: value.clone(),
                    },
                ),
            }
        }
        accounts
    }
}

/// A scope domain, lower-cased and without a leading `@`, if it is one.
fn email_domain(domain: &str) -> Option<String> {
    let d = domain.trim().trim_start_matches('@').to_ascii_lowercase();
    let valid = slack_rules::check_email(&format!("x@{d}")).is_ok()
        && d.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
    valid.then_some(d)
}

/// An email (by key) or a Slack user id.
pub(super) fn account_ref(value: &str) -> Option<AccountRef> {
    let value = value.trim();
    if value.contains('@') {
        slack_rules::check_email(value).ok()?;
        return Some(AccountRef::Email(slack_rules::email_key(value)));
    }
    let mut chars = value.chars();
    let ok = matches!(chars.next(), Some('U' | 'W'))
        && value.len() >= 3
        && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
    ok.then(|| AccountRef::UserId(value.to_string()))
}

/// The key as the config writes it.
fn match_key_name(key: MatchKey) -> &'static str {
    match key {
        MatchKey::Id => "id",
        MatchKey::EmployeeNumber => "employee_number",
        MatchKey::Email => "email",
        MatchKey::UserName => "user_name",
    }
}
