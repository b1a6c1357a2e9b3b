//! What a proxy changes in a request or response head: hop-by-hop headers go
//! (RFC 9110 §7.6.1), `X-Forwarded-For` / `X-Forwarded-Proto` are added, and
//! the request goes to the upstream in origin-form over HTTP/1.1.
use std::net::IpAddr;

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::uri::Authority;
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
    // `Host` is end to end whatever `Connection` says: a request without
    // it is not valid HTTP/1.1.
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|t| HeaderName::from_bytes(t.trim().as_bytes()).ok())
        .filter(|n| n != header::HOST)
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
/// `X-Forwarded-For`; set `X-Forwarded-Proto: http`, replacing a client's
/// own: the client reached Bindery over plain HTTP, whatever it claims.
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
    headers.insert(X_FORWARDED_PROTO, HeaderValue::from_static("http"));
}

/// An HTTP/1.1 request head for the upstream: origin-form URI and a `Host`.
/// A target with an authority (an absolute-form target, h2's `:authority`)
/// gives the `Host`, replacing any received (RFC 9112 §3.2.2, RFC 9113
/// §8.3.1); user info is never forwarded.
pub fn to_http11(parts: &mut http::request::Parts) {
    if let Some(authority) = parts.uri.authority()
        && let Ok(v) = HeaderValue::from_str(host_of(authority))
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

/// `Host` for an HTTP/1.0 request that came without one: the endpoint's
/// own `name.namespace:port` (`url`), the name the client reached.
pub fn default_host(headers: &mut HeaderMap, url: &str) {
    if !headers.contains_key(header::HOST)
        && let Some(authority) = url.split_once("://").map(|(_, a)| a)
        && let Ok(v) = HeaderValue::from_str(authority)
    {
        headers.insert(header::HOST, v);
    }
}

/// `host[:port]` of an authority, without user info.
fn host_of(authority: &Authority) -> &str {
    let a = authority.as_str();
    a.rsplit_once('@').map_or(a, |(_, host)| host)
}

/// Why a request is answered by the forwarder before it is routed.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    /// `CONNECT`: the forwarder serves one endpoint, it is no tunnel to
    /// anywhere (`405`).
    Connect,
    /// No `Host` in an HTTP/1.1 request, several, or one that is no
    /// `host[:port]` (`400`).
    Host(&'static str),
    /// The request head is larger than `maxHeadBytes` (`431`).
    TooLarge(usize),
}

/// The checks a request head must pass before it is routed: the method,
/// its `Host` when the target carries no authority, and its size (the
/// request line and header fields as sent, within a few bytes of
/// whitespace).
pub fn check(parts: &http::request::Parts, max_head: usize) -> Result<(), Refused> {
    if parts.method == http::Method::CONNECT {
        return Err(Refused::Connect);
    }
    if parts.uri.authority().is_none() {
        let mut hosts = parts.headers.get_all(header::HOST).iter();
        match (hosts.next(), hosts.next()) {
            (None, _) if parts.version >= Version::HTTP_11 => {
                return Err(Refused::Host("no Host header"));
            }
            (None, _) => {}
            (Some(_), Some(_)) => return Err(Refused::Host("more than one Host header")),
            (Some(v), None) if !valid_host(v.as_bytes()) => {
                return Err(Refused::Host("the Host header is not host[:port]"));
            }
            (Some(_), None) => {}
        }
    }
    let line =
        parts.method.as_str().len() + parts.uri.path_and_query().map_or(1, |p| p.as_str().len());
    let mut size = line + " HTTP/1.1\r\n\r\n".len();
    for (name, value) in &parts.headers {
        size += name.as_str().len() + value.len() + ": \r\n".len();
        if size > max_head {
            return Err(Refused::TooLarge(max_head));
        }
    }
    if size > max_head {
        return Err(Refused::TooLarge(max_head));
    }
    Ok(())
}

/// `Host` is `uri-host [":" port]` (RFC 9110 §7.2): an authority without
/// user info, with a host, and a port of digits if any.
fn valid_host(v: &[u8]) -> bool {
    let Ok(a) = Authority::try_from(v) else {
        return false;
    };
    let text = a.as_str();
    // Past an IPv6 literal's brackets, a colon can only start the port.
    let tail = text.rsplit_once(']').map_or(text, |(_, rest)| rest);
    let port = tail.split_once(':').map(|(_, p)| p);
    !text.contains('@')
        && !a.host().is_empty()
        && port.is_none_or(|p| p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
#[path = "headers_tests.rs"]
mod tests;
