//! The destination-address check: loopback, private, link-local (cloud
//! metadata lives there), shared, multicast and unspecified addresses are
//! refused unless the server allows private destinations. It is applied to
//! the address actually connected to: IP literals before sending, names as
//! they resolve.

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
    let [a, b, ..] = ip.octets();
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
    } else if ip.is_broadcast() || ip.is_multicast() || a >= 240 {
        Some("broadcast, multicast or reserved")
    } else {
        None
    }
}

fn forbidden_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let first = ip.segments()[0];
    if ip.is_loopback() {
        Some("loopback")
    } else if ip.is_unspecified() {
        Some("unspecified")
    } else if first & 0xfe00 == 0xfc00 {
        Some("private network (unique local)")
    } else if first & 0xffc0 == 0xfe80 {
        Some("link-local")
    } else if ip.is_multicast() {
        Some("multicast")
    } else if ip.to_ipv4().is_some_and(|v4| forbidden_v4(v4).is_some()) && first == 0 {
        Some("IPv4-compatible private address")
    } else {
        None
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
        ] {
            assert!(forbidden(ip(s)).is_some(), "{s} must be refused");
        }
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
