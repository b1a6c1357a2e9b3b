//! The forwarder: one listener per projected endpoint, updated in place when
//! projections change. A changed endpoint gets its new route for new
//! connections while connections in flight finish on the old one; a removed
//! endpoint stops accepting and its connections drain.
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::conns::Conns;
use super::endpoint::EndpointRoute;
use super::metrics::ForwardMetrics;
use super::serve::limit::Limit;
use super::serve::listener::{AcceptLoop, bind};
use super::serve::shards::Shards;
use super::serve::spread::{self, Spread};
use super::upstream::direct::Tracker;
use super::upstream::health::{self, ProbeTarget, check_for};
use super::upstream::registry::Registry;
use crate::model::Scheme;
use crate::pipeline::Projection;
use crate::plugin::{RouteTarget, RouterPlugin, UpstreamView, convert};
use crate::policy::Forwarding;

#[derive(Debug, thiserror::Error)]
#[error("{url}: cannot listen on {addr}: {source}; free the port or change ports in the policy")]
pub struct ListenError {
    pub url: String,
    pub addr: SocketAddr,
    pub source: std::io::Error,
}

/// Where an endpoint is served.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Serving {
    pub url: String,
    pub addr: SocketAddr,
}

struct Running {
    url: String,
    scheme: Scheme,
    addr: SocketAddr,
    routes: watch::Sender<Arc<EndpointRoute>>,
    /// `maxConnections`, changed in place by a reload.
    limit: Arc<Limit>,
    stop: CancellationToken,
}

pub struct Forwarder {
    listen: IpAddr,
    running: Mutex<HashMap<u16, Running>>,
    /// Live state by (url, address), kept across generations and modes.
    upstreams: Arc<Registry>,
    /// Direct projections' upstreams, probed by the same task.
    direct: Tracker,
    metrics: ForwardMetrics,
    tracker: TaskTracker,
    stop: CancellationToken,
    shards: Shards,
}

impl Forwarder {
    /// A forwarder with its worker threads (see [`Shards`]).
    pub fn new(listen: IpAddr, metrics: ForwardMetrics) -> std::io::Result<Arc<Forwarder>> {
        let shards = Shards::start()?;
        // Each thread closes its own idle upstream connections that went
        // stale (the pools are per thread).
        shards.spawn_each((0..shards.len()).map(|_| super::http::sweep_forever()));
        let upstreams = Arc::new(Registry::default());
        Ok(Arc::new(Forwarder {
            listen,
            running: Mutex::new(HashMap::new()),
            direct: Tracker::new(upstreams.clone()),
            upstreams,
            metrics,
            tracker: TaskTracker::new(),
            stop: CancellationToken::new(),
            shards,
        }))
    }

    /// How many worker threads serve each endpoint. Each keeps its own router
    /// instance; a rotation across them reads the endpoint's turn.
    pub fn threads(&self) -> usize {
        self.shards.len()
    }

