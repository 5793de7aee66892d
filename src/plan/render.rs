//! Plan reports (DESIGN §6): summary first, then each change with its source location and
//! attribute diffs, in plan order. Text (colour only when asked, i.e. on a TTY), markdown for
//! a pull-request comment, and versioned JSON that `apply --plan` reads back.
//!
//! Every value from outside (the directory, Slack, the state file) is escaped where it is
//! placed ([`crate::diag::escape`]): in the body, shared by text and markdown (where it sits in a
//! code block), control characters and bidi controls are shown escaped, so a value stays on its
//! line and cannot drive a terminal; in markdown prose (the guards under the summary) a value is
//! also kept from writing markup.

use std::fmt::Write;

use serde::Serialize;
use similar::{ChangeTag, TextDiff};

use super::{Change, Op, Plan, Summary, UserRef};
use crate::diag::escape;
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
    let mut remembered = String::new();
    for (n, one, many) in [
        (
            s.pending_deactivations,
            "pending deactivation",
            "pending deactivations",
        ),
        (s.drift, "drifted value", "drifted values"),
        (s.stuck, "stuck op", "stuck ops"),
    ] {
        if n > 0 {
            write!(remembered, ", {}", plural(n, one, many)).unwrap();
        }
    }
    let fields = match c.custom_profile_fields {
        0 => String::new(),
        n => format!(
            "; custom profile fields: {n} of Slack's {}",
            crate::model::CUSTOM_PROFILE_FIELD_LIMIT
        ),
    };
    let second = format!(
        "{}, {}{remembered}.   (live: {} users, {} groups; directory: {} users, {} groups{fields})",
        plural(s.conflicts, "conflict", "conflicts"),
        plural(c.invalid_users, "invalid row", "invalid rows"),
        thousands(c.live_users),
        thousands(c.live_groups),
        thousands(c.directory_users),
        thousands(c.directory_groups),
    );
    (first, second)
}

/// The estimated apply time, when the pass computed it and there is something to apply —
/// and no guard trips: then `apply` writes nothing, and a time would say otherwise.
fn estimate_line(plan: &Plan) -> Option<String> {
    plan.estimate
        .as_ref()
        .filter(|_| !plan.is_empty() && plan.guards.is_empty())
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

/// One value from outside, for a line of the body: [`escape::terminal`].
fn v(value: &str) -> std::borrow::Cow<'_, str> {
    escape::terminal(value)
}

fn member(r: &UserRef, plan: &Plan) -> String {
    let label = match r {
        UserRef::Id(id) => plan.labels.get(id).unwrap_or(id),
        UserRef::New(email) => email,
    };
    v(label).into_owned()
}

/// A `data:` URL (a photo) past this many characters is shown by its start and its length in
/// a plan's text: the JSON plan keeps it whole.
const DATA_URL_SHOWN: usize = 40;

/// The start of a long `data:` URL, if `value` is one.
fn data_url_start(value: &str) -> Option<String> {
    let is_data = value
        .get(..5)
        .is_some_and(|p| p.eq_ignore_ascii_case("data:"));
    let mut chars = value.chars();
    let start: String = chars.by_ref().take(DATA_URL_SHOWN).collect();
    (is_data && chars.next().is_some()).then_some(start)
}

/// A value as a debug string (quoted, control characters escaped), a manager as its label, a
/// long `data:` URL by its start and length.
fn quoted(value: &Option<String>, plan: &Plan, attribute: Attribute) -> String {
    match value {
        None => "(unset)".into(),
        Some(id) if attribute == Attribute::Manager => {
            v(plan.labels.get(id).unwrap_or(id)).into_owned()
        }
        Some(value) => match data_url_start(value) {
            Some(start) => format!("{:?} ({} characters)", start + "…", value.chars().count()),
            None => format!("{value:?}"),
        },
    }
}

