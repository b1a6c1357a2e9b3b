//! One reconciler at a time: a `coordination.k8s.io` Lease
//! `bindery-<account>` in the operator namespace. The holder renews it every
//! third of its duration; another replica takes it over once it has seen no
//! renewal for a whole duration (judged by its own clock, so clocks need not
//! agree). A replica counts itself leader only until its last successful
//! renewal's start plus the duration, so it stops writing before anyone
//! else may start.
//!
//! The same machinery holds a member's cluster name on a hub (Lease
//! `bindery-member-<cluster>` in the hub namespace, held by the member
//! cluster's identity and renewed by its leader only), so that two members
//! given one name do not both write that name's status entries.
//!
//! The account's Lease also carries the deletion guard's two annotations:
//! [`HELD_ANNOTATION`], written by the holder on renewal, says which
//! deletions wait; [`CONFIRM_ANNOTATION`], set by a person, releases them.
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::api::{Api, PostParams};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::error::{ReconcileError, is_conflict};

/// Written by the holder: the deletions the guard holds, with the token
/// that confirms them.
pub const HELD_ANNOTATION: &str = "bindery.dev/deletions-held";
/// Set by a person to the token of [`HELD_ANNOTATION`]: those deletions
/// may go ahead.
pub const CONFIRM_ANNOTATION: &str = "bindery.dev/confirm-deletions";

/// How often a gated Lease looks again while it is not held.
const GATED_RETRY: Duration = Duration::from_secs(1);

pub struct Leadership {
    name: String,
    namespace: String,
    identity: String,
    duration: Duration,
    until: Mutex<Option<Instant>>,
    /// Notified when this replica becomes leader.
    gained: Arc<Notify>,
    /// Another holder seen on the last attempt, while it is valid.
    other: Mutex<Option<String>>,
    /// [`HELD_ANNOTATION`]'s value to write on renewal; none: removed.
    held: Mutex<Option<String>>,
    /// [`CONFIRM_ANNOTATION`]'s value on the last read.
    confirmation: Mutex<Option<String>>,
}

impl Leadership {
    /// The account's Lease, `bindery-<account>`.
    pub fn new(
        account: &str,
        namespace: &str,
        identity: &str,
        duration: Duration,
        gained: Arc<Notify>,
    ) -> Arc<Leadership> {
        Leadership::named(
            &format!("bindery-{account}"),
            namespace,
            identity,
            duration,
            gained,
        )
    }

    /// The Lease `name`.
    pub fn named(
        name: &str,
        namespace: &str,
        identity: &str,
        duration: Duration,
        gained: Arc<Notify>,
    ) -> Arc<Leadership> {
        Arc::new(Leadership {
            name: name.to_string(),
            namespace: namespace.to_string(),
            identity: identity.to_string(),
            duration,
            until: Mutex::new(None),
            gained,
            other: Mutex::new(None),
            held: Mutex::new(None),
            confirmation: Mutex::new(None),
        })
    }

    pub fn identity(&self) -> &str {
        &self.identity
    }

    /// `namespace/name` of the Lease.
    pub fn lease(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The other identity that held the Lease at the last attempt, when it
    /// was not this one's to take.
    pub fn other_holder(&self) -> Option<String> {
        lock(&self.other).clone()
    }

    /// What to say in [`HELD_ANNOTATION`] from the next renewal on.
    pub fn set_held(&self, note: Option<String>) {
        *lock(&self.held) = note;
    }

    /// [`CONFIRM_ANNOTATION`] as last read.
    pub fn confirmation(&self) -> Option<String> {
        lock(&self.confirmation).clone()
    }

    pub fn is_leader(&self) -> bool {
        let until = self.until.lock().unwrap_or_else(|p| p.into_inner());
        until.is_some_and(|u| Instant::now() < u)
    }

    fn set(&self, until: Option<Instant>) {
        let was = self.is_leader();
        *self.until.lock().unwrap_or_else(|p| p.into_inner()) = until;
        let is = self.is_leader();
        if is != was {
            tracing::info!(lease = %self.name, identity = %self.identity, leader = is, "leadership changed");
        }
        if is && !was {
            self.gained.notify_one();
        }
    }

    /// Acquire and renew until `stop`; then release the Lease if held.
    pub async fn run(self: Arc<Self>, client: kube::Client, stop: CancellationToken) {
        self.run_while(client, None, stop).await;
    }

    /// As [`run`](Self::run), trying only while `gate` (another
    /// Leadership) is held: a member's name on the hub is held by the
    /// member's leader.
    pub async fn run_while(
        self: Arc<Self>,
        client: kube::Client,
        gate: Option<Arc<Leadership>>,
        stop: CancellationToken,
    ) {
        let api: Api<Lease> = Api::namespaced(client, &self.namespace);
        let mut seen: Option<(String, Instant)> = None;
        loop {
            let started = Instant::now();
            if gate.as_ref().is_some_and(|g| !g.is_leader()) {
                self.set(None);
            } else {
                match self.try_hold(&api, &mut seen).await {
                    Ok(true) => self.set(Some(started + self.duration)),
                    Ok(false) => self.set(None),
                    Err(e) => tracing::warn!(error = %e, "lease not renewed"),
                }
            }
            // Without the gate, look again soon (asking nothing of the
            // apiserver): this replica may gain it any moment.
            let pause = if gate.as_ref().is_some_and(|g| !g.is_leader()) {
                GATED_RETRY.min(self.duration / 3)
            } else {
                self.duration / 3
            };
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = tokio::time::sleep(pause) => {}
            }
        }
        if self.is_leader() {
            self.set(None);
            if let Err(e) = self.release(&api).await {
                tracing::warn!(error = %e, "lease not released; another replica takes over when it expires");
            }
        }
    }

