//! The state file (`state_dir/state-….json`, and the first layout's `state.json`): whatever
//! the file holds, reading it never panics, and a state that reads writes back to the same.
#![no_main]

use scimsync::memory::store::parse;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok((_, memory)) = parse(text) else {
        return;
    };
    let again = serde_json::to_value(&memory).expect("a memory serialises");
    let back: scimsync::memory::Memory = serde_json::from_value(again).expect("and reads back");
    assert_eq!(back, memory);
});