fn change_line(c: &Change, plan: &Plan, paint: &Paint) -> String {
    let long = |v: &Option<String>| {
        v.as_ref()
            .is_some_and(|s| s.chars().count() > LONG_VALUE && data_url_start(s).is_none())
    };
    if long(&c.from) && long(&c.to) {
        let (from, to) = (c.from.as_deref().unwrap(), c.to.as_deref().unwrap());
        let (from, to) = (v(from), v(to));
        let diff = TextDiff::from_words(from.as_ref(), to.as_ref());
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
            format!("{} ({})", v(email), v(user_name)),
            source = v(source),
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
            out.push(format!(
                "{head} {:<44} {}",
                format!("{}  {}", v(email), v(id)),
                v(source)
            ));
            for c in changes {
                if *reactivate && c.attribute == Attribute::Active {
                    continue;
                }
                out.push(change_line(c, plan, paint));
            }
        }
        Op::DeactivateUser { id, email, reason } => out.push(format!(
            "{} {:<44} ({})",
            paint.red("- deactivate    "),
            format!("{}  {}", v(email), v(id)),
            v(&reason.to_string())
        )),
        Op::CreateGroup {
            name,
            members,
            source,
        } => {
            out.push(format!(
                "{} {:<44} {}",
                paint.green("+ create group  "),
                v(name),
                v(source)
            ));
            if !members.is_empty() {
                let added = members
                    .iter()
                    .map(|m| Part::plain(format!("+ {}", member(m, plan))));
                wrap_members("    members    ".into(), 15, added, out);
            }
        }
        Op::UpdateGroup {
            id,
            name,
            rename,
            add,
            remove,
        } => {
            let added = add
                .iter()
                .map(|m| Part::painted(&format!("+ {}", member(m, plan)), |s| paint.green(s)));
            let removed = remove.iter().map(|m| {
                Part::painted(
                    &format!("- {}", member(&UserRef::Id(m.clone()), plan)),
                    |s| paint.red(s),
                )
            });
            let (name_shown, id_shown) = (v(name), v(id));
            let width = 18 + name_shown.chars().count() + id_shown.chars().count();
            let head = format!(
                "{} {name_shown} {id_shown}",
                paint.yellow("~ group         ")
            );
            wrap_members(head, width, added.chain(removed), out);
            if let Some(new) = rename {
                out.push(format!("    name         {name:?} → {new:?}"));
            }
        }
        Op::DeleteGroup { id, name } => out.push(format!(
            "{} {:<44} (not in the directory)",
            paint.red("- delete group  "),
            format!("{}  {}", v(name), v(id))
        )),
    }
}

/// The column a member list wraps at: a group of thousands is many lines, never one line of
/// thousands of characters.
const WRAP: usize = 100;

/// One member change of a group (`+ ada@example.com`): its width on screen, and its text
/// (coloured or not).
struct Part {
    width: usize,
    text: String,
}

impl Part {
    fn plain(text: String) -> Part {
        Part {
            width: text.chars().count(),
            text,
        }
    }

    fn painted(text: &str, paint: impl Fn(&str) -> String) -> Part {
        Part {
            width: text.chars().count(),
            text: paint(text),
        }
    }
}

/// `head` (`head_width` columns on screen) followed by `parts` two spaces apart, wrapped at
/// [`WRAP`] columns: continuation lines are indented to the attribute column (17).
fn wrap_members(
    head: String,
    head_width: usize,
    parts: impl Iterator<Item = Part>,
    out: &mut Vec<String>,
) {
    const INDENT: usize = 17;
    let (mut line, mut width, mut fresh) = (head, head_width, false);
    for part in parts {
        if !fresh && width + 2 + part.width > WRAP && width > INDENT {
            out.push(std::mem::take(&mut line));
            line = " ".repeat(INDENT);
            width = INDENT;
            fresh = true;
        }
        if !fresh {
            line.push_str("  ");
            width += 2;
        }
        line.push_str(&part.text);
        width += part.width;
        fresh = false;
    }
    out.push(line);
}

/// What a block of the report body is: for the markdown report's order (what matters most
/// first) and for saying what a bounded report left out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum BlockKind {
    /// A guard the plan trips.
    Guard,
    /// A conflict.
    Conflict,
    /// A row skipped as invalid.
    Skipped,
    /// A stuck op.
    Stuck,
    /// A deactivation, a reactivation or a group deletion: the changes a reviewer must see.
    Risky,
    /// Any other change.
    Change,
    /// A pending leaver, drift, a notice.
    Notice,
}

impl BlockKind {
    /// What kind of block an op is.
    fn of(op: &Op) -> BlockKind {
        match op {
            Op::DeactivateUser { .. }
            | Op::UpdateUser {
                reactivate: true, ..
            }
            | Op::DeleteGroup { .. } => BlockKind::Risky,
            _ => BlockKind::Change,
        }
    }
}