    /// One attempt: true when this replica holds the Lease afterwards.
    async fn try_hold(
        &self,
        api: &Api<Lease>,
        seen: &mut Option<(String, Instant)>,
    ) -> Result<bool, ReconcileError> {
        let err = |source| ReconcileError::Lease {
            lease: format!("{}/{}", self.namespace, self.name),
            source,
        };
        let now = MicroTime(k8s_openapi::jiff::Timestamp::now());
        let Some(mut lease) = api.get_opt(&self.name).await.map_err(err)? else {
            *lock(&self.other) = None;
            let held = lock(&self.held).clone();
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.name.clone()),
                    annotations: held.map(|h| BTreeMap::from([(HELD_ANNOTATION.to_string(), h)])),
                    ..ObjectMeta::default()
                },
                spec: Some(LeaseSpec {
                    holder_identity: Some(self.identity.clone()),
                    lease_duration_seconds: Some(self.duration.as_secs().max(1) as i32),
                    acquire_time: Some(now.clone()),
                    renew_time: Some(now),
                    lease_transitions: Some(0),
                    ..LeaseSpec::default()
                }),
            };
            return match api.create(&PostParams::default(), &lease).await {
                Ok(_) => Ok(true),
                Err(e) if is_conflict(&e) => Ok(false),
                Err(e) => Err(err(e)),
            };
        };
        let annotations = lease.metadata.annotations.get_or_insert_with(BTreeMap::new);
        *lock(&self.confirmation) = annotations.get(CONFIRM_ANNOTATION).cloned();
        match lock(&self.held).clone() {
            Some(h) => annotations.insert(HELD_ANNOTATION.to_string(), h),
            None => annotations.remove(HELD_ANNOTATION),
        };
        let rv = lease.metadata.resource_version.clone().unwrap_or_default();
        if seen.as_ref().is_none_or(|(r, _)| *r != rv) {
            *seen = Some((rv, Instant::now()));
        }
        let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
        let holder = spec.holder_identity.clone().unwrap_or_default();
        let ours = holder == self.identity;
        let expired = holder.is_empty()
            || seen
                .as_ref()
                .is_some_and(|(_, at)| at.elapsed() > self.duration);
        if !ours && !expired {
            *lock(&self.other) = Some(holder);
            return Ok(false);
        }
        *lock(&self.other) = None;
        if !ours {
            spec.holder_identity = Some(self.identity.clone());
            spec.acquire_time = Some(now.clone());
            spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
            tracing::info!(previous = %holder, "taking over the lease");
        }
        spec.renew_time = Some(now);
        spec.lease_duration_seconds = Some(self.duration.as_secs().max(1) as i32);
        match api
            .replace(&self.name, &PostParams::default(), &lease)
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if is_conflict(&e) => Ok(false),
            Err(e) => Err(err(e)),
        }
    }

    async fn release(&self, api: &Api<Lease>) -> Result<(), kube::Error> {
        self.set_held(None);
        if let Some(mut lease) = api.get_opt(&self.name).await? {
            let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
            if spec.holder_identity.as_deref() == Some(&self.identity) {
                spec.holder_identity = None;
                if let Some(a) = lease.metadata.annotations.as_mut() {
                    a.remove(HELD_ANNOTATION);
                }
                api.replace(&self.name, &PostParams::default(), &lease)
                    .await?;
            }
        }
        Ok(())
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
