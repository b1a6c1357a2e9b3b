use super::pool;
use crate::catalog::parse_str;
use crate::pipeline::RejectKind;
use crate::pipeline::types::Valid;
use crate::pipeline::validate::validate;

fn valid(yaml: &str) -> Vec<Valid> {
    let (valid, rejected) = validate(
        parse_str(yaml, "t").expect("parses"),
        crate::catalog::Mode::Proxy,
    );
    assert!(rejected.is_empty(), "{rejected:?}");
    valid
}

#[test]
fn one_url_is_one_pool_with_every_members_upstreams_and_labels() {
    let (pools, rejected) = pool(valid(
        r#"
endpoints:
  - url: http://rgw.storage:7480
    labels: {zone: a}
    upstreams: [{address: 10.0.0.1:7480}]
  - url: http://rgw.storage:7480
    labels: {zone: b}
    upstreams: [{address: 10.0.0.2:7480, weight: 3}]
  - url: tcp://db.billing:5432
    upstreams: [{address: 10.0.1.1:5432}]
"#,
    ));
    assert!(rejected.is_empty());
    assert_eq!(pools.len(), 2);
    let rgw = pools
        .iter()
        .find(|p| p.key.url.name == "rgw")
        .expect("rgw pooled");
    assert_eq!(rgw.entries, ["t endpoints[0]", "t endpoints[1]"]);
    let members: Vec<(&str, u32, &str)> = rgw
        .upstreams
        .iter()
        .map(|m| {
            (
                m.upstream.address.as_str(),
                m.upstream.weight,
                m.labels[0].1.as_str(),
            )
        })
        .collect();
    assert_eq!(
        members,
        [("10.0.0.1:7480", 1, "a"), ("10.0.0.2:7480", 3, "b")]
    );
    assert_eq!(rgw.first.labels["zone"], "a");
}

#[test]
fn pooling_false_keeps_the_url_for_the_first_entry_and_names_who_refused() {
    let (pools, rejected) = pool(valid(
        r#"
endpoints:
  - url: http://a.b
    upstreams: [{address: 10.0.0.1:80}]
  - url: http://a.b
    pooling: false
    upstreams: [{address: 10.0.0.2:80}]
"#,
    ));
    assert_eq!(pools.len(), 1);
    assert_eq!(pools[0].entries, ["t endpoints[0]"]);
    assert_eq!(rejected.len(), 1);
    assert_eq!(rejected[0].kind, RejectKind::PoolConflict);
    assert_eq!(rejected[0].entry, "t endpoints[1]");
    assert!(
        rejected[0]
            .message
            .contains("t endpoints[1] sets pooling: false"),
        "{}",
        rejected[0].message
    );
}

#[test]
fn the_same_url_of_two_accounts_never_pools() {
    let (pools, _) = pool(valid(
        r#"
endpoints:
  - url: http://a.b
    upstreams: [{address: 10.0.0.1:80}]
  - url: http://a.b
    account: other
    upstreams: [{address: 10.0.0.2:80}]
"#,
    ));
    assert_eq!(pools.len(), 2);
}

#[test]
fn members_of_one_pool_in_another_mode_are_rejected_with_the_rule_and_the_fix() {
    let (pools, rejected) = pool(valid(
        r#"
endpoints:
  - url: tcp://db.prod:5432
    mode: direct
    upstreams: [{address: 10.0.0.1:5432}]
  - url: tcp://db.prod:5432
    upstreams: [{address: 10.0.0.2:5432}]
  - url: tcp://db.prod:5432
    mode: direct
    upstreams: [{address: 10.0.0.3:5432}]
"#,
    ));
    assert_eq!(pools.len(), 1);
    assert_eq!(pools[0].first.mode, crate::catalog::Mode::Direct);
    assert_eq!(pools[0].entries, ["t endpoints[0]", "t endpoints[2]"]);
    assert_eq!(rejected.len(), 1);
    let r = &rejected[0];
    assert_eq!(
        (r.entry.as_str(), r.kind),
        ("t endpoints[1]", RejectKind::ModeConflict)
    );
    for needle in [
        "direct mode by t endpoints[0]",
        "mode is proxy",
        "set the same mode",
    ] {
        assert!(
            r.message.contains(needle),
            "{needle:?} not in {}",
            r.message
        );
    }
}
