//! What a direct projection asks for that direct mode does not do: kube-proxy
//! balances connections among the ready endpoints with no Bindery process
//! on the path, so the router plugin, upstream weights and HTTP-aware
//! routing do not act. Said on the object rather than dropped silently.
use crate::pipeline::types::Projection;
use crate::policy::Policy;

/// The policy's router when it names none.
const DEFAULT_ROUTER: &str = "builtin:round-robin";

/// One line per setting that does not act on `p`, each with what happens
/// instead; empty for a proxy projection.
pub fn ignored(p: &Projection, policy: &Policy) -> Vec<String> {
    if p.port().is_some() {
        return Vec::new();
    }
    let mut out = Vec::new();
    if policy.router.plugin != DEFAULT_ROUTER {
        out.push(format!(
            "the policy's router {} does not act (nor does HTTP-aware routing): kube-proxy spreads connections over the ready endpoints; use mode: proxy for routing by the plugin",
            policy.router.plugin
        ));
    }
    let weighted: Vec<String> = p
        .upstreams
        .iter()
        .filter(|m| m.upstream.weight != 1)
        .map(|m| format!("{} weight {}", m.upstream.address, m.upstream.weight))
        .collect();
    if !weighted.is_empty() {
        out.push(format!(
            "weights do not act ({}): kube-proxy gives every ready endpoint an equal share; use mode: proxy with builtin:weighted for weights",
            weighted.join(", ")
        ));
    }
    out
}

#[cfg(test)]
#[path = "ignored_tests.rs"]
mod tests;
