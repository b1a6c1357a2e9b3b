//! DNS names in upstreams, re-resolved at `resolveSeconds`: a failure keeps
//! the addresses of the last answer, so a resolver outage moves no traffic,
//! and is recorded for direct mode to report.
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

use super::state::Upstream;

/// Longest wait for one answer.
const TIMEOUT: Duration = Duration::from_secs(5);

/// Resolve `u`'s name and keep the answer, unless it is empty or failed;
/// `changed` is notified when the addresses or the failure changed.
pub async fn resolve(u: Arc<Upstream>, changed: Option<Arc<Notify>>) {
    let answer = tokio::time::timeout(TIMEOUT, tokio::net::lookup_host(u.address.as_str())).await;
    let news = match answer {
        Ok(Ok(addrs)) => {
            let addrs: Vec<SocketAddr> = addrs.collect();
            if addrs.is_empty() {
                u.set_resolve_failure("no address in the answer".to_string())
            } else {
                u.set_addrs(addrs)
            }
        }
        Ok(Err(e)) => {
            tracing::warn!(upstream = %u.address, error = %e, "DNS resolution failed; keeping the previous addresses");
            u.set_resolve_failure(e.to_string())
        }
        Err(_) => {
            tracing::warn!(upstream = %u.address, ?TIMEOUT, "DNS resolution timed out; keeping the previous addresses");
            u.set_resolve_failure(format!("no answer within {TIMEOUT:?}"))
        }
    };
    if news && let Some(n) = &changed {
        n.notify_one();
    }
}
