//! Showing strings that came from outside — the directory, Slack, the state file — without
//! letting them act on what shows them.
//!
//! A name, a title, an email, a Slack error message or a source name recorded in the state is
//! data, but a terminal obeys control characters (an ESC sequence can erase the lines of a plan
//! above the confirmation prompt) and a markdown comment obeys markup (a heading, an HTML
//! comment that hides the rest of the report). Every renderer passes such strings through one of
//! these functions at the point where it places them:
//!
//! * [`terminal`] for one value in text shown on a terminal or in a log: control characters
//!   (C0 including CR, LF and TAB, DEL, C1), Unicode bidi controls and line separators are
//!   written escaped (`\u{1b}`, `\n`), so a value stays one visible run on its line;
//! * [`terminal_text`] for a whole text already built (a rendered report, a log event): the
//!   same, except that its own line breaks stay, and its colour (SGR) sequences when colour is
//!   on — the last line of defence at the terminal's door. It cannot tell a value's line
//!   break or colour from the text's own, so values are still escaped one by one where they
//!   are placed;
//! * [`markdown`] for one value in markdown prose (outside a code block): as [`terminal`], then
//!   `<`, `>`, `&` written as HTML entities and markdown punctuation backslash-escaped, so it
//!   renders as the literal text and cannot open a heading, a tag, a comment, a link, a code
//!   span, emphasis or a table. Inside a fenced code block [`terminal`] is enough (nothing is
//!   markup there, and the fence is longer than any run of backticks).
//!
//! JSON output needs none of this: serde writes every string as a JSON string.

use std::borrow::Cow;

/// Whether `c` must not reach a terminal or a markdown line raw: a control character (C0,
/// DEL, C1), a bidi embedding, override or isolate (U+202A–U+202E, U+2066–U+2069), or a
/// line or paragraph separator (U+2028, U+2029).
pub fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{2028}' | '\u{2029}')
}

/// Writes `c`, unsafe, as Rust writes it in a debug string: `\n`, `\r`, `\t`, `\0`, else
/// `\u{…}` in lower-case hex.
fn push_escaped(out: &mut String, c: char) {
    out.extend(c.escape_debug());
}

/// One value for a terminal or a text log: every [`is_unsafe`] character escaped (`\u{1b}`,
/// `\n`). Borrowed when there is nothing to escape, as for every ordinary value.
pub fn terminal(value: &str) -> Cow<'_, str> {
    if !value.chars().any(is_unsafe) {
        return Cow::Borrowed(value);
    }
    let mut out = String::with_capacity(value.len() + 8);
    for c in value.chars() {
        if is_unsafe(c) {
            push_escaped(&mut out, c);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// A whole text for a terminal: as [`terminal`], except that line feeds are kept, and with
/// `colours` colour sequences too (`ESC [ digits;… m`, which only paint). Any other escape
/// sequence, a carriage return or a bidi control is shown escaped.
pub fn terminal_text(text: &str, colours: bool) -> Cow<'_, str> {
    if !text.chars().any(|c| c != '\n' && is_unsafe(c)) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if let Some(len) = sgr_len(rest).filter(|_| colours) {
            out.push_str(&rest[..len]);
            rest = &rest[len..];
            continue;
        }
        if c != '\n' && is_unsafe(c) {
            push_escaped(&mut out, c);
        } else {
            out.push(c);
        }
        rest = &rest[c.len_utf8()..];
    }
    Cow::Owned(out)
}

/// The length of the SGR (colour) sequence `text` starts with, if it starts with one.
fn sgr_len(text: &str) -> Option<usize> {
    let params = text.strip_prefix("\x1b[")?;
    let digits = params
        .bytes()
        .take_while(|b| b.is_ascii_digit() || *b == b';')
        .count();
    (params.as_bytes().get(digits) == Some(&b'm')).then_some(2 + digits + 1)
}

/// Markdown punctuation a value's character could act as: escapes, code spans, emphasis,
/// strikethrough, links and images, headings, list and quote markers, tables, math.
const MARKDOWN_PUNCTUATION: &str = "\\`*_{}[]()#+-.!|~$";

