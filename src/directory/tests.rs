//! Validation rules end to end through [`build`], on sources held in memory.

use std::path::PathBuf;
use std::sync::Arc;

use chrono::NaiveDate;

use super::*;
use crate::config::{ColumnMapping, CsvColumn, CsvLayout};
use crate::diag::{Diagnose, SourceLocation};

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 1, 15).unwrap()
}

fn spec(name: &str, format: SourceFormat, override_earlier: bool) -> SourceSpec {
    let config: Arc<str> = "scimsync.yaml".into();
    SourceSpec {
        path: PathBuf::from(name),
        display: name.into(),
        format,
        override_earlier,
        allow_empty: false,
        min_users: None,
        declared_at: SourceLocation::new(&config, 3, 5),
    }
}

fn csv_format(columns: &[(Attribute, &str)]) -> SourceFormat {
    let config: Arc<str> = "scimsync.yaml".into();
    SourceFormat::Csv(CsvLayout {
        columns: columns
            .iter()
            .map(|(a, h)| ColumnMapping {
                column: CsvColumn::Attribute(*a),
                header: h.to_string(),
                fallbacks: vec![],
                declared_at: SourceLocation::new(&config, 6, 9),
            })
            .collect(),
        delimiter: b',',
        groups_separator: ';',
        rules: Default::default(),
    })
}

fn run(
    sources: &[(SourceSpec, &str)],
    invalid_users: InvalidUsers,
) -> Result<LoadedDirectory, DirectoryError> {
    let inputs: Vec<SourceInput> = sources
        .iter()
        .map(|(spec, text)| SourceInput {
            spec,
            bytes: text.as_bytes(),
        })
        .collect();
    build(
        &inputs,
        &LoadOptions {
            invalid_users,
            today: today(),
        },
    )
}

/// Every problem of a YAML directory, as `file:line:col: severity: message` lines.
fn problems(yaml: &str) -> Vec<String> {
    let sources = [(spec("d.yaml", SourceFormat::Yaml, false), yaml)];
    match run(&sources, InvalidUsers::Skip) {
        Ok(loaded) => loaded
            .report
            .problems
            .iter()
            .map(ToString::to_string)
            .collect(),
        Err(e) => e.problems.iter().map(ToString::to_string).collect(),
    }
}

fn load_ok(yaml: &str) -> LoadedDirectory {
    let sources = [(spec("d.yaml", SourceFormat::Yaml, false), yaml)];
    run(&sources, InvalidUsers::Fail).expect("valid directory")
}

#[test]
fn a_valid_directory_loads_sorted_with_keys_and_locations() {
    let loaded = load_ok(
        "users:
  - email: Zed@Example.com
    given_name: Zed
    manager: ada@example.com
    groups: [Eng, eng]
  - email: ada@example.com
    user_name: Ada.L
    display_name: Ada
    employee_number: '0042'
    start_date: 2024-04-10
    guest: {expiration: 2030-01-01}
groups:
  - name: Eng
    members: [ADA@example.com]
",
    );
    assert!(loaded.report.problems.is_empty(), "{:?}", loaded.report);
    let d = &loaded.directory;
    let emails: Vec<&str> = d.users.iter().map(|u| u.email_key.as_str()).collect();
    assert_eq!(emails, ["ada@example.com", "zed@example.com"]);
    let ada = d.user_by_email("ada@example.com").unwrap();
    assert_eq!(ada.user_name.as_deref(), Some("Ada.L"));
    assert_eq!(ada.user_name_key, "ada.l");
    assert_eq!(ada.employee_number(), Some("0042"));
    assert_eq!(ada.location.file_line(), "d.yaml:6");
    assert_eq!(ada.origin(Attribute::StartDate).to_string(), "d.yaml:10:17");
    let zed = d.user_by_email("zed@example.com").unwrap();
    assert_eq!(zed.email, "Zed@Example.com");
    assert_eq!(
        zed.user_name_key, "zed",
        "derived from the email as Slack does"
    );
    assert_eq!(zed.manager.as_deref(), Some("ada@example.com"));
    assert!(zed.active);
    let eng = d.group_by_name("eng").unwrap();
    assert_eq!(eng.name, "Eng");
    assert_eq!(eng.members, ["ada@example.com", "zed@example.com"]);
    assert_eq!(eng.location.to_string(), "d.yaml:13:11");
}

