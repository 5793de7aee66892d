//! Memory across passes, in one place. scimsync stays level-triggered: a plan is made from the
//! directory and Slack alone (`crate::plan`); the memory only adjusts it with what earlier
//! passes left, and is then updated from what this pass did. Three sides, one file each:
//!
//! - [`recall`] (read): applies the memory to a fresh plan, purely (the clock is an argument):
//!   the grace period of leavers, drift told apart from change, stuck ops waiting out their
//!   backoff;
//! - [`learn`] (write): what this pass leaves for the next one ([`next_memory`]): the leaver
//!   clock, the digests of last-applied values, the refused ops, the last good apply;
//! - [`store`]: the versioned state file it lives in between passes, its key and its folder.
//!
//! The types below are what all three share. The memory holds Slack ids, timestamps, counts
//! and digests only; the digests are keyed ([`DigestKey`], a secret kept beside the state), so
//! a dictionary of likely titles or names cannot give a value back from the file.

pub mod learn;
pub mod recall;
pub mod store;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize, Serializer};

use crate::config::{MAX_BACKOFF, StuckSettings};
use crate::model::Attribute;
use crate::plan::{Op, fingerprint};

pub use learn::next_memory;
pub use recall::{InSync, recall};
pub use store::{StateError, StateStore};

/// Per attribute, the digest of the value scimsync last applied or saw in sync. In the state
/// file an attribute is written by its name (`title`), as a map in attribute order.
///
/// One shared slice of `(attribute, digest)` pairs, sorted by attribute: a handful of pairs
/// in one allocation (about 190 bytes an account, where a map took 370). Copied only when
/// written with a different digest: the memory a pass leaves starts as the one it began
/// with, account by account, and a pass that changes nothing copies none of them (at 100,000
/// accounts a copy of each was 29 MB held twice, and the time to make it).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Digests(std::sync::Arc<[(Attribute, Digest)]>);

impl Digests {
    /// `attribute`'s digest, if any.
    pub fn get(&self, attribute: &Attribute) -> Option<&Digest> {
        self.find(*attribute).ok().map(|i| &self.0[i].1)
    }

    /// Where `attribute` is, or would go.
    fn find(&self, attribute: Attribute) -> Result<usize, usize> {
        self.0.binary_search_by(|(a, _)| a.cmp(&attribute))
    }

    /// Sets `attribute`'s digest (copying the pairs only if that changes them).
    pub fn insert(&mut self, attribute: Attribute, digest: Digest) {
        let found = self.find(attribute);
        if found.is_ok_and(|i| self.0[i].1 == digest) {
            return;
        }
        let mut pairs = Vec::with_capacity(self.0.len() + 1);
        pairs.extend_from_slice(&self.0);
        match found {
            Ok(i) => pairs[i].1 = digest,
            Err(i) => pairs.insert(i, (attribute, digest)),
        }
        self.0 = pairs.into();
    }

    /// Forgets `attribute`'s digest (copying the pairs only if it had one).
    pub fn remove(&mut self, attribute: Attribute) {
        if let Ok(i) = self.find(attribute) {
            let mut pairs = self.0.to_vec();
            pairs.remove(i);
            self.0 = pairs.into();
        }
    }

    /// Whether no attribute has a digest.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The attributes with a digest, in order, and their digests.
    pub fn iter(&self) -> impl Iterator<Item = (Attribute, &Digest)> {
        self.0.iter().map(|(a, d)| (*a, d))
    }

    /// From pairs in any order; a later pair for the same attribute replaces an earlier one
    /// (as a map's key read twice does).
    fn from_pairs(mut pairs: Vec<(Attribute, Digest)>) -> Self {
        pairs.reverse();
        pairs.sort_by_key(|(a, _)| *a); // stable: of equal attributes, the last read first
        pairs.dedup_by_key(|(a, _)| *a);
        Digests(pairs.into())
    }
}

impl std::ops::Index<&Attribute> for Digests {
    type Output = Digest;
    fn index(&self, attribute: &Attribute) -> &Digest {
        self.get(attribute)
            .unwrap_or_else(|| panic!("no digest for {attribute}"))
    }
}

impl std::fmt::Debug for Digests {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<const N: usize> From<[(Attribute, Digest); N]> for Digests {
    fn from(pairs: [(Attribute, Digest); N]) -> Self {
        Digests::from_pairs(pairs.into())
    }
}

impl Serialize for Digests {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.iter())
    }
}

impl<'de> Deserialize<'de> for Digests {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Pairs;
        impl<'de> serde::de::Visitor<'de> for Pairs {
            type Value = Digests;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a map of attribute names to digests")
            }
            fn visit_map<M: serde::de::MapAccess<'de>>(
                self,
                mut map: M,
            ) -> Result<Digests, M::Error> {
                let mut pairs = Vec::with_capacity(map.size_hint().unwrap_or(0).min(64));
                while let Some(pair) = map.next_entry()? {
                    pairs.push(pair);
                }
                Ok(Digests::from_pairs(pairs))
            }
        }
        d.deserialize_map(Pairs)
    }
}

