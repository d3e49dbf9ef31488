//! Which network endpoints a program uses: the local ports it binds and the remote endpoints
//! it connects to, as classes that generalise (address family, the kind of address, port).
//!
//! A profile's tables keep them as they keep executables ([`crate::exec_bits`]): two bits per
//! endpoint in the n-gram bitmap of one more row, the row of the pseudo-call
//! [`Syscall::ENDPOINT`], with the tables' life cycle. A collision can only hide a novel
//! endpoint, never invent one. The same row's pair flags list the first
//! [`ENDPOINTS_LISTED`] endpoints exactly, to show them.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use crate::ngram::{mix, NGRAM_BITS};
use crate::Syscall;

/// The row of a table that holds endpoints.
pub const ENDPOINT_ROW: Syscall = Syscall::ENDPOINT;

/// How many endpoints a table lists, for showing them (its endpoint row's pair flags, 8 bytes
/// each); more are learned and tested all the same.
pub const ENDPOINTS_LISTED: usize = crate::MAX_SYSCALLS / 8;

/// Whether a program reached a remote endpoint or bound a local one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Direction {
    /// A remote endpoint: `connect(2)`, or a send with an address (`sendto`, `sendmsg`, the
    /// first message of `sendmmsg`): UDP datagrams, TCP Fast Open. However a program reaches
    /// a remote endpoint, it is the same endpoint.
    Connect = 1,
    /// `bind(2)`: a local address and port.
    Bind = 2,
}

/// The address family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Family {
    /// IPv4 (`AF_INET`).
    Inet = 4,
    /// IPv6 (`AF_INET6`).
    Inet6 = 6,
}

/// What kind of address: the class an endpoint is learned by, so that a program that talks
/// to one host on the local network is not surprised by another.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AddressClass {
    /// `0.0.0.0`, `::` (binding every address).
    Any = 1,
    /// `127.0.0.0/8`, `::1`.
    Loopback = 2,
    /// `10/8`, `172.16/12`, `192.168/16`, `100.64/10` (carrier-grade NAT), `fc00::/7`.
    Private = 3,
    /// `169.254/16`, `fe80::/10`.
    LinkLocal = 4,
    /// `224/4`, `255.255.255.255`, `ff00::/8`.
    Multicast = 5,
    /// Everything else.
    Public = 6,
}

/// An endpoint as a profile learns it (see the module's documentation).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Endpoint {
    /// Connected to, or bound.
    pub direction: Direction,
    /// IPv4 or IPv6 (an IPv4 address mapped into IPv6 is classed as IPv4 would be, and stays
    /// IPv6).
    pub family: Family,
    /// The kind of address.
    pub class: AddressClass,
    /// The port (remote for `connect`, local for `bind`; 0: any).
    pub port: u16,
}

const AF_INET: u16 = 2;
const AF_INET6: u16 = 10;

impl AddressClass {
    /// The class of an IPv4 address.
    pub fn of_v4(a: Ipv4Addr) -> AddressClass {
        let [b0, b1, ..] = a.octets();
        if a.is_unspecified() {
            AddressClass::Any
        } else if b0 == 127 {
            AddressClass::Loopback
        } else if b0 == 10
            || (b0 == 172 && (16..32).contains(&b1))
            || (b0 == 192 && b1 == 168)
            || (b0 == 100 && (64..128).contains(&b1))
        {
            AddressClass::Private
        } else if b0 == 169 && b1 == 254 {
            AddressClass::LinkLocal
        } else if b0 >= 224 {
            AddressClass::Multicast
        } else {
            AddressClass::Public
        }
    }

    /// The class of an IPv6 address.
    pub fn of_v6(a: Ipv6Addr) -> AddressClass {
        let o = a.octets();
        if let [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, a, b, c, d] = o {
            return AddressClass::of_v4(Ipv4Addr::new(a, b, c, d));
        }
        if a.is_unspecified() {
            AddressClass::Any
        } else if a.is_loopback() {
            AddressClass::Loopback
        } else if o[0] & 0xfe == 0xfc {
            AddressClass::Private
        } else if o[0] == 0xfe && o[1] & 0xc0 == 0x80 {
            AddressClass::LinkLocal
        } else if o[0] == 0xff {
            AddressClass::Multicast
        } else {
            AddressClass::Public
        }
    }

