//! The `connection` resource of `wit/routing.wit`: what a router reads of one
//! connection or request, lent to the store for one `route` call and read
//! lazily through host calls, so a router pays only for what it reads.
use std::net::SocketAddr;
use std::sync::Arc;

use wasmtime::component::Resource;

use super::bindings::Scheme;
use super::bindings::router::bindery::plugin::routing::{Host, HostConnection};
use super::state::HostState;

/// One upstream of a projected endpoint as routers see it; the index in
/// [`RouteTarget::upstreams`] is the candidate index.
#[derive(Clone, Debug)]
pub struct UpstreamView {
    pub address: String,
    pub weight: u32,
    pub labels: Vec<(String, String)>,
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
    /// The request head of an http endpoint's request.
    pub head: Option<http::request::Parts>,
}

/// Host type behind the `connection` resource; its data is the store's
/// current [`RouteInput`].
pub struct RouteConnection;

impl HostState {
    fn input(&self) -> Option<&RouteInput> {
        self.route.as_ref()
    }

    fn head(&self) -> Option<&http::request::Parts> {
        self.input()?.head.as_ref()
    }
}

impl Host for HostState {}

impl HostConnection for HostState {
    fn endpoint_url(&mut self, _: Resource<RouteConnection>) -> String {
        self.input()
            .map(|i| i.target.url.clone())
            .unwrap_or_default()
    }

    fn scheme(&mut self, _: Resource<RouteConnection>) -> Scheme {
        self.input().map_or(Scheme::Tcp, |i| i.target.scheme)
    }

    fn client_ip(&mut self, _: Resource<RouteConnection>) -> String {
        self.input()
            .map(|i| i.client.ip().to_string())
            .unwrap_or_default()
    }

    fn client_port(&mut self, _: Resource<RouteConnection>) -> u16 {
        self.input().map_or(0, |i| i.client.port())
    }

    fn address(&mut self, _: Resource<RouteConnection>, index: u32) -> Option<String> {
        let u = self.input()?.target.upstreams.get(index as usize)?;
        Some(u.address.clone())
    }

    fn labels(
        &mut self,
        _: Resource<RouteConnection>,
        index: u32,
    ) -> Option<Vec<(String, String)>> {
        let u = self.input()?.target.upstreams.get(index as usize)?;
        Some(u.labels.clone())
    }

    fn method(&mut self, _: Resource<RouteConnection>) -> Option<String> {
        Some(self.head()?.method.as_str().to_string())
    }

    fn authority(&mut self, _: Resource<RouteConnection>) -> Option<String> {
        let head = self.head()?;
        let host = head.headers.get(http::header::HOST);
        match host.and_then(|h| h.to_str().ok()) {
            Some(h) => Some(h.to_string()),
            None => head.uri.authority().map(|a| a.as_str().to_string()),
        }
    }

    fn path(&mut self, _: Resource<RouteConnection>) -> Option<String> {
        let head = self.head()?;
        Some(
            head.uri
                .path_and_query()
                .map_or("/", |p| p.as_str())
                .to_string(),
        )
    }

    fn header(&mut self, _: Resource<RouteConnection>, name: String) -> Option<String> {
        let value = self.head()?.headers.get(name.as_str())?;
        value.to_str().ok().map(str::to_string)
    }

    fn headers(&mut self, _: Resource<RouteConnection>) -> Vec<(String, String)> {
        let Some(head) = self.head() else {
            return Vec::new();
        };
        head.headers
            .iter()
            .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
            .collect()
    }

    fn drop(&mut self, _: Resource<RouteConnection>) -> wasmtime::Result<()> {
        // Only borrows are ever lent; there is nothing to free.
        Ok(())
    }
}
