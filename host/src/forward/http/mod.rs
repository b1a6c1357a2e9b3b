//! HTTP endpoints: HTTP/1.1 and h2c (prior knowledge) from clients, HTTP/1.1
//! with keep-alive to upstreams, and the router asked for every request with
//! the request head visible.
//!
//! - [`sniff`]: which HTTP the client speaks;
//! - [`h1`]: an HTTP/1 client connection, parked without buffers while idle;
//!   [`h2`]: an h2 one;
//! - [`proxy`]: one request: route, pick a connection, send, retry;
//! - [`client`]: HTTP/1.1 to the upstream, in the client connection's
//!   task, and its idle connections;
//! - [`headers`]: hop-by-hop headers, `X-Forwarded-*`, origin-form;
//! - [`body`]: bodies that count bytes and hold the upstream's in-flight mark;
//! - [`idle`]: when a client connection is idle;
//! - [`head_timeout`]: a request head must arrive within its timeout;
//! - [`upgrade`]: `101 Switching Protocols` (WebSocket) passed through.
mod body;
pub(crate) mod client;
mod h1;
mod h2;
mod head_timeout;
mod headers;
mod idle;
mod proxy;
mod sniff;
mod upgrade;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use hyper::Request;
use hyper::body::Incoming;
use tokio::sync::{oneshot, watch};
use tokio_util::sync::CancellationToken;

pub use client::sweep_forever;

use super::endpoint::EndpointRoute;
use super::io::held::HeldStream;
use super::io::rewound::Rewound;
use super::metrics::EndpointCounters;
use head_timeout::HeadTimed;
use idle::Activity;

/// What the requests of one client (downstream) connection share.
pub struct Downstream {
    pub counters: EndpointCounters,
    /// A request that switched protocols leaves its upstream connection
    /// here for the client connection to join once hyper lets it go.
    switch: upgrade::Pending,
    /// The client's address as `X-Forwarded-For` gives it, formatted once
    /// per connection rather than per request.
    pub forwarded_for: http::HeaderValue,
}

impl Downstream {
    pub fn new(counters: EndpointCounters, peer: SocketAddr) -> Downstream {
        Downstream {
            counters,
            switch: upgrade::Pending::default(),
            forwarded_for: headers::client_value(peer.ip()),
        }
    }
}

/// A client connection's stream, under hyper: bytes read before hyper
/// (the sniff, a parked connection's) in front, the head deadline on its
/// reads, its small writes held to the end of the turn.
type Io = Rewound<HeadTimed<HeldStream>>;

/// What a client connection's protocol code needs besides its stream.
struct Client {
    peer: SocketAddr,
    service: Service,
    stop: CancellationToken,
    idle: Duration,
}

impl Client {
    fn downstream(&self) -> &Downstream {
        &self.service.downstream
    }

    fn activity(&self) -> &Arc<Activity> {
        &self.service.activity
    }

    /// The idle timeout closes this connection: counted and logged.
    fn closing_idle(&self) {
        self.downstream().counters.idle_closed.inc();
        tracing::debug!(client = %self.peer, idle = ?self.idle, "closing idle http connection");
    }

    /// Watch this connection for the forwarder's stop, its idle timeout
    /// and, with `park`, for being quiet that long after a request.
    fn watch(&self, park: Option<Duration>) -> oneshot::Receiver<Close> {
        let (tell, told) = oneshot::channel();
        // Counted now: the task may first run after hyper began a request.
        let park = park.map(|after| (self.activity().started(), after));
        tokio::spawn(watch(
            self.stop.clone(),
            self.activity().clone(),
            self.idle,
            park,
            tell,
        ));
        told
    }
}

/// Serve one client connection until it closes, or until `stop`, when the
/// request in flight finishes and the connection closes gracefully.
pub async fn serve(
    stream: std::net::TcpStream,
    peer: SocketAddr,
    routes: watch::Receiver<Arc<EndpointRoute>>,
    downstream: Downstream,
    stop: CancellationToken,
) {
    let Some(stream) = super::serve::accept::register(stream, peer) else {
        return;
    };
    // Every request takes the route in effect when it arrives.
    let (idle, head_timeout, max_head) = {
        let s = &routes.borrow().settings;
        (s.idle_timeout(), s.request_head_timeout(), s.max_head_bytes)
    };
    let activity = Arc::new(Activity::default());
    let expired = downstream.counters.head_timeouts.clone();
    let mut stream = HeadTimed::new(
        HeldStream::new(stream),
        activity.clone(),
        head_timeout,
        expired,
    );
    let (protocol, front) = match sniff::sniff(&mut stream).await {
        Ok(sniffed) => sniffed,
        Err(e) => {
            tracing::debug!(client = %peer, error = %e, "http connection ended before its first request");
            return;
        }
    };
    let client = Client {
        peer,
        service: Service {
            peer,
            routes,
            downstream: Arc::new(downstream),
            activity,
        },
        stop,
        idle,
    };
    let io = Rewound::new(stream, front);
    match protocol {
        sniff::Protocol::Http1 => h1::serve(io, &client).await,
        // Boxed: hyper's h2 state would otherwise size every HTTP/1
        // connection's task.
        sniff::Protocol::H2 => h2::boxed(io, &client, max_head).await,
    }
}

/// Every request of a client connection: marked in its activity, and sent
/// on by [`proxy::forward`] with the route in effect when it arrives.
#[derive(Clone)]
struct Service {
    peer: SocketAddr,
    routes: watch::Receiver<Arc<EndpointRoute>>,
    downstream: Arc<Downstream>,
    activity: Arc<Activity>,
}

impl hyper::service::Service<Request<Incoming>> for Service {
    type Response = body::Response;
    type Error = Infallible;
    /// Boxed so that an HTTP/1 connection can be polled without shutdown
    /// (hyper asks for an `Unpin` future there).
    type Future = Pin<Box<dyn Future<Output = Result<body::Response, Infallible>> + Send>>;

    fn call(&self, req: Request<Incoming>) -> Self::Future {
        let request = self.activity.begin(req.version(), req.headers());
        let route = self.routes.borrow().clone();
        // One reference count per request, not one per counter.
        let downstream = self.downstream.clone();
        let peer = self.peer;
        Box::pin(async move { Ok(proxy::forward(req, peer, route, downstream, request).await) })
    }
}

/// Why a client connection is to leave its protocol code before its
/// client closes it.
#[derive(Debug)]
enum Close {
    Stop,
    Idle,
    /// Quiet long enough after a request to let go of its buffers.
    Park,
}

/// Watches for the forwarder's stop, for the connection going idle and for
/// it going quiet after a request (`park`: `started()` when the period
/// began, and how long), in a task of its own: the connection's task is
/// woken for every request and would otherwise poll them all each time
/// (the stop token takes a lock shared by every connection). Ends when the
/// connection's protocol code drops its receiver.
async fn watch(
    stop: CancellationToken,
    activity: Arc<Activity>,
    idle: Duration,
    park: Option<(u64, Duration)>,
    mut tell: oneshot::Sender<Close>,
) {
    let quiet = async {
        match park {
            Some((born, after)) => activity.parkable(born, after).await,
            None => std::future::pending().await,
        }
    };
    let why = tokio::select! {
        _ = tell.closed() => return,
        _ = stop.cancelled() => Close::Stop,
        _ = activity.idle(idle) => Close::Idle,
        _ = quiet => Close::Park,
    };
    let _ = tell.send(why);
}
