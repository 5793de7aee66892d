//! The seal and binding of a saved plan (DESIGN §4: "a saved plan is a sealed, bound promise,
//! never an instruction").
//!
//! A plan names what it was made for — the target, the organisation Slack said the token
//! belongs to, and the config (its SHA-256) — in [`Binding`], and carries a keyed seal over
//! its whole content: HMAC-SHA256 under a key only a holder of the Slack token (or, for the
//! embedded emulator, of the key kept in the state folder) can derive. An unkeyed digest can be
//! recomputed by anyone who edits the file; a seal cannot. The seal proves who made the plan
//! and that nothing in it changed; it does not make the plan right for *now*: `apply --plan`
//! still re-plans and applies only ops that the current directory, config, state and Slack
//! would make (see `pass`).

use std::collections::BTreeMap;

use ring::hmac;
use serde::{Deserialize, Serialize};

use super::{Counts, Plan, estimate, guards};
use crate::config::{RateLimit, Safety};

/// What a plan was made for. A saved plan is refused anywhere else.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Binding {
    /// The normalised target: the SCIM base URL (lower-case host, no default port, one
    /// trailing slash) or `embedded`.
    pub target: String,
    /// The organisation the token belongs to (Web API `auth.test`: `E…` or `T…`).
    pub organisation: String,
    /// The config file as named, for messages.
    pub config: String,
    /// The SHA-256 of the config file's bytes: the plan applies only under this exact config.
    pub config_sha256: String,
}

/// A key that seals plans: 32 secret bytes.
#[derive(Clone)]
pub struct SealKey(hmac::Key);

impl std::fmt::Debug for SealKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealKey([redacted])")
    }
}

impl SealKey {
    /// A key from secret bytes (derived from the token, or read from the state folder).
    pub fn new(secret: &[u8]) -> SealKey {
        SealKey(hmac::Key::new(hmac::HMAC_SHA256, secret))
    }
}

/// The prefix of a seal, naming its algorithm.
const SEAL_PREFIX: &str = "hmac-sha256:";

/// The bytes the seal covers: the plan's JSON as it is written, `seal` left out (it is skipped
/// while empty). Every map in a plan is sorted and `float_roundtrip` reads numbers back bit for
/// bit, so a plan read back from its file writes the same bytes.
fn sealed_bytes(unsealed: &Plan) -> Vec<u8> {
    debug_assert!(unsealed.seal.is_empty());
    serde_json::to_vec(unsealed).expect("plans serialise")
}

/// What finishing a draft needs besides the draft: the sizes it was made from, the limits it
/// is held to, and what it is bound to.
#[derive(Debug)]
pub struct Sealing<'a> {
    /// The sizes the plan is made from ([`super::counts`]): for a saved plan, those of now.
    pub counts: Counts,
    /// The guards' limits.
    pub safety: &'a Safety,
    /// Users per source at the last successful apply, the `max_source_shrink` guard's base
    /// (none: no state, or no successful apply yet).
    pub last_good: Option<&'a BTreeMap<String, usize>>,
    /// Slack's budgets at the configured share, for the estimate (none: no estimate).
    pub rate: Option<&'a RateLimit>,
    /// What the plan is bound to and the key it is sealed with (none: a digest only, as the
    /// pure planner's plan and the tests have).
    pub bound: Option<(Binding, &'a SealKey)>,
}

impl Sealing<'_> {
    /// Sealing with no memory, no estimate and no binding: the pure planner's.
    pub fn unbound(counts: Counts, safety: &Safety) -> Sealing<'_> {
        Sealing {
            counts,
            safety,
            last_good: None,
            rate: None,
            bound: None,
        }
    }
}

