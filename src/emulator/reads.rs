//! `GET` answers: one resource, or a page of a (filtered) listing, rendered from a [`View`] of
//! the store — the true state for the answers of writes, the state as of the read lag ago for
//! reads (FACTS TL;DR 16, [`super::lag`]).
//!
//! Paging follows Slack (FACTS §4): `startIndex` 1-based, `count` 10 by default and silently
//! capped at 1000, `itemsPerPage` the number returned. An unfiltered page of users costs
//! O(page), and an equality filter on `userName` or `email` is an index lookup.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use serde_json::Value;

use super::error::ApiError;
use super::filter::{self, Filter};
use super::groups::{self, GroupView};
use super::page::{GroupJson, ListJson, UserJson};
use super::policy::{GroupFilters, Parsing, Rules};
use super::render;
use super::site::Site;
use super::store::{Store, StoredGroup, StoredUser};
use super::users::{self, UserView};
use crate::scim::{ErrorCode, Version};

/// Slack's default page size (FACTS §4).
const DEFAULT_COUNT: usize = 10;
/// Slack's page size cap; larger counts are silently clamped (FACTS §4).
const MAX_COUNT: usize = 1000;

/// The store as one request sees it.
#[derive(Clone, Copy)]
pub struct View<'a> {
    store: &'a Store,
    /// `None`: the true state; `Some(now)`: as a read at `now` sees it.
    at: Option<Instant>,
}

impl<'a> View<'a> {
    /// The true state, as the answer to a write shows it.
    pub fn current(store: &'a Store) -> View<'a> {
        View { store, at: None }
    }

    /// The state a read at `now` sees: each write shows `read_lag` after it was made.
    pub fn lagged(store: &'a Store, now: Instant) -> View<'a> {
        View {
            store,
            at: Some(now),
        }
    }

    /// The instant of a lagged read with writes it cannot see yet, else `None`.
    fn unsettled(&self) -> Option<Instant> {
        self.at.filter(|now| {
            !(self.store.user_history().is_settled(*now)
                && self.store.group_history().is_settled(*now))
        })
    }

    /// The user with this id, as this view sees it.
    pub fn user(&self, id: &str) -> Option<&'a StoredUser> {
        let current = self.store.user(id);
        match self.at {
            Some(now) => self.store.user_history().visible(id, current, now),
            None => current,
        }
    }

    /// The group with this id, as this view sees it.
    pub fn group(&self, id: &str) -> Option<&'a StoredGroup> {
        let current = self.store.group(id);
        match self.at {
            Some(now) => self.store.group_history().visible(id, current, now),
            None => current,
        }
    }

    /// Positions (in creation order, ascending) of the users created too recently to be seen.
    fn hidden_user_positions(&self, now: Instant) -> Vec<usize> {
        let mut hidden: Vec<usize> = self
            .store
            .user_history()
            .pending(now)
            .filter(|id| self.user(id).is_none())
            .filter_map(|id| self.store.user_position(id))
            .collect();
        hidden.sort_unstable();
        hidden
    }

    /// A page of all users in creation order: `count` users from the `skip`-th visible one on,
    /// and how many users are visible in all.
    fn users_page(&self, skip: usize, count: usize) -> (usize, Vec<&'a StoredUser>) {
        let hidden = match self.unsettled() {
            Some(now) => self.hidden_user_positions(now),
            None => Vec::new(),
        };
        // The position of the `skip`-th visible user: every hidden one at or before it
        // pushes it one further.
        let mut first = skip;
        for &p in &hidden {
            if p <= first {
                first = first.saturating_add(1);
            } else {
                break;
            }
        }
        let page = (first..self.store.user_count())
            .filter(|i| hidden.binary_search(i).is_err())
            .map_while(|i| self.store.user_at(i))
            .filter_map(|u| self.user(&u.id))
            .take(count)
            .collect();
        (self.store.user_count() - hidden.len(), page)
    }

