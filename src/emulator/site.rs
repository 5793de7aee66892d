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

    /// The `profileUrl` a user shows: the URL a create sent, when the emulator echoes it
    /// (`stored`, [`super::policy::ProfileUrlReading::Echo`]), else Slack's own
    /// `https://<workspace>.slack.com/team/<user name>` (FACTS §2.2).
    pub fn profile_url(&self, user_name: &str, stored: Option<&str>) -> String {
        stored.map_or_else(
            || format!("https://{}.slack.com/team/{user_name}", self.workspace),
            str::to_string,
        )
    }
}