#[test]
fn emails_must_be_valid_and_present() {
    assert_eq!(
        problems("users:\n  - email: not-an-email\n  - given_name: Ada\n  - email: ''\n"),
        [
            "d.yaml:2:12: error: \"not-an-email\" is not a valid email address",
            "d.yaml:3:5: error: no email: every user needs one",
            "d.yaml:4:12: error: no email: every user needs one",
        ]
    );
}

#[test]
fn duplicate_emails_differing_only_in_case_name_both_places() {
    assert_eq!(
        problems("users:\n  - email: ada@example.com\n  - email: ADA@Example.COM\n"),
        [
            "d.yaml:3:12: error: email \"ADA@Example.COM\" is used twice (first at d.yaml:2:12); emails are unique, case-insensitively"
        ]
    );
}

#[test]
fn duplicate_emails_across_sources_when_not_the_same_person() {
    let yaml = spec("d.yaml", SourceFormat::Yaml, false);
    let csv = spec(
        "p.csv",
        csv_format(&[
            (Attribute::Email, "Email"),
            (Attribute::EmployeeNumber, "ID"),
        ]),
        false,
    );
    let err = run(
        &[
            (
                yaml,
                "users:\n  - email: ada@example.com\n    employee_number: '1'\n",
            ),
            (csv, "Email,ID\nAda@example.com,2\n"),
        ],
        InvalidUsers::Fail,
    )
    .unwrap_err();
    let lines: Vec<String> = err.problems.iter().map(ToString::to_string).collect();
    assert_eq!(
        lines,
        [
            "p.csv:2:1: error: email \"Ada@example.com\" is used twice (first at d.yaml:2:12); emails are unique, case-insensitively"
        ]
    );
}

#[test]
fn user_names_follow_slacks_rules_and_are_unique_after_normalisation() {
    assert_eq!(
        problems(
            "users:
  - email: a@example.com
    user_name: abcdefghijklmnopqrstuv
  - email: b@example.com
    user_name: bob smith
  - email: c@example.com
    user_name: here
  - email: d@example.com
    user_name: Dan
  - email: e@example.com
    user_name: dan
  - email: dan@other.example
"
        ),
        [
            "d.yaml:3:16: error: user_name \"abcdefghijklmnopqrstuv\": user name is longer than 21 characters (username_too_long)",
            "d.yaml:5:16: error: user_name \"bob smith\": user name may only contain a-z, 0-9, '.', '_' and '-' (username_invalid)",
            "d.yaml:7:16: error: user_name \"here\": user name is reserved by Slack (username_not_allowed)",
            "d.yaml:11:16: error: user_name \"dan\" is used twice (first at d.yaml:9:16); user names are unique after Slack's normalisation",
            "d.yaml:12:12: error: user_name \"dan\" is used twice (first at d.yaml:9:16); user names are unique after Slack's normalisation",
        ]
    );
}

#[test]
fn a_user_name_derived_from_a_long_email_is_an_error() {
    // (Quoted values are cut to 40 characters: the location says where the whole one is.)
    assert_eq!(
        problems("users:\n  - email: a.very.long.local.part.indeed@example.com\n"),
        [
            "d.yaml:2:12: error: no user_name, and the one Slack would derive from \"a.very.long.local.part.indeed@example.co…\" breaks its rules: user name is longer than 21 characters (username_too_long); set user_name"
        ]
    );
}

#[test]
fn display_names_and_person_names() {
    let long = "x".repeat(81);
    assert_eq!(
        problems(&format!(
            "users:
  - email: a@example.com
    display_name: {long}
  - email: b@example.com
    display_name: bob@home
  - email: c@example.com
    given_name: ''
    family_name: '   '
  - email: d@example.com
    family_name: d@d
"
        )),
        [
            "d.yaml:3:19: error: display_name: display name is longer than 80 characters (invalid_name_maxlength)",
            "d.yaml:5:19: error: display_name: name contains '@' (invalid_name_specials)",
            // c's blank names are no value (Slack's are kept), as blank CSV cells are.
            "d.yaml:10:18: error: family_name: name contains '@' (invalid_name_specials)",
        ]
    );
}