/// The one way a plan is finished, for a fresh plan and for a saved one re-checked alike:
/// from a draft (the planner's steps, then the memory step, then for a saved plan the ops both
/// plans have), it adds the ordering edges across kinds of op ([`super::order`]), sets the
/// counts, every guard (the shrink guard included), the estimate and the digest, then binds
/// and seals it. Nothing else sets any of these.
pub fn finish(mut plan: Plan, sealing: Sealing<'_>) -> Plan {
    super::order::add_edges(&mut plan.ops);
    plan.counts = sealing.counts;
    plan.guards = guards::all(&plan, sealing.safety, sealing.last_good);
    plan.estimate = sealing
        .rate
        .map(|r| estimate::estimate(&plan, r.share).time_scaled(r.time_scale));
    plan.digest = super::digest(&plan);
    plan.binding = None;
    plan.seal.clear();
    if let Some((binding, key)) = sealing.bound {
        plan.binding = Some(binding);
        seal(&mut plan, key);
    }
    plan
}

/// Seals `plan` under `key`: sets [`Plan::seal`] over the rest of its content.
pub fn seal(plan: &mut Plan, key: &SealKey) {
    plan.seal.clear();
    let tag = hmac::sign(&key.0, &sealed_bytes(plan));
    plan.seal = format!("{SEAL_PREFIX}{}", hex(tag.as_ref()));
}

/// Whether `plan.seal` is the seal of its content under `key` (compared in constant time).
pub fn verify(plan: &Plan, key: &SealKey) -> bool {
    let Some(tag) = plan.seal.strip_prefix(SEAL_PREFIX).and_then(from_hex) else {
        return false;
    };
    let mut unsealed = plan.clone();
    unsealed.seal.clear();
    hmac::verify(&key.0, &sealed_bytes(&unsealed), &tag).is_ok()
}

/// Bytes as lower-case hex digits, as the seal and the state's digests and key write them.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

/// Hex digits back to bytes; `None` for anything else.
pub fn from_hex(hex: &str) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) || !hex.is_ascii() {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Op, PlannedOp};

    fn plan() -> Plan {
        let mut p = Plan::of(vec![PlannedOp::new(Op::DeactivateUser {
            id: "W1".into(),
            email: "a@x.io".into(),
            reason: crate::plan::Leaving::Absent,
        })]);
        p.binding = Some(Binding {
            target: "https://api.slack.com/scim/v2/".into(),
            organisation: "E1".into(),
            config: "scimsync.yaml".into(),
            config_sha256: "00".into(),
        });
        p
    }

    #[test]
    fn a_seal_holds_under_its_key_only_and_covers_every_field() {
        let key = SealKey::new(b"token one");
        let mut p = plan();
        seal(&mut p, &key);
        assert!(verify(&p, &key));
        assert!(!verify(&p, &SealKey::new(b"token two")));
        // A JSON round trip keeps it.
        let back: Plan = serde_json::from_str(&serde_json::to_string(&p).unwrap()).unwrap();
        assert!(verify(&back, &key));
        // Any edit breaks it: a field outside the ops, the binding, an op.
        let mut edited = p.clone();
        edited.pending.push(crate::plan::Pending {
            id: "W2".into(),
            email: "b@x.io".into(),
            since: chrono::DateTime::from_timestamp(0, 0).unwrap(),
            due: chrono::DateTime::from_timestamp(0, 0).unwrap(),
            remaining_secs: 0,
        });
        assert!(!verify(&edited, &key));
        let mut edited = p.clone();
        edited.binding.as_mut().unwrap().organisation = "E2".into();
        assert!(!verify(&edited, &key));
        let mut edited = p.clone();
        edited.conflicts.clear();
        edited.conflicts.push(crate::plan::Conflict {
            subject: "x".into(),
            reason: "y".into(),
            source: None,
        });
        assert!(!verify(&edited, &key));
        let mut edited = p.clone();
        edited.seal = "hmac-sha256:zz".into();
        assert!(!verify(&edited, &key));
        edited.seal = String::new();
        assert!(!verify(&edited, &key));
    }
}
