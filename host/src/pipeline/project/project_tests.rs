use super::project;
use crate::catalog::parse_str;
use crate::pipeline::RejectKind;
use crate::pipeline::pool::pool;
use crate::pipeline::types::{Allocation, Named, Names};
use crate::pipeline::validate::validate;
use crate::policy::PortRange;

/// Pools of `n` URLs, named after their host.
fn named(n: usize) -> Vec<Named> {
    let yaml: String = (0..n)
        .map(|i| format!("  - url: http://s{i}.ns\n    upstreams: [{{address: 10.0.0.{i}:80}}]\n"))
        .collect();
    let (valid, _) = validate(parse_str(&format!("endpoints:\n{yaml}"), "t").expect("parses"));
    let (pools, _) = pool(valid);
    pools
        .into_iter()
        .map(|pool| Named {
            names: Names {
                upstream: format!("up-{}", pool.key.url.name),
                target_name: pool.key.url.name.clone(),
                target_namespace: "ns".to_string(),
            },
            pool,
        })
        .collect()
}

#[test]
fn every_pool_gets_a_port_in_the_range_and_keeps_the_one_it_had() {
    let range = PortRange {
        first: 20000,
        last: 20009,
    };
    let (first, rejected) = project(named(3), range, &Allocation::new());
    assert!(rejected.is_empty());
    assert!(first.iter().all(|p| (20000..=20009).contains(&p.port)));
    let kept: Allocation = first.iter().map(|p| (p.key.id(), p.port)).collect();
    let moved: Allocation = kept
        .iter()
        .map(|(k, p)| (k.clone(), 20000 + (p - 19999) % 10))
        .collect();
    let (again, _) = project(named(3), range, &moved);
    for p in &again {
        assert_eq!(Some(&p.port), moved.get(&p.key.id()), "{}", p.key.url);
    }
}

#[test]
fn pools_past_the_range_are_rejected_with_the_range_named() {
    let range = PortRange {
        first: 20000,
        last: 20001,
    };
    let (projections, rejected) = project(named(3), range, &Allocation::new());
    assert_eq!(projections.len(), 2);
    assert_eq!(rejected.len(), 1);
    assert_eq!(rejected[0].kind, RejectKind::PortsExhausted);
    assert!(
        rejected[0].message.contains("20000-20001"),
        "{}",
        rejected[0].message
    );
}
