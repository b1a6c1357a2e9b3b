//! DNS names in upstreams, re-resolved at `resolveSeconds`: a failure keeps
//! the addresses of the last answer, so a resolver outage moves no traffic.
use std::net::SocketAddr;
use std::sync::Arc;

use super::state::Upstream;

/// Resolve `u`'s name and keep the answer, unless it is empty or failed.
pub async fn resolve(u: Arc<Upstream>) {
    match tokio::net::lookup_host(u.address.as_str()).await {
        Ok(addrs) => {
            let addrs: Vec<SocketAddr> = addrs.collect();
            if !addrs.is_empty() {
                u.set_addrs(addrs);
            }
        }
        Err(e) => {
            tracing::warn!(upstream = %u.address, error = %e, "DNS resolution failed; keeping the previous addresses")
        }
    }
}