/// A nickname is the user name under Slack's other key (FACTS TL;DR 5): it must be the user
/// name Slack will hold (given, or derived from the email), follows the user name's rules, and
/// is kept as Slack spells it.
#[test]
fn a_nickname_must_be_the_user_name_slack_will_hold() {
    assert_eq!(
        problems(
            "users:
  - {email: a@example.com, nickname: A}
  - {email: b@example.com, user_name: Bee, nickname: ' bee '}
  - {email: c@example.com, nickname: cee}
  - {email: d@example.com, user_name: dee, nickname: d}
  - {email: e@example.com, nickname: 'e e'}
"
        ),
        [
            "d.yaml:4:38: error: nickname \"cee\" is not the user name Slack will hold for this person (\"c\"): Slack keeps nickname equal to the user name; give both the same name, or leave nickname out",
            "d.yaml:5:54: error: nickname \"d\" is not the user name Slack will hold for this person (\"dee\"): Slack keeps nickname equal to the user name; give both the same name, or leave nickname out",
            "d.yaml:6:38: error: nickname: user name may only contain a-z, 0-9, '.', '_' and '-' (username_invalid)",
        ]
    );
    let loaded = load_ok(
        "users:\n  - {email: a@example.com, nickname: A}\n  - {email: b@example.com, user_name: Bee, nickname: ' bee '}\n",
    );
    let nicknames: Vec<_> = loaded
        .directory
        .users
        .iter()
        .map(|u| u.text(Attribute::Nickname))
        .collect();
    assert_eq!(nicknames, [Some("a"), Some("bee")], "as Slack spells them");
}

#[test]
fn managers_must_exist_and_not_form_cycles() {
    assert_eq!(
        problems(
            "users:
  - email: a@example.com
    manager: nobody@example.com
  - email: b@example.com
    manager: c@example.com
  - email: c@example.com
    manager: B@example.com
  - email: d@example.com
    manager: d@example.com
  - email: e@example.com
    manager: b@example.com
"
        ),
        [
            "d.yaml:3:14: error: manager \"nobody@example.com\" is not a user of the directory",
            "d.yaml:5:14: error: managers form a cycle: b@example.com → c@example.com → b@example.com",
            "d.yaml:9:14: error: managers form a cycle: d@example.com → d@example.com",
        ]
    );
}

#[test]
fn group_members_must_be_people_of_the_directory() {
    assert_eq!(
        problems(
            "users:
  - email: a@example.com
  - email: gone@example.com
    active: false
    groups: [ops]
groups:
  - name: eng
    members: [a@example.com, ghost@example.com, gone@example.com]
  - name: ' '
  - name: ENG
"
        ),
        // The leaver is left out of both groups without a word: an HR export keeps its
        // terminated rows, and a warning per leaver on every pass buried the real problems.
        [
            "d.yaml:8:30: error: member \"ghost@example.com\" of group \"eng\" is not a user of the directory",
            "d.yaml:9:5: error: group name is blank",
            "d.yaml:10:11: warning: group \"ENG\" is declared twice (first at d.yaml:7:11); members are merged",
        ]
    );
}

#[test]
fn leavers_are_left_out_of_their_groups_without_a_warning() {
    let loaded = load_ok(
        "users:
  - {email: a@example.com, groups: [eng]}
  - {email: gone@example.com, active: false, groups: [eng, ops]}
groups:
  - name: eng
    members: [gone@example.com]
",
    );
    assert!(
        loaded.report.problems.is_empty(),
        "{:?}",
        loaded.report.problems
    );
    let eng = loaded.directory.groups.iter().find(|g| g.name == "eng");
    assert_eq!(eng.unwrap().members, ["a@example.com"]);
}

