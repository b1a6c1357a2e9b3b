//! Kubernetes Events (events.k8s.io) for what failed. An Event is published
//! when an entry's problem appears or changes, not on every pass, so a
//! resync that changes nothing writes nothing.
use std::collections::HashMap;
use std::sync::Mutex;

use k8s_openapi::api::core::v1::ObjectReference;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};

/// Publishes Events, remembering what it last said about each subject.
pub struct Events {
    recorder: Recorder,
    said: Mutex<HashMap<String, (String, String)>>,
}

impl Events {
    pub fn new(client: kube::Client, instance: &str) -> Events {
        let reporter = Reporter {
            controller: "bindery".to_string(),
            instance: Some(instance.to_string()),
        };
        Events {
            recorder: Recorder::new(client, reporter),
            said: Mutex::new(HashMap::new()),
        }
    }

    /// Whether this is news about `subject` (not what was said last); logs
    /// it when it is.
    pub fn news(&self, subject: &str, reason: &str, note: &str) -> bool {
        let said = (reason.to_string(), note.to_string());
        let mut map = self.said.lock().unwrap_or_else(|p| p.into_inner());
        if map.get(subject) == Some(&said) {
            return false;
        }
        tracing::warn!(%subject, reason, note, "entry needs attention");
        map.insert(subject.to_string(), said);
        true
    }

    /// A Warning about `subject` (an entry id or a file), regarding
    /// `regarding`, unless the same reason and message were said last.
    pub async fn warn(
        &self,
        subject: &str,
        regarding: &ObjectReference,
        reason: &str,
        note: String,
    ) {
        if !self.news(subject, reason, &note) {
            return;
        }
        let event = Event {
            type_: EventType::Warning,
            reason: reason.to_string(),
            note: Some(truncate(note, 1000)),
            action: "Reconcile".to_string(),
            secondary: None,
        };
        if let Err(e) = self.recorder.publish(&event, regarding).await {
            tracing::warn!(%subject, reason, error = %e, "could not publish an Event");
            self.forget(subject);
        }
    }

    /// The subject is fine again: a later problem is news.
    pub fn forget(&self, subject: &str) {
        self.said
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(subject);
    }
}

fn truncate(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut cut = max;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
    }
    s
}

/// A reference to a namespaced object for an Event.
pub fn reference(
    api_version: &str,
    kind: &str,
    namespace: &str,
    name: &str,
    uid: Option<String>,
) -> ObjectReference {
    ObjectReference {
        api_version: Some(api_version.to_string()),
        kind: Some(kind.to_string()),
        namespace: Some(namespace.to_string()),
        name: Some(name.to_string()),
        uid,
        ..Default::default()
    }
}
