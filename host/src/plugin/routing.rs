//! The host side of the `routing` interface of `wit/routing.wit`: what a
//! router reads of the connection or request being routed, from the
//! [`RouteInput`] lent to its store for the call.
use super::bindings::router::bindery::plugin::routing::Host;
use super::route_input::{RouteInput, UpstreamView};
use super::state::HostState;

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