/// A value's digest as the memory holds it: the bytes, not their text, so that the memory of
/// 100,000 accounts (half a million digests) holds no string per digest. In the state file it
/// is the text it always was: `k1:` and 32 hex digits (keyed), or 16 hex digits (the unkeyed
/// fingerprint of a state written before keys existed). Any other text is kept as read and
/// written back unchanged; it matches no value.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Digest {
    /// A keyed digest (HMAC-SHA256, truncated to 16 bytes).
    Keyed([u8; 16]),
    /// An unkeyed fingerprint ([`fingerprint`]).
    Unkeyed(u64),
    /// Text of neither form.
    Other(Box<str>),
}

impl Digest {
    /// The digest a text stands for.
    pub fn parse(text: &str) -> Digest {
        if let Some(bytes) = text.strip_prefix("k1:").and_then(lower_hex::<16>) {
            return Digest::Keyed(bytes);
        }
        if let Some(bytes) = lower_hex::<8>(text) {
            return Digest::Unkeyed(u64::from_be_bytes(bytes));
        }
        Digest::Other(text.into())
    }

    /// Writes the digest's text into `buf` and returns it (no allocation: the state file
    /// writes half a million of them at 100,000 accounts).
    fn text<'b>(&'b self, buf: &'b mut [u8; 35]) -> &'b str {
        fn hex_into(bytes: &[u8], out: &mut [u8]) {
            const DIGITS: &[u8; 16] = b"0123456789abcdef";
            for (b, pair) in bytes.iter().zip(out.chunks_exact_mut(2)) {
                pair[0] = DIGITS[usize::from(b >> 4)];
                pair[1] = DIGITS[usize::from(b & 0x0f)];
            }
        }
        let len = match self {
            Digest::Keyed(bytes) => {
                buf[..3].copy_from_slice(b"k1:");
                hex_into(bytes, &mut buf[3..]);
                35
            }
            Digest::Unkeyed(h) => {
                hex_into(&h.to_be_bytes(), &mut buf[..16]);
                16
            }
            Digest::Other(text) => return text,
        };
        std::str::from_utf8(&buf[..len]).expect("hex digits are ASCII")
    }
}

/// Exactly `2 * N` lower-case hex digits as bytes; `None` for anything else.
fn lower_hex<const N: usize>(text: &str) -> Option<[u8; N]> {
    let digit = |b: u8| match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        _ => None,
    };
    if text.len() != 2 * N {
        return None;
    }
    let mut out = [0u8; N];
    for (pair, byte) in text.as_bytes().chunks_exact(2).zip(&mut out) {
        *byte = digit(pair[0])? << 4 | digit(pair[1])?;
    }
    Some(out)
}

impl From<&str> for Digest {
    fn from(text: &str) -> Digest {
        Digest::parse(text)
    }
}

impl std::fmt::Display for Digest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.text(&mut [0; 35]))
    }
}

impl std::fmt::Debug for Digest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.to_string())
    }
}

impl PartialEq<&str> for Digest {
    fn eq(&self, other: &&str) -> bool {
        *self == Digest::parse(other)
    }
}

impl Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.text(&mut [0; 35]))
    }
}

impl<'de> Deserialize<'de> for Digest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Text;
        impl serde::de::Visitor<'_> for Text {
            type Value = Digest;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a digest")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Digest, E> {
                Ok(Digest::parse(v))
            }
        }
        d.deserialize_str(Text)
    }
}

/// A digest as stored, in either of its forms: a value's ([`Digest`]) or an op's (its text).
pub trait StoredDigest {
    /// The digest.
    fn stored(&self) -> std::borrow::Cow<'_, Digest>;
}

impl StoredDigest for Digest {
    fn stored(&self) -> std::borrow::Cow<'_, Digest> {
        std::borrow::Cow::Borrowed(self)
    }
}

impl StoredDigest for str {
    fn stored(&self) -> std::borrow::Cow<'_, Digest> {
        std::borrow::Cow::Owned(Digest::parse(self))
    }
}

impl StoredDigest for String {
    fn stored(&self) -> std::borrow::Cow<'_, Digest> {
        self.as_str().stored()
    }
}

/// What earlier passes left for this one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Memory {
    /// When each leaver (by Slack id) was first seen absent from the directory.
    #[serde(default)]
    pub leavers: BTreeMap<String, DateTime<Utc>>,
    /// Per Slack user id: the digests of the values scimsync last applied or saw in sync.
    #[serde(default)]
    pub applied: BTreeMap<String, Digests>,
    /// Ops Slack refused on the last passes, by [`op_key`].
    #[serde(default)]
    pub failures: BTreeMap<String, Failure>,
    /// The last apply that ended in success.
    #[serde(default)]
    pub last_good: Option<LastGood>,
    /// Group creates sent that no listing has shown yet, by [`op_key`]: not sent again while
    /// held ([`GroupCreate`]).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub group_creates: BTreeMap<String, GroupCreate>,
    /// The key the digests above are made with: not stored with them.
    #[serde(skip)]
    pub key: DigestKey,
}

