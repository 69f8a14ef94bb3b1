//! Classification of IP addresses for the SSRF guard of the Client ID Metadata Document fetcher.
//!
//! [`is_forbidden`] is a pure function: it answers whether the fetcher may open a connection to an
//! address on behalf of a client-supplied `client_id` URL. Everything that is not plainly a public,
//! globally routable unicast address is forbidden.
//!
//! Decisions:
//! * IPv4-mapped (`::ffff:0:0/96`), IPv4-translated (`::ffff:0:0:0/96`) and IPv4-compatible
//!   (`::/96`) IPv6 addresses are forbidden outright, whatever IPv4 address they embed. A DNS answer
//!   has no legitimate reason to use these forms, and judging the embedded address would make the
//!   guard depend on how the operating system treats them.
//! * NAT64 (`64:ff9b::/96`, `64:ff9b:1::/48`), 6to4 (`2002::/16`) and Teredo (`2001::/32`) are
//!   forbidden outright too: they tunnel to IPv4 addresses that may be internal.
//! * For IPv6, anything outside global unicast `2000::/3` is forbidden as a catch-all (this covers
//!   the unassigned space as well as every special range below `2000::` and above `3fff:ffff::`).
//!   The explicit ranges are still listed so that each rule is visible and tested.
//! * A few special-purpose ranges beyond the required list are forbidden as well, as they are never
//!   a legitimate public web host: 6to4 relay anycast `192.88.99.0/24`, IPv6 benchmarking
//!   `2001:2::/48`, IPv6 documentation `3fff::/20` (RFC 9637) and SRv6 SIDs `5f00::/16` (RFC 9602).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{Ipv4Net, Ipv6Net};

const fn v4(a: u8, b: u8, c: u8, d: u8, prefix: u8) -> Ipv4Net {
    Ipv4Net::new_assert(Ipv4Addr::new(a, b, c, d), prefix)
}

#[allow(clippy::too_many_arguments)]
const fn v6(a: u16, b: u16, c: u16, d: u16, e: u16, f: u16, g: u16, h: u16, prefix: u8) -> Ipv6Net {
    Ipv6Net::new_assert(Ipv6Addr::new(a, b, c, d, e, f, g, h), prefix)
}

/// IPv4 ranges the fetcher must never connect to (unless private addresses are allowed).
const FORBIDDEN_V4: &[Ipv4Net] = &[
    v4(0, 0, 0, 0, 8),       // "this network", includes the unspecified address 0.0.0.0
    v4(10, 0, 0, 0, 8),      // private (RFC 1918)
    v4(100, 64, 0, 0, 10),   // carrier-grade NAT shared space (RFC 6598)
    v4(127, 0, 0, 0, 8),     // loopback
    v4(169, 254, 0, 0, 16),  // link-local (cloud metadata endpoints live here)
    v4(172, 16, 0, 0, 12),   // private (RFC 1918)
    v4(192, 0, 0, 0, 24),    // IETF protocol assignments
    v4(192, 0, 2, 0, 24),    // documentation TEST-NET-1
    v4(192, 88, 99, 0, 24),  // deprecated 6to4 relay anycast
    v4(192, 168, 0, 0, 16),  // private (RFC 1918)
    v4(198, 18, 0, 0, 15),   // benchmarking
    v4(198, 51, 100, 0, 24), // documentation TEST-NET-2
    v4(203, 0, 113, 0, 24),  // documentation TEST-NET-3
    v4(224, 0, 0, 0, 4),     // multicast
    v4(240, 0, 0, 0, 4),     // reserved, includes the limited broadcast 255.255.255.255
];

