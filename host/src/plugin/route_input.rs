//! What a router is told of one connection or request (`wit/routing.wit`).
//! The client address and the candidates' live state go into the `route`
//! call as plain values; the rest is lent to the store for the call and
//! read through the `routing` functions ([`super::routing`]), so a router
//! pays only for what it reads. Plain data: no store, no host import.
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crossbeam_utils::CachePadded;

use super::bindings::Scheme;
use super::bindings::router::bindery::plugin::routing::{Connection, IpAddress};

/// One upstream of a projected endpoint as routers see it; the index in
/// [`RouteTarget::upstreams`] is the candidate index.
#[derive(Clone, Debug)]
pub struct UpstreamView {
    pub address: String,
    pub weight: u32,
    pub labels: Vec<(String, String)>,
    /// The candidate's `key`: FNV-1a of `address`, computed once.
    pub key: u64,
}

impl UpstreamView {
    pub fn new(address: String, weight: u32, labels: Vec<(String, String)>) -> UpstreamView {
        let key = router_common::fnv1a(&[address.as_bytes()]);
        UpstreamView {
            address,
            weight,
            labels,
            key,
        }
    }
}

/// The endpoint being routed to: built once per endpoint and generation,
/// shared by every connection on every forwarder thread.
#[derive(Debug)]
pub struct RouteTarget {
    pub url: String,
    pub scheme: Scheme,
    pub upstreams: Vec<UpstreamView>,
    /// The endpoint's next turn, shared by every thread's router instance
    /// so that a rotation is one rotation across them. A line of its own:
    /// every thread writes it, and the fields above are only read.
    turns: CachePadded<AtomicU64>,
}

impl RouteTarget {
    pub fn new(url: String, scheme: Scheme, upstreams: Vec<UpstreamView>) -> RouteTarget {
        RouteTarget {
            url,
            scheme,
            upstreams,
            turns: CachePadded::new(AtomicU64::new(0)),
        }
    }

    /// This endpoint's routing turns, numbered from 0 across all threads:
    /// each call takes the next.
    pub fn next_turn(&self) -> u64 {
        self.turns.fetch_add(1, Ordering::Relaxed)
    }
}

/// One connection or request, handed to `route` and handed back after it.
#[derive(Debug)]
pub struct RouteInput {
    pub target: Arc<RouteTarget>,
    pub client: SocketAddr,
    /// The request head of an http endpoint's request; boxed so that
    /// lending the input to the store and back moves a few words, not the
    /// head (a TCP connection has none and pays nothing for it).
    pub head: Option<Box<http::request::Parts>>,
}

impl RouteInput {
    /// The `connection` argument of `route`.
    pub fn connection(&self) -> Connection {
        let ip = match self.client.ip() {
            IpAddr::V4(v4) => IpAddress::Ipv4(v4.octets().into()),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => IpAddress::Ipv4(v4.octets().into()),
                None => {
                    let s = v6.segments();
                    IpAddress::Ipv6((s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]))
                }
            },
        };
        Connection {
            scheme: self.target.scheme,
            client_ip: ip,
            client_port: self.client.port(),
            turn: self.target.next_turn(),
        }
    }
}
