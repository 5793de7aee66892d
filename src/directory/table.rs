//! The table seam: a tabular source — a header row and rows of cells, each row located —
//! and the column mapping (`columns:`, fallbacks, blank rules, the groups column, guests)
//! that turns its rows into people.
//!
//! A CSV file is one such source (its rows streamed, never all held at once); a `command:`
//! source's JSON and the directory services (LDAP, Google) are others, built as a [`Table`]
//! and read with [`read`]. Whatever the source, a row's problems are reported at its place:
//! `people.csv:14:3` for a CSV cell, a label such as `command 'fetch-hr' object 14` or
//! `ldap uid=jo,ou=people,dc=example,dc=com` for the others.

use std::sync::Arc;

use crate::config::{CsvColumn, CsvLayout};
use crate::diag::{Problem, SourceLocation};
use crate::model::Kind;

use super::issue::{DirectoryIssue, DirectoryProblem};
use super::record::{
    AttrValue, PersonRecord, SourceContent, parse_bool, parse_date, parse_expiration,
};
use super::{Attribute, Guest};

/// A tabular source held whole: its header row and its rows, each row with its place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    /// The source as messages name it (a path, `command 'fetch-hr'`, `ldap ldaps://…`).
    pub source: Arc<str>,
    /// The column names, in order; the config's `columns:` name these.
    pub headers: Vec<String>,
    /// Where the header row is: problems with the columns (a mapped one missing) are
    /// reported here. The source itself when it has no header line.
    pub header_at: SourceLocation,
    /// The rows, in the source's order.
    pub rows: Vec<Row>,
}

/// One row of a [`Table`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// Where the row is: every problem of the row, and of each of its cells, is reported
    /// here.
    pub at: SourceLocation,
    /// One cell per header, trimmed; a blank cell is `""`.
    pub cells: Vec<String>,
}

impl Table {
    /// An empty table of `source` with these headers, its header row located at the source.
    pub fn new(source: &Arc<str>, headers: Vec<String>) -> Table {
        Table {
            source: Arc::clone(source),
            headers,
            header_at: SourceLocation::file(source),
            rows: Vec::new(),
        }
    }

    /// Adds a row of owned cells (trimmed here) placed at `at`; see [`Table::place`] for a
    /// label. A row with another number of cells than headers is an error of the source
    /// when the table is read.
    pub fn push(&mut self, at: SourceLocation, cells: Vec<String>) {
        let cells = cells
            .into_iter()
            .map(|c| {
                let trimmed = c.trim();
                if trimmed.len() == c.len() {
                    c
                } else {
                    trimmed.to_string()
                }
            })
            .collect();
        self.rows.push(Row { at, cells });
    }

    /// A place named by a label, with no line (`ldap uid=jo,ou=people,dc=example,dc=com`),
    /// or with one (`command 'fetch-hr'`, 14 → `command 'fetch-hr':14`).
    pub fn place(label: &str, line: Option<u32>) -> SourceLocation {
        SourceLocation::new(&Arc::from(label), line.unwrap_or(0), 0)
    }
}

/// The cells of one row, by column index: a CSV record as read, or a [`Row`]'s.
pub(crate) trait Cells {
    /// The cell in column `i` (every mapped index is within the row).
    fn cell(&self, i: usize) -> &str;
}

impl Cells for csv::StringRecord {
    fn cell(&self, i: usize) -> &str {
        &self[i]
    }
}

impl Cells for [String] {
    fn cell(&self, i: usize) -> &str {
        &self[i]
    }
}

/// The config's column mapping bound to one header row: which column holds what.
pub(crate) struct Mapper<'l> {
    layout: &'l CsvLayout,
    /// Column index of each mapped column (a column with fallbacks has several, adjacent).
    indexes: Vec<(CsvColumn, usize)>,
}

