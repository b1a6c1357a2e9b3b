//! One request: ask the router with the head visible, then walk its order.
//! A connection that cannot be made, or a pooled one that turns out closed
//! before the request went out, moves on (the body is untouched, so any
//! method may retry); once a request has been sent it is repeated only if
//! it had no body and its method is idempotent, and only when a kept-alive
//! connection closed before any answer.
use std::net::SocketAddr;
use std::sync::Arc;

use http::StatusCode;
use hyper::Request;
use hyper::body::Incoming;
use hyper::upgrade::OnUpgrade;

use super::Downstream;
use super::body::{self, Metered, Response};
use super::client::{self, ClientFault, Head, Outgoing, Sent, UpstreamBody};
use super::headers::Refused;
use super::idle::InFlight;
use super::{headers, upgrade};
use crate::forward::endpoint::EndpointRoute;
use crate::plugin::Decision;

/// `request` marks the client connection busy until the response body
/// ends (or this returns an answer of its own).
pub async fn forward(
    req: Request<Incoming>,
    peer: SocketAddr,
    route: Arc<EndpointRoute>,
    downstream: Arc<Downstream>,
    request: InFlight,
) -> Response {
    let counters = &downstream.counters;
    counters.requests.inc();
    let (parts, body) = req.into_parts();
    if let Err(refused) = headers::check(&parts, route.settings.max_head_bytes) {
        counters.client_errors.inc();
        tracing::debug!(url = %route.url, client = %peer, ?refused, "request refused before routing");
        return refusal(&route.url, refused);
    }
    let (choice, head) = route.choose(peer, Some(Box::new(parts)));
    let Some(mut parts) = head.map(|b| *b) else {
        return body::own(
            StatusCode::INTERNAL_SERVER_ERROR,
            "bindery: request head lost".into(),
        );
    };
    let order = match choice {
        Decision::Try(order) => order,
        Decision::Reject(reason) => {
            counters.rejected.inc();
            tracing::info!(url = %route.url, client = %peer, %reason, "router rejected the request");
            return body::own(
                StatusCode::FORBIDDEN,
                format!("bindery: {}: {reason}", route.url),
            );
        }
    };
    let upgrade = headers::is_upgrade(&parts.headers);
    // Hyper marks an HTTP/1 request that may switch; h2 has no `101`.
    let client_upgrade = upgrade && parts.extensions.remove::<OnUpgrade>().is_some();
    headers::strip_hop_by_hop(&mut parts.headers, upgrade);
    headers::add_forwarded(&mut parts.headers, &downstream.forwarded_for);
    let client_version = parts.version;
    headers::to_http11(&mut parts);
    headers::default_host(&mut parts.headers, &route.url);
    let mut req = Outgoing::new(&parts, body);
    let s = &route.settings;

    for (i, upstream) in route.order(&order).enumerate() {
        if i > 0 {
            counters.retries.inc();
        }
        let active = upstream.track();
        let sent = client::send(upstream, &mut req, s, counters).await;
        let (head, conn, addr) = match sent {
            Sent::Answered { head, conn, addr } => (head, conn, addr),
            Sent::Unreachable => {
                route.connect_failed(upstream, counters);
                continue;
            }
            Sent::TimedOut(after) => {
                route.upstream_failed(upstream, counters);
                tracing::info!(url = %route.url, upstream = %upstream.address, ?after, "upstream sent no response head in time");
                // The address is for the log: the client learns the endpoint.
                return body::own(
                    StatusCode::GATEWAY_TIMEOUT,
                    format!(
                        "bindery: {}: the upstream sent no response within {after:?}",
                        route.url
                    ),
                );
            }
            Sent::Failed(e) => {
                route.upstream_failed(upstream, counters);
                tracing::info!(url = %route.url, upstream = %upstream.address, error = %e, "upstream failed after the request was sent");
                return body::own(
                    StatusCode::BAD_GATEWAY,
                    format!("bindery: {}: the upstream failed: {e}", route.url),
                );
            }
            Sent::ClientFailed(fault) => {
                // The client's doing: no upstream is blamed, and the
                // connection closes (its request is unfinished).
                counters.client_errors.inc();
                tracing::info!(url = %route.url, client = %peer, upstream = %upstream.address, error = %fault, "client did not deliver its request body");
                let status = match fault {
                    ClientFault::Body(_) => StatusCode::BAD_REQUEST,
                    ClientFault::Stalled(_) => StatusCode::REQUEST_TIMEOUT,
                };
                let mut resp = body::own(status, format!("bindery: {}: {fault}", route.url));
                closing(&mut resp, client_version);
                request.last();
                return resp;
            }
        };
        let Head {
            parts: mut rparts,
            framing,
            reusable,
        } = head;
        if matches!(rparts.status.as_u16(), 502..=504) {
            route.upstream_failed(upstream, counters);
        } else {
            upstream.succeeded();
        }
        let switching = rparts.status == StatusCode::SWITCHING_PROTOCOLS;
        headers::strip_hop_by_hop(&mut rparts.headers, switching);
        if switching && client_upgrade {
            // The connection joins the two once hyper has written the 101.
            downstream.switch.put(upgrade::Switch {
                upstream: conn,
                active,
                route: route.clone(),
            });
            request.switched();
            drop(request);
            return body::empty(rparts);
        }
        let rbody = UpstreamBody::new(conn, framing, reusable, addr, upstream.clone());
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

/// The forwarder's answer to a request refused before routing.
fn refusal(url: &str, refused: Refused) -> Response {
    let (status, why) = match refused {
        Refused::Connect => (
            StatusCode::METHOD_NOT_ALLOWED,
            "CONNECT is not served: an endpoint is no tunnel".to_string(),
        ),
        Refused::Host(why) => (StatusCode::BAD_REQUEST, why.to_string()),
        Refused::TooLarge(max) => (
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            format!("the request head is over {max} bytes (maxHeadBytes)"),
        ),
    };
    let connect = status == StatusCode::METHOD_NOT_ALLOWED;
    let mut resp = body::own(status, format!("bindery: {url}: {why}"));
    if connect {
        resp.headers_mut()
            .insert(http::header::ALLOW, http::HeaderValue::from_static(ALLOW));
    }
    resp
}

/// Every method but `CONNECT` is forwarded.
const ALLOW: &str = "GET, HEAD, POST, PUT, DELETE, OPTIONS, TRACE, PATCH";

/// Mark an HTTP/1 answer as the connection's last.
fn closing(resp: &mut Response, version: http::Version) {
    if version < http::Version::HTTP_2 {
        resp.headers_mut().insert(
            http::header::CONNECTION,
            http::HeaderValue::from_static("close"),
        );
    }
}
