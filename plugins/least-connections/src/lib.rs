//! `builtin:least-connections`: the healthy candidate with the fewest live
//! connections per unit of weight first; ties are rotated so equal members
//! share new connections.
#![allow(
    clippy::too_many_arguments,
    reason = "the export shim wit-bindgen generates for `route` takes the connection record as 11 flat values"
)]
// Small blocks from size-class free lists (see `guest-alloc`).
guest_alloc::install!();

wit_bindgen::generate!({ world: "router", path: "../../wit" });

use router_common::View;

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {}

struct LeastConnections;

impl Guest for LeastConnections {
    fn configure(config: String) -> Result<(), String> {
        serde_json::from_str::<Config>(&config)
            .map(|_| ())
            .map_err(|e| format!("least-connections takes no options ({e}); use config: {{}}"))
    }

    fn route(connection: Connection, candidates: Vec<Candidate>) -> Decision {
        let views: Vec<View> = candidates
            .iter()
            .map(|c| View {
                healthy: c.healthy,
                weight: c.weight,
                active: c.active,
            })
            .collect();
        // One rotation across the endpoint, not one per forwarder thread.
        let start = connection.turn as usize;
        // Compare active/weight without division: scale by a common factor.
        let order = router_common::sorted_by_key(&views, start, |i| {
            let w = u64::from(views[i].weight.max(1));
            (u64::from(views[i].active) << 32) / w
        });
        Decision::Try(order)
    }
}

export!(LeastConnections);