#[test]
fn guests_without_expiry_or_expired_are_flagged() {
    let loaded = load_ok(
        "users:
  - email: a@example.com
    guest: {}
  - email: b@example.com
    guest: {expiration: 2025-01-14}
  - email: c@example.com
    guest: {expiration: '2025-01-15T08:00:00Z'}
",
    );
    let lines: Vec<String> = loaded
        .report
        .problems
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        lines,
        [
            "d.yaml:3:12: warning: guest a@example.com has no expiration",
            "d.yaml:5:12: warning: guest b@example.com expired on 2025-01-14",
        ]
    );
    assert_eq!(loaded.directory.users.len(), 3, "warnings skip nobody");
}

#[test]
fn invalid_users_are_skipped_and_kept_apart_or_fail_the_load() {
    let yaml = "users:
  - email: good@example.com
    groups: [eng]
  - email: bad@example.com
    user_name: not ok
    employee_number: '9'
    groups: [eng]
";
    let sources = [(spec("d.yaml", SourceFormat::Yaml, false), yaml)];
    let loaded = run(&sources, InvalidUsers::Skip).unwrap();
    let d = &loaded.directory;
    assert_eq!(d.users.len(), 1);
    assert_eq!(d.skipped.len(), 1);
    assert_eq!(d.skipped[0].email_key, "bad@example.com");
    assert_eq!(d.skipped[0].employee_number.as_deref(), Some("9"));
    assert_eq!(d.skipped[0].location.to_string(), "d.yaml:4:5");
    assert!(loaded.report.has_errors());
    // Skipping someone never removes them from a group.
    assert_eq!(
        d.group_by_name("eng").unwrap().members,
        ["bad@example.com", "good@example.com"]
    );

    let err = run(&sources, InvalidUsers::Fail).unwrap_err();
    assert_eq!(err.problems.len(), 1);
    assert_eq!(err.to_string(), "the directory has 1 error(s)");
}

#[test]
fn malformed_sources_fail_even_when_skipping() {
    let sources = [
        (
            spec("d.yaml", SourceFormat::Yaml, false),
            "users:\n  - email: a@example.com\n",
        ),
        (
            spec("p.csv", csv_format(&[(Attribute::Email, "Email")]), false),
            "Email,Name\nb@example.com\n",
        ),
    ];
    let err = run(&sources, InvalidUsers::Skip).unwrap_err();
    assert_eq!(
        err.problems[0].to_string(),
        "p.csv:2:1: error: row has 1 fields, the header has 2"
    );
}

#[test]
fn sources_merge_and_conflicts_name_both_places() {
    let yaml = "users:\n  - email: ada@example.com\n    title: Engineer\n    groups: [eng]\n";
    let csv = "Email,Title,Dept,Groups\nADA@example.com,Senior Engineer,R&D,ops\n";
    let columns = [
        (Attribute::Email, "Email"),
        (Attribute::Title, "Title"),
        (Attribute::Department, "Dept"),
        (Attribute::Groups, "Groups"),
    ];
    let err = run(
        &[
            (spec("d.yaml", SourceFormat::Yaml, false), yaml),
            (spec("p.csv", csv_format(&columns), false), csv),
        ],
        InvalidUsers::Fail,
    )
    .unwrap_err();
    assert_eq!(
        err.problems[0].to_string(),
        "p.csv:2:17: error: title of ada@example.com is \"Senior Engineer\" here but \"Engineer\" at d.yaml:3:12; mark the later source `override: true` to let it win"
    );

    let loaded = run(
        &[
            (spec("d.yaml", SourceFormat::Yaml, false), yaml),
            (spec("p.csv", csv_format(&columns), true), csv),
        ],
        InvalidUsers::Fail,
    )
    .unwrap();
    let ada = &loaded.directory.users[0];
    assert_eq!(loaded.directory.users.len(), 1);
    assert_eq!(ada.text(Attribute::Title), Some("Senior Engineer"));
    assert_eq!(ada.origin(Attribute::Title).to_string(), "p.csv:2:17");
    assert_eq!(ada.origin(Attribute::Department).to_string(), "p.csv:2:33");
    assert_eq!(ada.origin(Attribute::Email).to_string(), "d.yaml:2:12");
    for name in ["eng", "ops"] {
        let group = loaded.directory.group_by_name(name).unwrap();
        assert_eq!(group.members, ["ada@example.com"], "{name}");
    }
    assert_eq!(loaded.directory.groups.len(), 2);
    assert_eq!(ada.location.file_line(), "d.yaml:2");
}