impl<'l> Mapper<'l> {
    /// Binds `layout` to the header row `names`, the cell of column `i` at `cell_at(i)`: a
    /// duplicate header or a mapped header that is missing fails the source.
    pub(crate) fn new(
        names: &[String],
        layout: &'l CsvLayout,
        cell_at: &impl Fn(usize) -> SourceLocation,
    ) -> Result<Mapper<'l>, Vec<DirectoryProblem>> {
        let mut problems = Vec::new();
        check_header(names, cell_at, &mut problems);
        let indexes = map_columns(names, layout, cell_at, &mut problems);
        if problems.is_empty() {
            Ok(Mapper { layout, indexes })
        } else {
            Err(problems)
        }
    }

    /// The index of each mapped column.
    pub(crate) fn indexes(&self) -> &[(CsvColumn, usize)] {
        &self.indexes
    }

    /// The person of one row, at `location`, the cell of column `i` at `cell_at(i)`.
    pub(crate) fn person<'a, R: Cells + ?Sized>(
        &self,
        record: &'a R,
        location: SourceLocation,
        cell_at: &impl Fn(usize) -> SourceLocation,
    ) -> PersonRecord<'a> {
        person(record, &self.indexes, self.layout, location, cell_at)
    }
}

/// Reads a table through `layout`, handing each person to `each` as [`csv::read_each`]
/// does (and with the same rules: a row of the wrong width fails the source; a table
/// without rows is a warning).
///
/// [`csv::read_each`]: super::csv::read_each
pub(crate) fn read_each(
    table: &Table,
    layout: &CsvLayout,
    mut each: impl FnMut(PersonRecord<'_>),
) -> Result<SourceContent, Vec<DirectoryProblem>> {
    let header_at = |_: usize| table.header_at.clone();
    let mapper = Mapper::new(&table.headers, layout, &header_at)?;
    let mut problems = Vec::new();
    let mut content = SourceContent::default();
    for row in &table.rows {
        if row.cells.len() != table.headers.len() {
            problems.push(Problem::error(
                row.at.clone(),
                DirectoryIssue::RaggedRow {
                    found: row.cells.len(),
                    expected: table.headers.len(),
                },
            ));
            continue;
        }
        if row.cells.iter().all(String::is_empty) {
            continue;
        }
        if problems.is_empty() {
            let cell_at = |_: usize| row.at.clone();
            each(mapper.person(row.cells.as_slice(), row.at.clone(), &cell_at));
            content.rows += 1;
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    if content.rows == 0 {
        content.warnings.push(Problem::warning(
            SourceLocation::file(&table.source),
            DirectoryIssue::NoRows,
        ));
    }
    Ok(content)
}

/// [`read_each`], keeping the people.
pub(crate) fn read(
    table: &Table,
    layout: &CsvLayout,
) -> Result<SourceContent, Vec<DirectoryProblem>> {
    let mut people = Vec::with_capacity(table.rows.len());
    let mut content = read_each(table, layout, |p| people.push(p.into_owned()))?;
    content.people = people;
    Ok(content)
}

fn check_header(
    names: &[String],
    cell_at: &impl Fn(usize) -> SourceLocation,
    problems: &mut Vec<DirectoryProblem>,
) {
    for (i, name) in names.iter().enumerate() {
        if name.is_empty() {
            continue;
        }
        if let Some(first) = names[..i].iter().position(|n| n == name) {
            problems.push(Problem::error(
                cell_at(i),
                DirectoryIssue::DuplicateHeader {
                    header: name.clone(),
                    first_column: cell_at(first).column,
                },
            ));
        }
    }
}

/// The index of each mapped header in the header row: a column's own header, then its
/// fallbacks, next to each other. A mapped header that is missing (a fallback too) is a
/// problem at the header's first cell.
fn map_columns(
    names: &[String],
    layout: &CsvLayout,
    cell_at: &impl Fn(usize) -> SourceLocation,
    problems: &mut Vec<DirectoryProblem>,
) -> Vec<(CsvColumn, usize)> {
    let mut indexes = Vec::with_capacity(layout.columns.len());
    for mapping in &layout.columns {
        for header in std::iter::once(&mapping.header).chain(&mapping.fallbacks) {
            match names.iter().position(|n| n == header) {
                Some(i) => indexes.push((mapping.column, i)),
                None => problems.push(Problem::error(
                    cell_at(0),
                    DirectoryIssue::MissingColumn {
                        header: header.clone(),
                        attribute: mapping.column.key(),
                        columns: names.len(),
                        near: near_header(names, header).map(str::to_string),
                        mapped_at: mapping.declared_at.clone(),
                    },
                )),
            }
        }
    }
    indexes
}

/// The header of `names` closest to `wanted`, if one differs from it only slightly: in case,
/// spaces or punctuation, or by a typo or two. The file's other headers are never named (the
/// first line of a file that is no export may be anything); a near one is almost the
/// config's own text.
fn near_header<'a>(names: &'a [String], wanted: &str) -> Option<&'a str> {
    let key = |s: &str| -> Vec<char> {
        s.chars()
            .filter(|c| c.is_alphanumeric())
            .flat_map(char::to_lowercase)
            .collect()
    };
    let wanted = key(wanted);
    let most = if wanted.len() <= 5 { 1 } else { 2 };
    names
        .iter()
        .filter(|n| n.chars().count() <= crate::diag::MAX_EXCERPT)
        .filter_map(|n| {
            let k = key(n);
            if k.is_empty() || k.len().abs_diff(wanted.len()) > most {
                return None;
            }
            let d = edit_distance(&k, &wanted);
            (d <= most).then_some((d, n.as_str()))
        })
        .min_by_key(|(d, _)| *d)
        .map(|(_, n)| n)
}

/// Levenshtein distance between two short strings.
fn edit_distance(a: &[char], b: &[char]) -> usize {
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut current = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        previous = current;
    }
    previous[b.len()]
}

