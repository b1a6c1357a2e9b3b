//! `builtin:weighted`: smooth weighted round-robin (the nginx algorithm) per
//! endpoint: over any window of sum(weights) picks, each healthy candidate is
//! chosen `weight` times, interleaved. The rest follow by weight as fallbacks.
#![allow(
    clippy::too_many_arguments,
    reason = "the export shim wit-bindgen generates for `route` takes the connection record as 11 flat values"
)]
use std::cell::RefCell;
use std::collections::HashMap;

// Small blocks from size-class free lists (see `guest-alloc`).
guest_alloc::install!();

wit_bindgen::generate!({ world: "router", path: "../../wit" });

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {}

/// Current weights per endpoint URL, by candidate index. A pool that changes
/// size starts afresh; a changed weight is absorbed within one round.
type State = HashMap<String, Vec<i64>>;

thread_local! {
    static STATE: RefCell<State> = RefCell::new(HashMap::new());
}

struct Weighted;

impl Guest for Weighted {
    fn configure(config: String) -> Result<(), String> {
        serde_json::from_str::<Config>(&config)
            .map(|_| ())
            .map_err(|e| format!("weighted takes no options ({e}); use config: {{}}"))
    }

    fn route(_connection: Connection, candidates: Vec<Candidate>) -> Decision {
        let url = bindery::plugin::routing::endpoint_url();
        let chosen = STATE.with(|s| {
            let mut s = s.borrow_mut();
            let current = s.entry(url).or_default();
            pick(current, &candidates)
        });
        let mut order: Vec<u32> = (0..candidates.len() as u32)
            .filter(|&i| Some(i) != chosen)
            .collect();
        order.sort_by_key(|&i| {
            let c = &candidates[i as usize];
            (!c.healthy, std::cmp::Reverse(c.weight))
        });
        if let Some(i) = chosen {
            order.insert(0, i);
        }
        Decision::Try(order)
    }
}

fn pick(current: &mut Vec<i64>, candidates: &[Candidate]) -> Option<u32> {
    if current.len() != candidates.len() {
        current.clear();
        current.resize(candidates.len(), 0);
    }
    let mut total = 0i64;
    let mut best: Option<usize> = None;
    for (i, c) in candidates.iter().enumerate().filter(|(_, c)| c.healthy) {
        let w = i64::from(c.weight.max(1));
        total += w;
        current[i] += w;
        if best.is_none_or(|b| current[i] > current[b]) {
            best = Some(i);
        }
    }
    let i = best?;
    current[i] -= total;
    Some(i as u32)
}

export!(Weighted);