#[test]
fn ids_and_employee_numbers_are_unique_and_well_formed() {
    assert_eq!(
        problems(
            "users:
  - email: a@example.com
    id: W012ABC
    employee_number: '7'
  - email: b@example.com
    id: W012ABC
    employee_number: '7'
  - email: c@example.com
    id: bob
"
        ),
        [
            "d.yaml:6:9: error: id \"W012ABC\" is used by two people (first at d.yaml:3:9)",
            "d.yaml:7:22: error: employee_number \"7\" is used by two people (first at d.yaml:4:22)",
            "d.yaml:9:9: error: id \"bob\" is not a Slack user id (U… or W…)",
        ]
    );
}

#[test]
fn leavers_are_desired_inactive() {
    let loaded = load_ok("users:\n  - email: a@example.com\n    active: false\n");
    assert!(!loaded.directory.users[0].active);
}

#[test]
fn a_source_that_yields_nobody_is_an_error_unless_it_may_be_empty() {
    let yaml = "users:\n  - email: ada@example.com\n";
    let header_only = "Email\n";
    let columns = [(Attribute::Email, "Email")];
    let err = run(
        &[
            (spec("d.yaml", SourceFormat::Yaml, false), yaml),
            (spec("p.csv", csv_format(&columns), false), header_only),
        ],
        InvalidUsers::Skip,
    )
    .unwrap_err();
    let lines: Vec<String> = err.problems.iter().map(ToString::to_string).collect();
    assert_eq!(
        lines,
        [
            "p.csv: error: the source yields no users: an empty or truncated export is never read as \"everyone left\"; if it may be empty, say `allow_empty: true` on it"
        ]
    );
    let mut may_be_empty = spec("p.csv", csv_format(&columns), false);
    may_be_empty.allow_empty = true;
    let loaded = run(
        &[
            (spec("d.yaml", SourceFormat::Yaml, false), yaml),
            (may_be_empty, header_only),
        ],
        InvalidUsers::Skip,
    )
    .unwrap();
    assert_eq!(loaded.directory.users.len(), 1);
}

#[test]
fn a_source_under_its_minimum_is_an_error() {
    let csv = "Email\nada@example.com\nbob@example.com\n";
    let mut s = spec("p.csv", csv_format(&[(Attribute::Email, "Email")]), false);
    s.min_users = Some(3);
    let err = run(&[(s.clone(), csv)], InvalidUsers::Skip).unwrap_err();
    assert_eq!(
        err.problems[0].to_string(),
        "p.csv: error: the source yields 2 user(s), fewer than its min_users 3"
    );
    s.min_users = Some(2);
    assert!(run(&[(s, csv)], InvalidUsers::Skip).is_ok());
}

