//! Slack's data rules for user names, display names and emails (FACTS §2.2, §8).
//!
//! One copy of the rules, used twice: the emulator enforces them on the wire with Slack's error
//! codes, and the directory validates sources against them before anything is sent, so a row
//! Slack would reject is reported with its file and line instead of as a 400 mid-apply.

mod error_code;

pub use error_code::ErrorCode;

/// Slack's maximum userName length (`username_too_long` / `long_username` beyond it).
pub const MAX_USER_NAME_LEN: usize = 21;

/// Slack's maximum display-name length (`invalid_name_maxlength` beyond it).
pub const MAX_DISPLAY_NAME_LEN: usize = 80;

/// Names Slack keeps for itself: mentions and system accounts. Slack does not publish its full
/// list; these are the ones a user or an IdP connector demonstrably trips over
/// (`username_not_allowed`, FACTS §6.3).
pub const RESERVED_USER_NAMES: &[&str] = &[
    "admin",
    "administrator",
    "channel",
    "everyone",
    "group",
    "here",
    "slack",
    "slackbot",
    "system",
];

/// A violation of one of Slack's rules, named by Slack's own error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleViolation {
    /// The user name is empty after trimming (`username_empty`).
    UserNameEmpty,
    /// The user name is longer than [`MAX_USER_NAME_LEN`] characters (`username_too_long`).
    UserNameTooLong,
    /// The user name has a character outside `a-z 0-9 . _ -` (`username_invalid`).
    UserNameInvalid,
    /// The user name is one of [`RESERVED_USER_NAMES`] (`username_not_allowed`).
    UserNameNotAllowed,
    /// The display name is longer than [`MAX_DISPLAY_NAME_LEN`] characters
    /// (`invalid_name_maxlength`).
    DisplayNameTooLong,
    /// A display, given or family name contains `@` (`invalid_name_specials`).
    NameSpecials,
    /// A display name starts with `@` (`invalid_starts_with_at`).
    StartsWithAt,
    /// A `name` was given but its given and family parts are both blank (`invalid_name_required`).
    NameRequired,
    /// Not an email address [`check_email`] accepts (`email_invalid`).
    EmailInvalid,
}

impl RuleViolation {
    /// Slack's error code for this violation.
    pub fn code(self) -> ErrorCode {
        match self {
            RuleViolation::UserNameEmpty => ErrorCode::UsernameEmpty,
            RuleViolation::UserNameTooLong => ErrorCode::UsernameTooLong,
            RuleViolation::UserNameInvalid => ErrorCode::UsernameInvalid,
            RuleViolation::UserNameNotAllowed => ErrorCode::UsernameNotAllowed,
            RuleViolation::DisplayNameTooLong => ErrorCode::InvalidNameMaxlength,
            RuleViolation::NameSpecials => ErrorCode::InvalidNameSpecials,
            RuleViolation::StartsWithAt => ErrorCode::InvalidStartsWithAt,
            RuleViolation::NameRequired => ErrorCode::InvalidNameRequired,
            RuleViolation::EmailInvalid => ErrorCode::EmailInvalid,
        }
    }

    /// A sentence for people, naming the limit.
    pub fn explain(self) -> String {
        match self {
            RuleViolation::UserNameEmpty => "user name is empty".into(),
            RuleViolation::UserNameTooLong => {
                format!("user name is longer than {MAX_USER_NAME_LEN} characters")
            }
            RuleViolation::UserNameInvalid => {
                "user name may only contain a-z, 0-9, '.', '_' and '-'".into()
            }
            RuleViolation::UserNameNotAllowed => "user name is reserved by Slack".into(),
            RuleViolation::DisplayNameTooLong => {
                format!("display name is longer than {MAX_DISPLAY_NAME_LEN} characters")
            }
            RuleViolation::NameSpecials => "name contains '@'".into(),
            RuleViolation::StartsWithAt => "name starts with '@'".into(),
            RuleViolation::NameRequired => "given and family name are both blank".into(),
            RuleViolation::EmailInvalid => "not a valid email address".into(),
        }
    }
}

