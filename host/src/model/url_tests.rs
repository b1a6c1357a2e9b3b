use super::{EndpointUrl, Scheme, UrlError};

fn ok(url: &str) -> EndpointUrl {
    EndpointUrl::parse(url).unwrap_or_else(|e| panic!("{url} should be valid: {e}"))
}

fn err(url: &str) -> UrlError {
    EndpointUrl::parse(url).expect_err(url)
}

#[test]
fn seed_examples_that_are_valid() {
    assert_eq!(
        ok("http://app.example"),
        EndpointUrl {
            scheme: Scheme::Http,
            name: "app".into(),
            namespace: "example".into(),
            port: 80
        }
    );
    assert_eq!(ok("http://app.example:12345").port, 12345);
    assert_eq!(ok("tcp://app.example:443").scheme, Scheme::Tcp);
    assert_eq!(ok("tcp://app.example:12345").port, 12345);
}

#[test]
fn seed_examples_that_are_invalid_with_their_reason() {
    assert_eq!(
        err("https://app.example").to_string(),
        "invalid scheme https: only http and tcp are supported"
    );
    assert_eq!(
        err("tls://app.example:12345").to_string(),
        "invalid scheme tls: only http and tcp are supported"
    );
    assert_eq!(
        err("http://app.example.com").to_string(),
        "invalid hostname app.example.com: must have exactly two parts, name.namespace"
    );
    assert_eq!(
        err("tcp://app.example").to_string(),
        "tcp endpoint must specify a port number, e.g. tcp://app.example:5432"
    );
}

#[test]
fn hostname_must_have_two_parts_and_no_wildcard() {
    assert!(matches!(err("http://app"), UrlError::Parts(_)));
    assert!(matches!(err("http://a..b"), UrlError::Parts(_)));
    assert!(matches!(err("http://*.example"), UrlError::Wildcard(_)));
    assert!(matches!(err("http://app.*"), UrlError::Wildcard(_)));
    assert!(matches!(err("http://[::1]:80"), UrlError::Parts(_)));
}

#[test]
fn name_follows_the_service_name_rule() {
    ok(&format!("http://{}.ns", "a".repeat(63)));
    assert!(matches!(
        err(&format!("http://{}.ns", "a".repeat(64))),
        UrlError::Name(_)
    ));
    assert!(
        matches!(err("http://1app.ns"), UrlError::Name(_)),
        "RFC 1035: a letter first"
    );
    assert!(
        matches!(err("http://App.ns"), UrlError::Name(_)),
        "lowercase"
    );
    assert!(
        matches!(err("http://app-.ns"), UrlError::Name(_)),
        "no trailing dash"
    );
    assert!(matches!(err("http://-app.ns"), UrlError::Name(_)));
    assert!(matches!(err("http://a_b.ns"), UrlError::Name(_)));
    assert!(matches!(err("http://.ns"), UrlError::Name(_)));
    ok("http://a-1.ns");
}

#[test]
fn namespace_follows_the_namespace_rule() {
    ok("http://app.1st"); // RFC 1123: a digit may come first
    ok(&format!("http://app.{}", "n".repeat(63)));
    assert!(matches!(
        err(&format!("http://app.{}", "n".repeat(64))),
        UrlError::Namespace(_)
    ));
    assert!(matches!(err("http://app.Prod"), UrlError::Namespace(_)));
    assert!(matches!(err("http://app.prod-"), UrlError::Namespace(_)));
    assert!(matches!(err("http://app.-prod"), UrlError::Namespace(_)));
    assert!(matches!(err("http://app."), UrlError::Namespace(_)));
}

#[test]
fn ports_from_1_to_65535() {
    assert_eq!(ok("tcp://a.b:1").port, 1);
    assert_eq!(ok("tcp://a.b:65535").port, 65535);
    for bad in [
        "tcp://a.b:0",
        "tcp://a.b:65536",
        "tcp://a.b:",
        "tcp://a.b:x",
        "tcp://a.b:-1",
        "tcp://a.b:+80",
        "tcp://a.b:000080",
    ] {
        assert!(matches!(err(bad), UrlError::Port(_)), "{bad}");
    }
    assert_eq!(ok("http://a.b:8080").port, 8080);
}

#[test]
fn no_user_info_path_query_or_fragment() {
    assert!(matches!(err("http://user@app.ns"), UrlError::UserInfo(_)));
    assert!(matches!(
        err("http://user:pw@app.ns:80"),
        UrlError::UserInfo(_)
    ));
    assert!(matches!(
        err("http://app.ns/"),
        UrlError::Trailing { what: "a path", .. }
    ));
    assert!(matches!(
        err("http://app.ns:80/x"),
        UrlError::Trailing { what: "a path", .. }
    ));
    assert!(matches!(
        err("http://app.ns?q=1"),
        UrlError::Trailing {
            what: "a query",
            ..
        }
    ));
    assert!(matches!(
        err("http://app.ns#f"),
        UrlError::Trailing {
            what: "a fragment",
            ..
        }
    ));
}

#[test]
fn scheme_is_required_and_named() {
    assert!(matches!(err("app.example"), UrlError::MissingScheme(_)));
    assert!(matches!(err(""), UrlError::Empty));
    assert_eq!(err("udp://a.b:53"), UrlError::InvalidScheme("udp".into()));
    assert_eq!(ok("HTTP://app.example").scheme, Scheme::Http);
}

#[test]
fn canonical_form_writes_the_port() {
    assert_eq!(
        ok("http://app.example").to_string(),
        "http://app.example:80"
    );
    assert_eq!(ok("http://app.example"), ok("http://app.example:80"));
    assert_ne!(ok("http://app.example:80"), ok("tcp://app.example:80"));
}
