//! The `router` world, and the routing call with its fallback: a router that
//! fails (trap, deadline, indices out of range) is answered for that call by
//! the built-in round-robin, natively, and the fallback is counted.
use wasmtime::Store;
use wasmtime::component::{Func, InstancePre, TypedFunc};

use super::bindings::router::bindery::plugin::routing::Connection;
use super::bindings::router::{Router, RouterPre};
use super::candidate::Candidate;
use super::decision::Decision;
use super::error::PluginError;
use super::instance::{Plugin, WorldBinding};
use super::route_input::RouteInput;
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

/// The outcome of one routing call: the router's decision as the host
/// checked it (indices in range, each once, never an empty order when
/// there are candidates), or round-robin's when the router failed.
#[derive(Debug)]
pub struct Routed {
    pub decision: Decision,
    /// Set when the plugin failed and round-robin answered instead.
    pub fallback: Option<PluginError>,
}

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
            Ok(decision) => Routed {
                decision,
                fallback: None,
            },
            Err(e) => {
                self.counters().fallbacks.inc();
                Routed {
                    decision: Decision::Try(round_robin(candidates, input.target.next_turn())),
                    fallback: Some(e),
                }
            }
        };
        (routed, input)
    }

    fn check(&self, d: Decision, n: usize) -> Result<Decision, PluginError> {
        match d {
            Decision::Reject(reason) => Ok(Decision::Reject(reason)),
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
                    return Ok(Decision::Reject(
                        "the router chose no candidate".to_string(),
                    ));
                }
                Ok(Decision::Try(order))
            }
        }
    }
}

/// The native fallback: healthy candidates in turn from the endpoint's
/// turn `start`, unhealthy ones last.
pub fn round_robin(candidates: &[Candidate], start: u64) -> Vec<u32> {
    router_common::rotated_by(candidates.len(), start as usize, |i| candidates[i].healthy)
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
