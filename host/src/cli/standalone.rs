//! `bindery standalone --catalog FILE [--policy PATH] [--listen IP] [--admin ADDR]`:
//! the whole pipeline and the forwarder with no cluster, reloaded whenever
//! the policy (file or directory) or the catalog changes, or the registry
//! tag of an `oci://` plugin moves.
use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use bindery::admin::{self, Admin};
use bindery::forward::{Forwarder, Serving};
use bindery::live::reload::{self, Inputs};
use bindery::live::watch::Changes;
use bindery::live::{Live, Snapshot};
use bindery::metrics::ProcessMetrics;
use bindery::plugin::Runtime;
use tokio_util::sync::CancellationToken;

/// Names are computed as if the operator ran in this namespace.
const NAMESPACE: &str = "bindery-system";

pub fn run(
    catalog: &Path,
    policy: Option<&Path>,
    listen: IpAddr,
    admin_addr: Option<SocketAddr>,
    registry_args: &super::registry::RegistryArgs,
) -> anyhow::Result<ExitCode> {
    let ProcessMetrics {
        registry,
        plugin: plugin_metrics,
        forward: forward_metrics,
        reload: reload_metrics,
    } = ProcessMetrics::default();

    let runtime = Arc::new(Runtime::new(
        registry_args.runtime_options(),
        plugin_metrics,
    )?);
    let inputs = Inputs {
        catalog: catalog.to_path_buf(),
        policy: policy.map(Path::to_path_buf),
        operator_namespace: NAMESPACE.to_string(),
    };
    let live = Arc::new(Live::new(reload_metrics));
    // Watch before the first load, so no change after it can be missed.
    let mut changes = Changes::watch(&inputs.watched())?;
    let first = match reload::build(
        &runtime,
        &inputs,
        &Default::default(),
        live.next_generation(),
    ) {
        Ok(s) => s,
        Err(errors) => {
            for e in &errors {
                eprintln!("error: {e}");
            }
            anyhow::bail!("nothing to serve: the policy or catalog did not load");
        }
    };
    runtime.artifacts().watch_tags(changes.trigger());
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    tokio.block_on(async move {
        let forwarder = Forwarder::new(listen, forward_metrics)?;
        let failed = install(&live, &forwarder, first, &[]);
        forwarder.start_maintenance();
        let stop = CancellationToken::new();
        if let Some(addr) = admin_addr {
            let listener = admin::bind(addr).await?;
            tracing::info!(addr = %listener.local_addr()?, "admin server listening");
            let admin = Admin {
                registry: Arc::new(registry),
                live: live.clone(),
                forwarder: forwarder.clone(),
            };
            tokio::spawn(admin::serve(listener, admin, stop.clone()));
        }
        let shutdown = super::shutdown_signal();
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                r = &mut shutdown => { r?; break; }
                change = changes.next() => {
                    if change.is_none() {
                        tracing::warn!("file watch ended; reloads stop");
                        std::future::pending::<()>().await;
                    }
                    reload(&runtime, &inputs, &live, &forwarder).await;
                }
            }
        }
        stop.cancel();
        let grace = live
            .current()
            .map(|s| s.policy.policy.forwarding.drain())
            .unwrap_or_default();
        tracing::info!(?grace, "shutting down: draining connections");
        if !forwarder.drain(grace).await {
            tracing::warn!("drain timed out; closing the remaining connections");
        }
        Ok(if failed > 0 {
            ExitCode::from(3)
        } else {
            ExitCode::SUCCESS
        })
    })
}

/// Build the next generation off the async threads; install it or keep the
/// current one and say why.
async fn reload(
    runtime: &Arc<Runtime>,
    inputs: &Inputs,
    live: &Arc<Live>,
    forwarder: &Arc<Forwarder>,
) {
    let previous = reload::allocation(live.current().as_deref());
    let generation = live.next_generation();
    let (rt, inp) = (runtime.clone(), inputs.clone());
    let built =
        tokio::task::spawn_blocking(move || reload::build(&rt, &inp, &previous, generation)).await;
    match built {
        Ok(Ok(snapshot)) => {
            let before = forwarder.serving();
            super::report_rejections(&snapshot.outcome);
            install(live, forwarder, snapshot, &before);
            tracing::info!(generation, "reloaded");
        }
        Ok(Err(errors)) => {
            for e in &errors {
                tracing::error!(generation, error = %e, "reload rejected; the previous generation stays in effect");
            }
            live.failed(errors);
        }
        Err(e) => {
            tracing::error!(generation, error = %e, "reload task failed; the previous generation stays in effect");
            live.failed(vec![e.to_string()]);
        }
    }
}

/// Serve a snapshot; print `<url> -> <addr>` for every endpoint not served
/// before. Returns how many endpoints could not be served.
fn install(live: &Live, forwarder: &Forwarder, snapshot: Snapshot, before: &[Serving]) -> usize {
    let settings = Arc::new(snapshot.policy.policy.forwarding.clone());
    let served = forwarder.apply(
        &snapshot.outcome.projections,
        &snapshot.plugins.router,
        &settings,
        snapshot.generation,
    );
    live.install(snapshot);
    let mut stdout = std::io::stdout().lock();
    let mut failed = 0;
    for s in served {
        match s {
            Ok(s) if !before.contains(&s) => {
                let _ = writeln!(stdout, "{} -> {}", s.url, s.addr);
            }
            Ok(_) => {}
            Err(e) => {
                failed += 1;
                tracing::error!(error = %e, "endpoint not served");
            }
        }
    }
    let _ = stdout.flush();
    failed
}
