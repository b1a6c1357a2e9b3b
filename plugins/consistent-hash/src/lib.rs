//! `builtin:consistent-hash`: weighted rendezvous hashing of the client IP
//! (or, for http endpoints, of a request header when configured). The same
//! client reaches the same upstream while it is healthy, and when the pool
//! changes only the keys of the removed or added member move.
#![allow(
    clippy::too_many_arguments,
    reason = "the export shim wit-bindgen generates for `route` takes the connection record as 11 flat values"
)]
use std::cell::RefCell;

// Small blocks from size-class free lists (see `guest-alloc`).
guest_alloc::install!();

wit_bindgen::generate!({ world: "router", path: "../../wit" });

use bindery::plugin::routing::IpAddress;

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

    fn route(connection: Connection, candidates: Vec<Candidate>) -> Decision {
        let header = CONFIG.with(|c| c.borrow().header.clone());
        let from_header = header.and_then(|name| bindery::plugin::routing::header(&name));
        let client = client_bytes(&connection.client_ip);
        let key: &[u8] = match &from_header {
            Some(value) => value.as_bytes(),
            None => &client.0[..client.1],
        };
        let mut scored: Vec<(bool, f64, u32)> = candidates
            .iter()
            .zip(0u32..)
            .map(|(c, i)| (c.healthy, score(key, c.key, c.weight), i))
            .collect();
        // Healthy first, then highest score.
        scored.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.total_cmp(&a.1)));
        Decision::Try(scored.into_iter().map(|(_, _, i)| i).collect())
    }
}

/// The client IP as bytes (4 or 16 of the 16) without allocating.
fn client_bytes(ip: &IpAddress) -> ([u8; 16], usize) {
    let mut out = [0u8; 16];
    match *ip {
        IpAddress::Ipv4((a, b, c, d)) => {
            out[..4].copy_from_slice(&[a, b, c, d]);
            (out, 4)
        }
        IpAddress::Ipv6((a, b, c, d, e, f, g, h)) => {
            for (i, s) in [a, b, c, d, e, f, g, h].into_iter().enumerate() {
                out[2 * i..2 * i + 2].copy_from_slice(&s.to_be_bytes());
            }
            (out, 16)
        }
    }
}

/// Weighted rendezvous score of one upstream for `key`: weight / -ln(u),
/// u uniform in (0, 1) drawn from the key and the candidate's `key` (its
/// address, not its index), so removing one upstream moves only its keys.
fn score(key: &[u8], upstream: u64, weight: u32) -> f64 {
    let h = router_common::fnv1a(&[key, &upstream.to_le_bytes()]);
    let u = ((h >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
    f64::from(weight.max(1)) / -u.ln()
}

export!(ConsistentHash);
