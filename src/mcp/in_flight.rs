//! The requests sent one way and not yet answered the other way.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};

use crate::mcp::message::Id;

/// Most requests [`InFlight`] tracks at once; beyond this the oldest is forgotten, so a remote
/// that never answers cannot make the relay grow without bound.
pub const MAX_IN_FLIGHT: usize = 65_536;

/// Requests sent one way and not yet answered the other way, in the order sent.
///
/// A request whose id is already pending (which JSON-RPC forbids, and a host may still do) is
/// awaited once more: each send gets its own answer, or its own error when the connection is
/// lost. The id then moves to the back, at its latest send. At most [`MAX_IN_FLIGHT`] ids are
/// kept; the oldest are dropped beyond that.
///
/// Every message passes through here, so the common path is one hash-map insert per request
/// and one removal per answer. The order is a log of sends in which an entry whose id was since
/// answered or re-sent is stale: an answer to the oldest send takes its entry off the front,
/// other stale entries stay until the whole log is compacted, once they outnumber the live ones,
/// so it stays within twice the pending ids.
#[derive(Debug, Default, Clone)]
pub struct InFlight {
    next_seq: u64,
    /// Id → its latest send and how many of its sends are unanswered.
    by_id: PendingById,
    /// Sends, oldest first; an entry is live while `by_id` holds its id with its sequence.
    order: VecDeque<(u64, Id)>,
    /// Sends unanswered, of all ids.
    sends: usize,
}

/// An id's latest send, and how many of its sends are unanswered.
#[derive(Debug, Clone, Copy)]
struct Pending {
    latest: u64,
    count: usize,
}

impl InFlight {
    /// Notes a request sent.
    pub fn add(&mut self, id: Id) {
        if self.by_id.len() >= MAX_IN_FLIGHT && !self.by_id.contains_key(&id) {
            self.drop_stale_front();
            if let Some((_, oldest)) = self.order.pop_front() {
                if let Some(dropped) = self.by_id.remove(&oldest) {
                    self.sends -= dropped.count;
                }
            }
        }
        let seq = self.next_seq;
        // A u64 sequence cannot wrap within any real session.
        self.next_seq = self.next_seq.wrapping_add(1);
        let pending = self.by_id.entry(id.clone()).or_insert(Pending {
            latest: seq,
            count: 0,
        });
        pending.latest = seq;
        pending.count += 1;
        self.sends += 1;
        self.order.push_back((seq, id));
        self.compact();
    }

    /// Notes an answer; false if no request with this id was pending.
    pub fn answer(&mut self, id: &Id) -> bool {
        let Some(pending) = self.by_id.get_mut(id) else {
            return false;
        };
        self.sends -= 1;
        pending.count -= 1;
        if pending.count > 0 {
            return true;
        }
        let seq = pending.latest;
        self.by_id.remove(id);
        // Answers mostly come in the order sent: the oldest send is this one, and goes
        // without a lookup. Others leave a stale entry for `compact` (or `add`) to drop.
        if self.order.front().is_some_and(|(oldest, _)| *oldest == seq) {
            self.order.pop_front();
        }
        self.compact();
        true
    }

    /// Whether a request with this id is pending.
    pub fn contains(&self, id: &Id) -> bool {
        self.by_id.contains_key(id)
    }

    /// Number of requests still unanswered, a repeated id once per send.
    pub fn pending(&self) -> usize {
        self.sends
    }

    /// Removes and returns every unanswered request, in the order of each id's latest send,
    /// a repeated id once per send.
    pub fn take_all(&mut self) -> Vec<Id> {
        let order = std::mem::take(&mut self.order);
        let mut by_id = std::mem::take(&mut self.by_id);
        self.sends = 0;
        let mut all = Vec::new();
        for (seq, id) in order {
            // A stale entry, or one whose id is sent again further on in the log, is skipped.
            if let Some(pending) = by_id.get(&id).copied().filter(|p| p.latest == seq) {
                by_id.remove(&id);
                all.extend(std::iter::repeat_n(id, pending.count));
            }
        }
        all
    }

    /// Whether this send is still the latest pending one for its id.
    fn is_live(by_id: &PendingById, seq: u64, id: &Id) -> bool {
        by_id.get(id).is_some_and(|pending| pending.latest == seq)
    }

    fn drop_stale_front(&mut self) {
        while let Some((seq, id)) = self.order.front() {
            if Self::is_live(&self.by_id, *seq, id) {
                break;
            }
            self.order.pop_front();
        }
    }

