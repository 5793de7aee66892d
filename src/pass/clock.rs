//! Where a pass reads the time. The time rules of the memory (a leaver's grace period, a stuck
//! op's backoff, the leaver clock) are pure functions of `now`; the pass reads `now` from a
//! [`Clock`], which is the system's for every front end and one that tests set and advance, so
//! that whole passes against the emulator can be run at T, T + grace − 1 s and T + grace
//! without sleeping.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};

/// The time a pass reads: the system's, or a manual one shared by its clones.
#[derive(Debug, Clone, Default)]
pub struct Clock(Option<Arc<Mutex<DateTime<Utc>>>>);

impl Clock {
    /// The system's clock.
    pub fn system() -> Clock {
        Clock(None)
    }

    /// A clock that stands at `at` until it is set or advanced; its clones share it.
    pub fn manual(at: DateTime<Utc>) -> Clock {
        Clock(Some(Arc::new(Mutex::new(at))))
    }

    /// Now, by this clock.
    pub fn now(&self) -> DateTime<Utc> {
        match &self.0 {
            None => Utc::now(),
            Some(at) => *at.lock().unwrap_or_else(std::sync::PoisonError::into_inner),
        }
    }

    /// Moves a manual clock forward by `by` (the system's clock cannot be moved: nothing).
    pub fn advance(&self, by: std::time::Duration) {
        if let Some(at) = &self.0 {
            let mut at = at.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            *at += chrono::Duration::from_std(by).unwrap_or(chrono::Duration::MAX);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_stands_still_until_advanced_and_its_clones_follow() {
        let t = DateTime::from_timestamp(1_000, 0).unwrap();
        let clock = Clock::manual(t);
        let clone = clock.clone();
        assert_eq!(clock.now(), t);
        clock.advance(std::time::Duration::from_secs(59));
        assert_eq!(clone.now(), t + chrono::Duration::seconds(59));
        let system = Clock::system();
        system.advance(std::time::Duration::from_secs(3600));
        assert!((system.now() - Utc::now()).num_seconds().abs() < 5);
    }
}
