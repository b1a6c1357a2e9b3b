use super::validate;
use crate::catalog::parse_str;
use crate::pipeline::RejectKind;

#[test]
fn every_broken_rule_of_an_entry_is_named_and_the_others_pass() {
    let entries = parse_str(
        r#"
endpoints:
  - url: http://a.b
    upstreams: [{address: 10.0.0.1:80}]
  - url: https://c.d
    upstreams: [{address: 10.0.0.2:80, weight: 0}]
  - url: tcp://e.f:5432
    upstreams: [{address: 10.0.0.3:5432}]
"#,
        "t",
    )
    .expect("parses");
    let (valid, rejected) = validate(entries, crate::catalog::Mode::Proxy);
    let urls: Vec<&str> = valid.iter().map(|v| v.endpoint.raw_url.as_str()).collect();
    assert_eq!(urls, ["http://a.b", "tcp://e.f:5432"]);
    assert_eq!(rejected.len(), 1);
    let r = &rejected[0];
    assert_eq!(r.entry, "t endpoints[1]");
    assert_eq!(r.url.as_deref(), Some("https://c.d"));
    assert_eq!(r.kind, RejectKind::Invalid);
    assert!(r.message.contains("https"), "{}", r.message);
    assert!(r.message.contains("weight"), "{}", r.message);
}

#[test]
fn an_entry_of_the_wrong_shape_is_rejected_with_its_url() {
    let entries = parse_str(
        "endpoints:\n  - url: http://a.b\n    upstreams: [{address: 10.0.0.1:80, colour: red}]\n",
        "t",
    )
    .expect("parses");
    let (valid, rejected) = validate(entries, crate::catalog::Mode::Proxy);
    assert!(valid.is_empty());
    assert_eq!(rejected[0].url.as_deref(), Some("http://a.b"));
    assert!(
        rejected[0].message.contains("colour"),
        "{}",
        rejected[0].message
    );
}
