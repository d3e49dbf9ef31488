//! The identity of a profile: the executable's device and inode.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Identifies an executable file: its device (as userspace `st_dev`) and inode, and for a
/// `#!` script a hash of its interpreter's.
///
/// The full device and inode are kept: packing both into 64 bits collides once inode numbers
/// pass 2^32. A script is its own file, however it is run (through symlinks, by a relative
/// path), together with its interpreter: the same file run by another interpreter (a new
/// Python, say) behaves differently and gets a profile of its own.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct ProfileKey {
    /// The device, in glibc's `dev_t` encoding (what `stat(2)` returns).
    pub dev: u64,
    /// The inode number.
    pub ino: u64,
    /// 0 for a program; for a script, a non-zero hash of its interpreter's key (see
    /// [`ProfileKey::script_of`]).
    #[serde(default)]
    pub script: u64,
}

/// The error of parsing a [`ProfileKey`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid profile key {0:?} (expected MAJOR:MINOR:INODE, e.g. 8:1:1234567, or MAJOR:MINOR:INODE:SCRIPT for a script)")]
pub struct ProfileKeyError(pub String);

impl ProfileKey {
    /// The key of device `major:minor`, inode `ino`.
    pub fn new(major: u32, minor: u32, ino: u64) -> ProfileKey {
        let (major, minor) = (u64::from(major), u64::from(minor));
        let dev = ((major & 0xffff_f000) << 32)
            | ((major & 0x0000_0fff) << 8)
            | ((minor & 0xffff_ff00) << 12)
            | (minor & 0x0000_00ff);
        ProfileKey {
            dev,
            ino,
            script: 0,
        }
    }

    /// The key of this file run as a `#!` script by `interpreter` (a program's key).
    pub fn script_of(self, interpreter: &ProfileKey) -> ProfileKey {
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&u64::from(interpreter.kernel_dev()).to_le_bytes());
        bytes[8..].copy_from_slice(&interpreter.ino.to_le_bytes());
        ProfileKey {
            script: ProfileKey::fnv1a(&bytes),
            ..self
        }
    }

    /// A stand-in key for an executable known only by its path, as in a recorded trace
    /// (`ebph replay`): device 0, which no mounted file system has, and the path's hash as
    /// the inode. The same path always gets the same key.
    pub fn of_path(path: &str) -> ProfileKey {
        ProfileKey {
            dev: 0,
            ino: ProfileKey::fnv1a(path.as_bytes()),
            script: 0,
        }
    }

    /// 64-bit FNV-1a, never 0 (what the kernel engine computes for a script's key).
    fn fnv1a(bytes: &[u8]) -> u64 {
        let hash = bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        });
        hash.max(1)
    }

    /// The key from the kernel's view: `sb->s_dev` is `major << 20 | minor`.
    pub fn from_kernel(s_dev: u32, ino: u64) -> ProfileKey {
        ProfileKey::new(s_dev >> 20, s_dev & 0xf_ffff, ino)
    }

    /// The device's major number.
    pub fn major(&self) -> u32 {
        (((self.dev >> 32) & 0xffff_f000) | ((self.dev >> 8) & 0x0000_0fff)) as u32
    }

    /// The device's minor number.
    pub fn minor(&self) -> u32 {
        (((self.dev >> 12) & 0xffff_ff00) | (self.dev & 0x0000_00ff)) as u32
    }

    /// The device in the kernel's encoding (`major << 20 | minor`).
    pub fn kernel_dev(&self) -> u32 {
        (self.major() << 20) | (self.minor() & 0xf_ffff)
    }
}

impl fmt::Display for ProfileKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.major(), self.minor(), self.ino)?;
        if self.script != 0 {
            write!(f, ":{:016x}", self.script)?;
        }
        Ok(())
    }
}

impl FromStr for ProfileKey {
    type Err = ProfileKeyError;

    fn from_str(s: &str) -> Result<ProfileKey, ProfileKeyError> {
        let err = || ProfileKeyError(s.to_owned());
        let mut parts = s.split(':');
        let (Some(major), Some(minor), Some(ino), script, None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(err());
        };
        let key = ProfileKey::new(
            major.parse().map_err(|_| err())?,
            minor.parse().map_err(|_| err())?,
            ino.parse().map_err(|_| err())?,
        );
        match script {
            None => Ok(key),
            Some(hex) => Ok(ProfileKey {
                script: u64::from_str_radix(hex, 16)
                    .ok()
                    .filter(|&h| h != 0)
                    .ok_or_else(err)?,
                ..key
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_and_userspace_devices_agree() {
        // /dev/vda1 is 254:1; nvme0n1p2 is 259:2; a large minor exercises the split encoding.
        for (major, minor) in [(254, 1), (259, 2), (8, 300), (0, 0), (4095, 0xf_ffff)] {
            let key = ProfileKey::new(major, minor, 42);
            assert_eq!((key.major(), key.minor()), (major, minor));
            let s_dev = (major << 20) | minor;
            assert_eq!(ProfileKey::from_kernel(s_dev, 42), key);
            assert_eq!(key.kernel_dev(), s_dev);
        }
        // FNV-1a test vectors.
        assert_eq!(ProfileKey::fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(ProfileKey::fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        // glibc's makedev(254, 1) is 0xfe01.
        assert_eq!(ProfileKey::new(254, 1, 0).dev, 0xfe01);
    }

    #[test]
    fn keys_round_trip_through_text_and_keep_wide_inodes() {
        let key = ProfileKey::new(259, 2, (1 << 40) + 5);
        assert_eq!(key.to_string(), "259:2:1099511627781");
        assert_eq!(key.to_string().parse(), Ok(key));
        assert_ne!(ProfileKey::new(259, 2, 5), key);
        let script = key.script_of(&ProfileKey::new(254, 1, 77));
        assert_ne!(script, key);
        assert_eq!(script.to_string().parse(), Ok(script));
        assert!(script.to_string().starts_with("259:2:1099511627781:"));
        for bad in [
            "",
            "1:2",
            "1:2:3:0",
            "1:2:3:x",
            "1:2:3:4:5",
            "a:b:c",
            "1:2:-3",
        ] {
            assert!(bad.parse::<ProfileKey>().is_err(), "{bad}");
        }
    }
}
