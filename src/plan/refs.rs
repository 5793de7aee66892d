//! How the plan refers to a directory user (a manager, a group member): the Slack account it
//! matched, or the create that makes it. Worked out on demand from the matching, not kept as
//! a map: at 100,000 users a map of every email key to an owned reference took 8 MB at the
//! planner's peak, and the group step's map of users by email another 3.

use std::hash::BuildHasher;

use foldhash::HashMap;

use super::UserRef;
use crate::directory::{DesiredUser, Directory};
use crate::model::LiveUser;

/// What became of a directory user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Fate {
    Matched(usize),
    Create,
    /// In conflict, or a leaver with no account: no op, no reference.
    Nothing,
}

/// A reference borrowed from the directory or the listing; [`Ref::owned`] makes the plan's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Ref<'a> {
    /// The Slack account with this id.
    Id(&'a str),
    /// The user created, earlier in the plan, with this email key.
    New(&'a str),
}

impl Ref<'_> {
    /// The reference as a plan holds it.
    pub(super) fn owned(self) -> UserRef {
        match self {
            Ref::Id(id) => UserRef::Id(id.to_string()),
            Ref::New(key) => UserRef::New(key.to_string()),
        }
    }
}

/// Directory users by email key, and what each is referred to as.
pub(super) struct Refs<'a> {
    users: &'a [DesiredUser],
    /// One per directory user.
    fates: &'a [Fate],
    live: &'a [LiveUser],
    /// Directory users by email key: a hash table of their numbers, 4 bytes each, whose keys
    /// are read back from the users on look-up.
    by_email: hashbrown::HashTable<u32>,
    hasher: foldhash::fast::RandomState,
    /// A skipped row's email key and the account holding it as a primary email: still
    /// referred to, since the account is kept (a skipped row is left alone, not forgotten).
    skipped: HashMap<&'a str, usize>,
    /// Once ordering has dropped some creates: the creates kept. A reference to a create
    /// that was dropped refers to nobody.
    created: Option<&'a HashMap<String, usize>>,
}

impl<'a> Refs<'a> {
    /// `fates` is one per user of `dir`; `held` gives the account holding an email key as its
    /// primary email.
    pub(super) fn new(
        dir: &'a Directory,
        fates: &'a [Fate],
        live: &'a [LiveUser],
        held: impl Fn(&str) -> Option<usize>,
    ) -> Refs<'a> {
        let hasher = foldhash::fast::RandomState::default();
        let mut by_email = hashbrown::HashTable::with_capacity(dir.users.len());
        let users = dir.users.as_slice();
        for (i, u) in users.iter().enumerate() {
            let at = u32::try_from(i).expect("under 4 billion directory users");
            let hash = hasher.hash_one(u.email_key.as_str());
            let key = |&j: &u32| users[j as usize].email_key == u.email_key;
            // The first user of a key keeps it (a directory holds each key once).
            if by_email.find(hash, key).is_none() {
                by_email.insert_unique(hash, at, |&j| {
                    hasher.hash_one(users[j as usize].email_key.as_str())
                });
            }
        }
        let skipped = dir
            .skipped
            .iter()
            .filter_map(|s| Some((s.email_key.as_str(), held(&s.email_key)?)))
            .collect();
        Refs {
            users,
            fates,
            live,
            by_email,
            hasher,
            skipped,
            created: None,
        }
    }

    /// The directory user with this email key.
    pub(super) fn user(&self, email_key: &str) -> Option<&'a DesiredUser> {
        let hash = self.hasher.hash_one(email_key);
        let users = self.users;
        self.by_email
            .find(hash, |&j| users[j as usize].email_key == email_key)
            .map(|&j| &users[j as usize])
    }

    /// What the plan refers to the directory user (or skipped row) of this email key as.
    pub(super) fn get(&self, email_key: &str) -> Option<Ref<'a>> {
        if let Some(&li) = self.skipped.get(email_key) {
            return Some(Ref::Id(&self.live[li].id));
        }
        let hash = self.hasher.hash_one(email_key);
        let users = self.users;
        let &j = self
            .by_email
            .find(hash, |&j| users[j as usize].email_key == email_key)?;
        let user = &users[j as usize];
        match self.fates[j as usize] {
            Fate::Matched(li) => Some(Ref::Id(&self.live[li].id)),
            Fate::Create
                if self
                    .created
                    .is_none_or(|c| c.contains_key(user.email_key.as_str())) =>
            {
                Some(Ref::New(&user.email_key))
            }
            Fate::Create | Fate::Nothing => None,
        }
    }

    /// From now on, a create not in `created` (dropped while ordering) is referred to by
    /// nobody.
    pub(super) fn keep_creates(&mut self, created: &'a HashMap<String, usize>) {
        self.created = Some(created);
    }
}
