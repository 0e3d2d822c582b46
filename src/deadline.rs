//! Instants later than another by a duration, without overflow: every
//! deadline the program keeps goes through here, so that no flag value and
//! no clock can make an addition panic (with `panic = "abort"`, a panic is
//! an abort and no answer for the host).

use std::time::{Duration, Instant};

/// As good as never for a deadline, and far within what `Instant` can hold.
const FAR: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// `at + wait`, or as late as can be if that is beyond what `Instant` holds.
pub fn after(at: Instant, wait: Duration) -> Instant {
    at.checked_add(wait)
        .or_else(|| at.checked_add(FAR))
        .unwrap_or(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deadline_past_what_instant_holds_is_far_away_not_a_panic() {
        let now = Instant::now();
        assert_eq!(
            after(now, Duration::from_secs(5)),
            now + Duration::from_secs(5)
        );
        assert!(after(now, Duration::MAX) >= now + FAR);
        assert!(after(now, Duration::from_secs(u64::MAX / 2)) > now);
    }
}