    fn name(self) -> &'static str {
        match self {
            AddressClass::Any => "any",
            AddressClass::Loopback => "loopback",
            AddressClass::Private => "private",
            AddressClass::LinkLocal => "link-local",
            AddressClass::Multicast => "multicast",
            AddressClass::Public => "public",
        }
    }

    fn from_u8(n: u8) -> Option<AddressClass> {
        Some(match n {
            1 => AddressClass::Any,
            2 => AddressClass::Loopback,
            3 => AddressClass::Private,
            4 => AddressClass::LinkLocal,
            5 => AddressClass::Multicast,
            6 => AddressClass::Public,
            _ => return None,
        })
    }
}

/// The direction in which call `name` (x86_64) names an endpoint, if it may name one: the
/// calls the kernel engine reads an address from (`names_endpoint()` in its `endpoints.h`).
pub fn endpoint_direction(name: &str) -> Option<Direction> {
    match name {
        "connect" | "sendto" | "sendmsg" | "sendmmsg" => Some(Direction::Connect),
        "bind" => Some(Direction::Bind),
        _ => None,
    }
}

impl Endpoint {
    /// The endpoint of a `struct sockaddr` as a program passed it to `connect` or `bind`
    /// (the family in the machine's byte order, the port in network order); `None` for a
    /// family other than IPv4 and IPv6, or an address too short.
    pub fn from_sockaddr(direction: Direction, sa: &[u8]) -> Option<Endpoint> {
        let family = u16::from_ne_bytes([*sa.first()?, *sa.get(1)?]);
        let port = u16::from_be_bytes([*sa.get(2)?, *sa.get(3)?]);
        let address = match family {
            AF_INET if sa.len() >= 8 => {
                let a: [u8; 4] = sa[4..8].try_into().ok()?;
                IpAddr::from(a)
            }
            AF_INET6 if sa.len() >= 24 => {
                let a: [u8; 16] = sa[8..24].try_into().ok()?;
                IpAddr::from(a)
            }
            _ => return None,
        };
        Some(Endpoint::of_address(direction, address, port))
    }

    /// The endpoint of `address` and `port` (as [`Endpoint::from_sockaddr`] classes them).
    pub fn of_address(direction: Direction, address: IpAddr, port: u16) -> Endpoint {
        let (family, class) = match address {
            IpAddr::V4(a) => (Family::Inet, AddressClass::of_v4(a)),
            IpAddr::V6(a) => (Family::Inet6, AddressClass::of_v6(a)),
        };
        Endpoint {
            direction,
            family,
            class,
            port,
        }
    }

    /// The endpoint as one number, as the kernel engine computes it: the port in bits 0-15,
    /// the class in 16-23, the family (4 or 6) in 24-31, the direction in 32-39.
    pub fn id(&self) -> u64 {
        u64::from(self.port)
            | (self.class as u64) << 16
            | (self.family as u64) << 24
            | (self.direction as u64) << 32
    }

    /// The endpoint of an [`Endpoint::id`].
    pub fn from_id(id: u64) -> Option<Endpoint> {
        let direction = match id >> 32 {
            1 => Direction::Connect,
            2 => Direction::Bind,
            _ => return None,
        };
        let family = match (id >> 24) & 0xff {
            4 => Family::Inet,
            6 => Family::Inet6,
            _ => return None,
        };
        Some(Endpoint {
            direction,
            family,
            class: AddressClass::from_u8(((id >> 16) & 0xff) as u8)?,
            port: id as u16,
        })
    }

    /// Its two bits in the endpoint row (`endpoint_hash()` in the BPF program).
    pub fn bits(&self) -> [u16; 2] {
        let h = mix(self.id(), 0, 0);
        [
            (h & (NGRAM_BITS as u64 - 1)) as u16,
            ((h >> 12) & (NGRAM_BITS as u64 - 1)) as u16,
        ]
    }
}

/// `connect inet loopback:5432`, `bind inet6 any:8080`.
impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let direction = match self.direction {
            Direction::Connect => "connect",
            Direction::Bind => "bind",
        };
        let family = match self.family {
            Family::Inet => "inet",
            Family::Inet6 => "inet6",
        };
        write!(
            f,
            "{direction} {family} {}:{}",
            self.class.name(),
            self.port
        )
    }
}

/// The error of parsing an [`Endpoint`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid endpoint {0:?} (expected e.g. \"connect inet loopback:5432\")")]
pub struct EndpointError(pub String);

