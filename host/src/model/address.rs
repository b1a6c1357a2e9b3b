//! An upstream's `host:port`, and which IP addresses an EndpointSlice may
//! list (direct mode): the apiserver refuses a slice with an unspecified,
//! loopback, link-local or link-local multicast address, and a multicast or
//! broadcast address never accepts a TCP connection, so none of them is
//! ever written.
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// The host of an upstream address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Host<'a> {
    Ip(IpAddr),
    /// A DNS name, resolved by Bindery.
    Name(&'a str),
}

/// `host:port` split into its host and port; `None` when it is not one
/// (validation has said why).
pub fn split(address: &str) -> Option<(Host<'_>, u16)> {
    let address = address.trim();
    if let Ok(sa) = address.parse::<SocketAddr>() {
        return (sa.port() > 0).then(|| (Host::Ip(canonical(sa.ip())), sa.port()));
    }
    let (host, port) = address.rsplit_once(':')?;
    let port = port.parse::<u16>().ok().filter(|p| *p > 0)?;
    if host.starts_with('[') || host.parse::<Ipv4Addr>().is_ok() {
        return None;
    }
    Some((Host::Name(host), port))
}

/// An IPv4-mapped IPv6 address as the IPv4 address it is: Kubernetes lists
/// it only in an IPv4 slice.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

/// Why `ip` cannot be an endpoint of an EndpointSlice, or `None` when it
/// can.
pub fn slice_ip_problem(ip: IpAddr) -> Option<&'static str> {
    match canonical(ip) {
        IpAddr::V4(v4) => v4_problem(v4),
        IpAddr::V6(v6) => v6_problem(v6),
    }
}

fn v4_problem(ip: Ipv4Addr) -> Option<&'static str> {
    if ip.is_unspecified() {
        Some("an unspecified address (0.0.0.0) names no host")
    } else if ip.is_loopback() {
        Some(
            "a loopback address (127.0.0.0/8) is every node's own: Kubernetes refuses it in an EndpointSlice",
        )
    } else if ip.is_link_local() {
        Some(
            "a link-local address (169.254.0.0/16) is not routed between nodes: Kubernetes refuses it in an EndpointSlice",
        )
    } else if ip.is_multicast() {
        Some("a multicast address (224.0.0.0/4) accepts no TCP connection")
    } else if ip.is_broadcast() {
        Some("the broadcast address accepts no TCP connection")
    } else {
        None
    }
}

fn v6_problem(ip: Ipv6Addr) -> Option<&'static str> {
    if ip.is_unspecified() {
        Some("an unspecified address (::) names no host")
    } else if ip.is_loopback() {
        Some(
            "the loopback address (::1) is every node's own: Kubernetes refuses it in an EndpointSlice",
        )
    } else if ip.is_unicast_link_local() {
        Some(
            "a link-local address (fe80::/10) is not routed between nodes: Kubernetes refuses it in an EndpointSlice",
        )
    } else if ip.is_multicast() {
        Some("a multicast address (ff00::/8) accepts no TCP connection")
    } else {
        None
    }
}

#[cfg(test)]
#[path = "address_tests.rs"]
mod tests;
