//! What a proxy changes in a request or response head: hop-by-hop headers go
//! (RFC 9110 §7.6.1), `X-Forwarded-For` / `X-Forwarded-Proto` are added, and
//! the request goes to the upstream in origin-form over HTTP/1.1.
use std::net::IpAddr;

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Uri, Version};

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const KEEP_ALIVE: HeaderName = HeaderName::from_static("keep-alive");
const PROXY_CONNECTION: HeaderName = HeaderName::from_static("proxy-connection");

/// True when the request asks to switch protocols (`Connection: upgrade`).
pub fn is_upgrade(headers: &HeaderMap) -> bool {
    has_token(headers, header::CONNECTION, "upgrade") && headers.contains_key(header::UPGRADE)
}

/// Whether a comma-separated header (`Connection`, `Transfer-Encoding`)
/// lists `token`, in any case; values need not be UTF-8.
pub fn has_token(headers: &HeaderMap, name: HeaderName, token: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .flat_map(|v| v.as_bytes().split(|&b| b == b','))
        .any(|t| t.trim_ascii().eq_ignore_ascii_case(token.as_bytes()))
}

/// Headers that never cross a proxy, besides `Connection` and `Upgrade`.
const HOP_BY_HOP: [HeaderName; 6] = [
    KEEP_ALIVE,
    PROXY_CONNECTION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::PROXY_AUTHORIZATION,
];

/// Remove hop-by-hop headers, and those `Connection` names. With `upgrade`,
/// `Connection: upgrade` and `Upgrade` stay: the switch is end to end.
/// One pass over the names present picks what goes, so a head without
/// hop-by-hop headers costs no lookups.
pub fn strip_hop_by_hop(headers: &mut HeaderMap, upgrade: bool) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|t| HeaderName::from_bytes(t.trim().as_bytes()).ok())
        .collect();
    let goes = |k: &HeaderName| {
        if k == header::CONNECTION || k == header::UPGRADE {
            !upgrade
        } else {
            HOP_BY_HOP.contains(k) || named.contains(k)
        }
    };
    let doomed: Vec<HeaderName> = headers.keys().filter(|k| goes(k)).cloned().collect();
    for name in doomed {
        headers.remove(name);
    }
    if upgrade {
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    }
}

/// The client's address as a header value, for [`add_forwarded`].
pub fn client_value(client: IpAddr) -> HeaderValue {
    // An address's text is always a valid header value.
    HeaderValue::try_from(client.to_string()).unwrap_or(HeaderValue::from_static("unknown"))
}

/// Append the client (`client`, from [`client_value`]) to
/// `X-Forwarded-For`; set `X-Forwarded-Proto: http` unless a proxy in front
/// already said how the client connected.
pub fn add_forwarded(headers: &mut HeaderMap, client: &HeaderValue) {
    let prior = headers.get(&X_FORWARDED_FOR).and_then(|v| v.to_str().ok());
    let value = match (prior, client.to_str()) {
        (Some(prior), Ok(ip)) if !prior.trim().is_empty() => {
            // From the String itself: no second copy.
            HeaderValue::try_from(format!("{prior}, {ip}")).ok()
        }
        // Shares the connection's bytes: no allocation per request.
        _ => Some(client.clone()),
    };
    if let Some(v) = value {
        headers.insert(X_FORWARDED_FOR, v);
    }
    headers
        .entry(X_FORWARDED_PROTO)
        .or_insert(HeaderValue::from_static("http"));
}

/// An HTTP/1.1 request head for the upstream: origin-form URI and a `Host`
/// (h2 clients send the authority in the URI instead).
pub fn to_http11(parts: &mut http::request::Parts) {
    if !parts.headers.contains_key(header::HOST)
        && let Some(authority) = parts.uri.authority()
        && let Ok(v) = HeaderValue::from_str(authority.as_str())
    {
        parts.headers.insert(header::HOST, v);
    }
    // HTTP/1.1 clients send origin-form already: nothing to parse again.
    if parts.uri.scheme().is_some() || parts.uri.authority().is_some() {
        let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
        if let Ok(uri) = path.parse::<Uri>() {
            parts.uri = uri;
        }
    }
    parts.version = Version::HTTP_11;
}

#[cfg(test)]
#[path = "headers_tests.rs"]
mod tests;
