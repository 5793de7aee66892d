//! CSV sources: an HR export with a header row, columns mapped to attributes by the config.
//!
//! UTF-8 with or without a byte-order mark; quoted fields may hold the delimiter and line
//! breaks; blank lines are skipped; fields are trimmed. Anything structurally wrong — bytes
//! that are not UTF-8, a duplicate header, a mapped column that is missing, a row with the
//! wrong number of fields — fails the whole source with its line and column, because a
//! half-read export must never look like a company that lost half its people.

use std::sync::Arc;

use crate::config::{CsvColumn, CsvLayout};
use crate::diag::{Problem, SourceLocation, position};

use super::Attribute;
use super::issue::{DirectoryIssue, DirectoryProblem};
use super::record::{PersonRecord, SourceContent};
use super::table::Mapper;

/// At most this many bad-byte positions are listed for one file; one is enough to act on.
const MAX_UTF8_ERRORS: usize = 10;

/// The source's text, if the file is one CSV a reader would read whole: UTF-8 (a BOM
/// dropped), not blank, and with no quoted field that runs to the end of the file.
fn whole_text<'a>(
    file: &Arc<str>,
    bytes: &'a [u8],
    layout: &CsvLayout,
) -> Result<&'a str, Vec<DirectoryProblem>> {
    let text = utf8(file, bytes)?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.trim().is_empty() {
        return Err(vec![Problem::error(
            SourceLocation::file(file),
            DirectoryIssue::Empty,
        )]);
    }
    if let Some((line, lines)) = unclosed_quote(text, layout.delimiter) {
        return Err(vec![Problem::error(
            SourceLocation::new(file, line, 1),
            DirectoryIssue::UnclosedQuote { lines },
        )]);
    }
    Ok(text)
}

/// Reads a CSV source, keeping its people.
pub(crate) fn read(
    file: &Arc<str>,
    bytes: &[u8],
    layout: &CsvLayout,
) -> Result<SourceContent, Vec<DirectoryProblem>> {
    // At most one person per line: sized once rather than grown (and moved) row by row.
    let mut people = Vec::with_capacity(rows_at_most(bytes));
    let mut content = read_each(file, bytes, layout, |person| {
        people.push(person.into_owned())
    })?;
    content.people = people;
    Ok(content)
}

/// At most how many people a CSV source holds: one per line.
pub(crate) fn rows_at_most(bytes: &[u8]) -> usize {
    memchr::memchr_iter(b'\n', bytes).count() + 1
}

