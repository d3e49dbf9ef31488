//! The sequence detector: the last n calls (an n-gram), as bits of a per-call bitmap.
//!
//! For each call a profile has seen, its table row holds, beside the lookahead pairs, a
//! bitmap of [`NGRAM_BITS`] bits. An n-gram ending in `curr` (the `n - 1` calls before it,
//! fewer when the task's window is not yet that long) is hashed to two bits of `curr`'s
//! bitmap: learning sets both, and the n-gram is known when both are set. It is a Bloom
//! filter with two hash functions: two n-grams may share bits, so an unseen n-gram can look
//! known (a collision hides an anomaly), but a learned one never looks unseen (a collision
//! never invents one).
//!
//! The kernel engine computes the same hash (`ngram_hash()` in the BPF program's `table.h`)
//! on the same bits: both must change together.

use serde::{Deserialize, Serialize};

use crate::{Sequence, LOOKAHEAD};

/// Bits in one call's n-gram bitmap.
pub const NGRAM_BITS: usize = 2048;

/// Bits in the n-gram bitmaps of profiles saved before they shrank to [`NGRAM_BITS`] (store
/// schema 3, profile files of that time). Such a bit `b` is bit `b % NGRAM_BITS` now, and
/// exactly so: an n-gram's bits are the same two fields of its hash, masked to fewer bits.
pub const OLD_NGRAM_BITS: usize = 4096;

/// Bytes of one call's n-gram bitmap.
pub const NGRAM_BYTES: usize = NGRAM_BITS / 8;

/// The longest n-gram: the current call and the [`LOOKAHEAD`] calls before it.
pub const NGRAM_MAX: usize = LOOKAHEAD + 1;

/// One call's n-gram bitmap: bit `b` is `bitmap[b / 8] >> (b % 8) & 1`.
pub type NgramBitmap = [u8; NGRAM_BYTES];

/// Which detector decides that a call is anomalous.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Detector {
    /// pH's lookahead pairs alone: a call is anomalous when it forms an unseen pair.
    Pairs,
    /// The n-grams alone: a call is anomalous when it ends an unseen n-gram.
    Ngrams,
    /// Either: an unseen pair or an unseen n-gram (the default).
    #[default]
    Both,
}

impl Detector {
    /// Every detector, in documentation order.
    pub const ALL: [Detector; 3] = [Detector::Pairs, Detector::Ngrams, Detector::Both];

    /// The detector's name (`pairs`, `ngrams`, `both`).
    pub fn as_str(self) -> &'static str {
        match self {
            Detector::Pairs => "pairs",
            Detector::Ngrams => "ngrams",
            Detector::Both => "both",
        }
    }

    /// Whether unseen lookahead pairs count.
    pub fn uses_pairs(self) -> bool {
        matches!(self, Detector::Pairs | Detector::Both)
    }

    /// Whether unseen n-grams count.
    pub fn uses_ngrams(self) -> bool {
        matches!(self, Detector::Ngrams | Detector::Both)
    }

    /// The engine's encoding: bit 0 pairs, bit 1 n-grams.
    pub fn bits(self) -> u16 {
        u16::from(self.uses_pairs()) | u16::from(self.uses_ngrams()) << 1
    }
}

impl std::fmt::Display for Detector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Detector {
    type Err = String;

    fn from_str(s: &str) -> Result<Detector, String> {
        match s.trim() {
            "pairs" => Ok(Detector::Pairs),
            "ngrams" => Ok(Detector::Ngrams),
            "both" => Ok(Detector::Both),
            other => Err(format!(
                "unknown detector {other:?} (pairs, ngrams or both)"
            )),
        }
    }
}

/// The two bits of `curr`'s bitmap that stand for the n-gram ending in `curr` after `seq`,
/// for n-grams of `length` calls; `None` when `seq` is empty (the first call of a window:
/// no n-gram, as no pair).
///
/// The `k = min(seq.len(), length - 1)` most recent calls are packed 16 bits each, the most
/// recent lowest, into `lo` (calls 1..=4) and `hi` (calls 5..=8), then mixed with `k`.
#[inline]
pub fn ngram_bits(seq: &Sequence, length: u8) -> Option<[u16; 2]> {
    let k = seq.len().min(usize::from(length).saturating_sub(1));
    if k == 0 {
        return None;
    }
    let (mut lo, mut hi) = (0u64, 0u64);
    for (i, call) in seq.recent()[..k].iter().enumerate() {
        if i < 4 {
            lo |= u64::from(call.nr()) << (16 * i);
        } else {
            hi |= u64::from(call.nr()) << (16 * (i - 4));
        }
    }
    let h = mix(lo, hi, k as u64);
    // The second bit starts at bit 12 of the hash, as it did with 4,096-bit bitmaps, so
    // that bits saved then still mean the same n-grams (see OLD_NGRAM_BITS).
    Some([
        (h & (NGRAM_BITS as u64 - 1)) as u16,
        ((h >> 12) & (NGRAM_BITS as u64 - 1)) as u16,
    ])
}

