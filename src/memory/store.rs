//! The state store: what one pass leaves for the next ([`Memory`]: leavers' first absence,
//! digests of last-applied values, refused ops, the last good run's source sizes), in one
//! versioned JSON file per deployment in the config's `state_dir`.
//!
//! Read after the pass lock is taken and written before it is released, so two processes
//! never interleave; written atomically (a temporary file, fsync, rename, fsync of the folder),
//! so a crash leaves the old state or the new one, never half of one. A missing file is a
//! first run. A file that cannot be read or parsed (truncated, edited, a newer version) stops
//! the pass before anything is written: guessing would turn "we lost track of the leavers"
//! into "deactivate everyone now". `plan` reads the state when there is one and never writes it.
//!
//! **One state per deployment.** The file is named after the config (its canonical path, as
//! the lock) and the target, and records both and the organisation Slack said the token
//! belongs to: two configs sharing a folder keep two states, a rehearsal against `embedded`
//! never reads or writes a real target's, and a state that belongs to another organisation is
//! refused (with how to start afresh) rather than read as this one's memory. Its digests are
//! keyed with a secret kept beside it (`state.key`, made once per folder), so a dictionary of
//! titles cannot give values back; the folder is 0700 (a group- or world-writable one is
//! refused: anyone could plant a state there) and the files 0600. A state of the first layout
//! (`state.json`, unkeyed digests) is taken over by the first real target that applies with
//! it, and renamed `state.json.migrated`.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use std::collections::BTreeMap;

use super::{DigestKey, Digests, Failure, GroupCreate, LastGood, Memory};
use crate::config::{Config, ScimServer, StateDir};
use crate::plan::seal::{from_hex, hex};

/// Why the state cannot be used: nothing was written unless the variant says otherwise.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The state file cannot be read or parsed: nothing was written.
    #[error(
        "the state file {path} cannot be used: {reason}; nothing was written. To start \
         afresh (leavers' grace periods restart, the shrink guard has no base until the next \
         successful apply), move it away: mv {path} {path}.bad"
    )]
    Unusable {
        /// The state file.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The state file cannot be written: before the apply (nothing was written), or after it.
    #[error(
        "cannot write the state file {path}: {source} (set state_dir to a writable, \
         persistent folder, or state_dir: false for no state)"
    )]
    Unwritable {
        /// The state file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
}

/// The folder systemd's `StateDirectory=scimsync` makes: the default home of the state (and of
/// the pass lock).
pub const SYSTEMD_STATE_DIR: &str = "/var/lib/scimsync";

/// The state file of the first layout (one per folder, unkeyed digests): migrated.
pub const LEGACY_STATE_FILE: &str = "state.json";

/// The secret the state's digests are keyed with, one per state folder.
pub const KEY_FILE: &str = "state.key";

/// The state file's format marker.
const STATE_FORMAT: &str = "scimsync-state";

/// The state file's version; a file of another version is refused, never guessed at (the
/// first layout's version 1 is migrated).
pub const STATE_VERSION: u32 = 2;

/// Which deployment a state belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deployment {
    /// The config file's canonical path.
    pub config: String,
    /// The normalised target URL, or `embedded`.
    pub target: String,
    /// The organisation the token reached (Web API `auth.test`), once known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organisation: Option<String>,
}

/// The state file as written: the memory borrowed, never copied, and written straight to the
/// file ([`StateStore::save`]).
#[derive(Serialize)]
struct StateFile<'a> {
    format: &'static str,
    version: u32,
    written_at: DateTime<Utc>,
    deployment: &'a Deployment,
    /// Names the key the digests were made with (a digest of it), so a lost or replaced key
    /// is told, not read as "every value changed".
    key_id: String,
    #[serde(flatten)]
    memory: &'a Memory,
}

