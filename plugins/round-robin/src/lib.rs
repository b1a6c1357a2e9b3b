//! `builtin:round-robin`: healthy candidates in turn, unhealthy ones last.
#![allow(
    clippy::too_many_arguments,
    reason = "the export shim wit-bindgen generates for `route` takes the connection record as 11 flat values"
)]
// Small blocks from size-class free lists (see `guest-alloc`).
guest_alloc::install!();

wit_bindgen::generate!({ world: "router", path: "../../wit" });

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

    fn route(connection: Connection, candidates: Vec<Candidate>) -> Decision {
        // One rotation across the endpoint, not one per forwarder thread.
        let start = connection.turn as usize;
        Decision::Try(router_common::rotated_by(candidates.len(), start, |i| {
            candidates[i].healthy
        }))
    }
}

export!(RoundRobin);
