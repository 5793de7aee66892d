//! The few BER (X.690) forms LDAPv3 messages use: definite lengths, tags of one byte,
//! integers, octet strings, booleans and constructed values. Enough to write a bind, a
//! search with the paged-results control, the StartTLS request and an unbind, and to read
//! their answers; anything else in an answer is a protocol error, never a guess.

/// Universal BOOLEAN.
pub(crate) const BOOLEAN: u8 = 0x01;
/// Universal INTEGER.
pub(crate) const INTEGER: u8 = 0x02;
/// Universal OCTET STRING.
pub(crate) const OCTET_STRING: u8 = 0x04;
/// Universal ENUMERATED.
pub(crate) const ENUMERATED: u8 = 0x0a;
/// Universal SEQUENCE (constructed).
pub(crate) const SEQUENCE: u8 = 0x30;
/// Universal SET (constructed).
pub(crate) const SET: u8 = 0x31;

/// The largest message read from a server: a page of entries is far smaller, and a length
/// beyond this is a broken or hostile server, not data.
pub(crate) const MAX_MESSAGE: usize = 64 * 1024 * 1024;

/// A BER answer that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed LDAP message: {0}")]
pub struct BerError(pub(crate) &'static str);

/// Appends `tag`, the definite length of `content` and `content`.
pub(crate) fn tlv(out: &mut Vec<u8>, tag: u8, content: &[u8]) {
    out.push(tag);
    push_length(out, content.len());
    out.extend_from_slice(content);
}

/// One TLV as a new vector.
pub(crate) fn wrap(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + 6);
    tlv(&mut out, tag, content);
    out
}

/// Appends a definite length: short form below 128, long form above.
fn push_length(out: &mut Vec<u8>, len: usize) {
    if let Ok(short) = u8::try_from(len)
        && short < 0x80
    {
        out.push(short);
        return;
    }
    let bytes = len.to_be_bytes();
    let skip = bytes.iter().take_while(|b| **b == 0).count();
    let count = u8::try_from(bytes.len() - skip).unwrap_or(u8::MAX);
    out.push(0x80 | count);
    out.extend_from_slice(&bytes[skip..]);
}

/// The minimal two's-complement content of an integer.
pub(crate) fn integer_content(value: i64) -> Vec<u8> {
    let bytes = value.to_be_bytes();
    let mut start = 0;
    while start < 7 {
        let (b, next) = (bytes[start], bytes[start + 1]);
        if (b == 0 && next & 0x80 == 0) || (b == 0xff && next & 0x80 != 0) {
            start += 1;
        } else {
            break;
        }
    }
    bytes[start..].to_vec()
}

/// Appends an INTEGER (or, with another tag, an ENUMERATED).
pub(crate) fn integer(out: &mut Vec<u8>, tag: u8, value: i64) {
    tlv(out, tag, &integer_content(value));
}

/// How many bytes a message starting with `head` needs in all, once its tag and length
/// bytes are there: `Ok(None)` while the length is not complete yet.
pub(crate) fn message_size(head: &[u8]) -> Result<Option<usize>, BerError> {
    let Some(&first) = head.get(1) else {
        return Ok(None);
    };
    if first < 0x80 {
        return Ok(Some(2 + usize::from(first)));
    }
    let count = usize::from(first & 0x7f);
    if count == 0 || count > 4 {
        return Err(BerError("unsupported length form"));
    }
    let Some(len_bytes) = head.get(2..2 + count) else {
        return Ok(None);
    };
    let len = len_bytes
        .iter()
        .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
    if len > MAX_MESSAGE {
        return Err(BerError("message larger than 64 MiB"));
    }
    Ok(Some(2 + count + len))
}

