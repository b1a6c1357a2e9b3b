use super::project;
use crate::catalog::parse_str;
use crate::pipeline::RejectKind;
use crate::pipeline::pool::pool;
use crate::pipeline::types::{Allocation, Named, Names, Plane};
use crate::pipeline::validate::validate;
use crate::policy::PortRange;

/// Pools of `n` URLs, named after their host.
fn named(n: usize) -> Vec<Named> {
    named_with(n, "")
}

/// Pools of `n` URLs with `fields` (YAML lines of each entry).
fn named_with(n: usize, fields: &str) -> Vec<Named> {
    let yaml: String = (0..n)
        .map(|i| {
            format!(
                "  - url: http://s{i}.ns\n    upstreams: [{{address: 10.0.0.{i}:80}}]\n{fields}"
            )
        })
        .collect();
    let (valid, _) = validate(
        parse_str(&format!("endpoints:\n{yaml}"), "t").expect("parses"),
        crate::catalog::Mode::Proxy,
    );
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
    let port = |p: &crate::pipeline::Projection| p.port().expect("proxy mode has a port");
    assert!(first.iter().all(|p| (20000..=20009).contains(&port(p))));
    let kept: Allocation = first.iter().map(|p| (p.key.id(), port(p))).collect();
    let moved: Allocation = kept
        .iter()
        .map(|(k, p)| (k.clone(), 20000 + (p - 19999) % 10))
        .collect();
    let (again, _) = project(named(3), range, &moved);
    for p in &again {
        assert_eq!(Some(&port(p)), moved.get(&p.key.id()), "{}", p.key.url);
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

#[test]
fn direct_pools_take_no_port_and_leave_the_range_to_proxy_pools() {
    let range = PortRange {
        first: 20000,
        last: 20000,
    };
    let (projections, rejected) = project(
        named_with(3, "    mode: direct\n"),
        range,
        &Allocation::new(),
    );
    assert!(rejected.is_empty(), "{rejected:?}");
    assert_eq!(projections.len(), 3);
    assert!(
        projections
            .iter()
            .all(|p| p.plane == Plane::Direct && p.port().is_none())
    );
    let mut both = named(3);
    for n in &mut both[..2] {
        n.pool.first.mode = crate::catalog::Mode::Direct;
    }
    let (projections, rejected) = project(both, range, &Allocation::new());
    assert!(rejected.is_empty(), "one port is enough for one proxy pool");
    let ports: Vec<Option<u16>> = projections.iter().map(|p| p.port()).collect();
    assert_eq!(ports.iter().filter(|p| p.is_some()).count(), 1, "{ports:?}");
}