/// The state file as read: [`StateFile`]'s keys with the memory's spelled out, so that serde
/// reads it straight from the text into the memory (a flattened field would be buffered as a
/// tree first: at 100,000 users that tree was several times the file). [`Memory`] is built
/// from it field by field, so a field added to it must be added here.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StateFileIn {
    #[serde(rename = "format")]
    _format: String,
    #[serde(rename = "version")]
    _version: u32,
    #[serde(rename = "written_at")]
    _written_at: DateTime<Utc>,
    deployment: Deployment,
    key_id: String,
    #[serde(default)]
    leavers: BTreeMap<String, DateTime<Utc>>,
    #[serde(default)]
    applied: BTreeMap<String, Digests>,
    #[serde(default)]
    failures: BTreeMap<String, Failure>,
    #[serde(default)]
    last_good: Option<LastGood>,
    #[serde(default)]
    group_creates: BTreeMap<String, GroupCreate>,
}

impl StateFileIn {
    /// The deployment, the key's id and the memory (without its key).
    fn into_parts(self) -> (Deployment, String, Memory) {
        let memory = Memory {
            leavers: self.leavers,
            applied: self.applied,
            failures: self.failures,
            last_good: self.last_good,
            group_creates: self.group_creates,
            key: DigestKey::default(),
        };
        (self.deployment, self.key_id, memory)
    }
}

/// The keys of a state file checked before the rest is read ([`check_format`]).
#[derive(Deserialize)]
struct Header {
    #[serde(default)]
    format: Option<serde_json::Value>,
    #[serde(default)]
    version: Option<serde_json::Value>,
}

impl Header {
    /// The header of a state file's text, read without building anything else.
    fn of(text: &str) -> Result<Header, String> {
        match serde_json::from_str::<Header>(text) {
            Ok(h) => Ok(h),
            // Valid JSON, but not an object with those keys: not a state file.
            Err(e) if e.is_data() => Ok(Header {
                format: None,
                version: None,
            }),
            Err(e) => Err(format!("not valid JSON: {e}")),
        }
    }

    /// Whether it is a first-layout file (version 1).
    fn is_legacy(&self) -> bool {
        self.version.as_ref().and_then(serde_json::Value::as_u64) == Some(1)
    }
}

/// The first layout's file, read only to migrate it (its marker and version are checked
/// before; its time is not kept).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LegacyStateFile {
    #[serde(rename = "format")]
    _format: String,
    #[serde(rename = "version")]
    _version: u32,
    #[serde(rename = "written_at")]
    _written_at: DateTime<Utc>,
    #[serde(flatten)]
    memory: Memory,
}

/// The state folder for a config: `state_dir` when set; by default `$STATE_DIRECTORY/state`
/// (systemd's `StateDirectory=scimsync`), else `/var/lib/scimsync/state` when
/// `/var/lib/scimsync` exists, else `.scimsync-state` beside the config file. None under
/// `state_dir: false`.
pub fn state_dir(config: &Config) -> Option<PathBuf> {
    match &config.state_dir {
        StateDir::Off => None,
        StateDir::At(dir) => Some(dir.clone()),
        StateDir::Default => Some(default_state_dir(
            Path::new(&*config.file),
            &|name| std::env::var_os(name),
            &|p| p.is_dir(),
        )),
    }
}

/// The default state folder (see [`state_dir`]); `env` and `is_dir` are the process's (tests
/// pass their own).
pub fn default_state_dir(
    config_file: &Path,
    env: &dyn Fn(&str) -> Option<std::ffi::OsString>,
    is_dir: &dyn Fn(&Path) -> bool,
) -> PathBuf {
    if let Some(first) = env("STATE_DIRECTORY")
        .map(|v| {
            v.to_string_lossy()
                .split(':')
                .next()
                .unwrap_or("")
                .to_string()
        })
        .filter(|v| !v.is_empty())
    {
        return Path::new(&first).join("state");
    }
    if is_dir(Path::new(SYSTEMD_STATE_DIR)) {
        return Path::new(SYSTEMD_STATE_DIR).join("state");
    }
    config_file
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .join(".scimsync-state")
}

/// The target as a state and a saved plan record it: the SCIM base URL normalised (the `url`
/// crate lower-cases the host and drops a default port; one trailing slash), or `embedded`.
pub fn target_key(config: &Config) -> String {
    match &config.target.server {
        ScimServer::Embedded => "embedded".into(),
        ScimServer::Url(url) => {
            let mut s = url.as_str().to_string();
            if !s.ends_with('/') {
                s.push('/');
            }
            s
        }
    }
}

