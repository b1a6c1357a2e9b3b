//! The forwarder's Prometheus families, labelled by endpoint URL.
use std::sync::Arc;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EndpointLabels {
    pub url: String,
}

#[derive(Clone, Default)]
pub struct ForwardMetrics {
    pub accepted: Family<EndpointLabels, Counter>,
    pub active: Family<EndpointLabels, Gauge>,
    pub over_limit: Family<EndpointLabels, Counter>,
    pub rejected: Family<EndpointLabels, Counter>,
    pub unreachable: Family<EndpointLabels, Counter>,
    pub connect_failures: Family<EndpointLabels, Counter>,
    pub ejections: Family<EndpointLabels, Counter>,
    pub idle_closed: Family<EndpointLabels, Counter>,
    pub bytes_in: Family<EndpointLabels, Counter>,
    pub bytes_out: Family<EndpointLabels, Counter>,
    pub requests: Family<EndpointLabels, Counter>,
    pub retries: Family<EndpointLabels, Counter>,
}

/// Resolved series of one endpoint, shared by its accept loops and
/// connections. Cloning it counts one reference, not one per series: the
/// forwarder threads clone it for every connection, and each count is a
/// cache line the threads would pass back and forth.
#[derive(Clone, Debug, Default)]
pub struct EndpointCounters(Arc<Counters>);

impl std::ops::Deref for EndpointCounters {
    type Target = Counters;

    fn deref(&self) -> &Counters {
        &self.0
    }
}

#[derive(Debug, Default)]
pub struct Counters {
    pub accepted: Counter,
    pub active: Gauge,
    pub over_limit: Counter,
    pub rejected: Counter,
    pub unreachable: Counter,
    pub connect_failures: Counter,
    pub ejections: Counter,
    pub idle_closed: Counter,
    pub bytes_in: Counter,
    pub bytes_out: Counter,
    pub requests: Counter,
    pub retries: Counter,
}

impl ForwardMetrics {
    pub fn endpoint(&self, url: &str) -> EndpointCounters {
        let l = EndpointLabels {
            url: url.to_string(),
        };
        EndpointCounters(Arc::new(Counters {
            accepted: self.accepted.get_or_create(&l).clone(),
            active: self.active.get_or_create(&l).clone(),
            over_limit: self.over_limit.get_or_create(&l).clone(),
            rejected: self.rejected.get_or_create(&l).clone(),
            unreachable: self.unreachable.get_or_create(&l).clone(),
            connect_failures: self.connect_failures.get_or_create(&l).clone(),
            ejections: self.ejections.get_or_create(&l).clone(),
            idle_closed: self.idle_closed.get_or_create(&l).clone(),
            bytes_in: self.bytes_in.get_or_create(&l).clone(),
            bytes_out: self.bytes_out.get_or_create(&l).clone(),
            requests: self.requests.get_or_create(&l).clone(),
            retries: self.retries.get_or_create(&l).clone(),
        }))
    }

    pub fn register(&self, registry: &mut Registry) {
        let r = registry.sub_registry_with_prefix("bindery_forward");
        r.register(
            "connections_accepted",
            "Client connections accepted",
            self.accepted.clone(),
        );
        r.register(
            "connections_active",
            "Client connections in flight",
            self.active.clone(),
        );
        r.register(
            "connections_over_limit",
            "Connections closed on accept: maxConnections reached",
            self.over_limit.clone(),
        );
        r.register(
            "connections_rejected",
            "Connections or requests the router rejected",
            self.rejected.clone(),
        );
        r.register(
            "unreachable",
            "Connections or requests for which no upstream could be reached",
            self.unreachable.clone(),
        );
        r.register(
            "connect_failures",
            "Failed connection attempts to upstreams",
            self.connect_failures.clone(),
        );
        r.register(
            "upstream_ejections",
            "Upstreams taken out of rotation after consecutive failures",
            self.ejections.clone(),
        );
        r.register(
            "idle_closed",
            "Connections closed by the idle timeout",
            self.idle_closed.clone(),
        );
        r.register(
            "bytes_client_to_upstream",
            "Bytes from clients to upstreams",
            self.bytes_in.clone(),
        );
        r.register(
            "bytes_upstream_to_client",
            "Bytes from upstreams to clients",
            self.bytes_out.clone(),
        );
        r.register(
            "http_requests",
            "HTTP requests forwarded",
            self.requests.clone(),
        );
        r.register(
            "http_retries",
            "HTTP requests retried on another upstream",
            self.retries.clone(),
        );
    }
}
