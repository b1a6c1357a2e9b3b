//! One projected URL as the forwarder serves it in one generation: its
//! upstreams, its router and its settings. Connections take the current
//! `Arc<EndpointRoute>` when they arrive and keep it to the end, so a reload
//! never changes the rules under a connection in flight.
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use super::upstream::Upstream;
use crate::plugin::Candidate;
use crate::plugin::{Route, RouteInput, RouteTarget, RouterPlugin};
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

/// The forwarder's choice for one connection or request.
pub enum Choice {
    /// Upstreams to try in order.
    Try(Vec<Arc<Upstream>>),
    Reject(String),
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
    /// back with the choice.
    pub fn choose(
        &self,
        client: SocketAddr,
        head: Option<Box<http::request::Parts>>,
    ) -> (Choice, Option<Box<http::request::Parts>>) {
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
        let choice = match routed.route {
            Route::Reject(reason) => Choice::Reject(reason),
            Route::Try(order) => Choice::Try(
                order
                    .into_iter()
                    .filter_map(|i| self.upstreams.get(i as usize).cloned())
                    .collect(),
            ),
        };
        (choice, input.head)
    }
}