/// The deployment a config makes: its canonical path and its target.
pub fn deployment_of(config: &Config) -> Deployment {
    let config_path = std::fs::canonicalize(&*config.file)
        .unwrap_or_else(|_| PathBuf::from(&*config.file))
        .display()
        .to_string();
    Deployment {
        config: config_path,
        target: target_key(config),
        organisation: None,
    }
}

/// The state file's name for a deployment: one per config and target.
fn file_name(d: &Deployment) -> String {
    let id = ring::digest::digest(
        &ring::digest::SHA256,
        format!("{}\n{}", d.config, d.target).as_bytes(),
    );
    format!("state-{}.json", hex(&id.as_ref()[..8]))
}

/// A digest naming a key, recorded in the state beside the digests made with it.
fn key_id(secret: &[u8]) -> String {
    hex(&ring::digest::digest(&ring::digest::SHA256, secret).as_ref()[..8])
}

/// The state folder's secret: read from [`KEY_FILE`], or made (and written by an apply).
/// Kept out of `Debug`.
#[derive(Clone)]
struct Secret {
    bytes: Vec<u8>,
    on_disk: bool,
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

impl Secret {
    fn random() -> Secret {
        let mut bytes = vec![0u8; 32];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes)
            .expect("the system's random source works");
        Secret {
            bytes,
            on_disk: false,
        }
    }

    /// Reads the folder's key, if it has one.
    fn read(path: &Path) -> Result<Option<Secret>, String> {
        let text = match read_if_there(path) {
            Ok(Some(t)) => t,
            Ok(None) => return Ok(None),
            Err(e) => return Err(format!("cannot read its key {}: {e}", path.display())),
        };
        let text = text.trim();
        match from_hex(text).filter(|b| b.len() == 32) {
            Some(bytes) => Ok(Some(Secret {
                bytes,
                on_disk: true,
            })),
            None => Err(format!("its key {} is not 64 hex digits", path.display())),
        }
    }
}

/// Why a folder may not hold the state: others may write to it (whoever can could plant a
/// state that holds or hurries deactivations). The audit log's rule ([`crate::files`]).
fn unsafe_folder(dir: &Path) -> Option<String> {
    match crate::files::check_folder(dir, crate::files::FolderUse::Private) {
        // No folder yet: an apply creates it private.
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
            ) =>
        {
            None
        }
        Err(e) => Some(e.to_string()),
        Ok(_) => None,
    }
}

/// Creates the state folder (and any missing parent) private to this user.
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// The state of one pass: where it lives and what it held when read.
#[derive(Debug, Clone)]
pub struct StateStore {
    /// The state file.
    pub path: PathBuf,
    /// What it held (empty on a first run), with the key its digests are made with.
    pub memory: Memory,
    /// Whose state it is; the organisation is filled in once Slack has said.
    pub deployment: Deployment,
    secret: Secret,
    /// A first-layout state this one was migrated from, renamed once this one is saved.
    legacy: Option<PathBuf>,
}

impl StateStore {
    /// Reads the config's state: `None` under `state_dir: false`; an empty memory when there
    /// is no file yet; an error when the file cannot be read or parsed, belongs to another
    /// deployment, or lies in a folder others may write to.
    pub fn load(config: &Config) -> Result<Option<StateStore>, StateError> {
        let Some(dir) = state_dir(config) else {
            return Ok(None);
        };
        let deployment = deployment_of(config);
        let path = dir.join(file_name(&deployment));
        let bad = |reason: String| StateError::Unusable {
            path: path.display().to_string(),
            reason,
        };
        if let Some(reason) = unsafe_folder(&dir) {
            return Err(bad(reason));
        }
        let secret = Secret::read(&dir.join(KEY_FILE))
            .map_err(&bad)?
            .unwrap_or_else(Secret::random);
        let mut store = StateStore {
            path: path.clone(),
            memory: Memory::default(),
            deployment,
            secret,
            legacy: None,
        };
        match read_if_there(&path).map_err(&bad)? {
            Some(text) => store.read_current(&text).map_err(bad)?,
            None if store.deployment.target != "embedded" => {
                let legacy = dir.join(LEGACY_STATE_FILE);
                if let Some(text) = read_if_there(&legacy).map_err(&bad)? {
                    store.memory = read_legacy(&text).map_err(|reason| StateError::Unusable {
                        path: legacy.display().to_string(),
                        reason,
                    })?;
                    store.legacy = Some(legacy);
                }
            }
            None => {}
        }
        store.memory.key = DigestKey::new(&store.secret.bytes);
        Ok(Some(store))
    }

