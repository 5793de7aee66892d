//! The index of the live state that the planner's steps look accounts up in: by id, primary
//! and any email, userName and employee number, with whether each account is in scope; and
//! the keys (an email or a userName) an op takes or releases, which the index says who holds.

use std::borrow::Cow;
use std::collections::hash_map::Entry;

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
    pub(super) by_id: HashMap<&'a str, usize>,
    /// Primary emails only: what matching uses. Keys borrow the live state's text when it is
    /// already its own key (nearly always), so the index allocates no string per account.
    pub(super) by_primary_email: HashMap<Cow<'a, str>, usize>,
    /// Primary and secondary: what uniqueness uses.
    pub(super) by_any_email: HashMap<Cow<'a, str>, usize>,
    pub(super) by_user_name: HashMap<Cow<'a, str>, usize>,
    /// The first account holding each employee number; `more_employee_numbers` has the rest.
    by_employee_number: HashMap<&'a str, usize>,
    /// Every account of an employee number held by more than one, in live order.
    more_employee_numbers: HashMap<&'a str, Vec<usize>>,
    /// Whether each live user is in scope.
    pub(super) in_scope: Vec<bool>,
}

impl<'a> Index<'a> {
    pub(super) fn new(live: &'a LiveState, policy: &Policy) -> Index<'a> {
        let n = live.users.len();
        let mut ix = Index {
            live,
            by_id: HashMap::with_capacity(n),
            by_primary_email: HashMap::with_capacity(n),
            by_any_email: HashMap::with_capacity(n),
            by_user_name: HashMap::with_capacity(n),
            by_employee_number: HashMap::with_capacity(n),
            more_employee_numbers: HashMap::new(),
            in_scope: Vec::with_capacity(n),
        };
        for (i, u) in live.users.iter().enumerate() {
            let key = borrowed_key(&u.email);
            ix.in_scope.push(policy.scope.contains(&key, Some(&u.id)));
            ix.by_id.insert(u.id.as_str(), i);
            ix.by_primary_email.entry(key.clone()).or_insert(i);
            ix.by_any_email.entry(key).or_insert(i);
            if let Some(e) = &u.secondary_email {
                ix.by_any_email.entry(borrowed_key(e)).or_insert(i);
            }
            ix.by_user_name
                .entry(borrowed_key(&u.user_name))
                .or_insert(i);
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
            Key::Email(e) => self.by_any_email.get(e.as_str()).copied(),
            Key::UserName(u) => self.by_user_name.get(u.as_str()).copied(),
        }
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
