//! The forwarder in-process: a [`Harness`] serves one catalog endpoint
//! under a policy on its own tokio runtime, while the tests drive it with
//! blocking std sockets from their own threads, and read its counters and
//! upstream state directly.
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use bindery::forward::metrics::EndpointCounters;
use bindery::forward::upstream::Upstream;
use bindery::forward::{ForwardMetrics, Forwarder};
use bindery::live::Snapshot;
use bindery::live::reload;
use bindery::plugin::Runtime;
use bindery::process::standalone::allocation;

use super::{free_port, layout, pin_ports};
use crate::support::{PATIENCE, wait_for};

fn plugins() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(crate::support::runtime)
}

/// `catalog.yaml` and the policy of `dir` through the pipeline.
fn once(
    dir: &std::path::Path,
    previous: &bindery::pipeline::Allocation,
    generation: u64,
) -> Snapshot {
    reload::once(
        plugins(),
        &dir.join("catalog.yaml"),
        Some(dir),
        "bindery-system",
        previous,
        generation,
    )
    .unwrap_or_else(|e| panic!("policy or catalog refused: {e:?}"))
}

/// One endpoint served by an in-process [`Forwarder`] on 127.0.0.1.
pub struct Harness {
    pub forwarder: Arc<Forwarder>,
    pub metrics: ForwardMetrics,
    pub snapshot: Snapshot,
    pub url: String,
    /// Where the endpoint listens.
    pub addr: SocketAddr,
    pub rt: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
}

impl Harness {
    /// Serve `catalog` (one endpoint) under `policy` (YAML without `ports`),
    /// with `files` (plugins) beside the policy. The endpoint gets a free
    /// port; a port taken meanwhile by someone else is retried.
    pub fn start(policy: &str, catalog: &str, files: &[(&str, &[u8])]) -> Harness {
        let dir = layout(policy, catalog, files);
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("tokio runtime");
        let metrics = ForwardMetrics::default();
        let forwarder = {
            let _in = rt.enter();
            let f =
                Forwarder::new([127, 0, 0, 1].into(), metrics.clone()).expect("forwarder threads");
            f.start_maintenance();
            f
        };
        for generation in 1..=10 {
            let text = pin_ports(policy, free_port(), 1);
            std::fs::write(dir.path().join("policy.yaml"), text).expect("policy");
            let snapshot = once(dir.path(), &Default::default(), generation);
            assert_eq!(
                snapshot.outcome.projections.len(),
                1,
                "one endpoint projected: {:?}",
                snapshot.outcome.rejections
            );
            let settings = Arc::new(snapshot.policy.loaded.policy.forwarding.clone());
            let served = {
                let _in = rt.enter();
                forwarder.apply(
                    &snapshot.outcome.projections,
                    &snapshot.policy.plugins.router,
                    &settings,
                    generation,
                )
            };
            match served.into_iter().next() {
                Some(Ok(s)) => {
                    return Harness {
                        forwarder,
                        metrics,
                        snapshot,
                        url: s.url,
                        addr: s.addr,
                        rt,
                        _dir: dir,
                    };
                }
                Some(Err(e)) => eprintln!("retrying on another port: {e}"),
                None => panic!("nothing served"),
            }
        }
        panic!("no free port for the endpoint after 10 tries");
    }

    /// Replace the policy (YAML without `ports`) as a hot reload does: the
    /// endpoint keeps its port and listener.
    pub fn reload(&mut self, policy: &str) {
        let text = pin_ports(policy, self.addr.port(), 1);
        std::fs::write(self._dir.path().join("policy.yaml"), text).expect("policy");
        let previous = allocation(Some(&self.snapshot));
        let generation = self.snapshot.generation() + 1;
        let snapshot = once(self._dir.path(), &previous, generation);
        let settings = Arc::new(snapshot.policy.loaded.policy.forwarding.clone());
        let served = {
            let _in = self.rt.enter();
            self.forwarder.apply(
                &snapshot.outcome.projections,
                &snapshot.policy.plugins.router,
                &settings,
                generation,
            )
        };
        match served.as_slice() {
            [Ok(s)] if s.addr == self.addr => {}
            other => panic!("the reload moved or lost the endpoint: {other:?}"),
        }
        self.snapshot = snapshot;
    }

    /// The endpoint's Prometheus series.
    pub fn counters(&self) -> EndpointCounters {
        self.metrics.endpoint(&self.url)
    }

    /// The endpoint's upstreams in catalog order, with their live state.
    pub fn upstreams(&self) -> Vec<Arc<Upstream>> {
        self.forwarder
            .probe_targets()
            .into_iter()
            .find(|t| t.url == self.url)
            .map(|t| t.upstreams)
            .unwrap_or_default()
    }

    /// Wait until `cond` holds on the upstreams' live state.
    pub fn await_upstreams(&self, what: &str, cond: impl Fn(&[Arc<Upstream>]) -> bool) {
        wait_for(PATIENCE, what, || cond(&self.upstreams()));
    }

    /// Times the router plugin failed and round-robin answered.
    pub fn router_fallbacks(&self) -> u64 {
        self.snapshot
            .policy
            .plugins
            .router
            .counters()
            .fallbacks
            .get()
    }
}