    fn compact(&mut self) {
        if self.order.len() > 2 * self.by_id.len() + 32 {
            let by_id = &self.by_id;
            self.order
                .retain(|(seq, id)| Self::is_live(by_id, *seq, id));
        }
    }
}

/// Each pending id, with its latest send and its count.
type PendingById = HashMap<Id, Pending, BuildHasherDefault<IdHasher>>;

/// A fast hash for ids (FxHash's multiply-rotate, a word at a time). The ids in the map are the
/// ones our own host sent, so there is nobody to defend against with SipHash's keyed hashing,
/// which cost more than the rest of tracking a request.
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x517c_c1b7_2722_0a95;
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let word = u64::from_le_bytes(chunk.try_into().unwrap_or_default());
            self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(K);
        }
        for &b in chunks.remainder() {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(K);
        }
    }

    fn finish(&self) -> u64 {
        // The multiply leaves the low bits, which pick the bucket, the least mixed.
        self.0.rotate_left(26)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mcp::message::Message;
    use crate::mcp::scanner::Scanner;

    fn num(text: &str) -> Id {
        Id::Number(text.into())
    }

    fn string(text: &str) -> Id {
        Id::String(text.into())
    }

    /// The unanswered ids, oldest first, as a loss would take them.
    fn pending_ids(set: &InFlight) -> Vec<Id> {
        set.clone().take_all()
    }

    /// The relay's use of [`InFlight`]: the host's requests, answered by the remote.
    #[derive(Default)]
    struct Tracker {
        host: Scanner,
        remote: Scanner,
        set: InFlight,
    }

    impl Tracker {
        fn host_sent(&mut self, chunk: &[u8]) {
            let set = &mut self.set;
            self.host.push(chunk, |message| {
                if let Message::Request { id, .. } = message {
                    set.add(id);
                }
            });
        }

        fn remote_sent(&mut self, chunk: &[u8]) {
            let set = &mut self.set;
            self.remote.push(chunk, |message| {
                if let Message::Response { id: Some(id) } = message {
                    set.answer(&id);
                }
            });
        }
    }

    #[test]
    fn take_all_empties_the_set_oldest_first() {
        let mut set = InFlight::default();
        set.add(num("2"));
        set.add(num("1"));
        assert!(set.contains(&num("1")));
        assert_eq!(set.take_all(), vec![num("2"), num("1")]);
        assert_eq!(set.pending(), 0);
        assert!(!set.answer(&num("1")));
    }

    #[test]
    fn pipelined_requests_may_be_answered_out_of_order() {
        let mut in_flight = Tracker::default();
        in_flight.host_sent(b"{\"id\":1,\"method\":\"a\"}\n{\"id\":2,\"method\":\"b\"}\n");
        in_flight.host_sent(b"{\"id\":\"3\",\"method\":\"c\"}\n");
        assert_eq!(in_flight.set.pending(), 3);
        in_flight.remote_sent(b"{\"id\":2,\"result\":{}}\n");
        assert_eq!(pending_ids(&in_flight.set), vec![num("1"), string("3")]);
        in_flight.remote_sent(b"{\"id\":\"3\",\"error\":{}}\n{\"id\":1,\"result\":{}}\n");
        assert_eq!(in_flight.set.pending(), 0);
    }

    #[test]
    fn lines_split_across_calls_are_tracked_in_both_directions() {
        let mut in_flight = Tracker::default();
        in_flight.host_sent(b"{\"id\":\"\\u00");
        in_flight.host_sent(b"41\",\"meth");
        in_flight.host_sent(b"od\":\"m\"}");
        in_flight.host_sent(b"\n");
        assert_eq!(pending_ids(&in_flight.set), vec![string("A")]);
        in_flight.remote_sent(b"{\"i");
        assert_eq!(in_flight.set.pending(), 1);
        in_flight.remote_sent(b"d\":\"A\",\"result\":1}\n");
        assert_eq!(in_flight.set.pending(), 0);
    }

    #[test]
    fn a_repeated_id_is_awaited_once_per_send_at_its_newest_place() {
        let mut in_flight = Tracker::default();
        in_flight.host_sent(b"{\"id\":1,\"method\":\"a\"}\n{\"id\":2,\"method\":\"b\"}\n");
        in_flight.host_sent(b"{\"id\":1,\"method\":\"c\"}\n");
        assert_eq!(
            pending_ids(&in_flight.set),
            vec![num("2"), num("1"), num("1")]
        );
        in_flight.remote_sent(b"{\"id\":1,\"result\":1}\n");
        assert_eq!(pending_ids(&in_flight.set), vec![num("2"), num("1")]);
        in_flight.remote_sent(b"{\"id\":1,\"result\":1}\n");
        assert_eq!(in_flight.set.pending(), 1);
    }

    #[test]
    fn responses_for_unknown_ids_are_ignored() {
        let mut in_flight = Tracker::default();
        in_flight.host_sent(b"{\"id\":1,\"method\":\"a\"}\n");
        in_flight.remote_sent(b"{\"id\":2,\"result\":1}\n{\"id\":\"1\",\"result\":1}\n");
        in_flight.remote_sent(b"{\"id\":1.0,\"result\":1}\n{\"id\":null,\"error\":{}}\n");
        assert_eq!(in_flight.set.pending(), 1);
    }

    #[test]
    fn responses_sent_by_the_host_are_ignored() {
        let mut in_flight = Tracker::default();
        in_flight.host_sent(b"{\"id\":1,\"method\":\"a\"}\n{\"id\":1,\"result\":{}}\n");
        assert_eq!(in_flight.set.pending(), 1);
    }

    #[test]
    fn requests_sent_by_the_remote_are_not_pending() {
        let mut in_flight = Tracker::default();
        in_flight.remote_sent(b"{\"id\":5,\"method\":\"sampling/createMessage\"}\n");
        assert_eq!(in_flight.set.pending(), 0);
        in_flight.host_sent(b"{\"id\":5,\"result\":{}}\n");
        assert_eq!(in_flight.set.pending(), 0);
    }

    #[test]
    fn notifications_are_not_pending() {
        let mut in_flight = Tracker::default();
        in_flight.host_sent(b"{\"method\":\"notifications/initialized\"}\n");
        assert_eq!(in_flight.set.pending(), 0);
    }

    #[test]
    fn batches_are_tracked_element_by_element() {
        let mut in_flight = Tracker::default();
        in_flight.host_sent(
            b"[{\"id\":1,\"method\":\"a\"},{\"method\":\"n\"},{\"id\":2,\"method\":\"b\"}]\n",
        );
        assert_eq!(in_flight.set.pending(), 2);
        in_flight.remote_sent(b"[{\"id\":2,\"result\":1},{\"id\":1,\"error\":{}}]\n");
        assert_eq!(in_flight.set.pending(), 0);
    }

    #[test]
    fn a_resent_id_counts_once_per_send_at_its_latest_place_and_stale_sends_do_not_pile_up() {
        let mut set = InFlight::default();
        set.add(num("1"));
        set.add(num("2"));
        set.add(num("1"));
        assert_eq!(set.pending(), 3);
        assert_eq!(pending_ids(&set), [num("2"), num("1"), num("1")]);
        // Answered out of order, many times over: the log stays near the live count.
        for n in 10..10_000 {
            set.add(num(&n.to_string()));
            if n % 2 == 0 {
                assert!(set.answer(&num(&(n - 1).to_string())) || n == 10);
            }
        }
        assert!(
            set.order.len() <= 2 * set.pending() + 32,
            "{}",
            set.order.len()
        );
        // 9,990 sent, the 4,994 odd ones from 11 on answered.
        assert_eq!(set.pending(), 3 + 4996);
        let all = set.take_all();
        assert_eq!(&all[..3], &[num("2"), num("1"), num("1")]);
        assert_eq!(all.len(), 3 + 4996);
        assert_eq!(set.pending(), 0);
        assert!(!set.answer(&num("2")));
    }

    #[test]
    fn the_oldest_requests_are_dropped_beyond_the_cap() {
        let mut in_flight = Tracker::default();
        let mut input = Vec::new();
        for n in 0..MAX_IN_FLIGHT + 2 {
            input.extend_from_slice(format!("{{\"id\":{n},\"method\":\"m\"}}\n").as_bytes());
        }
        in_flight.host_sent(&input);
        assert_eq!(in_flight.set.pending(), MAX_IN_FLIGHT);
        assert_eq!(pending_ids(&in_flight.set).first(), Some(&num("2")));
        in_flight.remote_sent(b"{\"id\":0,\"result\":1}\n{\"id\":2,\"result\":1}\n");
        assert_eq!(in_flight.set.pending(), MAX_IN_FLIGHT - 1);
        assert_eq!(pending_ids(&in_flight.set).first(), Some(&num("3")));
    }
}
