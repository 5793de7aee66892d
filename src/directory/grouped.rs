//! Errors of one kind in one column, grouped (issue 25): a BambooHR export whose manager
//! column holds names gave 404 identical "manager … is not a user of the directory" lines,
//! with no word that the column holds names. When more than [`SHOWN`] rows of one file break
//! one rule in one column, they become one error at the first: its message, how many more,
//! where the next few are, and a hint when the column's values look like another kind of
//! value than the config reads them as ("column 'Reporting To' looks like it holds names: use
//! `by: name`").
//!
//! Only what is shown is grouped — the failing load's error and `validate` — never the
//! problems a plan pairs with its skipped rows: each skipped row keeps its own cause.

use std::collections::HashMap;

use crate::config::{CsvColumn, LookupBy, SourceSpec};
use crate::diag::Problem;
use crate::model::Kind;

use super::Attribute;
use super::issue::{DirectoryIssue, DirectoryProblem};
use super::lookup::looks_like;
use super::repeats::SHOWN;

/// The column a groupable error concerns, and its value (for the hint).
fn column_of(issue: &DirectoryIssue) -> Option<(&'static str, &str)> {
    Some(match issue {
        DirectoryIssue::Unmapped { column, value, .. } => (column, value),
        DirectoryIssue::UnknownManager { manager } => (Attribute::Manager.spec().column, manager),
        DirectoryIssue::ManagerNotFound { value, .. }
        | DirectoryIssue::ManagerAmbiguous { value, .. } => {
            (Attribute::Manager.spec().column, value)
        }
        DirectoryIssue::InvalidValue {
            attribute, value, ..
        } => (attribute.spec().column, value),
        DirectoryIssue::BlankFlag { attribute } => (attribute.spec().column, ""),
        DirectoryIssue::NoSlug { value } => ("derived_groups", value),
        _ => return None,
    })
}

/// Groups the errors of one kind in one column of one file, when there are more than
/// [`SHOWN`]; `sources` give the hints their headers. Order is kept (sorted by place).
pub fn group_repeated_errors(problems: &mut Vec<DirectoryProblem>, sources: &[&SourceSpec]) {
    type Key = (
        std::sync::Arc<str>,
        &'static str,
        std::mem::Discriminant<DirectoryIssue>,
    );
    let key = |p: &DirectoryProblem| -> Option<Key> {
        let (column, _) = column_of(&p.kind).filter(|_| p.is_error())?;
        Some((
            p.location.file.clone(),
            column,
            std::mem::discriminant(&p.kind),
        ))
    };
    let mut members: HashMap<Key, Vec<usize>> = HashMap::new();
    for (i, p) in problems.iter().enumerate() {
        if let Some(k) = key(p) {
            members.entry(k).or_default().push(i);
        }
    }
    members.retain(|_, v| v.len() > SHOWN);
    if members.is_empty() {
        return;
    }
    let mut replaced: HashMap<usize, DirectoryProblem> = HashMap::new();
    let mut dropped = vec![false; problems.len()];
    for ((file, column, _), indexes) in &members {
        let values: Vec<&str> = indexes
            .iter()
            .filter_map(|&i| column_of(&problems[i].kind).map(|(_, v)| v))
            .collect();
        let hint = hint(sources, file, column, &problems[indexes[0]].kind, &values);
        let first = &problems[indexes[0]];
        let places = indexes[1..]
            .iter()
            .take(SHOWN)
            .map(|&i| problems[i].location.to_string())
            .collect();
        let grouped = Problem::error(
            first.location.clone(),
            DirectoryIssue::Grouped {
                first: Box::new(first.kind.clone()),
                more: indexes.len() - 1,
                places,
                hint,
            },
        );
        replaced.insert(indexes[0], grouped);
        for &i in &indexes[1..] {
            dropped[i] = true;
        }
    }
    let old = std::mem::take(problems);
    for (i, p) in old.into_iter().enumerate() {
        if dropped[i] {
            continue;
        }
        problems.push(replaced.remove(&i).unwrap_or(p));
    }
}