impl std::fmt::Display for RuleViolation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.explain(), self.code())
    }
}

/// The key under which Slack considers two user names equal: trimmed and lower-cased.
pub fn user_name_key(user_name: &str) -> String {
    lower(user_name.trim())
}

/// The channel names of a channel list: one name a line, with or without `#`; blank lines
/// are skipped. User names share Slack's namespace with channels, so the config's
/// `channels_file:` and the emulator's `--channels-file` read this one format.
pub fn channel_list(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| l.trim().trim_start_matches('#').trim())
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

/// [`email_key`] and [`user_name_key`] (the same rule) without a copy when the text is
/// already its own key — trimmed, ASCII, no capital — as nearly every address Slack returns
/// is: indexes of hundreds of thousands of accounts then borrow their keys.
pub fn borrowed_key(text: &str) -> std::borrow::Cow<'_, str> {
    let trimmed = text.trim();
    if trimmed.is_ascii() && !trimmed.bytes().any(|b| b.is_ascii_uppercase()) {
        std::borrow::Cow::Borrowed(trimmed)
    } else {
        std::borrow::Cow::Owned(lower(trimmed))
    }
}

/// The key under which Slack considers two emails equal: trimmed and lower-cased.
pub fn email_key(email: &str) -> String {
    lower(email.trim())
}

/// [`email_key`] of an email the caller no longer needs: made in place when the email is
/// already trimmed ASCII (nearly always), so no second string is allocated.
pub fn into_email_key(mut email: String) -> String {
    if email.is_ascii() && email.trim().len() == email.len() {
        email.make_ascii_lowercase();
        email
    } else {
        email_key(&email)
    }
}

/// Lower case, with a fast path for ASCII (nearly every email and user name): directory
/// loads compute these keys for every person.
fn lower(text: &str) -> String {
    if text.is_ascii() {
        text.to_ascii_lowercase()
    } else {
        text.to_lowercase()
    }
}

/// Checks a user name as a directory author wrote it, strictly: after lower-casing it must be
/// 1–21 characters of `a-z 0-9 . _ -` and not reserved. (Slack itself silently rewrites some
/// characters; a source that relies on that rewrite would never converge, so it is an error.)
pub fn check_user_name(user_name: &str) -> Result<String, RuleViolation> {
    let name = user_name_key(user_name);
    if name.is_empty() {
        return Err(RuleViolation::UserNameEmpty);
    }
    if name.chars().count() > MAX_USER_NAME_LEN {
        return Err(RuleViolation::UserNameTooLong);
    }
    if !name.chars().all(is_user_name_char) {
        return Err(RuleViolation::UserNameInvalid);
    }
    if RESERVED_USER_NAMES.contains(&name.as_str()) {
        return Err(RuleViolation::UserNameNotAllowed);
    }
    Ok(name)
}

/// What Slack stores when a client sends `user_name` (FACTS TL;DR 5): an email becomes its
/// local part, letters are lower-cased, characters outside `a-z 0-9 . _ -` become `_`. The
/// length and reserved-name checks still apply to the result.
pub fn slack_normalize_user_name(user_name: &str) -> Result<String, RuleViolation> {
    let trimmed = user_name.trim();
    let base = match trimmed.split_once('@') {
        Some((local, _)) if !local.is_empty() => local,
        _ => trimmed,
    };
    let name: String = lower(base)
        .chars()
        .map(|c| if is_user_name_char(c) { c } else { '_' })
        .collect();
    check_user_name(&name)
}

fn is_user_name_char(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-')
}

/// Slack's display-name rules: at most 80 characters, no `@`.
pub fn check_display_name(display_name: &str) -> Result<(), RuleViolation> {
    if display_name.chars().count() > MAX_DISPLAY_NAME_LEN {
        return Err(RuleViolation::DisplayNameTooLong);
    }
    if display_name.trim_start().starts_with('@') {
        return Err(RuleViolation::StartsWithAt);
    }
    if display_name.contains('@') {
        return Err(RuleViolation::NameSpecials);
    }
    Ok(())
}