    /// Serve exactly the proxy projections of `projections` (a direct one
    /// has no port: kube-proxy takes its connections); must run inside the
    /// tokio runtime. Returns where each endpoint is served, or why it is
    /// not.
    pub fn apply(
        &self,
        projections: &[Projection],
        router: &Arc<RouterPlugin>,
        settings: &Arc<Forwarding>,
        generation: u64,
    ) -> Vec<Result<Serving, ListenError>> {
        let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        let proxied: Vec<(&Projection, u16)> = projections
            .iter()
            .filter_map(|p| p.port().map(|port| (p, port)))
            .collect();
        let wanted: HashMap<u16, &Projection> =
            proxied.iter().map(|&(p, port)| (port, p)).collect();
        running.retain(|port, r| {
            let keep = wanted.get(port).is_some_and(|p| p.key.url.to_string() == r.url && p.key.url.scheme == r.scheme);
            if !keep {
                tracing::info!(url = %r.url, addr = %r.addr, "endpoint removed; draining its connections");
                r.stop.cancel();
            }
            keep
        });
        let mut out = Vec::with_capacity(proxied.len());
        for (p, port) in proxied {
            let route = Arc::new(self.route(p, router, settings, generation));
            if let Some(r) = running.get(&port) {
                r.routes.send_replace(route);
                r.limit.set_max(settings.max_connections);
                out.push(Ok(Serving {
                    url: r.url.clone(),
                    addr: r.addr,
                }));
                continue;
            }
            let addr = SocketAddr::new(self.listen, port);
            let url = p.key.url.to_string();
            match bind(addr, self.shards.len()) {
                Ok(listeners) => {
                    let addr = listeners
                        .first()
                        .and_then(|l| l.local_addr().ok())
                        .unwrap_or(addr);
                    let (tx, rx) = watch::channel(route);
                    let stop = self.stop.child_token();
                    let limit = Arc::new(Limit::new(settings.max_connections));
                    let counters = self.metrics.endpoint(&url);
                    let (spread, inboxes) =
                        Spread::new(listeners.len(), spread::ahead(p.key.url.scheme));
                    self.shards
                        .spawn_each(listeners.into_iter().zip(inboxes).enumerate().map(
                            |(shard, (listener, inbox))| {
                                let accept = AcceptLoop {
                                    listener,
                                    inbox,
                                    limit: limit.clone(),
                                    counters: counters.clone(),
                                    stop: stop.clone(),
                                    shard,
                                    spread: spread.clone(),
                                    conns: Conns {
                                        routes: rx.clone(),
                                        scheme: p.key.url.scheme,
                                        counters: counters.clone(),
                                        stop: stop.clone(),
                                        tracker: self.tracker.clone(),
                                    },
                                };
                                self.tracker.track_future(accept.run())
                            },
                        ));
                    tracing::info!(%url, %addr, generation, "serving endpoint");
                    running.insert(
                        port,
                        Running {
                            url: url.clone(),
                            scheme: p.key.url.scheme,
                            addr,
                            routes: tx,
                            limit,
                            stop,
                        },
                    );
                    out.push(Ok(Serving { url, addr }));
                }
                Err(source) => out.push(Err(ListenError { url, addr, source })),
            }
        }
        out
    }

    fn route(
        &self,
        p: &Projection,
        router: &Arc<RouterPlugin>,
        settings: &Arc<Forwarding>,
        generation: u64,
    ) -> EndpointRoute {
        let url = p.key.url.to_string();
        let upstreams = p
            .upstreams
            .iter()
            .map(|m| self.upstreams.get(&url, &m.upstream.address).0)
            .collect();
        let target = RouteTarget::new(
            url.clone(),
            convert::scheme(p.key.url.scheme),
            p.upstreams
                .iter()
                .map(|m| {
                    UpstreamView::new(
                        m.upstream.address.clone(),
                        m.upstream.weight,
                        m.labels.clone(),
                    )
                })
                .collect(),
        );
        let health = check_for(&settings.health_check, &p.metadata);
        EndpointRoute {
            url,
            target: Arc::new(target),
            upstreams,
            router: router.clone(),
            settings: settings.clone(),
            health,
            generation,
        }
    }

    /// The endpoints served now, for health probes and DNS refresh.
    pub fn probe_targets(&self) -> Vec<ProbeTarget> {
        let running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        running
            .values()
            .map(|r| {
                let route = r.routes.borrow().clone();
                ProbeTarget {
                    url: route.url.clone(),
                    check: route.health.clone(),
                    resolve_every: route.settings.resolve_every(),
                    upstreams: route.upstreams.clone(),
                    changed: None,
                }
            })
            .collect()
    }

    /// The upstreams of direct projections (tracked by the Lease holder).
    pub fn direct(&self) -> &Tracker {
        &self.direct
    }

    /// Start the health-check and DNS task for the endpoints served and the
    /// direct ones tracked; it ends with the forwarder.
    pub fn start_maintenance(self: &Arc<Self>) {
        let stop = self.stop.child_token();
        let forwarder = Arc::downgrade(self);
        let targets = move || {
            forwarder.upgrade().map(|f| {
                let mut all = f.probe_targets();
                all.extend(f.direct.probe_targets());
                all
            })
        };
        tokio::spawn(health::maintain(targets, stop));
    }

    /// Stop accepting everywhere and wait up to `grace` for connections in
    /// flight; returns whether they all finished.
    pub async fn drain(&self, grace: Duration) -> bool {
        self.stop.cancel();
        self.tracker.close();
        tokio::time::timeout(grace, self.tracker.wait())
            .await
            .is_ok()
    }

    pub fn serving(&self) -> Vec<Serving> {
        let running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        let mut v: Vec<Serving> = running
            .values()
            .map(|r| Serving {
                url: r.url.clone(),
                addr: r.addr,
            })
            .collect();
        v.sort_by(|a, b| a.url.cmp(&b.url));
        v
    }
}
