//! Slack-flavoured SCIM filters (FACTS §5): `attr op value` joined by `and`/`or`, parentheses,
//! `not`; attribute names and operators case-insensitive; values double-quoted (JSON strings),
//! single-quoted, or bare (`restricted eq 1`, `userName Eq kang_slack`).
//!
//! A parse error carries Slack's error code (`no_filters`, `incomplete_filter`,
//! `invalid_filter_group`, `invalid_query`) so the server can answer with Slack's 400.

use crate::scim::ErrorCode;

/// A parsed filter expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// Both hold.
    And(Box<Filter>, Box<Filter>),
    /// Either holds.
    Or(Box<Filter>, Box<Filter>),
    /// The inner filter does not hold.
    Not(Box<Filter>),
    /// `attr op value`; attribute names and values compare case-insensitively.
    Compare {
        /// The attribute as written (compared in lower case).
        attr: String,
        /// The comparison.
        op: Op,
        /// The value, unquoted.
        value: String,
    },
    /// `attr pr`: the attribute has a non-empty value.
    Present {
        /// The attribute as written (compared in lower case).
        attr: String,
    },
}

/// A comparison operator (RFC 7644 §3.4.2.2; Slack documents `eq co sw pr gt ge lt le`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Equal.
    Eq,
    /// Not equal.
    Ne,
    /// Contains.
    Co,
    /// Starts with.
    Sw,
    /// Ends with.
    Ew,
    /// Greater than (string order).
    Gt,
    /// Greater than or equal (string order).
    Ge,
    /// Less than (string order).
    Lt,
    /// Less than or equal (string order).
    Le,
}

impl Op {
    fn parse(s: &str) -> Option<Op> {
        Some(match s.to_ascii_lowercase().as_str() {
            "eq" => Op::Eq,
            "ne" => Op::Ne,
            "co" => Op::Co,
            "sw" => Op::Sw,
            "ew" => Op::Ew,
            "gt" => Op::Gt,
            "ge" => Op::Ge,
            "lt" => Op::Lt,
            "le" => Op::Le,
            _ => return None,
        })
    }
}

/// A filter Slack would refuse, with Slack's error code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterError {
    /// Slack's code: `no_filters`, `incomplete_filter`, `invalid_filter_group` or
    /// `invalid_query`.
    pub code: ErrorCode,
    /// What is wrong, for the `(context)` part of the description.
    pub detail: String,
}

impl FilterError {
    fn new(code: ErrorCode, detail: impl Into<String>) -> FilterError {
        FilterError {
            code,
            detail: detail.into(),
        }
    }
}

impl std::fmt::Display for FilterError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.code, self.detail)
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Open,
    Close,
    Word(String),
    Quoted(String),
}

fn tokenize(input: &str) -> Result<Vec<Token>, FilterError> {
    let mut tokens = Vec::new();
    let chars: Vec<char> = input.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            c if c.is_whitespace() => i += 1,
            '(' => {
                tokens.push(Token::Open);
                i += 1;
            }
            ')' => {
                tokens.push(Token::Close);
                i += 1;
            }
            '"' => {
                // A JSON string literal.
                let start = i;
                i += 1;
                let mut escaped = false;
                while i < chars.len() && (escaped || chars[i] != '"') {
                    escaped = !escaped && chars[i] == '\\';
                    i += 1;
                }
                if i >= chars.len() {
                    return Err(incomplete("unterminated string"));
                }
                let literal: String = chars[start..=i].iter().collect();
                let value: String = serde_json::from_str(&literal).map_err(|_| {
                    FilterError::new(
                        ErrorCode::InvalidQuery,
                        format!("bad string literal {literal}"),
                    )
                })?;
                tokens.push(Token::Quoted(value));
                i += 1;
            }
            '\'' => {
                let start = i + 1;
                i += 1;
                while i < chars.len() && chars[i] != '\'' {
                    i += 1;
                }
                if i >= chars.len() {
                    return Err(incomplete("unterminated string"));
                }
                tokens.push(Token::Quoted(chars[start..i].iter().collect()));
                i += 1;
            }
            _ => {
                let start = i;
                while i < chars.len()
                    && !chars[i].is_whitespace()
                    && chars[i] != '('
                    && chars[i] != ')'
                {
                    i += 1;
                }
                tokens.push(Token::Word(chars[start..i].iter().collect()));
            }
        }
    }
    Ok(tokens)
}