/// Given and family names may not carry `@` (`invalid_name_specials`), and not both be blank
/// when a name is given at all (`invalid_name_required`).
pub fn check_person_name(given: Option<&str>, family: Option<&str>) -> Result<(), RuleViolation> {
    for part in [given, family].into_iter().flatten() {
        if part.contains('@') {
            return Err(RuleViolation::NameSpecials);
        }
    }
    let blank = |p: Option<&str>| p.is_none_or(|p| p.trim().is_empty());
    if (given.is_some() || family.is_some()) && blank(given) && blank(family) {
        return Err(RuleViolation::NameRequired);
    }
    Ok(())
}

/// A pragmatic email check: one `@`, a non-empty local part, a dotted domain, no whitespace
/// or control characters. Slack's own check is not documented; this rejects what is surely
/// wrong (typos, swapped columns) and nothing a mail server would accept.
pub fn check_email(email: &str) -> Result<(), RuleViolation> {
    let email = email.trim();
    let Some((local, domain)) = email.split_once('@') else {
        return Err(RuleViolation::EmailInvalid);
    };
    let ok = !local.is_empty()
        && !domain.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
        && email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    if ok {
        Ok(())
    } else {
        Err(RuleViolation::EmailInvalid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn borrowed_and_in_place_keys_are_the_email_key_and_borrow_only_what_is_already_a_key() {
        use std::borrow::Cow;
        for text in [
            "ada@example.com",
            " ada@example.com\t",
            "Ada@Example.com",
            "ÉMILE@example.com",
            "émile@example.com",
            "",
        ] {
            assert_eq!(borrowed_key(text), email_key(text), "{text:?}");
            assert_eq!(
                into_email_key(text.to_string()),
                email_key(text),
                "{text:?}"
            );
            assert_eq!(borrowed_key(text), user_name_key(text), "{text:?}");
        }
        assert!(matches!(
            borrowed_key(" ada@example.com "),
            Cow::Borrowed(_)
        ));
        assert!(matches!(borrowed_key("Ada@example.com"), Cow::Owned(_)));
        assert!(matches!(borrowed_key("ÉMILE@example.com"), Cow::Owned(_)));
    }

    #[test]
    fn user_names_are_checked_after_lower_casing() {
        assert_eq!(check_user_name("Ada.Lovelace").unwrap(), "ada.lovelace");
        assert_eq!(check_user_name(""), Err(RuleViolation::UserNameEmpty));
        assert_eq!(check_user_name("a".repeat(21).as_str()).unwrap().len(), 21);
        assert_eq!(
            check_user_name(&"a".repeat(22)),
            Err(RuleViolation::UserNameTooLong)
        );
        assert_eq!(
            check_user_name("ada lovelace"),
            Err(RuleViolation::UserNameInvalid)
        );
        assert_eq!(
            check_user_name("Everyone"),
            Err(RuleViolation::UserNameNotAllowed)
        );
    }

    #[test]
    fn slack_rewrites_emails_and_specials_in_user_names() {
        assert_eq!(
            slack_normalize_user_name("Guest.User@example.com").unwrap(),
            "guest.user"
        );
        assert_eq!(slack_normalize_user_name("a+b c").unwrap(), "a_b_c");
        assert_eq!(
            slack_normalize_user_name("here"),
            Err(RuleViolation::UserNameNotAllowed)
        );
    }

    #[test]
    fn display_and_person_names() {
        assert!(check_display_name(&"x".repeat(80)).is_ok());
        assert_eq!(
            check_display_name(&"x".repeat(81)),
            Err(RuleViolation::DisplayNameTooLong)
        );
        assert_eq!(check_display_name("@ada"), Err(RuleViolation::StartsWithAt));
        assert_eq!(
            check_display_name("ada@home"),
            Err(RuleViolation::NameSpecials)
        );
        assert_eq!(
            check_person_name(Some(" "), Some("")),
            Err(RuleViolation::NameRequired)
        );
        assert_eq!(
            check_person_name(Some("a@b"), None),
            Err(RuleViolation::NameSpecials)
        );
        assert!(check_person_name(Some("Ada"), None).is_ok());
        assert!(check_person_name(None, None).is_ok());
    }

    #[test]
    fn emails() {
        for good in ["a@example.com", " A.B+tag@sub.example.co.uk "] {
            assert!(check_email(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "a",
            "@example.com",
            "a@",
            "a@example",
            "a@@example.com",
            "a b@example.com",
            "a@example..com",
        ] {
            assert_eq!(check_email(bad), Err(RuleViolation::EmailInvalid), "{bad}");
        }
    }

    #[test]
    fn an_email_with_no_local_part_is_rewritten_whole() {
        // Only a non-empty local part replaces the name; otherwise the `@` becomes `_`.
        assert_eq!(
            slack_normalize_user_name("@example.com").unwrap(),
            "_example.com"
        );
    }

    #[test]
    fn a_single_blank_name_part_is_a_missing_name() {
        assert_eq!(
            check_person_name(Some(" "), None),
            Err(RuleViolation::NameRequired)
        );
        assert_eq!(
            check_person_name(None, Some("")),
            Err(RuleViolation::NameRequired)
        );
        assert!(check_person_name(None, Some("Lovelace")).is_ok());
    }
}

/// Slack token prefixes: `xoxb-`, `xoxp-`, `xoxa-`, `xoxe-`, `xoxr-`, `xoxs-`, … — `xox`, one
/// letter, a dash.
fn token_at(bytes: &[u8], i: usize) -> bool {
    bytes.len() >= i + 5
        && bytes[i..i + 3].eq_ignore_ascii_case(b"xox")
        && bytes[i + 3].is_ascii_alphabetic()
        && bytes[i + 4] == b'-'
        && bytes.get(i + 5).is_some_and(|b| b.is_ascii_alphanumeric())
}

/// The text with anything shaped like a Slack token (`xox?-…`) replaced by
/// `xox?-[redacted]`, wherever it came from: an error that quotes a config value, a source
/// file listed by mistake, a log line. Every message the program prints goes through this.
pub fn redact_tokens(text: &str) -> std::borrow::Cow<'_, str> {
    let bytes = text.as_bytes();
    if !(0..bytes.len()).any(|i| token_at(bytes, i)) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let mut copied = 0;
    while i < bytes.len() {
        if token_at(bytes, i) {
            out.push_str(&text[copied..i + 5]);
            out.push_str("[redacted]");
            i += 5;
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'-') {
                i += 1;
            }
            copied = i;
        } else {
            i += 1;
        }
    }
    out.push_str(&text[copied..]);
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
mod redaction_tests {
    use super::redact_tokens;

    #[test]
    fn every_token_shape_is_redacted_and_nothing_else() {
        assert_eq!(
            redact_tokens("token_env: xoxp-1234-5678-abcdef, then XOXB-99-aa."),
            "token_env: xoxp-[redacted], then XOXB-[redacted]."
        );
        assert_eq!(
            redact_tokens("line 1: \"xoxe.xoxp-1-Abc\"\n"),
            "line 1: \"xoxe.xoxp-[redacted]\"\n"
        );
        assert_eq!(
            redact_tokens("xoxo- and xox and inbox-x"),
            "xoxo- and xox and inbox-x"
        );
        assert_eq!(
            redact_tokens("ünïcödé xoxp-1 ünï"),
            "ünïcödé xoxp-[redacted] ünï"
        );
        assert!(matches!(
            redact_tokens("plain"),
            std::borrow::Cow::Borrowed(_)
        ));
    }
    #[test]
    fn a_token_that_ends_the_text_or_starts_it_is_redacted_whole() {
        assert_eq!(redact_tokens("xoxp-1234-abcd"), "xoxp-[redacted]");
        assert_eq!(redact_tokens("token: xoxb-9"), "token: xoxb-[redacted]");
        assert_eq!(
            redact_tokens("xoxa-1 xoxr-2-3"),
            "xoxa-[redacted] xoxr-[redacted]"
        );
    }
}
