use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::{Decision, Guard, GuardSettings};
use crate::pipeline::project::LABEL_UPSTREAM;

/// Both Services of projections `p0`..`p{n-1}`.
fn services(n: usize) -> Vec<Service> {
    (0..n)
        .flat_map(|i| {
            ["upstream", "target"].map(|kind| Service {
                metadata: ObjectMeta {
                    name: Some(format!("{kind}-{i}")),
                    labels: Some(BTreeMap::from([(
                        LABEL_UPSTREAM.to_string(),
                        format!("p{i}"),
                    )])),
                    ..ObjectMeta::default()
                },
                ..Service::default()
            })
        })
        .collect()
}

fn guard(percent: u8, min: usize, hold: Option<Duration>) -> Guard {
    Guard::new(GuardSettings { percent, min, hold })
}

#[test]
fn a_few_deletions_or_a_small_share_go_ahead() {
    let all = services(20);
    let owned: Vec<&Service> = all.iter().collect();
    let g = guard(50, 5, None);
    // 10 of 20: not more than half.
    assert_eq!(g.decide(&owned[..20], &owned, &[], None), Decision::Delete);
    // 4 of 20... and 4 of 5: fewer than the minimum.
    assert_eq!(g.decide(&owned[..8], &owned, &[], None), Decision::Delete);
    assert_eq!(
        g.decide(&owned[..8], &owned[..10], &[], None),
        Decision::Delete
    );
    assert_eq!(g.decide(&[], &owned, &[], None), Decision::Delete);
}

#[test]
fn most_projections_at_once_wait_for_the_token() {
    let all = services(20);
    let owned: Vec<&Service> = all.iter().collect();
    let g = guard(50, 5, None);
    let Decision::Hold(held) = g.decide(&owned[..22], &owned, &[], None) else {
        panic!("11 of 20 projections deleted at once were not held");
    };
    assert_eq!((held.projections, held.of, held.services), (11, 20, 22));
    assert!(held.reason.contains("more than 50%"), "{}", held.reason);
    // The same pass again: the same hold, the same token.
    let Decision::Hold(again) = g.decide(&owned[..22], &owned, &[], None) else {
        panic!("released by itself");
    };
    assert_eq!(again, held);
    // A wrong token releases nothing; the right one does, once.
    assert!(matches!(
        g.decide(&owned[..22], &owned, &[], Some("0000000000")),
        Decision::Hold(_)
    ));
    assert_eq!(
        g.decide(&owned[..22], &owned, &[], Some(&held.token)),
        Decision::Delete
    );
    // A later hold of the same Services has a new token: the old
    // confirmation left on the Lease does not release it.
    let Decision::Hold(later) = g.decide(&owned[..22], &owned, &[], Some(&held.token)) else {
        panic!("an old confirmation released a new hold");
    };
    assert_ne!(later.token, held.token);
    // A different set is a different hold.
    let Decision::Hold(other) = g.decide(&owned[..30], &owned, &[], None) else {
        panic!("not held");
    };
    assert_ne!(other.token, later.token);
}

#[test]
fn a_hold_that_lasts_is_released_by_time() {
    let all = services(4);
    let owned: Vec<&Service> = all.iter().collect();
    let g = guard(50, 1, Some(Duration::from_millis(50)));
    assert!(matches!(
        g.decide(&owned, &owned, &[], None),
        Decision::Hold(_)
    ));
    std::thread::sleep(Duration::from_millis(60));
    assert_eq!(g.decide(&owned, &owned, &[], None), Decision::Delete);
}

#[test]
fn a_source_not_read_yet_holds_every_deletion() {
    let all = services(20);
    let owned: Vec<&Service> = all.iter().collect();
    let g = guard(0, 1, None);
    let unsynced = ["catalog URL http://x/".to_string()];
    let Decision::Hold(held) = g.decide(&owned[..2], &owned, &unsynced, None) else {
        panic!("a deletion went ahead before every source was read");
    };
    assert!(held.reason.contains("catalog URL http://x/ not read"));
    // Read at last: the share rule alone (off here) decides.
    assert_eq!(g.decide(&owned[..2], &owned, &[], None), Decision::Delete);
}
