use std::time::{Duration, Instant};

use super::Upstream;

#[test]
fn ejected_after_consecutive_failures_until_the_back_off_ends() {
    let u = Upstream::new("127.0.0.1:7");
    let now = Instant::now();
    let base = Duration::from_secs(10);
    assert_eq!(u.failed(3, base, now), None);
    assert_eq!(u.failed(3, base, now), None);
    assert!(u.healthy(now), "two failures of three do not eject");
    assert_eq!(u.failed(3, base, now), Some(base));
    assert!(!u.healthy(now));
    assert!(!u.healthy(now + base - Duration::from_millis(1)));
    assert!(
        u.healthy(now + base),
        "healthy again once the back-off ends"
    );
    // The second ejection in a row lasts twice as long.
    for _ in 0..2 {
        assert_eq!(u.failed(3, base, now + base), None);
    }
    assert_eq!(u.failed(3, base, now + base), Some(base * 2));
}

#[test]
fn a_success_clears_failures_and_an_ejection() {
    let u = Upstream::new("127.0.0.1:7");
    let now = Instant::now();
    let base = Duration::from_secs(10);
    assert_eq!(u.failed(2, base, now), None);
    u.succeeded();
    assert_eq!(u.failed(2, base, now), None, "the count started over");
    assert_eq!(u.failed(2, base, now), Some(base));
    u.succeeded();
    assert!(u.healthy(now));
    // And the ejections in a row start over too (the second failure comes
    // after the first ejection: failures during one are not counted).
    u.failed(1, base, now);
    assert_eq!(u.failed(1, base, now + base), Some(base * 2));
    u.succeeded();
    assert_eq!(u.failed(1, base, now + base), Some(base));
}

#[test]
fn a_literal_address_is_its_only_address_and_a_name_has_none_until_resolved() {
    let ip = Upstream::new("127.0.0.1:7");
    assert!(!ip.is_name());
    assert_eq!(ip.addrs(), vec!["127.0.0.1:7".parse().unwrap()]);
    let name = Upstream::new("echo.bench.svc:7");
    assert!(name.is_name());
    assert!(name.addrs().is_empty());
    name.set_addrs(vec!["127.0.0.2:7".parse().unwrap()]);
    assert_eq!(name.addrs(), vec!["127.0.0.2:7".parse().unwrap()]);
}

#[test]
fn the_live_count_follows_the_guards() {
    let u = std::sync::Arc::new(Upstream::new("127.0.0.1:7"));
    let a = u.track();
    let b = u.track();
    assert_eq!(u.active(), 2);
    drop(a);
    assert_eq!(u.active(), 1);
    drop(b);
    assert_eq!(u.active(), 0);
}

#[test]
fn failures_during_an_ejection_neither_extend_nor_double_it() {
    let u = Upstream::new("127.0.0.1:7");
    let now = Instant::now();
    let base = Duration::from_secs(10);
    assert_eq!(u.failed(3, base, now), None);
    assert_eq!(u.failed(3, base, now), None);
    assert_eq!(u.failed(3, base, now), Some(base));
    // A burst of requests already on their way, or tried as a last resort.
    for i in 0..30 {
        let t = now + Duration::from_millis(i);
        assert_eq!(
            u.failed(3, base, t),
            None,
            "failure {i} during the ejection"
        );
    }
    assert!(!u.healthy(now + base - Duration::from_millis(1)));
    assert!(u.healthy(now + base), "back after one base ejection");
    // Tried again after it: failing `after` times in a row ejects it for
    // twice as long, once.
    let later = now + base;
    assert_eq!(u.failed(3, base, later), None);
    assert_eq!(u.failed(3, base, later), None);
    assert_eq!(u.failed(3, base, later), Some(base * 2));
    assert_eq!(u.failed(3, base, later), None);
}

#[test]
fn a_success_after_the_ejection_clears_the_back_off() {
    let u = Upstream::new("127.0.0.1:7");
    let now = Instant::now();
    let base = Duration::from_secs(10);
    assert_eq!(u.failed(1, base, now), Some(base));
    assert_eq!(u.failed(1, base, now + base), Some(base * 2));
    // The trial after the second ejection succeeds: all forgotten.
    u.succeeded();
    assert!(u.healthy(now + base));
    assert_eq!(u.failed(1, base, now + base * 3), Some(base));
}
