//! SCIM JSON decoding: users, groups, list responses and error bodies, as Slack could send
//! them; what decodes re-encodes, and users and groups normalise into live records.
#![no_main]

use scimsync::model::{LiveGroup, LiveUser};
use scimsync::scim::types::{ErrorBody, Group, ListResponse, User};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(u) = serde_json::from_slice::<User>(data) {
        let _ = serde_json::to_vec(&u).expect("a decoded user encodes");
        let _ = LiveUser::from_scim(&u);
    }
    if let Ok(g) = serde_json::from_slice::<Group>(data) {
        let _ = serde_json::to_vec(&g).expect("a decoded group encodes");
        let _ = LiveGroup::from_scim(&g);
    }
    if let Ok(page) = serde_json::from_slice::<ListResponse<User>>(data) {
        let _ = serde_json::to_vec(&page).expect("a decoded page encodes");
    }
    if let Ok(e) = serde_json::from_slice::<ErrorBody>(data) {
        let _ = (e.code(), e.message());
    }
});
