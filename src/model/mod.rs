//! The shared vocabulary at the bottom of the module graph: attributes, live records and write
//! fields. It imports nothing of scimsync's but Slack's rules, so every layer may use it.

mod attribute;
pub mod build;
mod fields;
mod live;
pub mod time;

pub use attribute::{
    ADDRESS, Attribute, CUSTOM_PROFILE_FIELD_LIMIT, Check, Kind, Scim, ScimSlot, Shown, Spec,
    TABLE, TEXT_SLOTS, TextValues, profile_fields_over_limit,
};
pub use fields::{Change, GuestSpec, UserFields, UserRef};
pub use live::{LiveGroup, LiveState, LiveUser};