fn person<'a, R: Cells + ?Sized>(
    record: &'a R,
    indexes: &[(CsvColumn, usize)],
    layout: &CsvLayout,
    location: SourceLocation,
    cell_at: &impl Fn(usize) -> SourceLocation,
) -> PersonRecord<'a> {
    let mut person = PersonRecord::new(location);
    person.values.reserve(indexes.len());
    let mut guest: Option<(bool, SourceLocation)> = None;
    let mut expiration: Option<(&str, SourceLocation)> = None;
    // A column with fallbacks has several headers, next to each other in `indexes`: its cell
    // is the first non-blank one, or the first one when all are blank.
    for headers in indexes.chunk_by(|a, b| a.0 == b.0) {
        let (column, first) = headers[0];
        let i = headers
            .iter()
            .map(|&(_, i)| i)
            .find(|&i| !record.cell(i).is_empty())
            .unwrap_or(first);
        let cell = record.cell(i);
        let invalid = |attribute, expected| DirectoryIssue::InvalidValue {
            attribute,
            value: cell.to_string(),
            expected,
        };
        let attribute = match column {
            CsvColumn::GuestExpiration => {
                if !cell.is_empty() {
                    expiration = Some((cell, cell_at(i)));
                }
                continue;
            }
            CsvColumn::Attribute(attribute) => attribute,
        };
        if cell.is_empty() && attribute.kind() == Kind::Active {
            // A blank `active` is never "active": a blank column must not wake every leaver.
            person.problems.push(Problem::error(
                cell_at(i),
                DirectoryIssue::BlankFlag { attribute },
            ));
            continue;
        }
        if cell.is_empty() && attribute != Attribute::Email {
            // A blank is no value: Slack's is kept, or cleared under `blank: clear` (the
            // planner decides). A blank email is kept as text, so that it is reported at its
            // cell; a blank groups cell is no group.
            if !matches!(attribute.kind(), Kind::Groups | Kind::Guest) {
                person
                    .values
                    .push((attribute, AttrValue::Blank, cell_at(i)));
            }
            continue;
        }
        match attribute.kind() {
            Kind::Groups => {
                for name in cell.split(layout.groups_separator) {
                    let name = name.trim();
                    if !name.is_empty() {
                        person.groups.push((name.into(), cell_at(i)));
                    }
                }
            }
            Kind::Date(_) => match parse_date(cell) {
                Some(date) => person
                    .values
                    .push((attribute, AttrValue::Date(date), cell_at(i))),
                None => person.problems.push(Problem::error(
                    cell_at(i),
                    invalid(attribute, "a date like 2024-04-10"),
                )),
            },
            Kind::Active | Kind::Guest => match parse_bool(cell) {
                Some(flag) if attribute.kind() == Kind::Guest => guest = Some((flag, cell_at(i))),
                Some(flag) => person
                    .values
                    .push((attribute, AttrValue::Bool(flag), cell_at(i))),
                None => person.problems.push(Problem::error(
                    cell_at(i),
                    invalid(attribute, "true or false (yes/no, 1/0)"),
                )),
            },
            Kind::Key | Kind::Text(_) | Kind::Manager => {
                person
                    .values
                    .push((attribute, AttrValue::Text(cell.into()), cell_at(i)))
            }
        }
    }
    push_guest(&mut person, guest, expiration);
    person
}

