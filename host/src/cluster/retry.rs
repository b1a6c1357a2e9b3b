//! How the watches retry after an error.
use std::time::Duration;

use kube::runtime::utils::Backoff;

/// Watch retries: from 200 ms, doubling, at most 2 s apart, so a cache is
/// current again within about 2 s of the apiserver coming back (kube's
/// default grows to 30 s). Reset once a watch succeeds.
#[derive(Clone, Debug)]
pub struct Retry {
    next: Duration,
}

impl Retry {
    const FIRST: Duration = Duration::from_millis(200);
    const MAX: Duration = Duration::from_secs(2);
}

impl Default for Retry {
    fn default() -> Self {
        Retry { next: Retry::FIRST }
    }
}

impl Iterator for Retry {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        let now = self.next;
        self.next = (now * 2).min(Retry::MAX);
        Some(now)
    }
}

impl Backoff for Retry {
    fn reset(&mut self) {
        self.next = Retry::FIRST;
    }
}