/// One CSV source is validated row by row as it is read; with a second source the rows go
/// through the merge first. Both ways give the same directory and the same problems.
#[test]
fn one_csv_read_row_by_row_loads_as_through_the_merge() {
    let columns = [
        (Attribute::Email, "Email"),
        (Attribute::EmployeeNumber, "Id"),
        (Attribute::Title, "Title"),
        (Attribute::StartDate, "Start"),
        (Attribute::Manager, "Manager"),
        (Attribute::Groups, "Groups"),
        (Attribute::Active, "Active"),
    ];
    let csv = "Email,Id,Title,Start,Manager,Groups,Active\n\
        Ada@Example.com,E1,Boss,2024-01-02,,eng;Ops;ENG,yes\n\
        bob@example.com,E2,,2024-13-01,ada@example.com,eng,yes\n\
        carol@example.com,E3,Eng,,nobody@example.com,ops,yes\n\
        ADA@example.com,E4,,,,,yes\n\
        dan@example.com,E5,Eng,,bob@example.com,eng,no\n\
        not-an-email,E6,,,,,yes\n\
        erin@example.com,E2,,,,support,yes\n";
    let ragged = format!("{csv}frank@example.com,E7\n");
    let empty = "users: []\n";
    let mut allowed = spec("d.yaml", SourceFormat::Yaml, false);
    allowed.allow_empty = true;
    let lines = |problems: &[DirectoryProblem]| -> Vec<String> {
        problems
            .iter()
            .map(ToString::to_string)
            .filter(|p| !p.starts_with("d.yaml"))
            .collect()
    };
    for invalid_users in [InvalidUsers::Skip, InvalidUsers::Fail] {
        for text in [csv, ragged.as_str()] {
            let one = run(
                &[(spec("p.csv", csv_format(&columns), false), text)],
                invalid_users,
            );
            let merged = run(
                &[
                    (allowed.clone(), empty),
                    (spec("p.csv", csv_format(&columns), false), text),
                ],
                invalid_users,
            );
            match (one, merged) {
                (Ok(one), Ok(merged)) => {
                    assert_eq!(one.directory.users, merged.directory.users);
                    assert_eq!(one.directory.groups, merged.directory.groups);
                    assert_eq!(one.directory.skipped, merged.directory.skipped);
                    assert_eq!(lines(&one.report.problems), lines(&merged.report.problems));
                    assert!(!one.directory.users.is_empty() && !one.directory.skipped.is_empty());
                }
                (Err(one), Err(merged)) => {
                    assert!(!one.problems.is_empty());
                    assert_eq!(lines(&one.problems), lines(&merged.problems));
                }
                (one, merged) => panic!("{invalid_users:?}: {one:?} but {merged:?}"),
            }
        }
    }
}

/// A file a config names as a YAML source that is no directory (a key, a `.env` file, a
/// service account's JSON) is described, never quoted: at most a key name, cut short.
#[test]
fn a_yaml_source_that_is_no_directory_is_described_not_quoted() {
    let secret = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQDsecret";
    let pem = format!("-----BEGIN PRIVATE KEY-----\n{secret}\n-----END PRIVATE KEY-----\n");
    assert_eq!(
        problems(&pem),
        [
            "d.yaml:1:1: error: the file holds text, not a directory (a mapping of `users:` and `groups:`)"
        ]
    );
    assert_eq!(
        problems("- API_KEY=sk-live-123\n- DB_PASSWORD=hunter2\n"),
        [
            "d.yaml:1:1: error: the file holds a list, not a directory (a mapping of `users:` and `groups:`)"
        ]
    );
    let json = format!(
        "{{\"type\": \"service_account\", \"private_key\": \"{secret}\", \"{}\": 1}}",
        "k".repeat(60)
    );
    let found = problems(&json);
    assert_eq!(found.len(), 3, "{found:?}");
    assert!(
        found[1]
            .ends_with("private_key: unknown field `private_key`, expected `users` or `groups`"),
        "{found:?}"
    );
    let long_key = format!("{}…", "k".repeat(crate::diag::MAX_EXCERPT));
    assert!(
        found[2].contains(&format!("{long_key}: unknown field `{long_key}`")),
        "{found:?}"
    );
    // A value where the top level expects a list is quoted, cut short.
    let found = problems(&format!("users: \"{secret}\"\n"));
    assert_eq!(
        found,
        [format!(
            "d.yaml:1:8: error: users: invalid type: string \"{}…\", expected a sequence",
            &secret[..crate::diag::MAX_EXCERPT]
        )]
    );
    for text in found.iter().chain(&problems(&pem)) {
        assert!(!text.contains("secret"), "{text}");
    }
    // None of these files is shown on a terminal; a directory with a bad user is.
    let not_shown = run(
        &[(spec("d.yaml", SourceFormat::Yaml, false), &*pem)],
        InvalidUsers::Fail,
    )
    .unwrap_err();
    assert!(not_shown.problems.iter().all(|p| !p.kind.shows_file()));
    let shown = run(
        &[(
            spec("d.yaml", SourceFormat::Yaml, false),
            "users:\n  - email: 5\n    title: [x]\n",
        )],
        InvalidUsers::Fail,
    )
    .unwrap_err();
    assert!(
        shown.problems.iter().all(|p| p.kind.shows_file()),
        "{:?}",
        shown.problems
    );
}
