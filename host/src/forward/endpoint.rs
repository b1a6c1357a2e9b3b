//! One projected URL as the forwarder serves it in one generation: its
//! upstreams, its router and its settings. Connections take the current
//! `Arc<EndpointRoute>` when they arrive and keep it to the end, so a reload
//! never changes the rules under a connection in flight.
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use super::metrics::EndpointCounters;
use super::upstream::Upstream;
use crate::plugin::Candidate;
use crate::plugin::{Decision, RouteInput, RouteTarget, RouterPlugin};
use crate::policy::{Forwarding, HealthCheck};

pub struct EndpointRoute {
    pub url: String,
    pub target: Arc<RouteTarget>,
    /// Same order as `target.upstreams`: the candidate index.
    pub upstreams: Vec<Arc<Upstream>>,
    pub router: Arc<RouterPlugin>,
    pub settings: Arc<Forwarding>,
    /// Active health check of this endpoint's upstreams.
    pub health: HealthCheck,
    /// Which generation of the policy and catalog this belongs to.
    pub generation: u64,
}

impl EndpointRoute {
    pub fn candidates(&self, now: Instant) -> Vec<Candidate> {
        self.upstreams
            .iter()
            .zip(&self.target.upstreams)
            .map(|(u, view)| Candidate {
                key: view.key,
                weight: view.weight,
                healthy: u.healthy(now),
                active: u.active(),
            })
            .collect()
    }

    /// Ask the router; `head` is the request head of an http request, handed
    /// back with the decision. The indices of a `Try` are in range of
    /// [`upstreams`](Self::upstreams) (see [`Self::order`]).
    pub fn choose(
        &self,
        client: SocketAddr,
        head: Option<Box<http::request::Parts>>,
    ) -> (Decision, Option<Box<http::request::Parts>>) {
        let candidates = self.candidates(Instant::now());
        let input = RouteInput {
            target: self.target.clone(),
            client,
            head,
        };
        let (routed, input) = self.router.route(input, &candidates);
        if let Some(e) = &routed.fallback {
            tracing::warn!(url = %self.url, error = %e, "router failed; round-robin answered");
        }
        (routed.decision, input.head)
    }

    /// The upstreams of a decision's order, in that order.
    pub fn order<'a>(&'a self, order: &'a [u32]) -> impl Iterator<Item = &'a Arc<Upstream>> {
        order.iter().filter_map(|&i| self.upstreams.get(i as usize))
    }
}

impl EndpointRoute {
    /// No connection to `upstream` could be made: counted, and a step
    /// towards its ejection.
    pub fn connect_failed(&self, upstream: &Upstream, counters: &EndpointCounters) {
        counters.connect_failures.inc();
        self.upstream_failed(upstream, counters);
    }

    /// `upstream` failed a connection or request: after
    /// `ejectAfterFailures` in a row it is ejected. The one place passive
    /// health is counted, for tcp and http alike.
    pub fn upstream_failed(&self, upstream: &Upstream, counters: &EndpointCounters) {
        let s = &self.settings;
        if let Some(eject) = upstream.failed(s.eject_after_failures, s.eject(), Instant::now()) {
            counters.ejections.inc();
            tracing::warn!(url = %self.url, upstream = %upstream.address, ?eject, "upstream ejected after consecutive failures");
        }
    }
}
