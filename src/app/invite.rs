//! How guests reach this server: with no `PUBLIC_URL`, the machine's LAN addresses found at start.
//! A host who opens PartyPic on `localhost` would otherwise hand out links only their own
//! machine can open.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use url::Url;

/// Base URLs guests on the same network can open, best first: private IPv4 addresses of this
/// machine's interfaces on the port it listens on. Empty when the server listens on loopback
/// only (no phone reaches it) or no interface has an address a phone could use.
pub fn lan_bases(listening: SocketAddr, https: bool) -> Vec<Url> {
    let ips: Vec<Ipv4Addr> = match listening.ip() {
        IpAddr::V4(ip) if ip.is_loopback() => Vec::new(),
        IpAddr::V6(ip) if ip.is_loopback() => Vec::new(),
        IpAddr::V4(ip) if !ip.is_unspecified() => vec![ip],
        // A specific IPv6 address: phones scan IPv4 links far more reliably; none offered.
        IpAddr::V6(ip) if !ip.is_unspecified() => Vec::new(),
        _ => interface_ipv4s(),
    };
    let mut ips: Vec<Ipv4Addr> = ips.into_iter().filter(|ip| usable(*ip)).collect();
    // Home and venue networks use private ranges; a public address (a VPS) comes after them.
    ips.sort_by_key(|ip| (!ip.is_private(), *ip));
    ips.dedup();
    let scheme = if https { "https" } else { "http" };
    ips.into_iter()
        .filter_map(|ip| Url::parse(&format!("{scheme}://{ip}:{}", listening.port())).ok())
        .collect()
}

fn interface_ipv4s() -> Vec<Ipv4Addr> {
    match if_addrs::get_if_addrs() {
        Ok(interfaces) => interfaces
            .into_iter()
            .filter_map(|interface| match interface.ip() {
                IpAddr::V4(ip) => Some(ip),
                IpAddr::V6(_) => None,
            })
            .collect(),
        Err(e) => {
            tracing::warn!(error = %e, "cannot list the network interfaces");
            Vec::new()
        }
    }
}

/// Addresses another device could reach: not loopback, link-local (no DHCP) or unspecified.
fn usable(ip: Ipv4Addr) -> bool {
    !(ip.is_loopback() || ip.is_link_local() || ip.is_unspecified() || ip.is_broadcast())
}

/// Whether `host` (a URL's host) names this machine only: `localhost`, 127.0.0.0/8, `::1`.
pub fn is_loopback_host(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host.to_ascii_lowercase().ends_with(".localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_on_loopback_offers_no_lan_link() {
        assert!(lan_bases("127.0.0.1:3000".parse().expect("addr"), false).is_empty());
        assert!(lan_bases("[::1]:3000".parse().expect("addr"), false).is_empty());
    }

    #[test]
    fn a_server_on_one_address_offers_that_address_with_its_port_and_scheme() {
        let bases = lan_bases("192.168.1.20:8443".parse().expect("addr"), true);
        assert_eq!(bases.len(), 1);
        assert_eq!(bases[0].as_str(), "https://192.168.1.20:8443/");
    }

    #[test]
    fn loopback_hosts_are_recognised() {
        for host in [
            "localhost",
            "LOCALHOST",
            "127.0.0.1",
            "127.1.2.3",
            "[::1]",
            "app.localhost",
        ] {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in ["192.168.1.20", "partypic.test", "example.com", "[fe80::1]"] {
            assert!(!is_loopback_host(host), "{host}");
        }
    }
}
