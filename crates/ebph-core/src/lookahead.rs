//! Sparse tables of lookahead pairs and n-grams.

use crate::ngram::{bit_set, bits_of, set_bit, NgramBitmap, NGRAM_BYTES};
use crate::{
    exec_bits, Endpoint, ProfileKey, Sequence, Syscall, ENDPOINT_ROW, EXEC_ROW, MAX_SYSCALLS,
};

/// One row of a lookahead table: the flags of every `(curr, prev)` pair for one `curr`.
///
/// `row[prev]` bit `i - 1` set means "`prev` was seen `i` calls before `curr`" (i = 1..=8).
pub type Row = [u8; MAX_SYSCALLS];

/// What a table knows about one call: its lookahead pairs and its n-gram bitmap (the
/// engine's `struct ebph_row`).
#[derive(Clone)]
struct CallRow {
    pairs: Row,
    ngrams: NgramBitmap,
}

impl CallRow {
    fn new() -> Box<CallRow> {
        Box::new(CallRow {
            pairs: [0; MAX_SYSCALLS],
            ngrams: [0; NGRAM_BYTES],
        })
    }
}

/// A table of lookahead pairs and n-grams stored sparsely: one row (a [`Row`] of pairs and
/// an [`NgramBitmap`]) for each call the program actually made, none for the others.
///
/// Two tables are equal when they hold the same pairs and n-gram bits, however their rows
/// were allocated.
#[derive(Clone)]
pub struct LookaheadTable {
    rows: Vec<Option<Box<CallRow>>>,
}

impl Default for LookaheadTable {
    fn default() -> LookaheadTable {
        LookaheadTable::new()
    }
}

/// The bytes of one row, pairs and n-grams (as the engine allocates them).
pub const ROW_BYTES: usize = MAX_SYSCALLS + NGRAM_BYTES;

/// How many earlier positions of `seq` a window of `window` calls looks at.
#[inline]
fn depth(seq: &Sequence, window: u8) -> usize {
    seq.len().min((window as usize).saturating_sub(1))
}

impl LookaheadTable {
    /// An empty table.
    pub fn new() -> LookaheadTable {
        LookaheadTable {
            rows: vec![None; MAX_SYSCALLS],
        }
    }

    /// The flags of the pair `(curr, prev)`: bit `i - 1` set when `prev` was seen `i` calls
    /// before `curr`.
    #[inline]
    pub fn get(&self, curr: Syscall, prev: Syscall) -> u8 {
        self.rows[curr.index()]
            .as_ref()
            .map_or(0, |row| row.pairs[prev.index()])
    }

    /// Sets the flags of the pair `(curr, prev)` (used when loading a stored profile).
    pub fn set(&mut self, curr: Syscall, prev: Syscall, flags: u8) {
        if flags == 0 && self.rows[curr.index()].is_none() {
            return;
        }
        self.row_mut(curr)[prev.index()] = flags;
    }

    /// Sets bit `bit` of `curr`'s n-gram bitmap (used when loading a stored profile).
    pub fn set_ngram_bit(&mut self, curr: Syscall, bit: u16) {
        set_bit(&mut self.call_row_mut(curr).ngrams, bit);
    }

    /// Adds every bit of `bitmap` to `curr`'s n-gram bitmap (a row read from the engine).
    pub fn add_ngram_row(&mut self, curr: Syscall, bitmap: &NgramBitmap) {
        if bitmap.iter().all(|&b| b == 0) {
            return;
        }
        let row = &mut self.call_row_mut(curr).ngrams;
        for (byte, &bits) in row.iter_mut().zip(bitmap) {
            *byte |= bits;
        }
    }

    /// The lookahead pairs of `curr`, if the table has a row for it.
    pub fn row(&self, curr: Syscall) -> Option<&Row> {
        self.rows[curr.index()].as_deref().map(|row| &row.pairs)
    }

    /// The n-gram bitmap of `curr`, if the table has a row for it.
    pub fn ngram_row(&self, curr: Syscall) -> Option<&NgramBitmap> {
        self.rows[curr.index()].as_deref().map(|row| &row.ngrams)
    }

    fn call_row_mut(&mut self, curr: Syscall) -> &mut CallRow {
        self.rows[curr.index()].get_or_insert_with(CallRow::new)
    }

    fn row_mut(&mut self, curr: Syscall) -> &mut Row {
        &mut self.call_row_mut(curr).pairs
    }

