//! SSRF guard on a URL's host *literal*.
//!
//! Archiving fetches whatever a user pasted, so a link must not steer our
//! fetchers at loopback, the LAN or a cloud metadata service. The `url` crate
//! (WHATWG parser) already turns every IPv4 spelling browsers accept —
//! `2130706433`, `0x7f000001`, `0177.0.0.1`, `127.1`, `%31%32%37.0.0.1`,
//! fullwidth digits — into a parsed address, so checking `Url::host()` covers
//! them; the tests pin that down.
//!
//! This is only the literal check (at submission, and before every guarded
//! request). A public name that *resolves* to a private address (DNS
//! rebinding) is refused again when we connect: [`super::guard`].

use std::net::{Ipv4Addr, Ipv6Addr};

use url::{Host, Url};
use vaultstream_core::{ErrorCode, UserError};

/// Refuse a URL whose host is not a public internet target.
pub(crate) fn check(url: &Url) -> Result<(), UserError> {
    let refused = match url.host() {
        None => Some("it has no host"),
        Some(Host::Ipv4(ip)) => (!is_public_v4(ip)).then_some("its address is not public"),
        Some(Host::Ipv6(ip)) => (!is_public_v6(ip)).then_some("its address is not public"),
        Some(Host::Domain(name)) => {
            (!is_public_name(name)).then_some("its host name only exists on a local network")
        }
    };
    match refused {
        None => Ok(()),
        Some(why) => Err(UserError::new(
            ErrorCode::ForbiddenTarget,
            format!(
                "the link points at `{}`, which cannot be archived: {why}",
                url.host_str().unwrap_or_default()
            ),
        )),
    }
}

fn is_public_name(name: &str) -> bool {
    let name = super::normalise_host(name);
    // A single-label name (`metadata`, `intranet`, `router`) is completed by
    // the resolver's search domains: always someone's local network.
    if !name.contains('.') {
        return false;
    }
    const LOCAL_SUFFIXES: [&str; 5] = [
        ".localhost",
        ".local",
        ".internal",
        ".localdomain",
        ".home.arpa",
    ];
    !LOCAL_SUFFIXES.iter().any(|suffix| name.ends_with(suffix))
}

pub(crate) fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    let private = a == 0                                // "this network"
        || a == 10
        || (a == 100 && (64..128).contains(&b))         // carrier-grade NAT
        || a == 127
        || (a == 169 && b == 254)                       // link-local, cloud metadata
        || (a == 172 && (16..32).contains(&b))
        || (a == 192 && b == 0 && c == 0)               // IETF protocol assignments
        || (a == 192 && b == 0 && c == 2)               // TEST-NET-1
        || (a == 192 && b == 88 && c == 99)             // 6to4 relay anycast
        || (a == 192 && b == 168)
        || (a == 198 && (18..20).contains(&b))          // benchmarking
        || (a == 198 && b == 51 && c == 100)            // TEST-NET-2
        || (a == 203 && b == 0 && c == 113)             // TEST-NET-3
        || a >= 224; // multicast, reserved, broadcast
    !private
}

pub(crate) fn is_public_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    let embedded_v4 = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    match s {
        // ::, ::1 and the IPv4-compatible ::a.b.c.d (deprecated, but some
        // stacks still route it to the embedded address).
        [0, 0, 0, 0, 0, 0, hi, lo] => hi != 0 && is_public_v4(embedded_v4(hi, lo)),
        // IPv4-mapped ::ffff:a.b.c.d and IPv4-translated ::ffff:0:a.b.c.d.
        [0, 0, 0, 0, 0, 0xffff, hi, lo] | [0, 0, 0, 0, 0xffff, 0, hi, lo] => {
            is_public_v4(embedded_v4(hi, lo))
        }
        // NAT64 well-known prefix: the gateway connects to the embedded v4.
        [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => is_public_v4(embedded_v4(hi, lo)),
        // 6to4: 2002:AABB:CCDD::/48 carries a.b.c.d in bits 16..48.
        [0x2002, hi, lo, ..] => is_public_v4(embedded_v4(hi, lo)),
        // Local-use NAT64 (64:ff9b:1::/48), discard-only (100::/64),
        // Teredo (2001::/32, obfuscated v4 inside), documentation (2001:db8::/32).
        [0x64, 0xff9b, 1, ..] | [0x100, 0, 0, 0, ..] | [0x2001, 0, ..] | [0x2001, 0xdb8, ..] => {
            false
        }
        // Unique local fc00::/7, link-local fe80::/10, site-local fec0::/10,
        // multicast ff00::/8.
        [first, ..] => {
            !((first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || (first & 0xffc0) == 0xfec0
                || (first & 0xff00) == 0xff00)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v4_ranges() {
        for private in [
            "0.0.0.0",
            "0.1.2.3",
            "10.0.0.1",
            "100.64.0.1",
            "100.127.255.255",
            "127.0.0.1",
            "127.255.0.1",
            "169.254.169.254",
            "172.16.0.1",
            "172.31.255.255",
            "192.0.0.8",
            "192.0.2.1",
            "192.168.1.1",
            "198.18.0.1",
            "198.19.255.255",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
        ] {
            let ip: Ipv4Addr = private.parse().expect("ip");
            assert!(!is_public_v4(ip), "{private} must be refused");
        }
        for public in [
            "1.1.1.1",
            "8.8.8.8",
            "100.63.255.255",
            "100.128.0.1",
            "172.15.0.1",
            "172.32.0.1",
            "192.0.1.1",
            "192.169.0.1",
            "198.20.0.1",
            "223.255.255.255",
        ] {
            let ip: Ipv4Addr = public.parse().expect("ip");
            assert!(is_public_v4(ip), "{public} is public");
        }
    }

    #[test]
    fn v6_ranges() {
        for private in [
            "::",
            "::1",
            "::ffff:127.0.0.1",
            "::ffff:10.1.2.3",
            "::127.0.0.1",
            "::ffff:0:192.168.0.1",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b:1::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "febf::1",
            "fec0::1",
            "ff02::1",
            "2001:db8::1",
            "2001::1",
            "2002:7f00:1::1",
            "2002:c0a8:101::",
            "100::1",
        ] {
            let ip: Ipv6Addr = private.parse().expect("ip");
            assert!(!is_public_v6(ip), "{private} must be refused");
        }
        for public in [
            "2606:4700:4700::1111",
            "2001:4860:4860::8888",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
            "2400:cb00::1",
        ] {
            let ip: Ipv6Addr = public.parse().expect("ip");
            assert!(is_public_v6(ip), "{public} is public");
        }
    }

    #[test]
    fn names() {
        for local in [
            "localhost",
            "LOCALHOST.",
            "a.localhost",
            "printer.local",
            "metadata",
            "metadata.google.internal",
            "intranet",
            "box.localdomain",
            "nas.home.arpa",
        ] {
            assert!(!is_public_name(local), "{local} must be refused");
        }
        for public in [
            "example.com",
            "localhost.example.com",
            "internal.example.com",
            "b23.tv",
        ] {
            assert!(is_public_name(public), "{public} is public");
        }
    }
}
