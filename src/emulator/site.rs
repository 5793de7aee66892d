//! Where the emulator's resources live, for the links every rendering carries. Its own file
//! because both writers need it: [`super::page`] (listing pages, straight to bytes) and
//! [`super::render`] (single resources as JSON, which uses the page's types).

use crate::scim::Version;

/// Where the emulator's resources live, for `meta.location` and `profileUrl`.
#[derive(Debug, Clone)]
pub struct Site {
    /// e.g. `http://127.0.0.1:4000`
    pub base_url: String,
    /// e.g. `acme` → `https://acme.slack.com/team/<user>`
    pub workspace: String,
}

impl Site {
    /// `meta.location` of a resource.
    pub fn location(&self, version: Version, kind: &str, id: &str) -> String {
        format!("{}/scim/{version}/{kind}/{id}", self.base_url)
    }
}
