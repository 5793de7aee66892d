//! What an apply did: every op's result, in plan order, and the itemised report of those that
//! did not apply.

use std::time::Duration;

use serde::Serialize;

use crate::model::Attribute;
use crate::plan::OpKind;

/// Why an op was not sent when the apply was stopping (a signal, the daemon's shutdown).
pub const STOPPED: &str = "scimsync is shutting down";

/// What happened to one op.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum OpResult {
    /// Slack accepted the write.
    Applied {
        /// What applied only in part or differently (a manager not yet created, an account
        /// adopted from an earlier attempt).
        #[serde(skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },
    /// Slack refused the write, or it could not be sent; retries are already spent.
    Failed {
        /// The HTTP status, when Slack answered.
        #[serde(skip_serializing_if = "Option::is_none")]
        status: Option<u16>,
        /// Slack's error code (`email_taken`, …).
        #[serde(skip_serializing_if = "Option::is_none")]
        code: Option<String>,
        /// The error, in words.
        message: String,
    },
    /// Slack created the account but its answer lacks custom profile values the create sent:
    /// Slack drops every one of them when one is invalid (FACTS TL;DR 7). Not a success —
    /// Slack is not equal to the directory — but the account exists: what depends on it
    /// goes on, and the next pass writes the values again.
    ProfileDropped {
        /// The attributes sent and not in Slack's answer.
        dropped: Vec<Attribute>,
    },
    /// Not sent: an op it depends on did not apply, or scimsync was shutting down.
    Skipped {
        /// Why it was not sent, in words.
        reason: String,
    },
}

impl OpResult {
    /// The `result` label of the ops metric: `applied`, `failed` or `skipped`.
    pub fn label(&self) -> &'static str {
        match self {
            OpResult::Applied { .. } => "applied",
            OpResult::ProfileDropped { .. } => "profile_dropped",
            OpResult::Failed { .. } => "failed",
            OpResult::Skipped { .. } => "skipped",
        }
    }

    /// Whether the account or group the op writes exists as it asked (an account whose
    /// profile Slack dropped included): what depends on it may go on.
    pub fn exists(&self) -> bool {
        matches!(
            self,
            OpResult::Applied { .. } | OpResult::ProfileDropped { .. }
        )
    }
}

/// One op's result, with what it was about.
#[derive(Debug, Clone, Serialize)]
pub struct OpOutcome {
    /// What kind of change it was.
    pub kind: OpKind,
    /// The email or group name the op is about.
    pub subject: String,
    /// The Slack id written to (for creates, the new id).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    /// What happened to it.
    #[serde(flatten)]
    pub result: OpResult,
}

/// Every op's result, in plan order.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Outcome {
    /// One entry per plan op, at the op's index.
    pub ops: Vec<OpOutcome>,
    /// 429 answers met (and waited out) during the apply.
    pub rate_limited: u64,
    /// Time requests spent waiting for the rate limiter.
    #[serde(skip)]
    pub waited: Duration,
}

impl Outcome {
    /// How many ops Slack accepted (notes included).
    pub fn applied(&self) -> usize {
        self.count(|r| matches!(r, OpResult::Applied { .. }))
    }

    /// How many ops were sent and failed.
    pub fn failed(&self) -> usize {
        self.count(|r| matches!(r, OpResult::Failed { .. }))
    }

    /// How many creates applied with their custom profile dropped by Slack.
    pub fn profile_dropped(&self) -> usize {
        self.count(|r| matches!(r, OpResult::ProfileDropped { .. }))
    }

    /// How many ops were never sent.
    pub fn skipped(&self) -> usize {
        self.count(|r| matches!(r, OpResult::Skipped { .. }))
    }

    /// How many ops were not started because the apply was stopping.
    pub fn not_started(&self) -> usize {
        self.count(|r| matches!(r, OpResult::Skipped { reason } if reason == STOPPED))
    }

    fn count(&self, f: impl Fn(&OpResult) -> bool) -> usize {
        self.ops.iter().filter(|o| f(&o.result)).count()
    }

    /// Whether every op applied.
    pub fn complete(&self) -> bool {
        self.applied() == self.ops.len()
    }

