//! `plan()` for 100,000 directory users against 100,000 live users and 2,000 groups: CPU
//! time and peak memory. `cargo bench --bench plan`.

use std::sync::Arc;
use std::time::Instant;

use scimsync::config::{Policy, UnmanagedUsers};
use scimsync::diag::SourceLocation;
use scimsync::directory::{Attribute, DesiredGroup, DesiredUser, Directory, TextValues};
use scimsync::scim::live::{LiveGroup, LiveState, LiveUser};

const USERS: usize = 100_000;
const GROUPS: usize = 2_000;
const MEMBERS: usize = 50;

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn desired(i: usize, file: &Arc<str>) -> DesiredUser {
    let email = format!("user{i:06}@example.com");
    DesiredUser {
        id: None,
        email: email.clone(),
        email_key: email,
        user_name: None,
        user_name_key: format!("user{i:06}"),
        texts: {
            let mut t = TextValues::default();
            t.set(Attribute::GivenName, Some(format!("Given{i}")));
            t.set(Attribute::FamilyName, Some(format!("Family{i}")));
            // 1% have a new title.
            let title = if i.is_multiple_of(100) {
                "Senior Engineer"
            } else {
                "Engineer"
            };
            t.set(Attribute::Title, Some(title));
            t.set(Attribute::EmployeeNumber, Some(format!("E{i:06}")));
            t.set(Attribute::Department, Some(format!("Dept{}", i % 50)));
            t
        },
        manager: (!i.is_multiple_of(10)).then(|| format!("user{:06}@example.com", i - i % 10)),
        guest: None,
        active: true,
        blanks: vec![],
        location: SourceLocation::new(file, u32::try_from(i + 2).unwrap_or(u32::MAX), 1),
        origins: Default::default(),
    }
}

/// The directory: users and groups as a CSV and a YAML source would give them.
fn directory() -> Directory {
    let file: Arc<str> = Arc::from("people.csv");
    // Directory: users 0..100,500 minus the 500 leavers at the top of the live range.
    let mut users: Vec<DesiredUser> = (0..USERS + 500)
        .filter(|i| !(USERS - 500..USERS).contains(i))
        .map(|i| desired(i, &file))
        .collect();
    users.sort_by(|a, b| a.email_key.cmp(&b.email_key));
    let groups: Vec<DesiredGroup> = (0..GROUPS)
        .map(|g| {
            let mut members: Vec<String> = (0..MEMBERS)
                .map(|k| {
                    format!(
                        "user{:06}@example.com",
                        (g * MEMBERS + k + 1) % (USERS - 500)
                    )
                })
                .collect();
            members.sort();
            members.dedup();
            DesiredGroup {
                name: format!("group-{g:04}"),
                name_key: format!("group-{g:04}"),
                members,
                location: SourceLocation::new(&file, 1, 1),
            }
        })
        .collect();
    Directory {
        users,
        groups,
        skipped: vec![],
        sources: vec![file],
    }
}

/// Slack's side: the same people before the changes, plus 500 leavers.
fn live() -> LiveState {
    let live_users: Vec<LiveUser> = (0..USERS)
        .map(|i| LiveUser {
            id: format!("W{i:09}"),
            user_name: format!("user{i:06}"),
            active: true,
            email: format!("user{i:06}@example.com"),
            texts: {
                let mut t = TextValues::default();
                t.set(Attribute::GivenName, Some(format!("Given{i}")));
                t.set(Attribute::FamilyName, Some(format!("Family{i}")));
                t.set(Attribute::Title, Some("Engineer"));
                t.set(Attribute::EmployeeNumber, Some(format!("E{i:06}")));
                t.set(Attribute::Department, Some(format!("Dept{}", i % 50)));
                t
            },
            manager_id: (!i.is_multiple_of(10)).then(|| format!("W{:09}", i - i % 10)),
            ..LiveUser::default()
        })
        .collect();
    let live_groups: Vec<LiveGroup> = (0..GROUPS)
        .map(|g| LiveGroup {
            id: format!("S{g:08}"),
            name: format!("group-{g:04}"),
            // Offset by one: one add and one removal per group.
            members: {
                let mut m: Vec<String> = (0..MEMBERS)
                    .map(|k| format!("W{:09}", (g * MEMBERS + k) % (USERS - 500)))
                    .collect();
                m.sort();
                m
            },
            auto_generated: false,
        })
        .collect();
    LiveState {
        users: live_users,
        groups: live_groups,
    }
}

fn main() {
    let dir = directory();
    let live = live();
    let mut policy = Policy::default();
    policy.scope.email_domains = vec!["example.com".into()];
    policy.unmanaged_users = UnmanagedUsers::Deactivate;
    let before = peak_rss_mib();

    let mut times = Vec::new();
    let mut last = None;
    for _ in 0..5 {
        let t = Instant::now();
        let p = scimsync::plan::plan(&dir, &live, &policy);
        times.push(t.elapsed());
        last = Some(p);
    }
    times.sort();
    let p = last.unwrap();
    let s = p.summary();
    println!(
        "plan: {} directory users vs {} live users, {} groups: median {:?}, best {:?}",
        dir.users.len(),
        live.users.len(),
        GROUPS,
        times[2],
        times[0]
    );
    println!(
        "      {} creates, {} updates, {} deactivations, {} membership changes",
        s.create, s.update, s.deactivate, s.membership_changes
    );
    println!(
        "      peak RSS {:.0} MiB (inputs alone {:.0} MiB)",
        peak_rss_mib(),
        before
    );
    let t = Instant::now();
    let text = scimsync::plan::render::text(&p, false);
    println!(
        "render text: {:?} ({} lines)",
        t.elapsed(),
        text.lines().count()
    );
}
