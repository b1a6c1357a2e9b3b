use std::net::{IpAddr, Ipv4Addr};

use http::header::{CONNECTION, HOST, UPGRADE};
use http::{HeaderMap, HeaderValue, Request, Version};

use super::*;

fn map(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut m = HeaderMap::new();
    for (k, v) in pairs {
        m.append(
            HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    m
}

fn head(builder: http::request::Builder) -> http::request::Parts {
    builder.body(()).unwrap().into_parts().0
}

#[test]
fn hop_by_hop_and_connection_named_headers_go() {
    let mut h = map(&[
        ("connection", "keep-alive, x-secret"),
        ("keep-alive", "timeout=5"),
        ("x-secret", "1"),
        ("te", "trailers"),
        ("x-kept", "yes"),
    ]);
    strip_hop_by_hop(&mut h, false);
    let left: Vec<_> = h.keys().map(|k| k.as_str()).collect();
    assert_eq!(left, ["x-kept"]);
}

#[test]
fn an_upgrade_keeps_its_upgrade_headers() {
    let mut h = map(&[("connection", "Upgrade"), ("upgrade", "websocket")]);
    assert!(is_upgrade(&h));
    strip_hop_by_hop(&mut h, true);
    assert_eq!(h[CONNECTION], "upgrade");
    assert_eq!(h[UPGRADE], "websocket");
}

#[test]
fn forwarded_for_appends_and_proto_is_replaced() {
    let client = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 9));
    let mut h = map(&[
        ("x-forwarded-for", "10.1.1.1"),
        ("x-forwarded-proto", "https"),
    ]);
    add_forwarded(&mut h, &client_value(client));
    assert_eq!(h["x-forwarded-for"], "10.1.1.1, 127.0.0.9");
    assert_eq!(
        h["x-forwarded-proto"], "http",
        "the client's own claim is replaced"
    );
    let mut fresh = HeaderMap::new();
    add_forwarded(&mut fresh, &client_value(client));
    assert_eq!(fresh["x-forwarded-for"], "127.0.0.9");
    assert_eq!(fresh["x-forwarded-proto"], "http");
}

#[test]
fn an_h2_request_becomes_origin_form_with_a_host() {
    let mut parts = head(Request::get("http://rgw.storage:7480/b/k?x=1").version(Version::HTTP_2));
    to_http11(&mut parts);
    assert_eq!(parts.uri, "/b/k?x=1");
    assert_eq!(parts.headers[HOST], "rgw.storage:7480");
    assert_eq!(parts.version, Version::HTTP_11);
}

#[test]
fn an_origin_form_request_keeps_its_uri() {
    let mut parts = head(Request::get("/b/k?x=1").header(HOST, "rgw.storage:7480"));
    to_http11(&mut parts);
    assert_eq!(parts.uri, "/b/k?x=1");
    assert_eq!(parts.headers[HOST], "rgw.storage:7480");
}

#[test]
fn a_head_without_hop_by_hop_headers_is_left_as_it_is() {
    let mut h = map(&[("host", "a"), ("x-one", "1"), ("x-one", "2")]);
    strip_hop_by_hop(&mut h, false);
    assert_eq!(h.len(), 3);
    let mut u = map(&[
        ("upgrade", "websocket"),
        ("connection", "x-gone"),
        ("x-gone", "1"),
    ]);
    strip_hop_by_hop(&mut u, false);
    assert!(u.is_empty(), "{u:?}");
}

#[test]
fn connection_never_removes_host() {
    let mut h = map(&[
        ("host", "a"),
        ("connection", "host, x-gone"),
        ("x-gone", "1"),
    ]);
    strip_hop_by_hop(&mut h, false);
    assert_eq!(h[HOST], "a");
    assert!(!h.contains_key("x-gone"));
}

#[test]
fn the_target_s_authority_replaces_host() {
    let mut abs =
        head(Request::get("http://user@other.example:8080/abs").header(HOST, "rgw.storage:7480"));
    to_http11(&mut abs);
    assert_eq!(abs.uri, "/abs");
    assert_eq!(abs.headers[HOST], "other.example:8080");
    let mut h2 = head(
        Request::get("http://rgw.storage:7480/k")
            .version(Version::HTTP_2)
            .header(HOST, "elsewhere"),
    );
    to_http11(&mut h2);
    assert_eq!(h2.headers[HOST], "rgw.storage:7480", ":authority wins");
}

#[test]
fn a_request_needs_one_valid_host_unless_its_target_has_an_authority() {
    let ok = head(Request::get("/").header(HOST, "rgw.storage:7480"));
    assert_eq!(check(&ok, 65536), Ok(()));
    let none = head(Request::get("/"));
    assert_eq!(check(&none, 65536), Err(Refused::Host("no Host header")));
    let old = head(Request::get("/").version(Version::HTTP_10));
    assert_eq!(check(&old, 65536), Ok(()), "HTTP/1.0 needs no Host");
    let two = head(Request::get("/").header(HOST, "a").header(HOST, "b"));
    assert!(matches!(check(&two, 65536), Err(Refused::Host(_))));
    for good in ["rgw.storage", "rgw.storage:7480", "[::1]:80", "10.0.0.1"] {
        let h = head(Request::get("/").header(HOST, good));
        assert_eq!(check(&h, 65536), Ok(()), "{good:?}");
    }
    for bad in ["bad host!/x", "", "user@host", "a, b", "host:port", "a:b:c"] {
        let h = head(Request::get("/").header(HOST, bad));
        assert!(matches!(check(&h, 65536), Err(Refused::Host(_))), "{bad:?}");
    }
    let abs = head(Request::get("http://rgw.storage:7480/"));
    assert_eq!(check(&abs, 65536), Ok(()), "absolute-form carries its host");
}

#[test]
fn connect_and_oversized_heads_are_refused() {
    let c = head(Request::connect("rgw.storage:7480").header(HOST, "rgw.storage:7480"));
    assert_eq!(check(&c, 65536), Err(Refused::Connect));
    let big = head(
        Request::get("/")
            .header(HOST, "a")
            .header("x-big", "a".repeat(70_000)),
    );
    assert_eq!(check(&big, 65536), Err(Refused::TooLarge(65536)));
    let long = head(
        Request::get(format!("/{}", "p".repeat(60_000)))
            .header(HOST, "a")
            .header("x-more", "m".repeat(6_000)),
    );
    assert_eq!(check(&long, 65536), Err(Refused::TooLarge(65536)));
    let fits = head(
        Request::get("/")
            .header(HOST, "a")
            .header("x-big", "a".repeat(60_000)),
    );
    assert_eq!(check(&fits, 65536), Ok(()));
}
