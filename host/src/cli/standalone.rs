//! `bindery standalone --catalog FILE [--policy PATH] [--listen IP] [--admin ADDR]`:
//! the whole pipeline and the forwarder with no cluster, reloaded whenever
//! the policy (file or directory) or the catalog changes, or the registry
//! tag of an `oci://` plugin moves.
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use bindery::catalog::Sources;
use bindery::process::standalone::Standalone;
use bindery::process::{Common, Process, passes};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

pub fn run(
    catalog: &Path,
    policy: Option<&Path>,
    listen: IpAddr,
    admin: Option<SocketAddr>,
    registry: &super::registry::RegistryArgs,
) -> anyhow::Result<ExitCode> {
    let common = Common {
        policy: policy.map(Path::to_path_buf),
        catalog: Some(catalog.to_path_buf()),
        listen,
        admin,
        runtime: registry.runtime_options(),
    };
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    tokio.block_on(async move {
        let stop = CancellationToken::new();
        let start = Process::start(
            &common,
            |_| {},
            Arc::new(Notify::new()),
            Sources::default(),
            stop.clone(),
        );
        let mut process = match start.await {
            Ok(p) => p,
            Err(e) => {
                eprintln!("error: {e}");
                anyhow::bail!("nothing to serve: the policy or catalog did not load");
            }
        };
        let mut mode = Standalone::default();
        let shutdown = super::shutdown_signal();
        tokio::select! {
            r = shutdown => r?,
            () = passes::run(&mut mode, &mut process, None) => {}
        }
        stop.cancel();
        tracing::info!("shutting down");
        process.drain().await;
        Ok(if mode.first_failures() > 0 {
            ExitCode::from(3)
        } else {
            ExitCode::SUCCESS
        })
    })
}
