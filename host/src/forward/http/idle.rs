//! When an HTTP client connection is idle: for a whole idle timeout no
//! request arrived and none was in flight (from its head to the last byte
//! of its response). One timer per
//! connection checks it four times per timeout, so a connection closes
//! between one and one and a quarter idle timeouts after its last request.
//! Hyper's header-read timeout would do it with a timer armed and dropped
//! for every request, a cost on every request of a keep-alive connection.
//! A client that trickles a request head never completes a request, so it
//! is idle too, and closed once a graceful close does not end it.
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

/// Requests of one client connection, as the idle check sees them.
#[derive(Debug, Default)]
pub struct Activity {
    started: AtomicU64,
    in_flight: AtomicUsize,
    /// No HTTP/1 request head will come again: an h2 connection (its
    /// requests are streams), or one switched to another protocol.
    headless: AtomicBool,
    /// The last request leaves the connection open after its response:
    /// HTTP/1.1 without `Connection: close`, answered without one.
    reusable: AtomicBool,
}

impl Activity {
    /// A request arrived; it is in flight until the guard drops (with the
    /// response body, or with the request when it fails).
    pub fn begin(self: &Arc<Self>, version: http::Version, headers: &http::HeaderMap) -> InFlight {
        if version == http::Version::HTTP_2 {
            self.headless.store(true, Ordering::Relaxed);
        }
        let reusable = version == http::Version::HTTP_11
            && !super::headers::has_token(headers, http::header::CONNECTION, "close");
        if self.reusable.load(Ordering::Relaxed) != reusable {
            self.reusable.store(reusable, Ordering::Relaxed);
        }
        self.started.fetch_add(1, Ordering::Relaxed);
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(self.clone())
    }

    /// Whether a request arrived or is in flight.
    pub fn busy_since(&self, started: u64) -> bool {
        self.started.load(Ordering::Relaxed) != started
            || self.in_flight.load(Ordering::Relaxed) > 0
    }

    /// Whether a request is in flight.
    pub fn in_flight(&self) -> bool {
        self.in_flight.load(Ordering::Relaxed) > 0
    }

    /// Whether the connection is h2 (known from its first request) or
    /// switched protocols.
    pub fn headless(&self) -> bool {
        self.headless.load(Ordering::Relaxed)
    }

    pub fn started(&self) -> u64 {
        self.started.load(Ordering::Relaxed)
    }

    /// Resolves once a request has begun since `started()` was `born`, and
    /// the connection has then been quiet for `after` with the last request
    /// leaving it open: hyper then waits for the next request head and
    /// holds nothing that cannot be given back.
    pub async fn parkable(&self, born: u64, after: Duration) {
        loop {
            self.idle(after).await;
            if self.started() != born && self.reusable.load(Ordering::Relaxed) {
                return;
            }
        }
    }

    /// Resolves once the connection has been idle for `idle`.
    pub async fn idle(&self, idle: Duration) {
        let step = (idle / 4).max(Duration::from_millis(1));
        let mut seen = self.started();
        let mut quiet = Duration::ZERO;
        loop {
            tokio::time::sleep(step).await;
            if self.busy_since(seen) {
                seen = self.started();
                quiet = Duration::ZERO;
                continue;
            }
            quiet += step;
            if quiet >= idle {
                return;
            }
        }
    }
}

/// One request in flight.
pub struct InFlight(Arc<Activity>);

impl InFlight {
    /// The request switches the connection to another protocol: what
    /// follows is a tunnel's bytes, no request head.
    pub fn switched(&self) {
        self.0.headless.store(true, Ordering::Relaxed);
    }

    /// The answer closes the connection (`Connection: close`).
    pub fn last(&self) {
        self.0.reusable.store(false, Ordering::Relaxed);
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
#[path = "idle_tests.rs"]
mod tests;
