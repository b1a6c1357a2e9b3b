//! The forwarder's Prometheus families, labelled by endpoint URL. Each
//! series is declared once, in [`endpoint_series!`]'s list: the families,
//! one endpoint's resolved counters and the registration all follow from it.
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

/// `field: Kind = "name", "help";` per series, registered under
/// `bindery_forward_<name>`.
macro_rules! endpoint_series {
    ($($field:ident: $kind:ident = $name:literal, $help:literal;)*) => {
        #[derive(Clone, Default)]
        pub struct ForwardMetrics {
            $(pub $field: Family<EndpointLabels, $kind>,)*
        }

        /// The series of one endpoint.
        #[derive(Debug, Default)]
        pub struct Counters {
            $(pub $field: $kind,)*
        }

        impl ForwardMetrics {
            pub fn endpoint(&self, url: &str) -> EndpointCounters {
                let l = EndpointLabels {
                    url: url.to_string(),
                };
                EndpointCounters(Arc::new(Counters {
                    $($field: self.$field.get_or_create(&l).clone(),)*
                }))
            }

            pub fn register(&self, registry: &mut Registry) {
                let r = registry.sub_registry_with_prefix("bindery_forward");
                $(r.register($name, $help, self.$field.clone());)*
            }
        }
    };
}

endpoint_series! {
    accepted: Counter = "connections_accepted", "Client connections accepted";
    active: Gauge = "connections_active", "Client connections in flight";
    over_limit: Counter = "connections_over_limit",
        "Connections closed on accept: maxConnections reached";
    rejected: Counter = "connections_rejected", "Connections or requests the router rejected";
    unreachable: Counter = "unreachable",
        "Connections or requests for which no upstream could be reached";
    connect_failures: Counter = "connect_failures", "Failed connection attempts to upstreams";
    ejections: Counter = "upstream_ejections",
        "Upstreams taken out of rotation after consecutive failures";
    idle_closed: Counter = "idle_closed", "Connections closed by the idle timeout";
    parked: Gauge = "http_connections_parked",
        "HTTP/1 client connections idle without buffers, waiting for their next request";
    bytes_in: Counter = "bytes_client_to_upstream", "Bytes from clients to upstreams";
    bytes_out: Counter = "bytes_upstream_to_client", "Bytes from upstreams to clients";
    requests: Counter = "http_requests", "HTTP requests forwarded";
    client_errors: Counter = "http_client_errors",
        "HTTP requests refused or abandoned for the client's fault (400, 405, 408, 431), never counted against an upstream";
    head_timeouts: Counter = "http_request_head_timeouts",
        "HTTP connections closed because a request head did not arrive within requestHeadTimeoutSeconds";
    retries: Counter = "http_retries", "HTTP requests retried on another upstream";
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
