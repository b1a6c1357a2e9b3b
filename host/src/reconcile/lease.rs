//! One reconciler at a time: a `coordination.k8s.io` Lease
//! `bindery-<account>` in the operator namespace. The holder renews it every
//! third of its duration; another replica takes it over once it has seen no
//! renewal for a whole duration (judged by its own clock, so clocks need not
//! agree). A replica counts itself leader only until its last successful
//! renewal's start plus the duration, so it stops writing before anyone
//! else may start.
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::api::{Api, PostParams};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::error::{ReconcileError, is_conflict};

pub struct Leadership {
    name: String,
    namespace: String,
    identity: String,
    duration: Duration,
    until: Mutex<Option<Instant>>,
    /// Notified when this replica becomes leader.
    gained: Arc<Notify>,
}

impl Leadership {
    pub fn new(
        account: &str,
        namespace: &str,
        identity: &str,
        duration: Duration,
        gained: Arc<Notify>,
    ) -> Arc<Leadership> {
        Arc::new(Leadership {
            name: format!("bindery-{account}"),
            namespace: namespace.to_string(),
            identity: identity.to_string(),
            duration,
            until: Mutex::new(None),
            gained,
        })
    }

    pub fn identity(&self) -> &str {
        &self.identity
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
        let api: Api<Lease> = Api::namespaced(client, &self.namespace);
        let mut seen: Option<(String, Instant)> = None;
        loop {
            let started = Instant::now();
            match self.try_hold(&api, &mut seen).await {
                Ok(true) => self.set(Some(started + self.duration)),
                Ok(false) => self.set(None),
                Err(e) => tracing::warn!(error = %e, "lease not renewed"),
            }
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = tokio::time::sleep(self.duration / 3) => {}
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
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.name.clone()),
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
            return Ok(false);
        }
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
        if let Some(mut lease) = api.get_opt(&self.name).await? {
            let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
            if spec.holder_identity.as_deref() == Some(&self.identity) {
                spec.holder_identity = None;
                api.replace(&self.name, &PostParams::default(), &lease)
                    .await?;
            }
        }
        Ok(())
    }
}