/// What the column seems to hold instead of what the config reads, and what to write.
fn hint(
    sources: &[&SourceSpec],
    file: &str,
    column: &str,
    issue: &DirectoryIssue,
    values: &[&str],
) -> Option<String> {
    let layout = sources
        .iter()
        .find(|s| &*s.display == file)?
        .format
        .columns()?;
    let mapping = layout.columns.iter().find(|m| m.column.key() == column)?;
    let header = crate::diag::escape::terminal(&mapping.header);
    match mapping.column {
        CsvColumn::Attribute(Attribute::Manager) => {
            let reading = layout.rules.manager_lookup().unwrap_or(LookupBy::Email);
            let seems = looks_like(values)?;
            (seems != reading).then(|| {
                let (holds, by) = match seems {
                    LookupBy::Name => ("names", "name"),
                    LookupBy::EmployeeNumber => ("employee numbers", "employee_number"),
                    LookupBy::Email => ("emails", "email"),
                };
                format!("column '{header}' looks like it holds {holds}: use `manager: {{header: {header}, by: {by}}}`")
            })
        }
        CsvColumn::Attribute(a)
            if matches!(a.kind(), Kind::Active | Kind::Guest)
                && matches!(issue, DirectoryIssue::InvalidValue { .. }) =>
        {
            Some(format!(
                "column '{header}' holds other values than true/false: list them with `{column}: {{header: {header}, true: […], false: […]}}`"
            ))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::sync::Arc;

    use super::*;
    use crate::config::{ColumnMapping, CsvLayout, SourceFormat};
    use crate::diag::SourceLocation;

    fn spec() -> SourceSpec {
        let config: Arc<str> = "c.yaml".into();
        let mapping = ColumnMapping {
            column: CsvColumn::Attribute(Attribute::Manager),
            header: "Reporting To".into(),
            fallbacks: vec![],
            declared_at: SourceLocation::new(&config, 4, 5),
        };
        SourceSpec {
            path: PathBuf::from("hr.csv"),
            display: "hr.csv".into(),
            format: SourceFormat::Csv(CsvLayout {
                columns: vec![mapping],
                delimiter: b',',
                groups_separator: ';',
                rules: Default::default(),
            }),
            override_earlier: false,
            allow_empty: false,
            min_users: None,
            declared_at: SourceLocation::new(&config, 3, 5),
        }
    }

    fn unknown(line: u32, manager: &str) -> DirectoryProblem {
        Problem::error(
            SourceLocation::new(&Arc::from("hr.csv"), line, 9),
            DirectoryIssue::UnknownManager {
                manager: manager.into(),
            },
        )
    }

    /// More than three errors of one kind in one column are one, with a hint; three stay
    /// as they are.
    #[test]
    fn errors_of_a_kind_in_a_column_are_one_with_a_hint() {
        let spec = spec();
        let mut three: Vec<_> = (2..5).map(|l| unknown(l, "brown, joseph")).collect();
        let before = three.clone();
        group_repeated_errors(&mut three, &[&spec]);
        assert_eq!(three, before);
        let mut many: Vec<_> = (2..8).map(|l| unknown(l, "brown, joseph")).collect();
        many.push(Problem::error(
            SourceLocation::new(&Arc::from("hr.csv"), 9, 1),
            DirectoryIssue::MissingEmail,
        ));
        group_repeated_errors(&mut many, &[&spec]);
        let lines: Vec<String> = many.iter().map(ToString::to_string).collect();
        assert_eq!(
            lines,
            [
                "hr.csv:2:9: error: manager \"brown, joseph\" is not a user of the directory — and 5 more like it in this column (at hr.csv:3:9, hr.csv:4:9, hr.csv:5:9, …); column 'Reporting To' looks like it holds names: use `manager: {header: Reporting To, by: name}`",
                "hr.csv:9:1: error: no email: every user needs one",
            ]
        );
    }
}
