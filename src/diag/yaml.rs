//! YAML with positions: values from `serde_yaml`, line and column of every node from a
//! second, position-keeping pass.
//!
//! `serde_yaml` locates its own syntax and type errors but forgets positions once a value is
//! parsed, while the checks that matter most here (an invalid email, a duplicate, a manager
//! who does not exist) run after parsing. So each YAML file is read twice: `serde_yaml` parses
//! it (and is the authority on whether it is valid YAML), and `saphyr-parser`'s event stream
//! records where each mapping key and each value starts, addressed by path
//! (`users[3].email`). If the two parsers ever disagree on a file `serde_yaml` accepted,
//! positions degrade to the file name alone rather than failing the load.

use std::sync::Arc;

use saphyr_parser::{Event, Parser};
use serde::de::{self, DeserializeOwned, MapAccess};
use serde_yaml::Value;

use super::{SourceLocation, position};

/// One step of a path into a YAML document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step<'a> {
    /// A mapping key.
    Key(&'a str),
    /// A sequence index.
    Index(usize),
}

/// A parsed YAML file: its value and the position of every node.
#[derive(Debug)]
pub struct YamlDocument {
    /// The file as named.
    pub file: Arc<str>,
    /// The parsed value.
    pub value: Value,
    spans: SpanIndex,
}

/// A YAML file that is not valid YAML, or does not fit the expected shape.
#[derive(Debug, Clone, PartialEq)]
pub struct YamlError {
    /// Where the problem is.
    pub location: SourceLocation,
    /// serde_yaml's message, without its trailing "at line L column C".
    pub message: String,
}

/// How deep a YAML file may nest flow collections (`[`, `{`) or block sequences on one line
/// (`- - -`). Directory and config files need a handful of levels; a bomb needs thousands,
/// and the parser is slow on those, so they are refused by a linear scan first.
pub const MAX_NESTING: usize = 64;

