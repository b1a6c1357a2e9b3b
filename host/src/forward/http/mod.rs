//! HTTP endpoints: HTTP/1.1 and h2c (prior knowledge) from clients, HTTP/1.1
//! with keep-alive to upstreams, and the router asked for every request with
//! the request head visible.
//!
//! - [`proxy`]: one request: route, pick a connection, send, retry;
//! - [`pool`]: idle upstream connections, per upstream address;
//! - [`headers`]: hop-by-hop headers, `X-Forwarded-*`, origin-form;
//! - [`body`]: bodies that count bytes and hold the upstream's in-flight mark;
//! - [`upgrade`]: `101 Switching Protocols` (WebSocket) passed through.
mod body;
mod headers;
pub mod pool;
mod proxy;
mod upgrade;

use std::net::SocketAddr;
use std::sync::Arc;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::endpoint::EndpointRoute;
use super::metrics::EndpointCounters;

/// Serve one client connection until it closes, or until `stop`, when the
/// request in flight finishes and the connection closes gracefully.
pub async fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    routes: watch::Receiver<Arc<EndpointRoute>>,
    counters: EndpointCounters,
    stop: CancellationToken,
) {
    // Every request takes the route in effect when it arrives.
    let idle = routes.borrow().settings.idle_timeout();
    let counters = Arc::new(counters);
    let service = service_fn(move |req| {
        let route = routes.borrow().clone();
        // One reference count per request, not one per counter.
        let counters = counters.clone();
        async move {
            Ok::<_, std::convert::Infallible>(proxy::forward(req, peer, route, counters).await)
        }
    });
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(idle)
        .keep_alive(true);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(None);
    let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
    tokio::pin!(conn);
    let result = tokio::select! {
        r = conn.as_mut() => r,
        _ = stop.cancelled() => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = result {
        tracing::debug!(client = %peer, error = %e, "http connection ended with an error");
    }
}
