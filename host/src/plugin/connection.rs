//! The host side of `wit/routing.wit`: what a router is told of one
//! connection or request. The client address and the candidates' live state
//! go into the `route` call as plain values; the rest is lent to the store
//! for the call and read through the `routing` functions, so a router pays
//! only for what it reads.
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use super::bindings::Scheme;
use super::bindings::router::bindery::plugin::routing::{Connection, Host, IpAddress};
use super::state::HostState;

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
/// shared by every connection.
#[derive(Clone, Debug)]
pub struct RouteTarget {
    pub url: String,
    pub scheme: Scheme,
    pub upstreams: Vec<UpstreamView>,
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
        }
    }
}

impl HostState {
    fn input(&self) -> Option<&RouteInput> {
        self.route.as_ref()
    }

    fn head(&self) -> Option<&http::request::Parts> {
        self.input()?.head.as_deref()
    }

    fn upstream(&self, index: u32) -> Option<&UpstreamView> {
        self.input()?.target.upstreams.get(index as usize)
    }
}

impl Host for HostState {
    fn endpoint_url(&mut self) -> String {
        self.input()
            .map(|i| i.target.url.clone())
            .unwrap_or_default()
    }

    fn address(&mut self, index: u32) -> Option<String> {
        Some(self.upstream(index)?.address.clone())
    }

    fn labels(&mut self, index: u32) -> Option<Vec<(String, String)>> {
        Some(self.upstream(index)?.labels.clone())
    }

    fn method(&mut self) -> Option<String> {
        Some(self.head()?.method.as_str().to_string())
    }

    fn authority(&mut self) -> Option<String> {
        let head = self.head()?;
        let host = head.headers.get(http::header::HOST);
        match host.and_then(|h| h.to_str().ok()) {
            Some(h) => Some(h.to_string()),
            None => head.uri.authority().map(|a| a.as_str().to_string()),
        }
    }

    fn path(&mut self) -> Option<String> {
        let head = self.head()?;
        Some(
            head.uri
                .path_and_query()
                .map_or("/", |p| p.as_str())
                .to_string(),
        )
    }

    fn header(&mut self, name: String) -> Option<String> {
        let value = self.head()?.headers.get(name.as_str())?;
        value.to_str().ok().map(str::to_string)
    }

    fn headers(&mut self) -> Vec<(String, String)> {
        let Some(head) = self.head() else {
            return Vec::new();
        };
        head.headers
            .iter()
            .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
            .collect()
    }
}