    /// The itemised report: a summary line, then every op that did not apply. Names, ids and
    /// Slack's messages are values from outside: each is shown escaped
    /// ([`crate::diag::escape::terminal`]), on its line.
    pub fn render(&self) -> String {
        use crate::diag::escape::terminal as v;
        let mut s = format!(
            "Applied {} of {} changes: {} failed, {} skipped.",
            self.applied(),
            self.ops.len(),
            self.failed(),
            self.skipped()
        );
        if self.rate_limited > 0 {
            s.push_str(&format!(" ({} rate-limit pauses)", self.rate_limited));
        }
        let dropped = self.profile_dropped();
        if dropped > 0 {
            s.push_str(&format!(" {dropped} created with their profile dropped."));
        }
        s.push('\n');
        let mut by_kind: std::collections::BTreeMap<OpKind, usize> = Default::default();
        for o in self.ops.iter().filter(|o| o.result.label() == "applied") {
            *by_kind.entry(o.kind).or_default() += 1;
        }
        if !by_kind.is_empty() {
            let kinds: Vec<String> = by_kind.iter().map(|(k, n)| format!("{n} {k}")).collect();
            s.push_str(&format!("Applied: {}.\n", kinds.join(", ")));
        }
        let stopped = self.not_started();
        if stopped > 0 {
            s.push_str(&format!("- {stopped} changes not started: {STOPPED}\n"));
        }
        for o in &self.ops {
            let id = o
                .resource
                .as_deref()
                .map(|r| format!(" {}", v(r)))
                .unwrap_or_default();
            match &o.result {
                OpResult::Applied { .. } => {}
                OpResult::Failed {
                    status,
                    code,
                    message,
                } => s.push_str(&format!(
                    "✗ {:<16} {}{id}: {}{}\n",
                    o.kind,
                    v(&o.subject),
                    v(code.as_deref().unwrap_or("error")),
                    status
                        .map(|st| format!(" (HTTP {st}): {}", v(message)))
                        .unwrap_or_else(|| format!(": {}", v(message)))
                )),
                OpResult::ProfileDropped { dropped } => {
                    let names: Vec<&str> = dropped.iter().map(|a| a.name()).collect();
                    s.push_str(&format!(
                        "! {:<16} {}{id}: applied, profile dropped: Slack's answer lacks {} (Slack drops a new account's whole custom profile when one value is invalid); the next pass writes them again\n",
                        o.kind,
                        v(&o.subject),
                        names.join(", ")
                    ));
                }
                OpResult::Skipped { reason } if reason == STOPPED => {}
                OpResult::Skipped { reason } => s.push_str(&format!(
                    "- {:<16} {}{id}: skipped, {}\n",
                    o.kind,
                    v(&o.subject),
                    v(reason)
                )),
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A group name and Slack's own message are values from outside: the summary shows their
    /// control characters escaped, one op per line.
    #[test]
    fn the_summary_shows_values_from_outside_escaped() {
        let evil = "ops\x1b[2K\x1b[1A\r\nApplied 9 of 9 changes\u{202e}";
        let outcome = Outcome {
            ops: vec![
                OpOutcome {
                    kind: OpKind::CreateGroup,
                    subject: evil.into(),
                    resource: Some(format!("S1{evil}")),
                    result: OpResult::Failed {
                        status: Some(400),
                        code: Some(format!("bad{evil}")),
                        message: format!("Slack says {evil}"),
                    },
                },
                OpOutcome {
                    kind: OpKind::UpdateGroup,
                    subject: evil.into(),
                    resource: None,
                    result: OpResult::Skipped {
                        reason: format!("it depends on {evil}"),
                    },
                },
            ],
            ..Outcome::default()
        };
        let text = outcome.render();
        assert_eq!(text.lines().count(), 3, "{text}");
        assert!(
            !text.chars().any(|c| c != '\n' && c.is_control()),
            "{text:?}"
        );
        assert!(!text.contains('\u{202e}'), "{text:?}");
        assert!(
            text.contains(r"ops\u{1b}[2K\u{1b}[1A\r\nApplied 9 of 9 changes\u{202e}"),
            "{text}"
        );
    }
}
