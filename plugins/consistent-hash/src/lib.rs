//! `builtin:consistent-hash`: weighted rendezvous hashing of the client IP
//! (or, for http endpoints, of a request header when configured). The same
//! client reaches the same upstream while it is healthy, and when the pool
//! changes only the keys of the removed or added member move.
use std::cell::RefCell;

wit_bindgen::generate!({ world: "router", path: "../../wit" });

#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Config {
    /// Hash this request header instead of the client IP when present.
    #[serde(default)]
    header: Option<String>,
}

thread_local! {
    static CONFIG: RefCell<Config> = RefCell::new(Config::default());
}

struct ConsistentHash;

impl Guest for ConsistentHash {
    fn configure(config: String) -> Result<(), String> {
        let mut parsed: Config = serde_json::from_str(&config).map_err(|e| {
            format!("consistent-hash config is {{\"header\": \"<name>\"}} or {{}} ({e})")
        })?;
        parsed.header = parsed.header.map(|h| h.to_ascii_lowercase());
        CONFIG.with(|c| *c.borrow_mut() = parsed);
        Ok(())
    }

    fn route(connection: &Connection, candidates: Vec<Candidate>) -> Decision {
        let header = CONFIG.with(|c| c.borrow().header.clone());
        let key = header
            .and_then(|name| connection.header(&name))
            .unwrap_or_else(|| connection.client_ip());
        let mut scored: Vec<(bool, f64, u32)> = candidates
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let address = connection.address(i as u32).unwrap_or_default();
                (
                    c.healthy,
                    score(key.as_bytes(), &address, c.weight),
                    i as u32,
                )
            })
            .collect();
        // Healthy first, then highest score.
        scored.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.total_cmp(&a.1)));
        Decision::Try(scored.into_iter().map(|(_, _, i)| i).collect())
    }
}

/// Weighted rendezvous score: weight / -ln(u), u uniform in (0, 1).
/// Weighted rendezvous score of one upstream for `key`: the candidate's
/// address, not its index, so removing one upstream moves only its keys.
fn score(key: &[u8], address: &str, weight: u32) -> f64 {
    let h = router_common::fnv1a(&[key, address.as_bytes()]);
    let u = ((h >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
    f64::from(weight.max(1)) / -u.ln()
}

export!(ConsistentHash);
