//! The memory's shared parts and its write side, without a network: what a pass learns from
//! a listing and an outcome ([`next_memory`]), and the digests it keeps.

use std::sync::Arc;

use super::*;
use crate::config::Policy;
use crate::diag::SourceLocation;
use crate::directory::{DesiredUser, Directory, TextValues};
use crate::model::{LiveState, LiveUser};

fn person(email: &str, line: u32) -> DesiredUser {
    let key = email.to_lowercase();
    DesiredUser {
        id: None,
        email: email.into(),
        email_key: key.clone(),
        user_name: None,
        user_name_key: key.split('@').next().unwrap().to_string(),
        texts: TextValues::default(),
        manager: None,
        guest: None,
        active: true,
        groups: vec![],
        blanks: vec![],
        location: SourceLocation::new(&Arc::from("people.csv"), line, 0),
        origins: vec![],
    }
}

fn account(id: &str, email: &str) -> LiveUser {
    LiveUser {
        id: id.into(),
        user_name: email.split('@').next().unwrap().to_lowercase(),
        active: true,
        email: email.into(),
        ..LiveUser::default()
    }
}

fn directory(mut users: Vec<DesiredUser>) -> Directory {
    users.sort_by(|a, b| a.email_key.cmp(&b.email_key));
    Directory {
        users,
        groups: vec![],
        skipped: vec![],
        sources: vec![Arc::from("people.csv")],
    }
}

#[test]
fn the_state_learns_only_the_values_slack_shows_equal_to_the_directorys() {
    let mut ada = person("ada@example.com", 2);
    ada.texts.set(Attribute::Title, Some("Engineer"));
    ada.texts.set(Attribute::Department, Some("R&D"));
    let mut back = person("back@example.com", 3); // a rejoiner: active in the directory
    back.texts.set(Attribute::Title, Some("Designer"));
    let mut gone = person("gone@example.com", 4);
    gone.active = false;
    gone.texts.set(Attribute::Title, Some("Designer"));
    let dir = directory(vec![ada, back, gone]);
    let mut a = account("W1", "ada@example.com");
    a.texts.set(Attribute::Title, Some("Chief")); // a hand edit: not learned
    a.texts.set(Attribute::Department, Some("R&D"));
    let mut b = account("W2", "back@example.com");
    b.active = false;
    b.texts.set(Attribute::Title, Some("Designer"));
    let mut g = account("W3", "gone@example.com");
    g.texts.set(Attribute::Title, Some("Designer"));
    let mut other = account("W4", "other@example.com");
    other.texts.set(Attribute::Title, Some("Boss"));
    let live = LiveState {
        users: vec![a, b, g, other],
        groups: vec![],
    };
    let synced = in_sync(&dir, &live, &Policy::default());
    let learned: Vec<(&str, Vec<(Attribute, &str)>)> = synced.into_iter().collect();
    assert_eq!(
        learned,
        [
            ("W1", vec![(Attribute::Department, "R&D")]),
            ("W2", vec![(Attribute::Title, "Designer")]),
        ]
    );
}
