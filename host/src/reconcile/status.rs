//! `BoundEndpoint` status: `Ready`, `Selected`, `ServicesApplied` and
//! `Conflict` (and in direct mode `SettingsIgnored`), each with
//! `observedGeneration`, written by server-side apply on the status
//! subresource only when something in it changed.
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::api::{Api, Patch, PatchParams};

use super::context::{Context, FIELD_MANAGER};
use super::error::ReconcileError;
use super::verdict::Verdict;
use crate::catalog::{BoundEndpoint, BoundEndpointStatus, Mode};
use crate::pipeline::RejectKind;

/// Whether a verdict makes its endpoint ready, with its reason and
/// message: the `Ready` condition here and a member's entry on a hub.
pub fn readiness(verdict: &Verdict) -> (bool, &'static str, String) {
    let (ready, message) = match verdict {
        Verdict::Ready {
            target,
            upstream,
            port,
        } => (
            true,
            format!("Service {target} fronts {upstream}, forwarder port {port}"),
        ),
        Verdict::Direct {
            target, listing, ..
        } => (listing.ready > 0, direct_message(target, listing)),
        Verdict::Blocked { message, .. } | Verdict::Rejected { message, .. } => {
            (false, message.clone())
        }
    };
    (ready, verdict.reason(), message)
}

/// The status a verdict gives an object of `generation`; transition times
/// are kept from `live` where a condition's status did not change.
pub fn desired(
    verdict: &Verdict,
    generation: Option<i64>,
    live: Option<&BoundEndpointStatus>,
) -> BoundEndpointStatus {
    let (ready, reason, message) = readiness(verdict);
    let selected = !matches!(
        verdict,
        Verdict::Rejected {
            kind: RejectKind::Invalid | RejectKind::NotSelected | RejectKind::SelectorFailed,
            ..
        }
    );
    let conflict = matches!(
        reason,
        "Conflict" | "PoolConflict" | "ModeConflict" | "NameCollision"
    );
    let applied = ready || matches!(verdict, Verdict::Direct { .. });
    let cond = |type_: &str, status: bool, reason: &str, message: &str| {
        condition(type_, status, reason, message, generation, live)
    };
    let (sel_reason, sel_message) = if selected {
        ("Selected", "an endpoint selector chose it")
    } else {
        (reason, message.as_str())
    };
    let mut conditions = vec![
        cond("Ready", ready, reason, &message),
        cond("Selected", selected, sel_reason, sel_message),
        if applied && !ready {
            cond(
                "ServicesApplied",
                true,
                "Applied",
                "the Service and its EndpointSlices are applied",
            )
        } else {
            cond("ServicesApplied", ready, reason, &message)
        },
        if conflict {
            cond("Conflict", true, reason, &message)
        } else {
            cond("Conflict", false, "NoConflict", "")
        },
    ];
    if let Verdict::Direct { ignored, .. } = verdict {
        conditions.push(if ignored.is_empty() {
            cond("SettingsIgnored", false, "NoneIgnored", "")
        } else {
            cond("SettingsIgnored", true, "DirectMode", &ignored.join("; "))
        });
    }
    let (mode, target, upstream, endpoints) = match verdict {
        Verdict::Ready {
            target, upstream, ..
        } => (Some(Mode::Proxy), Some(target), Some(upstream), None),
        Verdict::Blocked {
            target, upstream, ..
        } => {
            let mode = if upstream.is_some() {
                Mode::Proxy
            } else {
                Mode::Direct
            };
            (Some(mode), Some(target), upstream.as_ref(), None)
        }
        Verdict::Direct {
            target, listing, ..
        } => (
            Some(Mode::Direct),
            Some(target),
            None,
            Some(format!("{}/{}", listing.ready, listing.listed)),
        ),
        Verdict::Rejected { .. } => (None, None, None, None),
    };
    BoundEndpointStatus {
        conditions,
        mode,
        target: target.cloned(),
        upstream: upstream.cloned(),
        endpoints,
        ..BoundEndpointStatus::default()
    }
}

/// The `Ready` message of a direct projection: what its slices list, what
/// was left out, and what clients see when nothing is ready.
pub(crate) fn direct_message(target: &str, listing: &crate::pipeline::project::Listing) -> String {
    let mut m = if listing.ready > 0 {
        format!(
            "Service {target} lists {} of {} upstream addresses ready in its EndpointSlices (direct mode: kube-proxy balances, no forwarder hop)",
            listing.ready, listing.listed
        )
    } else if listing.listed > 0 {
        format!(
            "none of the {} upstream addresses of Service {target} passes its health check: kube-proxy rejects new connections to it until one does",
            listing.listed
        )
    } else {
        format!(
            "Service {target} lists no upstream address: kube-proxy rejects new connections to it until one is listed"
        )
    };
    if !listing.problems.is_empty() {
        m.push_str("; left out: ");
        m.push_str(&listing.problems.join("; "));
    }
    m
}

fn condition(
    type_: &str,
    status: bool,
    reason: &str,
    message: &str,
    generation: Option<i64>,
    live: Option<&BoundEndpointStatus>,
) -> Condition {
    let status = if status { "True" } else { "False" }.to_string();
    let before = live.and_then(|l| l.conditions.iter().find(|c| c.type_ == type_));
    let last_transition_time = match before {
        Some(c) if c.status == status => c.last_transition_time.clone(),
        _ => Time(k8s_openapi::jiff::Timestamp::now()),
    };
    Condition {
        type_: type_.to_string(),
        status,
        reason: reason.to_string(),
        message: message.to_string(),
        observed_generation: generation,
        last_transition_time,
    }
}

/// Write `status` unless the object already has it; true when written.
pub async fn write(
    ctx: &Context,
    object: &BoundEndpoint,
    status: BoundEndpointStatus,
) -> Result<bool, ReconcileError> {
    // Only the fields this writer owns: on an object that is also a hub
    // object, the members' entries are theirs.
    let same = object.status.as_ref().is_some_and(|live| {
        live.conditions == status.conditions
            && live.mode == status.mode
            && live.endpoints == status.endpoints
            && live.target == status.target
            && live.upstream == status.upstream
    });
    if same || !ctx.leader.is_leader() {
        return Ok(false);
    }
    let ns = object.metadata.namespace.clone().unwrap_or_default();
    let name = object.metadata.name.clone().unwrap_or_default();
    let api: Api<BoundEndpoint> = Api::namespaced(ctx.client.clone(), &ns);
    let body = serde_json::json!({
        "apiVersion": "bindery.dev/v1alpha1",
        "kind": "BoundEndpoint",
        "status": status,
    });
    let params = PatchParams::apply(FIELD_MANAGER).force();
    api.patch_status(&name, &params, &Patch::Apply(&body))
        .await
        .map_err(|source| ReconcileError::Status {
            object: format!("{ns}/{name}"),
            source,
        })?;
    ctx.metrics.applies.inc();
    Ok(true)
}

#[cfg(test)]
#[path = "status_tests.rs"]
mod tests;
