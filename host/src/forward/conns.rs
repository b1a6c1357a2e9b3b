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
        // tcp: the route at accept time, for the connection's life; http:
        // the current route for every request. A tcp connection takes
        // neither the receiver nor the stop token (each clone writes to
        // memory that every forwarder thread shares).
        let work = match self.scheme {
            Scheme::Tcp => Work::Tcp(self.routes.borrow().clone()),
            Scheme::Http => Work::Http(self.routes.clone(), self.stop.clone()),
        };
        self.tracker.spawn(async move {
            counters.active.inc();
            match work {
                Work::Tcp(route) => {
                    super::tcp::serve(stream, peer, route, &counters).await;
                }
                Work::Http(routes, stop) => {
                    let downstream = super::http::Downstream::new(counters.clone(), peer);
                    super::http::serve(stream, peer, routes, downstream, stop).await
                }
            }
            // Free the slot before the gauge says so: a client that sees
            // the gauge drop can connect.
            drop(permit);
            drop(live);
            counters.active.dec();
        });
    }
}

/// What a connection's task needs besides its socket.
enum Work {
    Tcp(Arc<EndpointRoute>),
    Http(watch::Receiver<Arc<EndpointRoute>>, CancellationToken),
}
