//! The upstream side of an HTTP endpoint: HTTP/1.1 with keep-alive, driven
//! by the task that serves the client connection (hyper's client runs each
//! connection as a task of its own and hands every request and response
//! across a channel, a cost on every request).
//!
//! - [`conn`]: a connection, its buffer, the request head written;
//! - [`head`]: the response head parsed, the body's framing found;
//! - [`framing`]: where the body ends, chunked coding undone;
//! - [`body`]: the body streamed to the client, then the connection pooled;
//! - [`pool`]: idle connections per upstream, per thread.
mod body;
mod conn;
mod framing;
mod head;
mod pool;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http::request::Parts;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use tokio::time::Instant;

pub use body::UpstreamBody;
pub use conn::Conn;
pub use head::{Head, HeadError};
use pool::IdlePool;
pub use pool::sweep_forever;

use crate::forward::metrics::EndpointCounters;
use crate::forward::upstream::Upstream;
use crate::policy::Forwarding;

/// What a request to one upstream came to.
#[allow(
    clippy::large_enum_variant,
    reason = "returned once per request and taken apart at once: boxing the answer would add an allocation per request"
)]
pub enum Sent {
    Answered {
        head: Head,
        conn: Conn,
        addr: SocketAddr,
    },
    /// Not sent: no address took the connection, or a pooled connection
    /// was found closed and no new one could be made. The body is
    /// untouched, so the next upstream may have the request.
    Unreachable,
    /// The upstream failed after the request went out: its fault.
    Failed(UpstreamError),
    /// Sent, but no response head within `responseTimeoutSeconds`.
    TimedOut(Duration),
    /// The client did not deliver its request body: its own fault, never
    /// the upstream's. The upstream connection, holding half a request, is
    /// closed.
    ClientFailed(ClientFault),
}

/// What went wrong on the upstream's side.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error(transparent)]
    Head(#[from] HeadError),
}

/// What went wrong on the client's side while its body was forwarded.
#[derive(Debug, thiserror::Error)]
pub enum ClientFault {
    /// Aborted, or not valid HTTP (a broken chunked coding).
    #[error("the request body could not be read: {0}")]
    Body(hyper::Error),
    #[error("the request body made no progress for {0:?} (bodyProgressTimeoutSeconds)")]
    Stalled(Duration),
}

/// Forwarding the request body stopped, on one side or the other.
enum BodyError {
    Client(ClientFault),
    Upstream(std::io::Error),
}

/// The request as the upstream gets it; `body` is taken once it starts
/// going out.
pub struct Outgoing<'a> {
    pub parts: &'a Parts,
    pub body: Option<Incoming>,
    /// The body has no `Content-Length`: it is sent chunked.
    pub chunked: bool,
}

