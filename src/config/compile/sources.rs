//! The directory sources: each a YAML file, a CSV export with its column layout, or a
//! program's output; paths made relative to the config's folder (and confined), programs
//! refused when confined.

use std::path::PathBuf;
use std::time::Duration;

use super::{Compiler, values};
use crate::config::raw::{MANAGER_ALIAS, RawSource};
use crate::config::{
    COMMAND_MAX_OUTPUT, COMMAND_TIMEOUT, ColumnMapping, CommandFormat, CommandOutput,
    CommandSource, ConfigIssue, CsvColumn, CsvLayout, SourceFormat, SourceSpec,
};
use crate::diag::yaml::Step;
use crate::model::Attribute;

/// Where a source is declared: `sources[i]`.
pub(super) type Here = [Step<'static>; 2];

/// How messages name a command source: `command 'fetch-hr'` (the program as written, its
/// arguments left out: they may hold anything).
pub(crate) fn command_label(argv: &[String]) -> String {
    let program = argv.first().map_or("", |p| p.trim());
    format!("command '{}'", crate::diag::escape::terminal(program))
}

impl Compiler<'_> {
    /// Every source that compiles; at least one must be declared.
    pub(super) fn compile_sources(&mut self, raw: &[RawSource]) -> Vec<SourceSpec> {
        if raw.is_empty() {
            let path: &[Step] = if self.doc.get(&[Step::Key("sources")]).is_some() {
                &[Step::Key("sources")]
            } else {
                &[]
            };
            self.error(path, ConfigIssue::NoSources);
            return Vec::new();
        }
        raw.iter()
            .enumerate()
            .filter_map(|(i, source)| {
                self.compile_source(source, [Step::Key("sources"), Step::Index(i)])
            })
            .collect()
    }

    /// One source, declared at `here`.
    fn compile_source(&mut self, source: &RawSource, here: Here) -> Option<SourceSpec> {
        if source.ldap.is_some() || source.google_workspace.is_some() {
            return self.compile_service_source(source, here);
        }
        let declared_at = self.at(&here);
        let kinds = [
            source.yaml.is_some(),
            source.csv.is_some(),
            source.command.is_some(),
        ];
        if kinds.iter().filter(|k| **k).count() != 1 {
            self.error(&here, ConfigIssue::SourceKind);
            return None;
        }
        if source.command.is_none() {
            self.check_not_command(source, here);
        }
        let (path, format) = if let Some(path) = &source.yaml {
            self.check_yaml_source(source, here);
            let path = self.file_path(&[here[0], here[1], Step::Key("yaml")], path);
            (path, Some(SourceFormat::Yaml))
        } else if let Some(path) = &source.csv {
            let format = self.compile_csv_layout(source, here).map(SourceFormat::Csv);
            (
                self.file_path(&[here[0], here[1], Step::Key("csv")], path),
                format,
            )
        } else {
            let command = self.compile_command(source, here);
            let display = command.as_ref().map(|c| command_label(&c.argv));
            (
                display.map(PathBuf::from),
                command.map(|c| SourceFormat::Command(Box::new(c))),
            )
        };
        let (Some(format), Some(path)) = (format, path) else {
            return None;
        };
        Some(SourceSpec {
            display: path.to_string_lossy().into(),
            path,
            format,
            override_earlier: source.override_earlier.unwrap_or(false),
            allow_empty: source.allow_empty.unwrap_or(false),
            min_users: source.min_users,
            declared_at,
        })
    }

    /// Refuses, under `SCIMSYNC_CONFINE`, the setting at `at` that would choose `what` (a
    /// program to run, a server to connect to, an environment variable or key file to
    /// read): an error there, and `true`. Every source kind other than files inside the
    /// confined folder, and every key naming a variable or a key file, calls this.
    pub(crate) fn refuse_when_confined(&mut self, at: &[Step<'_>], what: &'static str) -> bool {
        if !self.confined() {
            return false;
        }
        let field = values::dotted(at);
        self.error(at, ConfigIssue::ConfinedSource { field, what });
        true
    }

    /// A `command:` source: its argument vector, output format, timeout, environment and
    /// output cap. Refused under `SCIMSYNC_CONFINE`.
    fn compile_command(&mut self, source: &RawSource, here: Here) -> Option<CommandSource> {
        let at = [here[0], here[1], Step::Key("command")];
        if self.refuse_when_confined(&at, "a program to run") {
            return None;
        }
        let argv = source.command.clone().unwrap_or_default();
        if argv.first().is_none_or(|p| p.trim().is_empty()) {
            self.error(&at, ConfigIssue::EmptyCommand);
            return None;
        }
        let output = match source.format.unwrap_or(CommandFormat::Csv) {
            CommandFormat::Yaml => {
                self.check_yaml_source(source, here);
                Some(CommandOutput::Yaml)
            }
            CommandFormat::Csv => self
                .compile_csv_layout(source, here)
                .map(CommandOutput::Csv),
            CommandFormat::Json => {
                if source.delimiter.is_some() {
                    self.error(
                        &[here[0], here[1], Step::Key("delimiter")],
                        ConfigIssue::CsvOnly { field: "delimiter" },
                    );
                }
                self.compile_csv_layout(source, here)
                    .map(CommandOutput::Json)
            }
        };
        let timeout = self.compile_timeout(source, here);
        let env = self.compile_command_env(source, here);
        Some(CommandSource {
            argv,
            output: output?,
            dir: self.paths.base.to_path_buf(),
            timeout: timeout?,
            env: env?,
            max_output_bytes: source.max_output_bytes.unwrap_or(COMMAND_MAX_OUTPUT),
        })
    }

    /// A command's `timeout`, 60s when absent; never zero.
    fn compile_timeout(&mut self, source: &RawSource, here: Here) -> Option<Duration> {
        let Some(text) = &source.timeout else {
            return Some(COMMAND_TIMEOUT);
        };
        match values::parse_duration(text) {
            Some(d) if !d.is_zero() => Some(d),
            _ => {
                self.error(
                    &[here[0], here[1], Step::Key("timeout")],
                    ConfigIssue::NotADuration {
                        field: "timeout",
                        value: text.clone(),
                    },
                );
                None
            }
        }
    }

    /// A command's `env`: variable names, never the Slack token's.
    fn compile_command_env(&mut self, source: &RawSource, here: Here) -> Option<Vec<String>> {
        let names = source.env.clone().unwrap_or_default();
        let mut ok = true;
        for (i, name) in names.iter().enumerate() {
            let at = [here[0], here[1], Step::Key("env"), Step::Index(i)];
            if !values::is_env_name(name) {
                self.error(&at, ConfigIssue::InvalidEnvName { name: name.clone() });
                ok = false;
            } else if self.token_vars.iter().any(|t| t == name) {
                self.error(&at, ConfigIssue::TokenVariablePassed { name: name.clone() });
                ok = false;
            }
        }
        ok.then_some(names)
    }

    /// A file source sets no `command:` setting.
    fn check_not_command(&mut self, source: &RawSource, here: Here) {
        for (field, set) in [
            ("format", source.format.is_some()),
            ("timeout", source.timeout.is_some()),
            ("env", source.env.is_some()),
            ("max_output_bytes", source.max_output_bytes.is_some()),
        ] {
            if set {
                self.error(
                    &[here[0], here[1], Step::Key(field)],
                    ConfigIssue::CommandOnly { field },
                );
            }
        }
    }

    /// The key a column is written under: its own, or `manager` for the manager's when
    /// written so.
    pub(super) fn column_key(&self, here: Here, column: CsvColumn) -> &'static str {
        let alias = [
            here[0],
            here[1],
            Step::Key("columns"),
            Step::Key(MANAGER_ALIAS),
        ];
        if column == CsvColumn::Attribute(Attribute::Manager) && self.doc.get(&alias).is_some() {
            MANAGER_ALIAS
        } else {
            column.key()
        }
    }

    /// A YAML source sets no CSV setting.
    fn check_yaml_source(&mut self, source: &RawSource, here: Here) {
        for (field, set) in [
            ("columns", source.columns.is_some()),
            ("delimiter", source.delimiter.is_some()),
            ("groups_separator", source.groups_separator.is_some()),
            ("where", source.keep_where.is_some()),
            ("exclude_where", source.exclude_where.is_some()),
            ("derived_groups", source.derived_groups.is_some()),
        ] {
            if set {
                self.error(
                    &[here[0], here[1], Step::Key(field)],
                    ConfigIssue::CsvOnly { field },
                );
            }
        }
    }

    /// A CSV source's layout: its delimiter, groups separator and columns.
    pub(super) fn compile_csv_layout(
        &mut self,
        source: &RawSource,
        here: Here,
    ) -> Option<CsvLayout> {
        let delimiter = self.compile_delimiter(source, here);
        let separator =
            self.compile_one_char(here, "groups_separator", &source.groups_separator, ';');
        let columns = self.compile_columns(source, here)?;
        let rules = self.compile_rules(source, here, &columns);
        Some(CsvLayout {
            columns,
            delimiter: delimiter?,
            groups_separator: separator?,
            rules: rules?,
        })
    }

    /// The field delimiter: one ASCII character that cannot be part of a quoted field's
    /// syntax.
    fn compile_delimiter(&mut self, source: &RawSource, here: Here) -> Option<u8> {
        match self.compile_one_char(here, "delimiter", &source.delimiter, ',')? {
            c if c.is_ascii() && c != '"' && c != '\n' && c != '\r' => Some(c as u8),
            c => {
                self.error(
                    &[here[0], here[1], Step::Key("delimiter")],
                    ConfigIssue::NotOneCharacter {
                        field: "delimiter",
                        value: c.to_string(),
                    },
                );
                None
            }
        }
    }

    /// A one-character setting `field`, `default` when absent.
    fn compile_one_char(
        &mut self,
        here: Here,
        field: &'static str,
        value: &Option<String>,
        default: char,
    ) -> Option<char> {
        match value {
            None => Some(default),
            Some(v) if v.chars().count() == 1 => v.chars().next(),
            Some(v) => {
                self.error(
                    &[here[0], here[1], Step::Key(field)],
                    ConfigIssue::NotOneCharacter {
                        field,
                        value: v.clone(),
                    },
                );
                None
            }
        }
    }

    /// The mapped columns, which must include `email`; each names at least one header.
    fn compile_columns(&mut self, source: &RawSource, here: Here) -> Option<Vec<ColumnMapping>> {
        let Some(columns) = &source.columns else {
            self.error(&here, ConfigIssue::MissingEmailColumn);
            return None;
        };
        let email = columns.header(CsvColumn::Attribute(Attribute::Email));
        if email.is_none_or(|e| e.trim().is_empty()) {
            self.error(
                &[here[0], here[1], Step::Key("columns")],
                ConfigIssue::MissingEmailColumn,
            );
            return None;
        }
        let mut mappings = Vec::with_capacity(columns.headers.len());
        for (column, headers) in &columns.headers {
            let at = [
                here[0],
                here[1],
                Step::Key("columns"),
                Step::Key(self.column_key(here, *column)),
            ];
            let mut names = headers.headers.0.iter().map(|h| h.trim().to_string());
            let Some(header) = names.next() else {
                self.error(
                    &at,
                    ConfigIssue::NoHeaders {
                        column: column.key(),
                    },
                );
                continue;
            };
            mappings.push(ColumnMapping {
                column: *column,
                declared_at: self.at(&at),
                header,
                fallbacks: names.collect(),
            });
        }
        Some(mappings)
    }
}
