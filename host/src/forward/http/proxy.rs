//! One request: ask the router with the head visible, then walk its order.
//! A connection that cannot be made, or a pooled one that turns out closed
//! before the request went out, moves on (the body is untouched, so any
//! method may retry); once a request has been sent it is never repeated.
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use http::StatusCode;
use hyper::Request;
use hyper::body::Incoming;
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;

use super::Client;
use super::body::{self, Metered, Response};
use super::idle::InFlight;
use super::pool::Sender;
use super::{headers, upgrade};
use crate::forward::connect;
use crate::forward::endpoint::{Choice, EndpointRoute};
use crate::forward::metrics::EndpointCounters;
use crate::forward::upstream::Upstream;

/// `request` marks the client connection busy until the response body
/// ends (or this returns an answer of its own).
pub async fn forward(
    req: Request<Incoming>,
    peer: SocketAddr,
    route: Arc<EndpointRoute>,
    client: Arc<Client>,
    request: InFlight,
) -> Response {
    let counters = &client.counters;
    counters.requests.inc();
    let (parts, body) = req.into_parts();
    let (choice, head) = route.choose(peer, Some(Box::new(parts)));
    let Some(mut parts) = head.map(|b| *b) else {
        return body::own(
            StatusCode::INTERNAL_SERVER_ERROR,
            "bindery: request head lost".into(),
        );
    };
    let order = match choice {
        Choice::Try(order) => order,
        Choice::Reject(reason) => {
            counters.rejected.inc();
            tracing::info!(url = %route.url, client = %peer, %reason, "router rejected the request");
            return body::own(
                StatusCode::FORBIDDEN,
                format!("bindery: {}: {reason}", route.url),
            );
        }
    };
    let upgrade = headers::is_upgrade(&parts.headers);
    let client_upgrade = parts.extensions.remove::<OnUpgrade>().filter(|_| upgrade);
    headers::strip_hop_by_hop(&mut parts.headers, upgrade);
    headers::add_forwarded(&mut parts.headers, peer.ip());
    headers::to_http11(&mut parts);
    let mut req = Request::from_parts(parts, Metered::new(body, counters.bytes_in.clone(), None));

    for (i, upstream) in order.iter().enumerate() {
        if i > 0 {
            counters.retries.inc();
        }
        let active = upstream.track();
        let (addr, sender, resp) = match send(&route, upstream, req, counters).await {
            Sent::Answered(addr, sender, resp) => (addr, sender, resp),
            Sent::Unreachable(back) => {
                req = back;
                continue;
            }
            Sent::TimedOut(after) => {
                note_failure(&route, upstream, counters);
                tracing::info!(url = %route.url, upstream = %upstream.address, ?after, "upstream sent no response head in time");
                return body::own(
                    StatusCode::GATEWAY_TIMEOUT,
                    format!(
                        "bindery: {}: upstream {} sent no response within {after:?}",
                        route.url, upstream.address
                    ),
                );
            }
            Sent::Failed(e) => {
                note_failure(&route, upstream, counters);
                tracing::info!(url = %route.url, upstream = %upstream.address, error = %e, "upstream failed after the request was sent");
                return body::own(
                    StatusCode::BAD_GATEWAY,
                    format!(
                        "bindery: {}: upstream {} failed: {e}",
                        route.url, upstream.address
                    ),
                );
            }
        };
        let (mut rparts, rbody) = resp.into_parts();
        if matches!(rparts.status.as_u16(), 502..=504) {
            note_failure(&route, upstream, counters);
        } else {
            upstream.succeeded();
        }
        let switching = rparts.status == StatusCode::SWITCHING_PROTOCOLS;
        match (switching, client_upgrade) {
            (true, Some(ours)) => {
                if let Some(theirs) = rparts.extensions.remove::<OnUpgrade>() {
                    upgrade::splice(
                        &client.tracker,
                        ours,
                        theirs,
                        upstream.track(),
                        route.clone(),
                        EndpointCounters::clone(counters),
                    );
                }
            }
            // Busy until the response is read to the end; `take` waits for
            // that by skipping it.
            _ => upstream.http_idle.put(addr, sender),
        }
        headers::strip_hop_by_hop(&mut rparts.headers, switching);
        let rbody =
            Metered::new(rbody, counters.bytes_out.clone(), Some(active)).answering(request);
        return body::passed(http::Response::from_parts(rparts, rbody));
    }
    counters.unreachable.inc();
    tracing::warn!(url = %route.url, client = %peer, tried = order.len(), "no upstream could be reached");
    body::own(
        StatusCode::BAD_GATEWAY,
        format!("bindery: {}: no upstream could be reached", route.url),
    )
}

enum Sent {
    Answered(SocketAddr, Sender, hyper::Response<Incoming>),
    /// Not sent anywhere: the request comes back for the next upstream.
    Unreachable(Request<Metered>),
    Failed(hyper::Error),
    /// Sent, but no response head within `responseTimeoutSeconds`.
    TimedOut(std::time::Duration),
}

/// Send on a pooled connection to one of the upstream's addresses, or on a
/// new one.
async fn send(
    route: &EndpointRoute,
    upstream: &Arc<Upstream>,
    mut req: Request<Metered>,
    counters: &EndpointCounters,
) -> Sent {
    for addr in upstream.addrs() {
        let mut pooled = upstream.http_idle.take(addr);
        loop {
            let fresh = pooled.is_none();
            let mut sender = match pooled.take() {
                Some(s) => s,
                None => match connect(route, addr).await {
                    Ok(s) => s,
                    Err(e) => {
                        tracing::debug!(url = %route.url, upstream = %upstream.address, %addr, error = %e, "connect failed");
                        break;
                    }
                },
            };
            let wait = route.settings.response_timeout();
            let Ok(sent) = tokio::time::timeout(wait, sender.try_send_request(req)).await else {
                return Sent::TimedOut(wait);
            };
            match sent {
                Ok(resp) => return Sent::Answered(addr, sender, resp),
                Err(mut e) => match e.take_message() {
                    // A pooled connection closed under us: try a new one.
                    Some(back) if !fresh => req = back,
                    Some(back) => {
                        req = back;
                        break;
                    }
                    None => return Sent::Failed(e.into_error()),
                },
            }
        }
    }
    counters.connect_failures.inc();
    note_failure(route, upstream, counters);
    Sent::Unreachable(req)
}

async fn connect(route: &EndpointRoute, addr: SocketAddr) -> Result<Sender, ConnectError> {
    let stream = tokio::time::timeout(route.settings.connect_timeout(), connect::connect(addr))
        .await
        .map_err(|_| ConnectError::Timeout)??;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        if let Err(e) = conn.with_upgrades().await {
            tracing::debug!(error = %e, "upstream connection ended with an error");
        }
    });
    sender.ready().await?;
    Ok(sender)
}

#[derive(Debug, thiserror::Error)]
enum ConnectError {
    #[error("timed out")]
    Timeout,
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Http(#[from] hyper::Error),
}

fn note_failure(route: &EndpointRoute, upstream: &Upstream, counters: &EndpointCounters) {
    let s = &route.settings;
    if let Some(eject) = upstream.failed(s.eject_after_failures, s.eject(), Instant::now()) {
        counters.ejections.inc();
        tracing::warn!(url = %route.url, upstream = %upstream.address, ?eject, "upstream ejected after consecutive failures");
    }
}
