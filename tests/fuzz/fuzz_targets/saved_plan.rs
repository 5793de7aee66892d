//! Saved plans (`apply --plan FILE`): whatever the file holds, reading it never panics; a plan
//! that reads is checked against a key and against itself as the fresh plan without panicking,
//! renders in every format, and a seal made for it holds while any other fails.
#![no_main]

use scimsync::model::LiveState;
use scimsync::plan::render::{Format, render};
use scimsync::plan::seal::{SealKey, seal, verify};
use scimsync::plan::{from_json, saved};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(mut plan) = from_json(text) else {
        return;
    };
    let key = SealKey::new(b"fuzz");
    let _ = verify(&plan, &key);
    seal(&mut plan, &key);
    assert!(verify(&plan, &key), "a seal made for a plan holds");
    assert!(!verify(&plan, &SealKey::new(b"other")), "and no other key's");
    for format in [Format::Text, Format::Json, Format::Markdown] {
        let _ = render(&plan, format, false);
    }
    let _ = saved::reconcile(&plan, plan.clone(), &LiveState::default());
});
