//! Directory services as sources: an `ldap:` or `google_workspace:` source is read by its
//! client (each on its own thread and runtime, so loading stays a plain call wherever it is
//! made) into a [`Table`] — one row per person, one column per mapped attribute or field,
//! plus a `groups` column when groups are read — which the source's `columns:` then map
//! exactly as they map a CSV file's.

use std::sync::Arc;

use crate::config::{CsvColumn, CsvLayout, SourceFormat, SourceSpec};
use crate::diag::Problem;

use super::issue::{DirectoryIssue, DirectoryProblem};
use super::{Table, google, ldap};

/// The name of the column holding each person's groups, when a service reads groups.
pub const GROUPS_COLUMN: &str = "groups";

/// The table of a directory-service source, read whole; `None` for a file source.
pub(crate) fn fetch_table(spec: &SourceSpec) -> Option<Result<Table, DirectoryProblem>> {
    let read = match &spec.format {
        SourceFormat::Ldap(source) => {
            let read = on_own_runtime(ldap::read(&source.settings));
            read.map(|people| ldap_table(&spec.display, &source.layout, &people))
                .map_err(|e| e.to_string())
        }
        SourceFormat::Google(source) => {
            let read = on_own_runtime(google::read(&source.settings));
            read.map(|people| google_table(&spec.display, &source.layout, &people))
                .map_err(|e| e.to_string())
        }
        SourceFormat::Yaml | SourceFormat::Csv(_) | SourceFormat::Command(_) => return None,
    };
    Some(read.map_err(|reason| {
        Problem::error(
            spec.declared_at.clone(),
            DirectoryIssue::ServiceFailed {
                source_name: spec.display.to_string(),
                reason,
            },
        )
    }))
}

/// Runs `future` to its end on a thread of its own with a runtime of its own: callable
/// from synchronous code and from inside another runtime alike.
fn on_own_runtime<F>(future: F) -> F::Output
where
    F: Future + Send,
    F::Output: Send,
{
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| e.to_string())
                    .map(|runtime| runtime.block_on(future))
            })
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
    .unwrap_or_else(|e| panic!("cannot start a runtime to read a directory service: {e}"))
}

pub use crate::config::services::mapped_headers;

/// Whether `header` is read as a groups column (its values joined by the separator).
fn is_groups_column(layout: &CsvLayout, header: &str) -> bool {
    layout.columns.iter().any(|m| {
        m.column == CsvColumn::Attribute(crate::model::Attribute::Groups)
            && (m.header == header || m.fallbacks.iter().any(|f| f == header))
    })
}

/// One cell: the values of a groups column joined by the separator, else the first value.
fn cell(layout: &CsvLayout, header: &str, values: &[String]) -> String {
    if is_groups_column(layout, header) {
        values.join(&layout.groups_separator.to_string())
    } else {
        values.first().cloned().unwrap_or_default()
    }
}

/// An LDAP read as a table: a row per person at `ldap <dn>`; attributes matched to
/// headers case-insensitively, as LDAP names them; `groups` the flattened groups.
fn ldap_table(source: &Arc<str>, layout: &CsvLayout, people: &[ldap::LdapPerson]) -> Table {
    let rows = people.iter().map(|person| Row {
        place: format!("ldap {}", person.dn),
        groups: &person.groups,
        values: Box::new(move |header: &str| {
            person
                .attributes
                .iter()
                .filter(|(name, _)| name.eq_ignore_ascii_case(header))
                .flat_map(|(_, v)| v.iter().cloned())
                .collect()
        }),
    });
    service_table(source, layout, rows)
}

/// A Google read as a table: a row per user at `google_workspace user <id>`; fields by
/// dotted path; `groups` the flattened groups.
fn google_table(source: &Arc<str>, layout: &CsvLayout, people: &[google::GooglePerson]) -> Table {
    let rows = people.iter().map(|person| Row {
        place: format!("google_workspace user {}", person.id),
        groups: &person.groups,
        values: Box::new(move |header: &str| {
            person
                .fields
                .iter()
                .filter(|(path, _)| path == header)
                .map(|(_, v)| v.clone())
                .collect()
        }),
    });
    service_table(source, layout, rows)
}

/// One person a directory service read: where they are, their groups, and the values under
/// a header.
struct Row<'a> {
    place: String,
    groups: &'a [String],
    values: Values<'a>,
}

/// The values a [`Row`] holds under a header.
type Values<'a> = Box<dyn Fn(&str) -> Vec<String> + 'a>;

/// A table of the layout's mapped headers, a row per person, each cell joined by [`cell`].
fn service_table<'a>(
    source: &Arc<str>,
    layout: &CsvLayout,
    rows: impl Iterator<Item = Row<'a>>,
) -> Table {
    let headers = mapped_headers(layout);
    let mut table = Table::new(source, headers.clone());
    for row in rows {
        let cells = headers
            .iter()
            .map(|header| {
                let values = if header == GROUPS_COLUMN {
                    row.groups.to_vec()
                } else {
                    (row.values)(header)
                };
                cell(layout, header, &values)
            })
            .collect();
        table.push(Table::place(&row.place, None), cells);
    }
    table
}
