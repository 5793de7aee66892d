//! Quoting a file in an error: briefly, one value, with nothing that can act on a terminal.
//!
//! An error that quotes what it read is easier to act on, but a config can name any file as a
//! source (in CI, a pull request's config can), and an error that quotes a whole line of a
//! private key or a `.env` file prints the secret into a log anyone can read. So an error
//! quotes at most one value, cut to [`MAX_EXCERPT`] characters, with control and invisible
//! formatting characters escaped; and a file that did not parse as a directory is never shown
//! as a snippet ([`Diagnose::shows_file`](super::Diagnose::shows_file)).
//!
//! The parsers' own messages quote values too (serde's `invalid type: string "…"`, `unknown
//! field `…``, serde_yaml's `duplicate entry with key "…"`): [`shorten_quoted`] cuts those.

use std::fmt::{self, Write};

use super::escape::is_unsafe;

/// The most characters of a file's value an error quotes.
pub const MAX_EXCERPT: usize = 40;

/// `text` cut to [`MAX_EXCERPT`] characters (with `…`), control characters escaped; no quotes.
#[derive(Debug, Clone, Copy)]
pub struct Excerpt<'a>(pub &'a str);

/// `text` cut to [`MAX_EXCERPT`] characters (with `…`) in double quotes, escaped as Rust's
/// `{:?}` escapes (quotes, backslashes, control characters) and invisible formatting
/// characters escaped too.
#[derive(Debug, Clone, Copy)]
pub struct Quoted<'a>(pub &'a str);

/// `text` as an error quotes it, in double quotes (see [`Quoted`]).
pub fn quoted(text: &str) -> Quoted<'_> {
    Quoted(text)
}

/// `text` as an error names it, without quotes (see [`Excerpt`]).
pub fn excerpt(text: &str) -> Excerpt<'_> {
    Excerpt(text)
}

/// Characters an excerpt writes escaped besides [`is_unsafe`] ones: the rest of what changes
/// how text is shown without showing itself (zero-width characters, directional marks, the
/// Arabic letter mark, the byte-order mark): a value cut from an arbitrary file may be
/// anything, unlike a name shown in a plan.
fn invisible(c: char) -> bool {
    matches!(
        c,
        '\u{061C}' | '\u{200B}'..='\u{200F}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}'
    )
}

/// Writes `text`, cut and escaped; `in_quotes` also escapes `"` and `\`.
fn write_cut(f: &mut fmt::Formatter<'_>, text: &str, in_quotes: bool) -> fmt::Result {
    let mut chars = text.chars();
    for c in chars.by_ref().take(MAX_EXCERPT) {
        if c.is_control() || (in_quotes && matches!(c, '"' | '\\')) {
            write!(f, "{}", c.escape_debug())?;
        } else if is_unsafe(c) || invisible(c) {
            write!(f, "{}", c.escape_unicode())?;
        } else {
            f.write_char(c)?;
        }
    }
    if chars.next().is_some() {
        f.write_char('…')?;
    }
    Ok(())
}

impl fmt::Display for Excerpt<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_cut(f, self.0, false)
    }
}

impl fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_char('"')?;
        write_cut(f, self.0, true)?;
        f.write_char('"')
    }
}

/// A parser's message with every value it quotes cut to an excerpt: each `"…"` string (as
/// serde and serde_yaml quote them, `{:?}`-escaped) and the name in `unknown field `…`` and
/// `unknown variant `…`` (quoted raw by serde).
pub fn shorten_quoted(message: &str) -> String {
    let mut out = String::with_capacity(message.len().min(200));
    let mut rest = message;
    loop {
        let quote = rest.find('"');
        let named = ["unknown field `", "unknown variant `"]
            .iter()
            .filter_map(|m| rest.find(m).map(|i| (i, m.len())))
            .min();
        match (quote, named) {
            (Some(q), named) if named.is_none_or(|(n, _)| q < n) => {
                out.push_str(&rest[..q]);
                match debug_string(&rest[q..]) {
                    Some((value, len)) => {
                        let _ = write!(out, "{}", quoted(&value));
                        rest = &rest[q + len..];
                    }
                    // Not a string serde wrote: the rest is not quoted file content.
                    None => {
                        out.push_str(&rest[q..]);
                        return out;
                    }
                }
            }
            (_, Some((n, len))) => {
                let start = n + len;
                out.push_str(&rest[..start]);
                // The name ends at the last "`, expected" or "`, there are no": what serde
                // lists after it is the type's own names, never the file's.
                let tail = &rest[start..];
                let end = ["`, expected ", "`, there are no "]
                    .iter()
                    .filter_map(|m| tail.rfind(m))
                    .max()
                    .or_else(|| tail.rfind('`'))
                    .unwrap_or(tail.len());
                let _ = write!(out, "{}", excerpt(&tail[..end]));
                out.push_str(&tail[end..]);
                return out;
            }
            _ => {
                out.push_str(rest);
                return out;
            }
        }
    }
}

