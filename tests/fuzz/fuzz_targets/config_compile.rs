//! Config compilation (raw serde types, then every check) on arbitrary bytes.
#![no_main]

use std::sync::Arc;

use scimsync::config::{EnvOverrides, compile};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let env = EnvOverrides::from_lookup(|_| None);
    if let Err(e) = compile(&Arc::from("scimsync.yaml"), data, &env) {
        for p in &e.problems {
            let _ = p.to_string();
        }
    }
});