    /// Reads a state file of this layout, checking that it is this deployment's.
    fn read_current(&mut self, text: &str) -> Result<(), String> {
        let header = Header::of(text)?;
        check_format(
            header.format.as_ref(),
            header.version.as_ref(),
            STATE_VERSION,
        )?;
        drop(header);
        let file: StateFileIn = serde_json::from_str(text).map_err(|e| e.to_string())?;
        let (deployment, key_id, memory) = file.into_parts();
        let theirs = &deployment;
        if theirs.config != self.deployment.config || theirs.target != self.deployment.target {
            return Err(format!(
                "it belongs to the config {} with the target {}, not to {} with {}",
                theirs.config, theirs.target, self.deployment.config, self.deployment.target
            ));
        }
        if key_id != self::key_id(&self.secret.bytes) {
            return Err(format!(
                "its digests were made with another key than {} holds (the key was lost or \
                 replaced)",
                KEY_FILE
            ));
        }
        self.deployment.organisation = deployment.organisation;
        self.memory = memory;
        Ok(())
    }

    /// Checks that the organisation the token reaches is the one this state belongs to, and
    /// records it for a state that does not know its organisation yet.
    pub fn check_organisation(&mut self, organisation: &str) -> Result<(), StateError> {
        match &self.deployment.organisation {
            Some(known) if known != organisation => Err(StateError::Unusable {
                path: self.path.display().to_string(),
                reason: format!(
                    "it belongs to the Slack organisation {known}, and the token now reaches \
                     the organisation {organisation}"
                ),
            }),
            _ => {
                self.deployment.organisation = Some(organisation.to_string());
                Ok(())
            }
        }
    }

    /// The secret of the state folder, for sealing plans made against the embedded emulator.
    pub fn secret(&self) -> &[u8] {
        &self.secret.bytes
    }

    /// Checks, before a pass that may write to Slack, that the state can be written after it:
    /// creates the folder (0700) and writes the folder's key if it has none yet. A read-only or
    /// missing mount fails here, with nothing written, not after the apply.
    pub fn check_writable(&mut self) -> Result<(), StateError> {
        let bad = |e: std::io::Error| StateError::Unwritable {
            path: self.path.display().to_string(),
            source: e,
        };
        let dir = self.path.parent().unwrap_or(Path::new(".")).to_path_buf();
        create_private_dir(&dir).map_err(bad)?;
        if self.secret.on_disk {
            return Ok(());
        }
        let key_path = dir.join(KEY_FILE);
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        match options.open(&key_path) {
            Ok(mut file) => {
                use std::io::Write;
                file.write_all(format!("{}\n", hex(&self.secret.bytes)).as_bytes())
                    .and_then(|()| file.sync_all())
                    .map_err(bad)?;
                self.secret.on_disk = true;
            }
            // Another config's first apply in this folder made it: use that one.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let read = Secret::read(&key_path).map_err(|reason| StateError::Unusable {
                    path: self.path.display().to_string(),
                    reason,
                })?;
                // Gone again already: no key this pass could keep its digests with.
                let secret = read.ok_or_else(|| bad(e))?;
                self.memory.key = DigestKey::new(&secret.bytes);
                self.secret = secret;
            }
            Err(e) => return Err(bad(e)),
        }
        Ok(())
    }

    /// Writes `memory` atomically (mode 0600): a temporary file beside the state file, fsync,
    /// rename, fsync of the folder. A first-layout state this one came from is then renamed.
    pub fn save(&self, memory: &Memory, now: DateTime<Utc>) -> Result<(), StateError> {
        let bad = |e: std::io::Error| StateError::Unwritable {
            path: self.path.display().to_string(),
            source: e,
        };
        let dir = self.path.parent().unwrap_or(Path::new("."));
        create_private_dir(dir).map_err(bad)?;
        let file = StateFile {
            format: STATE_FORMAT,
            version: STATE_VERSION,
            written_at: now,
            deployment: &self.deployment,
            key_id: key_id(&self.secret.bytes),
            memory,
        };
        // Straight to the file: at 100,000 users the text is tens of MiB.
        crate::files::write_atomically_with(&self.path, Some(0o600), |out| {
            serde_json::to_writer_pretty(&mut *out, &file).map_err(std::io::Error::other)?;
            out.write_all(b"\n")
        })
        .map_err(bad)?;
        if let Some(legacy) = &self.legacy {
            let mut done = legacy.clone().into_os_string();
            done.push(".migrated");
            if let Err(e) = std::fs::rename(legacy, &done) {
                tracing::warn!(state = %legacy.display(), error = %e,
                    "the state of the first layout was migrated but cannot be renamed");
            }
        }
        Ok(())
    }
}

