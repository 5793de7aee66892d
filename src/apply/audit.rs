//! The append-only audit log: one JSON line when an apply starts (the config file and its
//! SHA-256, the plan's digest, the target), one naming the guards it overrides and by which
//! `--allow` flag, one per write attempted (a create's attributes, an update's changes, a
//! group's members added and removed, a deactivation's reason), and one when it ends. Every
//! line of one apply carries the same `apply` id.
//!
//! The file is created with mode 0600: its lines hold people's names and emails. An existing
//! file that others may read is tightened to 0600 on its open descriptor, with a warning: the
//! process owns what it appends to, and a log shipper is better served by `stdout: true` than
//! by a world-readable file. The file is opened as [`crate::files`] opens a private file: a
//! symbolic link, a FIFO or any other non-regular file, a file with other names or another
//! owner, and a folder others may write to are refused before the first write, so a name
//! planted in the folder can neither redirect people's data nor hang the apply with its lock
//! held. Lines may be mirrored to standard output (containers collect their logs from it).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::Serialize;
use serde_json::{Map, Value};

use super::{OpOutcome, OpResult, Outcome};
use crate::config::{Config, ScimServer};
use crate::model::UserFields;
use crate::plan::{Change, GuardTrip, Op, OpKind, Plan, UserRef};

/// The append-only audit log. Holds no secret: the token never reaches this module.
pub struct AuditLog {
    /// The file, if one is configured.
    file: Option<(Mutex<std::fs::File>, PathBuf)>,
    /// Whether lines also go to standard output.
    stdout: bool,
    /// Ties the lines of one apply together.
    apply: String,
}

/// Every line's head: when, which apply, what happened.
#[derive(Serialize)]
struct Head<'a> {
    time: String,
    apply: &'a str,
    event: &'static str,
}

/// The first line of an apply.
#[derive(Serialize)]
struct StartLine<'a> {
    #[serde(flatten)]
    head: Head<'a>,
    /// The config file as named.
    config: &'a str,
    /// The SHA-256 of its bytes as read (compare with `sha256sum`).
    config_sha256: &'a str,
    /// The SCIM endpoint written to (`embedded` for the built-in emulator).
    target: String,
    /// The plan's digest (as `plan --format json` shows it).
    plan_digest: &'a str,
    /// How many writes the plan holds.
    ops: usize,
    /// The scimsync version.
    version: &'static str,
}

/// The guards an apply overrides.
#[derive(Serialize)]
struct OverrideLine<'a> {
    #[serde(flatten)]
    head: Head<'a>,
    overrides: Vec<Override<'a>>,
}

#[derive(Serialize)]
struct Override<'a> {
    guard: String,
    flag: String,
    message: &'a str,
}

/// The last line of an apply.
#[derive(Serialize)]
struct EndLine<'a> {
    #[serde(flatten)]
    head: Head<'a>,
    ops: usize,
    applied: usize,
    failed: usize,
    skipped: usize,
    rate_limited: u64,
    /// `success` when every op applied, else `partial`.
    outcome: &'static str,
    duration_ms: u64,
}

/// One write.
#[derive(Serialize)]
struct AuditLine<'a> {
    #[serde(flatten)]
    head: Head<'a>,
    op: OpKind,
    subject: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    resource: Option<&'a str>,
    /// A create's attributes, as sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    attributes: Option<Map<String, Value>>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    changes: &'a [Change],
    /// Group members added: Slack ids, or the email of a user created in the same plan.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    members_added: Vec<&'a str>,
    /// Group members removed (Slack ids).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    members_removed: Vec<&'a str>,
    /// A group's new name.
    #[serde(skip_serializing_if = "Option::is_none")]
    rename: Option<&'a str>,
    /// Why an account is deactivated, in words rendered from [`crate::plan::Leaving`] (`not in
    /// the directory`, `active: false at people.csv:3`).
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    #[serde(flatten)]
    outcome: &'a OpResult,
}

/// How an audit line names a member: its Slack id, or the email of a user this plan creates.
fn member(r: &UserRef) -> &str {
    match r {
        UserRef::Id(id) | UserRef::New(id) => id,
    }
}

/// A create's attributes as sent, by name: its email and user name, each text attribute
/// (`null` for one cleared), the manager (a Slack id, or the email of a user created in the
/// same apply), the guest expiry.
fn create_attributes(email: &str, user_name: &str, fields: &UserFields) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert("email".into(), email.into());
    out.insert("user_name".into(), user_name.into());
    for (attribute, value) in &fields.text {
        out.insert(attribute.name().into(), value.clone().into());
    }
    if let Some(manager) = &fields.manager {
        out.insert(
            "manager".into(),
            manager.as_ref().map(|m| member(m).to_string()).into(),
        );
    }
    if let Some(Some(guest)) = &fields.guest {
        let value = serde_json::to_value(guest).unwrap_or(Value::Null);
        out.insert("guest".into(), value);
    }
    if let Some(active) = fields.active {
        out.insert("active".into(), active.into());
    }
    out
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

impl AuditLog {
    /// Opens `path` for appending, creating it (mode 0600) if needed; earlier lines are kept.
    pub fn open(path: &Path) -> std::io::Result<AuditLog> {
        AuditLog::to(Some(path), false)
    }