fn incomplete(detail: &str) -> FilterError {
    FilterError::new(ErrorCode::IncompleteFilter, detail)
}

/// Parses a filter expression.
pub fn parse(input: &str) -> Result<Filter, FilterError> {
    let tokens = tokenize(input)?;
    // A lone word (`filter=foo`) is what Slack answers with `no_filters`.
    if tokens.len() < 2 {
        return Err(FilterError::new(
            ErrorCode::NoFilters,
            "is_aggregate_call=1",
        ));
    }
    let mut p = Parser {
        tokens,
        pos: 0,
        depth: 0,
        terms: 0,
    };
    let f = p.or()?;
    if p.pos != p.tokens.len() {
        return Err(match p.tokens[p.pos] {
            Token::Close => {
                FilterError::new(ErrorCode::InvalidFilterGroup, "unbalanced parenthesis")
            }
            _ => FilterError::new(ErrorCode::InvalidQuery, "unexpected token after expression"),
        });
    }
    Ok(f)
}

/// How deeply `(` and `not` may nest, and how many `and`/`or` terms one filter may have: a
/// filter is a lookup, and the parser, the filter tree and its evaluation all recurse, so an
/// unbounded one could overflow the stack (the fuzzer found 60,000 `(` doing it).
const MAX_DEPTH: usize = 32;
/// See [`MAX_DEPTH`].
const MAX_TERMS: usize = 256;

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
    /// `(` and `not` open around the current position.
    depth: usize,
    /// `and` and `or` seen so far.
    terms: usize,
}

impl Parser {
    fn peek_word(&self, word: &str) -> bool {
        matches!(self.tokens.get(self.pos), Some(Token::Word(w)) if w.eq_ignore_ascii_case(word))
    }

    /// Counts one more `and`/`or` term, refusing a filter with too many.
    fn term(&mut self) -> Result<(), FilterError> {
        self.terms += 1;
        if self.terms > MAX_TERMS {
            return Err(FilterError::new(
                ErrorCode::InvalidQuery,
                "too many terms in one filter",
            ));
        }
        Ok(())
    }

