//! Talking to Slack's SCIM API: wire types for both dialects and Slack's published limits.

pub mod limits;
pub mod types;

pub use types::Version;
