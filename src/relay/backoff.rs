//! How long to wait between attempts to reconnect.
//!
//! Exponential, from [`FIRST_WAIT`] doubling to [`LONGEST_WAIT`], each wait
//! jittered by ±25 %: a server that restarts should not be met by every
//! client at the same instant, and a network that is back should be used
//! within seconds, not minutes.

use std::time::Duration;

/// The wait before the first attempt: long enough for a restarting server
/// to be listening again, short enough not to be noticed after a blip.
pub const FIRST_WAIT: Duration = Duration::from_secs(1);
/// The longest wait between attempts, so that a network that comes back is
/// used within half a minute.
pub const LONGEST_WAIT: Duration = Duration::from_secs(30);

/// The attempts made so far after one loss.
#[derive(Debug, Default)]
pub struct Backoff {
    attempts: u32,
}

impl Backoff {
    /// The wait before the next attempt; `random` is any u32, uniformly drawn.
    pub fn next_wait(&mut self, random: u32) -> Duration {
        let base = FIRST_WAIT
            .saturating_mul(1u32 << self.attempts.min(16))
            .min(LONGEST_WAIT);
        self.attempts = self.attempts.saturating_add(1);
        let spread = 0.75 + 0.5 * (f64::from(random) / f64::from(u32::MAX));
        base.mul_f64(spread)
    }

    /// Attempts made so far.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_from_one_second_to_thirty_within_a_quarter() {
        let mut lowest = Backoff::default();
        let mut highest = Backoff::default();
        let expected = [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0];
        for base in expected {
            assert_eq!(lowest.next_wait(0).as_secs_f64(), base * 0.75);
            assert_eq!(highest.next_wait(u32::MAX).as_secs_f64(), base * 1.25);
        }
        assert_eq!(lowest.attempts(), expected.len() as u32);
        for _ in 0..100 {
            lowest.next_wait(0);
        }
        assert_eq!(lowest.next_wait(0), LONGEST_WAIT.mul_f64(0.75));
    }
}