/// The body in blocks (an op with its attribute lines, a conflict, a skipped row, a guard, a
/// notice), in report order: ops, conflicts, skipped rows, guards, notices.
fn body_blocks(plan: &Plan, paint: &Paint) -> Vec<(BlockKind, Vec<String>)> {
    let mut out = Vec::new();
    for op in &plan.ops {
        let mut lines = Vec::new();
        op_lines(op, plan, paint, &mut lines);
        out.push((BlockKind::of(op), lines));
    }
    for c in &plan.conflicts {
        let at = c
            .source
            .as_deref()
            .map(|s| format!("  {}", v(s)))
            .unwrap_or_default();
        out.push((
            BlockKind::Conflict,
            vec![format!(
                "{} {}: {}{at}",
                paint.bold("! conflict      "),
                v(&c.subject),
                v(&c.reason)
            )],
        ));
    }
    for sk in &plan.skipped {
        out.push((
            BlockKind::Skipped,
            vec![format!(
                "{} {}: {}; not synced until the row is fixed  {}",
                paint.bold("! skipped row   "),
                v(&sk.subject),
                v(&sk.cause),
                v(&sk.source)
            )],
        ));
    }
    for g in &plan.guards {
        out.push((
            BlockKind::Guard,
            vec![format!(
                "{} {}: {}",
                paint.red("! guard tripped "),
                g.guard,
                v(&g.message)
            )],
        ));
    }
    memory_blocks(plan, paint, &mut out);
    for n in &plan.notices {
        out.push((
            BlockKind::Notice,
            vec![format!(
                "· notice          {}: {}",
                v(&n.subject),
                v(&n.message)
            )],
        ));
    }
    out
}

/// The blocks of what the memory across passes holds: pending leavers, drift, stuck ops.
fn memory_blocks(plan: &Plan, paint: &Paint, out: &mut Vec<(BlockKind, Vec<String>)>) {
    for p in &plan.pending {
        out.push((
            BlockKind::Notice,
            vec![format!(
                "{} {}: pending deactivation, in {} (absent since {})",
                paint.yellow("… pending        "),
                v(&p.email),
                remaining(p.remaining_secs),
                p.since.format("%Y-%m-%d %H:%M UTC")
            )],
        ));
    }
    for d in &plan.drift {
        let show = |v: &Option<String>| {
            v.as_deref()
                .map_or("(unset)".to_string(), |v| format!("{v:?}"))
        };
        out.push((
            BlockKind::Notice,
            vec![format!(
                "{} {}: {} changed in Slack by hand: {} (directory: {}), {}",
                paint.yellow("~ drift          "),
                v(&d.email),
                d.attribute,
                show(&d.found),
                show(&d.expected),
                match d.action {
                    super::DriftAction::Revert => "reverted by this plan",
                    super::DriftAction::Report => "reported, not reverted (report)",
                }
            )],
        ));
    }
    for st in &plan.stuck {
        let when = match st.retry_at {
            Some(at) => format!("next try {}", at.format("%Y-%m-%d %H:%M:%S UTC")),
            None => "tried again by this plan".to_string(),
        };
        let why = match st.passes {
            0 => format!("held back: {}", v(&st.error)),
            n => format!("failed {n} passes in a row with {}", v(&st.error)),
        };
        out.push((
            BlockKind::Stuck,
            vec![format!(
                "{} {} {}: {why}; {when}",
                paint.red("! stuck          "),
                st.kind,
                v(&st.subject),
            )],
        ));
    }
}

/// The body lines: ops, conflicts, skipped rows, guards, notices.
fn body_lines(plan: &Plan, paint: &Paint) -> Vec<String> {
    body_blocks(plan, paint)
        .into_iter()
        .flat_map(|(_, lines)| lines)
        .collect()
}

/// The body in blocks in the markdown report's order, what a reviewer must see first: guards,
/// conflicts, skipped rows, stuck ops, deactivations, reactivations and group deletions, then
/// the other changes (in plan order), then notices. A bounded report cuts from the end.
fn review_blocks(plan: &Plan) -> Vec<(BlockKind, Vec<String>)> {
    let mut blocks = body_blocks(plan, &Paint(false));
    blocks.sort_by_key(|(kind, _)| *kind);
    blocks
}

/// A wait as people read it: `23h 10m`, `5m 3s`, `2s`.
pub fn remaining(secs: u64) -> String {
    let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    match (h, m) {
        (0, 0) => format!("{s}s"),
        (0, _) => format!("{m}m {s}s"),
        _ => format!("{h}h {m}m"),
    }
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
    if plan.is_empty()
        && plan.conflicts.is_empty()
        && plan.pending.is_empty()
        && plan.drift.is_empty()
        && plan.stuck.is_empty()
        && !plan.falls_short()
    {
        s.push_str("\nNo changes: Slack matches the directory.\n");
    }
    s
}

/// The markdown report's head: title, summary and counts, and a warning block when a guard
/// trips.
fn markdown_head(plan: &Plan) -> String {
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
            writeln!(s, "> - `{}`: {}", g.guard, escape::markdown(&g.message)).unwrap();
        }
    }
    s
}