/// Reads a CSV source, handing each person to `each` as soon as their row is read (the
/// content returned keeps none). Once a structural problem is found no more people are
/// handed on, and the source is an error: what was handed on must then be dropped.
pub(crate) fn read_each(
    file: &Arc<str>,
    bytes: &[u8],
    layout: &CsvLayout,
    mut each: impl FnMut(PersonRecord<'_>),
) -> Result<SourceContent, Vec<DirectoryProblem>> {
    let text = whole_text(file, bytes, layout)?;
    let at = |line: u32, column: u32| SourceLocation::new(file, line, column);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .delimiter(layout.delimiter)
        .from_reader(text.as_bytes());

    let mut problems = Vec::new();
    let mut header: Option<(Vec<String>, Mapper)> = None;
    let mut content = SourceContent::default();
    let mut record = csv::StringRecord::new();
    let mut starts: Vec<(u32, u32)> = Vec::new(); // one buffer for every row
    let ascii = text.is_ascii();
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let (line, column) = e.position().map_or((0, 0), |p| (position(p.line()), 1));
                problems.push(Problem::error(
                    at(line, column),
                    DirectoryIssue::Csv {
                        message: e.to_string(),
                    },
                ));
                break;
            }
        }
        // Blank lines (and lines of only delimiters and spaces) are not rows.
        if record.iter().all(str::is_empty) {
            continue;
        }
        let at_record = record
            .position()
            .expect("records read from a reader have positions");
        fill_field_starts(
            text,
            ascii,
            usize::try_from(at_record.byte()).expect("offsets into text in memory fit usize"),
            position(at_record.line()),
            layout.delimiter,
            &mut starts,
        );
        let line = starts[0].0;
        let cell_at = |i: usize| {
            starts
                .get(i)
                .or(starts.last())
                .map_or(at(line, 1), |&(l, c)| at(l, c))
        };
        let Some((names, mapper)) = &header else {
            let names: Vec<String> = record.iter().map(str::to_string).collect();
            // Without the right columns no row can be read meaningfully.
            let mapper = Mapper::new(&names, layout, &cell_at)?;
            header = Some((names, mapper));
            continue;
        };
        if record.len() != names.len() {
            let column = if record.len() > names.len() {
                cell_at(names.len())
            } else {
                cell_at(record.len() - 1)
            };
            problems.push(Problem::error(
                column,
                DirectoryIssue::RaggedRow {
                    found: record.len(),
                    expected: names.len(),
                },
            ));
            continue;
        }
        // A source is trusted whole or not at all: a row that may have swallowed others is
        // an error of the file, not of one person.
        let swallowed = swallowed_rows(
            &record,
            mapper.indexes(),
            names.len(),
            layout.delimiter,
            &starts,
        );
        if !swallowed.is_empty() {
            problems.extend(
                swallowed
                    .into_iter()
                    .map(|(i, issue)| Problem::error(cell_at(i), issue)),
            );
            continue;
        }
        if problems.is_empty() {
            each(mapper.person(&record, at(line, 1), &cell_at));
            content.rows += 1;
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    if content.rows == 0 {
        content.warnings.push(Problem::warning(
            SourceLocation::file(file),
            DirectoryIssue::NoRows,
        ));
    }
    Ok(content)
}

/// Where a quoted field opens and never closes, if one does: the opening quote's line and the
/// physical lines after it. Quotes open only at the start of a field and `""` inside one is a
/// quote, as the csv reader has it — which reads such a field silently to the end of the file.
fn unclosed_quote(text: &str, delimiter: u8) -> Option<(u32, usize)> {
    let bytes = text.as_bytes();
    // Most exports quote nothing: one fast scan says so.
    memchr::memchr(b'"', bytes)?;
    let mut line = 1usize;
    let mut open: Option<usize> = None;
    // The byte after the last delimiter or line break (or the start): a field starts there,
    // and a quote opens a field when only spaces come before it.
    let mut field_start = 0;
    let mut i = 0;
    loop {
        let found = if open.is_some() {
            memchr::memchr2(b'"', b'\n', &bytes[i..])
        } else {
            memchr::memchr3(b'"', b'\n', delimiter, &bytes[i..])
        };
        let Some(k) = found else { break };
        let at = i + k;
        i = at + 1;
        match bytes[at] {
            b'\n' => {
                line += 1;
                if open.is_none() {
                    field_start = i;
                }
            }
            b'"' if open.is_some() => {
                if bytes.get(i) == Some(&b'"') {
                    i += 1; // an escaped quote
                } else {
                    open = None;
                    // What follows a closing quote up to the next delimiter is not a field
                    // start.
                    field_start = usize::MAX;
                }
            }
            b'"' if field_start <= at && bytes[field_start..at].iter().all(|&b| b == b' ') => {
                open = Some(line);
            }
            b'"' => {}
            _ => field_start = i, // the delimiter
        }
    }
    open.map(|start| (position(start), line - start))
}

/// The columns that identify people: a line break in one is never data.
fn is_identifier(column: CsvColumn) -> bool {
    matches!(
        column,
        CsvColumn::Attribute(
            Attribute::Id
                | Attribute::Email
                | Attribute::UserName
                | Attribute::EmployeeNumber
                | Attribute::Manager
                | Attribute::Groups
        )
    )
}