/// IPv6 ranges the fetcher must never connect to (unless private addresses are allowed).
const FORBIDDEN_V6: &[Ipv6Net] = &[
    v6(0, 0, 0, 0, 0, 0, 0, 0, 96),          // IPv4-compatible, includes :: and ::1
    v6(0, 0, 0, 0, 0, 0xffff, 0, 0, 96),     // IPv4-mapped
    v6(0, 0, 0, 0, 0xffff, 0, 0, 0, 96),     // IPv4-translated (SIIT)
    v6(0x64, 0xff9b, 0, 0, 0, 0, 0, 0, 96),  // NAT64 well-known prefix
    v6(0x64, 0xff9b, 1, 0, 0, 0, 0, 0, 48),  // NAT64 local-use prefix
    v6(0x100, 0, 0, 0, 0, 0, 0, 0, 64),      // discard-only
    v6(0x2001, 0, 0, 0, 0, 0, 0, 0, 32),     // Teredo (exactly 2001:0000::/32)
    v6(0x2001, 0x2, 0, 0, 0, 0, 0, 0, 48),   // benchmarking
    v6(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0, 32), // documentation
    v6(0x2002, 0, 0, 0, 0, 0, 0, 0, 16),     // 6to4
    v6(0x3fff, 0, 0, 0, 0, 0, 0, 0, 20),     // documentation (RFC 9637)
    v6(0x5f00, 0, 0, 0, 0, 0, 0, 0, 16),     // SRv6 SIDs
    v6(0xfc00, 0, 0, 0, 0, 0, 0, 0, 7),      // unique-local
    v6(0xfe80, 0, 0, 0, 0, 0, 0, 0, 10),     // link-local
    v6(0xfec0, 0, 0, 0, 0, 0, 0, 0, 10),     // site-local (deprecated)
    v6(0xff00, 0, 0, 0, 0, 0, 0, 0, 8),      // multicast
];

/// Global unicast: the only IPv6 space from which public addresses are assigned.
const GLOBAL_UNICAST_V6: Ipv6Net = v6(0x2000, 0, 0, 0, 0, 0, 0, 0, 3);

/// True when the fetcher must not connect to `ip`: loopback, unspecified, private, link-local,
/// shared, reserved, multicast, documentation, benchmarking, transition-mechanism and other
/// special-purpose addresses (see the module documentation for the full list and the decisions).
pub fn is_forbidden(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(ip) => FORBIDDEN_V4.iter().any(|net| net.contains(&ip)),
        IpAddr::V6(ip) => !GLOBAL_UNICAST_V6.contains(&ip) || FORBIDDEN_V6.iter().any(|net| net.contains(&ip)),
    }
}

#[cfg(test)]
mod tests {
    use super::is_forbidden;
    use std::net::IpAddr;

    fn forbidden(s: &str) -> bool {
        is_forbidden(s.parse::<IpAddr>().unwrap())
    }

    #[track_caller]
    fn assert_forbidden(s: &str) {
        assert!(forbidden(s), "{s} should be forbidden");
    }

    #[track_caller]
    fn assert_allowed(s: &str) {
        assert!(!forbidden(s), "{s} should be allowed");
    }

    #[test]
    fn public_addresses_are_allowed() {
        assert_allowed("8.8.8.8");
        assert_allowed("1.1.1.1");
        assert_allowed("93.184.216.34");
        assert_allowed("2606:4700:4700::1111");
        assert_allowed("2a00:1450:4001:80b::200e");
    }

    #[test]
    fn v4_this_network_and_unspecified() {
        assert_forbidden("0.0.0.0");
        assert_forbidden("0.255.255.255");
        assert_allowed("1.0.0.1");
    }

    #[test]
    fn v4_loopback() {
        assert_forbidden("127.0.0.1");
        assert_forbidden("127.255.255.254");
        assert_allowed("128.0.0.1");
        assert_allowed("126.255.255.255");
    }

    #[test]
    fn v4_private_rfc1918() {
        assert_forbidden("10.0.0.1");
        assert_forbidden("10.255.255.255");
        assert_allowed("11.0.0.1");
        assert_allowed("9.255.255.255");
        assert_forbidden("172.16.0.1");
        assert_forbidden("172.31.255.255");
        assert_allowed("172.15.255.255");
        assert_allowed("172.32.0.0");
        assert_forbidden("192.168.0.1");
        assert_forbidden("192.168.255.255");
        assert_allowed("192.169.0.0");
        assert_allowed("192.167.255.255");
    }

    #[test]
    fn v4_link_local() {
        assert_forbidden("169.254.169.254");
        assert_forbidden("169.254.0.0");
        assert_allowed("169.255.0.1");
        assert_allowed("169.253.255.255");
    }

    #[test]
    fn v4_cgnat() {
        assert_forbidden("100.64.0.0");
        assert_forbidden("100.127.255.255");
        assert_allowed("100.63.255.255");
        assert_allowed("100.128.0.0");
    }

    #[test]
    fn v4_benchmarking() {
        assert_forbidden("198.18.0.1");
        assert_forbidden("198.19.255.255");
        assert_allowed("198.17.255.255");
        assert_allowed("198.20.0.0");
    }