/// The plan as a pull-request comment: the summary, a warning block when a guard trips, and
/// the body in a `diff` code block, what matters most first ([`review_blocks`]).
pub fn markdown(plan: &Plan) -> String {
    let mut s = markdown_head(plan);
    let body: Vec<String> = review_blocks(plan)
        .into_iter()
        .flat_map(|(_, lines)| lines)
        .collect();
    if body.is_empty() {
        s.push_str("\nNo changes: Slack matches the directory.\n");
    } else {
        let fence = fence(&body);
        write!(s, "\n{fence}diff\n").unwrap();
        for line in body {
            s.push_str(line.trim_end());
            s.push('\n');
        }
        writeln!(s, "{fence}").unwrap();
    }
    s
}

/// A code fence longer than any run of backticks in `lines`, so that a value from the
/// directory cannot close the block and write markdown into the comment.
fn fence(lines: &[String]) -> String {
    let longest = lines
        .iter()
        .flat_map(|l| l.split(|c| c != '`'))
        .map(str::len)
        .max()
        .unwrap_or(0);
    "`".repeat((longest + 1).max(3))
}

/// What a bounded report holds or leaves out, by kind of block.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Tally {
    /// Changes (ops).
    changes: usize,
    /// Of the changes: deactivations, reactivations and group deletions.
    risky: usize,
    conflicts: usize,
    skipped: usize,
    stuck: usize,
    notices: usize,
}

impl Tally {
    fn add(&mut self, kind: BlockKind) {
        match kind {
            BlockKind::Risky => {
                self.changes += 1;
                self.risky += 1;
            }
            BlockKind::Change => self.changes += 1,
            BlockKind::Conflict => self.conflicts += 1,
            BlockKind::Skipped => self.skipped += 1,
            BlockKind::Stuck => self.stuck += 1,
            BlockKind::Notice => self.notices += 1,
            BlockKind::Guard => {}
        }
    }

    fn of<'a>(kinds: impl Iterator<Item = &'a BlockKind>) -> Tally {
        let mut t = Tally::default();
        kinds.for_each(|k| t.add(*k));
        t
    }

    /// `total` less `self`.
    fn left_of(self, total: Tally) -> Tally {
        Tally {
            changes: total.changes - self.changes,
            risky: total.risky - self.risky,
            conflicts: total.conflicts - self.conflicts,
            skipped: total.skipped - self.skipped,
            stuck: total.stuck - self.stuck,
            notices: total.notices - self.notices,
        }
    }
}

/// [`markdown`] in at most `max_bytes` bytes (at least 1,024), for a pull-request comment
/// (GitHub refuses more than 65,536 characters): the whole report when it fits; otherwise the
/// head (summary, counts, guards) and the first blocks of the body that fit, whole, in the
/// order of [`review_blocks`] — guards, conflicts, skipped rows, stuck ops, deactivations,
/// reactivations and group deletions before any other change — then a note saying what was
/// left out and where the full plan is.
pub fn markdown_bounded(plan: &Plan, max_bytes: usize) -> String {
    let full = markdown(plan);
    if full.len() <= max_bytes {
        return full;
    }
    let head = markdown_head(plan);
    let blocks = review_blocks(plan);
    let totals = Tally::of(blocks.iter().map(|(k, _)| k));
    // The note is longest when nothing is shown: reserve that much.
    let reserve = omitted_note(Tally::default(), totals).len();
    let fence = fence(&body_lines(plan, &Paint(false)));
    let open = format!("\n{fence}diff\n");
    let close = format!("{fence}\n");
    let budget = max_bytes.saturating_sub(head.len() + open.len() + close.len() + reserve);
    let mut shown = String::new();
    let mut counted = Tally::default();
    for (kind, lines) in &blocks {
        let text: String = lines
            .iter()
            .map(|l| format!("{}\n", l.trim_end()))
            .collect();
        if shown.len() + text.len() > budget {
            break;
        }
        shown.push_str(&text);
        counted.add(*kind);
    }
    let mut s = head;
    if !shown.is_empty() {
        s.push_str(&open);
        s.push_str(&shown);
        s.push_str(&close);
    }
    s.push_str(&omitted_note(counted, totals));
    if s.len() > max_bytes {
        // Only a head longer than the limit gets here: cut it at a character boundary.
        const CUT: &str = "\n\n*(report cut at the size limit)*\n";
        let mut end = max_bytes.saturating_sub(CUT.len());
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push_str(CUT);
    }
    s
}