    /// Whether the n-gram whose bits are `bits` (see [`crate::ngram_bits`]) ending in `curr`
    /// is in the table.
    #[inline]
    pub fn knows_ngram(&self, curr: Syscall, bits: [u16; 2]) -> bool {
        self.rows[curr.index()]
            .as_deref()
            .is_some_and(|row| bit_set(&row.ngrams, bits[0]) && bit_set(&row.ngrams, bits[1]))
    }

    /// Learns the n-gram of `bits` ending in `curr`; returns whether it was new.
    #[inline]
    pub fn learn_ngram(&mut self, curr: Syscall, bits: [u16; 2]) -> bool {
        if self.knows_ngram(curr, bits) {
            return false;
        }
        let row = &mut self.call_row_mut(curr).ngrams;
        for bit in bits {
            set_bit(row, bit);
        }
        true
    }

    /// Whether the table holds executable `key` in its exec row (see [`crate::exec_bits`]).
    pub fn knows_exec(&self, key: &ProfileKey) -> bool {
        self.knows_ngram(EXEC_ROW, exec_bits(key))
    }

    /// Learns executable `key`; returns whether it was new.
    pub fn learn_exec(&mut self, key: &ProfileKey) -> bool {
        self.learn_ngram(EXEC_ROW, exec_bits(key))
    }

    /// Whether the table holds endpoint `e` in its endpoint row (see [`crate::Endpoint`]).
    pub fn knows_endpoint(&self, e: &Endpoint) -> bool {
        self.knows_ngram(ENDPOINT_ROW, e.bits())
    }

    /// Learns endpoint `e`; returns whether it was new (its bits were not both set). A new
    /// endpoint is also listed, in the first free of the row's slots
    /// (the row's pair flags, as little-endian [`Endpoint::id`]s; see [`crate::ENDPOINTS_LISTED`]), so that it can be shown;
    /// with every slot taken it is learned but not listed.
    pub fn learn_endpoint(&mut self, e: &Endpoint) -> bool {
        if !self.learn_ngram(ENDPOINT_ROW, e.bits()) {
            return false;
        }
        let slots = &mut self.row_mut(ENDPOINT_ROW);
        if let Some(free) = slots
            .chunks_exact_mut(8)
            .find(|slot| slot.iter().all(|&b| b == 0))
        {
            free.copy_from_slice(&e.id().to_le_bytes());
        }
        true
    }

    /// The endpoints listed in the table (see [`LookaheadTable::learn_endpoint`]), in the
    /// order they were learned.
    pub fn endpoints(&self) -> Vec<Endpoint> {
        self.row(ENDPOINT_ROW).map_or_else(Vec::new, |slots| {
            slots
                .chunks_exact(8)
                .filter_map(|slot| Endpoint::from_id(u64::from_le_bytes(slot.try_into().ok()?)))
                .collect()
        })
    }

    /// Whether the table holds any executable.
    pub fn has_execs(&self) -> bool {
        self.ngram_row(EXEC_ROW)
            .is_some_and(|row| row.iter().any(|&b| b != 0))
    }

    /// Tests `curr` after the calls in `seq`, looking `window - 1` calls back: the number of
    /// filled positions whose pair is not in the table.
    #[inline]
    pub fn misses(&self, curr: Syscall, seq: &Sequence, window: u8) -> u32 {
        let recent = &seq.recent()[..depth(seq, window)];
        let Some(row) = self.row(curr) else {
            return recent.len() as u32;
        };
        let mut misses = 0;
        for (i, prev) in recent.iter().enumerate() {
            misses += u32::from((row[prev.index()] >> i) & 1 == 0);
        }
        misses
    }

    /// Learns `curr` after the calls in `seq`: sets every missing pair and returns how many
    /// were missing (the misses of [`LookaheadTable::misses`] before learning).
    #[inline]
    pub fn learn(&mut self, curr: Syscall, seq: &Sequence, window: u8) -> u32 {
        let misses = self.misses(curr, seq, window);
        if misses > 0 {
            let recent = &seq.recent()[..depth(seq, window)];
            let row = self.row_mut(curr);
            for (i, prev) in recent.iter().enumerate() {
                row[prev.index()] |= 1 << i;
            }
        }
        misses
    }

    /// Whether this table holds every pair and n-gram bit that `other` holds.
    pub fn includes(&self, other: &LookaheadTable) -> bool {
        self.rows
            .iter()
            .zip(&other.rows)
            .all(|(mine, theirs)| match (mine, theirs) {
                (_, None) => true,
                (None, Some(theirs)) => {
                    theirs.pairs.iter().all(|&b| b == 0) && theirs.ngrams.iter().all(|&b| b == 0)
                }
                (Some(mine), Some(theirs)) => {
                    let covers = |a: &[u8], b: &[u8]| a.iter().zip(b).all(|(&a, &b)| b & !a == 0);
                    covers(&mine.pairs, &theirs.pairs) && covers(&mine.ngrams, &theirs.ngrams)
                }
            })
    }

