//! Which addresses outgoing webhooks may reach. By default only public unicast addresses:
//! a `WEBHOOKS` URL is set by API key holders and group admins, so without this an admin
//! could make the server POST to its own loopback, the cloud metadata service or the
//! private network (SSRF). The server's operator can allow ranges in the config file
//! (`[webhooks] allow_ranges`), e.g. for a receiver on the same host.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// An address range in CIDR notation (`10.0.0.0/8`, `::1/128`, or one address).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpRange {
    net: IpAddr,
    prefix: u8,
}

impl IpRange {
    /// Whether `ip` is inside (a v4-mapped v6 address counts as its v4 address).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.net, canonical(ip)) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

impl FromStr for IpRange {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let bad = || format!("\"{s}\" is not an address range like 10.0.0.0/8 or ::1/128");
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let net = canonical(addr.parse::<IpAddr>().map_err(|_| bad())?);
        let max = if net.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max).ok_or_else(bad)?,
        };
        Ok(Self { net, prefix })
    }
}

impl fmt::Display for IpRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.net, self.prefix)
    }
}

/// The webhook target policy: public unicast addresses, plus the operator's ranges.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WebhookTargets {
    /// Ranges allowed although not public (`webhooks.allow_ranges`).
    pub allow: Vec<IpRange>,
}

impl WebhookTargets {
    /// `None` when webhooks may reach `ip`; otherwise why not (e.g. "a loopback address").
    pub fn refusal(&self, ip: IpAddr) -> Option<&'static str> {
        let why = non_public(ip)?;
        if self.allow.iter().any(|r| r.contains(ip)) {
            return None;
        }
        Some(why)
    }
}

/// A v4-mapped v6 address (`::ffff:a.b.c.d`) as the v4 address it is.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        v4 => v4,
    }
}

/// Why `ip` is not a public unicast address, or `None` when it is.
pub fn non_public(ip: IpAddr) -> Option<&'static str> {
    match canonical(ip) {
        IpAddr::V4(v4) => non_public_v4(v4),
        IpAddr::V6(v6) => non_public_v6(v6),
    }
}

fn non_public_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    if ip.is_unspecified() || a == 0 {
        Some("an unspecified address")
    } else if ip.is_loopback() {
        Some("a loopback address")
    } else if ip.is_private() || (a == 100 && (64..128).contains(&b)) {
        Some("a private address")
    } else if ip.is_link_local() {
        Some("a link-local address")
    } else if ip.is_multicast() {
        Some("a multicast address")
    } else if ip.is_broadcast() || a >= 240 || (a == 192 && b == 0 && c == 0) {
        Some("a reserved address")
    } else {
        None
    }
}

fn non_public_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let seg = ip.segments();
    if ip.is_unspecified() {
        Some("an unspecified address")
    } else if ip.is_loopback() {
        Some("a loopback address")
    } else if ip.is_multicast() {
        Some("a multicast address")
    } else if seg[0] & 0xffc0 == 0xfe80 {
        Some("a link-local address")
    } else if seg[0] & 0xfe00 == 0xfc00 || seg[0] & 0xffc0 == 0xfec0 {
        Some("a private address")
    } else if seg[..6] == [0; 6] {
        // IPv4-compatible (deprecated): ::a.b.c.d reaches a.b.c.d on some stacks.
        let [_, _, _, _, _, _, hi, lo] = seg;
        non_public_v4(Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo)))
            .or(Some("a reserved address"))
    } else if seg[..6] == [0x64, 0xff9b, 0, 0, 0, 0] || seg[0] == 0x2002 {
        // NAT64 (64:ff9b::/96) and 6to4 (2002::/16) carry a v4 address inside.
        let v4 = if seg[0] == 0x2002 {
            (u32::from(seg[1]) << 16) | u32::from(seg[2])
        } else {
            (u32::from(seg[6]) << 16) | u32::from(seg[7])
        };
        non_public_v4(Ipv4Addr::from(v4))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn non_public_addresses() {
        for (a, why) in [
            ("127.0.0.1", "loopback"),
            ("127.8.9.10", "loopback"),
            ("10.1.2.3", "private"),
            ("172.16.0.1", "private"),
            ("172.31.255.255", "private"),
            ("192.168.1.1", "private"),
            ("100.64.0.1", "private"),
            ("169.254.169.254", "link-local"),
            ("224.0.0.1", "multicast"),
            ("239.255.255.250", "multicast"),
            ("0.0.0.0", "unspecified"),
            ("255.255.255.255", "reserved"),
            ("::1", "loopback"),
            ("::", "unspecified"),
            ("fe80::1", "link-local"),
            ("fd00::1", "private"),
            ("fc00::1", "private"),
            ("ff02::1", "multicast"),
            ("::ffff:127.0.0.1", "loopback"),
            ("::ffff:169.254.169.254", "link-local"),
            ("::ffff:10.0.0.1", "private"),
            ("::127.0.0.1", "loopback"),
            ("64:ff9b::7f00:1", "loopback"),
            ("2002:7f00:1::", "loopback"),
        ] {
            let got = non_public(ip(a));
            assert!(
                got.is_some_and(|g| g.contains(why)),
                "{a}: {got:?}, want {why}"
            );
        }
        for a in [
            "1.1.1.1",
            "93.184.216.34",
            "172.32.0.1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert_eq!(non_public(ip(a)), None, "{a}");
        }
    }

    #[test]
    fn allowed_ranges() {
        let t = WebhookTargets {
            allow: vec![
                "127.0.0.0/8".parse().unwrap(),
                "fd00::/8".parse().unwrap(),
                "10.0.0.7".parse().unwrap(),
            ],
        };
        assert_eq!(t.refusal(ip("127.0.0.1")), None);
        assert_eq!(t.refusal(ip("::ffff:127.0.0.1")), None);
        assert_eq!(t.refusal(ip("fd12::1")), None);
        assert_eq!(t.refusal(ip("10.0.0.7")), None);
        assert!(t.refusal(ip("10.0.0.8")).is_some());
        assert!(t.refusal(ip("::1")).is_some());
        assert!(WebhookTargets::default().refusal(ip("127.0.0.1")).is_some());
        let all: IpRange = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains(ip("10.0.0.1")));
        for bad in ["10.0.0.0/33", "x", "::/129", "1.2.3.4/"] {
            assert!(bad.parse::<IpRange>().is_err(), "{bad}");
        }
    }
}