/// A guest flag, an expiry, or both make up the guest attribute.
fn push_guest(
    person: &mut PersonRecord<'_>,
    guest: Option<(bool, SourceLocation)>,
    expiration: Option<(&str, SourceLocation)>,
) {
    let is_guest = match &guest {
        Some((flag, _)) => *flag,
        None => expiration.is_some(),
    };
    if is_guest {
        let location = guest
            .map(|g| g.1)
            .or_else(|| expiration.as_ref().map(|e| e.1.clone()))
            .expect("a guest has a flag or an expiry");
        let parsed = match &expiration {
            None => Some(None),
            Some((text, _)) => parse_expiration(text).map(Some),
        };
        match parsed {
            Some(expiration) => person.values.push((
                Attribute::Guest,
                AttrValue::Guest(Guest { expiration }),
                location,
            )),
            None => {
                let (text, at) = expiration.expect("only a written expiry fails to parse");
                person.problems.push(Problem::error(
                    at,
                    DirectoryIssue::InvalidValue {
                        attribute: Attribute::Guest,
                        value: text.to_string(),
                        expected: "a date like 2025-06-30 or an RFC 3339 time",
                    },
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ColumnMapping;

    fn layout() -> CsvLayout {
        let config: Arc<str> = "c.yaml".into();
        let map = |column, header: &str| ColumnMapping {
            column,
            header: header.into(),
            fallbacks: vec![],
            declared_at: SourceLocation::new(&config, 5, 7),
        };
        CsvLayout {
            columns: vec![
                map(CsvColumn::Attribute(Attribute::Email), "mail"),
                map(CsvColumn::Attribute(Attribute::Active), "active"),
                map(CsvColumn::Attribute(Attribute::Groups), "groups"),
            ],
            delimiter: b',',
            groups_separator: ';',
        }
    }

    fn messages(problems: &[DirectoryProblem]) -> Vec<String> {
        problems.iter().map(ToString::to_string).collect()
    }

    /// A table's rows are mapped as a CSV's are, each problem at the row's label.
    #[test]
    fn rows_are_mapped_like_csv_rows_and_located_at_their_labels() {
        let source: Arc<str> = "ldap ldaps://dir.example.com".into();
        let mut table = Table::new(
            &source,
            vec!["mail".into(), "active".into(), "groups".into()],
        );
        let jo = Table::place("ldap uid=jo,ou=people,dc=example,dc=com", None);
        table.push(jo, vec![" jo@x.io ".into(), "yes".into(), "eng;ops".into()]);
        table.push(
            Table::place("command 'fetch-hr'", Some(14)),
            vec!["al@x.io".into(), "maybe".into(), String::new()],
        );
        let content = read(&table, &layout()).unwrap();
        assert_eq!(content.rows, 2);
        let jo = &content.people[0];
        assert_eq!(jo.text(Attribute::Email), Some("jo@x.io"));
        assert_eq!(jo.groups.len(), 2);
        assert_eq!(
            jo.location.to_string(),
            "ldap uid=jo,ou=people,dc=example,dc=com"
        );
        assert_eq!(
            messages(&content.people[1].problems),
            ["command 'fetch-hr':14: error: active \"maybe\" is not true or false (yes/no, 1/0)"]
        );
    }

    /// A missing mapped column is an error at the header's place; a row of the wrong width
    /// fails the source; no rows is a warning.
    #[test]
    fn structural_problems_fail_the_table() {
        let source: Arc<str> = "command 'hr'".into();
        let table = Table::new(&source, vec!["mail".into(), "active".into()]);
        assert_eq!(
            messages(&read(&table, &layout()).unwrap_err()),
            [
                "command 'hr': error: no column \"groups\" (mapped to groups) in the header row (2 column(s))"
            ]
        );
        let mut table = Table::new(
            &source,
            vec!["mail".into(), "active".into(), "groups".into()],
        );
        table.push(Table::place("command 'hr'", Some(2)), vec!["a@x.io".into()]);
        assert_eq!(
            messages(&read(&table, &layout()).unwrap_err()),
            ["command 'hr':2: error: row has 1 fields, the header has 3"]
        );
        table.rows.clear();
        assert_eq!(
            read(&table, &layout()).unwrap().warnings[0].kind,
            DirectoryIssue::NoRows
        );
    }
}
