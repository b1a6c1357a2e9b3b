//! What became of each catalog entry in one pass: projected and ready, or
//! not, with the reason that becomes its `Ready` condition and Event.
use std::collections::HashMap;

use super::apply::{Applied, Key};
use crate::pipeline::Projection;
use crate::pipeline::{Outcome, RejectKind};

/// One entry's result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Both Services are as desired.
    Ready {
        target: String,
        upstream: String,
        port: u16,
    },
    /// Projected, but its Services could not be applied.
    Blocked {
        reason: &'static str,
        message: String,
        target: String,
        upstream: String,
    },
    /// The pipeline left it out.
    Rejected { kind: RejectKind, message: String },
}

impl Verdict {
    /// The `reason` of the `Ready` condition.
    pub fn reason(&self) -> &'static str {
        match self {
            Verdict::Ready { .. } => "Projected",
            Verdict::Blocked { reason, .. } => reason,
            Verdict::Rejected { kind, .. } => kind.reason(),
        }
    }
}

/// Every entry's verdict, by entry id. `states` holds what applying each
/// Service did (absent when nothing was applied: not the leader).
pub fn verdicts(
    outcome: &Outcome,
    operator_namespace: &str,
    states: &HashMap<Key, Applied>,
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
        let v = projected(p, operator_namespace, states);
        for e in &p.entries {
            out.insert(e.clone(), v.clone());
        }
    }
    out
}

fn projected(p: &Projection, operator_namespace: &str, states: &HashMap<Key, Applied>) -> Verdict {
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
        upstream: upstream.clone(),
    };
    let missing = Applied::Failed("not applied yet".to_string());
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
            blocked(
                "NamespaceMissing",
                format!(
                    "namespace {ns} does not exist; Bindery never creates namespaces: create it and the Service follows"
                ),
            )
        }
        (Applied::Failed(m), _) | (_, Applied::Failed(m)) => blocked("ApplyFailed", m.clone()),
        _ => Verdict::Ready {
            target,
            upstream,
            port: p.port,
        },
    }
}
