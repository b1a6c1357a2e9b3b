//! An endpoint's connections on one forwarder thread: each accepted
//! connection handed to its protocol, tcp or http, in a task of this
//! thread's runtime, counted while it lasts.
use std::sync::Arc;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::endpoint::EndpointRoute;
use super::metrics::EndpointCounters;
use super::serve::limit::Slot;
use super::serve::listener::Serve;
use super::serve::spread::Handoff;
use crate::model::Scheme;

/// What serving a connection of the endpoint on this thread takes.
pub struct Conns {
    pub routes: watch::Receiver<Arc<EndpointRoute>>,
    pub scheme: Scheme,
    pub counters: EndpointCounters,
    pub stop: CancellationToken,
    pub tracker: TaskTracker,
}

impl Serve for Conns {
    /// Serve `stream` on this thread (its task registers it with this
    /// thread's runtime), counted on this thread while it lasts.
    fn serve(&self, h: Handoff<Slot>) {
        let Handoff {
            stream,
            peer,
            permit,
            live,
        } = h;
        let counters = self.counters.clone();
        counters.active.inc();
        // tcp: the route at accept time, for the connection's life; http:
        // the current route for every request. A tcp connection takes
        // neither the receiver nor the stop token (each clone writes to
        // memory that every forwarder thread shares). Each protocol's task
        // is spawned apart, sized for its own state alone: an idle
        // connection's task is most of what it costs.
        let counted = Counted {
            permit: Some(permit),
            live: Some(live),
            counters: counters.clone(),
        };
        match self.scheme {
            Scheme::Tcp => {
                let route = self.routes.borrow().clone();
                self.tracker.spawn(async move {
                    let _counted = counted;
                    super::tcp::serve(stream, peer, route, &counters).await;
                });
            }
            Scheme::Http => {
                let (routes, stop) = (self.routes.clone(), self.stop.clone());
                self.tracker.spawn(async move {
                    let _counted = counted;
                    let downstream = super::http::Downstream::new(counters, peer);
                    super::http::serve(stream, peer, routes, downstream, stop).await;
                });
            }
        }
    }
}

/// A connection counted in the active gauge while its task lasts. Not a
/// wrapping future: one that owns the connection's future and awaits it
/// keeps room for it twice.
struct Counted<L> {
    permit: Option<Slot>,
    live: Option<L>,
    counters: EndpointCounters,
}

impl<L> Drop for Counted<L> {
    fn drop(&mut self) {
        // Free the slot before the gauge says so: a client that sees the
        // gauge drop can connect.
        self.permit.take();
        self.live.take();
        self.counters.active.dec();
    }
}
