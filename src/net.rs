//! Network address helpers: CIDR parsing and the registering address behind trusted proxies.

use std::net::IpAddr;

use ipnet::IpNet;

/// Parse `10.0.0.0/8`, `2001:db8::/32` or a bare address (a /32 or /128 network).
pub fn parse_cidr(value: &str) -> Option<IpNet> {
    let value = value.trim();
    if let Ok(net) = value.parse::<IpNet>() {
        return Some(net.trunc());
    }
    value.parse::<IpAddr>().ok().map(|ip| IpNet::from(canonical_ip(ip)))
}

/// IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`, how a `[::]` listener reports IPv4 peers)
/// turned back into IPv4, so keys and CIDR matches see the address the client really has.
pub fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        v4 => v4,
    }
}

/// The registering address (SPEC §4.3): the TCP peer, or — when the peer is a trusted proxy —
/// the right-most X-Forwarded-For hop that is not itself a trusted proxy.
pub fn client_ip(peer: IpAddr, forwarded_for: Option<&str>, trusted_proxies: &[IpNet]) -> IpAddr {
    let peer = canonical_ip(peer);
    let is_trusted = |ip: &IpAddr| trusted_proxies.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let Some(header) = forwarded_for else {
        return peer;
    };
    let mut hops = header.split(',').rev().map(str::trim).filter(|hop| !hop.is_empty());
    let mut last_trusted = peer;
    for hop in hops.by_ref() {
        let Some(ip) = parse_hop(hop) else {
            // A garbled hop cannot be believed; the last trusted proxy is the best we know.
            return last_trusted;
        };
        if !is_trusted(&ip) {
            return ip;
        }
        last_trusted = ip;
    }
    last_trusted
}

/// One X-Forwarded-For hop: `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1` or `[2001:db8::1]:80`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(canonical_ip(ip));
    }
    if let Ok(addr) = hop.parse::<std::net::SocketAddr>() {
        return Some(canonical_ip(addr.ip()));
    }
    None
}

/// The rate-limit key of an address: IPv4 as is, IPv6 by its /64 (one customer's allocation).
pub fn rate_limit_key(ip: IpAddr) -> String {
    match canonical_ip(ip) {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match ipnet::Ipv6Net::new(v6, 64) {
            Ok(net) => net.trunc().to_string(),
            Err(_) => v6.to_string(),
        },
    }
}

/// The source network an address belongs to, for sign-in throttling (SPEC §11): IPv4 by /24,
/// IPv6 by /64 — an office or a home shares one.
pub fn network_key(ip: IpAddr) -> String {
    match canonical_ip(ip) {
        IpAddr::V4(v4) => match ipnet::Ipv4Net::new(v4, 24) {
            Ok(net) => net.trunc().to_string(),
            Err(_) => v4.to_string(),
        },
        IpAddr::V6(v6) => match ipnet::Ipv6Net::new(v6, 64) {
            Ok(net) => net.trunc().to_string(),
            Err(_) => v6.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_are_slash_24_and_slash_64() {
        assert_eq!(network_key("192.0.2.77".parse().unwrap()), "192.0.2.0/24");
        assert_eq!(network_key("::ffff:192.0.2.77".parse().unwrap()), "192.0.2.0/24");
        assert_eq!(network_key("2001:db8:1:2:3:4:5:6".parse().unwrap()), "2001:db8:1:2::/64");
    }

    fn nets(values: &[&str]) -> Vec<IpNet> {
        values.iter().filter_map(|v| parse_cidr(v)).collect()
    }

    #[test]
    fn untrusted_peer_is_the_address() {
        let peer: IpAddr = "203.0.113.9".parse().unwrap();
        assert_eq!(client_ip(peer, Some("1.2.3.4"), &nets(&["10.0.0.0/8"])), peer);
    }

    #[test]
    fn trusted_peer_gives_rightmost_untrusted_hop() {
        let peer: IpAddr = "10.0.0.2".parse().unwrap();
        let trusted = nets(&["10.0.0.0/8"]);
        let ip = client_ip(peer, Some("198.51.100.7, 203.0.113.5, 10.0.0.9"), &trusted);
        assert_eq!(ip, "203.0.113.5".parse::<IpAddr>().unwrap());
        assert_eq!(client_ip(peer, None, &trusted), peer);
        assert_eq!(client_ip(peer, Some("10.1.1.1"), &trusted), "10.1.1.1".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn ipv4_mapped_addresses_become_ipv4() {
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().unwrap();
        assert_eq!(canonical_ip(mapped), "10.0.0.1".parse::<IpAddr>().unwrap());
        assert_eq!(rate_limit_key(mapped), "10.0.0.1");
        // CIDR matching sees the IPv4 address too.
        let trusted = nets(&["10.0.0.0/8"]);
        assert_eq!(client_ip(mapped, Some("192.0.2.1"), &trusted), "192.0.2.1".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn ipv6_keyed_by_slash_64() {
        let a = rate_limit_key("2001:db8:1:2:aaaa::1".parse().unwrap());
        let b = rate_limit_key("2001:db8:1:2:bbbb::2".parse().unwrap());
        let c = rate_limit_key("2001:db8:1:3::1".parse().unwrap());
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a, "2001:db8:1:2::/64");
    }
}