    #[test]
    fn v4_reserved_and_broadcast() {
        assert_forbidden("240.0.0.1");
        assert_forbidden("255.255.255.255");
        assert_allowed("223.255.255.255");
    }

    #[test]
    fn v4_multicast() {
        assert_forbidden("224.0.0.1");
        assert_forbidden("239.255.255.250");
    }

    #[test]
    fn v4_documentation() {
        assert_forbidden("192.0.2.1");
        assert_allowed("192.0.3.1");
        assert_forbidden("198.51.100.7");
        assert_allowed("198.51.101.7");
        assert_forbidden("203.0.113.9");
        assert_allowed("203.0.114.9");
    }

    #[test]
    fn v4_ietf_protocol_assignments() {
        assert_forbidden("192.0.0.8");
        assert_forbidden("192.0.0.255");
        assert_allowed("192.0.1.1");
    }

    #[test]
    fn v4_6to4_relay_anycast() {
        assert_forbidden("192.88.99.1");
        assert_allowed("192.88.98.1");
    }

    #[test]
    fn v6_loopback_and_unspecified() {
        assert_forbidden("::1");
        assert_forbidden("::");
    }

    #[test]
    fn v6_ipv4_compatible() {
        assert_forbidden("::8.8.8.8");
        assert_forbidden("::127.0.0.1");
        assert_forbidden("::ffff:ffff");
    }

    #[test]
    fn v6_ipv4_mapped_forbidden_outright() {
        assert_forbidden("::ffff:127.0.0.1");
        assert_forbidden("::ffff:10.0.0.1");
        // Even a public embedded address: the whole range is refused.
        assert_forbidden("::ffff:8.8.8.8");
        assert_forbidden("::ffff:0:8.8.8.8");
    }

    #[test]
    fn v6_nat64() {
        assert_forbidden("64:ff9b::808:808");
        assert_forbidden("64:ff9b::7f00:1");
        assert_forbidden("64:ff9b:1::1");
        assert_forbidden("64:ff9b:1:ffff::1");
    }

    #[test]
    fn v6_discard_only() {
        assert_forbidden("100::1");
        assert_forbidden("100::ffff:ffff:ffff:ffff");
    }

    #[test]
    fn v6_teredo_exactly_2001_0000() {
        assert_forbidden("2001::1");
        assert_forbidden("2001:0:ffff:ffff::1");
        // 2001:1::/32 is neither Teredo nor documentation; 2001:4860:: is Google's public space.
        assert_allowed("2001:4860:4860::8888");
        assert_allowed("2001:1::1");
    }

    #[test]
    fn v6_benchmarking() {
        assert_forbidden("2001:2::1");
        assert_allowed("2001:3::1");
    }

    #[test]
    fn v6_documentation() {
        assert_forbidden("2001:db8::1");
        assert_forbidden("2001:db8:ffff::1");
        assert_allowed("2001:db9::1");
        assert_allowed("2001:db7::1");
        assert_forbidden("3fff::1");
        assert_forbidden("3fff:fff::1");
        assert_allowed("3fff:1000::1");
    }

    #[test]
    fn v6_6to4() {
        assert_forbidden("2002::1");
        assert_forbidden("2002:c000:204::1");
        assert_allowed("2003::1");
    }

    #[test]
    fn v6_srv6_sids() {
        assert_forbidden("5f00::1");
    }

    #[test]
    fn v6_unique_local() {
        assert_forbidden("fc00::1");
        assert_forbidden("fd12:3456:789a::1");
        assert_forbidden("fdff:ffff::1");
    }

    #[test]
    fn v6_link_local() {
        assert_forbidden("fe80::1");
        assert_forbidden("febf:ffff::1");
    }

    #[test]
    fn v6_site_local() {
        assert_forbidden("fec0::1");
        assert_forbidden("feff:ffff::1");
    }

    #[test]
    fn v6_multicast() {
        assert_forbidden("ff02::1");
        assert_forbidden("ff0e::1");
    }

    #[test]
    fn v6_outside_global_unicast() {
        assert_forbidden("4000::1");
        assert_forbidden("1fff:ffff::1");
        assert_forbidden("e000::1");
        assert_allowed("2000::1");
        assert_allowed("2c0f:fb50:4003::1");
    }
}
