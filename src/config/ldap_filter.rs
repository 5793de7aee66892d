//! LDAP search filters as written in a config (RFC 4515's string form, e.g.
//! `(&(objectClass=person)(!(employeeType=contractor)))`) encoded as the BER a search
//! request carries. Checked when the config compiles, so a typo is a config error with its
//! place, not a failed read at 3 a.m.

/// BER's OCTET STRING tag.
const OCTET_STRING: u8 = 0x04;
/// BER's SEQUENCE tag.
const SEQUENCE: u8 = 0x30;

/// The BER tags and lengths a filter needs (the LDAP client's own encoder sits above the
/// config; these few lines are repeated rather than reached up for).
mod ber {
    pub(super) use super::SEQUENCE;

    /// One TLV with a definite length.
    pub(super) fn wrap(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(content.len() + 6);
        out.push(tag);
        let len = content.len();
        if let Ok(short) = u8::try_from(len)
            && short < 0x80
        {
            out.push(short);
        } else {
            let bytes = len.to_be_bytes();
            let skip = bytes.iter().take_while(|b| **b == 0).count();
            out.push(0x80 | u8::try_from(bytes.len() - skip).unwrap_or(u8::MAX));
            out.extend_from_slice(&bytes[skip..]);
        }
        out.extend_from_slice(content);
        out
    }
}

/// A filter that does not parse, with where and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("LDAP filter {filter:?}: {reason} at character {at}")]
pub struct FilterError {
    /// The filter as written.
    pub filter: String,
    /// What is wrong.
    pub reason: &'static str,
    /// Where (1-based character).
    pub at: usize,
}

/// The BER encoding of `filter`.
pub fn encode(filter: &str) -> Result<Vec<u8>, FilterError> {
    let trimmed = filter.trim();
    // A filter without its outer parentheses, as ldapsearch accepts it.
    let wrapped;
    let text = if trimmed.starts_with('(') {
        trimmed
    } else {
        wrapped = format!("({trimmed})");
        &wrapped
    };
    let mut parser = Parser {
        text: text.as_bytes(),
        at: 0,
    };
    let fail = |reason, at: usize| FilterError {
        filter: filter.to_string(),
        reason,
        at: at + 1,
    };
    let out = parser.filter().map_err(|(reason, at)| fail(reason, at))?;
    if parser.at != parser.text.len() {
        return Err(fail("text after the filter's end", parser.at));
    }
    Ok(out)
}

/// A recursive-descent parser over the filter's bytes.
struct Parser<'a> {
    text: &'a [u8],
    at: usize,
}