/// A reader over the content of one constructed value.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    /// Reads `bytes`.
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Self { rest: bytes }
    }

    /// Whether everything was read.
    pub(crate) fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// The next value's tag, without reading it.
    pub(crate) fn peek_tag(&self) -> Option<u8> {
        self.rest.first().copied()
    }

    /// The next TLV: its tag and content.
    pub(crate) fn any(&mut self) -> Result<(u8, &'a [u8]), BerError> {
        let size = message_size(self.rest)?.ok_or(BerError("truncated value"))?;
        let head = self.head_len();
        if size > self.rest.len() {
            return Err(BerError("truncated value"));
        }
        let tag = self.rest[0];
        let content = &self.rest[head..size];
        self.rest = &self.rest[size..];
        Ok((tag, content))
    }

    /// The number of tag and length bytes of the next value (which `message_size` checked).
    fn head_len(&self) -> usize {
        match self.rest.get(1) {
            Some(&b) if b >= 0x80 => 2 + usize::from(b & 0x7f),
            _ => 2,
        }
    }

    /// The next value, which must have tag `tag`.
    pub(crate) fn expect(&mut self, tag: u8) -> Result<&'a [u8], BerError> {
        match self.any()? {
            (t, content) if t == tag => Ok(content),
            _ => Err(BerError("unexpected tag")),
        }
    }

    /// The next value as a reader, which must have tag `tag`.
    pub(crate) fn nested(&mut self, tag: u8) -> Result<Reader<'a>, BerError> {
        self.expect(tag).map(Reader::new)
    }

    /// The next INTEGER or ENUMERATED (by `tag`).
    pub(crate) fn integer(&mut self, tag: u8) -> Result<i64, BerError> {
        let content = self.expect(tag)?;
        if content.is_empty() || content.len() > 8 {
            return Err(BerError("integer out of range"));
        }
        let negative = content[0] & 0x80 != 0;
        let start: i64 = if negative { -1 } else { 0 };
        Ok(content
            .iter()
            .fold(start, |acc, b| (acc << 8) | i64::from(*b)))
    }

    /// The next OCTET STRING (or another primitive by `tag`) as UTF-8 text.
    pub(crate) fn text(&mut self, tag: u8) -> Result<String, BerError> {
        let content = self.expect(tag)?;
        String::from_utf8(content.to_vec()).map_err(|_| BerError("text is not UTF-8"))
    }

    /// The next value if it has tag `tag`.
    pub(crate) fn optional(&mut self, tag: u8) -> Result<Option<&'a [u8]>, BerError> {
        if self.peek_tag() == Some(tag) {
            self.expect(tag).map(Some)
        } else {
            Ok(None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_are_minimal_twos_complement() {
        assert_eq!(integer_content(0), [0]);
        assert_eq!(integer_content(127), [0x7f]);
        assert_eq!(integer_content(128), [0x00, 0x80]);
        assert_eq!(integer_content(1000), [0x03, 0xe8]);
        assert_eq!(integer_content(-1), [0xff]);
        assert_eq!(integer_content(-129), [0xff, 0x7f]);
        for v in [
            0,
            1,
            127,
            128,
            255,
            256,
            65_535,
            2_147_483_647,
            -1,
            -128,
            -129,
        ] {
            let mut out = Vec::new();
            integer(&mut out, INTEGER, v);
            assert_eq!(Reader::new(&out).integer(INTEGER), Ok(v));
        }
    }

    #[test]
    fn lengths_short_and_long_read_back() {
        for len in [0usize, 1, 127, 128, 255, 256, 70_000] {
            let content = vec![7u8; len];
            let out = wrap(OCTET_STRING, &content);
            assert_eq!(message_size(&out), Ok(Some(out.len())));
            let mut reader = Reader::new(&out);
            assert_eq!(reader.expect(OCTET_STRING), Ok(&content[..]));
            assert!(reader.is_empty());
        }
    }

    #[test]
    fn truncated_and_oversized_values_are_errors() {
        let out = wrap(OCTET_STRING, b"hello");
        assert!(Reader::new(&out[..4]).any().is_err());
        assert_eq!(message_size(&out[..1]), Ok(None));
        assert!(message_size(&[0x30, 0x84, 0x7f, 0xff, 0xff, 0xff]).is_err());
        assert!(message_size(&[0x30, 0x80]).is_err());
    }
}