    /// An audit log written to `path` (if any) and, with `stdout`, to standard output. The
    /// file is opened for appending and created with mode 0600; one that group or others may
    /// read is tightened to 0600, with a warning; a link, a non-regular file or a folder others
    /// may write to is refused (see the module doc).
    pub fn to(path: Option<&Path>, stdout: bool) -> std::io::Result<AuditLog> {
        let file = match path {
            Some(path) => Some((Mutex::new(open_private(path)?), path.to_path_buf())),
            None => None,
        };
        Ok(AuditLog {
            file,
            stdout,
            apply: format!("{:016x}", fastrand::u64(..)),
        })
    }

    /// This apply's id, on every line it writes.
    pub fn apply_id(&self) -> &str {
        &self.apply
    }

    fn head(&self, event: &'static str) -> Head<'_> {
        Head {
            time: now(),
            apply: &self.apply,
            event,
        }
    }

    /// The apply's first line, and, when it overrides guards (`overridden`: the guards the
    /// plan trips that `--allow` lets through), a line naming each with its flag.
    pub fn started(&self, config: &Config, plan: &Plan, overridden: &[GuardTrip]) {
        self.write(&StartLine {
            head: self.head("apply_start"),
            config: &config.file,
            config_sha256: &config.digest,
            target: match &config.target.server {
                ScimServer::Embedded => "embedded".into(),
                ScimServer::Url(url) => url.to_string(),
            },
            plan_digest: &plan.digest,
            ops: plan.ops.len(),
            version: env!("CARGO_PKG_VERSION"),
        });
        if !overridden.is_empty() {
            self.write(&OverrideLine {
                head: self.head("guards_overridden"),
                overrides: overridden
                    .iter()
                    .map(|g| Override {
                        guard: g.guard.to_string(),
                        flag: g.guard.flag(),
                        message: &g.message,
                    })
                    .collect(),
            });
        }
    }

    /// The apply's last line: how many ops applied, failed and were skipped.
    pub fn ended(&self, outcome: &Outcome, took: std::time::Duration) {
        self.write(&EndLine {
            head: self.head("apply_end"),
            ops: outcome.ops.len(),
            applied: outcome.applied(),
            failed: outcome.failed(),
            skipped: outcome.skipped(),
            rate_limited: outcome.rate_limited,
            outcome: if outcome.complete() {
                "success"
            } else {
                "partial"
            },
            duration_ms: u64::try_from(took.as_millis()).unwrap_or(u64::MAX),
        });
    }

    pub(super) fn record(&self, op: &Op, outcome: &OpOutcome) {
        let changes: &[Change] = match op {
            Op::UpdateUser { changes, .. } => changes,
            _ => &[],
        };
        let (members_added, members_removed, rename) = match op {
            Op::CreateGroup { members, .. } => (members.iter().map(member).collect(), vec![], None),
            Op::UpdateGroup {
                add,
                remove,
                rename,
                ..
            } => (
                add.iter().map(member).collect(),
                remove.iter().map(String::as_str).collect(),
                rename.as_deref(),
            ),
            _ => (vec![], vec![], None),
        };
        self.write(&AuditLine {
            head: self.head("write"),
            op: outcome.kind,
            subject: &outcome.subject,
            resource: outcome.resource.as_deref(),
            attributes: match op {
                Op::CreateUser {
                    email,
                    user_name,
                    fields,
                    ..
                } => Some(create_attributes(email, user_name, fields)),
                _ => None,
            },
            changes,
            members_added,
            members_removed,
            rename,
            reason: match op {
                Op::DeactivateUser { reason, .. } => Some(reason.to_string()),
                _ => None,
            },
            outcome: &outcome.result,
        });
    }

    /// Writes one line to the file and to standard output; a failure is logged, never fatal
    /// (the write it records has already been sent).
    fn write(&self, line: &impl Serialize) {
        let mut text = serde_json::to_string(line).expect("audit lines serialise");
        text.push('\n');
        if let Some((file, path)) = &self.file {
            let mut file = file.lock().unwrap_or_else(|p| p.into_inner());
            if let Err(e) = file.write_all(text.as_bytes()).and_then(|()| file.flush()) {
                tracing::error!(path = %path.display(), error = %e, "cannot write the audit log");
            }
        }
        if self.stdout {
            let mut out = std::io::stdout().lock();
            if let Err(e) = out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
                tracing::error!(error = %e, "cannot write the audit log to standard output");
            }
        }
    }
}

/// Opens `path` for appending (see [`crate::files::open_append_private`]): in a private folder
/// ([`crate::files::FolderUse::Private`]), never through a symbolic link, never blocking,
/// a regular file with one name owned by this user, created with mode 0600; an existing file
/// that group or others may access is set to 0600 on the open descriptor (with a warning).
fn open_private(path: &Path) -> std::io::Result<std::fs::File> {
    let folder = crate::files::folder_of(path);
    crate::files::check_folder(folder, crate::files::FolderUse::Private)?;
    let (file, was) = crate::files::open_append_private(path)?;
    if let Some(mode) = was.filter(|m| m & 0o077 != 0) {
        tracing::warn!(
            path = %path.display(),
            "the audit log was readable by others (mode {mode:03o}): its mode is now 600"
        );
    }
    Ok(file)
}
