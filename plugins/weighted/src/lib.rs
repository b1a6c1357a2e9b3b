//! `builtin:weighted`: smooth weighted round-robin (the nginx algorithm) per
//! endpoint: over any window of sum(weights) picks, each healthy candidate is
//! chosen `weight` times, interleaved. The rest follow by weight as fallbacks.
use std::cell::RefCell;
use std::collections::HashMap;

wit_bindgen::generate!({ world: "router", path: "../../wit" });

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {}

/// Current weights per endpoint URL, keyed by candidate address so a pool
/// change resets only what changed.
type State = HashMap<String, HashMap<String, i64>>;

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

    fn route(connection: Connection, candidates: Vec<Candidate>) -> Decision {
        let chosen =
            STATE.with(|s| pick(&mut s.borrow_mut(), &connection.endpoint_url, &candidates));
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

fn pick(state: &mut State, url: &str, candidates: &[Candidate]) -> Option<u32> {
    let current = state.entry(url.to_string()).or_default();
    current.retain(|addr, _| candidates.iter().any(|c| &c.address == addr));
    let mut total = 0i64;
    let mut best: Option<(u32, i64)> = None;
    for (i, c) in candidates.iter().enumerate().filter(|(_, c)| c.healthy) {
        let w = i64::from(c.weight.max(1));
        total += w;
        let cw = current.entry(c.address.clone()).or_insert(0);
        *cw += w;
        if best.is_none_or(|(_, b)| *cw > b) {
            best = Some((i as u32, *cw));
        }
    }
    let (i, _) = best?;
    if let Some(cw) = current.get_mut(&candidates[i as usize].address) {
        *cw -= total;
    }
    Some(i)
}

export!(Weighted);