/// The hash of an n-gram's packed calls (see `ngram_hash()` in the BPF program).
#[inline]
pub(crate) fn mix(lo: u64, hi: u64, k: u64) -> u64 {
    let mut h = lo.wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ hi.wrapping_mul(0xC2B2_AE3D_27D4_EB4F)
        ^ k.wrapping_mul(0x1656_67B1_9E37_79F9);
    h ^= h >> 32;
    h = h.wrapping_mul(0xD6E8_FEB8_6659_FD93);
    h ^= h >> 32;
    h
}

/// Whether bit `bit` of `bitmap` is set.
#[inline]
pub fn bit_set(bitmap: &NgramBitmap, bit: u16) -> bool {
    (bitmap[usize::from(bit) / 8] >> (bit % 8)) & 1 == 1
}

/// Sets bit `bit` of `bitmap` (taken modulo [`NGRAM_BITS`]).
#[inline]
pub fn set_bit(bitmap: &mut NgramBitmap, bit: u16) {
    let bit = usize::from(bit) % NGRAM_BITS;
    bitmap[bit / 8] |= 1 << (bit % 8);
}

/// The bits set in `bitmap`, in order (empty bytes skipped).
pub fn bits_of(bitmap: &NgramBitmap) -> impl Iterator<Item = u16> + '_ {
    bitmap
        .iter()
        .enumerate()
        .filter(|(_, &byte)| byte != 0)
        .flat_map(|(i, &byte)| {
            (0..8u16)
                .filter(move |b| (byte >> b) & 1 == 1)
                .map(move |b| 8 * i as u16 + b)
        })
}

/// The chance that an n-gram never seen looks known, in a bitmap with `set` of its
/// [`NGRAM_BITS`] bits set: both of its bits are set already.
pub fn false_hit_rate(set: usize) -> f64 {
    let f = set as f64 / NGRAM_BITS as f64;
    f * f
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Syscall;

    fn seq_of(calls: &[u16]) -> Sequence {
        let mut seq = Sequence::new();
        calls
            .iter()
            .for_each(|&c| seq.push(Syscall::new(c).unwrap()));
        seq
    }

    #[test]
    fn an_empty_window_has_no_ngram() {
        assert_eq!(ngram_bits(&Sequence::new(), 7), None);
        assert!(ngram_bits(&seq_of(&[1]), 7).is_some());
    }

    #[test]
    fn only_the_last_n_minus_one_calls_count() {
        let a = ngram_bits(&seq_of(&[9, 1, 2, 3, 4, 5, 6]), 7);
        let b = ngram_bits(&seq_of(&[8, 1, 2, 3, 4, 5, 6]), 7);
        assert_eq!(a, b);
        assert_ne!(a, ngram_bits(&seq_of(&[9, 1, 2, 3, 4, 5, 7]), 7));
        assert_ne!(a, ngram_bits(&seq_of(&[9, 1, 2, 3, 4, 5, 6]), 8));
    }

    #[test]
    fn a_short_window_differs_from_a_long_one_with_the_same_calls() {
        // Call 0 (read) is a real call: the unfilled positions of a short window must not
        // look like it.
        assert_ne!(
            ngram_bits(&seq_of(&[5]), 7),
            ngram_bits(&seq_of(&[0, 5]), 7)
        );
    }

    #[test]
    fn calls_are_packed_most_recent_lowest() {
        // The engine keeps a task's window packed this way; the hash must see the same word.
        let h = mix(0x0004_0003_0002_0001, 0x0005, 5);
        assert_eq!(
            ngram_bits(&seq_of(&[5, 4, 3, 2, 1]), 9),
            Some([(h & 2047) as u16, ((h >> 12) & 2047) as u16])
        );
    }

    #[test]
    fn bits_spread_over_the_bitmap() {
        let mut seen = std::collections::HashSet::new();
        for a in 0..40u16 {
            for b in 0..40u16 {
                let [x, y] = ngram_bits(&seq_of(&[a, b, 7]), 7).unwrap();
                seen.insert(x);
                seen.insert(y);
            }
        }
        // 3,200 draws from 2,048 bits: about 1,620 distinct if uniform.
        assert!(seen.len() > 1_450, "{}", seen.len());
    }

    #[test]
    fn bits_are_set_and_listed_in_order() {
        let mut bitmap = [0u8; NGRAM_BYTES];
        for bit in [2047, 0, 9, 8, 2048 + 3] {
            set_bit(&mut bitmap, bit);
        }
        assert_eq!(bits_of(&bitmap).collect::<Vec<_>>(), [0, 3, 8, 9, 2047]);
        assert!(bit_set(&bitmap, 9) && !bit_set(&bitmap, 10));
    }

    #[test]
    fn detectors_parse_and_encode() {
        for d in Detector::ALL {
            assert_eq!(d.as_str().parse::<Detector>(), Ok(d));
        }
        assert_eq!(Detector::Both.bits(), 3);
        assert!("stide".parse::<Detector>().is_err());
        assert!((false_hit_rate(NGRAM_BITS / 2) - 0.25).abs() < 1e-9);
    }
}
