//! `builtin:round-robin`: healthy candidates in turn, unhealthy ones last.
#![allow(
    clippy::too_many_arguments,
    reason = "the export shim wit-bindgen generates for `route` takes the connection record as 11 flat values"
)]
use std::sync::atomic::{AtomicUsize, Ordering};

// Small blocks from size-class free lists (see `guest-alloc`).
guest_alloc::install!();

wit_bindgen::generate!({ world: "router", path: "../../wit" });

static NEXT: AtomicUsize = AtomicUsize::new(0);

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {}

struct RoundRobin;

impl Guest for RoundRobin {
    fn configure(config: String) -> Result<(), String> {
        serde_json::from_str::<Config>(&config)
            .map(|_| ())
            .map_err(|e| format!("round-robin takes no options ({e}); use config: {{}}"))
    }

    fn route(_connection: Connection, candidates: Vec<Candidate>) -> Decision {
        let start = NEXT.fetch_add(1, Ordering::Relaxed);
        Decision::Try(router_common::rotated_by(candidates.len(), start, |i| {
            candidates[i].healthy
        }))
    }
}

export!(RoundRobin);
