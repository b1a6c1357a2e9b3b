//! The commands of the README's table, one module each.
mod check_url;
mod crd;
mod plan;
mod plugin_check;
mod plugin_push;
mod registry;
mod run;
mod standalone;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

/// Project private endpoints into Kubernetes as name.namespace:port.
#[derive(Parser, Debug)]
#[command(name = "bindery", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Check endpoint URLs: one line per URL; exit 0 only when all are valid.
    CheckUrl {
        #[arg(required = true)]
        urls: Vec<String>,
    },
    /// Print the Services a catalog would become (YAML stream on stdout);
    /// what is rejected or not selected goes to stderr with the reason.
    Plan {
        #[arg(long)]
        catalog: PathBuf,
        /// policy.yaml, or a directory holding it and the plugins.
        #[arg(long)]
        policy: Option<PathBuf>,
        #[arg(long, default_value = "bindery-system")]
        operator_namespace: String,
        /// Exit 2 when any entry is rejected for an error (not for being
        /// unselected or of another account).
        #[arg(long)]
        strict: bool,
        #[command(flatten)]
        registry: registry::RegistryArgs,
    },
    /// Work with plugin components.
    Plugin {
        #[command(subcommand)]
        command: PluginCommand,
    },
    /// Print the BoundEndpoint CustomResourceDefinition as YAML.
    Crd,
    /// No cluster: select, name, allocate ports and forward. Prints
    /// `<url> -> <ip>:<port>` per projected endpoint, then serves until
    /// SIGINT or SIGTERM, draining connections in flight.
    Standalone {
        #[arg(long)]
        catalog: PathBuf,
        /// policy.yaml, or a directory holding it and the plugins.
        #[arg(long)]
        policy: Option<PathBuf>,
        /// Address the forwarder listens on.
        #[arg(long, default_value = "127.0.0.1")]
        listen: std::net::IpAddr,
        /// Serve /metrics, /healthz, /readyz, /v1/plugins and /v1/endpoints.
        #[arg(long)]
        admin: Option<std::net::SocketAddr>,
        #[command(flatten)]
        registry: registry::RegistryArgs,
    },
    /// The operator: project the catalog (BoundEndpoint objects, and
    /// --catalog FILE) as Services under a Lease, and forward on every
    /// replica. SIGTERM releases the Lease and drains.
    Run(Box<run::RunArgs>),
}

#[derive(Subcommand, Debug)]
enum PluginCommand {
    /// Tell which world a component implements and whether it configures.
    Check {
        /// A component file, or oci://REGISTRY/REPO:TAG or
        /// oci://REGISTRY/REPO@sha256:DIGEST.
        plugin: String,
        /// JSON handed to configure.
        #[arg(long, default_value = "{}")]
        config: String,
        #[command(flatten)]
        registry: registry::RegistryArgs,
    },
    /// Push a component to a registry as a WebAssembly OCI artifact (one
    /// layer, application/wasm), after checking it is a plugin; prints the
    /// digest to pin.
    Push {
        file: PathBuf,
        /// oci://REGISTRY/REPO:TAG
        reference: String,
        #[command(flatten)]
        registry: registry::RegistryArgs,
    },
}

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::CheckUrl { urls } => Ok(check_url::run(&urls)),
        Command::Plan {
            catalog,
            policy,
            operator_namespace,
            strict,
            registry,
        } => plan::run(
            &catalog,
            policy.as_deref(),
            &operator_namespace,
            strict,
            &registry,
        ),
        Command::Plugin {
            command:
                PluginCommand::Check {
                    plugin,
                    config,
                    registry,
                },
        } => plugin_check::run(&plugin, &config, &registry),
        Command::Plugin {
            command:
                PluginCommand::Push {
                    file,
                    reference,
                    registry,
                },
        } => plugin_push::run(&file, &reference, &registry),
        Command::Crd => crd::run(),
        Command::Standalone {
            catalog,
            policy,
            listen,
            admin,
            registry,
        } => standalone::run(&catalog, policy.as_deref(), listen, admin, &registry),
        Command::Run(args) => run::run(*args),
    }
}

/// SIGINT or SIGTERM.
async fn shutdown_signal() -> anyhow::Result<()> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r?,
        _ = term.recv() => {}
    }
    Ok(())
}

/// Structured logs on stderr; `RUST_LOG` filters (default `info`).
pub fn init_tracing(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// The plugin runtime, with the cache and registries the flags name.
fn runtime(registry: &registry::RegistryArgs) -> anyhow::Result<bindery::plugin::Runtime> {
    let metrics = bindery::metrics::PluginMetrics::default();
    Ok(bindery::plugin::Runtime::new(
        registry.runtime_options(),
        metrics,
    )?)
}
