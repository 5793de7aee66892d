//! The emulator's SCIM filter parser on arbitrary text.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = scimsync::emulator::filter::parse(text);
    }
});