/// A parse failure: why, and the byte offset.
type Fail = (&'static str, usize);

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.text.get(self.at).copied()
    }

    fn eat(&mut self, byte: u8) -> Result<(), Fail> {
        if self.peek() == Some(byte) {
            self.at += 1;
            Ok(())
        } else if byte == b')' {
            Err(("expected ')'", self.at))
        } else {
            Err(("expected '('", self.at))
        }
    }

    /// `( and / or / not / item )`.
    fn filter(&mut self) -> Result<Vec<u8>, Fail> {
        self.eat(b'(')?;
        let out = match self.peek() {
            Some(b'&') => self.set(0xa0)?,
            Some(b'|') => self.set(0xa1)?,
            Some(b'!') => {
                self.at += 1;
                ber::wrap(0xa2, &self.filter()?)
            }
            Some(_) => self.item()?,
            None => return Err(("unexpected end", self.at)),
        };
        self.eat(b')')?;
        Ok(out)
    }

    /// `&` or `|` and one or more filters.
    fn set(&mut self, tag: u8) -> Result<Vec<u8>, Fail> {
        self.at += 1;
        let mut content = Vec::new();
        while self.peek() == Some(b'(') {
            content.extend(self.filter()?);
        }
        if content.is_empty() {
            return Err(("'&' or '|' needs at least one filter", self.at));
        }
        Ok(ber::wrap(tag, &content))
    }

    /// `attr=value`, `attr>=value`, `attr<=value`, `attr~=value`, `attr=*`, or a
    /// substring match `attr=ab*cd*`.
    fn item(&mut self) -> Result<Vec<u8>, Fail> {
        let start = self.at;
        while let Some(b) = self.peek() {
            if b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b';' {
                self.at += 1;
            } else {
                break;
            }
        }
        if self.at == start {
            return Err(("expected an attribute name", self.at));
        }
        let attribute = &self.text[start..self.at];
        let tag = match (self.peek(), self.text.get(self.at + 1)) {
            (Some(b'>'), Some(b'=')) => Some(0xa5),
            (Some(b'<'), Some(b'=')) => Some(0xa6),
            (Some(b'~'), Some(b'=')) => Some(0xa8),
            (Some(b'='), _) => None,
            (Some(b':'), _) => return Err(("extensible matches are not supported", self.at)),
            _ => return Err(("expected '=', '>=', '<=' or '~='", self.at)),
        };
        self.at += if tag.is_some() { 2 } else { 1 };
        let raw_start = self.at;
        while self.peek().is_some_and(|b| b != b')' && b != b'(') {
            self.at += 1;
        }
        let raw = &self.text[raw_start..self.at];
        let mut content = ber::wrap(OCTET_STRING, attribute);
        match tag {
            Some(tag) => {
                content.extend(ber::wrap(OCTET_STRING, &unescape(raw, raw_start)?));
                Ok(ber::wrap(tag, &content))
            }
            None if raw == b"*" => Ok(ber::wrap(0x87, attribute)),
            None if raw.contains(&b'*') => substrings(attribute, raw, raw_start),
            None => {
                content.extend(ber::wrap(OCTET_STRING, &unescape(raw, raw_start)?));
                Ok(ber::wrap(0xa3, &content))
            }
        }
    }
}

/// A substring match: `initial*any*…*final`, each part optional.
fn substrings(attribute: &[u8], raw: &[u8], at: usize) -> Result<Vec<u8>, Fail> {
    let parts: Vec<&[u8]> = raw.split(|b| *b == b'*').collect();
    let last = parts.len() - 1;
    let mut list = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        if part.is_empty() {
            continue;
        }
        let tag = match i {
            0 => 0x80,
            i if i == last => 0x82,
            _ => 0x81,
        };
        list.extend(ber::wrap(tag, &unescape(part, at)?));
    }
    let mut content = ber::wrap(OCTET_STRING, attribute);
    content.extend(ber::wrap(ber::SEQUENCE, &list));
    Ok(ber::wrap(0xa4, &content))
}

/// A value with its `\XX` escapes decoded.
fn unescape(raw: &[u8], at: usize) -> Result<Vec<u8>, Fail> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'\\' {
            let hex = raw
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or(("'\\' must be followed by two hex digits", at + i))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(raw[i]);
            i += 1;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equality_and_presence_encode_as_rfc_4511_says() {
        // (cn=ab): [3] { "cn", "ab" }
        assert_eq!(
            encode("(cn=ab)").unwrap(),
            [0xa3, 8, 4, 2, b'c', b'n', 4, 2, b'a', b'b']
        );
        assert_eq!(encode("cn=*").unwrap(), [0x87, 2, b'c', b'n']);
        assert_eq!(
            encode("(cn=a\\2ab)").unwrap(),
            [0xa3, 9, 4, 2, b'c', b'n', 4, 3, b'a', b'*', b'b']
        );
    }

    #[test]
    fn composite_filters_nest() {
        let f =
            encode("(&(objectClass=person)(!(employeeType=contractor))(|(o=a)(o=b*)))").unwrap();
        assert_eq!(f[0], 0xa0);
        let sub = encode("(mail=*@example.com)").unwrap();
        assert_eq!(sub[0], 0xa4);
        assert_eq!(encode("(uid>=5)").unwrap()[0], 0xa5);
    }

    #[test]
    fn broken_filters_say_where() {
        for (bad, at) in [
            ("(cn=a", 6),
            ("(&)", 3),
            ("(=a)", 2),
            ("(cn=a)x", 7),
            ("(cn=\\zz)", 5),
            ("(cn:dn:=a)", 4),
        ] {
            let e = encode(bad).unwrap_err();
            assert_eq!(e.at, at, "{bad}: {e}");
        }
    }
}