impl FromStr for Endpoint {
    type Err = EndpointError;

    fn from_str(s: &str) -> Result<Endpoint, EndpointError> {
        let bad = || EndpointError(s.to_owned());
        let mut words = s.split_whitespace();
        let direction = match words.next() {
            Some("connect") => Direction::Connect,
            Some("bind") => Direction::Bind,
            _ => return Err(bad()),
        };
        let family = match words.next() {
            Some("inet") => Family::Inet,
            Some("inet6") => Family::Inet6,
            _ => return Err(bad()),
        };
        let (class, port) = words
            .next()
            .and_then(|w| w.split_once(':'))
            .ok_or_else(bad)?;
        let class = (1..=6)
            .filter_map(AddressClass::from_u8)
            .find(|c| c.name() == class)
            .ok_or_else(bad)?;
        if words.next().is_some() {
            return Err(bad());
        }
        Ok(Endpoint {
            direction,
            family,
            class,
            port: port.parse().map_err(|_| bad())?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(a: [u8; 4], port: u16) -> Vec<u8> {
        let mut sa = AF_INET.to_ne_bytes().to_vec();
        sa.extend_from_slice(&port.to_be_bytes());
        sa.extend_from_slice(&a);
        sa.extend_from_slice(&[0; 8]);
        sa
    }

    fn v6(a: Ipv6Addr, port: u16) -> Vec<u8> {
        let mut sa = AF_INET6.to_ne_bytes().to_vec();
        sa.extend_from_slice(&port.to_be_bytes());
        sa.extend_from_slice(&[0; 4]);
        sa.extend_from_slice(&a.octets());
        sa.extend_from_slice(&[0; 4]);
        sa
    }

    #[test]
    fn addresses_fall_into_their_classes() {
        use AddressClass::*;
        for (a, class) in [
            ([0, 0, 0, 0], Any),
            ([127, 0, 0, 1], Loopback),
            ([127, 9, 9, 9], Loopback),
            ([10, 1, 2, 3], Private),
            ([172, 16, 0, 1], Private),
            ([172, 32, 0, 1], Public),
            ([192, 168, 1, 1], Private),
            ([100, 64, 0, 1], Private),
            ([169, 254, 1, 1], LinkLocal),
            ([224, 0, 0, 251], Multicast),
            ([255, 255, 255, 255], Multicast),
            ([8, 8, 8, 8], Public),
        ] {
            assert_eq!(AddressClass::of_v4(Ipv4Addr::from(a)), class, "{a:?}");
        }
        for (a, class) in [
            ("::", Any),
            ("::1", Loopback),
            ("fd00::1", Private),
            ("fe80::1", LinkLocal),
            ("ff02::1", Multicast),
            ("2001:db8::1", Public),
            ("::ffff:127.0.0.1", Loopback),
            ("::ffff:8.8.8.8", Public),
        ] {
            assert_eq!(AddressClass::of_v6(a.parse().unwrap()), class, "{a}");
        }
    }

    #[test]
    fn sockaddrs_become_endpoints_and_back() {
        let e = Endpoint::from_sockaddr(Direction::Connect, &v4([127, 0, 0, 1], 5432)).unwrap();
        assert_eq!(e.to_string(), "connect inet loopback:5432");
        let e6 =
            Endpoint::from_sockaddr(Direction::Bind, &v6(Ipv6Addr::UNSPECIFIED, 8080)).unwrap();
        assert_eq!(e6.to_string(), "bind inet6 any:8080");
        for e in [e, e6] {
            assert_eq!(Endpoint::from_id(e.id()), Some(e));
            assert_eq!(e.to_string().parse::<Endpoint>(), Ok(e));
        }
        assert_ne!(e.bits(), e6.bits());
        // Another family, or too short: none.
        let mut unix = 1u16.to_ne_bytes().to_vec();
        unix.extend_from_slice(b"/run/x\0");
        assert_eq!(Endpoint::from_sockaddr(Direction::Connect, &unix), None);
        assert_eq!(
            Endpoint::from_sockaddr(Direction::Connect, &[2, 0, 0]),
            None
        );
        assert_eq!(Endpoint::from_id(0), None);
        for bad in [
            "",
            "connect",
            "connect inet",
            "send inet any:1",
            "bind inet any:x",
            "bind inet mars:1",
        ] {
            assert!(bad.parse::<Endpoint>().is_err(), "{bad}");
        }
    }
}
