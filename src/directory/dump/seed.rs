//! `scimsync dump --as-seed`: the live organisation written in the emulator's seed format, so
//! `scimsync emulator --seed FILE --preset like-slack` is a copy of the organisation to
//! rehearse a change against. Unlike the directory dump, nothing is left out: bots,
//! deactivated accounts, guests, Slack-generated groups and every id stay as Slack holds them,
//! with every attribute scimsync reads.
//!
//! What SCIM does not show cannot be copied: who is an owner or admin (every account but a
//! bot is a member in the copy), single-channel guests (multi-channel in the copy), photos and
//! creation times.

use crate::emulator::{Snapshot, StoredGroup, StoredGuest, StoredUser};
use crate::model::{LiveGroup, LiveState, LiveUser};

/// How a guest's expiration is written in the seed (what Slack's guest extension takes).
const EXPIRATION_FORMAT: &str = "%Y-%m-%dT%H:%M:%SZ";

/// The live state as an emulator seed (YAML).
pub fn dump_as_seed(live: &LiveState) -> String {
    let yaml = serde_yaml::to_string(&snapshot(live)).expect("a snapshot serialises");
    format!(
        "# Written by `scimsync dump --as-seed`: the live organisation as an emulator seed.\n\
         # Rehearse against it: scimsync emulator --seed FILE --preset like-slack\n{yaml}"
    )
}

/// The live state as the emulator's snapshot, users and groups in listing order.
pub fn snapshot(live: &LiveState) -> Snapshot {
    Snapshot {
        users: live.users.iter().map(stored_user).collect(),
        groups: live.groups.iter().map(stored_group).collect(),
    }
}

fn stored_user(u: &LiveUser) -> StoredUser {
    let mut stored = StoredUser::new(&u.user_name, &u.email);
    stored.id.clone_from(&u.id);
    stored.active = u.active;
    stored.secondary_email.clone_from(&u.secondary_email);
    for (attribute, value) in u.texts.iter() {
        stored.set_text(attribute, Some(value.to_string()));
    }
    stored.manager_id.clone_from(&u.manager_id);
    stored.guest = u.guest.map(|expiration| StoredGuest {
        expiration: expiration.map(|e| e.format(EXPIRATION_FORMAT).to_string()),
        single_channel: false,
    });
    if u.is_bot {
        stored.role = crate::emulator::Role::Bot;
    }
    stored
}

fn stored_group(g: &LiveGroup) -> StoredGroup {
    StoredGroup {
        id: g.id.clone(),
        display_name: g.name.clone(),
        members: g.members.clone(),
        auto_generated: g.auto_generated,
        created: String::new(),
    }
}
