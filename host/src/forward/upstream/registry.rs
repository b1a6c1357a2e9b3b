//! Every upstream's live state by (URL, address), kept across generations
//! and modes: a URL that switches between proxy and direct mode keeps what
//! its probes found, and a reload keeps the connection counts.
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::state::Upstream;

#[derive(Debug, Default)]
pub struct Registry {
    map: Mutex<HashMap<(String, String), Arc<Upstream>>>,
}

impl Registry {
    /// The state of `address` under `url`, made on first use; the flag
    /// says whether it was.
    pub fn get(&self, url: &str, address: &str) -> (Arc<Upstream>, bool) {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        let key = (url.to_string(), address.to_string());
        if let Some(u) = map.get(&key) {
            return (u.clone(), false);
        }
        let u = Arc::new(Upstream::new(address));
        map.insert(key, u.clone());
        (u, true)
    }
}