/// Problems of a record that may hold other rows: a line break in an identifier column, or a
/// multi-line field whose later lines read as rows of this file (as many fields as the
/// header). Each with the index of its field.
fn swallowed_rows(
    record: &csv::StringRecord,
    indexes: &[(CsvColumn, usize)],
    columns: usize,
    delimiter: u8,
    starts: &[(u32, u32)],
) -> Vec<(usize, DirectoryIssue)> {
    let mut out = Vec::new();
    // Nearly every record has no line break at all: one scan of the whole record says so.
    if memchr::memchr2(b'\n', b'\r', record.as_slice().as_bytes()).is_none() {
        return out;
    }
    for (i, cell) in record.iter().enumerate() {
        if !cell.contains(['\n', '\r']) {
            continue;
        }
        if let Some(&(column, _)) = indexes.iter().find(|(_, j)| *j == i)
            && is_identifier(column)
            && let CsvColumn::Attribute(attribute) = column
        {
            out.push((i, DirectoryIssue::LineBreakInIdentifier { attribute }));
            continue;
        }
        // A swallowed row has this file's number of fields and an email where the email
        // column is; a multi-line address or title has not.
        let email_at = indexes
            .iter()
            .find(|(c, _)| *c == CsvColumn::Attribute(Attribute::Email))
            .map(|&(_, j)| j);
        let rows = cell
            .lines()
            .skip(1)
            .filter(|l| {
                // (The last line of such a field is cut short by its closing quote, so the
                // email is what counts, not the number of fields.)
                let fields: Vec<&str> = l.split(char::from(delimiter)).collect();
                columns > 1
                    && fields.len() > 1
                    && email_at.and_then(|j| fields.get(j)).is_some_and(|e| {
                        crate::slack_rules::check_email(e.trim().trim_matches('"')).is_ok()
                    })
            })
            .count();
        if rows > 0 {
            let first = starts.get(i).map_or(1, |s| s.0);
            let breaks = u32::try_from(cell.lines().count().saturating_sub(1)).unwrap_or(u32::MAX);
            out.push((
                i,
                DirectoryIssue::SwallowedRows {
                    rows,
                    last_line: first.saturating_add(breaks),
                },
            ));
        }
    }
    out
}

/// The text, or one problem per bad byte sequence (up to [`MAX_UTF8_ERRORS`]).
pub(crate) fn utf8<'a>(file: &Arc<str>, bytes: &'a [u8]) -> Result<&'a str, Vec<DirectoryProblem>> {
    let first_error = match std::str::from_utf8(bytes) {
        Ok(text) => return Ok(text),
        Err(e) => e,
    };
    let mut problems = Vec::new();
    let mut offset = 0;
    let mut error = Some(first_error);
    while let Some(e) = error {
        let bad = offset + e.valid_up_to();
        let (line, column) = byte_line_column(bytes, bad);
        problems.push(Problem::error(
            SourceLocation::new(file, line, column),
            DirectoryIssue::NotUtf8 { byte: bytes[bad] },
        ));
        let Some(len) = e.error_len() else { break };
        offset = bad + len;
        if problems.len() == MAX_UTF8_ERRORS {
            break;
        }
        error = std::str::from_utf8(&bytes[offset..]).err();
    }
    Err(problems)
}

/// 1-based line and column (in characters, a bad byte counting as one) of a byte offset.
fn byte_line_column(bytes: &[u8], offset: usize) -> (u32, u32) {
    let before = &bytes[..offset];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let mut line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    if line == 1 && before.starts_with(b"\xEF\xBB\xBF") {
        line_start = 3;
    }
    let column = bytes[line_start..offset]
        .iter()
        .filter(|&&b| b & 0xC0 != 0x80)
        .count()
        + 1;
    (position(line), position(column))
}

/// The 1-based column of the character `offset` bytes into its line, for ASCII text.
fn column_at(offset: usize) -> u32 {
    position(offset.saturating_add(1))
}