/// Parses a state file's text of either layout, as [`StateStore::load`] reads it (without the
/// checks that need the folder: whose deployment, which key): the deployment it names (none
/// for the first layout) and its memory. For the fuzz target and tools.
pub fn parse(text: &str) -> Result<(Option<Deployment>, Memory), String> {
    let header = Header::of(text)?;
    if header.is_legacy() {
        return read_legacy(text).map(|m| (None, m));
    }
    check_format(
        header.format.as_ref(),
        header.version.as_ref(),
        STATE_VERSION,
    )?;
    let file: StateFileIn = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let (deployment, _, memory) = file.into_parts();
    Ok((Some(deployment), memory))
}

/// A file's text, or `None` when it (or its folder) does not exist; never through a symbolic
/// link, never blocking on a FIFO, a regular file only.
fn read_if_there(path: &Path) -> Result<Option<String>, String> {
    match crate::files::read_regular(path) {
        Ok(Some(bytes)) => String::from_utf8(bytes)
            .map(Some)
            .map_err(|_| "not UTF-8".to_string()),
        Ok(None) => Ok(None),
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
            ) =>
        {
            Ok(None)
        }
        Err(e) => Err(e.to_string()),
    }
}

/// Checks the format marker and version of a state file's JSON.
fn check_format(
    format: Option<&serde_json::Value>,
    version: Option<&serde_json::Value>,
    want: u32,
) -> Result<(), String> {
    if format.and_then(|v| v.as_str()) != Some(STATE_FORMAT) {
        return Err("not a scimsync state file".into());
    }
    match version.and_then(serde_json::Value::as_u64) {
        Some(v) if v == u64::from(want) => Ok(()),
        v => Err(format!(
            "state version {} is not supported (this scimsync reads version {STATE_VERSION})",
            v.map_or("(none)".to_string(), |v| v.to_string())
        )),
    }
}

