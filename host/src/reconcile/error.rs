//! What can go wrong talking to the apiserver, each naming the object, what
//! was attempted and what to check. One object's error never stops the
//! others: the pass records it and the next trigger or resync retries.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error(
        "server-side apply of {kind} {object} failed: {source}; check that the operator may get and patch {resource} there"
    )]
    Apply {
        kind: &'static str,
        object: String,
        resource: &'static str,
        source: kube::Error,
    },
    #[error(
        "reading {kind} {object} before applying failed: {source}; check that the operator may get {resource} there"
    )]
    Read {
        kind: &'static str,
        object: String,
        resource: &'static str,
        source: kube::Error,
    },
    #[error(
        "deleting orphaned {kind} {object} failed: {source}; it is retried on the next pass (check that the operator may delete {resource})"
    )]
    Delete {
        kind: &'static str,
        object: String,
        resource: &'static str,
        source: kube::Error,
    },
    #[error(
        "writing the status of BoundEndpoint {object} failed: {source}; check that the operator may patch boundendpoints/status"
    )]
    Status { object: String, source: kube::Error },
    #[error("Lease {lease}: {source}; this replica does not reconcile until it holds the lease")]
    Lease { lease: String, source: kube::Error },
    #[error(
        "writing this member's entry in the status of hub BoundEndpoint {object} failed: {source}; check that the member's hub credentials may patch boundendpoints/status there"
    )]
    HubStatus { object: String, source: kube::Error },
    #[error(
        "the hub's statuses in namespace {namespace} took longer than {after:?}; the rest are written on the next pass"
    )]
    HubSlow {
        namespace: String,
        after: std::time::Duration,
    },
}

/// A 404, which a delete of what is already gone may treat as done.
pub fn is_not_found(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 404)
}

/// A 409: the object changed (or appeared) under the request.
pub fn is_conflict(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 409)
}