    /// The users matching `f`, in creation order (or index order for an equality lookup).
    fn users_matching(&self, f: &Filter) -> Vec<&'a StoredUser> {
        let indexed = match f.as_equality() {
            Some((attr, value)) if attr == "username" => Some(self.store.user_by_user_name(value)),
            Some((attr, value)) if attr == "email" || attr == "emails" => {
                Some(self.store.user_by_email(value))
            }
            _ => None,
        };
        match (indexed, self.unsettled()) {
            // Equality on an indexed key is a lookup, not a scan.
            (Some(found), None) => found.into_iter().collect(),
            // With writes still hidden, the index (the true state) may disagree with what this
            // read sees: check the hit and every recently written user.
            (Some(found), Some(now)) => {
                let pending = self.store.user_history().pending(now);
                let mut seen = HashSet::new();
                found
                    .map(|u| u.id.as_str())
                    .into_iter()
                    .chain(pending)
                    .filter(|id| seen.insert(*id))
                    .filter_map(|id| self.user(id))
                    .filter(|u| f.matches(&UserView(u)))
                    .collect()
            }
            (None, _) => self
                .store
                .users()
                .filter_map(|u| self.user(&u.id))
                .filter(|u| f.matches(&UserView(u)))
                .collect(),
        }
    }

    /// Every group this view sees, in creation order; groups deleted too recently for this
    /// read to notice come last (Slack's order is undocumented, FACTS §4).
    fn groups(&self) -> Vec<&'a StoredGroup> {
        let mut all: Vec<&StoredGroup> = self
            .store
            .groups()
            .filter_map(|g| self.group(&g.id))
            .collect();
        if let Some(now) = self.unsettled() {
            let mut deleted: Vec<&StoredGroup> = self
                .store
                .group_history()
                .pending(now)
                .filter(|id| self.store.group(id).is_none())
                .filter_map(|id| self.group(id))
                .collect();
            deleted.sort_by(|a, b| a.id.cmp(&b.id));
            all.extend(deleted);
        }
        all
    }

    /// The groups a user belongs to, as this view sees them, by id.
    fn groups_of(&self, user_id: &str) -> Vec<&'a StoredGroup> {
        let Some(now) = self.unsettled() else {
            return self.store.groups_of(user_id).collect();
        };
        let history = self.store.group_history();
        let mut ids: Vec<&str> = self
            .store
            .groups_of(user_id)
            .map(|g| g.id.as_str())
            .chain(history.pending(now))
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids.into_iter()
            .filter_map(|id| self.group(id))
            .filter(|g| g.members.iter().any(|m| m == user_id))
            .collect()
    }

    /// A user as Slack renders it, with its groups as this view sees them.
    pub fn user_json(&self, version: Version, site: &'a Site, u: &'a StoredUser) -> UserJson<'a> {
        UserJson {
            user: u,
            version,
            site,
            groups: self.groups_of(&u.id),
        }
    }

    /// A group as Slack renders it, members named by display name (else userName).
    pub fn group_json(
        &self,
        version: Version,
        site: &'a Site,
        g: &'a StoredGroup,
    ) -> GroupJson<'a, impl Fn(&str) -> &'a str + use<'a>> {
        let view = *self;
        GroupJson {
            group: g,
            version,
            site,
            display_of: move |m: &str| -> &'a str {
                view.user(m)
                    .or_else(|| view.store.user(m))
                    .map_or("", |u| u.core_text("displayName").unwrap_or(&u.user_name))
            },
        }
    }

    /// A user as Slack renders it, with its groups.
    pub fn render_user(&self, version: Version, site: &'a Site, u: &'a StoredUser) -> Value {
        render::user(&self.user_json(version, site, u))
    }

    /// A group as Slack renders it, members named by display name (else userName).
    pub fn render_group(&self, version: Version, site: &'a Site, g: &'a StoredGroup) -> Value {
        render::group(&self.group_json(version, site, g))
    }

    /// `GET /Users/{id}`.
    pub fn get_user(&self, version: Version, site: &Site, id: &str) -> Result<Value, ApiError> {
        let u = self
            .user(id)
            .ok_or_else(|| ApiError::with(404, ErrorCode::NoSuchUser, format!("id={id}")))?;
        Ok(self.render_user(version, site, u))
    }

    /// `GET /Groups/{id}`.
    pub fn get_group(&self, version: Version, site: &Site, id: &str) -> Result<Value, ApiError> {
        let g = self
            .group(id)
            .ok_or_else(|| ApiError::with(404, ErrorCode::NoSuchGroup, format!("id={id}")))?;
        Ok(self.render_group(version, site, g))
    }

    /// `GET /Users` with Slack's paging and filters: the page's JSON, written straight out.
    pub fn list_users(
        &self,
        version: Version,
        site: &'a Site,
        q: &Query,
        rules: &Rules,
    ) -> Result<Vec<u8>, ApiError> {
        let (start, count) = paging(q)?;
        let filter = parse_filter(q, &users::is_user_filter_attr)?;
        if let (Some(f), Parsing::Strict) = (&filter, rules.parsing) {
            f.documented()?;
        }
        let (total, page) = match filter {
            None => self.users_page(start - 1, count),
            Some(f) => {
                let matches = self.users_matching(&f);
                let total = matches.len();
                (
                    total,
                    matches.into_iter().skip(start - 1).take(count).collect(),
                )
            }
        };
        let resources: Vec<UserJson<'a>> = page
            .into_iter()
            .map(|u| self.user_json(version, site, u))
            .collect();
        Ok(ListJson {
            version,
            resources: &resources,
            total,
            start_index: start,
        }
        .to_vec())
    }

    /// `GET /Groups` with Slack's paging and filters: the page's JSON, written straight out.
    pub fn list_groups(
        &self,
        version: Version,
        site: &'a Site,
        q: &Query,
        rules: &Rules,
    ) -> Result<Vec<u8>, ApiError> {
        let (start, count) = paging(q)?;
        let filter = group_filter(q, rules.group_filters)?;
        let (total, page): (usize, Vec<&StoredGroup>) = match (&filter, self.unsettled()) {
            (None, None) => (
                self.store.group_count(),
                (start - 1..(start - 1).saturating_add(count))
                    .map_while(|i| self.store.group_at(i))
                    .collect(),
            ),
            _ => {
                let matches: Vec<&StoredGroup> = self
                    .groups()
                    .into_iter()
                    .filter(|g| filter.as_ref().is_none_or(|f| f.matches(&GroupView(g))))
                    .collect();
                let page = matches.iter().skip(start - 1).take(count).copied();
                (matches.len(), page.collect())
            }
        };
        let resources: Vec<_> = page
            .into_iter()
            .map(|g| self.group_json(version, site, g))
            .collect();
        Ok(ListJson {
            version,
            resources: &resources,
            total,
            start_index: start,
        }
        .to_vec())
    }
}