/// The key of the memory's digests (a secret kept in the state folder, [`store`]). A digest
/// made with it is `k1:` and 32 hex digits (HMAC-SHA256, truncated); without a key (tests) a
/// digest is the unkeyed [`fingerprint`], which is also how a state written before keys existed
/// reads until its next save rewrites it.
#[derive(Clone, Default)]
pub struct DigestKey(Option<std::sync::Arc<ring::hmac::Key>>);

impl DigestKey {
    /// A key from secret bytes.
    pub fn new(secret: &[u8]) -> DigestKey {
        DigestKey(Some(std::sync::Arc::new(ring::hmac::Key::new(
            ring::hmac::HMAC_SHA256,
            secret,
        ))))
    }

    /// The digest of `value` (its JSON) under this key, as text.
    pub fn digest(&self, value: &impl Serialize) -> String {
        self.digest_of(value).to_string()
    }

    /// The digest of `value` (its JSON) under this key.
    pub fn digest_of(&self, value: &impl Serialize) -> Digest {
        match &self.0 {
            Some(key) => {
                // The JSON goes straight into the HMAC: no buffer for each of the half a
                // million values a pass at 100,000 users digests.
                let mut signing = Signing(ring::hmac::Context::with_key(key));
                serde_json::to_writer(&mut signing, value).expect("digested values serialise");
                let tag = signing.0.sign();
                let mut keyed = [0u8; 16];
                keyed.copy_from_slice(&tag.as_ref()[..16]);
                Digest::Keyed(keyed)
            }
            None => Digest::parse(&fingerprint(value)),
        }
    }

    /// Whether `stored` is the digest of `value`: a keyed digest under this key, or an
    /// unkeyed one of a state written before keys existed.
    pub fn matches<D: StoredDigest + ?Sized>(&self, stored: &D, value: &impl Serialize) -> bool {
        match &*stored.stored() {
            keyed @ Digest::Keyed(_) => self.0.is_some() && *keyed == self.digest_of(value),
            unkeyed @ Digest::Unkeyed(_) => *unkeyed == Digest::parse(&fingerprint(value)),
            Digest::Other(_) => false,
        }
    }
}

impl std::fmt::Debug for DigestKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "DigestKey([redacted])"
        } else {
            "DigestKey(none)"
        })
    }
}

/// Two memories are equal by what they remember; the key is not part of it.
impl PartialEq for DigestKey {
    fn eq(&self, _: &DigestKey) -> bool {
        true
    }
}

impl Eq for DigestKey {}

/// An op Slack refused on consecutive passes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    /// The op's digest: a changed op (the directory changed) starts afresh.
    pub op: String,
    /// Slack's error (`409 username_taken`), compared pass to pass.
    pub error: String,
    /// Consecutive passes it failed with this error.
    pub passes: u32,
    /// When it last failed.
    pub last: DateTime<Utc>,
    /// When a stuck op may be tried again (none: not stuck yet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_at: Option<DateTime<Utc>>,
}

/// A group create that no listing has shown yet. Slack may hold a second group of one name,
/// and its reads lag its writes, so a create sent again because the group does not show yet
/// would make a duplicate: the create is held back until a listing shows the group (then the
/// entry is forgotten) or until `until`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupCreate {
    /// When it was sent.
    pub at: DateTime<Utc>,
    /// The group's id when Slack answered (it exists); none when the answer was lost and no
    /// listing showed it (it may exist).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// When the create may be sent again if no listing has shown the group: for a lost answer,
    /// `stuck.backoff` after it; for a create Slack answered, [`MAX_BACKOFF`] after it.
    pub until: DateTime<Utc>,
}

/// The last apply that ended in success.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastGood {
    /// When it ended.
    pub at: DateTime<Utc>,
    /// Users per source, as [`crate::plan::Counts::source_users`].
    pub source_users: BTreeMap<String, usize>,
}

/// The key a failure is remembered under: the op's kind and its resource (or subject).
pub fn op_key(op: &Op) -> String {
    let what = op
        .resource_id()
        .map_or_else(|| op.subject().trim().to_lowercase(), str::to_string);
    format!("{}:{what}", op.kind())
}

/// Bytes written into an HMAC.
struct Signing(ring::hmac::Context);

impl std::io::Write for Signing {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.update(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The digest of a value, as [`Memory::applied`] holds it.
pub fn value_digest(key: &DigestKey, value: Option<&str>) -> Digest {
    key.digest_of(&value)
}

/// When a stuck op that failed `passes` times may be tried again, from `now`: after
/// `stuck.after` failures, `stuck.backoff` doubling with each further one, at most
/// [`MAX_BACKOFF`].
pub fn retry_at(stuck: StuckSettings, passes: u32, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    if passes < stuck.after {
        return None;
    }
    let doublings = (passes - stuck.after).min(20);
    let wait = stuck
        .backoff
        .saturating_mul(1 << doublings)
        .min(MAX_BACKOFF);
    Some(now + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::zero()))
}

#[cfg(test)]
mod tests;
