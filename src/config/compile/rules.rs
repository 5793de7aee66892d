//! A tabular source's rules beyond reading cells as written: value maps and the manager
//! lookup under `columns:`, the row filters `where` and `exclude_where`, and
//! `derived_groups`. Each is checked here for what can be known before a row is read (a
//! flag's map on a flag, a lookup on the manager, a name lookup with the name columns mapped).

use super::Compiler;
use super::sources::Here;
use crate::config::raw::{RawColumn, RawRowFilter, RawSource};
use crate::config::{
    ColumnMapping, ConfigIssue, CsvColumn, DerivedGroups, LookupBy, RowFilter, TableRules, ValueMap,
};
use crate::diag::yaml::Step;
use crate::model::{Attribute, Kind};

impl Compiler<'_> {
    /// The rules of a tabular source whose columns are `mapped`; `None` when one is wrong
    /// (each problem reported at its key).
    pub(super) fn compile_rules(
        &mut self,
        source: &RawSource,
        here: Here,
        mapped: &[ColumnMapping],
    ) -> Option<TableRules> {
        let before = self.problems.len();
        let mut rules = TableRules::default();
        if let Some(columns) = &source.columns {
            for (column, raw) in columns.headers.iter().filter(|(_, c)| c.has_rules()) {
                let at = [
                    here[0],
                    here[1],
                    Step::Key("columns"),
                    Step::Key(self.column_key(here, *column)),
                ];
                self.compile_column_rule(*column, raw, &at, mapped, &mut rules);
            }
        }
        rules.keep = self.compile_filter(source.keep_where.as_ref(), here, "where");
        rules.drop = self.compile_filter(source.exclude_where.as_ref(), here, "exclude_where");
        for (i, derived) in source.derived_groups.iter().flatten().enumerate() {
            let at = [
                here[0],
                here[1],
                Step::Key("derived_groups"),
                Step::Index(i),
            ];
            if derived.column.trim().is_empty() {
                self.invalid(&at, "`column` names the header the groups come from");
                continue;
            }
            rules.derived_groups.push(DerivedGroups {
                header: derived.column.trim().to_string(),
                prefix: derived.prefix.clone().unwrap_or_default(),
                declared_at: self.at(&at),
            });
        }
        (self.problems.len() == before).then_some(rules)
    }

    fn invalid(&mut self, at: &[Step<'_>], problem: &'static str) {
        let field = super::values::dotted(at);
        self.error(at, ConfigIssue::InvalidRule { field, problem });
    }

    /// One column's value map or lookup.
    fn compile_column_rule(
        &mut self,
        column: CsvColumn,
        raw: &RawColumn,
        at: &[Step<'_>],
        mapped: &[ColumnMapping],
        rules: &mut TableRules,
    ) {
        let flag = matches!(column.attribute().kind(), Kind::Active | Kind::Guest)
            && column != CsvColumn::GuestExpiration;
        let text_map = raw.map.is_some() || raw.default.is_some();
        let flag_map = raw.truthy.is_some() || raw.falsy.is_some();
        if let Some(by) = raw.by {
            if column != CsvColumn::Attribute(Attribute::Manager) {
                return self.invalid(at, "`by` only applies to the manager column");
            }
            if text_map || flag_map {
                return self.invalid(at, "`by` cannot be combined with a value map");
            }
            let has = |a: Attribute| mapped.iter().any(|m| m.column == CsvColumn::Attribute(a));
            if by == LookupBy::EmployeeNumber && !has(Attribute::EmployeeNumber) {
                return self.invalid(
                    at,
                    "`by: employee_number` needs the employee_number column mapped",
                );
            }
            let names = has(Attribute::DisplayName)
                || (has(Attribute::GivenName) && has(Attribute::FamilyName));
            if by == LookupBy::Name && !names {
                return self.invalid(
                    at,
                    "`by: name` needs the display_name column, or given_name and family_name, mapped",
                );
            }
            rules.manager_by = Some((by, self.at(at)));
            return;
        }
        if flag_map && !flag {
            return self.invalid(
                at,
                "`true` and `false` only apply to active and guest: use `map`",
            );
        }
        if flag && text_map {
            return self.invalid(at, "a flag's values are listed under `true` and `false`");
        }
        if column == CsvColumn::Attribute(Attribute::Groups) {
            return self.invalid(
                at,
                "the groups column has no value map: use `derived_groups`",
            );
        }
        let map = if flag_map {
            let truthy = raw.truthy.clone().unwrap_or_default();
            let falsy = raw.falsy.clone().unwrap_or_default();
            if truthy.is_empty() && falsy.is_empty() {
                return self.invalid(at, "list the values read as true and as false");
            }
            ValueMap::Flag { truthy, falsy }
        } else {
            let Some(map) = raw.map.clone() else {
                return self.invalid(at, "`default` needs `map`");
            };
            ValueMap::Text {
                map,
                default: raw.default.clone(),
            }
        };
        rules.values.push((column, map));
    }

    /// A `where` or `exclude_where`: each column with at least one value.
    fn compile_filter(
        &mut self,
        raw: Option<&RawRowFilter>,
        here: Here,
        key: &'static str,
    ) -> Vec<RowFilter> {
        let mut out = Vec::new();
        for (header, values) in raw.iter().flat_map(|f| &f.0) {
            let at = [here[0], here[1], Step::Key(key), Step::Key(header)];
            if header.trim().is_empty() {
                self.invalid(&at, "a blank header");
                continue;
            }
            if values.0.is_empty() {
                self.invalid(&at, "list at least one value");
                continue;
            }
            out.push(RowFilter {
                header: header.trim().to_string(),
                values: values.0.iter().map(|v| v.trim().to_string()).collect(),
                declared_at: self.at(&at),
            });
        }
        out
    }
}