    /// Enters a `(` or a `not`, refusing nesting past [`MAX_DEPTH`].
    fn enter(&mut self) -> Result<(), FilterError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(FilterError::new(
                ErrorCode::InvalidFilterGroup,
                "filter nested too deeply",
            ));
        }
        Ok(())
    }

    fn or(&mut self) -> Result<Filter, FilterError> {
        let mut left = self.and()?;
        while self.peek_word("or") {
            self.term()?;
            self.pos += 1;
            let right = self.and()?;
            left = Filter::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Filter, FilterError> {
        let mut left = self.unary()?;
        while self.peek_word("and") {
            self.term()?;
            self.pos += 1;
            let right = self.unary()?;
            left = Filter::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Filter, FilterError> {
        if self.peek_word("not") {
            self.enter()?;
            self.pos += 1;
            let inner = self.unary()?;
            self.depth -= 1;
            return Ok(Filter::Not(Box::new(inner)));
        }
        match self.tokens.get(self.pos).cloned() {
            Some(Token::Open) => {
                self.enter()?;
                self.pos += 1;
                let inner = self.or()?;
                self.depth -= 1;
                match self.tokens.get(self.pos) {
                    Some(Token::Close) => {
                        self.pos += 1;
                        Ok(inner)
                    }
                    _ => Err(FilterError::new(
                        ErrorCode::InvalidFilterGroup,
                        "missing closing parenthesis",
                    )),
                }
            }
            Some(Token::Word(attr)) => {
                self.pos += 1;
                let op = match self.tokens.get(self.pos) {
                    Some(Token::Word(op)) => op.clone(),
                    _ => return Err(incomplete("missing operator")),
                };
                self.pos += 1;
                if op.eq_ignore_ascii_case("pr") {
                    return Ok(Filter::Present { attr });
                }
                let op = Op::parse(&op).ok_or_else(|| {
                    FilterError::new(ErrorCode::InvalidQuery, format!("unknown operator {op}"))
                })?;
                let value = match self.tokens.get(self.pos) {
                    Some(Token::Word(v)) | Some(Token::Quoted(v)) => v.clone(),
                    _ => return Err(incomplete("missing value")),
                };
                self.pos += 1;
                Ok(Filter::Compare { attr, op, value })
            }
            _ => Err(incomplete("missing expression")),
        }
    }
}

/// The user attributes Slack documents a filter on (FACTS §5), in lower case.
pub const DOCUMENTED_USER_ATTRIBUTES: &[&str] =
    &["username", "email", "restricted", "ultra_restricted"];

/// What a filter is evaluated against: an attribute's values, or `None` if the resource type
/// has no such attribute (which makes the filter invalid).
pub trait Filterable {
    /// The values of `attr` (lower case), or `None` if the resource type has no such attribute.
    fn values(&self, attr: &str) -> Option<Vec<String>>;
}

impl Filter {
    /// Checks that every attribute exists on the resource type, using `known` to ask.
    pub fn validate(&self, known: &dyn Fn(&str) -> bool) -> Result<(), FilterError> {
        match self {
            Filter::And(a, b) | Filter::Or(a, b) => {
                a.validate(known)?;
                b.validate(known)
            }
            Filter::Not(a) => a.validate(known),
            Filter::Compare { attr, .. } | Filter::Present { attr } => {
                if known(&attr.to_ascii_lowercase()) {
                    Ok(())
                } else {
                    Err(FilterError::new(
                        ErrorCode::InvalidQuery,
                        format!("unsupported filter attribute {attr}"),
                    ))
                }
            }
        }
    }

    /// Checks that the filter uses only what Slack documents for user filters (FACTS §5):
    /// the attributes `userName`, `email`, `restricted` and `ultra_restricted`, the operators
    /// `eq co sw pr gt ge lt le`, `and`, `or` and parentheses — no `ne`, `ew` or `not`.
    pub fn documented(&self) -> Result<(), FilterError> {
        match self {
            Filter::And(a, b) | Filter::Or(a, b) => {
                a.documented()?;
                b.documented()
            }
            Filter::Not(_) => Err(FilterError::new(
                ErrorCode::InvalidQuery,
                "the not operator is not documented",
            )),
            Filter::Compare {
                op: Op::Ne | Op::Ew,
                ..
            } => Err(FilterError::new(
                ErrorCode::InvalidQuery,
                "the ne and ew operators are not documented",
            )),
            Filter::Compare { attr, .. } | Filter::Present { attr } => {
                if DOCUMENTED_USER_ATTRIBUTES.contains(&attr.to_ascii_lowercase().as_str()) {
                    Ok(())
                } else {
                    Err(FilterError::new(
                        ErrorCode::InvalidQuery,
                        format!("undocumented filter attribute {attr}"),
                    ))
                }
            }
        }
    }

    /// Whether the resource matches.
    pub fn matches(&self, r: &dyn Filterable) -> bool {
        match self {
            Filter::And(a, b) => a.matches(r) && b.matches(r),
            Filter::Or(a, b) => a.matches(r) || b.matches(r),
            Filter::Not(a) => !a.matches(r),
            Filter::Present { attr } => r
                .values(&attr.to_ascii_lowercase())
                .is_some_and(|v| v.iter().any(|s| !s.is_empty())),
            Filter::Compare { attr, op, value } => {
                let want = value.to_lowercase();
                r.values(&attr.to_ascii_lowercase())
                    .unwrap_or_default()
                    .iter()
                    .any(|have| {
                        let have = have.to_lowercase();
                        match op {
                            Op::Eq => have == want,
                            Op::Ne => have != want,
                            Op::Co => have.contains(&want),
                            Op::Sw => have.starts_with(&want),
                            Op::Ew => have.ends_with(&want),
                            Op::Gt => have > want,
                            Op::Ge => have >= want,
                            Op::Lt => have < want,
                            Op::Le => have <= want,
                        }
                    })
            }
        }
    }

    /// For `attr eq value` alone: the attribute (lower case) and value, so the server can use an
    /// index instead of a scan.
    pub fn as_equality(&self) -> Option<(String, &str)> {
        match self {
            Filter::Compare {
                attr,
                op: Op::Eq,
                value,
            } => Some((attr.to_ascii_lowercase(), value)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct R(Vec<(&'static str, &'static str)>);
    impl Filterable for R {
        fn values(&self, attr: &str) -> Option<Vec<String>> {
            Some(
                self.0
                    .iter()
                    .filter(|(k, _)| *k == attr)
                    .map(|(_, v)| v.to_string())
                    .collect(),
            )
        }
    }

    #[test]
    fn only_documented_attributes_and_operators_pass_the_strict_check() {
        for ok in [
            "userName eq \"ada\"",
            "email eq a@x.org or (restricted eq 1 and ultra_restricted pr)",
            "USERNAME sw ad",
        ] {
            assert_eq!(parse(ok).unwrap().documented(), Ok(()), "{ok}");
        }
        for refused in [
            "userName ne \"ada\"",
            "userName ew da",
            "not (userName eq ada)",
            "displayName eq ada",
            "externalId eq x",
            "active eq true",
            "userName eq a or id eq U1",
        ] {
            let e = parse(refused).unwrap().documented().unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidQuery, "{refused}");
        }
    }

    #[test]
    fn quoting_styles_and_case() {
        let r = R(vec![("username", "Carly"), ("restricted", "1")]);
        for f in [
            r#"userName eq "carly""#,
            "username Eq 'CARLY'",
            "USERNAME EQ carly",
            "restricted eq 1",
            "restricted eq '1'",
            r#"userName sw "ca" and restricted eq 1"#,
            r#"(userName eq "x" or userName co "arl") and not (restricted eq 0)"#,
        ] {
            assert!(parse(f).unwrap().matches(&r), "{f}");
        }
        assert!(!parse("userName eq bob").unwrap().matches(&r));
    }

    #[test]
    fn precedence_and_binds_tighter_than_or() {
        let f = parse("a eq 1 or b eq 2 and c eq 3").unwrap();
        assert!(matches!(f, Filter::Or(_, _)));
    }

    #[test]
    fn slack_error_codes() {
        assert_eq!(parse("foo").unwrap_err().code, ErrorCode::NoFilters);
        assert_eq!(
            parse("userName eq").unwrap_err().code,
            ErrorCode::IncompleteFilter
        );
        assert_eq!(
            parse("(userName eq a").unwrap_err().code,
            ErrorCode::InvalidFilterGroup
        );
        assert_eq!(
            parse("userName eq a)").unwrap_err().code,
            ErrorCode::InvalidFilterGroup
        );
        assert_eq!(
            parse("userName xx a").unwrap_err().code,
            ErrorCode::InvalidQuery
        );
        assert_eq!(
            parse(r#"userName eq "unterminated"#).unwrap_err().code,
            ErrorCode::IncompleteFilter
        );
        let known = |a: &str| a == "username";
        assert_eq!(
            parse("title eq x")
                .unwrap()
                .validate(&known)
                .unwrap_err()
                .code,
            ErrorCode::InvalidQuery
        );
    }

    #[test]
    fn json_escapes_in_double_quotes() {
        let f = parse(r#"userName eq "a\"b""#).unwrap();
        assert_eq!(f.as_equality(), Some(("username".into(), "a\"b")));
    }

    /// What scimsync sends for a group named `eng" or displayName eq "admins` reads as one
    /// comparison with exactly that value: it matches the group of that name and neither `eng`
    /// nor `admins` (unescaped, it read as two clauses matching both).
    #[test]
    fn an_escaped_value_matches_exactly_the_literal_value() {
        let name = r#"eng" or displayName eq "admins"#;
        let sent = format!("displayName eq {}", crate::scim::write::filter_value(name));
        assert_eq!(sent, r#"displayName eq "eng\" or displayName eq \"admins""#);
        let f = parse(&sent).unwrap();
        assert_eq!(f.as_equality(), Some(("displayname".into(), name)));
        let group = |n: &'static str| R(vec![("displayname", n)]);
        assert!(f.matches(&group(name)));
        assert!(!f.matches(&group("eng")));
        assert!(!f.matches(&group("admins")));
        let unescaped = parse(&format!("displayName eq \"{name}\"")).unwrap();
        assert!(
            matches!(unescaped, Filter::Or(_, _)),
            "the attack, for the record"
        );
        assert!(unescaped.matches(&group("admins")));
    }

    #[test]
    fn escaped_backslashes_and_control_characters_read_back_exactly() {
        for (sent, value) in [
            (r#"displayName eq "a\\""#, "a\\"),
            (r#"displayName eq "a\\\"b""#, "a\\\"b"),
            (r#"displayName eq "\\\\""#, "\\\\"),
            (
                r#"displayName eq "t\u001b[2K\n\u007f""#,
                "t\u{1b}[2K\n\u{7f}",
            ),
            (r#"displayName eq "x\/y""#, "x/y"),
        ] {
            let f = parse(sent).unwrap();
            assert_eq!(
                f.as_equality(),
                Some(("displayname".into(), value)),
                "{sent}"
            );
            assert!(f.matches(&R(vec![("displayname", value)])), "{sent}");
        }
        // A value ending in an escaped backslash closes where it should, and the rest parses.
        let f = parse(r#"displayName eq "a\\" or displayName eq "b""#).unwrap();
        assert!(matches!(f, Filter::Or(_, _)));
        assert!(f.matches(&R(vec![("displayname", "a\\")])));
    }

    #[test]
    fn malformed_escapes_keep_slacks_errors() {
        // The closing quote is escaped: the string never ends.
        assert_eq!(
            parse(r#"displayName eq "a\""#).unwrap_err().code,
            ErrorCode::IncompleteFilter
        );
        // Not a JSON escape, a short \u, a raw control character: not a JSON string.
        for bad in [
            r#"displayName eq "a\qb""#,
            r#"displayName eq "a\u12""#,
            "displayName eq \"a\u{1b}b\"",
        ] {
            assert_eq!(
                parse(bad).unwrap_err().code,
                ErrorCode::InvalidQuery,
                "{bad}"
            );
        }
    }
}

#[cfg(test)]
mod fuzz_regressions {
    use super::*;

    /// Found by `tests/fuzz/run` (emulator_filter): 60,000 `(` overflowed the stack.
    #[test]
    fn deep_or_long_filters_are_refused_not_a_stack_overflow() {
        let deep = format!(
            "{}userName eq \"a\"{}",
            "(".repeat(100_000),
            ")".repeat(100_000)
        );
        let e = parse(&deep).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidFilterGroup);
        let nots = format!("{}userName eq \"a\"", "not ".repeat(100_000));
        assert_eq!(
            parse(&nots).unwrap_err().code,
            ErrorCode::InvalidFilterGroup
        );
        let long = vec!["userName eq \"a\""; 50_000].join(" or ");
        assert_eq!(parse(&long).unwrap_err().code, ErrorCode::InvalidQuery);
        // Within the limits, all is as before.
        let ok = format!("{}userName eq \"a\"{}", "(".repeat(32), ")".repeat(32));
        assert!(parse(&ok).is_ok());
        assert!(parse(&vec!["userName eq \"a\""; 257].join(" and ")).is_ok());
    }
}
