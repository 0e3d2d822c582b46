//! The event loop's one timer.
//!
//! Every deadline the relay keeps (the next keepalive, the silence limit,
//! a retry, a grace period) is recomputed on each turn, and most of them
//! move later with every message. Creating a timer per turn would cost the
//! reactor a wakeup of its own each time (async-io notifies its poller on
//! every timer insertion). So the alarm is armed for the earliest deadline
//! and left alone while later ones come and go: when it goes off early,
//! the loop finds nothing due and arms it again for what is due next.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use smol::Timer;

pub struct Alarm {
    timer: Timer,
    armed: Option<Instant>,
}

impl Default for Alarm {
    fn default() -> Alarm {
        Alarm {
            timer: Timer::never(),
            armed: None,
        }
    }
}

impl Alarm {
    /// Makes sure the alarm goes off no later than `deadline`.
    pub fn arm(&mut self, deadline: Option<Instant>) {
        let Some(deadline) = deadline else {
            return;
        };
        if self.armed.is_none_or(|armed| deadline < armed) {
            self.timer.set_at(deadline);
            self.armed = Some(deadline);
        }
    }
}

impl Future for Alarm {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.armed.is_none() {
            return Poll::Pending;
        }
        match Pin::new(&mut self.timer).poll(cx) {
            Poll::Ready(_) => {
                self.armed = None;
                Poll::Ready(())
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_later_deadline_keeps_the_earlier_one_and_an_earlier_one_replaces_it() {
        smol::block_on(async {
            let start = Instant::now();
            let mut alarm = Alarm::default();
            alarm.arm(Some(start + Duration::from_millis(50)));
            alarm.arm(Some(start + Duration::from_secs(60)));
            alarm.arm(None);
            (&mut alarm).await;
            let fired = start.elapsed();
            assert!(fired >= Duration::from_millis(50), "{fired:?}");
            assert!(fired < Duration::from_secs(10), "{fired:?}");

            let start = Instant::now();
            alarm.arm(Some(start + Duration::from_secs(60)));
            alarm.arm(Some(start + Duration::from_millis(20)));
            (&mut alarm).await;
            assert!(start.elapsed() < Duration::from_secs(10));
        });
    }

    #[test]
    fn an_alarm_never_armed_never_goes_off() {
        let mut alarm = Alarm::default();
        let waker = std::task::Waker::noop();
        let mut cx = Context::from_waker(waker);
        assert!(Pin::new(&mut alarm).poll(&mut cx).is_pending());
        alarm.arm(None);
        assert!(Pin::new(&mut alarm).poll(&mut cx).is_pending());
    }
}