    /// Forgets every n-gram, keeping the pairs, executables and endpoints (n-grams learned with
    /// another length mean nothing).
    pub fn clear_ngrams(&mut self) {
        for (curr, row) in self.rows.iter_mut().enumerate() {
            if curr != EXEC_ROW.index() && curr != ENDPOINT_ROW.index() {
                if let Some(row) = row {
                    row.ngrams = [0; NGRAM_BYTES];
                }
            }
        }
    }

    /// Forgets every pair and frees every row.
    pub fn clear(&mut self) {
        self.rows.iter_mut().for_each(|row| *row = None);
    }

    /// Whether the table holds no pair and no n-gram.
    pub fn is_empty(&self) -> bool {
        self.entries().next().is_none() && self.ngram_entries().next().is_none()
    }

    /// The number of rows allocated.
    pub fn rows_used(&self) -> usize {
        self.rows.iter().filter(|row| row.is_some()).count()
    }

    /// The bytes the rows take.
    pub fn memory_bytes(&self) -> usize {
        self.rows_used() * ROW_BYTES
    }

    /// The number of distinct lookahead pairs `(curr, prev, distance)` learned: the number of
    /// set bits (of the calls' rows: not the endpoint row's list).
    pub fn lookahead_pairs(&self) -> u64 {
        self.entries()
            .filter(|(curr, _, _)| !curr.is_pseudo())
            .map(|(_, _, f)| u64::from(f.count_ones()))
            .sum()
    }

    /// The number of n-gram bits set (about two per n-gram learned), the exec and endpoint
    /// rows' aside.
    pub fn ngram_bits_set(&self) -> u64 {
        self.rows
            .iter()
            .enumerate()
            .filter(|&(curr, _)| curr != EXEC_ROW.index() && curr != ENDPOINT_ROW.index())
            .filter_map(|(_, row)| row.as_deref())
            .map(|row| {
                row.ngrams
                    .iter()
                    .map(|b| u64::from(b.count_ones()))
                    .sum::<u64>()
            })
            .sum()
    }

    /// The number of bits set in the exec row (about two per executable learned).
    pub fn exec_bits_set(&self) -> u64 {
        self.pseudo_bits_set(EXEC_ROW)
    }

    /// The number of bits set in the endpoint row (about two per endpoint learned).
    pub fn endpoint_bits_set(&self) -> u64 {
        self.pseudo_bits_set(ENDPOINT_ROW)
    }

    fn pseudo_bits_set(&self, row: Syscall) -> u64 {
        self.ngram_row(row)
            .map_or(0, |row| row.iter().map(|b| u64::from(b.count_ones())).sum())
    }

    /// Every `(curr, bit)` set in the n-gram bitmaps, by `curr` then `bit`, the exec and
    /// endpoint rows' ([`Syscall::is_pseudo`]) included.
    pub fn ngram_entries(&self) -> impl Iterator<Item = (Syscall, u16)> + '_ {
        self.rows.iter().enumerate().flat_map(|(curr, row)| {
            row.iter().flat_map(move |row| {
                bits_of(&row.ngrams).map(move |bit| (Syscall::new(curr as u16).unwrap(), bit))
            })
        })
    }

    /// Every `(curr, prev, flags)` with non-zero flags, by `curr` then `prev`: with the bytes
    /// of the endpoint row's list (curr [`Syscall::ENDPOINT`]), so that saving and loading
    /// entries keeps the list.
    pub fn entries(&self) -> impl Iterator<Item = (Syscall, Syscall, u8)> + '_ {
        self.rows.iter().enumerate().flat_map(|(curr, row)| {
            row.iter().flat_map(move |row| {
                row.pairs
                    .iter()
                    .enumerate()
                    .filter(|(_, &f)| f != 0)
                    .map(move |(prev, &f)| {
                        (
                            Syscall::new(curr as u16).unwrap(),
                            Syscall::new(prev as u16).unwrap(),
                            f,
                        )
                    })
            })
        })
    }
}

impl std::fmt::Debug for LookaheadTable {
    /// Shows the non-zero entries as `curr<-prev: flags`, not 512 empty rows.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut map = f.debug_map();
        for (curr, prev, flags) in self.entries() {
            map.entry(
                &format_args!("{}<-{}", curr.nr(), prev.nr()),
                &format_args!("{flags:#010b}"),
            );
        }
        let ngrams = self.ngram_bits_set();
        if ngrams > 0 {
            map.entry(&"ngram bits", &ngrams);
        }
        map.finish()
    }
}