/// Where each field of the record starting at byte `start` (on `line`) begins, as
/// (line, column): quoted fields may contain delimiters and line breaks.
#[cfg(test)]
fn field_starts(text: &str, start: usize, line: u32, delimiter: u8) -> Vec<(u32, u32)> {
    let mut starts = Vec::new();
    fill_field_starts(text, text.is_ascii(), start, line, delimiter, &mut starts);
    starts
}

/// [`field_starts`] into a buffer reused from row to row (cleared first): one allocation for
/// the file rather than one per row.
fn fill_field_starts(
    text: &str,
    ascii: bool,
    start: usize,
    line: u32,
    delimiter: u8,
    starts: &mut Vec<(u32, u32)>,
) {
    // The reader's position may be that of blank lines it skipped before the record.
    let mut line = line;
    let mut start = start;
    while let Some(c @ (b'\n' | b'\r')) = text.as_bytes().get(start) {
        if *c == b'\n' {
            line += 1;
        }
        start += 1;
    }
    let mut column = 1u32;
    starts.clear();
    starts.push((line, column));
    let mut in_quotes = false;
    if ascii {
        // Every character is a byte: columns are byte offsets, and only quotes, line breaks
        // and delimiters need looking at (a delimiter outside ASCII never occurs).
        let bytes = text.as_bytes();
        let mut line_start = start;
        let mut i = start;
        while let Some(k) = memchr::memchr3(b'"', b'\n', delimiter, &bytes[i..]) {
            let at = i + k;
            i = at + 1;
            match bytes[at] {
                b'"' => in_quotes = !in_quotes,
                b'\n' if !in_quotes => break,
                b'\n' => {
                    line += 1;
                    line_start = i;
                }
                _ if !in_quotes => starts.push((line, column_at(i - line_start))),
                _ => {}
            }
        }
        return;
    }
    if delimiter.is_ascii() {
        // Byte by byte (every byte that matters is ASCII); a column is a character, so only
        // the first byte of each counts.
        for &b in &text.as_bytes()[start..] {
            match b {
                b'"' => in_quotes = !in_quotes,
                b'\n' if !in_quotes => break,
                b'\n' => {
                    line += 1;
                    column = 1;
                    continue;
                }
                b if b == delimiter && !in_quotes => starts.push((line, column + 1)),
                b if b & 0xC0 == 0x80 => continue, // inside a character
                _ => {}
            }
            column += 1;
        }
        return;
    }
    let delimiter = char::from(delimiter);
    for c in text[start..].chars() {
        match c {
            '"' => in_quotes = !in_quotes,
            '\n' if !in_quotes => break,
            '\n' => {
                line += 1;
                column = 1;
                continue;
            }
            c if c == delimiter && !in_quotes => starts.push((line, column + 1)),
            _ => {}
        }
        column += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ColumnMapping;
    use crate::directory::Guest;
    use crate::directory::record::AttrValue;
    use crate::model::Kind;

    /// Columns count characters, not bytes, and a quoted line break moves to the next line
    /// (the byte loop for ASCII delimiters agrees with the character loop for the others).
    #[test]
    fn field_starts_count_characters_and_follow_quoted_line_breaks() {
        let text = "\n\u{e9}l\u{e8}ve,\"a\nbc\",z\u{fc}rich,x\nnext,row\n";
        assert_eq!(
            field_starts(text, 0, 1, b','),
            vec![(2, 1), (2, 7), (3, 5), (3, 12)]
        );
        let semi = text.replace(',', ";");
        assert_eq!(
            field_starts(&semi, 0, 1, b';'),
            field_starts(text, 0, 1, b',')
        );
        let latin = text.replace(',', "\u{a7}");
        assert_eq!(
            field_starts(&latin, 0, 1, 0xa7),
            vec![(2, 1), (2, 7), (3, 5), (3, 12)]
        );
    }

    /// The byte-by-byte scan `unclosed_quote` was before it jumped between quotes, line
    /// breaks and delimiters: kept as the oracle.
    fn unclosed_quote_by_byte(text: &str, delimiter: u8) -> Option<(u32, usize)> {
        let bytes = text.as_bytes();
        let mut line = 1usize;
        let mut at_field_start = true;
        let mut open: Option<usize> = None;
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            if open.is_some() {
                if b == b'"' {
                    if bytes.get(i + 1) == Some(&b'"') {
                        i += 1;
                    } else {
                        open = None;
                    }
                } else if b == b'\n' {
                    line += 1;
                }
            } else if b == b'"' && at_field_start {
                open = Some(line);
                at_field_start = false;
            } else {
                if b == b'\n' {
                    line += 1;
                }
                at_field_start = b == delimiter || b == b'\n' || (at_field_start && b == b' ');
            }
            i += 1;
        }
        open.map(|start| (position(start), line - start))
    }

    proptest::proptest! {
        /// The fast scans agree with the plain ones on text made of the bytes that matter.
        #[test]
        fn fast_scans_agree_with_the_byte_loops(
            text in "[a \",;\n\r\u{e9}]{0,60}",
            semicolon in proptest::bool::ANY,
        ) {
            let delimiter = if semicolon { b';' } else { b',' };
            proptest::prop_assert_eq!(
                unclosed_quote(&text, delimiter),
                unclosed_quote_by_byte(&text, delimiter)
            );
            if text.is_ascii() {
                let mut fast = Vec::new();
                let mut slow = Vec::new();
                fill_field_starts(&text, true, 0, 1, delimiter, &mut fast);
                fill_field_starts(&text, false, 0, 1, delimiter, &mut slow);
                proptest::prop_assert_eq!(fast, slow);
            }
        }
    }

    fn layout(columns: &[(CsvColumn, &str)]) -> CsvLayout {
        let config: Arc<str> = "c.yaml".into();
        CsvLayout {
            columns: columns
                .iter()
                .map(|(column, header)| ColumnMapping {
                    column: *column,
                    header: header.to_string(),
                    fallbacks: vec![],
                    declared_at: SourceLocation::new(&config, 5, 7),
                })
                .collect(),
            delimiter: b',',
            groups_separator: ';',
        }
    }

    fn basic() -> CsvLayout {
        layout(&[
            (CsvColumn::Attribute(Attribute::Email), "Email"),
            (CsvColumn::Attribute(Attribute::Title), "Title"),
            (CsvColumn::Attribute(Attribute::Groups), "Groups"),
        ])
    }

    fn read_str(bytes: &[u8], layout: &CsvLayout) -> Result<SourceContent, Vec<String>> {
        read(&Arc::from("p.csv"), bytes, layout)
            .map_err(|ps| ps.iter().map(|p| p.to_string()).collect())
    }

    #[test]
    fn quoted_fields_blank_lines_bom_and_trimming() {
        let text = "\u{feff}Email,Title,Groups\n\n ada@x.io ,\"Eng, \"\"R&D\"\"\" ,a; b ;\n\"bob@x.io\",\"Two\nlines\",\n,,\n";
        let content = read_str(text.as_bytes(), &basic()).unwrap();
        assert_eq!(content.people.len(), 2);
        let ada = &content.people[0];
        assert_eq!(ada.location.to_string(), "p.csv:3:1");
        assert_eq!(ada.text(Attribute::Email), Some("ada@x.io"));
        assert_eq!(ada.text(Attribute::Title), Some("Eng, \"R&D\""));
        let groups: Vec<&str> = ada.groups.iter().map(|g| &*g.0).collect();
        assert_eq!(groups, ["a", "b"]);
        let title_at = &ada
            .values
            .iter()
            .find(|v| v.0 == Attribute::Title)
            .unwrap()
            .2;
        assert_eq!(title_at.to_string(), "p.csv:3:12");
        let bob = &content.people[1];
        assert_eq!(bob.location.to_string(), "p.csv:4:1");
        assert_eq!(bob.text(Attribute::Title), Some("Two\nlines"));
    }

    #[test]
    fn the_first_line_is_the_header_even_with_a_bom() {
        let content = read_str(b"\xEF\xBB\xBFEmail,Title,Groups\na@x.io,,\n", &basic()).unwrap();
        assert_eq!(content.people[0].text(Attribute::Email), Some("a@x.io"));
        assert_eq!(content.people[0].text(Attribute::Title), None);
    }

    #[test]
    fn structural_errors_name_line_and_column() {
        assert_eq!(
            read_str(b"Email,Title\na@x.io,Eng\n", &basic()).unwrap_err(),
            [
                "p.csv:1:1: error: no column \"Groups\" (mapped to groups) in the header row (2 column(s))"
            ]
        );
        // A header that differs only slightly is named; no other is, ever.
        assert_eq!(
            read_str(b"E-Mail,Title,groupz,API_KEY=secret\n", &basic()).unwrap_err(),
            [
                "p.csv:1:1: error: no column \"Email\" (mapped to email) in the header row (4 column(s)); did you mean \"E-Mail\"?",
                "p.csv:1:1: error: no column \"Groups\" (mapped to groups) in the header row (4 column(s)); did you mean \"groupz\"?",
            ]
        );
        let environ = b"CANARY=s3cr3t\0HOME=/root\0PATH=/usr/bin\0";
        let e = read_str(environ, &basic()).unwrap_err().join("\n");
        assert!(!e.contains("s3cr3t") && !e.contains("PATH"), "{e}");
        assert_eq!(
            read_str(b"Email,Title,Groups,Title\n", &basic()).unwrap_err(),
            ["p.csv:1:20: error: duplicate header \"Title\" (also column 7)"]
        );
        assert_eq!(
            read_str(
                b"Email,Title,Groups\na@x.io,Eng,g,extra\nb@x.io,Eng\n",
                &basic()
            )
            .unwrap_err(),
            [
                "p.csv:2:14: error: row has 4 fields, the header has 3",
                "p.csv:3:8: error: row has 2 fields, the header has 3",
            ]
        );
        assert_eq!(
            read_str(b"Email,Title,Groups\nb@x.io,Caf\xE9,\n", &basic()).unwrap_err(),
            ["p.csv:2:11: error: invalid UTF-8 (byte 0xE9); save the file as UTF-8"]
        );
        assert_eq!(
            read_str(b"", &basic()).unwrap_err(),
            [
                "p.csv: error: the source is empty; an empty or broken export is never read as \"nobody works here\""
            ]
        );
        assert_eq!(
            read_str(b"\xEF\xBB\xBF\n\n", &basic()).unwrap_err().len(),
            1
        );
    }

    #[test]
    fn an_unclosed_quote_is_an_error_at_its_line_never_a_short_read() {
        // Row 3's title opens a quote that never closes: the reader would return one row fewer
        // and a title holding the rest of the file.
        let file =
            b"Email,Title,Groups\na@x.io,Eng,g\nb@x.io,\"Eng,g\nc@x.io,Eng,g\nd@x.io,Eng,g\n";
        assert_eq!(
            read_str(file, &basic()).unwrap_err(),
            [
                "p.csv:3:1: error: a quote opened here is never closed: the rest of the file (3 more line(s)) would be read as one field; close the quote (or double it: \"\")"
            ]
        );
        // Escaped quotes and quotes inside an unquoted field are not openings.
        let fine = b"Email,Title,Groups\na@x.io,\"The \"\"Boss\"\"\",g\nb@x.io,24\" screens,g\n";
        let content = read_str(fine, &basic()).unwrap();
        assert_eq!(content.people.len(), 2);
        assert_eq!(
            content.people[0].text(Attribute::Title),
            Some("The \"Boss\"")
        );
        assert_eq!(
            content.people[1].text(Attribute::Title),
            Some("24\" screens")
        );
    }

    #[test]
    fn a_field_that_swallows_rows_is_an_error_even_when_its_quote_closes() {
        // The quote closes at the end of a later row: rows b and c live inside a's title.
        let file =
            b"Email,Title,Groups\na@x.io,\"Eng,g\nb@x.io,Eng,g\nc@x.io,Eng\",g\nd@x.io,Eng,g\n";
        assert_eq!(
            read_str(file, &basic()).unwrap_err(),
            [
                "p.csv:2:8: error: this field runs over 2 line(s) that look like rows of this file (up to line 4): a quote was probably left open; they would not be read as people"
            ]
        );
        // A line break in an identifier column is never data.
        let file = b"Email,Title,Groups\na@x.io,Eng,\"g\nh\"\n";
        assert_eq!(
            read_str(file, &basic()).unwrap_err(),
            [
                "p.csv:2:12: error: a line break inside the groups column: an identifier is one line; a quote was probably left open"
            ]
        );
        // A multi-line title that reads as no row is fine.
        let file = b"Email,Title,Groups\na@x.io,\"Head of\nthings, and more\",g\n";
        assert_eq!(read_str(file, &basic()).unwrap().people.len(), 1);
    }

    #[test]
    fn a_header_without_rows_is_a_warning() {
        let content = read_str(b"Email,Title,Groups\n", &basic()).unwrap();
        assert!(content.people.is_empty());
        assert_eq!(content.warnings[0].kind, DirectoryIssue::NoRows);
    }

    #[test]
    fn typed_cells() {
        let layout = layout(&[
            (CsvColumn::Attribute(Attribute::Email), "e"),
            (CsvColumn::Attribute(Attribute::StartDate), "start"),
            (CsvColumn::Attribute(Attribute::Active), "active"),
            (CsvColumn::Attribute(Attribute::Guest), "guest"),
            (CsvColumn::GuestExpiration, "until"),
        ]);
        let content = read_str(
            b"e,start,active,guest,until\na@x.io,2024-04-10,no,yes,2030-01-31\nb@x.io,04/10/2024,maybe,,2030-13-01\nc@x.io,,,no,2030-01-01\n",
            &layout,
        )
        .unwrap();
        let a = &content.people[0];
        assert!(a.problems.is_empty());
        assert!(a.values.iter().any(|v| v.1 == AttrValue::Bool(false)));
        assert!(a.values.iter().any(|v| matches!(
            &v.1,
            AttrValue::Guest(Guest { expiration: Some(e) }) if e.to_rfc3339() == "2030-01-31T23:59:59+00:00"
        )));
        let b: Vec<String> = content.people[1]
            .problems
            .iter()
            .map(|p| p.to_string())
            .collect();
        assert_eq!(
            b,
            [
                "p.csv:3:8: error: start_date \"04/10/2024\" is not a date like 2024-04-10",
                "p.csv:3:19: error: active \"maybe\" is not true or false (yes/no, 1/0)",
                "p.csv:3:26: error: guest \"2030-13-01\" is not a date like 2025-06-30 or an RFC 3339 time",
            ]
        );
        assert!(
            !content.people[2]
                .values
                .iter()
                .any(|v| v.0 == Attribute::Guest)
        );
        // c's active cell is blank: an error of that row, never "active".
        let c: Vec<String> = content.people[2]
            .problems
            .iter()
            .map(|p| p.to_string())
            .collect();
        assert_eq!(
            c,
            [
                "p.csv:4:9: error: active is blank: write true or false (a blank is never read as active)"
            ]
        );
    }

    #[test]
    fn every_text_attribute_has_a_column() {
        let columns: Vec<(CsvColumn, &str)> = std::iter::once(Attribute::Email)
            .chain(Attribute::TEXT)
            .map(|a| (CsvColumn::Attribute(a), a.spec().column))
            .collect();
        let header: Vec<&str> = columns.iter().map(|c| c.1).collect();
        let row: Vec<String> = std::iter::once("a@x.io".to_string())
            .chain(Attribute::TEXT.iter().map(|a| match a.kind() {
                Kind::Date(_) => "2024-04-10".to_string(),
                _ => format!("{a} value"),
            }))
            .collect();
        let text = format!("{}\n{}\n", header.join(","), row.join(","));
        let person = &read_str(text.as_bytes(), &layout(&columns)).unwrap().people[0];
        assert!(person.problems.is_empty(), "{:?}", person.problems);
        for attribute in Attribute::TEXT {
            let value = person.values.iter().find(|v| v.0 == attribute).unwrap();
            let expected = match attribute.kind() {
                Kind::Date(_) => "2024-04-10".to_string(),
                _ => format!("{attribute} value"),
            };
            assert_eq!(value.1.display(), expected);
        }
    }

    #[test]
    fn fallback_headers_first_non_blank_wins_and_blanks_are_kept_as_blank() {
        let mut layout = layout(&[
            (CsvColumn::Attribute(Attribute::Email), "Email"),
            (CsvColumn::Attribute(Attribute::GivenName), "Preferred"),
            (CsvColumn::Attribute(Attribute::Title), "Title"),
            (CsvColumn::Attribute(Attribute::Groups), "Groups"),
        ]);
        layout.columns[1].fallbacks = vec!["Legal".into(), "Nickname".into()];
        let text = "Email,Nickname,Legal,Preferred,Title,Groups\n\
                    a@x.io,Nick,Ada,Addie,Eng,\n\
                    b@x.io,Bobby,Robert,,,\n\
                    c@x.io,Cee,,,,\n\
                    d@x.io,,,,,\n";
        let content = read_str(text.as_bytes(), &layout).unwrap();
        let given: Vec<Option<&str>> = content
            .people
            .iter()
            .map(|p| p.text(Attribute::GivenName))
            .collect();
        assert_eq!(
            given,
            [Some("Addie"), Some("Robert"), Some("Cee"), None],
            "the first header first, then the fallbacks in order"
        );
        let value = |p: &PersonRecord<'static>, a: Attribute| {
            p.values
                .iter()
                .find(|v| v.0 == a)
                .map(|v| (v.1.clone(), v.2.to_string()))
        };
        // The value is located at the cell it was read from.
        assert_eq!(
            value(&content.people[1], Attribute::GivenName),
            Some((AttrValue::Text("Robert".into()), "p.csv:3:14".into()))
        );
        // All blank: a blank, at the first header's cell; a blank title is a blank too.
        let d = &content.people[3];
        assert_eq!(
            value(d, Attribute::GivenName),
            Some((AttrValue::Blank, "p.csv:5:10".into()))
        );
        assert_eq!(
            value(d, Attribute::Title),
            Some((AttrValue::Blank, "p.csv:5:11".into()))
        );
        // A blank groups cell is no group, not a blank value.
        assert!(d.groups.is_empty() && value(d, Attribute::Groups).is_none());

        // A missing fallback header fails the source as a missing header does.
        assert_eq!(
            read_str(
                b"Email,Preferred,Legal,Title,Groups
",
                &layout
            )
            .unwrap_err(),
            [
                "p.csv:1:1: error: no column \"Nickname\" (mapped to given_name) in the header row (5 column(s))"
            ]
        );
    }

    #[test]
    fn other_delimiters() {
        let mut layout = basic();
        layout.delimiter = b';';
        layout.groups_separator = '|';
        let content = read_str(b"Email;Title;Groups\na@x.io;Eng;x|y\n", &layout).unwrap();
        assert_eq!(content.people[0].groups.len(), 2);
    }
}
