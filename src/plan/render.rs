//! Plan reports (DESIGN §6): summary first, then each change with its source location and
//! attribute diffs, in plan order. Text (colour only when asked, i.e. on a TTY), markdown for
//! a pull-request comment, and versioned JSON that `apply --plan` reads back.

use std::fmt::Write;

use serde::Serialize;
use similar::{ChangeTag, TextDiff};

use super::{Change, Op, Plan, Summary, UserRef};
use crate::model::Attribute;

/// Values longer than this are shown as an inline word diff.
const LONG_VALUE: usize = 40;

/// The report formats [`render`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// For a terminal: [`text`].
    Text,
    /// For machines and `apply --plan`: [`json`].
    Json,
    /// For a pull-request comment: [`markdown`].
    Markdown,
}

/// Renders `plan` in `format`; `color` only affects text.
pub fn render(plan: &Plan, format: Format, color: bool) -> String {
    match format {
        Format::Text => text(plan, color),
        Format::Json => json(plan),
        Format::Markdown => markdown(plan),
    }
}

fn thousands(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The two summary lines.
pub fn summary_lines(plan: &Plan) -> (String, String) {
    let s: Summary = plan.summary();
    let mut first = format!(
        "Plan: {} to create, {} to reactivate, {} to update, {} to deactivate, {}.",
        s.create,
        s.reactivate,
        s.update,
        s.deactivate,
        plural(
            s.membership_changes,
            "membership change",
            "membership changes"
        ),
    );
    let groups = s.group_create + s.group_update + s.group_delete;
    if groups > 0 {
        first.pop();
        write!(
            first,
            "; groups: {} to create, {} to update, {} to delete.",
            s.group_create, s.group_update, s.group_delete
        )
        .unwrap();
    }
    let c = &plan.counts;
    let second = format!(
        "{}, {}.   (live: {} users, {} groups; directory: {} users, {} groups)",
        plural(s.conflicts, "conflict", "conflicts"),
        plural(c.invalid_users, "invalid row", "invalid rows"),
        thousands(c.live_users),
        thousands(c.live_groups),
        thousands(c.directory_users),
        thousands(c.directory_groups),
    );
    (first, second)
}

/// The estimated apply time, when the pass computed it and there is something to apply.
fn estimate_line(plan: &Plan) -> Option<String> {
    plan.estimate
        .as_ref()
        .filter(|_| !plan.is_empty())
        .map(super::estimate::Estimate::sentence)
}

struct Paint(bool);

impl Paint {
    fn code(&self, code: &str, s: &str) -> String {
        if self.0 {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
    fn green(&self, s: &str) -> String {
        self.code("32", s)
    }
    fn red(&self, s: &str) -> String {
        self.code("31", s)
    }
    fn yellow(&self, s: &str) -> String {
        self.code("33", s)
    }
    fn cyan(&self, s: &str) -> String {
        self.code("36", s)
    }
    fn bold(&self, s: &str) -> String {
        self.code("1", s)
    }
}

fn member(r: &UserRef, plan: &Plan) -> String {
    match r {
        UserRef::Id(id) => plan.labels.get(id).cloned().unwrap_or_else(|| id.clone()),
        UserRef::New(email) => email.clone(),
    }
}

fn quoted(v: &Option<String>, plan: &Plan, attribute: Attribute) -> String {
    match v {
        None => "(unset)".into(),
        Some(v) if attribute == Attribute::Manager => {
            plan.labels.get(v).cloned().unwrap_or_else(|| v.clone())
        }
        Some(v) => format!("{v:?}"),
    }
}

fn change_line(c: &Change, plan: &Plan, paint: &Paint) -> String {
    let long = |v: &Option<String>| v.as_ref().is_some_and(|s| s.chars().count() > LONG_VALUE);
    if long(&c.from) && long(&c.to) {
        let (from, to) = (c.from.as_deref().unwrap(), c.to.as_deref().unwrap());
        let diff = TextDiff::from_words(from, to);
        let mut out = String::new();
        for change in diff.iter_all_changes() {
            let s = change.value();
            match change.tag() {
                ChangeTag::Equal => out.push_str(s),
                ChangeTag::Delete => out.push_str(&paint.red(&format!("[-{s}-]"))),
                ChangeTag::Insert => out.push_str(&paint.green(&format!("{{+{s}+}}"))),
            }
        }
        // Merge adjacent markers produced word by word.
        let out = out.replace("-][-", "").replace("+}{+", "");
        format!("    {:<12} {out}", c.attribute)
    } else {
        format!(
            "    {:<12} {} → {}",
            c.attribute,
            quoted(&c.from, plan, c.attribute),
            quoted(&c.to, plan, c.attribute)
        )
    }
}

fn op_lines(op: &Op, plan: &Plan, paint: &Paint, out: &mut Vec<String>) {
    match op {
        Op::CreateUser {
            email,
            user_name,
            source,
            ..
        } => out.push(format!(
            "{} {:<44} {source}",
            paint.green("+ create user   "),
            format!("{email} ({user_name})")
        )),
        Op::UpdateUser {
            id,
            email,
            reactivate,
            changes,
            source,
            ..
        } => {
            let head = if *reactivate {
                paint.cyan("↺ reactivate    ")
            } else {
                paint.yellow("~ update user   ")
            };
            out.push(format!("{head} {:<44} {source}", format!("{email}  {id}")));
            for c in changes {
                if *reactivate && c.attribute == Attribute::Active {
                    continue;
                }
                out.push(change_line(c, plan, paint));
            }
        }
        Op::DeactivateUser { id, email, reason } => out.push(format!(
            "{} {:<44} ({reason})",
            paint.red("- deactivate    "),
            format!("{email}  {id}")
        )),
        Op::CreateGroup {
            name,
            members,
            source,
        } => {
            let added: Vec<String> = members
                .iter()
                .map(|m| format!("+ {}", member(m, plan)))
                .collect();
            out.push(format!(
                "{} {:<44} {source}",
                paint.green("+ create group  "),
                name
            ));
            if !added.is_empty() {
                out.push(format!("    members      {}", added.join("  ")));
            }
        }
        Op::UpdateGroup {
            id,
            name,
            rename,
            add,
            remove,
        } => {
            let mut parts: Vec<String> = add
                .iter()
                .map(|m| paint.green(&format!("+ {}", member(m, plan))))
                .collect();
            parts.extend(
                remove
                    .iter()
                    .map(|m| paint.red(&format!("- {}", member(&UserRef::Id(m.clone()), plan)))),
            );
            out.push(format!(
                "{} {} {id}  {}",
                paint.yellow("~ group         "),
                name,
                parts.join("  ")
            ));
            if let Some(new) = rename {
                out.push(format!("    name         {name:?} → {new:?}"));
            }
        }
        Op::DeleteGroup { id, name } => out.push(format!(
            "{} {:<44} (not in the directory)",
            paint.red("- delete group  "),
            format!("{name}  {id}")
        )),
    }
}

/// The body lines: ops, conflicts, guards, notices.
fn body_lines(plan: &Plan, paint: &Paint) -> Vec<String> {
    let mut out = Vec::new();
    for op in &plan.ops {
        op_lines(op, plan, paint, &mut out);
    }
    for c in &plan.conflicts {
        let at = c
            .source
            .as_deref()
            .map(|s| format!("  {s}"))
            .unwrap_or_default();
        out.push(format!(
            "{} {}: {}{at}",
            paint.bold("! conflict      "),
            c.subject,
            c.reason
        ));
    }
    for g in &plan.guards {
        out.push(format!(
            "{} {}: {}",
            paint.red("! guard tripped "),
            g.guard,
            g.message
        ));
    }
    for n in &plan.notices {
        out.push(format!("· notice          {}: {}", n.subject, n.message));
    }
    out
}

/// The plan for a person at a terminal: two summary lines, then one block per change with
/// attribute diffs, then conflicts, guards and notices. `color` adds ANSI colour.
pub fn text(plan: &Plan, color: bool) -> String {
    let paint = Paint(color);
    let (first, second) = summary_lines(plan);
    let mut s = format!("{}\n      {second}\n", paint.bold(&first));
    if let Some(e) = estimate_line(plan) {
        writeln!(s, "      {e}").unwrap();
    }
    let body = body_lines(plan, &paint);
    if !body.is_empty() {
        s.push('\n');
        for line in body {
            s.push_str(line.trim_end());
            s.push('\n');
        }
    }
    if plan.is_empty() && plan.conflicts.is_empty() {
        s.push_str("\nNo changes: Slack matches the directory.\n");
    }
    s
}

/// The plan as a pull-request comment: the summary, a warning block when a guard trips, and
/// the changes in a `diff` code block.
pub fn markdown(plan: &Plan) -> String {
    let (first, second) = summary_lines(plan);
    let mut s = format!("### scimsync plan\n\n**{first}**  \n{second}\n");
    if let Some(e) = estimate_line(plan) {
        writeln!(s, "\n{e}").unwrap();
    }
    if !plan.guards.is_empty() {
        s.push_str(
            "\n> [!WARNING]\n> A safety guard trips: `scimsync apply` will write nothing.\n",
        );
        for g in &plan.guards {
            writeln!(s, "> - `{}`: {}", g.guard, g.message).unwrap();
        }
    }
    let body = body_lines(plan, &Paint(false));
    if body.is_empty() {
        s.push_str("\nNo changes: Slack matches the directory.\n");
    } else {
        s.push_str("\n```diff\n");
        for line in body {
            s.push_str(line.trim_end());
            s.push('\n');
        }
        s.push_str("```\n");
    }
    s
}

#[derive(Serialize)]
struct JsonPlan<'a> {
    summary: Summary,
    #[serde(flatten)]
    plan: &'a Plan,
}

/// The plan as pretty JSON with its [`Summary`] added: the format `apply --plan` reads back
/// ([`super::from_json`]), versioned by `format_version`.
pub fn json(plan: &Plan) -> String {
    let mut s = serde_json::to_string_pretty(&JsonPlan {
        summary: plan.summary(),
        plan,
    })
    .expect("plans serialise");
    s.push('\n');
    s
}
