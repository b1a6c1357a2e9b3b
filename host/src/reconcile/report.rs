//! Telling users: the status of every `BoundEndpoint` of this account and a
//! Warning Event when an entry's problem appears or changes; deletions the
//! guard holds. Entries of the
//! catalog file have no object; their Events regard the upstream Service's
//! name in the operator namespace (which exists, unlike perhaps the
//! target's namespace). In direct mode there is no upstream Service, and
//! Bindery may not write Events in the URLs' namespaces: the log says it.
use std::collections::HashMap;

use futures::StreamExt;

use super::context::Context;
use super::error::ReconcileError;
use super::events::reference;
use super::guard::Held;
use super::observed::Observed;
use super::verdict::Verdict;
use crate::catalog::bound::entry_id;
use crate::pipeline::RejectKind;

/// Write the statuses that changed and publish the Events that are news.
pub async fn statuses(
    ctx: &Context,
    world: &Observed,
    verdicts: &HashMap<String, Verdict>,
    errors: &mut Vec<ReconcileError>,
) {
    let objects = world.bound.iter().filter_map(|o| {
        let id = entry_id(o);
        let v = verdicts.get(&id)?;
        // Another installation's objects are not ours to describe.
        let other = matches!(
            v,
            Verdict::Rejected {
                kind: RejectKind::OtherAccount,
                ..
            }
        );
        (!other).then_some((o, id, v))
    });
    let results: Vec<Result<bool, ReconcileError>> =
        futures::stream::iter(objects.map(|(o, id, v)| async move {
            let status = super::status::desired(v, o.metadata.generation, o.status.as_ref());
            let regarding = reference(
                "bindery.dev/v1alpha1",
                "BoundEndpoint",
                o.metadata.namespace.as_deref().unwrap_or_default(),
                o.metadata.name.as_deref().unwrap_or_default(),
                o.metadata.uid.clone(),
            );
            event(ctx, &id, v, &regarding).await;
            super::status::write(ctx, o, status).await
        }))
        .buffer_unordered(ctx.concurrency.max(1))
        .collect()
        .await;
    errors.extend(results.into_iter().filter_map(Result::err));
    // Entries with no object to hold a status (the catalog file's).
    let objects: std::collections::HashSet<String> =
        world.bound.iter().map(|o| entry_id(o)).collect();
    for e in world.entries.iter().filter(|e| !objects.contains(&e.id)) {
        match verdicts.get(&e.id) {
            Some(
                v @ Verdict::Blocked {
                    upstream: Some(upstream),
                    ..
                },
            ) => {
                let (ns, name) = upstream.split_once('/').unwrap_or_default();
                let regarding = reference("v1", "Service", ns, name, None);
                event(ctx, &e.id, v, &regarding).await;
            }
            // No object to regard: the log says it, once per change; a
            // rejection is logged by the loop of passes.
            Some(v @ (Verdict::Blocked { .. } | Verdict::Direct { .. })) => {
                for (subject, notice) in notices(&e.id, v) {
                    match notice {
                        Some((reason, note)) => {
                            if ctx.events.news(&subject, reason, &note) {
                                tracing::warn!(entry = %subject, reason, %note, "projected but needs attention");
                            }
                        }
                        None => ctx.events.forget(&subject),
                    }
                }
            }
            _ => ctx.events.forget(&e.id),
        }
    }
}

/// A Warning for a problem to fix; nothing for a choice of the policy. A
/// direct projection may have two at once, each its own subject: what its
/// slices lack (no ready endpoint, upstreams left out) and the settings it
/// asks for that direct mode does not do.
async fn event(
    ctx: &Context,
    id: &str,
    v: &Verdict,
    regarding: &k8s_openapi::api::core::v1::ObjectReference,
) {
    for (subject, notice) in notices(id, v) {
        match notice {
            Some((reason, note)) => {
                let news = ctx
                    .events
                    .warn(&subject, regarding, reason, format!("{id}: {note}"))
                    .await;
                // Rejections are logged by the loop of passes, in every mode;
                // the rest only here, once per change.
                if news && !matches!(v, Verdict::Rejected { .. }) {
                    tracing::warn!(entry = %subject, reason, %note, "projected but needs attention");
                }
            }
            None => ctx.events.forget(&subject),
        }
    }
}

/// A reason and a note, or nothing to say (any more).
type Notice = Option<(&'static str, String)>;

/// What to say about entry `id`, by subject: its problem, and in direct
/// mode the settings it asks for that do not act.
fn notices(id: &str, v: &Verdict) -> [(String, Notice); 2] {
    let (main, ignored) = match v {
        Verdict::Blocked { message, .. } => (Some((v.reason(), message.clone())), None),
        Verdict::Rejected { kind, message } if kind.is_error() => {
            (Some((v.reason(), message.clone())), None)
        }
        Verdict::Direct {
            target,
            listing,
            ignored,
        } => {
            let main = if listing.ready == 0 {
                Some((v.reason(), super::status::direct_message(target, listing)))
            } else if !listing.problems.is_empty() {
                let m = format!(
                    "Service {target} lists {} of its upstreams' addresses; left out: {}",
                    listing.listed,
                    listing.problems.join("; ")
                );
                Some(("UpstreamsLeftOut", m))
            } else {
                None
            };
            let ignored = (!ignored.is_empty()).then(|| ("SettingsIgnored", ignored.join("; ")));
            (main, ignored)
        }
        _ => (None, None),
    };
    [(id.to_string(), main), (format!("{id}#ignored"), ignored)]
}

/// Say that deletions are held (`Some`), or that none are any more: a
/// Warning Event regarding the account's Lease when a hold begins or
/// changes, the `bindery.dev/deletions-held` annotation on that Lease (with
/// the token that confirms), the `bindery_reconcile_deletions_held` gauge,
/// and a log line.
pub async fn deletions(ctx: &Context, held: Option<&Held>) {
    const SUBJECT: &str = "held deletions";
    let Some(held) = held else {
        if ctx.metrics.deletions_held.get() > 0 {
            tracing::info!("no deletions held any more");
        }
        ctx.metrics.deletions_held.set(0);
        ctx.leader.set_held(None);
        ctx.events.forget(SUBJECT);
        return;
    };
    ctx.metrics.deletions_held.set(held.services as i64);
    let since = k8s_openapi::jiff::Timestamp::try_from(held.since)
        .map(|t| t.to_string())
        .unwrap_or_default();
    ctx.leader.set_held(Some(format!(
        "token={} projections={} of={} services={} since={since}: {}",
        held.token, held.projections, held.of, held.services, held.reason
    )));
    let lease = ctx.leader.lease();
    let note = held.describe(&ctx.guard.settings, &lease);
    let (ns, name) = lease.split_once('/').unwrap_or_default();
    let regarding = reference("coordination.k8s.io/v1", "Lease", ns, name, None);
    ctx.events
        .warn(SUBJECT, &regarding, "DeletionsHeld", note)
        .await;
}