/// One value for markdown prose: as [`terminal`] (so no line break, no control character),
/// then `&`, `<`, `>` as HTML entities and markdown punctuation backslash-escaped. It renders as
/// the value's own text, on the line it was put on.
pub fn markdown(value: &str) -> String {
    let shown = terminal(value);
    let mut out = String::with_capacity(shown.len() + 8);
    for c in shown.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c if MARKDOWN_PUNCTUATION.contains(c) => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_values_are_borrowed_unchanged() {
        for v in [
            "ada@example.com",
            "Zoë Ünal — R&D (Berlin)",
            "people.csv:12",
            "👩‍💻 Ops \"lead\" \\ x",
            "",
        ] {
            assert!(matches!(terminal(v), Cow::Borrowed(s) if s == v), "{v}");
            assert!(
                matches!(terminal_text(v, true), Cow::Borrowed(s) if s == v),
                "{v}"
            );
        }
    }

    #[test]
    fn control_and_bidi_characters_are_shown_escaped() {
        assert_eq!(
            terminal("Lead\x1b[2K\x1b[1A\r\n\tx\x7f\u{9b}y"),
            "Lead\\u{1b}[2K\\u{1b}[1A\\r\\n\\tx\\u{7f}\\u{9b}y"
        );
        assert_eq!(
            terminal("a\u{202e}b\u{2066}c\u{2069}d\u{202a}e\u{2028}f\u{0}"),
            "a\\u{202e}b\\u{2066}c\\u{2069}d\\u{202a}e\\u{2028}f\\0"
        );
        // Every character of the classes named in the module doc.
        let classes = (0u32..0x20)
            .chain([0x7f])
            .chain(0x80..0xa0)
            .chain(0x202a..=0x202e)
            .chain(0x2066..=0x2069)
            .filter_map(char::from_u32);
        for c in classes {
            let shown = terminal(&c.to_string()).into_owned();
            assert!(shown.starts_with('\\'), "{c:?} shown as {shown:?}");
            assert!(!shown.chars().any(is_unsafe), "{c:?}");
        }
    }

    #[test]
    fn a_text_keeps_its_lines_and_colours_and_nothing_else() {
        let text = "\x1b[1mPlan\x1b[0m: 1 to create\n\x1b[32m+ x\x1b[0m\n";
        assert_eq!(terminal_text(text, true), text);
        assert_eq!(
            terminal_text(text, false),
            "\\u{1b}[1mPlan\\u{1b}[0m: 1 to create\n\\u{1b}[32m+ x\\u{1b}[0m\n"
        );
        assert_eq!(
            terminal_text("ok\n\x1b[2K\x1b[1Aevil\r\u{202e}\n", true),
            "ok\n\\u{1b}[2K\\u{1b}[1Aevil\\r\\u{202e}\n"
        );
        // An ESC at the very end, or an unfinished sequence, is escaped.
        assert_eq!(terminal_text("a\x1b", true), "a\\u{1b}");
        assert_eq!(terminal_text("a\x1b[31", true), "a\\u{1b}[31");
    }

    #[test]
    fn markdown_values_render_as_their_own_text() {
        assert_eq!(
            markdown("\n## ✅ Plan: no changes\n<!--"),
            "\\\\n\\#\\# ✅ Plan: no changes\\\\n&lt;\\!\\-\\-"
        );
        assert_eq!(
            markdown("[x](https://e.vil) ![i](u) `c` *b* _i_ ~s~ | $m$ &amp; <b>"),
            "\\[x\\]\\(https://e\\.vil\\) \\!\\[i\\]\\(u\\) \\`c\\` \\*b\\* \\_i\\_ \\~s\\~ \\| \
             \\$m\\$ &amp;amp; &lt;b&gt;"
        );
        assert_eq!(markdown("- item"), "\\- item");
        assert_eq!(markdown("1. first"), "1\\. first");
        assert_eq!(markdown("ada@example.com"), "ada@example\\.com");
        for v in ["a\nb", "a\rb", "a\u{2028}b", "```\n# x"] {
            assert!(!markdown(v).contains(['\n', '\r', '\u{2028}']), "{v:?}");
        }
    }
}
