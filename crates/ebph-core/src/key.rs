//! The identity of a profile: the executable's device and inode.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Identifies an executable file: its device (as userspace `st_dev`) and inode.
///
/// The full pair is kept: packing both into 64 bits collides once inode numbers pass 2^32.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ProfileKey {
    /// The device, in glibc's `dev_t` encoding (what `stat(2)` returns).
    pub dev: u64,
    /// The inode number.
    pub ino: u64,
}

/// The error of parsing a [`ProfileKey`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid profile key {0:?} (expected MAJOR:MINOR:INODE, e.g. 8:1:1234567)")]
pub struct ProfileKeyError(pub String);

impl ProfileKey {
    /// The key of device `major:minor`, inode `ino`.
    pub fn new(major: u32, minor: u32, ino: u64) -> ProfileKey {
        let (major, minor) = (u64::from(major), u64::from(minor));
        let dev = ((major & 0xffff_f000) << 32)
            | ((major & 0x0000_0fff) << 8)
            | ((minor & 0xffff_ff00) << 12)
            | (minor & 0x0000_00ff);
        ProfileKey { dev, ino }
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
        write!(f, "{}:{}:{}", self.major(), self.minor(), self.ino)
    }
}

impl FromStr for ProfileKey {
    type Err = ProfileKeyError;

    fn from_str(s: &str) -> Result<ProfileKey, ProfileKeyError> {
        let err = || ProfileKeyError(s.to_owned());
        let mut parts = s.split(':');
        let (Some(major), Some(minor), Some(ino), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(err());
        };
        Ok(ProfileKey::new(
            major.parse().map_err(|_| err())?,
            minor.parse().map_err(|_| err())?,
            ino.parse().map_err(|_| err())?,
        ))
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
        // glibc's makedev(254, 1) is 0xfe01.
        assert_eq!(ProfileKey::new(254, 1, 0).dev, 0xfe01);
    }

    #[test]
    fn keys_round_trip_through_text_and_keep_wide_inodes() {
        let key = ProfileKey::new(259, 2, (1 << 40) + 5);
        assert_eq!(key.to_string(), "259:2:1099511627781");
        assert_eq!(key.to_string().parse(), Ok(key));
        assert_ne!(ProfileKey::new(259, 2, 5), key);
        for bad in ["", "1:2", "1:2:3:4", "a:b:c", "1:2:-3"] {
            assert!(bad.parse::<ProfileKey>().is_err(), "{bad}");
        }
    }
}