impl PartialEq for LookaheadTable {
    fn eq(&self, other: &LookaheadTable) -> bool {
        self.entries().eq(other.entries()) && self.ngram_entries().eq(other.ngram_entries())
    }
}

impl Eq for LookaheadTable {}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(n: u16) -> Syscall {
        Syscall::new(n).unwrap()
    }

    fn seq_of(calls: &[u16]) -> Sequence {
        let mut seq = Sequence::new();
        calls.iter().for_each(|&c| seq.push(s(c)));
        seq
    }

    #[test]
    fn executables_live_in_their_own_row() {
        let ls = ProfileKey::new(8, 1, 10);
        let mut t = LookaheadTable::new();
        assert!(!t.has_execs() && !t.knows_exec(&ls));
        assert!(t.learn_exec(&ls));
        assert!(!t.learn_exec(&ls), "learned once");
        assert!(t.knows_exec(&ls) && t.has_execs());
        assert!(!t.knows_exec(&ProfileKey::new(8, 1, 11)));
        assert_eq!((t.exec_bits_set(), t.ngram_bits_set()), (2, 0));
        assert_eq!(t.entries().count(), 0, "no pairs");
        // Forgetting n-grams (another n-gram length) keeps them.
        t.set_ngram_bit(s(3), 5);
        t.clear_ngrams();
        assert!(t.knows_exec(&ls));
        assert_eq!(t.ngram_bits_set(), 0);
        // They are saved as bits of the row of Syscall::EXEC.
        assert!(t.ngram_entries().all(|(curr, _)| curr == Syscall::EXEC));
        t.clear();
        assert!(!t.has_execs());
    }

    #[test]
    fn endpoints_are_kept_as_bits_and_listed() {
        let e = |s: &str| -> Endpoint { s.parse().unwrap() };
        let mut t = LookaheadTable::new();
        let db = e("connect inet loopback:5432");
        assert!(t.learn_endpoint(&db) && !t.learn_endpoint(&db));
        assert!(t.knows_endpoint(&db) && !t.knows_endpoint(&e("connect inet public:5432")));
        assert_eq!(t.endpoints(), [db]);
        assert_eq!(t.lookahead_pairs(), 0, "the list is not pairs");
        // More than the list holds: learned, and the first ones listed.
        let many: Vec<Endpoint> = (1..=200u16).map(|port| Endpoint { port, ..db }).collect();
        let learned = many.iter().filter(|e| t.learn_endpoint(e)).count();
        assert!(learned > 150, "{learned} of 200 (the rest collide)");
        assert!(many.iter().all(|e| t.knows_endpoint(e)));
        let listed = t.endpoints();
        assert_eq!(listed.len(), crate::ENDPOINTS_LISTED);
        assert_eq!(listed[0], db);
        // Saved and loaded as entries, the list is whole.
        let mut copy = LookaheadTable::new();
        for (curr, prev, flags) in t.entries() {
            copy.set(curr, prev, flags);
        }
        for (curr, bit) in t.ngram_entries() {
            copy.set_ngram_bit(curr, bit);
        }
        assert_eq!(copy.endpoints(), listed);
        assert!(copy.includes(&t) && t.includes(&copy));
    }

    #[test]
    fn includes_compares_pairs_and_ngrams() {
        let mut a = LookaheadTable::new();
        let mut b = LookaheadTable::new();
        assert!(a.includes(&b) && b.includes(&a), "empty tables");
        a.set(s(1), s(2), 0b11);
        b.set(s(1), s(2), 0b01);
        assert!(a.includes(&b) && !b.includes(&a));
        b.set_ngram_bit(s(1), 7);
        assert!(!a.includes(&b), "an n-gram bit a lacks");
        a.set_ngram_bit(s(1), 7);
        assert!(a.includes(&b));
        b.set(s(3), s(1), 0b1);
        assert!(!a.includes(&b), "a row a lacks");
    }

    #[test]
    fn learning_sets_one_bit_per_distance() {
        let mut t = LookaheadTable::new();
        // Calls 1, 2, 3 then current 4: 3 is at distance 1, 2 at 2, 1 at 3.
        let seq = seq_of(&[1, 2, 3]);
        assert_eq!(t.misses(s(4), &seq, 9), 3);
        assert_eq!(t.learn(s(4), &seq, 9), 3);
        assert_eq!(t.get(s(4), s(3)), 0b001);
        assert_eq!(t.get(s(4), s(2)), 0b010);
        assert_eq!(t.get(s(4), s(1)), 0b100);
        assert_eq!(t.misses(s(4), &seq, 9), 0);
        assert_eq!(t.learn(s(4), &seq, 9), 0);
        assert_eq!(t.lookahead_pairs(), 3);
    }

    #[test]
    fn a_pair_at_another_distance_is_a_miss() {
        let mut t = LookaheadTable::new();
        t.learn(s(4), &seq_of(&[1, 2, 3]), 9);
        // 5 unseen, and every other call one position further back than learned.
        assert_eq!(t.misses(s(4), &seq_of(&[1, 2, 3, 5]), 9), 4);
        // Swapped order: 2 at distance 1 and 3 at distance 2 were never seen.
        assert_eq!(t.misses(s(4), &seq_of(&[3, 2]), 9), 2);
        // A shorter window of the same calls is fully known.
        assert_eq!(t.misses(s(4), &seq_of(&[2, 3]), 9), 0);
    }

    #[test]
    fn the_same_call_may_follow_itself_at_several_distances() {
        let mut t = LookaheadTable::new();
        t.learn(s(0), &seq_of(&[0, 0, 0]), 9);
        assert_eq!(t.get(s(0), s(0)), 0b111);
        assert_eq!(t.lookahead_pairs(), 3);
    }

    #[test]
    fn window_limits_the_distances_used() {
        let mut t = LookaheadTable::new();
        let seq = seq_of(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
        assert_eq!(t.learn(s(11), &seq, 3), 2);
        assert_eq!(t.get(s(11), s(10)), 1);
        assert_eq!(t.get(s(11), s(9)), 2);
        assert_eq!(t.get(s(11), s(8)), 0);
        assert_eq!(t.learn(s(11), &seq, 9), 6);
        assert_eq!(t.get(s(11), s(3)), 1 << 7);
    }

    #[test]
    fn empty_sequence_learns_nothing_and_allocates_nothing() {
        let mut t = LookaheadTable::new();
        assert_eq!(t.learn(s(3), &Sequence::new(), 9), 0);
        assert_eq!(t.rows_used(), 0);
        assert!(t.is_empty());
    }

    #[test]
    fn equality_ignores_empty_rows() {
        let mut a = LookaheadTable::new();
        let b = LookaheadTable::new();
        a.set(s(5), s(6), 1);
        assert_ne!(a, b);
        a.set(s(5), s(6), 0);
        assert_eq!(a.rows_used(), 1);
        assert_eq!(a, b);
        a.clear();
        assert_eq!(a.rows_used(), 0);
    }

    #[test]
    fn debug_shows_only_entries() {
        let mut t = LookaheadTable::new();
        t.set(s(3), s(1), 0b101);
        assert_eq!(format!("{t:?}"), "{3<-1: 0b00000101}");
    }

    #[test]
    fn entries_are_ordered_and_complete() {
        let mut t = LookaheadTable::new();
        t.set(s(9), s(1), 0x80);
        t.set(s(2), s(7), 0x03);
        let entries: Vec<_> = t.entries().collect();
        assert_eq!(entries, vec![(s(2), s(7), 0x03), (s(9), s(1), 0x80)]);
        assert_eq!(t.lookahead_pairs(), 3);
        assert_eq!(t.memory_bytes(), 2 * ROW_BYTES);
    }

    #[test]
    fn ngrams_are_learned_once_and_compared() {
        let mut t = LookaheadTable::new();
        let bits = crate::ngram_bits(&seq_of(&[1, 2, 3]), 7).unwrap();
        assert!(!t.knows_ngram(s(4), bits));
        assert!(t.learn_ngram(s(4), bits));
        assert!(!t.learn_ngram(s(4), bits));
        assert!(t.knows_ngram(s(4), bits));
        assert!(!t.knows_ngram(s(5), bits), "n-grams are per call");
        assert_eq!(t.rows_used(), 1);
        assert!(!t.is_empty(), "a table with only n-gram bits is not empty");
        let bits_set = if bits[0] == bits[1] { 1 } else { 2 };
        assert_eq!(t.ngram_bits_set(), bits_set);
        let mut u = LookaheadTable::new();
        assert_ne!(t, u);
        for (curr, bit) in t.ngram_entries() {
            u.set_ngram_bit(curr, bit);
        }
        assert_eq!(t, u);
        assert!(u.knows_ngram(s(4), bits));
    }
}
