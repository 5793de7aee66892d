//! The index of the live state that the planner's steps look accounts up in: by id, primary
//! and any email, userName and employee number, with whether each account is in scope; and
//! the keys (an email or a userName) an op takes or releases, which the index says who holds.

use std::borrow::Cow;
use std::collections::hash_map::Entry;
use std::hash::BuildHasher;

use foldhash::{HashMap, HashMapExt};

use crate::config::Policy;
use crate::scim::live::{LiveState, LiveUser};
use crate::slack_rules::borrowed_key;

/// An email or userName an op takes or releases.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(super) enum Key {
    Email(String),
    UserName(String),
}

impl Key {
    pub(super) fn describe(&self) -> String {
        match self {
            Key::Email(e) => format!("email {e}"),
            Key::UserName(u) => format!("user name {u}"),
        }
    }
}

/// The live state indexed for the planner's look-ups.
pub(super) struct Index<'a> {
    pub(super) live: &'a LiveState,
    by_id: KeyIndex,
    /// Primary emails only: what matching uses.
    by_primary_email: KeyIndex,
    /// Primary and secondary: what uniqueness uses.
    by_any_email: KeyIndex,
    by_user_name: KeyIndex,
    /// The first account holding each employee number; `more_employee_numbers` has the rest.
    by_employee_number: HashMap<&'a str, usize>,
    /// Every account of an employee number held by more than one, in live order.
    more_employee_numbers: HashMap<&'a str, Vec<usize>>,
    /// Whether each live user is in scope.
    pub(super) in_scope: Vec<bool>,
}

impl<'a> Index<'a> {
    pub(super) fn new(live: &'a LiveState, policy: &Policy) -> Index<'a> {
        let users = live.users.as_slice();
        let n = users.len();
        let mut ix = Index {
            live,
            by_id: KeyIndex::new(Field::Id, n),
            by_primary_email: KeyIndex::new(Field::Email, n),
            by_any_email: KeyIndex::new(Field::Email, n),
            by_user_name: KeyIndex::new(Field::UserName, n),
            by_employee_number: HashMap::with_capacity(n),
            more_employee_numbers: HashMap::new(),
            in_scope: Vec::with_capacity(n),
        };
        for (i, u) in users.iter().enumerate() {
            let key = borrowed_key(&u.email);
            ix.in_scope.push(policy.scope.contains(&key, Some(&u.id)));
            ix.by_id.insert_first(users, i, false);
            ix.by_primary_email.insert_first(users, i, false);
            ix.by_any_email.insert_first(users, i, false);
            if u.secondary_email.is_some() {
                ix.by_any_email.insert_first(users, i, true);
            }
            ix.by_user_name.insert_first(users, i, false);
            if let Some(n) = u.employee_number() {
                match ix.by_employee_number.entry(n) {
                    Entry::Vacant(v) => {
                        v.insert(i);
                    }
                    Entry::Occupied(first) => {
                        ix.more_employee_numbers
                            .entry(n)
                            .or_insert_with(|| vec![*first.get()])
                            .push(i);
                    }
                }
            }
        }
        ix
    }

    /// The account of a Slack id.
    pub(super) fn by_id(&self, id: &str) -> Option<usize> {
        self.by_id.get(&self.live.users, id)
    }

    /// The first account whose primary email has this key ([`crate::slack_rules::email_key`]).
    pub(super) fn by_primary_email(&self, key: &str) -> Option<usize> {
        self.by_primary_email.get(&self.live.users, key)
    }

    /// The first account holding this email key, as its primary or secondary email.
    pub(super) fn by_any_email(&self, key: &str) -> Option<usize> {
        self.by_any_email.get(&self.live.users, key)
    }

    /// The first account whose userName has this key.
    pub(super) fn by_user_name(&self, key: &str) -> Option<usize> {
        self.by_user_name.get(&self.live.users, key)
    }

    /// The accounts holding an employee number, in live order.
    pub(super) fn by_employee_number(&self, number: &str) -> &[usize] {
        match self.more_employee_numbers.get(number) {
            Some(all) => all,
            None => self
                .by_employee_number
                .get(number)
                .map(std::slice::from_ref)
                .unwrap_or_default(),
        }
    }

    pub(super) fn user(&self, i: usize) -> &'a LiveUser {
        &self.live.users[i]
    }

    pub(super) fn holder(&self, key: &Key) -> Option<usize> {
        match key {
            Key::Email(e) => self.by_any_email(e),
            Key::UserName(u) => self.by_user_name(u),
        }
    }
}

/// The field of an account a [`KeyIndex`] finds it by.
#[derive(Debug, Clone, Copy)]
enum Field {
    Id,
    /// The email's key, or (a slot's low bit set) the secondary email's.
    Email,
    UserName,
}

