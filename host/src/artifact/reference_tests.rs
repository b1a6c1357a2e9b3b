use super::*;

const D: &str = "sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae";

#[test]
fn tags_and_digests_parse_and_print_back() {
    for text in [
        "oci://registry.example.com/team/router:v1",
        "oci://127.0.0.1:5000/router:latest",
        "oci://localhost:5000/a/b/c:1.2.3",
        "oci://localhost/router:v1",
        "oci://[::1]:5000/router:v1",
    ] {
        let r = OciRef::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(r.to_string(), text);
        assert!(r.tag().is_some());
    }
    let text = format!("oci://ghcr.io/acme/router@{D}");
    let r = OciRef::parse(&text).unwrap();
    assert_eq!(r.digest().map(ToString::to_string).as_deref(), Some(D));
    assert_eq!(r.registry, "ghcr.io");
    assert_eq!(r.repository, "acme/router");
    assert_eq!(r.to_string(), text);
}

#[test]
fn hosts_drop_the_port() {
    let host = |t: &str| OciRef::parse(t).unwrap().host().to_string();
    assert_eq!(host("oci://127.0.0.1:5000/r:t"), "127.0.0.1");
    assert_eq!(host("oci://[::1]:5000/r:t"), "::1");
    assert_eq!(
        host("oci://registry.example.com/r:t"),
        "registry.example.com"
    );
}

#[test]
fn bad_references_name_the_rule() {
    for (text, rule) in [
        ("registry.example.com/r:v1", "not an OCI reference"),
        ("oci://registry.example.com", "names no repository"),
        (
            "oci://registry.example.com/router",
            "neither a tag nor a digest",
        ),
        ("oci://team/router:v1", "is not a registry"),
        ("oci://registry.example.com/Router:v1", "lowercase"),
        ("oci://registry.example.com/r:-v1", "tag \"-v1\""),
        ("oci://registry.example.com/r@sha512:abcd", "only sha256"),
        (
            "oci://registry.example.com/r@sha256:ABCD",
            "64 lowercase hex",
        ),
        ("oci://registry.example.com:99999/r:v1", "is not a registry"),
    ] {
        let e = OciRef::parse(text).expect_err(text);
        assert!(e.contains(rule), "{text}: {e}");
    }
}

#[test]
fn digests_check_bytes() {
    let d = Digest::parse(D).unwrap();
    assert!(d.matches(b"foo"));
    assert!(!d.matches(b"bar"));
    assert_eq!(Digest::of(b"foo"), d);
}
