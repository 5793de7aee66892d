//! The HR mapping forms (issue 25) on arbitrary bytes: value maps (flags and text, with a
//! default), the manager looked up by name, `where` and `exclude_where`, groups derived from
//! two columns — read from a CSV file, or from a command's JSON (the bytes as its output;
//! nothing runs). The first byte picks the format.
#![no_main]

#[allow(dead_code)] // its CSV config is the csv_reader target's
mod common;

use std::sync::{Arc, LazyLock};

use scimsync::config::{Config, EnvOverrides, compile};

/// The columns, rules and filters every HR config here shares.
const RULES: &str = "    columns:\n      email: Email\n      employee_number: Id\n      \
     given_name: [Preferred, First]\n      family_name: Last\n      \
     manager: {header: Manager, by: name}\n      \
     active: {header: Status, true: [Active, On Leave], false: [Terminated]}\n      \
     department: {header: Dept, map: {ENG: Engineering, 1: One}, default: Other}\n      \
     groups: Groups\n    \
     where: {Type: [Full-Time, Part-Time, 1, true]}\n    \
     exclude_where: {Entity: [Old Co]}\n    \
     derived_groups: [{prefix: dept-, column: Dept}, {column: Location}]\n";

fn config(json: bool) -> Config {
    let source = if json {
        "  - command: [fetch-hr]\n    format: json\n"
    } else {
        "  - csv: p.csv\n"
    };
    let text = format!(
        "target: {{url: embedded}}\nsources:\n{source}{RULES}invalid_users: skip\n"
    );
    compile(
        &Arc::from("scimsync.yaml"),
        text.as_bytes(),
        &EnvOverrides::from_lookup(|_| None),
    )
    .expect("the fuzz config compiles")
    .0
}

static CSV: LazyLock<Config> = LazyLock::new(|| config(false));
static JSON: LazyLock<Config> = LazyLock::new(|| config(true));

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&pick, bytes)) = data.split_first() else {
        return;
    };
    let config = if pick & 1 == 0 { &*CSV } else { &*JSON };
    common::load(config, bytes);
});
