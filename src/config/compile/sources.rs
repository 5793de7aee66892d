//! The directory sources: each a YAML file or a CSV export with its column layout, paths
//! made relative to the config's folder (and confined).

use super::Compiler;
use crate::config::raw::RawSource;
use crate::config::{ColumnMapping, ConfigIssue, CsvColumn, CsvLayout, SourceFormat, SourceSpec};
use crate::diag::yaml::Step;
use crate::model::Attribute;

/// Where a source is declared: `sources[i]`.
type Here = [Step<'static>; 2];

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
        let (path, format) = match (&source.yaml, &source.csv) {
            (Some(path), None) => {
                self.check_yaml_source(source, here);
                (path, Some(SourceFormat::Yaml))
            }
            (None, Some(path)) => (
                path,
                self.compile_csv_layout(source, here).map(SourceFormat::Csv),
            ),
            _ => {
                self.error(&here, ConfigIssue::SourceKind);
                return None;
            }
        };
        let key = if source.yaml.is_some() { "yaml" } else { "csv" };
        let path = self.file_path(&[here[0], here[1], Step::Key(key)], path);
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

    /// A YAML source sets no CSV setting.
    fn check_yaml_source(&mut self, source: &RawSource, here: Here) {
        for (field, set) in [
            ("columns", source.columns.is_some()),
            ("delimiter", source.delimiter.is_some()),
            ("groups_separator", source.groups_separator.is_some()),
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
        Some(CsvLayout {
            columns,
            delimiter: delimiter?,
            groups_separator: separator?,
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
                Step::Key(column.key()),
            ];
            let mut names = headers.0.iter().map(|h| h.trim().to_string());
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