/// The note under a bounded report: `shown` of `totals` shown, and what was left out.
fn omitted_note(shown: Tally, totals: Tally) -> String {
    let omitted = shown.left_of(totals);
    let mut changes = plural_thousands(omitted.changes, "change", "changes");
    if omitted.risky > 0 {
        changes.push_str(&format!(
            " ({} of them {})",
            thousands(omitted.risky),
            "deactivations, reactivations or group deletions"
        ));
    }
    let mut left_out = vec![changes];
    for (n, one, many) in [
        (omitted.conflicts, "conflict", "conflicts"),
        (omitted.skipped, "skipped row", "skipped rows"),
        (omitted.stuck, "stuck op", "stuck ops"),
        (omitted.notices, "notice", "notices"),
    ] {
        if n > 0 {
            left_out.push(plural_thousands(n, one, many));
        }
    }
    format!(
        "\n> [!NOTE]\n> This report is cut to fit a comment: it shows {} of {} changes; not shown: \
         {}. Guards, conflicts, skipped rows, stuck ops, deactivations, reactivations and group \
         deletions come first. The full plan is `scimsync plan --format json` (in CI: the plan \
         artifact).\n",
        thousands(shown.changes),
        thousands(totals.changes),
        left_out.join(", ")
    )
}

fn plural_thousands(n: usize, one: &str, many: &str) -> String {
    format!("{} {}", thousands(n), if n == 1 { one } else { many })
}

/// The JSON plan as it is written: the plan with its [`Summary`]; also the body of `apply
/// --format json`'s document.
#[derive(Serialize)]
pub struct JsonPlan<'a> {
    summary: Summary,
    /// `skipped: []` when the plan has none (the plan itself leaves it out then, so that a plan
    /// saved before it existed still verifies): a reader always finds the list.
    #[serde(skip_serializing_if = "Option::is_none")]
    skipped: Option<[(); 0]>,
    #[serde(flatten)]
    plan: &'a Plan,
}

