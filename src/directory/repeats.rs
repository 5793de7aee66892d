//! Warnings that come back row after row are summarised (issue 23): an export with forty
//! permanent guests said "guest … has no expiration" forty times on every validate, plan,
//! apply and daemon pass, and such a stream buries the one real error. The first few of a
//! kind are kept as they are, each at its place; the rest become one line with their count.
//! Errors are never summarised: each skipped row is listed where it is.

use std::collections::HashMap;

use crate::diag::Problem;

use super::{DirectoryIssue, DirectoryProblem};

/// How many warnings of one kind are shown before the rest are counted.
pub const SHOWN: usize = 3;

/// The kinds of warning one person's row gives, which an export repeats for many rows: what
/// the summary calls them, or `None` for a kind that is never summarised.
fn repeatable(issue: &DirectoryIssue) -> Option<&'static str> {
    match issue {
        DirectoryIssue::GuestWithoutExpiry { .. } => Some("guests without an expiration"),
        DirectoryIssue::GuestExpired { .. } => Some("guests whose expiration has passed"),
        _ => None,
    }
}

/// Keeps the first [`SHOWN`] warnings of each repeatable kind and replaces the others with
/// one [`DirectoryIssue::MoreLikeThese`] warning at the first one left out. `problems` stays
/// in its order (sorted by place).
pub fn summarise(problems: &mut Vec<DirectoryProblem>) {
    let kind = |p: &DirectoryProblem| repeatable(&p.kind).filter(|_| !p.is_error());
    let mut totals: HashMap<&'static str, usize> = HashMap::new();
    for what in problems.iter().filter_map(kind) {
        *totals.entry(what).or_default() += 1;
    }
    if totals.values().all(|&n| n <= SHOWN) {
        return;
    }
    let mut seen: HashMap<&'static str, usize> = HashMap::new();
    let mut out = Vec::with_capacity(problems.len());
    for p in problems.drain(..) {
        let Some(what) = kind(&p) else {
            out.push(p);
            continue;
        };
        let n = seen.entry(what).or_default();
        *n += 1;
        if *n <= SHOWN {
            out.push(p);
        } else if *n == SHOWN + 1 {
            let count = totals[what] - SHOWN;
            out.push(Problem::warning(
                p.location,
                DirectoryIssue::MoreLikeThese { count, what },
            ));
        }
    }
    *problems = out;
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::diag::SourceLocation;

    fn guest(line: u32) -> DirectoryProblem {
        Problem::warning(
            SourceLocation::new(&Arc::from("people.csv"), line, 1),
            DirectoryIssue::GuestWithoutExpiry {
                email: format!("g{line}@example.com"),
            },
        )
    }

    fn lines(problems: &[DirectoryProblem]) -> Vec<String> {
        problems.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn the_first_few_of_a_kind_are_shown_and_the_rest_counted_in_one_line() {
        let mut problems: Vec<DirectoryProblem> = (2..=41).map(guest).collect();
        problems.insert(
            3,
            Problem::error(
                SourceLocation::new(&Arc::from("people.csv"), 5, 1),
                DirectoryIssue::MissingEmail,
            ),
        );
        summarise(&mut problems);
        assert_eq!(
            lines(&problems),
            [
                "people.csv:2:1: warning: guest g2@example.com has no expiration",
                "people.csv:3:1: warning: guest g3@example.com has no expiration",
                "people.csv:4:1: warning: guest g4@example.com has no expiration",
                "people.csv:5:1: error: no email: every user needs one",
                "people.csv:5:1: warning: and 37 more guests without an expiration (from here \
                 on)",
            ]
        );
    }

    #[test]
    fn a_few_are_left_as_they_are_and_errors_are_never_summarised() {
        let mut few: Vec<DirectoryProblem> = (2..=4).map(guest).collect();
        let before = few.clone();
        summarise(&mut few);
        assert_eq!(few, before);
        let mut errors: Vec<DirectoryProblem> = (2..=9)
            .map(|line| Problem {
                severity: crate::diag::Severity::Error,
                ..guest(line)
            })
            .collect();
        let before = errors.clone();
        summarise(&mut errors);
        assert_eq!(errors, before);
    }
}
