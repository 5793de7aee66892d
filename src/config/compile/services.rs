//! The directory-service sources, `ldap:` and `google_workspace:`: their settings checked
//! (URLs, filters, durations, where secrets come from) and, under `SCIMSYNC_CONFINE`,
//! refused outright — a pull request's config must never choose a server to connect to, nor
//! an environment variable or key file to read (else it could bind to its own LDAP server
//! with the Slack token as the password).

use std::path::PathBuf;
use std::time::Duration;

use super::{Compiler, values};
use crate::config::raw::{
    RawGoogle, RawGoogleGroupName, RawLdap, RawLdapGroups, RawLdapGroupsFrom, RawSource,
};
use crate::config::services::{
    self, GoogleSettings, GroupName, GroupsFrom, LdapSettings, PasswordSource, ServiceSettingError,
};
use crate::config::{
    ColumnMapping, ConfigIssue, CsvColumn, CsvLayout, GoogleSource, LdapSource, SourceFormat,
    SourceSpec,
};
use crate::diag::yaml::Step;
use crate::model::Attribute;

/// Where a source is declared: `sources[i]`.
type Here = [Step<'static>; 2];

/// The default deadline of each network step.
const TIMEOUT: Duration = Duration::from_secs(30);
/// The default page size of both services.
const PAGE_SIZE: u32 = 500;
/// The column a service's groups are in.
const GROUPS: &str = "groups";

impl Compiler<'_> {
    /// An `ldap:` or `google_workspace:` source (the caller saw one of them set).
    pub(super) fn compile_service_source(
        &mut self,
        source: &RawSource,
        here: Here,
    ) -> Option<SourceSpec> {
        let kinds = [
            source.yaml.is_some(),
            source.csv.is_some(),
            source.ldap.is_some(),
            source.google_workspace.is_some(),
        ];
        if kinds.iter().filter(|k| **k).count() != 1 {
            self.error(&here, ConfigIssue::SourceKind);
            return None;
        }
        if self.refuse_service_when_confined(source, here) {
            return None;
        }
        let (format, display) = if let Some(ldap) = &source.ldap {
            let (settings, layout) = self.compile_ldap(source, ldap, here)?;
            let display = format!("ldap {}", settings.url);
            let ldap = LdapSource { settings, layout };
            (SourceFormat::Ldap(Box::new(ldap)), display)
        } else {
            let raw = source.google_workspace.as_ref()?;
            let (settings, layout) = self.compile_google(source, raw, here)?;
            let display = format!("google_workspace {}", settings.customer);
            let google = GoogleSource { settings, layout };
            (SourceFormat::Google(Box::new(google)), display)
        };
        Some(SourceSpec {
            path: PathBuf::new(),
            display: display.into(),
            format,
            override_earlier: source.override_earlier.unwrap_or(false),
            allow_empty: source.allow_empty.unwrap_or(false),
            min_users: source.min_users,
            declared_at: self.at(&here),
        })
    }

    /// Under `SCIMSYNC_CONFINE`: the source, and each key naming a variable or a file to
    /// read, refused (all reported); `true` when refused.
    fn refuse_service_when_confined(&mut self, source: &RawSource, here: Here) -> bool {
        if !self.confined() {
            return false;
        }
        let mut keys: Vec<(&'static str, &'static str, bool)> = Vec::new();
        if let Some(ldap) = &source.ldap {
            keys.push(("ldap", "a server to connect to", true));
            keys.push((
                "password_env",
                "an environment variable to read",
                ldap.password_env.is_some(),
            ));
            keys.push((
                "password_file",
                "a key file to read",
                ldap.password_file.is_some(),
            ));
            keys.push(("ca_file", "a key file to read", ldap.ca_file.is_some()));
        }
        if let Some(google) = &source.google_workspace {
            keys.push(("google_workspace", "a server to connect to", true));
            keys.push(("key_file", "a key file to read", google.key_file.is_some()));
        }
        let kind = if source.ldap.is_some() {
            "ldap"
        } else {
            "google_workspace"
        };
        for (key, what, set) in keys {
            if !set {
                continue;
            }
            if key == kind {
                self.refuse_when_confined(&[here[0], here[1], Step::Key(key)], what);
            } else {
                let at = [here[0], here[1], Step::Key(kind), Step::Key(key)];
                self.refuse_when_confined(&at, what);
            }
        }
        true
    }

    /// An error `problem` at `sources[i].<kind>.<key>`.
    fn service_error(
        &mut self,
        here: Here,
        kind: &'static str,
        key: &'static str,
        problem: String,
    ) {
        let at = [here[0], here[1], Step::Key(kind), Step::Key(key)];
        let field = values::dotted(&at);
        self.error(&at, ConfigIssue::ServiceSetting { field, problem });
    }

    /// A required text setting.
    fn required(
        &mut self,
        here: Here,
        kind: &'static str,
        key: &'static str,
        value: Option<&String>,
    ) -> Option<String> {
        match value.map(|v| v.trim()).filter(|v| !v.is_empty()) {
            Some(v) => Some(v.to_string()),
            None => {
                self.service_error(here, kind, key, "is required".into());
                None
            }
        }
    }

    /// A duration setting, `TIMEOUT` when absent.
    fn timeout(
        &mut self,
        here: Here,
        kind: &'static str,
        value: Option<&String>,
    ) -> Option<Duration> {
        let Some(text) = value else {
            return Some(TIMEOUT);
        };
        let parsed = values::parse_duration(text).filter(|d| !d.is_zero());
        if parsed.is_none() {
            let problem = format!("{text:?} is not a duration like 30s, 2m or 1m30s");
            self.service_error(here, kind, "timeout", problem);
        }
        parsed
    }

    /// A page size in `1..=max`, `PAGE_SIZE` (or `max` if lower) when absent.
    fn page_size(
        &mut self,
        here: Here,
        kind: &'static str,
        value: Option<u32>,
        max: u32,
    ) -> Option<u32> {
        match value {
            None => Some(PAGE_SIZE.min(max)),
            Some(n) if (1..=max).contains(&n) => Some(n),
            Some(n) => {
                self.service_error(here, kind, "page_size", format!("is {n}, must be 1–{max}"));
                None
            }
        }
    }

    /// The source's column mapping, with the `groups` column mapped when the service reads
    /// groups and the config does not map it.
    fn service_layout(
        &mut self,
        source: &RawSource,
        here: Here,
        kind: &'static str,
        groups: bool,
    ) -> Option<CsvLayout> {
        if source.delimiter.is_some() {
            self.error(
                &[here[0], here[1], Step::Key("delimiter")],
                ConfigIssue::CsvOnly { field: "delimiter" },
            );
        }
        let mut layout = self.compile_csv_layout(source, here)?;
        let column = CsvColumn::Attribute(Attribute::Groups);
        if groups && !layout.columns.iter().any(|m| m.column == column) {
            layout.columns.push(ColumnMapping {
                column,
                declared_at: self.at(&[here[0], here[1], Step::Key(kind)]),
                header: GROUPS.into(),
                fallbacks: Vec::new(),
            });
        }
        Some(layout)
    }

    /// An `ldap:` source's settings and mapping.
    fn compile_ldap(
        &mut self,
        source: &RawSource,
        raw: &RawLdap,
        here: Here,
    ) -> Option<(LdapSettings, CsvLayout)> {
        const K: &str = "ldap";
        let url = self.required(here, K, "url", raw.url.as_ref());
        let base_dn = self.required(here, K, "base_dn", raw.base_dn.as_ref());
        let password = self.ldap_password(raw, here);
        let ca_file = match &raw.ca_file {
            Some(text) => Some(self.file_path(
                &[here[0], here[1], Step::Key(K), Step::Key("ca_file")],
                text,
            )?),
            None => None,
        };
        let groups = self.ldap_groups(raw.groups.as_ref(), base_dn.as_deref());
        let timeout = self.timeout(here, K, raw.timeout.as_ref());
        let page_size = self.page_size(here, K, raw.page_size, 10_000);
        let layout = self.service_layout(source, here, K, raw.groups.is_some());
        let (url, base_dn, password, timeout, page_size, layout) =
            (url?, base_dn?, password?, timeout?, page_size?, layout?);
        let attributes = services::mapped_headers(&layout)
            .into_iter()
            .filter(|h| !(groups.is_some() && h == GROUPS))
            .collect();
        let settings = LdapSettings {
            url,
            start_tls: raw.start_tls.unwrap_or(false),
            ca_file,
            bind_dn: raw.bind_dn.clone(),
            password,
            base_dn,
            filter: raw
                .filter
                .clone()
                .unwrap_or_else(|| "(objectClass=person)".into()),
            attributes,
            groups,
            page_size,
            timeout,
        };
        if let Err(e) = settings.check() {
            let key = if matches!(e, ServiceSettingError::Url(_)) {
                "url"
            } else {
                "filter"
            };
            self.service_error(here, K, key, e.to_string());
            return None;
        }
        Some((settings, layout))
    }

    /// Where the bind password comes from: at most one of `password_env` and
    /// `password_file`, and one exactly when there is a `bind_dn`.
    fn ldap_password(&mut self, raw: &RawLdap, here: Here) -> Option<Option<PasswordSource>> {
        const K: &str = "ldap";
        let source = match (&raw.password_env, &raw.password_file) {
            (Some(_), Some(_)) => {
                self.service_error(
                    here,
                    K,
                    "password_file",
                    "set password_env or password_file, not both".into(),
                );
                return None;
            }
            (Some(name), None) => {
                let name = name.trim();
                if self.token_vars.iter().any(|t| t == name) {
                    let problem = format!(
                        "{name} holds the Slack token: it is never sent to an LDAP server as a password"
                    );
                    self.service_error(here, K, "password_env", problem);
                    return None;
                }
                Some(PasswordSource::Env(name.to_string()))
            }
            (None, Some(path)) => {
                let at = [here[0], here[1], Step::Key(K), Step::Key("password_file")];
                Some(PasswordSource::File(self.file_path(&at, path)?))
            }
            (None, None) => None,
        };
        match (&raw.bind_dn, &source) {
            (Some(_), None) => {
                let problem = "a bind_dn needs password_env or password_file (an empty password would bind anonymously)";
                self.service_error(here, K, "bind_dn", problem.into());
                None
            }
            (None, Some(_)) => {
                self.service_error(here, K, "bind_dn", "is required with a password".into());
                None
            }
            _ => Some(source),
        }
    }

    /// Where groups come from, defaults filled in.
    fn ldap_groups(
        &mut self,
        raw: Option<&RawLdapGroups>,
        base_dn: Option<&str>,
    ) -> Option<GroupsFrom> {
        let raw = raw?;
        Some(match raw.from.unwrap_or(RawLdapGroupsFrom::Entries) {
            RawLdapGroupsFrom::MemberOf => GroupsFrom::MemberOf {
                attribute: raw.attribute.clone().unwrap_or_else(|| "memberOf".into()),
            },
            RawLdapGroupsFrom::Entries => GroupsFrom::Entries {
                base_dn: raw.base_dn.clone().or_else(|| base_dn.map(str::to_string)).unwrap_or_default(),
                filter: raw.filter.clone().unwrap_or_else(|| {
                    "(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames)(objectClass=group))".into()
                }),
                name_attribute: raw.name_attribute.clone().unwrap_or_else(|| "cn".into()),
            },
        })
    }

    /// A `google_workspace:` source's settings and mapping.
    fn compile_google(
        &mut self,
        source: &RawSource,
        raw: &RawGoogle,
        here: Here,
    ) -> Option<(GoogleSettings, CsvLayout)> {
        const K: &str = "google_workspace";
        let key_file = match self.required(here, K, "key_file", raw.key_file.as_ref()) {
            Some(text) => self.file_path(
                &[here[0], here[1], Step::Key(K), Step::Key("key_file")],
                &text,
            ),
            None => None,
        };
        let subject = self.required(here, K, "subject", raw.subject.as_ref());
        let api_base = raw
            .api_url
            .clone()
            .unwrap_or_else(|| services::GOOGLE_API_BASE.into());
        if let Err(e) = services::https_or_loopback("api_url", &api_base) {
            self.service_error(here, K, "api_url", e.to_string());
        }
        let timeout = self.timeout(here, K, raw.timeout.as_ref());
        let page_size = self.page_size(here, K, raw.page_size, 500);
        let groups = raw.groups.unwrap_or(false);
        let layout = self.service_layout(source, here, K, groups);
        let (key_file, subject, timeout, page_size, layout) =
            (key_file?, subject?, timeout?, page_size?, layout?);
        services::https_or_loopback("api_url", &api_base).ok()?;
        let settings = GoogleSettings {
            key_file,
            subject,
            customer: raw.customer.clone().unwrap_or_else(|| "my_customer".into()),
            api_base,
            groups,
            group_name: match raw.group_name {
                Some(RawGoogleGroupName::Email) => GroupName::Email,
                _ => GroupName::Name,
            },
            page_size,
            timeout,
            retry_base: Duration::from_secs(1),
        };
        Some((settings, layout))
    }
}