/// The value of the `{:?}`-escaped string `text` starts with, and how many bytes it takes.
fn debug_string(text: &str) -> Option<(String, usize)> {
    let mut value = String::new();
    let mut chars = text.char_indices().skip(1);
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((value, i + 1)),
            '\\' => {
                let (_, escaped) = chars.next()?;
                match escaped {
                    'n' => value.push('\n'),
                    'r' => value.push('\r'),
                    't' => value.push('\t'),
                    '0' => value.push('\0'),
                    'u' => {
                        let mut hex = String::new();
                        for (_, h) in chars.by_ref() {
                            match h {
                                '{' => {}
                                '}' => break,
                                h => hex.push(h),
                            }
                        }
                        value.push(
                            u32::from_str_radix(&hex, 16)
                                .ok()
                                .and_then(char::from_u32)
                                .unwrap_or(char::REPLACEMENT_CHARACTER),
                        );
                    }
                    other => value.push(other),
                }
            }
            c => value.push(c),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpts_are_short_and_escaped() {
        assert_eq!(quoted("ada@example.com").to_string(), "\"ada@example.com\"");
        assert_eq!(
            quoted(&"x".repeat(100)).to_string(),
            format!("\"{}…\"", "x".repeat(MAX_EXCERPT))
        );
        assert_eq!(
            quoted("a\"b\\c\nd\u{1b}[2Ke\u{202e}f").to_string(),
            "\"a\\\"b\\\\c\\nd\\u{1b}[2Ke\\u{202e}f\""
        );
        assert_eq!(excerpt("Ré\tsumé").to_string(), "Ré\\tsumé");
        assert_eq!(
            excerpt("山".repeat(41).as_str())
                .to_string()
                .chars()
                .count(),
            41
        );
        // Short values print as `{:?}` did.
        for value in ["plain", "with \"quotes\"", "tab\there", "ünïcödé"] {
            assert_eq!(quoted(value).to_string(), format!("{value:?}"));
        }
    }

    #[test]
    fn parser_messages_quote_only_excerpts() {
        let key = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQ";
        let message = format!(
            "invalid type: string {:?}, expected struct Shape",
            format!("{key}\n{key}")
        );
        assert_eq!(
            shorten_quoted(&message),
            format!(
                "invalid type: string \"{}…\", expected struct Shape",
                &key[..MAX_EXCERPT]
            )
        );
        let long = "k".repeat(60);
        assert_eq!(
            shorten_quoted(&format!(
                "pet.{long}: unknown field `{long}`, expected one of `users`, `groups`"
            )),
            format!(
                "pet.{long}: unknown field `{}…`, expected one of `users`, `groups`",
                "k".repeat(MAX_EXCERPT)
            )
        );
        // A name holding what serde writes after it is still cut whole.
        let tricky = format!("a`, expected {}", "s".repeat(60));
        let out = shorten_quoted(&format!(
            "unknown variant `{tricky}`, expected `enforce` or `ignore`"
        ));
        assert!(!out.contains(&"s".repeat(MAX_EXCERPT)), "{out}");
        assert!(out.ends_with("`, expected `enforce` or `ignore`"), "{out}");
        assert_eq!(
            shorten_quoted("unknown field `x`, there are no fields"),
            "unknown field `x`, there are no fields"
        );
        assert_eq!(
            shorten_quoted(&format!("duplicate entry with key {:?}", "a".repeat(50))),
            format!("duplicate entry with key \"{}…\"", "a".repeat(MAX_EXCERPT))
        );
        assert_eq!(
            shorten_quoted("two: \"a\\u{1b}\" and \"b\""),
            "two: \"a\\u{1b}\" and \"b\""
        );
        assert_eq!(
            shorten_quoted("did not find expected key"),
            "did not find expected key"
        );
    }
}
