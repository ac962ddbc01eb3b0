//! One session's view of its selected mailbox: the sequence-number ↔ UID
//! map that RFC 3501 §2.3.1.2 defines per session, and which changes only
//! when this session reports EXISTS or EXPUNGE (RFC 3501 §7.4.1).

use std::collections::BTreeSet;
use std::num::NonZeroU32;

use crate::imap::proto::types::SequenceSet;

#[derive(Debug)]
pub struct View {
    pub mailbox_id: u64,
    pub uidvalidity: u32,
    pub read_only: bool,
    /// UIDs in ascending order; sequence number n is `uids[n - 1]`.
    uids: Vec<u32>,
    /// UIDs that are \Recent in this session (RFC 3501 §2.3.2).
    recent: BTreeSet<u32>,
    /// The mailbox's HIGHESTMODSEQ that this view reflects: every change
    /// with a larger MODSEQ has not been reported to the client yet.
    pub modseq: u64,
    /// The keywords the client was told of in FLAGS (RFC 3501 §7.2.6).
    pub keywords: Vec<String>,
}

/// A sequence set that names messages this view does not have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidSequence;

impl View {
    pub fn new(
        mailbox_id: u64,
        uidvalidity: u32,
        read_only: bool,
        uids: Vec<u32>,
        modseq: u64,
    ) -> View {
        View {
            mailbox_id,
            uidvalidity,
            read_only,
            uids,
            recent: BTreeSet::new(),
            modseq,
            keywords: Vec::new(),
        }
    }

    /// The number of messages the client knows of (its last EXISTS).
    pub fn exists(&self) -> u32 {
        self.uids.len() as u32
    }

    pub fn uids(&self) -> &[u32] {
        &self.uids
    }

    /// The highest UID the client knows of, 0 if none.
    pub fn last_uid(&self) -> u32 {
        self.uids.last().copied().unwrap_or(0)
    }

    pub fn seq_of(&self, uid: u32) -> Option<NonZeroU32> {
        self.uids
            .binary_search(&uid)
            .ok()
            .and_then(|i| NonZeroU32::new(i as u32 + 1))
    }

    pub fn mark_recent(&mut self, uid: u32) {
        self.recent.insert(uid);
    }

    pub fn is_recent(&self, uid: u32) -> bool {
        self.recent.contains(&uid)
    }

    /// The UIDs \Recent in this session, ascending.
    pub fn recent_uids(&self) -> Vec<u32> {
        self.recent.iter().copied().collect()
    }

    pub fn recent_count(&self) -> u32 {
        self.recent.len() as u32
    }

    /// A message the client is about to be told of with EXISTS.
    pub fn push(&mut self, uid: u32) {
        debug_assert!(uid > self.last_uid());
        self.uids.push(uid);
    }

    /// Removes a message and returns the sequence number it had, for the
    /// EXPUNGE response (later numbers shift down by one).
    pub fn remove(&mut self, uid: u32) -> Option<NonZeroU32> {
        let i = self.uids.binary_search(&uid).ok()?;
        self.uids.remove(i);
        self.recent.remove(&uid);
        NonZeroU32::new(i as u32 + 1)
    }

    /// The (sequence number, UID) pairs a set names, ascending, each once.
    ///
    /// For sequence numbers, `*` is the last message, and a number past
    /// the last one is an error (the client can only know numbers it was
    /// told). For UIDs, `*` is the highest UID and UIDs that do not exist
    /// are simply not there (RFC 3501 §6.4.8); `n:*` always includes the
    /// last message even when n is above it (RFC 3501 §9, seq-range).
    pub fn resolve(
        &self,
        set: &SequenceSet,
        uid: bool,
    ) -> Result<Vec<(NonZeroU32, u32)>, InvalidSequence> {
        let mut picked: BTreeSet<usize> = BTreeSet::new();
        if uid {
            let largest = self.last_uid();
            for range in &set.0 {
                let (lo, hi) = range.bounds(largest);
                let start = self.uids.partition_point(|&u| u < lo);
                let end = self.uids.partition_point(|&u| u <= hi);
                picked.extend(start..end);
            }
        } else {
            let largest = self.exists();
            for range in &set.0 {
                let (lo, hi) = range.bounds(largest);
                if lo == 0 || hi > largest {
                    return Err(InvalidSequence);
                }
                picked.extend((lo as usize - 1)..(hi as usize));
            }
        }
        Ok(picked
            .into_iter()
            .filter_map(|i| NonZeroU32::new(i as u32 + 1).map(|seq| (seq, self.uids[i])))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::imap::proto::types::{SeqOrUid, SeqRange};

    fn set(ranges: &[(u32, u32)]) -> SequenceSet {
        let v = |n: u32| match NonZeroU32::new(n) {
            Some(n) => SeqOrUid::Value(n),
            None => SeqOrUid::Asterisk,
        };
        SequenceSet(
            ranges
                .iter()
                .map(|&(a, b)| SeqRange {
                    start: v(a),
                    end: v(b),
                })
                .collect(),
        )
    }

    fn view() -> View {
        View::new(1, 7, false, vec![3, 5, 9, 10], 1)
    }

    #[test]
    fn sequence_numbers() {
        let v = view();
        let got: Vec<u32> = v
            .resolve(&set(&[(2, 3)]), false)
            .expect("valid")
            .iter()
            .map(|p| p.1)
            .collect();
        assert_eq!(got, vec![5, 9]);
        // 0 stands for `*` here.
        let got: Vec<u32> = v
            .resolve(&set(&[(0, 3)]), false)
            .expect("valid")
            .iter()
            .map(|p| p.0.get())
            .collect();
        assert_eq!(got, vec![3, 4]);
        assert_eq!(v.resolve(&set(&[(5, 5)]), false), Err(InvalidSequence));
    }

    #[test]
    fn uids() {
        let v = view();
        let got: Vec<u32> = v
            .resolve(&set(&[(4, 9)]), true)
            .expect("valid")
            .iter()
            .map(|p| p.1)
            .collect();
        assert_eq!(got, vec![5, 9]);
        let got: Vec<u32> = v
            .resolve(&set(&[(100, 0)]), true)
            .expect("valid")
            .iter()
            .map(|p| p.1)
            .collect();
        assert_eq!(
            got,
            vec![10],
            "n:* includes the last UID even when n is above it"
        );
        assert!(
            v.resolve(&set(&[(11, 20)]), true)
                .expect("valid")
                .is_empty()
        );
        let empty = View::new(1, 1, false, vec![], 0);
        assert!(
            empty
                .resolve(&set(&[(1, 0)]), true)
                .expect("valid")
                .is_empty()
        );
        assert_eq!(empty.resolve(&set(&[(1, 0)]), false), Err(InvalidSequence));
    }

    #[test]
    fn expunge_shifts_numbers() {
        let mut v = view();
        assert_eq!(v.remove(5).map(|n| n.get()), Some(2));
        assert_eq!(v.seq_of(9).map(|n| n.get()), Some(2));
        assert_eq!(v.remove(5), None);
    }
}
