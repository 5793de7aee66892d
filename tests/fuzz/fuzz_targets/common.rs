//! Shared by the directory targets: a config declaring one source of the given kind, whose
//! bytes the fuzzer supplies.

use std::sync::Arc;

use scimsync::config::{Config, EnvOverrides, compile};
use scimsync::directory::{LoadOptions, SourceInput, build};

/// A config with one source (`yaml: d.yaml`, or a CSV mapping every kind of column).
pub fn config(csv: bool) -> Config {
    let source = if csv {
        "  - csv: p.csv\n    columns: {email: Email, user_name: User, given_name: First, \
         title: Title, employee_number: Id, manager_email: Manager, start_date: Start, \
         guest: Guest, guest_expiration: Until, active: Active, groups: Groups, \
         secondary_email: Other, honorific_prefix: Prefix, role: Role, mobile_phone: Mobile, \
         photo: Photo, profile_url: Profile, address.street: Street, address.locality: City, \
         address.region: Region, address.postal_code: Zip, address.country: Country}\n"
    } else {
        "  - yaml: d.yaml\n"
    };
    let text = format!("target: {{url: embedded}}\nsources:\n{source}invalid_users: skip\n");
    compile(
        &Arc::from("scimsync.yaml"),
        text.as_bytes(),
        &EnvOverrides::from_lookup(|_| None),
    )
    .expect("the fuzz config compiles")
    .0
}

/// Loads `bytes` as the config's only source; any result is fine, a panic is not.
pub fn load(config: &Config, bytes: &[u8]) {
    let inputs = [SourceInput {
        spec: &config.sources[0],
        bytes,
    }];
    let options = LoadOptions {
        invalid_users: config.invalid_users,
        today: chrono::NaiveDate::from_ymd_opt(2026, 1, 1).expect("a date"),
    };
    if let Ok(loaded) = build(&inputs, &options) {
        // Every problem renders, whatever text it quotes.
        for p in &loaded.report.problems {
            let _ = p.to_string();
        }
    } else if let Err(e) = build(&inputs, &options) {
        for p in &e.problems {
            let _ = p.to_string();
        }
    }
}
