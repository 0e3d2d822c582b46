//! Futures that run beside the session on the same thread and the same
//! event loop: the carriers of jump hosts' channels and a ProxyCommand's
//! stderr. They live as long as the connection they serve: dropping the
//! handle drops the future.
//!
//! Not an executor: there are never more than a few of them, so each wake
//! polls the session and every companion, with the one waker of
//! `block_on`. That is all they need; `smol::LocalExecutor` would bring a
//! work-stealing executor into a binary with a size budget (its cost is in
//! `benches/README.md`).

use std::cell::RefCell;
use std::future::{Future, poll_fn};
use std::pin::{Pin, pin};
use std::rc::Rc;
use std::task::Poll;

type Boxed = Pin<Box<dyn Future<Output = ()>>>;

/// The companions of one run.
#[derive(Default)]
pub struct Companions {
    /// By id; `None` while being polled.
    running: RefCell<Vec<(u64, Option<Boxed>)>>,
    next_id: std::cell::Cell<u64>,
}

/// A companion's handle: dropping it ends the companion.
pub struct Companion {
    companions: Rc<Companions>,
    id: u64,
}

impl Companion {
    /// Whether the future has come to its end.
    pub fn finished(&self) -> bool {
        // Polled only between the main future's polls, so never seen mid-poll.
        self.companions
            .running
            .borrow()
            .iter()
            .any(|(id, future)| *id == self.id && future.is_none())
    }
}

impl Drop for Companion {
    fn drop(&mut self) {
        // Taken out before it is dropped: its drop may touch the list.
        let removed = {
            let mut running = self.companions.running.borrow_mut();
            running
                .iter()
                .position(|(id, _)| *id == self.id)
                .map(|at| running.remove(at))
        };
        drop(removed);
    }
}

impl Companions {
    /// Starts `future` beside the session.
    pub fn spawn(self: &Rc<Self>, future: impl Future<Output = ()> + 'static) -> Companion {
        let id = self.next_id.get();
        self.next_id.set(id + 1);
        self.running.borrow_mut().push((id, Some(Box::pin(future))));
        Companion {
            companions: Rc::clone(self),
            id,
        }
    }

    /// Runs `main` to its end, and the companions while it runs.
    pub async fn run<T>(&self, main: impl Future<Output = T>) -> T {
        let mut main = pin!(main);
        poll_fn(|cx| {
            if let Poll::Ready(value) = main.as_mut().poll(cx) {
                return Poll::Ready(value);
            }
            let ids: Vec<u64> = self.running.borrow().iter().map(|(id, _)| *id).collect();
            for id in ids {
                let taken = self
                    .running
                    .borrow_mut()
                    .iter_mut()
                    .find(|(i, _)| *i == id)
                    .and_then(|(_, future)| future.take());
                let Some(mut future) = taken else { continue };
                let done = future.as_mut().poll(cx).is_ready();
                let mut running = self.running.borrow_mut();
                if let Some(slot) = running.iter_mut().find(|(i, _)| *i == id) {
                    // A finished companion stays listed, empty, until its
                    // handle goes.
                    if !done {
                        slot.1 = Some(future);
                    }
                }
            }
            Poll::Pending
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[test]
    fn companions_run_while_the_main_future_runs_and_stop_with_their_handle() {
        let companions = Rc::new(Companions::default());
        let ticks = Rc::new(Cell::new(0u32));
        let counted = Rc::clone(&ticks);
        let handle = companions.spawn(async move {
            loop {
                counted.set(counted.get() + 1);
                smol::Timer::after(std::time::Duration::from_millis(1)).await;
            }
        });
        let seen = smol::block_on(companions.run(async {
            while ticks.get() < 5 {
                smol::Timer::after(std::time::Duration::from_millis(1)).await;
            }
            ticks.get()
        }));
        assert!(seen >= 5);
        drop(handle);
        assert!(companions.running.borrow().is_empty());
        let after = ticks.get();
        smol::block_on(companions.run(smol::Timer::after(std::time::Duration::from_millis(20))));
        assert_eq!(ticks.get(), after, "a dropped companion ran");
    }
}
