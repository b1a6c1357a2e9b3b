//! What became of each catalog entry in one pass: projected and ready, or
//! not, with the reason that becomes its `Ready` condition and Event.
use std::collections::{BTreeMap, HashMap};

use super::apply::{Applied, Key};
use crate::pipeline::project::{Listing, ignored};
use crate::pipeline::{Outcome, Projection, RejectKind};
use crate::policy::Policy;

/// What applying a pass's objects did.
#[derive(Default)]
pub struct Applies {
    /// By Service; absent when nothing was applied (not the leader).
    pub services: HashMap<Key, Applied>,
    pub slices: HashMap<Key, Applied>,
    /// Each direct URL's slices.
    pub slices_of: HashMap<String, Vec<Key>>,
    /// What each direct URL lists, by projection id.
    pub listings: BTreeMap<String, Listing>,
}

/// One entry's result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Proxy mode: both Services are as desired.
    Ready {
        target: String,
        upstream: String,
        port: u16,
    },
    /// Direct mode: the Service and its slices are as desired; ready when
    /// an endpoint is.
    Direct {
        target: String,
        listing: Listing,
        /// What the entry asks for that direct mode does not do.
        ignored: Vec<String>,
    },
    /// Projected, but its objects could not be applied.
    Blocked {
        reason: &'static str,
        message: String,
        target: String,
        /// Proxy mode's upstream Service.
        upstream: Option<String>,
    },
    /// The pipeline left it out.
    Rejected { kind: RejectKind, message: String },
}

impl Verdict {
    /// The `reason` of the `Ready` condition.
    pub fn reason(&self) -> &'static str {
        match self {
            Verdict::Ready { .. } => "Projected",
            Verdict::Direct { listing, .. } if listing.ready > 0 => "Projected",
            Verdict::Direct { .. } => "NoReadyEndpoints",
            Verdict::Blocked { reason, .. } => reason,
            Verdict::Rejected { kind, .. } => kind.reason(),
        }
    }
}

/// Every entry's verdict, by entry id.
pub fn verdicts(
    outcome: &Outcome,
    operator_namespace: &str,
    applies: &Applies,
    policy: &Policy,
) -> HashMap<String, Verdict> {
    let mut out = HashMap::new();
    for r in &outcome.rejections {
        let v = Verdict::Rejected {
            kind: r.kind,
            message: r.message.clone(),
        };
        out.insert(r.entry.clone(), v);
    }
    for p in &outcome.projections {
        let v = match p.port() {
            Some(port) => proxied(p, port, operator_namespace, &applies.services),
            None => direct(p, applies, policy),
        };
        for e in &p.entries {
            out.insert(e.clone(), v.clone());
        }
    }
    out
}

fn missing() -> Applied {
    Applied::Failed("not applied yet".to_string())
}

fn proxied(
    p: &Projection,
    port: u16,
    operator_namespace: &str,
    states: &HashMap<Key, Applied>,
) -> Verdict {
    let upstream_key = (operator_namespace.to_string(), p.names.upstream.clone());
    let target_key = (
        p.names.target_namespace.clone(),
        p.names.target_name.clone(),
    );
    let target = p.names.target();
    let upstream = format!("{operator_namespace}/{}", p.names.upstream);
    let blocked = |reason, message: String| Verdict::Blocked {
        reason,
        message,
        target: target.clone(),
        upstream: Some(upstream.clone()),
    };
    let missing = missing();
    let up = states.get(&upstream_key).unwrap_or(&missing);
    let down = states.get(&target_key).unwrap_or(&missing);
    match (up, down) {
        (Applied::Conflict(owner), _) => blocked(
            "Conflict",
            format!(
                "upstream Service {upstream} exists and belongs to {}; Bindery leaves it alone: remove it or configure the naming plugin to use another name",
                owner.describe()
            ),
        ),
        (_, Applied::Conflict(owner)) => blocked(
            "Conflict",
            format!(
                "Service {target} exists and belongs to {}; Bindery leaves it alone: remove it, or use another URL for this endpoint",
                owner.describe()
            ),
        ),
        (Applied::NamespaceMissing, _) | (_, Applied::NamespaceMissing) => {
            let ns = if *up == Applied::NamespaceMissing {
                operator_namespace
            } else {
                &p.names.target_namespace
            };
            blocked("NamespaceMissing", namespace_missing(ns))
        }
        (_, Applied::Held(m)) => blocked("Switching", m.clone()),
        (Applied::Failed(m), _) | (_, Applied::Failed(m)) => blocked("ApplyFailed", m.clone()),
        _ => Verdict::Ready {
            target,
            upstream,
            port,
        },
    }
}

fn namespace_missing(ns: &str) -> String {
    format!(
        "namespace {ns} does not exist; Bindery never creates namespaces: create it and the Service follows"
    )
}

fn direct(p: &Projection, applies: &Applies, policy: &Policy) -> Verdict {
    let target = p.names.target();
    let blocked = |reason, message: String| Verdict::Blocked {
        reason,
        message,
        target: target.clone(),
        upstream: None,
    };
    let missing = missing();
    let service_key = (
        p.names.target_namespace.clone(),
        p.names.target_name.clone(),
    );
    let service = applies.services.get(&service_key).unwrap_or(&missing);
    let no_slices = Vec::new();
    let slices: Vec<(&Key, &Applied)> = applies
        .slices_of
        .get(&p.key.url.to_string())
        .unwrap_or(&no_slices)
        .iter()
        .map(|k| (k, applies.slices.get(k).unwrap_or(&missing)))
        .collect();
    if let Applied::Conflict(owner) = service {
        return blocked(
            "Conflict",
            format!(
                "Service {target} exists and belongs to {}; Bindery leaves it alone and lists no endpoints for it: remove it, or use another URL for this endpoint",
                owner.describe()
            ),
        );
    }
    if let Some(((ns, name), Applied::Conflict(owner))) = slices
        .iter()
        .find(|(_, a)| matches!(a, Applied::Conflict(_)))
    {
        return blocked(
            "Conflict",
            format!(
                "EndpointSlice {ns}/{name} exists and belongs to {}; Bindery leaves it alone, and Service {target} waits for its slices: remove it",
                owner.describe()
            ),
        );
    }
    let states = std::iter::once(service).chain(slices.iter().map(|(_, a)| *a));
    let all: Vec<&Applied> = states.collect();
    if all.contains(&&Applied::NamespaceMissing) {
        return blocked(
            "NamespaceMissing",
            namespace_missing(&p.names.target_namespace),
        );
    }
    if let Some(Applied::Failed(m)) = all.iter().find(|a| matches!(a, Applied::Failed(_))) {
        return blocked("ApplyFailed", m.clone());
    }
    Verdict::Direct {
        target,
        listing: applies
            .listings
            .get(&p.key.id())
            .cloned()
            .unwrap_or_default(),
        ignored: ignored(p, policy),
    }
}