/// Reads a first-layout state (version 1) for migration: its memory, unkeyed digests and all.
fn read_legacy(text: &str) -> Result<Memory, String> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))?;
    check_format(value.get("format"), value.get("version"), 1)?;
    let file: LegacyStateFile = serde_json::from_value(value).map_err(|e| e.to_string())?;
    Ok(file.memory)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_folder_is_systemds_then_var_lib_then_beside_the_config() {
        let none = |_: &str| None;
        let systemd = |n: &str| (n == "STATE_DIRECTORY").then(|| "/var/lib/scimsync".into());
        let nowhere = |_: &Path| false;
        let var_lib = |p: &Path| p == Path::new("/var/lib/scimsync");
        let config = Path::new("conf/scimsync.yaml");
        assert_eq!(
            default_state_dir(config, &systemd, &nowhere),
            PathBuf::from("/var/lib/scimsync/state")
        );
        assert_eq!(
            default_state_dir(config, &none, &var_lib),
            PathBuf::from("/var/lib/scimsync/state")
        );
        assert_eq!(
            default_state_dir(config, &none, &nowhere),
            PathBuf::from("conf/.scimsync-state")
        );
        assert_eq!(
            default_state_dir(Path::new("scimsync.yaml"), &none, &nowhere),
            PathBuf::from("./.scimsync-state")
        );
    }

    fn state_text(format: &str, version: u32) -> String {
        serde_json::json!({
            "format": format,
            "version": version,
            "written_at": "2026-03-01T12:00:00Z",
            "deployment": {"config": "/etc/scimsync.yaml", "target": "embedded"},
            "key_id": "00",
            "applied": {"W1": {"title": "k1:00"}},
        })
        .to_string()
    }

    #[test]
    fn a_state_of_this_version_reads_and_any_other_version_or_format_is_refused() {
        let (deployment, memory) = parse(&state_text(STATE_FORMAT, STATE_VERSION)).unwrap();
        assert_eq!(deployment.unwrap().target, "embedded");
        assert_eq!(
            memory.applied["W1"][&crate::model::Attribute::Title],
            "k1:00"
        );
        let newer = parse(&state_text(STATE_FORMAT, STATE_VERSION + 1)).unwrap_err();
        assert!(
            newer.contains(&format!(
                "state version {} is not supported",
                STATE_VERSION + 1
            )),
            "{newer}"
        );
        let other = parse(&state_text("something-else", STATE_VERSION)).unwrap_err();
        assert_eq!(other, "not a scimsync state file");
    }

    #[test]
    fn text_that_is_no_json_and_json_that_is_no_state_are_told_apart() {
        let broken = parse("{\"format\": \"scimsync-st").unwrap_err();
        assert!(broken.starts_with("not valid JSON: "), "{broken}");
        for other in ["[1, 2]", "\"a string\"", "{\"format\": 5}"] {
            assert_eq!(
                parse(other).unwrap_err(),
                "not a scimsync state file",
                "{other}"
            );
        }
    }

    #[test]
    fn a_first_layout_state_is_read_for_migration_with_no_deployment() {
        let text = serde_json::json!({
            "format": STATE_FORMAT,
            "version": 1,
            "written_at": "2026-03-01T12:00:00Z",
            "applied": {"W1": {"title": "0123456789abcdef"}},
        })
        .to_string();
        let (deployment, memory) = parse(&text).unwrap();
        assert!(deployment.is_none());
        assert_eq!(
            memory.applied["W1"][&crate::model::Attribute::Title],
            "0123456789abcdef"
        );
    }

    #[test]
    fn each_deployment_has_its_own_file_and_each_key_its_own_id() {
        let deployment = |target: &str| Deployment {
            config: "/etc/scimsync.yaml".into(),
            target: target.into(),
            organisation: None,
        };
        let one = file_name(&deployment("https://api.slack.com/scim/v2/"));
        let two = file_name(&deployment("https://api.slack.com/scim/v1/"));
        assert_ne!(one, two);
        for name in [&one, &two] {
            assert!(
                name.starts_with("state-") && name.ends_with(".json"),
                "{name}"
            );
            assert_eq!(name.len(), "state-.json".len() + 16, "{name}");
        }
        assert_ne!(key_id(&[1; 32]), key_id(&[2; 32]));
        assert_eq!(key_id(&[1; 32]).len(), 16);
    }

    #[test]
    fn the_key_never_shows_in_debug_output() {
        let root = tempfile::tempdir().unwrap();
        let store = store_in(root.path());
        let key = hex(&store.secret.bytes);
        let shown = format!("{store:?}");
        assert!(shown.contains("[redacted]"), "{shown}");
        assert!(!shown.contains(&key), "{shown}");
    }

    #[test]
    fn a_folder_others_may_write_to_is_refused_and_a_missing_one_is_made_later() {
        use std::os::unix::fs::PermissionsExt;
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("state");
        assert_eq!(unsafe_folder(&dir), None, "no folder yet");
        assert_eq!(unsafe_folder(&dir.join("below")), None);
        create_private_dir(&dir).unwrap();
        assert_eq!(unsafe_folder(&dir), None);
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        let why = unsafe_folder(&dir).expect("refused");
        assert!(why.contains("state"), "{why}");
    }

    #[test]
    fn only_a_missing_state_file_reads_as_no_state() {
        let root = tempfile::tempdir().unwrap();
        let file = root.path().join("state.json");
        assert_eq!(read_if_there(&file), Ok(None));
        std::fs::write(&file, "{}").unwrap();
        assert_eq!(read_if_there(&file), Ok(Some("{}".into())));
        // A file where a folder should be: nothing there either.
        assert_eq!(read_if_there(&file.join("below")), Ok(None));
        // A symbolic link is never followed, and is no "no state".
        let link = root.path().join("link.json");
        std::os::unix::fs::symlink(&file, &link).unwrap();
        assert!(read_if_there(&link).is_err());
    }

    #[test]
    fn a_state_of_another_config_target_or_key_is_refused() {
        let root = tempfile::tempdir().unwrap();
        let mut store = store_in(root.path());
        let ours = store.deployment.clone();
        let text = |config: &str, target: &str, key_id: &str| {
            serde_json::json!({
                "format": STATE_FORMAT,
                "version": STATE_VERSION,
                "written_at": "2026-03-01T12:00:00Z",
                "deployment": {"config": config, "target": target, "organisation": "E1"},
                "key_id": key_id,
                "applied": {"W1": {"title": "0123456789abcdef"}},
            })
            .to_string()
        };
        let key = key_id(&store.secret.bytes);
        for (config, target) in [
            (ours.config.as_str(), "https://api.slack.com/scim/v1/"),
            ("/etc/other.yaml", ours.target.as_str()),
        ] {
            let err = store.read_current(&text(config, target, &key)).unwrap_err();
            assert!(err.starts_with("it belongs to the config"), "{err}");
        }
        let err = store
            .read_current(&text(&ours.config, &ours.target, "0000000000000000"))
            .unwrap_err();
        assert!(err.contains("another key"), "{err}");
        assert!(
            store.memory.applied.is_empty(),
            "nothing read from a refused state"
        );
        store
            .read_current(&text(&ours.config, &ours.target, &key))
            .unwrap();
        assert_eq!(store.deployment.organisation.as_deref(), Some("E1"));
        assert_eq!(store.memory.applied.len(), 1);
    }

    fn store_in(dir: &Path) -> StateStore {
        StateStore {
            path: dir.join("state.json"),
            memory: Memory::default(),
            deployment: Deployment {
                config: "/etc/scimsync.yaml".into(),
                target: "https://api.slack.com/scim/v2".into(),
                organisation: None,
            },
            secret: Secret::random(),
            legacy: None,
        }
    }

    #[test]
    fn the_first_apply_writes_the_folders_key_and_keeps_it() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("state");
        let mut store = store_in(&dir);
        let ours = store.secret.bytes.clone();
        store.check_writable().unwrap();
        let on_disk = Secret::read(&dir.join(KEY_FILE)).unwrap().unwrap();
        assert_eq!(on_disk.bytes, ours);
        assert!(store.secret.on_disk);
    }

    #[test]
    fn a_key_another_configs_first_apply_wrote_meanwhile_is_adopted() {
        // Two configs share a state folder; both loaded it before either wrote the key. The
        // other one's first apply wrote it first: this one must use that key, or the folder
        // would hold states made with two keys and the next pass would refuse one of them.
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("state");
        let mut store = store_in(&dir);
        create_private_dir(&dir).unwrap();
        let theirs = vec![7u8; 32];
        std::fs::write(dir.join(KEY_FILE), format!("{}\n", hex(&theirs))).unwrap();
        store.check_writable().unwrap();
        assert_eq!(store.secret.bytes, theirs);
        assert!(store.secret.on_disk);
        let value = "ada@example.com";
        assert_eq!(
            store.memory.key.digest(&value),
            DigestKey::new(&theirs).digest(&value)
        );
        // Its bytes are the other config's, untouched.
        let on_disk = Secret::read(&dir.join(KEY_FILE)).unwrap().unwrap();
        assert_eq!(on_disk.bytes, theirs);
    }

    #[test]
    fn a_key_file_this_pass_cannot_use_stops_it_before_any_write() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("state");
        let mut store = store_in(&dir);
        create_private_dir(&dir).unwrap();
        for text in ["not a key\n".to_string(), format!("{}\n", "ab".repeat(31))] {
            std::fs::write(dir.join(KEY_FILE), text).unwrap();
            let err = store.check_writable().unwrap_err().to_string();
            assert!(err.contains("is not 64 hex digits"), "{err}");
            assert!(!dir.join("state.json").exists());
        }
    }
}
