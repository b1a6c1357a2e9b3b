use super::Endpoint;
use crate::catalog::{EndpointSpec, Mode, UpstreamSpec};

fn spec(url: &str, addrs: &[&str]) -> EndpointSpec {
    EndpointSpec {
        url: url.into(),
        account: "default".into(),
        pooling: true,
        upstreams: addrs
            .iter()
            .map(|a| UpstreamSpec {
                address: a.to_string(),
                weight: 1,
            })
            .collect(),
        ..Default::default()
    }
}

fn fields(s: &EndpointSpec) -> Vec<String> {
    Endpoint::validate(s, Mode::Proxy)
        .expect_err("should be invalid")
        .into_iter()
        .map(|e| e.field)
        .collect()
}

#[test]
fn a_valid_endpoint() {
    let e = Endpoint::validate(
        &spec(
            "http://rgw.storage:7480",
            &["10.0.0.11:7480", "rgw2.example.com:7480", "[fd00::1]:7480"],
        ),
        Mode::Proxy,
    )
    .expect("valid");
    assert_eq!(e.url.port, 7480);
    assert_eq!(e.upstreams.len(), 3);
}

#[test]
fn every_broken_rule_is_reported_at_once() {
    let mut s = spec(
        "https://x.y",
        &["10.0.0.1", "bad host:80", "10.0.0.1:0", "-a.b:80"],
    );
    s.account = "".into();
    s.upstreams[0].weight = 0;
    assert_eq!(
        fields(&s),
        vec![
            "url",
            "account",
            "upstreams[0].address",
            "upstreams[0].weight",
            "upstreams[1].address",
            "upstreams[2].address",
            "upstreams[3].address"
        ]
    );
}

#[test]
fn upstreams_are_required() {
    let errors = Endpoint::validate(&spec("http://a.b", &[]), Mode::Proxy).unwrap_err();
    assert_eq!(errors[0].field, "upstreams");
    assert!(errors[0].message.contains("at least one upstream"));
}

#[test]
fn account_must_fit_a_label_value() {
    let mut s = spec("http://a.b", &["1.2.3.4:80"]);
    s.account = "team a".into();
    assert_eq!(fields(&s), vec!["account"]);
    s.account = "x".repeat(64);
    assert_eq!(fields(&s), vec!["account"]);
    s.account = "Team_A.1".into();
    assert!(Endpoint::validate(&s, Mode::Proxy).is_ok());
}

#[test]
fn weights_are_bounded() {
    let mut s = spec("http://a.b", &["1.2.3.4:80"]);
    s.upstreams[0].weight = super::MAX_WEIGHT + 1;
    assert_eq!(fields(&s), vec!["upstreams[0].weight"]);
    s.upstreams[0].weight = super::MAX_WEIGHT;
    assert!(Endpoint::validate(&s, Mode::Proxy).is_ok());
}

#[test]
fn direct_mode_refuses_addresses_an_endpointslice_cannot_list() {
    let addrs = [
        "127.0.0.1:80",
        "10.0.0.1:80",
        "[fe80::1]:80",
        "0.0.0.0:80",
        "rgw.example:80",
    ];
    let mut s = spec("tcp://db.prod:5432", &addrs);
    assert!(
        Endpoint::validate(&s, Mode::Proxy).is_ok(),
        "the forwarder may connect to any of them"
    );
    let errors = Endpoint::validate(&s, Mode::Direct).unwrap_err();
    let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "upstreams[0].address",
            "upstreams[2].address",
            "upstreams[3].address"
        ]
    );
    assert!(errors[0].message.contains("loopback"), "{}", errors[0]);
    assert!(errors[0].message.contains("defaultMode"), "{}", errors[0]);
    // An entry's own mode wins over the policy's, and is named.
    s.mode = Some(Mode::Direct);
    let errors = Endpoint::validate(&s, Mode::Proxy).unwrap_err();
    assert!(errors[1].message.contains("mode: direct"), "{}", errors[1]);
    assert!(errors[1].message.contains("link-local"), "{}", errors[1]);
    s.mode = Some(Mode::Proxy);
    let e = Endpoint::validate(&s, Mode::Direct).expect("proxy mode takes them");
    assert_eq!(e.mode, Mode::Proxy);
}
