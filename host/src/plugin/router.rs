//! The `router` world, and the routing call with its fallback: a router that
//! fails (trap, deadline, indices out of range) is answered for that call by
//! the built-in round-robin, natively, and the fallback is counted.
use std::sync::atomic::{AtomicUsize, Ordering};

use wasmtime::Store;
use wasmtime::component::{Func, InstancePre, TypedFunc};

use super::bindings::router::bindery::plugin::routing::Connection;
use super::bindings::router::{Router, RouterPre};
use super::candidate::Candidate;
use super::connection::RouteInput;
use super::decision::Decision;
use super::error::PluginError;
use super::instance::{Plugin, WorldBinding};
use super::state::HostState;
use super::world::World;

pub enum RouterWorld {}

/// The exports of one router instance. `route` is called through
/// [`Candidate`]'s own lowering rather than the generated bindings'.
pub struct RouterExports {
    bindings: Router,
    /// Type-checked against [`RouteFn`] when the instance was made.
    route: Func,
}

type RouteFn<'a> = TypedFunc<(Connection, &'a [Candidate]), (Decision,)>;

impl RouterExports {
    fn call_route(
        &self,
        store: &mut Store<HostState>,
        connection: Connection,
        candidates: &[Candidate],
    ) -> wasmtime::Result<Decision> {
        // SAFETY: `instantiate` checked `route` against this very signature.
        let route = unsafe { RouteFn::new_unchecked(self.route) };
        route.call(store, (connection, candidates)).map(|(d,)| d)
    }
}

impl WorldBinding for RouterWorld {
    const WORLD: World = World::Router;
    // Called per connection and request from the forwarder's shard threads.
    const PER_THREAD: bool = true;
    type Pre = RouterPre<HostState>;
    type Bindings = RouterExports;

    fn pre(pre: InstancePre<HostState>) -> wasmtime::Result<Self::Pre> {
        RouterPre::new(pre)
    }

    fn instantiate(
        pre: &Self::Pre,
        store: &mut Store<HostState>,
    ) -> wasmtime::Result<Self::Bindings> {
        let instance = pre.instance_pre().instantiate(&mut *store)?;
        let bindings = Router::new(&mut *store, &instance)?;
        let route = instance
            .get_func(&mut *store, "route")
            .ok_or_else(|| wasmtime::format_err!("the component exports no `route`"))?;
        let _checked: RouteFn = route.typed(&*store)?;
        Ok(RouterExports { bindings, route })
    }

    fn configure(
        b: &Self::Bindings,
        store: &mut Store<HostState>,
        config: &str,
    ) -> wasmtime::Result<Result<(), String>> {
        b.bindings.call_configure(store, config)
    }
}

pub type RouterPlugin = Plugin<RouterWorld>;

/// Where a connection goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    /// Candidate indices to try in order (never empty when there are
    /// candidates).
    Try(Vec<u32>),
    /// The router refused the connection.
    Reject(String),
}

/// The outcome of one routing call.
#[derive(Debug)]
pub struct Routed {
    pub route: Route,
    /// Set when the plugin failed and round-robin answered instead.
    pub fallback: Option<PluginError>,
}

static FALLBACK_NEXT: AtomicUsize = AtomicUsize::new(0);

impl Plugin<RouterWorld> {
    /// The plugin's raw decision. `input` is lent to the guest for the call
    /// and handed back, whatever the outcome.
    pub fn route_raw(
        &self,
        input: RouteInput,
        candidates: &[Candidate],
    ) -> (Result<Decision, PluginError>, RouteInput) {
        let connection = input.connection();
        let mut lent = Some(input);
        let result = self.call("route", |b, store| {
            store.data_mut().route = lent.take();
            let r = b.call_route(&mut *store, connection, candidates);
            lent = store.data_mut().route.take();
            r
        });
        match lent {
            Some(input) => (result, input),
            None => unreachable!("the closure always runs and always takes the input back"),
        }
    }

    /// Route a connection, falling back to round-robin when the plugin fails.
    pub fn route(&self, input: RouteInput, candidates: &[Candidate]) -> (Routed, RouteInput) {
        let (decision, input) = self.route_raw(input, candidates);
        let decision = decision.and_then(|d| self.check(d, candidates.len()));
        let routed = match decision {
            Ok(route) => Routed {
                route,
                fallback: None,
            },
            Err(e) => {
                self.counters().fallbacks.inc();
                Routed {
                    route: Route::Try(round_robin(candidates)),
                    fallback: Some(e),
                }
            }
        };
        (routed, input)
    }

    fn check(&self, d: Decision, n: usize) -> Result<Route, PluginError> {
        match d {
            Decision::Reject(reason) => Ok(Route::Reject(reason)),
            Decision::Try(order) => {
                if let Some(bad) = order.iter().find(|&&i| i as usize >= n) {
                    return Err(PluginError::Returned {
                        plugin: self.info().name.to_string(),
                        call: "route",
                        message: format!("candidate index {bad} is out of range (there are {n})"),
                    });
                }
                let order = dedup(order, n);
                if order.is_empty() && n > 0 {
                    return Ok(Route::Reject("the router chose no candidate".to_string()));
                }
                Ok(Route::Try(order))
            }
        }
    }
}

/// The native fallback: healthy candidates in turn, unhealthy ones last.
pub fn round_robin(candidates: &[Candidate]) -> Vec<u32> {
    let start = FALLBACK_NEXT.fetch_add(1, Ordering::Relaxed);
    router_common::rotated_by(candidates.len(), start, |i| candidates[i].healthy)
}

/// Drop repeated indices, keeping the first; no allocation for pools of up
/// to 64 upstreams, which is nearly all of them. Indices are < `n`.
fn dedup(mut order: Vec<u32>, n: usize) -> Vec<u32> {
    if n <= 64 {
        let mut seen = 0u64;
        order.retain(|&i| {
            let bit = 1u64 << i;
            let fresh = seen & bit == 0;
            seen |= bit;
            fresh
        });
    } else {
        let mut seen = vec![false; n];
        order.retain(|&i| !std::mem::replace(&mut seen[i as usize], true));
    }
    order
}
