//! The append-only audit log: one JSON line per write attempted.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::Serialize;

use super::{OpOutcome, OpResult};
use crate::plan::{Change, Op, OpKind};

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
    #[serde(flatten)]
    outcome: &'a OpResult,
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
        let line = AuditLine {
            time: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            op: outcome.kind,
            subject: &outcome.subject,
            resource: outcome.resource.as_deref(),
            changes,
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
