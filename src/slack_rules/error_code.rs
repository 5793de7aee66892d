//! Slack's SCIM error codes (FACTS §6.4), one enum shared by the client (which reads them out
//! of error bodies) and the emulator (which answers with them). Inside the program a code is
//! this enum; on the wire and in reports it is Slack's snake_case text.

/// Declares the enum, its wire text and the list of every code, from one table.
macro_rules! error_codes {
    ($( $(#[$doc:meta])* $variant:ident => $text:literal, )*) => {
        /// A Slack SCIM error code: the leading token of an error body's
        /// `description` (v1) or `detail` (v2).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum ErrorCode {
            $( $(#[$doc])* $variant, )*
        }

        impl ErrorCode {
            /// Every code, in declaration order.
            pub const ALL: &'static [ErrorCode] = &[ $( ErrorCode::$variant, )* ];

            /// The code as Slack writes it (`email_taken`).
            pub const fn as_str(self) -> &'static str {
                match self {
                    $( ErrorCode::$variant => $text, )*
                }
            }
        }
    };
}

error_codes! {
    // Auth, plan and token.
    /// No token was sent.
    MissingAuthentication => "missing_authentication",
    /// Bad token, missing admin scope, or not a Bearer token.
    InvalidAuthentication => "invalid_authentication",
    /// The token may not do this.
    PermissionDenied => "permission_denied",
    /// The workspace's plan has no SCIM.
    PlusTeamsOnly => "plus_teams_only",
    /// An Enterprise Grid token not from an org-level install.
    NonOrgTeamsOnly => "non_org_teams_only",
    // Routing and protocol.
    /// No such endpoint.
    BadEndpoint => "bad_endpoint",
    /// The endpoint does not take this method.
    MethodNotAllowed => "method_not_allowed",
    /// Neither `/scim/v1` nor `/scim/v2`.
    UnsupportedVersion => "unsupported_version",
    /// A write body without `schemas`.
    MissingSchemaElement => "missing_schema_element",
    /// Unsupported attributes or an unreadable body.
    InvalidRequestPayload => "invalid_request_payload",
    /// A single value where a list belongs, or the reverse.
    InvalidAttributeFormat => "invalid_attribute_format",
    /// No user id in the path.
    MissingUserId => "missing_user_id",
    /// No group id in the path.
    MissingGroupId => "missing_group_id",
    /// A user id that is not one.
    CannotDecodeUserId => "cannot_decode_user_id",
    // Filters.
    /// A filter Slack cannot read.
    NoFilters => "no_filters",
    /// A filter cut short.
    IncompleteFilter => "incomplete_filter",
    /// A filter combining what Slack does not combine.
    InvalidFilterGroup => "invalid_filter_group",
    /// A query Slack refuses.
    InvalidQuery => "invalid_query",
    /// Slack could not build the query.
    QueryBuildingFailed => "query_building_failed",
    /// Slack's database failed the query.
    DatabaseQueryFailure => "database_query_failure",
    /// A sort order Slack does not know.
    InvalidSortOrder => "invalid_sort_order",
    // Lookups.
    /// No user with this id.
    NoSuchUser => "no_such_user",
    /// No user with this id (another spelling).
    UnknownUser => "unknown_user",
    /// No group with this id.
    NoSuchGroup => "no_such_group",
    /// A group member that does not exist.
    NoSuchGroupMembers => "no_such_group_members",
    // User names.
    /// A create without a userName.
    UsernameRequired => "username_required",
    /// An empty userName.
    UsernameEmpty => "username_empty",
    /// A userName with characters Slack does not allow.
    UsernameInvalid => "username_invalid",
    /// A reserved userName.
    UsernameNotAllowed => "username_not_allowed",
    /// The userName belongs to another account (or a channel).
    UsernameTaken => "username_taken",
    /// A userName over 21 characters.
    UsernameTooLong => "username_too_long",
    /// A userName over 21 characters on update.
    LongUsername => "long_username",
    /// A nickname over 21 characters.
    LongNickname => "long_nickname",
    /// Slack could not truncate a name to avoid a clash.
    TruncationError => "truncation_error",
    // Emails.
    /// An empty email.
    EmailEmpty => "email_empty",
    /// An email Slack does not accept.
    EmailInvalid => "email_invalid",
    /// Emails Slack does not accept.
    EmailsInvalid => "emails_invalid",
    /// The email belongs to another account, deactivated ones included.
    EmailTaken => "email_taken",
    /// An email Slack does not accept (another spelling).
    BadEmailAddress => "bad_email_address",
    /// No primary email.
    MissingPrimaryEmail => "missing_primary_email",
    // Names.
    /// A display name Slack does not accept.
    InvalidDisplayName => "invalid_display_name",
    /// A name over its maximum length.
    InvalidNameMaxlength => "invalid_name_maxlength",
    /// A name with characters Slack does not allow (`@`, …).
    InvalidNameSpecials => "invalid_name_specials",
    /// A required name is missing.
    InvalidNameRequired => "invalid_name_required",
    /// A name starting with `@`.
    InvalidStartsWithAt => "invalid_starts_with_at",
    /// A name with an emoji.
    InvalidEmojiNotAllowed => "invalid_emoji_not_allowed",
    /// A reserved word as a name.
    InvalidReservedWord => "invalid_reserved_word",
    // Other attributes.
    /// Addresses Slack does not accept.
    AddressesInvalid => "addresses_invalid",
    /// Phone numbers Slack does not accept.
    PhoneNumbersInvalid => "phoneNumbers_invalid",
    /// Photos Slack does not accept.
    PhotosInvalid => "photos_invalid",
    /// Roles Slack does not accept.
    RolesInvalid => "roles_invalid",
    /// Groups Slack does not accept.
    GroupsInvalid => "groups_invalid",
    /// An enterprise extension Slack cannot read.
    ImproperEnterpriseSchemaFormat => "improper_enterprise_schema_format",
    /// Passwords cannot be changed over SCIM.
    PasswordChangeNotAllowed => "password_change_not_allowed",
    /// Over the 50 custom profile fields.
    UnableToCreateTeamProfileFields => "unable_to_create_team_profile_fields",
    // Protected accounts.
    /// Owners cannot be changed with an admin's token.
    CannotModifyOwner => "cannot_modify_owner",
    /// The account is under a GDPR hold.
    CannotModifyGdpr => "cannot_modify_gdpr",
    /// Bots cannot be deactivated over SCIM.
    CannotDisableBotUserWithScim => "cannot_disable_bot_user_with_scim",
    /// The primary owner cannot be deactivated.
    CannotDisablePrimaryOwner => "cannot_disable_primary_owner",
    /// Slack could not check for the primary owner.
    PrimaryOwnerCheckFailure => "primary_owner_check_failure",
    /// This account cannot become a guest.
    CannotMakeUserGuest => "cannot_make_user_guest",
    // Creates.
    /// The user exists already, or another failure.
    UserCreationFailed => "user_creation_failed",
    // Groups.
    /// The group could not be created.
    GroupCreationFailed => "group_creation_failed",
    /// The group's members could not be added.
    GroupMembersCreateFailed => "group_members_create_failed",
    /// Over the group size limit.
    GroupMemberMaxExceeded => "group_member_max_exceeded",
    /// Over 15,000 members in one request.
    TooManyUsers => "too_many_users",
    /// The group is linked to a subteam whose members cannot be removed.
    FailedToRemoveUsersForLinkedSubteam => "failed_to_remove_users_for_linked_subteam",
    /// The IdP group is linked to channels.
    IdpGroupLinkedToChannels => "idp_group_linked_to_channels",
    /// Deactivated users and guests cannot join groups.
    UnableToAddDeletedOrGuestToGroup => "unable_to_add_deleted_or_guest_to_group",
    // Throttling.
    /// Over a rate limit.
    TooManyRequests => "too_many_requests",
    /// The resource is being written by another request.
    ResourceLocked => "resource_locked",
    // Seen in practice, not in the list.
    /// Slack failed inside.
    InternalError => "internal_error",
}

impl ErrorCode {
    /// The code an error text starts with (`email_taken (email=…)` → `EmailTaken`), if it is
    /// one Slack documents.
    pub fn parse(text: &str) -> Option<ErrorCode> {
        let head = text
            .trim()
            .split(|c: char| c.is_whitespace() || c == '(')
            .next()?;
        ErrorCode::ALL.iter().copied().find(|c| c.as_str() == head)
    }

    /// Whether the code says that an email or a userName is held by another account: the
    /// answer a retried create gets when its first attempt succeeded.
    pub fn is_taken(self) -> bool {
        matches!(self, ErrorCode::EmailTaken | ErrorCode::UsernameTaken)
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_round_trips_and_is_unique() {
        let mut seen = std::collections::HashSet::new();
        for &c in ErrorCode::ALL {
            assert!(seen.insert(c.as_str()), "{c} twice");
            assert_eq!(ErrorCode::parse(c.as_str()), Some(c));
        }
    }

    #[test]
    fn the_leading_token_is_the_code() {
        assert_eq!(
            ErrorCode::parse("username_taken (username=ada)"),
            Some(ErrorCode::UsernameTaken)
        );
        assert_eq!(
            ErrorCode::parse(" no_filters(is_aggregate_call=1)"),
            Some(ErrorCode::NoFilters)
        );
        assert_eq!(ErrorCode::parse("something_else"), None);
        assert_eq!(ErrorCode::parse(""), None);
    }

    #[test]
    fn only_an_email_or_a_user_name_held_elsewhere_is_taken() {
        for &c in ErrorCode::ALL {
            let taken = matches!(c, ErrorCode::EmailTaken | ErrorCode::UsernameTaken);
            assert_eq!(c.is_taken(), taken, "{c}");
        }
    }
}