impl<'a> Outgoing<'a> {
    pub fn new(parts: &'a Parts, body: Incoming) -> Outgoing<'a> {
        use hyper::body::Body;
        let empty = body.is_end_stream();
        let chunked = !empty && !parts.headers.contains_key(http::header::CONTENT_LENGTH);
        Outgoing {
            parts,
            body: (!empty).then_some(body),
            chunked,
        }
    }

    /// Whether a request that may have reached the upstream can be sent
    /// again (RFC 9110 §9.2.2), as when a kept-alive connection was closed
    /// by the upstream just as the request went out.
    fn replayable(&self, had_body: bool) -> bool {
        !had_body && self.parts.method.is_idempotent()
    }
}

/// Send on an idle pooled connection to one of the upstream's addresses, or
/// on a new one, and read the response head, under the endpoint's
/// timeouts and head limit.
pub async fn send(
    upstream: &Arc<Upstream>,
    req: &mut Outgoing<'_>,
    settings: &Forwarding,
    counters: &EndpointCounters,
) -> Sent {
    let connect_timeout = settings.connect_timeout();
    let head_request = req.parts.method == http::Method::HEAD;
    let pool = IdlePool::of(upstream);
    for addr in upstream.addrs() {
        let mut pooled = pool.take(addr);
        loop {
            let reused = pooled.is_some();
            let mut conn = match pooled.take() {
                Some(c) => c,
                None => match tokio::time::timeout(connect_timeout, Conn::open(addr)).await {
                    Ok(Ok(c)) => c,
                    Ok(Err(e)) => {
                        tracing::debug!(upstream = %upstream.address, %addr, error = %e, "connect failed");
                        break;
                    }
                    Err(_) => {
                        tracing::debug!(upstream = %upstream.address, %addr, ?connect_timeout, "connect timed out");
                        break;
                    }
                },
            };
            if let Err(e) = conn.write_head(req.parts, req.chunked).await {
                if reused {
                    continue;
                }
                tracing::debug!(upstream = %upstream.address, %addr, error = %e, "sending the request head failed");
                break;
            }
            let had_body = req.body.is_some();
            if let Some(body) = req.body.take() {
                let progress = settings.body_progress_timeout();
                match write_body(&mut conn, body, req.chunked, progress, counters).await {
                    Ok(()) => {}
                    Err(BodyError::Client(fault)) => return Sent::ClientFailed(fault),
                    // The upstream may have answered early (413, 401) and
                    // closed: its answer is worth more than the write error.
                    Err(BodyError::Upstream(e)) => {
                        tracing::debug!(upstream = %upstream.address, error = %e, "request body not sent in full");
                    }
                }
            }
            let response_timeout = settings.response_timeout();
            let read = head::read(&mut conn, head_request, settings.max_head_bytes);
            match tokio::time::timeout(response_timeout, read).await {
                Err(_) => return Sent::TimedOut(response_timeout),
                Ok(Ok(head)) => return Sent::Answered { head, conn, addr },
                Ok(Err(HeadError::Closed)) if reused && req.replayable(had_body) => continue,
                Ok(Err(e)) => return Sent::Failed(e.into()),
            }
        }
    }
    Sent::Unreachable
}

/// Bodies up to this size go out with their chunk framing in one write.
const COALESCE: usize = 16 * 1024;

/// The client's body to the upstream, frame by frame; a frame must come
/// within `progress` of the last. One timer for the whole body, moved on
/// only when it fires: a timer per frame would cost every frame.
async fn write_body(
    conn: &mut Conn,
    mut body: Incoming,
    chunked: bool,
    progress: Duration,
    counters: &EndpointCounters,
) -> Result<(), BodyError> {
    let mut framed = Vec::new();
    let up = BodyError::Upstream;
    let stall = tokio::time::sleep(progress);
    tokio::pin!(stall);
    loop {
        // Only the wait for the client counts, not writes to the upstream.
        let since = Instant::now();
        let frame = loop {
            tokio::select! {
                biased;
                frame = body.frame() => break frame,
                () = &mut stall => {
                    if since.elapsed() >= progress {
                        return Err(BodyError::Client(ClientFault::Stalled(progress)));
                    }
                    stall.as_mut().reset(since + progress);
                }
            }
        };
        let frame = match frame {
            None => break,
            Some(frame) => frame.map_err(|e| BodyError::Client(ClientFault::Body(e)))?,
        };
        let Ok(data) = frame.into_data() else {
            continue; // trailers are not forwarded
        };
        if data.is_empty() {
            continue;
        }
        counters.bytes_in.inc_by(data.len() as u64);
        if !chunked {
            conn.write_all(&data).await.map_err(up)?;
            continue;
        }
        let size = format!("{:x}\r\n", data.len());
        if data.len() <= COALESCE {
            framed.clear();
            framed.extend_from_slice(size.as_bytes());
            framed.extend_from_slice(&data);
            framed.extend_from_slice(b"\r\n");
            conn.write_all(&framed).await.map_err(up)?;
        } else {
            for part in [size.as_bytes(), &data[..], b"\r\n"] {
                conn.write_all(part).await.map_err(up)?;
            }
        }
    }
    if chunked {
        conn.write_all(b"0\r\n\r\n").await.map_err(up)?;
    }
    Ok(())
}
