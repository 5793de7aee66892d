//! The CSV reader, merge and validation on arbitrary bytes.
#![no_main]

mod common;

use std::sync::LazyLock;

static CONFIG: LazyLock<scimsync::config::Config> = LazyLock::new(|| common::config(true));

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    common::load(&CONFIG, data);
});