/// Live accounts by one text key: a hash table of slots (an account's number, shifted left
/// one, and a bit for its secondary email), 4 bytes each, whose keys are read back from the
/// accounts on look-up. At 100,000 accounts four maps of `(key, index)` pairs took 19 MB; these
/// take under 3. The first account to hold a key keeps it.
struct KeyIndex {
    field: Field,
    table: hashbrown::HashTable<u32>,
    hasher: foldhash::fast::RandomState,
}

impl KeyIndex {
    fn new(field: Field, capacity: usize) -> KeyIndex {
        KeyIndex {
            field,
            table: hashbrown::HashTable::with_capacity(capacity),
            hasher: foldhash::fast::RandomState::default(),
        }
    }

    /// The key of a slot's account.
    fn key(field: Field, users: &[LiveUser], slot: u32) -> Cow<'_, str> {
        let u = &users[slot as usize >> 1];
        match field {
            Field::Id => Cow::Borrowed(&u.id),
            Field::Email if slot & 1 == 1 => {
                borrowed_key(u.secondary_email.as_deref().unwrap_or_default())
            }
            Field::Email => borrowed_key(&u.email),
            Field::UserName => borrowed_key(&u.user_name),
        }
    }

    /// Adds account `i` under its key (its secondary email's with `secondary`), unless an
    /// account added before holds that key.
    fn insert_first(&mut self, users: &[LiveUser], i: usize, secondary: bool) {
        let slot = u32::try_from(i << 1).expect("fewer than 2^31 accounts") | u32::from(secondary);
        let KeyIndex {
            field,
            table,
            hasher,
        } = self;
        let key = KeyIndex::key(*field, users, slot);
        let rehash = |&s: &u32| hasher.hash_one(&*KeyIndex::key(*field, users, s));
        if let hashbrown::hash_table::Entry::Vacant(v) = table.entry(
            hasher.hash_one(&*key),
            |&s| KeyIndex::key(*field, users, s) == key,
            rehash,
        ) {
            v.insert(slot);
        }
    }

    /// The account holding `key`.
    fn get(&self, users: &[LiveUser], key: &str) -> Option<usize> {
        self.table
            .find(self.hasher.hash_one(key), |&s| {
                KeyIndex::key(self.field, users, s) == key
            })
            .map(|&s| s as usize >> 1)
    }
}

/// An account as a conflict names it: active or deactivated, a bot or outside scope.
pub(super) fn describe_account(l: &LiveUser, in_scope: bool) -> String {
    let state = if l.active { "active" } else { "deactivated" };
    let place = if l.is_bot {
        " (a bot)"
    } else if !in_scope {
        " outside scope"
    } else {
        ""
    };
    format!("{state} account {}{place}", l.id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::tests::account;

    #[test]
    fn each_key_finds_the_first_account_holding_it() {
        let mut a = account("W1", "Ada@Example.com");
        a.user_name = "ada".into();
        a.secondary_email = Some("ada@old.example.com".into());
        let mut b = account("W2", "bob@example.com");
        b.user_name = "Ada".into(); // the same userName key as W1's: W1 keeps it
        b.secondary_email = Some("ada@example.com".into()); // W1's primary: W1 keeps it
        let mut users = vec![a, b];
        users.extend((3..2000).map(|i| account(&format!("W{i}"), &format!("u{i}@example.com"))));
        let live = LiveState {
            users,
            groups: vec![],
        };
        let ix = Index::new(&live, &Policy::default());
        assert_eq!(ix.by_id("W2"), Some(1));
        assert_eq!(ix.by_id("w2"), None, "ids are exact");
        assert_eq!(ix.by_primary_email("ada@example.com"), Some(0));
        assert_eq!(ix.by_primary_email("ada@old.example.com"), None);
        assert_eq!(ix.by_any_email("ada@old.example.com"), Some(0));
        assert_eq!(ix.by_any_email("ada@example.com"), Some(0));
        assert_eq!(ix.by_any_email("bob@example.com"), Some(1));
        assert_eq!(ix.by_user_name("ada"), Some(0));
        assert_eq!(ix.holder(&Key::UserName("ada".into())), Some(0));
        assert_eq!(
            ix.holder(&Key::Email("u1999@example.com".into())),
            Some(1998)
        );
        assert_eq!(ix.by_id("W1999"), Some(1998));
        assert_eq!(ix.by_primary_email("nobody@example.com"), None);
        // A table made smaller than what it holds grows, and finds each key after.
        let mut small = KeyIndex::new(Field::Email, 1);
        for i in 0..live.users.len() {
            small.insert_first(&live.users, i, false);
        }
        for (i, u) in live.users.iter().enumerate() {
            assert_eq!(small.get(&live.users, &borrowed_key(&u.email)), Some(i));
        }
    }
}
