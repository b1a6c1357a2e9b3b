//! `bindery run [--kubeconfig FILE] [--policy PATH] [--operator-namespace NS]`:
//! the operator. The namespace defaults to the pod's own in a cluster
//! (`$POD_NAMESPACE`, then the service account's namespace file), else
//! `bindery-system`; the Lease holder is `$POD_NAME`, else the host name.
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use bindery::process::{Common, Operator, operator};
use kube::config::{KubeConfigOptions, Kubeconfig};
use tokio_util::sync::CancellationToken;

const SA_NAMESPACE: &str = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";

/// The flags of `bindery run`, as parsed.
#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// Kubeconfig to use; default: $KUBECONFIG, ~/.kube/config, or in-cluster.
    #[arg(long)]
    kubeconfig: Option<PathBuf>,
    /// policy.yaml, or a directory holding it and the plugins.
    #[arg(long)]
    policy: Option<PathBuf>,
    /// Where the upstream Services and the Lease live; default: the pod's
    /// namespace, else bindery-system.
    #[arg(long)]
    operator_namespace: Option<String>,
    /// A catalog file read besides the BoundEndpoint objects.
    #[arg(long)]
    catalog: Option<PathBuf>,
    /// Where BoundEndpoint objects are read; default: the operator namespace.
    #[arg(long)]
    catalog_namespace: Option<String>,
    /// Address the forwarder listens on.
    #[arg(long, default_value = "0.0.0.0")]
    listen: std::net::IpAddr,
    /// Serve /metrics, /healthz, /readyz, /v1/plugins and /v1/endpoints.
    #[arg(long, default_value = "0.0.0.0:9090")]
    admin: std::net::SocketAddr,
    /// A ConfigMap of the operator namespace holding policy.yaml and *.wasm
    /// (binaryData); repeatable. Replaces --policy; reloaded on change.
    #[arg(long = "watch-configmap")]
    watch_configmaps: Vec<String>,
    /// A whole-catalog pass at least this often.
    #[arg(long, default_value_t = 300)]
    resync_seconds: u64,
    /// Lease duration; the holder renews every third of it.
    #[arg(long, default_value_t = 15)]
    lease_seconds: u64,
    #[command(flatten)]
    registry: super::registry::RegistryArgs,
}

pub fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let operator_namespace = match args.operator_namespace {
        Some(ns) => ns,
        None => default_namespace(),
    };
    anyhow::ensure!(
        bindery::model::is_rfc1123_label(&operator_namespace),
        "--operator-namespace {operator_namespace:?} is not a namespace name (RFC 1123 label)"
    );
    let catalog_namespace = args
        .catalog_namespace
        .unwrap_or_else(|| operator_namespace.clone());
    anyhow::ensure!(
        bindery::model::is_rfc1123_label(&catalog_namespace),
        "--catalog-namespace {catalog_namespace:?} is not a namespace name (RFC 1123 label)"
    );
    anyhow::ensure!(
        args.resync_seconds > 0,
        "--resync-seconds must be at least 1"
    );
    anyhow::ensure!(
        args.lease_seconds >= 3,
        "--lease-seconds must be at least 3"
    );
    let common = Common {
        policy: args.policy,
        catalog: args.catalog,
        listen: args.listen,
        admin: Some(args.admin),
        runtime: args.registry.runtime_options(),
    };
    let options = Operator {
        operator_namespace,
        catalog_namespace,
        watch_configmaps: args.watch_configmaps,
        resync: Duration::from_secs(args.resync_seconds),
        lease_duration: Duration::from_secs(args.lease_seconds),
        identity: identity(),
    };
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    tokio.block_on(async move {
        let client = client(args.kubeconfig.as_deref()).await?;
        let stop = CancellationToken::new();
        let signal = {
            let stop = stop.clone();
            async move {
                let r = super::shutdown_signal().await;
                tracing::info!("shutting down: releasing the lease and draining connections");
                stop.cancel();
                r
            }
        };
        let task = tokio::spawn(signal);
        operator::run(client, common, options, stop).await?;
        task.abort();
        Ok(ExitCode::SUCCESS)
    })
}

async fn client(kubeconfig: Option<&Path>) -> anyhow::Result<kube::Client> {
    let mut config = match kubeconfig {
        Some(path) => {
            let file = Kubeconfig::read_from(path)
                .with_context(|| format!("reading kubeconfig {}", path.display()))?;
            kube::Config::from_custom_kubeconfig(file, &KubeConfigOptions::default())
                .await
                .with_context(|| format!("kubeconfig {}", path.display()))?
        }
        None => kube::Config::infer()
            .await
            .context("no kubeconfig: pass --kubeconfig, set KUBECONFIG, or run in a pod")?,
    };
    // Named in the apiserver's audit log, so Bindery's requests can be told apart.
    config.headers.push((
        http::header::USER_AGENT,
        http::HeaderValue::from_static(concat!("bindery/", env!("CARGO_PKG_VERSION"))),
    ));
    Ok(kube::Client::try_from(config)?)
}

fn default_namespace() -> String {
    std::env::var("POD_NAMESPACE")
        .ok()
        .or_else(|| std::fs::read_to_string(SA_NAMESPACE).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "bindery-system".to_string())
}

fn identity() -> String {
    std::env::var("POD_NAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| format!("bindery-{}", std::process::id()))
}
