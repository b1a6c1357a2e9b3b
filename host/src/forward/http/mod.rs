//! HTTP endpoints: HTTP/1.1 and h2c (prior knowledge) from clients, HTTP/1.1
//! with keep-alive to upstreams, and the router asked for every request with
//! the request head visible.
//!
//! - [`proxy`]: one request: route, pick a connection, send, retry;
//! - [`client`]: HTTP/1.1 to the upstream, in the client connection's
//!   task, and its idle connections;
//! - [`headers`]: hop-by-hop headers, `X-Forwarded-*`, origin-form;
//! - [`body`]: bodies that count bytes and hold the upstream's in-flight mark;
//! - [`idle`]: when a client connection is idle;
//! - [`head_timeout`]: a request head must arrive within its timeout;
//! - [`upgrade`]: `101 Switching Protocols` (WebSocket) passed through.
mod body;
mod client;
mod head_timeout;
mod headers;
mod idle;
mod proxy;
mod upgrade;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::sync::{oneshot, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use client::sweep_forever;

use super::endpoint::EndpointRoute;
use super::io::held::HeldStream;
use super::metrics::EndpointCounters;

/// What the requests of one client (downstream) connection share.
pub struct Downstream {
    pub counters: EndpointCounters,
    /// This connection's upgraded tunnels. The connection waits for them
    /// before it ends, so a tunnel keeps its place under `maxConnections`
    /// and in the active gauge, and a drain waits for it.
    pub tunnels: TaskTracker,
    /// The client's address as `X-Forwarded-For` gives it, formatted once
    /// per connection rather than per request.
    pub forwarded_for: http::HeaderValue,
}

impl Downstream {
    pub fn new(counters: EndpointCounters, peer: SocketAddr) -> Downstream {
        Downstream {
            counters,
            tunnels: TaskTracker::new(),
            forwarded_for: headers::client_value(peer.ip()),
        }
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
    let downstream = Arc::new(downstream);
    let activity = Arc::new(idle::Activity::default());
    let service = {
        let (downstream, activity) = (downstream.clone(), activity.clone());
        service_fn(move |req| {
            let request = activity.begin(req.version());
            let route = routes.borrow().clone();
            // One reference count per request, not one per counter.
            let downstream = downstream.clone();
            async move {
                let resp = proxy::forward(req, peer, route, downstream, request).await;
                Ok::<_, std::convert::Infallible>(resp)
            }
        })
    };
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // A response head and its body go out in one buffer by `send`, not as
    // two by `writev`: less CPU per request, and large bodies no slower.
    builder.http1().keep_alive(true).writev(false);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(None)
        .max_header_list_size(u32::try_from(max_head).unwrap_or(u32::MAX));
    let expired = downstream.counters.head_timeouts.clone();
    let stream = head_timeout::HeadTimed::new(
        HeldStream::new(stream),
        activity.clone(),
        head_timeout,
        expired,
    );
    let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
    tokio::pin!(conn);
    let (tell, mut told) = oneshot::channel();
    tokio::spawn(watch(stop, activity.clone(), idle, tell));
    // Closing gracefully lets a response in flight finish first.
    let result = tokio::select! {
        biased;
        r = conn.as_mut() => r,
        Ok(why) = &mut told => match why {
            Close::Stop => {
                conn.as_mut().graceful_shutdown();
                conn.await
            }
            Close::Idle => {
                downstream.counters.idle_closed.inc();
                tracing::debug!(client = %peer, ?idle, "closing idle http connection");
                conn.as_mut().graceful_shutdown();
                // Nothing is in flight, but hyper waits for a request head
                // it has begun to read: a trickling client is dropped after
                // a grace, unless a request arrived meanwhile.
                let started = activity.started();
                let grace = (idle / 4).max(Duration::from_millis(1));
                tokio::select! {
                    r = conn.as_mut() => r,
                    _ = tokio::time::sleep(grace) => {
                        if activity.busy_since(started) {
                            conn.await
                        } else {
                            Ok(())
                        }
                    }
                }
            }
        },
    };
    if let Err(e) = result {
        tracing::debug!(client = %peer, error = %e, "http connection ended with an error");
    }
    downstream.tunnels.close();
    downstream.tunnels.wait().await;
}

/// Why a client connection is to close before its client closes it.
enum Close {
    Stop,
    Idle,
}

/// Watches for the forwarder's stop and for the connection going idle, in a
/// task of its own: the connection's task is woken for every request and
/// would otherwise poll both each time (the stop token takes a lock shared
/// by every connection). Ends when the connection does.
async fn watch(
    stop: CancellationToken,
    activity: Arc<idle::Activity>,
    idle: Duration,
    mut tell: oneshot::Sender<Close>,
) {
    let why = tokio::select! {
        _ = tell.closed() => return,
        _ = stop.cancelled() => Close::Stop,
        _ = activity.idle(idle) => Close::Idle,
    };
    let _ = tell.send(why);
}
