//! Prometheus metrics (prometheus-client). Families are created once and
//! handed to the parts that count; hot paths hold resolved counters.
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

/// Labels of per-plugin series.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PluginLabels {
    pub plugin: String,
    pub world: String,
}

/// Counters of the plugin runtime.
#[derive(Clone, Default)]
pub struct PluginMetrics {
    pub calls: Family<PluginLabels, Counter>,
    pub traps: Family<PluginLabels, Counter>,
    pub instantiations: Family<PluginLabels, Counter>,
    pub fallbacks: Family<PluginLabels, Counter>,
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
            "fallbacks",
            "Router calls answered by the built-in round-robin because the plugin failed",
            self.fallbacks.clone(),
        );
    }
}

/// Resolved counters of one plugin.
#[derive(Clone, Debug, Default)]
pub struct PluginCounters {
    pub calls: Counter,
    pub traps: Counter,
    pub instantiations: Counter,
    pub fallbacks: Counter,
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
        }
    }
}