/// The first control character (other than tab, line feed and carriage return) in `text`,
/// with its byte offset: reported at its own line, not at the top of the file.
fn control_character(text: &str) -> Option<(usize, String)> {
    text.char_indices()
        .find(|(_, c)| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
        .map(|(i, c)| {
            (
                i,
                format!(
                    "control character U+{:04X} is not allowed in YAML",
                    c as u32
                ),
            )
        })
}

/// Where `text` first nests deeper than [`MAX_NESTING`], if it does: flow brackets outside
/// quotes and comments, and `- ` chains on one line.
fn too_deep(text: &str) -> Option<(usize, String)> {
    let message =
        || format!("nesting deeper than {MAX_NESTING} levels: not a directory or config file");
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    let mut quote: Option<u8> = None;
    let mut comment = false;
    let mut dashes = 0usize;
    let mut line_start = true;
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let previous = if i == 0 { b'\n' } else { bytes[i - 1] };
        if c == b'\n' {
            comment = false;
            line_start = true;
            dashes = 0;
        } else if comment {
        } else if let Some(q) = quote {
            if c == b'\\' && q == b'"' {
                i += 1; // an escape: skip the next byte
            } else if c == q {
                quote = None;
            }
        } else {
            match c {
                b'\'' | b'"' => quote = Some(c),
                b'#' if previous.is_ascii_whitespace() => comment = true,
                b'[' | b'{' => {
                    depth += 1;
                    if depth > MAX_NESTING {
                        return Some((i, message()));
                    }
                }
                b']' | b'}' => depth = depth.saturating_sub(1),
                b'-' if line_start && bytes.get(i + 1).is_none_or(u8::is_ascii_whitespace) => {
                    dashes += 1;
                    if dashes > MAX_NESTING {
                        return Some((i, message()));
                    }
                }
                b' ' | b'-' if line_start => {}
                _ => line_start = false,
            }
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod bomb_tests {
    use super::*;

    #[test]
    fn deep_nesting_is_refused_in_linear_time_at_its_place() {
        let file: Arc<str> = Arc::from("d.yaml");
        let n = 200_000;
        let text = format!("users:\n  - email: {}{}\n", "[".repeat(n), "]".repeat(n));
        let t = std::time::Instant::now();
        let e = YamlDocument::parse(&file, &text).unwrap_err();
        assert!(
            t.elapsed() < std::time::Duration::from_secs(1),
            "{:?}",
            t.elapsed()
        );
        assert_eq!(e.location.line, 2);
        assert_eq!(e.location.column, 12 + u32::try_from(MAX_NESTING).unwrap());
        assert!(
            e.message.starts_with("nesting deeper than 64"),
            "{}",
            e.message
        );
        let dashes = format!("users:\n{}a\n", "- ".repeat(100));
        assert!(YamlDocument::parse(&file, &dashes).is_err());
        // Brackets in quotes, comments and block text are text.
        let fine = format!(
            "users:\n  - {{email: a@x.io, title: \"{}\\\" {}\"}} # {}\n  - email: b@x.io\n    title: |\n      {}\n",
            "[".repeat(100),
            "{".repeat(100),
            "[".repeat(100),
            "-".repeat(100)
        );
        YamlDocument::parse(&file, &fine).unwrap();
    }

    #[test]
    fn a_control_character_is_reported_at_its_own_line() {
        let file: Arc<str> = Arc::from("d.yaml");
        let e = YamlDocument::parse(&file, "users:\n  - email: a@x.io\n  - email: b\u{0}@x.io\n")
            .unwrap_err();
        assert_eq!((e.location.line, e.location.column), (3, 13));
        assert_eq!(e.message, "control character U+0000 is not allowed in YAML");
    }
}

impl YamlDocument {
    /// Parses `text` (the contents of `file`). The error carries serde_yaml's location.
    pub fn parse(file: &Arc<str>, text: &str) -> Result<YamlDocument, YamlError> {
        if let Some((offset, message)) = control_character(text).or_else(|| too_deep(text)) {
            let (line, column) = super::line_column(text, offset);
            return Err(YamlError {
                location: SourceLocation::new(file, line, column),
                message,
            });
        }
        let value: Value = serde_yaml::from_str(text).map_err(|e| {
            let mut error = yaml_error(file, &e);
            // libyaml's message for a tab says nothing of tabs.
            let line = text
                .lines()
                .nth((error.location.line as usize).saturating_sub(1));
            let indent = line.map(|l| &l[..l.len() - l.trim_start().len()]);
            if indent.is_some_and(|i| i.contains('\t')) {
                error
                    .message
                    .push_str(" (a tab: YAML is indented with spaces only)");
            }
            error
        })?;
        let spans = SpanIndex::build(text).unwrap_or_default();
        Ok(YamlDocument {
            file: Arc::clone(file),
            value,
            spans,
        })
    }

    /// Where the value at `path` starts; falls back to the nearest known ancestor, then to
    /// the file.
    pub fn location(&self, path: &[Step<'_>]) -> SourceLocation {
        for end in (0..=path.len()).rev() {
            if let Some(pos) = self.spans.value(&path[..end]) {
                return SourceLocation::new(&self.file, pos.line, pos.column);
            }
        }
        SourceLocation::file(&self.file)
    }

    /// Where the key of the last step of `path` is written (for "unknown field" and the like);
    /// falls back to [`YamlDocument::location`].
    pub fn key_location(&self, path: &[Step<'_>]) -> SourceLocation {
        match self.spans.key(path) {
            Some(pos) => SourceLocation::new(&self.file, pos.line, pos.column),
            None => self.location(path),
        }
    }

    /// The value at `path`, if there is one.
    pub fn get(&self, path: &[Step<'_>]) -> Option<&Value> {
        let mut value = &self.value;
        for step in path {
            value = match step {
                Step::Key(k) => value.as_mapping()?.get(*k)?,
                Step::Index(i) => value.as_sequence()?.get(*i)?,
            };
        }
        Some(value)
    }

    /// Decodes the value at `path` into `T`, reporting every field that does not fit rather
    /// than only the first.
    ///
    /// `T`'s fields must all be optional (requiredness is checked after decoding, with
    /// locations): then a value that fails can be narrowed down, one key or item at a time
    /// (wrapped back into the same surrounding shape), to each part that fails on its own,
    /// and each is reported at its own position — unknown fields at the key, wrong types at
    /// the value.
    pub fn decode<T: DeserializeOwned>(&self, path: &[Step<'_>]) -> Result<T, Vec<YamlError>> {
        let Some(value) = self.get(path) else {
            return Err(vec![YamlError {
                location: self.location(path),
                message: "missing value".into(),
            }]);
        };
        let first = match T::deserialize(value) {
            Ok(t) => return Ok(t),
            Err(e) => e,
        };
        let base: Vec<OwnedStep> = path.iter().map(OwnedStep::from).collect();
        let mut errors = Vec::new();
        let mut relative = Vec::new();
        let found = self.narrow::<T>(&base, &mut relative, value, &|v| v, &mut errors);
        if !found {
            errors.push(YamlError {
                location: self.location(path),
                message: parser_message(&first.to_string()),
            });
        }
        Err(errors)
    }

    /// Finds the parts of `value` (at `base` + `relative`) that make `T` fail when put back
    /// in place by `wrap`. Returns whether any part was found.
    fn narrow<T: DeserializeOwned>(
        &self,
        base: &[OwnedStep],
        relative: &mut Vec<OwnedStep>,
        value: &Value,
        wrap: &dyn Fn(Value) -> Value,
        errors: &mut Vec<YamlError>,
    ) -> bool {
        let mut found = false;
        let mut visit = |this: &Self,
                         relative: &mut Vec<OwnedStep>,
                         step: OwnedStep,
                         item: &Value,
                         rewrap: &dyn Fn(Value) -> Value,
                         errors: &mut Vec<YamlError>| {
            let Some(error) = T::deserialize(&rewrap(item.clone())).err() else {
                return;
            };
            found = true;
            relative.push(step);
            let mut full = base.to_vec();
            full.extend(relative.iter().cloned());
            let steps: Vec<Step<'_>> = full.iter().map(OwnedStep::as_step).collect();
            let message = format!(
                "{}: {}",
                dotted(relative),
                parser_message(&error.to_string())
            );
            // An unknown key fails whatever its value: report it at the key.
            let key_itself = matches!(relative.last(), Some(OwnedStep::Key(_)))
                && T::deserialize(&rewrap(Value::Null))
                    .err()
                    .is_some_and(|e| unknown_field(&e.to_string()).is_some());
            if key_itself {
                errors.push(YamlError {
                    location: this.key_location(&steps),
                    message,
                });
            } else if !this.narrow::<T>(base, relative, item, rewrap, errors) {
                errors.push(YamlError {
                    location: this.location(&steps),
                    message,
                });
            }
            relative.pop();
        };
        match value {
            Value::Mapping(mapping) => {
                for (key, item) in mapping {
                    let rewrap = |inner: Value| {
                        let mut single = serde_yaml::Mapping::new();
                        single.insert(key.clone(), inner);
                        wrap(Value::Mapping(single))
                    };
                    let step = OwnedStep::Key(key_string(key));
                    visit(self, relative, step, item, &rewrap, errors);
                }
            }
            Value::Sequence(items) => {
                for (i, item) in items.iter().enumerate() {
                    let rewrap = |inner: Value| wrap(Value::Sequence(vec![inner]));
                    visit(self, relative, OwnedStep::Index(i), item, &rewrap, errors);
                }
            }
            _ => {}
        }
        found
    }
}

/// A [`Step`] that owns its key.
#[derive(Debug, Clone)]
enum OwnedStep {
    Key(String),
    Index(usize),
}

impl OwnedStep {
    fn from(step: &Step<'_>) -> Self {
        match step {
            Step::Key(k) => OwnedStep::Key(k.to_string()),
            Step::Index(i) => OwnedStep::Index(*i),
        }
    }

    fn as_step(&self) -> Step<'_> {
        match self {
            OwnedStep::Key(k) => Step::Key(k),
            OwnedStep::Index(i) => Step::Index(*i),
        }
    }
}

/// `safety.max_deactivations`, `groups[2]`; each key an excerpt (a key is the file's text).
fn dotted(path: &[OwnedStep]) -> String {
    let mut out = String::new();
    for step in path {
        match step {
            OwnedStep::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(&super::excerpt(k).to_string());
            }
            OwnedStep::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// Reads the next key of a map whose keys are names from a fixed list (attributes, CSV
/// columns), the way `serde`'s own structs read theirs: a name `lookup` does not know is an
/// "unknown field" error listing `names`, which [`YamlDocument::decode`] reports at the key.
pub fn next_named_key<'de, A: MapAccess<'de>, K>(
    map: &mut A,
    names: &'static [&'static str],
    lookup: impl Fn(&str) -> Option<K>,
) -> Result<Option<K>, A::Error> {
    let Some(name) = map.next_key::<std::borrow::Cow<'de, str>>()? else {
        return Ok(None);
    };
    lookup(&name).map(Some).ok_or_else(|| {
        if names.len() <= SHORT_LIST {
            de::Error::unknown_field(&name, names)
        } else {
            de::Error::custom(unknown_name(&name, names))
        }
    })
}

/// How many names an "unknown field" message lists whole; past it, a message would pass what
/// a problem shows ([`super::bounded`] cuts its middle), so it names the closest ones.
const SHORT_LIST: usize = 8;

/// "unknown field `nick`, did you mean `nickname`?" and where the whole list is, for a name
/// among many (the attributes, the CSV columns): at most three names, the closest by edit
/// distance, or none when nothing is close.
fn unknown_name(name: &str, names: &[&str]) -> String {
    let lower = name.to_ascii_lowercase();
    let mut close: Vec<(usize, &str)> = names
        .iter()
        .map(|n| (edit_distance(&lower, n), *n))
        .filter(|(d, n)| *d <= (n.len() / 3).max(2) || (lower.len() > 2 && n.contains(&lower)))
        .collect();
    close.sort_by_key(|(d, _)| *d);
    let close: Vec<String> = close
        .iter()
        .take(3)
        .map(|(_, n)| format!("`{n}`"))
        .collect();
    let guess = match close.as_slice() {
        [] => String::new(),
        [one] => format!(": did you mean {one}?"),
        [rest @ .., last] => format!(": did you mean {} or {last}?", rest.join(", ")),
    };
    // "`, expected " ends the name for `super::shorten_quoted`.
    format!(
        "unknown field `{name}`, expected one of {} names{guess} (`scimsync schema directory` and `scimsync schema config` list them all)",
        names.len()
    )
}

/// Levenshtein distance, by characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous + usize::from(ca != *cb);
            previous = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(previous + 1);
        }
    }
    row[b.len()]
}

/// Converts a serde_yaml error into a located [`YamlError`].
pub fn yaml_error(file: &Arc<str>, error: &serde_yaml::Error) -> YamlError {
    let location = match error.location() {
        Some(l) => SourceLocation::new(file, position(l.line()), position(l.column())),
        None => SourceLocation::file(file),
    };
    YamlError {
        location,
        message: parser_message(&error.to_string()),
    }
}

/// A parser's message as a problem says it: without its position (the problem has it), and
/// with every value it quotes cut to an excerpt ([`super::shorten_quoted`]).
fn parser_message(message: &str) -> String {
    super::shorten_quoted(&strip_location(message))
}

/// serde_yaml puts " at line L column C" into its messages; the location is kept apart.
fn strip_location(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(i) = rest.find(" at line ") {
        out.push_str(&rest[..i]);
        let after = &rest[i + " at line ".len()..];
        let digits = |s: &str| s.bytes().take_while(u8::is_ascii_digit).count();
        let n = digits(after);
        match after[n..].strip_prefix(" column ") {
            Some(col) if n > 0 && digits(col) > 0 => rest = &col[digits(col)..],
            _ => {
                out.push_str(" at line ");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The field name in serde's "unknown field `x`, expected …".
fn unknown_field(message: &str) -> Option<&str> {
    let rest = &message[message.find("unknown field `")? + "unknown field `".len()..];
    Some(&rest[..rest.find('`')?])
}

fn key_string(key: &Value) -> String {
    match key {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Null => "~".into(),
        _ => "?".into(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Pos {
    line: u32,
    column: u32,
}

#[derive(Debug)]
enum Children {
    Leaf,
    Seq(Vec<usize>),
    Map(Vec<(Box<str>, Pos, usize)>),
}

#[derive(Debug)]
struct Node {
    pos: Pos,
    children: Children,
}

/// The position of every node of the first document of a YAML text, as a tree.
#[derive(Debug, Default)]
struct SpanIndex {
    nodes: Vec<Node>,
}

/// What the tree builder is in the middle of.
enum Open {
    Seq(usize),
    /// A mapping, and the key just read (with its position) whose value is awaited.
    Map(usize, Option<(Box<str>, Pos)>),
}

impl SpanIndex {
    fn build(text: &str) -> Option<SpanIndex> {
        let mut nodes: Vec<Node> = Vec::new();
        let mut stack: Vec<Open> = Vec::new();
        let mut done = false;
        for event in Parser::new_from_str(text) {
            let (event, span) = event.ok()?;
            let pos = Pos {
                line: position(span.start.line()),
                column: position(span.start.col()).saturating_add(1),
            };
            let (is_start, children, scalar) = match event {
                Event::Scalar(value, ..) => (true, Children::Leaf, Some(value)),
                Event::Alias(_) => (true, Children::Leaf, Some("*".into())),
                Event::SequenceStart(..) => (true, Children::Seq(Vec::new()), None),
                Event::MappingStart(..) => (true, Children::Map(Vec::new()), None),
                Event::SequenceEnd | Event::MappingEnd => {
                    stack.pop();
                    if stack.is_empty() {
                        done = true;
                    }
                    continue;
                }
                Event::DocumentEnd if !nodes.is_empty() => break,
                _ => continue,
            };
            if !is_start || done {
                continue;
            }
            // A scalar in key position is a key, not a node.
            if let (Some(Open::Map(_, pending @ None)), Some(key)) = (stack.last_mut(), &scalar) {
                *pending = Some((key.as_ref().into(), pos));
                continue;
            }
            let is_container = !matches!(children, Children::Leaf);
            let id = nodes.len();
            nodes.push(Node { pos, children });
            match stack.last_mut() {
                Some(Open::Seq(parent)) => {
                    if let Children::Seq(items) = &mut nodes[*parent].children {
                        items.push(id);
                    }
                }
                Some(Open::Map(parent, pending)) => match pending.take() {
                    Some((key, key_pos)) => {
                        if let Children::Map(entries) = &mut nodes[*parent].children {
                            entries.push((key, key_pos, id));
                        }
                    }
                    // A complex (non-scalar) key: remember nothing about it, but keep the
                    // key/value alternation right.
                    None => *pending = Some(("?".into(), pos)),
                },
                None => {}
            }
            if is_container {
                stack.push(match nodes[id].children {
                    Children::Seq(_) => Open::Seq(id),
                    _ => Open::Map(id, None),
                });
            } else if stack.is_empty() {
                done = true;
            }
        }
        Some(SpanIndex { nodes })
    }

    fn node(&self, path: &[Step<'_>]) -> Option<usize> {
        let mut id = 0;
        self.nodes.first()?;
        for step in path {
            id = match (step, &self.nodes[id].children) {
                (Step::Key(k), Children::Map(entries)) => {
                    entries.iter().find(|(key, ..)| &**key == *k)?.2
                }
                (Step::Index(i), Children::Seq(items)) => *items.get(*i)?,
                _ => return None,
            };
        }
        Some(id)
    }

    fn value(&self, path: &[Step<'_>]) -> Option<Pos> {
        self.node(path).map(|id| self.nodes[id].pos)
    }

    fn key(&self, path: &[Step<'_>]) -> Option<Pos> {
        let (Step::Key(k), parent) = path.split_last()? else {
            return None;
        };
        let parent = self.node(parent)?;
        match &self.nodes[parent].children {
            Children::Map(entries) => entries.iter().find(|(key, ..)| &**key == *k).map(|e| e.1),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    fn doc(text: &str) -> YamlDocument {
        YamlDocument::parse(&Arc::from("t.yaml"), text).unwrap()
    }

    #[test]
    fn positions_of_keys_and_values() {
        let d = doc("# comment\nusers:\n  - email: a@x.io\n    title: Eng\n  - {email: b@x.io}\n");
        let at = |p: &[Step]| d.location(p).to_string();
        assert_eq!(at(&[Step::Key("users")]), "t.yaml:3:3");
        assert_eq!(at(&[Step::Key("users"), Step::Index(0)]), "t.yaml:3:5");
        assert_eq!(
            at(&[Step::Key("users"), Step::Index(0), Step::Key("title")]),
            "t.yaml:4:12"
        );
        assert_eq!(
            at(&[Step::Key("users"), Step::Index(1), Step::Key("email")]),
            "t.yaml:5:13"
        );
        assert_eq!(
            d.key_location(&[Step::Key("users"), Step::Index(0), Step::Key("title")])
                .to_string(),
            "t.yaml:4:5"
        );
        // Unknown paths fall back to the nearest ancestor.
        assert_eq!(
            at(&[Step::Key("users"), Step::Index(0), Step::Key("nope")]),
            "t.yaml:3:5"
        );
    }

    #[test]
    fn syntax_errors_carry_serde_yaml_locations() {
        let err = YamlDocument::parse(&Arc::from("t.yaml"), "a:\n  b: [1, 2\n").unwrap_err();
        assert_eq!(err.location.file.as_ref(), "t.yaml");
        assert!(err.location.line >= 2, "{err:?}");
        assert!(!err.message.contains(" at line "), "{}", err.message);
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Person {
        name: Option<String>,
        age: Option<u32>,
        pet: Option<Pet>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Pet {
        kind: Option<String>,
    }

    #[test]
    fn decode_reports_every_bad_field_at_its_place() {
        let d = doc("- name: Ada\n  age: old\n  colour: red\n  pet:\n    knd: cat\n");
        let errors = d.decode::<Person>(&[Step::Index(0)]).unwrap_err();
        let got: Vec<String> = errors
            .iter()
            .map(|e| format!("{}: {}", e.location, e.message))
            .collect();
        assert_eq!(got.len(), 3, "{got:#?}");
        assert!(
            got[0].starts_with("t.yaml:2:8: age: invalid type"),
            "{got:#?}"
        );
        assert!(
            got[1].starts_with("t.yaml:3:3: colour: unknown field `colour`"),
            "{got:#?}"
        );
        assert!(
            got[2].starts_with("t.yaml:5:5: pet.knd: unknown field `knd`"),
            "{got:#?}"
        );
        assert!(
            d.decode::<Person>(&[Step::Index(0), Step::Key("name")])
                .is_err()
        );
    }
}
