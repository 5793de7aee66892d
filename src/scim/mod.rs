//! Talking to Slack's SCIM API: wire types for both dialects and Slack's published limits.

pub mod caller;
pub mod client;
pub mod limits;
pub mod listed_user;
pub mod live;
pub mod observe;
pub mod ratelimit;
pub mod target;
pub mod token;
pub mod types;
pub mod write;

pub use crate::slack_rules::ErrorCode;
pub use client::{ScimClient, ScimError};
pub use token::Token;
pub use types::Version;

/// An HTTP client builder with rustls on the `ring` provider (no OpenSSL anywhere), shared by
/// every part of scimsync that speaks HTTP.
pub fn http_client_builder() -> reqwest::ClientBuilder {
    // Installing twice is harmless: the first provider stays.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
}
