//! The HR forms (issue 25) through the whole load: a config compiled from its text, a CSV
//! read through its value maps, lookups, row filters and derived groups.

use std::sync::Arc;

use chrono::NaiveDate;

use super::*;
use crate::config::{EnvOverrides, compile};

/// The directory `csv` gives under a CSV source `p.csv` with these settings (its
/// `columns:` and the rest, indented under the source), or every problem as printed.
fn load_csv(settings: &str, csv: &str) -> Result<LoadedDirectory, Vec<String>> {
    let text = format!("target: {{url: embedded}}\nsources:\n  - csv: p.csv\n{settings}");
    let (config, _) = compile(
        &Arc::from("scimsync.yaml"),
        text.as_bytes(),
        &EnvOverrides::from_lookup(|_| None),
    )
    .map_err(|e| {
        e.problems
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
    })?;
    let inputs = [SourceInput {
        spec: &config.sources[0],
        bytes: csv.as_bytes(),
    }];
    let options = LoadOptions {
        invalid_users: InvalidUsers::Fail,
        today: NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
    };
    build(&inputs, &options).map_err(|e| e.problems.iter().map(ToString::to_string).collect())
}

fn messages(loaded: &LoadedDirectory) -> Vec<String> {
    loaded
        .report
        .problems
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[test]
fn text_maps_use_their_default_and_flags_their_lists_and_blanks_stay_blank() {
    let settings = "    columns:\n      email: E\n      department: {header: D, map: {ENG: Engineering}, default: Other}\n      guest: {header: G, true: [Guest], false: [Staff]}\n      active: {header: S, true: [Active], false: [Gone]}\n";
    let loaded = load_csv(
        settings,
        "E,D,G,S\na@x.io,eng,staff,ACTIVE\nb@x.io,Sales,Guest,gone\nc@x.io,,,Active\n",
    )
    .unwrap();
    let user = |e: &str| loaded.directory.user_by_email(e).unwrap();
    assert_eq!(
        user("a@x.io").text(Attribute::Department),
        Some("Engineering")
    );
    assert_eq!(user("b@x.io").text(Attribute::Department), Some("Other"));
    assert_eq!(user("c@x.io").text(Attribute::Department), None);
    assert!(user("a@x.io").guest.is_none() && user("b@x.io").guest.is_some());
    assert!(user("a@x.io").active && !user("b@x.io").active);

    // Unlisted, and a blank flag: errors at their cells.
    let errors = load_csv(
        settings,
        "E,D,G,S\na@x.io,eng,Contractor,Retired\nb@x.io,,,\n",
    )
    .unwrap_err();
    assert_eq!(
        errors,
        [
            "p.csv:2:12: error: guest \"Contractor\" is not a value its map lists (true: Guest; false: Staff)",
            "p.csv:2:23: error: active \"Retired\" is not a value its map lists (true: Active; false: Gone)",
            "p.csv:3:10: error: active is blank: write true or false (a blank is never read as active)",
        ]
    );
    // Without a default, an unlisted text is an error too.
    let strict = settings.replace(", default: Other", "");
    assert_eq!(
        load_csv(&strict, "E,D,G,S\na@x.io,Sales,Staff,Active\n").unwrap_err(),
        ["p.csv:2:8: error: department \"Sales\" is not a value its map lists (ENG)"]
    );
}

#[test]
fn row_filters_keep_and_drop_rows_count_them_and_refuse_to_keep_nobody() {
    let settings = "    columns: {email: E}\n    where: {Type: [full-time, Part-Time]}\n    exclude_where: {Entity: Old, Type: Part-Time}\n";
    let csv = "E,Type,Entity\na@x.io,Full-Time,Old\nb@x.io,Part-Time,Old\nc@x.io,Contractor,New\nd@x.io,Part-Time,New\n";
    let loaded = load_csv(settings, csv).unwrap();
    let emails: Vec<&str> = loaded.directory.users.iter().map(|u| &*u.email).collect();
    assert_eq!(
        emails,
        ["a@x.io", "d@x.io"],
        "excluded only when every column matches"
    );
    assert_eq!(
        messages(&loaded),
        ["p.csv: warning: 2 row(s) left out by the row filter (where, exclude_where); 2 kept"]
    );
    // min_users counts the rows kept.
    let min = format!("{settings}    min_users: 3\n");
    assert_eq!(
        load_csv(&min, csv).unwrap_err(),
        [
            "p.csv: error: the source yields 2 user(s), fewer than its min_users 3",
            "p.csv: warning: 2 row(s) left out by the row filter (where, exclude_where); 2 kept",
        ]
    );
    // Keeping nobody is an error, even when the source may be empty.
    let nobody = "    columns: {email: E}\n    where: {Type: Intern}\n    allow_empty: true\n";
    assert_eq!(
        load_csv(nobody, csv).unwrap_err(),
        [
            "p.csv: error: the row filter (where, exclude_where) leaves out all 4 row(s): a filter that keeps nobody is never read as \"nobody works here\""
        ]
    );
    // A filter's column must be in the file.
    let missing = "    columns: {email: E}\n    where: {type: Intern}\n";
    assert_eq!(
        load_csv(missing, csv).unwrap_err(),
        [
            "p.csv:1:1: error: no column \"type\" (mapped to where) in the header row (3 column(s)); did you mean \"Type\"?"
        ]
    );
}

#[test]
fn derived_groups_are_prefixed_slugs_beside_the_groups_column() {
    let settings = "    columns: {email: E, groups: G}\n    derived_groups: [{prefix: dept-, column: D}, {column: L}]\n";
    let loaded = load_csv(
        settings,
        "E,G,D,L\na@x.io,admins,Research & Development,Remote - US\nb@x.io,,R&D,\n",
    )
    .unwrap();
    let mut groups: Vec<(String, Vec<String>)> = loaded
        .directory
        .groups
        .iter()
        .map(|g| (g.name.clone(), g.members.clone()))
        .collect();
    groups.sort();
    assert_eq!(
        groups,
        [
            ("admins".to_string(), vec!["a@x.io".to_string()]),
            ("dept-r-d".to_string(), vec!["b@x.io".to_string()]),
            (
                "dept-research-development".to_string(),
                vec!["a@x.io".to_string()]
            ),
            ("remote-us".to_string(), vec!["a@x.io".to_string()]),
        ]
    );
    assert_eq!(
        load_csv(settings, "E,G,D,L\na@x.io,,—,\n").unwrap_err(),
        ["p.csv:2:9: error: derived group from \"—\": no letter or digit to name a group by"]
    );
}

#[test]
fn managers_by_employee_number_and_rules_that_cannot_work() {
    let settings =
        "    columns: {email: E, employee_number: N, manager: {header: M, by: employee_number}}\n";
    let loaded = load_csv(settings, "E,N,M\na@x.io,1,\nb@x.io,2,1\n").unwrap();
    assert_eq!(
        loaded
            .directory
            .user_by_email("b@x.io")
            .unwrap()
            .manager
            .as_deref(),
        Some("a@x.io")
    );
    assert_eq!(
        load_csv(settings, "E,N,M\na@x.io,1,\nb@x.io,2,7\n").unwrap_err(),
        ["p.csv:3:10: error: manager \"7\" matches no employee number of this source's people"]
    );
    // What cannot work is a config error at its key (`manager:` is `manager_email:`).
    assert_eq!(
        load_csv(
            "    columns: {email: E, manager: {header: M, by: name}}\n",
            "E\n"
        )
        .unwrap_err(),
        [
            "scimsync.yaml:4:34: error: sources[0].columns.manager: `by: name` needs the display_name column, or given_name and family_name, mapped"
        ]
    );
    for (columns, problem) in [
        (
            "{email: E, manager: {header: M, by: name}}",
            "`by: name` needs the display_name column, or given_name and family_name, mapped",
        ),
        (
            "{email: E, manager: {header: M, by: employee_number}}",
            "`by: employee_number` needs the employee_number column mapped",
        ),
        (
            "{email: E, title: {header: T, by: name}}",
            "`by` only applies to the manager column",
        ),
        (
            "{email: E, title: {header: T, true: [x]}}",
            "`true` and `false` only apply to active and guest: use `map`",
        ),
        (
            "{email: E, active: {header: A, map: {x: y}}}",
            "a flag's values are listed under `true` and `false`",
        ),
        (
            "{email: E, title: {header: T, default: x}}",
            "`default` needs `map`",
        ),
        (
            "{email: E, groups: {header: G, map: {x: y}}}",
            "the groups column has no value map: use `derived_groups`",
        ),
    ] {
        let errors = load_csv(&format!("    columns: {columns}\n"), "E\n").unwrap_err();
        assert_eq!(errors.len(), 1, "{columns}: {errors:?}");
        assert!(errors[0].contains(problem), "{columns}: {errors:?}");
    }
}
