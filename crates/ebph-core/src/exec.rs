//! What a program executes: the executables its tasks exec, learned per profile.
//!
//! A profile's tables keep them in the n-gram bitmap of one more row, the row of the pseudo-call
//! [`Syscall::EXEC`]: two bits per executable, as for an n-gram. So they share the tables' life
//! cycle: learned in the train table, copied into the test table when the profile becomes
//! normal, emptied with it (tolerize limit, sensitize), saved, merged, exported and imported
//! with it. The bitmap never fills; the more programs a profile runs, the likelier a new one
//! falls on bits already set ([`crate::ngram::false_hit_rate`]) and goes unnoticed: a collision
//! can only hide a novel exec, never invent one.

use crate::ngram::{mix, NGRAM_BITS};
use crate::{ProfileKey, Syscall};

/// The row of a table that holds executables (see the module's documentation).
pub const EXEC_ROW: Syscall = Syscall::EXEC;

/// The two bits of the exec row that stand for executable `key` (`exec_hash()` in the BPF
/// program: the same mix as n-grams, of the kernel's device encoding, the inode and the
/// script hash).
pub fn exec_bits(key: &ProfileKey) -> [u16; 2] {
    let h = mix(u64::from(key.kernel_dev()), key.ino, key.script);
    [
        (h & (NGRAM_BITS as u64 - 1)) as u16,
        ((h >> 12) & (NGRAM_BITS as u64 - 1)) as u16,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_depend_on_every_part_of_the_key() {
        let a = ProfileKey::new(8, 1, 1234);
        let b = ProfileKey::new(8, 2, 1234);
        let c = ProfileKey::new(8, 1, 1235);
        let d = ProfileKey { script: 7, ..a };
        let bits: Vec<_> = [a, b, c, d].iter().map(exec_bits).collect();
        for (i, x) in bits.iter().enumerate() {
            assert!(x.iter().all(|&bit| usize::from(bit) < NGRAM_BITS));
            for y in &bits[i + 1..] {
                assert_ne!(x, y);
            }
        }
        assert_eq!(exec_bits(&a), exec_bits(&ProfileKey::new(8, 1, 1234)));
    }
}
