//! `bindery standalone --catalog FILE [--policy PATH] [--listen IP]`: the
//! whole pipeline and the forwarder, with no cluster.
use std::io::Write;
use std::net::IpAddr;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use bindery::forward::{ForwardMetrics, Forwarder};

/// Names are computed as if the operator ran in this namespace.
const NAMESPACE: &str = "bindery-system";

pub fn run(catalog: &Path, policy: Option<&Path>, listen: IpAddr) -> anyhow::Result<ExitCode> {
    let (loaded, plugins, outcome) = super::prepare(catalog, policy, NAMESPACE)?;
    super::report_rejections(&outcome);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let settings = Arc::new(loaded.policy.forwarding.clone());
        let forwarder = Forwarder::new(listen, ForwardMetrics::default());
        let served = forwarder.apply(&outcome.projections, &plugins.router, &settings, 1);
        let mut stdout = std::io::stdout().lock();
        let mut failed = 0;
        for s in served {
            match s {
                Ok(s) => writeln!(stdout, "{} -> {}", s.url, s.addr)?,
                Err(e) => {
                    failed += 1;
                    tracing::error!(error = %e, "endpoint not served");
                }
            }
        }
        stdout.flush()?;
        drop(stdout);
        forwarder.start_maintenance();
        shutdown_signal().await?;
        tracing::info!(grace = ?settings.drain(), "shutting down: draining connections");
        if !forwarder.drain(settings.drain()).await {
            tracing::warn!("drain timed out; closing the remaining connections");
        }
        Ok(if failed > 0 {
            ExitCode::from(3)
        } else {
            ExitCode::SUCCESS
        })
    })
}

async fn shutdown_signal() -> anyhow::Result<()> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r?,
        _ = term.recv() => {}
    }
    Ok(())
}
