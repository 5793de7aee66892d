//! Slack's SCIM endpoint classes and rate limits (FACTS §7), shared by the emulator, which
//! enforces them, and the client, which stays under them.

/// Read or write: Slack meters each set org-wide, across every SCIM app.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RateSet {
    /// GETs: listings, single resources, metadata.
    Read,
    /// POST, PUT, PATCH and DELETE.
    Write,
}

/// The endpoint classes Slack meters (and the emulator counts) separately.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Endpoint {
    /// `GET /Users`, paged or filtered.
    UsersList,
    /// `GET /Users/{id}`.
    UserGet,
    /// `POST /Users`.
    UserCreate,
    /// `PATCH` or `PUT /Users/{id}`.
    UserUpdate,
    /// `DELETE /Users/{id}` (a deactivation).
    UserDelete,
    /// `GET /Groups`, paged or filtered.
    GroupsList,
    /// `GET /Groups/{id}`.
    GroupGet,
    /// `POST /Groups`.
    GroupCreate,
    /// `PATCH` or `PUT /Groups/{id}`: renames and membership changes.
    GroupUpdate,
    /// `DELETE /Groups/{id}`.
    GroupDelete,
    /// ServiceProviderConfig(s), Schemas, ResourceTypes.
    Metadata,
}

impl Endpoint {
    /// Every class, for building one limiter per class.
    pub const ALL: [Endpoint; 11] = [
        Endpoint::UsersList,
        Endpoint::UserGet,
        Endpoint::UserCreate,
        Endpoint::UserUpdate,
        Endpoint::UserDelete,
        Endpoint::GroupsList,
        Endpoint::GroupGet,
        Endpoint::GroupCreate,
        Endpoint::GroupUpdate,
        Endpoint::GroupDelete,
        Endpoint::Metadata,
    ];

    /// The class's snake_case name (`user_create`), for logs and the emulator's request
    /// counts.
    pub fn name(self) -> &'static str {
        match self {
            Endpoint::UsersList => "users_list",
            Endpoint::UserGet => "user_get",
            Endpoint::UserCreate => "user_create",
            Endpoint::UserUpdate => "user_update",
            Endpoint::UserDelete => "user_delete",
            Endpoint::GroupsList => "groups_list",
            Endpoint::GroupGet => "group_get",
            Endpoint::GroupCreate => "group_create",
            Endpoint::GroupUpdate => "group_update",
            Endpoint::GroupDelete => "group_delete",
            Endpoint::Metadata => "metadata",
        }
    }

    /// The org-wide set the class also counts against.
    pub fn set(self) -> RateSet {
        match self {
            Endpoint::UsersList
            | Endpoint::UserGet
            | Endpoint::GroupsList
            | Endpoint::GroupGet
            | Endpoint::Metadata => RateSet::Read,
            _ => RateSet::Write,
        }
    }

    /// Slack's own per-endpoint limit, if the endpoint has one (list and metadata endpoints
    /// only count against the org-wide read set).
    pub fn quota(self) -> Option<Quota> {
        let q = |per_minute, burst| Some(Quota { per_minute, burst });
        match self {
            Endpoint::UserGet | Endpoint::GroupGet => q(300, 300),
            Endpoint::UserCreate
            | Endpoint::UserUpdate
            | Endpoint::UserDelete
            | Endpoint::GroupCreate
            | Endpoint::GroupDelete => q(180, 20),
            Endpoint::GroupUpdate => q(180, 80),
            Endpoint::UsersList | Endpoint::GroupsList | Endpoint::Metadata => None,
        }
    }
}

impl RateSet {
    /// The set's lower-case name, `read` or `write`, for logs and reports.
    pub fn name(self) -> &'static str {
        match self {
            RateSet::Read => "read",
            RateSet::Write => "write",
        }
    }

    /// Slack's org-wide limit for the set.
    pub fn quota(self) -> Quota {
        match self {
            RateSet::Read => Quota {
                per_minute: 1000,
                burst: 1000,
            },
            RateSet::Write => Quota {
                per_minute: 600,
                burst: 180,
            },
        }
    }
}

/// A token bucket: `burst` tokens, refilled at `per_minute`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    /// Sustained rate: tokens added per minute.
    pub per_minute: u32,
    /// Bucket size: requests that may go at once after a quiet spell.
    pub burst: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slack_numbers() {
        assert_eq!(
            RateSet::Write.quota(),
            Quota {
                per_minute: 600,
                burst: 180
            }
        );
        assert_eq!(
            Endpoint::UserCreate.quota(),
            Some(Quota {
                per_minute: 180,
                burst: 20
            })
        );
        assert_eq!(Endpoint::GroupUpdate.quota().unwrap().burst, 80);
        assert_eq!(Endpoint::UsersList.quota(), None);
        assert_eq!(Endpoint::UserDelete.set(), RateSet::Write);
    }
}
