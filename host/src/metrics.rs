//! Prometheus metrics (prometheus-client). Families are created once and
//! handed to the parts that count; hot paths hold resolved counters.
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::{Family, MetricConstructor};
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Labels of per-plugin series.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PluginLabels {
    pub plugin: String,
    pub world: String,
}

/// Counters of the plugin runtime.
#[derive(Clone)]
pub struct PluginMetrics {
    pub calls: Family<PluginLabels, Counter>,
    pub traps: Family<PluginLabels, Counter>,
    pub instantiations: Family<PluginLabels, Counter>,
    pub fallbacks: Family<PluginLabels, Counter>,
    pub latency: Family<PluginLabels, Histogram, LatencyBuckets>,
}

impl Default for PluginMetrics {
    fn default() -> Self {
        PluginMetrics {
            calls: Family::default(),
            traps: Family::default(),
            instantiations: Family::default(),
            fallbacks: Family::default(),
            latency: Family::new_with_constructor(LatencyBuckets),
        }
    }
}

/// Call latency from 100 ns to about 26 ms, by factors of 4.
#[derive(Clone, Default)]
pub struct LatencyBuckets;

impl MetricConstructor<Histogram> for LatencyBuckets {
    fn new_metric(&self) -> Histogram {
        Histogram::new(exponential_buckets(1e-7, 4.0, 10))
    }
}

impl PluginMetrics {
    pub fn register(&self, registry: &mut Registry) {
        let r = registry.sub_registry_with_prefix("bindery_plugin");
        r.register("calls", "Calls into plugin instances", self.calls.clone());
        r.register(
            "traps",
            "Calls that trapped or exceeded their deadline; the instance was discarded",
            self.traps.clone(),
        );
        r.register(
            "instantiations",
            "Plugin instances created",
            self.instantiations.clone(),
        );
        r.register(
            "call_seconds",
            "Duration of one call in every 16 (sampled: timing every call would cost more than some calls)",
            self.latency.clone(),
        );
        r.register(
            "fallbacks",
            "Router calls answered by the built-in round-robin because the plugin failed",
            self.fallbacks.clone(),
        );
    }
}

/// Resolved counters of one plugin.
#[derive(Clone, Debug)]
pub struct PluginCounters {
    pub calls: Counter,
    pub traps: Counter,
    pub instantiations: Counter,
    pub fallbacks: Counter,
    pub latency: Histogram,
}

impl Default for PluginCounters {
    fn default() -> Self {
        PluginCounters {
            calls: Counter::default(),
            traps: Counter::default(),
            instantiations: Counter::default(),
            fallbacks: Counter::default(),
            latency: LatencyBuckets.new_metric(),
        }
    }
}

impl PluginMetrics {
    pub fn counters(&self, plugin: &str, world: &str) -> PluginCounters {
        let l = PluginLabels {
            plugin: plugin.to_string(),
            world: world.to_string(),
        };
        PluginCounters {
            calls: self.calls.get_or_create(&l).clone(),
            traps: self.traps.get_or_create(&l).clone(),
            instantiations: self.instantiations.get_or_create(&l).clone(),
            fallbacks: self.fallbacks.get_or_create(&l).clone(),
            latency: self.latency.get_or_create(&l).clone(),
        }
    }
}

/// The families every serving process registers: plugins, forwarder and
/// reloads, in one registry.
pub struct ProcessMetrics {
    pub registry: Registry,
    pub plugin: PluginMetrics,
    pub forward: crate::forward::ForwardMetrics,
    pub reload: crate::live::ReloadMetrics,
}

impl Default for ProcessMetrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let plugin = PluginMetrics::default();
        plugin.register(&mut registry);
        let forward = crate::forward::ForwardMetrics::default();
        forward.register(&mut registry);
        let reload = crate::live::ReloadMetrics::default();
        reload.register(&mut registry);
        ProcessMetrics {
            registry,
            plugin,
            forward,
            reload,
        }
    }
}
