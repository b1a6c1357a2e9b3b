use super::filter;
use crate::catalog::parse_str;
use crate::pipeline::RejectKind;
use crate::pipeline::validate::validate;

#[test]
fn only_this_accounts_endpoints_pass_and_the_others_are_named() {
    let entries = parse_str(
        r#"
endpoints:
  - url: http://a.b
    upstreams: [{address: 10.0.0.1:80}]
  - url: http://a.b
    account: other
    upstreams: [{address: 10.0.0.2:80}]
"#,
        "t",
    )
    .expect("parses");
    let (valid, _) = validate(entries, crate::catalog::Mode::Proxy);
    let (ours, rejected) = filter(valid, "default");
    assert_eq!(ours.len(), 1);
    assert_eq!(ours[0].entry, "t endpoints[0]");
    assert_eq!(rejected.len(), 1);
    assert_eq!(rejected[0].kind, RejectKind::OtherAccount);
    assert!(
        rejected[0].message.contains("\"other\""),
        "{}",
        rejected[0].message
    );
}
