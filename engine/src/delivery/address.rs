//! The destination-address check: loopback, private, link-local (cloud
//! metadata lives there), shared, benchmarking, documentation, multicast,
//! reserved and unspecified addresses are refused unless the server allows
//! private destinations, and so is an IPv6 address that carries one of them
//! (IPv4-mapped or -compatible, NAT64, 6to4, Teredo). It is applied to the
//! address actually connected to: IP literals before sending, names as they
//! resolve.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Why an address may not be a destination, or `None` when it may.
pub fn forbidden(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => forbidden_v4(v4),
            None => forbidden_v6(v6),
        },
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    if ip.is_loopback() {
        Some("loopback")
    } else if ip.is_private() {
        Some("private network")
    } else if ip.is_link_local() {
        Some("link-local (cloud metadata)")
    } else if a == 100 && (64..128).contains(&b) {
        Some("shared address space")
    } else if ip.is_unspecified() || a == 0 {
        Some("unspecified")
    } else if a == 192 && b == 0 && c == 0 {
        Some("IETF protocol assignments")
    } else if a == 198 && (b == 18 || b == 19) {
        Some("benchmarking network")
    } else if ip.is_documentation() {
        Some("documentation")
    } else if ip.is_broadcast() || ip.is_multicast() || a >= 240 {
        Some("broadcast, multicast or reserved")
    } else {
        None
    }
}

fn forbidden_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let s = ip.segments();
    if ip.is_loopback() {
        Some("loopback")
    } else if ip.is_unspecified() {
        Some("unspecified")
    } else if s[0] & 0xfe00 == 0xfc00 {
        Some("private network (unique local)")
    } else if s[0] & 0xffc0 == 0xfe80 {
        Some("link-local")
    } else if ip.is_multicast() {
        Some("multicast")
    } else if s[0] == 0x64 && s[1] == 0xff9b && s[2] == 1 {
        Some("local-use NAT64")
    } else if s[0] == 0x100 && s[1..4] == [0, 0, 0] {
        Some("discard-only")
    } else if s[0] == 0x2001 && s[1] == 0xdb8 {
        Some("documentation")
    } else {
        embedded_v4(ip)
            .into_iter()
            .find(|(v4, _)| forbidden_v4(*v4).is_some())
            .map(|(_, carrier)| carrier)
    }
}

/// The IPv4 addresses an IPv6 address leads to, with the name of the way
/// it carries them.
fn embedded_v4(ip: Ipv6Addr) -> Vec<(Ipv4Addr, &'static str)> {
    let s = ip.segments();
    let v4 = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    if s[..6] == [0; 6] {
        // ::a.b.c.d, IPv4-compatible (deprecated, still routed by some stacks).
        vec![(v4(s[6], s[7]), "IPv4-compatible private address")]
    } else if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0; 4] {
        vec![(v4(s[6], s[7]), "NAT64 of a private address")]
    } else if s[0] == 0x2002 {
        vec![(v4(s[1], s[2]), "6to4 of a private address")]
    } else if s[0] == 0x2001 && s[1] == 0 {
        // Teredo: the server, and the client's address stored inverted.
        vec![
            (v4(s[2], s[3]), "Teredo via a private address"),
            (v4(!s[6], !s[7]), "Teredo to a private address"),
        ]
    } else {
        Vec::new()
    }
}

/// The addresses of a resolved name that may be connected to; an error in
/// plain words when none may.
pub fn allowed(host: &str, addrs: Vec<SocketAddr>) -> Result<Vec<SocketAddr>, String> {
    let mut refused = None;
    let ok: Vec<SocketAddr> = addrs
        .into_iter()
        .filter(|a| match forbidden(a.ip()) {
            Some(why) => {
                refused.get_or_insert((a.ip(), why));
                false
            }
            None => true,
        })
        .collect();
    match (ok.is_empty(), refused) {
        (true, Some((ip, why))) => Err(format!(
            "destination not allowed: {host} resolves to {ip} ({why}); \
             set --allow-private-destinations to send there"
        )),
        _ => Ok(ok),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn refuses_internal_addresses() {
        for s in [
            "127.0.0.1",
            "127.255.0.9",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "192.0.0.8",
            "198.18.0.1",
            "198.19.255.254",
            "192.0.2.1",
            "203.0.113.9",
            "::127.0.0.1",
            "::10.0.0.1",
            "64:ff9b::7f00:1",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b::10.1.2.3",
            "64:ff9b:1::8.8.8.8",
            "2002:7f00:1::1",
            "2002:c0a8:101::1",
            "2001:0:a00:1::1",
            // Teredo to 127.0.0.1: the client's address is stored inverted.
            "2001:0:808:808::80ff:fffe",
            "100::1",
            "2001:db8::1",
        ] {
            assert!(forbidden(ip(s)).is_some(), "{s} must be refused");
        }
    }

    #[test]
    fn names_the_way_a_private_address_was_carried() {
        assert_eq!(
            forbidden(ip("64:ff9b::a9fe:a9fe")),
            Some("NAT64 of a private address")
        );
        assert_eq!(
            forbidden(ip("2002:a00:1::")),
            Some("6to4 of a private address")
        );
        assert_eq!(forbidden(ip("198.18.0.1")), Some("benchmarking network"));
    }

    #[test]
    fn allows_public_addresses() {
        for s in [
            "93.184.216.34",
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
            "198.20.0.1",
            "192.0.1.1",
            "64:ff9b::808:808",
            "2002:808:808::1",
            // Teredo via 8.8.8.8 to 8.8.4.4 (stored inverted).
            "2001:0:808:808::f7f7:fbfb",
        ] {
            assert_eq!(forbidden(ip(s)), None, "{s} must be allowed");
        }
    }

    #[test]
    fn a_name_is_refused_only_when_all_its_addresses_are() {
        let a = |s: &str| SocketAddr::new(ip(s), 443);
        assert_eq!(
            allowed("x", vec![a("10.0.0.1"), a("8.8.8.8")]),
            Ok(vec![a("8.8.8.8")])
        );
        let err = allowed("intranet", vec![a("10.0.0.1")]).unwrap_err();
        assert!(
            err.contains("intranet resolves to 10.0.0.1 (private network)"),
            "{err}"
        );
    }
}