impl<'a> JsonPlan<'a> {
    /// `plan` as it is written in JSON.
    pub fn of(plan: &'a Plan) -> JsonPlan<'a> {
        JsonPlan {
            summary: plan.summary(),
            skipped: plan.skipped.is_empty().then_some([]),
            plan,
        }
    }
}

/// The plan as pretty JSON with its [`Summary`] added: the format `apply --plan` reads back
/// ([`super::from_json`]), versioned by `format_version`.
pub fn json(plan: &Plan) -> String {
    let mut s = serde_json::to_string_pretty(&JsonPlan::of(plan)).expect("plans serialise");
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::LiveState;
    use crate::plan::tests::{directory, group, person, policy};
    use crate::plan::{Conflict, Leaving};

    /// An initial import: `n` people to create, one group of them all, and three conflicts.
    fn import(n: usize) -> Plan {
        let emails: Vec<String> = (0..n)
            .map(|i| format!("person{i:05}@example.com"))
            .collect();
        let users = emails
            .iter()
            .enumerate()
            .map(|(i, e)| person(e, u32::try_from(i + 2).unwrap()))
            .collect();
        let members: Vec<&str> = emails.iter().map(String::as_str).collect();
        let mut p = crate::plan::plan(
            &directory(users, vec![group("everyone", &members)]),
            &LiveState::default(),
            &policy(),
        );
        for i in 0..3 {
            p.conflicts.push(Conflict {
                subject: format!("dup{i}@example.com"),
                reason: "email held by an account outside scope".into(),
                source: Some(format!("people.csv:{i}")),
            });
        }
        p
    }

    #[test]
    fn bounded_markdown_fits_and_still_counts() {
        let p = import(2_000);
        let full = markdown(&p);
        assert!(
            full.len() > 65_536,
            "the unbounded report is {} bytes",
            full.len()
        );
        for max in [60_000, 20_000, 4_096, 1_024] {
            let md = markdown_bounded(&p, max);
            assert!(md.len() <= max, "{max}: {} bytes", md.len());
            assert!(
                md.contains("Plan: 2000 to create"),
                "{max}: counts kept: {md}"
            );
            assert!(md.contains("3 conflicts"), "{max}");
            assert!(md.contains("of 2,001 changes"), "{max}: the note: {md}");
            assert!(md.contains("not shown:"), "{max}");
            // The shown changes are whole blocks and the code block is closed.
            assert_eq!(md.matches("```").count() % 2, 0, "{max}");
        }
        let md = markdown_bounded(&p, 60_000);
        assert!(
            md.contains("+ create user    person00000@example.com"),
            "{md}"
        );
        assert!(
            md.contains("! conflict       dup2@example.com"),
            "conflicts come before the changes: {md}"
        );
        assert!(md.len() > 55_000, "the space is used: {}", md.len());
        // Cut harder, the conflicts still show and the changes are what is left out.
        let md = markdown_bounded(&p, 4_096);
        assert!(md.contains("! conflict       dup2@example.com"), "{md}");
    }

    /// A `data:` photo is shown by its start and length in text (never word-diffed whole);
    /// a URL of any length and a short `data:` URL are shown whole.
    #[test]
    fn a_long_data_url_is_shown_by_its_start() {
        let data = format!("data:image/png;base64,{}", "A".repeat(5_000));
        let c = Change {
            attribute: Attribute::Photo,
            from: Some(format!("data:image/png;base64,{}", "B".repeat(5_000))),
            to: Some(data.clone()),
        };
        let line = change_line(&c, &import(0), &Paint(false));
        assert_eq!(
            line,
            "    photo        \"data:image/png;base64,BBBBBBBBBBBBBBBBBB…\" (5022 characters) → \"data:image/png;base64,AAAAAAAAAAAAAAAAAA…\" (5022 characters)"
        );
        let short = Change {
            attribute: Attribute::Photo,
            from: None,
            to: Some("data:,x".into()),
        };
        let line = change_line(&short, &import(0), &Paint(false));
        assert_eq!(line, "    photo        (unset) → \"data:,x\"");
    }

    #[test]
    fn directory_values_cannot_close_the_code_block() {
        let mut p = import(2);
        p.conflicts[0].subject = "x```\n# injected".into();
        let md = markdown(&p);
        assert!(
            md.contains("\n````diff\n") && md.ends_with("\n````\n"),
            "{md}"
        );
        let bounded = markdown_bounded(&p, md.len() - 1);
        assert!(bounded.contains("\n````diff\n"), "{bounded}");
    }

    /// A plan with `value` in every string a report shows that comes from outside: each kind
    /// of op, a manager and member label, a long value diff, a conflict, a guard, a pending
    /// leaver, drift, a stuck op and a notice.
    fn plan_showing(value: &str) -> Plan {
        use crate::model::Change;
        use crate::plan::{PlannedOp, UserFields};
        let s = |what: &str| format!("{what}{value}");
        let long = |what: &str| format!("{what} is a value long enough for a word diff {value}");
        let mut p = Plan::of(
            vec![
                Op::CreateUser {
                    email: s("new@"),
                    user_name: s("new"),
                    fields: UserFields::default(),
                    source: s("people.csv:"),
                },
                Op::UpdateUser {
                    id: s("W1"),
                    email: s("ada@"),
                    reactivate: false,
                    fields: UserFields::default(),
                    changes: vec![
                        Change {
                            attribute: Attribute::Title,
                            from: Some(long("old")),
                            to: Some(long("new")),
                        },
                        Change {
                            attribute: Attribute::Manager,
                            from: None,
                            to: Some("W2".into()),
                        },
                    ],
                    source: s("people.csv:"),
                },
                Op::DeactivateUser {
                    id: s("W3"),
                    email: s("gone@"),
                    reason: Leaving::Inactive {
                        at: s("people.csv:"),
                    },
                },
                Op::CreateGroup {
                    name: s("team"),
                    members: vec![UserRef::New(s("new@")), UserRef::Id("W2".into())],
                    source: s("groups.yaml:"),
                },
                Op::UpdateGroup {
                    id: s("S1"),
                    name: s("ops"),
                    rename: Some(s("ops2")),
                    add: vec![UserRef::Id("W2".into())],
                    remove: vec!["W2".into()],
                },
                Op::DeleteGroup {
                    id: s("S2"),
                    name: s("old"),
                },
            ]
            .into_iter()
            .map(PlannedOp::new)
            .collect(),
        );
        p.labels.insert("W2".into(), s("boss@"));
        add_findings(&mut p, &s);
        p
    }

    /// `p` with a conflict, a guard, a pending leaver, drift, a stuck op, a notice and a
    /// skipped row, each showing `s`'s value.
    fn add_findings(p: &mut Plan, s: &impl Fn(&str) -> String) {
        use crate::plan::{Drift, DriftAction, Pending, Stuck};
        use crate::plan::{Guard, GuardTrip, Notice, OpKind};
        p.conflicts.push(Conflict {
            subject: s("dup@"),
            reason: s("held by "),
            source: Some(s("people.csv:")),
        });
        p.guards.push(GuardTrip {
            guard: Guard::MaxSourceShrink,
            limit: 0.1,
            actual: 1.0,
            message: s("source "),
        });
        p.pending.push(Pending {
            id: s("W4"),
            email: s("leaver@"),
            since: chrono::DateTime::UNIX_EPOCH,
            due: chrono::DateTime::UNIX_EPOCH,
            remaining_secs: 60,
        });
        p.drift.push(Drift {
            email: s("drift@"),
            attribute: Attribute::Title,
            id: s("W5"),
            found: Some(s("found")),
            expected: Some(s("expected")),
            action: DriftAction::Report,
        });
        p.stuck.push(Stuck {
            subject: s("stuck@"),
            kind: OpKind::CreateUser,
            error: s("invalid_email: "),
            passes: 3,
            retry_at: None,
            key: s("key"),
        });
        p.notices.push(Notice {
            subject: s("group "),
            message: s("is not in "),
        });
        p.skipped.push(crate::plan::Skipped {
            source: s("people.csv:"),
            subject: s("typo@"),
            cause: s("is not a valid email "),
            category: crate::plan::SkipCause::Email,
        });
    }

    #[test]
    fn skipped_rows_are_listed_with_their_place_and_cause_in_every_format() {
        let mut p = import(1);
        p.counts.invalid_users = 1;
        p.skipped.push(crate::plan::Skipped {
            source: "people.csv:14".into(),
            subject: "new.hire@exmaple".into(),
            cause: "\"new.hire@exmaple\" is not a valid email address".into(),
            category: crate::plan::SkipCause::Email,
        });
        let line = "! skipped row    new.hire@exmaple: \"new.hire@exmaple\" is not a valid email \
                    address; not synced until the row is fixed  people.csv:14";
        let shown = text(&p, false);
        assert!(shown.contains(line), "{shown}");
        let md = markdown(&p);
        assert!(md.contains(line), "{md}");
        assert!(
            md.find(line) < md.find("+ create user"),
            "skipped rows before changes: {md}"
        );
        let doc: serde_json::Value = serde_json::from_str(&json(&p)).unwrap();
        assert_eq!(doc["skipped"][0]["source"], "people.csv:14", "{doc}");
        assert_eq!(doc["skipped"][0]["subject"], "new.hire@exmaple");
        assert_eq!(doc["skipped"][0]["category"], "email");
        assert_eq!(doc["summary"]["skipped"], 1);
        // A plan without any still has the list, and reads back the same.
        let none: serde_json::Value = serde_json::from_str(&json(&import(1))).unwrap();
        assert_eq!(none["skipped"], serde_json::json!([]), "{none}");
        let back: Plan = serde_json::from_str(&json(&p)).unwrap();
        assert_eq!(back.skipped, p.skipped);
        // Nothing else to do: never "no changes".
        let mut only = Plan::of(vec![]);
        only.skipped = p.skipped.clone();
        only.counts.invalid_users = 1;
        assert!(!text_of(&only).contains("No changes"), "{}", text_of(&only));
        assert!(
            !markdown(&only).contains("No changes"),
            "{}",
            markdown(&only)
        );
    }

    /// `report` without its colour sequences (`ESC [ … m`).
    fn without_colour(report: &str) -> String {
        let mut out = String::new();
        let mut rest = report;
        while let Some(at) = rest.find('\x1b') {
            out.push_str(&rest[..at]);
            let tail = &rest[at..];
            rest = tail.find('m').map_or("", |end| &tail[end + 1..]);
        }
        out.push_str(rest);
        out
    }

    fn text_of(p: &Plan) -> String {
        text(p, false)
    }

    #[test]
    fn a_large_group_change_wraps_and_keeps_every_member() {
        use crate::plan::PlannedOp;
        let members: Vec<UserRef> = (0..120)
            .map(|i| UserRef::New(format!("person{i:04}@example.com")))
            .collect();
        let p = Plan::of(vec![
            PlannedOp::new(Op::CreateGroup {
                name: "everyone".into(),
                members: members.clone(),
                source: "groups.yaml:1".into(),
            }),
            PlannedOp::new(Op::UpdateGroup {
                id: "S4SVZW3P6SZ".into(),
                name: "eng".into(),
                rename: None,
                add: members,
                remove: vec!["W1".into()],
            }),
        ]);
        for report in [text(&p, false), text(&p, true), markdown(&p)] {
            let plain = without_colour(&report);
            let longest = plain
                .lines()
                .filter(|l| l.contains("person"))
                .map(|l| l.chars().count())
                .max()
                .unwrap();
            assert!(longest <= WRAP, "{longest}: {plain}");
            for i in 0..120 {
                assert_eq!(
                    plain
                        .matches(&format!("+ person{i:04}@example.com"))
                        .count(),
                    2,
                    "{plain}"
                );
            }
            assert!(plain.contains("- W1"), "{plain}");
            assert!(
                plain.contains("~ group          eng S4SVZW3P6SZ  + person0000@example.com"),
                "{plain}"
            );
            assert!(
                plain.contains("    members      + person0000@example.com  + person0001"),
                "{plain}"
            );
            assert!(
                plain.contains("\n                 + person"),
                "continuation lines are indented: {plain}"
            );
        }
    }

    #[test]
    fn no_estimate_is_shown_when_a_guard_trips() {
        use crate::plan::{Guard, GuardTrip};
        let mut p = import(3);
        p.estimate = Some(crate::plan::estimate::estimate(&p, 1.0));
        assert!(text(&p, false).contains("Estimated apply time"));
        assert!(markdown(&p).contains("Estimated apply time"));
        p.guards.push(GuardTrip {
            guard: Guard::MaxDeactivations,
            limit: 1.0,
            actual: 2.0,
            message: "2 deactivations planned, limit 1 (1 over)".into(),
        });
        assert!(
            !text(&p, false).contains("Estimated"),
            "{}",
            text(&p, false)
        );
        assert!(!markdown(&p).contains("Estimated"), "{}", markdown(&p));
    }

    #[test]
    fn the_bounded_comment_shows_deactivations_and_reactivations_before_other_changes() {
        use crate::plan::PlannedOp;
        let mut p = import(2_000);
        for i in 0..7 {
            p.ops.push(PlannedOp::new(Op::DeactivateUser {
                id: format!("W{i}"),
                email: format!("leaver{i}@example.com"),
                reason: Leaving::Absent,
            }));
        }
        p.ops.push(PlannedOp::new(Op::UpdateUser {
            id: "W99".into(),
            email: "back@example.com".into(),
            reactivate: true,
            fields: crate::plan::UserFields::default(),
            changes: vec![],
            source: "people.csv:9".into(),
        }));
        for max in [60_000, 4_096] {
            let md = markdown_bounded(&p, max);
            assert!(md.len() <= max);
            for i in 0..7 {
                assert!(
                    md.contains(&format!("leaver{i}@example.com")),
                    "{max}: {md}"
                );
            }
            assert!(
                md.contains("↺ reactivate     back@example.com"),
                "{max}: {md}"
            );
            assert!(md.contains("of 2,009 changes; not shown:"), "{max}: {md}");
            assert!(!md.contains("of them deactivations"), "{max}: {md}");
        }
        // Too small for them all: the note says risky changes were left out.
        let md = markdown_bounded(&p, 1_100);
        assert!(
            md.contains("of them deactivations, reactivations or group deletions"),
            "{md}"
        );
    }

    #[test]
    fn every_value_from_outside_is_escaped_in_every_format() {
        let hostile = "\x1b[2K\x1b[1A\r\n## ✅ Plan: no changes\n<!-- \u{202e}\u{9b}\t`[x](y)`";
        // The ordinary value is as wide as the hostile one shown escaped: member lists wrap
        // by width, and only the line breaks a value could add are compared.
        let wide = "x".repeat(escape::terminal(hostile).chars().count());
        let (ordinary, attacked) = (plan_showing(&wide), plan_showing(hostile));
        for color in [false, true] {
            let (before, after) = (text(&ordinary, color), text(&attacked, color));
            assert_eq!(before.lines().count(), after.lines().count(), "{after}");
            assert_eq!(
                after.matches('\x1b').count(),
                before.matches('\x1b').count(),
                "only the report's own colour sequences are written raw: {after}"
            );
            assert!(
                !after.contains(['\r', '\t', '\u{202e}', '\u{9b}']),
                "{after}"
            );
        }
        let md = markdown(&attacked);
        assert_eq!(
            markdown(&ordinary).lines().count(),
            md.lines().count(),
            "{md}"
        );
        assert!(
            !md.chars().any(|c| c != '\n' && escape::is_unsafe(c)),
            "{md}"
        );
        // The guard, outside the code block, is markdown-escaped.
        assert!(
            md.contains("> - `max_source_shrink`: source \\\\u\\{1b\\}\\[2K"),
            "{md}"
        );
        assert!(!md.split("```").next().unwrap().contains("<!--"), "{md}");
        // JSON keeps every value exactly.
        let back: Plan = serde_json::from_str(&json(&attacked)).unwrap();
        assert_eq!(back.conflicts, attacked.conflicts);
    }

    #[test]
    fn bounded_markdown_is_the_whole_report_when_it_fits() {
        let p = import(3);
        let full = markdown(&p);
        assert_eq!(markdown_bounded(&p, full.len()), full);
        let cut = markdown_bounded(&p, full.len() - 1);
        assert!(cut.len() < full.len() && cut.contains("not shown"), "{cut}");
    }
}