/// A request's query parameters, names lower-cased (Slack's are case-insensitive).
pub type Query = HashMap<String, String>;

/// The query parameters of a request (`+` and `%20` both decode to a space).
pub fn query(raw: Option<&str>) -> Query {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(raw.unwrap_or_default()).unwrap_or_default();
    pairs
        .into_iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v))
        .collect()
}

/// `startIndex` (1-based, default 1) and `count` (default 10, silently capped at 1000).
/// Negative numbers count as 0 (Slack's edge cases are undocumented, FACTS §10.18).
fn paging(q: &Query) -> Result<(usize, usize), ApiError> {
    let num = |key: &str, default: usize| -> Result<usize, ApiError> {
        let Some(v) = q.get(key) else {
            return Ok(default);
        };
        let n: i64 = v
            .trim()
            .parse()
            .map_err(|_| ApiError::with(400, ErrorCode::InvalidQuery, format!("{key}={v}")))?;
        // Beyond usize (only on a 32-bit target): as far as can be, an empty page.
        Ok(usize::try_from(n.max(0)).unwrap_or(usize::MAX))
    };
    let start = num("startindex", 1)?.max(1);
    let count = num("count", DEFAULT_COUNT)?.min(MAX_COUNT);
    Ok((start, count))
}

/// A `/Groups` filter as the setting reads it: honoured, refused (400 `invalid_query`, once
/// it parses: garbage keeps Slack's `no_filters`) or ignored. Slack documents none (FACTS §5).
fn group_filter(q: &Query, reading: GroupFilters) -> Result<Option<Filter>, ApiError> {
    let filter = parse_filter(q, &groups::is_group_filter_attr)?;
    match (reading, filter) {
        (GroupFilters::Honour, f) | (_, f @ None) => Ok(f),
        (GroupFilters::Ignore, Some(_)) => Ok(None),
        (GroupFilters::Refuse, Some(_)) => Err(ApiError::with(
            400,
            ErrorCode::InvalidQuery,
            "filters on /Groups are not documented",
        )),
    }
}

/// The `filter` parameter, parsed and checked against the resource type's attributes.
fn parse_filter(q: &Query, known: &dyn Fn(&str) -> bool) -> Result<Option<Filter>, ApiError> {
    let Some(raw) = q.get("filter") else {
        return Ok(None);
    };
    let f = filter::parse(raw)?;
    f.validate(known)?;
    Ok(Some(f))
}
