//! Dates and instants as Slack and people write them, parsed one way everywhere (the directory's
//! guest expiries and Slack's answers alike), so formatting differences never show as a diff.

use chrono::{DateTime, NaiveDate, Utc};

/// A calendar day written exactly `YYYY-MM-DD`.
pub fn parse_day(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok()
}

/// `2024-04-10T00:00:00+0000`, `2024-04-10T00:00:00Z` or `2024-04-10` → the date.
pub fn parse_date(s: &str) -> Option<NaiveDate> {
    parse_day(s.trim().get(..10)?)
}

/// An instant in any of the ISO-8601 forms Slack and people write; a date alone means the end
/// of that day, UTC (a guest expiring on a day keeps access through it).
pub fn parse_instant(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    DateTime::parse_from_rfc3339(s)
        .or_else(|_| DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%z"))
        .map(|d| d.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            parse_date(s)
                .and_then(|d| d.and_hms_opt(23, 59, 59))
                .map(|d| d.and_utc())
        })
}
