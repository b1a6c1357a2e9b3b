//! `BoundEndpoint` status: `Ready`, `Selected`, `ServicesApplied` and
//! `Conflict`, each with `observedGeneration`, written by server-side apply
//! on the status subresource only when something in it changed.
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::api::{Api, Patch, PatchParams};

use super::context::{Context, FIELD_MANAGER};
use super::error::ReconcileError;
use super::verdict::Verdict;
use crate::catalog::{BoundEndpoint, BoundEndpointStatus};
use crate::pipeline::RejectKind;

/// The status a verdict gives an object of `generation`; transition times
/// are kept from `live` where a condition's status did not change.
pub fn desired(
    verdict: &Verdict,
    generation: Option<i64>,
    live: Option<&BoundEndpointStatus>,
) -> BoundEndpointStatus {
    let (ready, reason, message) = match verdict {
        Verdict::Ready {
            target,
            upstream,
            port,
        } => (
            true,
            "Projected",
            format!("Service {target} fronts {upstream}, forwarder port {port}"),
        ),
        Verdict::Blocked {
            reason, message, ..
        } => (false, *reason, message.clone()),
        Verdict::Rejected { kind, message } => (false, kind.reason(), message.clone()),
    };
    let selected = !matches!(
        verdict,
        Verdict::Rejected {
            kind: RejectKind::Invalid | RejectKind::NotSelected | RejectKind::SelectorFailed,
            ..
        }
    );
    let conflict = matches!(reason, "Conflict" | "PoolConflict" | "NameCollision");
    let cond = |type_: &str, status: bool, reason: &str, message: &str| {
        condition(type_, status, reason, message, generation, live)
    };
    let (sel_reason, sel_message) = if selected {
        ("Selected", "an endpoint selector chose it")
    } else {
        (reason, message.as_str())
    };
    let conditions = vec![
        cond("Ready", ready, reason, &message),
        cond("Selected", selected, sel_reason, sel_message),
        cond("ServicesApplied", ready, reason, &message),
        if conflict {
            cond("Conflict", true, reason, &message)
        } else {
            cond("Conflict", false, "NoConflict", "")
        },
    ];
    let (target, upstream) = match verdict {
        Verdict::Ready {
            target, upstream, ..
        }
        | Verdict::Blocked {
            target, upstream, ..
        } => (Some(target.clone()), Some(upstream.clone())),
        Verdict::Rejected { .. } => (None, None),
    };
    BoundEndpointStatus {
        conditions,
        target,
        upstream,
        ..BoundEndpointStatus::default()
    }
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
