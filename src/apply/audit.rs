//! The append-only audit log: one JSON line per write attempted.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::Serialize;

use super::{OpOutcome, OpResult};
use crate::plan::{Change, Op, OpKind, UserRef};

/// The append-only audit log: one JSON line per write. Holds no secret: the token never
/// reaches this module.
pub struct AuditLog {
    file: Mutex<std::fs::File>,
    path: PathBuf,
}

#[derive(Serialize)]
struct AuditLine<'a> {
    time: String,
    op: OpKind,
    subject: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    resource: Option<&'a str>,
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
    /// Why an account is deactivated (`not in the directory`, `active: false at people.csv:3`).
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
    #[serde(flatten)]
    outcome: &'a OpResult,
}

/// How an audit line names a member: its Slack id, or the email of a user this plan creates.
fn member(r: &UserRef) -> &str {
    match r {
        UserRef::Id(id) | UserRef::New(id) => id,
    }
}

impl AuditLog {
    /// Opens `path` for appending, creating it if needed; earlier lines are kept.
    pub fn open(path: &Path) -> std::io::Result<AuditLog> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        Ok(AuditLog {
            file: Mutex::new(file),
            path: path.to_path_buf(),
        })
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
        let line = AuditLine {
            time: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            op: outcome.kind,
            subject: &outcome.subject,
            resource: outcome.resource.as_deref(),
            changes,
            members_added,
            members_removed,
            rename,
            reason: match op {
                Op::DeactivateUser { reason, .. } => Some(reason),
                _ => None,
            },
            outcome: &outcome.result,
        };
        let mut text = serde_json::to_string(&line).expect("audit lines serialise");
        text.push('\n');
        let mut file = self.file.lock().unwrap_or_else(|p| p.into_inner());
        if let Err(e) = file.write_all(text.as_bytes()).and_then(|()| file.flush()) {
            tracing::error!(path = %self.path.display(), error = %e, "cannot write the audit log");
        }
    }
}
