use super::ignored;
use crate::catalog::{Mode, parse_str};
use crate::pipeline::pool::pool;
use crate::pipeline::project::project;
use crate::pipeline::types::{Allocation, Named, Names, Projection};
use crate::pipeline::validate::validate;
use crate::policy::{PluginRef, Policy, PortRange};

fn one(mode: Mode, weights: &[u32]) -> Projection {
    let upstreams: Vec<String> = weights
        .iter()
        .enumerate()
        .map(|(i, w)| format!("{{address: \"10.0.0.{}:80\", weight: {w}}}", i + 1))
        .collect();
    let yaml = format!(
        "endpoints:\n  - url: http://web.ns:80\n    upstreams: [{}]\n",
        upstreams.join(", ")
    );
    let (valid, _) = validate(parse_str(&yaml, "t").unwrap(), mode);
    let (pools, _) = pool(valid);
    let named = pools
        .into_iter()
        .map(|pool| Named {
            names: Names {
                upstream: "u".into(),
                target_name: "web".into(),
                target_namespace: "ns".into(),
            },
            pool,
        })
        .collect();
    let (mut ps, _) = project(named, PortRange::default(), &Allocation::new());
    ps.remove(0)
}

#[test]
fn a_direct_endpoint_is_told_what_does_not_act() {
    let plain = Policy::default();
    assert!(ignored(&one(Mode::Direct, &[1, 1]), &plain).is_empty());
    let notes = ignored(&one(Mode::Direct, &[1, 5, 1]), &plain);
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(
        notes[0].contains("weights do not act (10.0.0.2:80 weight 5)"),
        "{}",
        notes[0]
    );
    let routed = Policy {
        router: PluginRef::builtin("least-connections"),
        ..Policy::default()
    };
    let notes = ignored(&one(Mode::Direct, &[1]), &routed);
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(
        notes[0].contains("builtin:least-connections does not act"),
        "{}",
        notes[0]
    );
}

#[test]
fn proxy_mode_does_all_of_it() {
    let routed = Policy {
        router: PluginRef::builtin("weighted"),
        ..Policy::default()
    };
    assert!(ignored(&one(Mode::Proxy, &[1, 5]), &routed).is_empty());
}
