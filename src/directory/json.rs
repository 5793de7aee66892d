//! A JSON array of objects (a `command:` source's `format: json`) as a [`Table`]: each key a
//! column, each object a row located as `command 'fetch-hr' item 14`.
//!
//! A value is a string, a number, a boolean (read as written) or null (blank); an array of
//! those is joined with the groups separator (for a groups column); a key an object lacks is
//! a blank cell. Anything else — not JSON, not an array, an item that is not an object, a
//! nested object — fails the whole source: a cut-off document never parses.

use std::sync::Arc;

use serde_json::Value;

use crate::diag::{Problem, SourceLocation};

use super::issue::{DirectoryIssue, DirectoryProblem};
use super::table::Table;

/// The table `bytes` hold, or the problem at the source.
pub(crate) fn table(
    source: &Arc<str>,
    bytes: &[u8],
    separator: char,
) -> Result<Table, Vec<DirectoryProblem>> {
    let fail = |message: String| {
        vec![Problem::error(
            SourceLocation::file(source),
            DirectoryIssue::Json { message },
        )]
    };
    let value: Value = serde_json::from_slice(bytes).map_err(|e| fail(e.to_string()))?;
    let Value::Array(items) = value else {
        return Err(fail("the top level is not an array".into()));
    };
    let mut headers: Vec<String> = Vec::new();
    for (n, item) in items.iter().enumerate() {
        let Value::Object(object) = item else {
            return Err(fail(format!("item {} is not an object", n + 1)));
        };
        for key in object.keys() {
            if !headers.contains(key) {
                headers.push(key.clone());
            }
        }
    }
    let mut table = Table::new(source, headers);
    for (n, item) in items.iter().enumerate() {
        let Value::Object(object) = item else {
            unreachable!("checked above")
        };
        let place = Table::place(&format!("{source} item {}", n + 1), None);
        let mut cells = Vec::with_capacity(table.headers.len());
        for header in &table.headers {
            let cell = match object.get(header) {
                None => String::new(),
                Some(value) => cell(value, separator).ok_or_else(|| {
                    fail(format!(
                        "item {}: {header:?} is not a string, number, boolean or list of them",
                        n + 1
                    ))
                })?,
            };
            cells.push(cell);
        }
        table.push(place, cells);
    }
    Ok(table)
}

/// One value as a cell's text.
fn cell(value: &Value, separator: char) -> Option<String> {
    match value {
        Value::Null => Some(String::new()),
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::Array(items) => {
            let parts: Option<Vec<String>> = items
                .iter()
                .map(|v| match v {
                    Value::Array(_) | Value::Object(_) => None,
                    v => cell(v, separator),
                })
                .collect();
            Some(parts?.join(&separator.to_string()))
        }
        Value::Object(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn messages(r: Result<Table, Vec<DirectoryProblem>>) -> Vec<String> {
        r.unwrap_err().iter().map(ToString::to_string).collect()
    }

    #[test]
    fn objects_become_rows_and_anything_else_fails_the_source() {
        let source: Arc<str> = "command 'hr'".into();
        let t = table(
            &source,
            br#"[{"mail":"a@x.io","n":7,"g":["x","y"]},{"mail":"b@x.io","ok":true,"g":null}]"#,
            ';',
        )
        .unwrap();
        assert_eq!(t.headers, ["g", "mail", "n", "ok"]);
        assert_eq!(t.rows[0].cells, ["x;y", "a@x.io", "7", ""]);
        assert_eq!(t.rows[1].cells, ["", "b@x.io", "", "true"]);
        assert_eq!(t.rows[1].at.to_string(), "command 'hr' item 2");
        assert_eq!(
            messages(table(&source, br#"[{"mail":"a@x.io"},{"mail":"#, ';')),
            [
                "command 'hr': error: not a JSON array of objects: EOF while parsing a value at line 1 column 27"
            ]
        );
        assert_eq!(
            messages(table(&source, br#"{"mail":"a@x.io"}"#, ';')),
            ["command 'hr': error: not a JSON array of objects: the top level is not an array"]
        );
        assert_eq!(
            messages(table(&source, br#"[{"m":{"x":1}}]"#, ';')).len(),
            1
        );
    }
}
