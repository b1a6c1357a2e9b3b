//! How registries are reached: credentials, CA bundle, plain-HTTP
//! registries, mirrors, the tag refresh interval and the cache directory.
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::reference::host_of;

#[derive(Clone, Debug, Default)]
pub struct RegistryOptions {
    /// A dockerconfigjson file (`{"auths": {...}}`), read on every fetch
    /// so a rotated Secret takes effect.
    pub auth_file: Option<PathBuf>,
    /// PEM CA certificates trusted besides the system's.
    pub ca_file: Option<PathBuf>,
    /// Registries (`host` or `host:port`) that may be reached over plain
    /// HTTP; loopback addresses always may.
    pub insecure: Vec<String>,
    /// Tried in order before the registry they stand for.
    pub mirrors: Vec<Mirror>,
    /// How often tags are re-resolved between reloads; `None`: only on
    /// reloads.
    pub refresh: Option<Duration>,
    /// Where pulled artifacts are kept (`<dir>/oci`).
    pub cache_dir: Option<PathBuf>,
}

/// `REGISTRY=MIRROR`: fetch REGISTRY's artifacts from MIRROR first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mirror {
    pub registry: String,
    pub mirror: String,
}

impl std::str::FromStr for Mirror {
    type Err = String;

    fn from_str(s: &str) -> Result<Mirror, String> {
        match s.split_once('=') {
            Some((r, m))
                if !r.is_empty() && !m.is_empty() && !m.contains('/') && !r.contains('/') =>
            {
                Ok(Mirror {
                    registry: r.to_string(),
                    mirror: m.to_string(),
                })
            }
            _ => Err(format!(
                "mirror {s:?} is not REGISTRY=MIRROR (hosts with an optional port, no scheme or path), e.g. ghcr.io=mirror.internal:5000"
            )),
        }
    }
}

impl RegistryOptions {
    /// Whether `registry` may be spoken to over plain HTTP: named
    /// insecure (by `host:port` or by `host` for every port), or on a
    /// loopback address, as Docker treats 127.0.0.0/8.
    pub fn allows_plain_http(&self, registry: &str) -> bool {
        let host = host_of(registry);
        let loopback =
            host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
        loopback || self.insecure.iter().any(|i| i == registry || i == host)
    }

    /// The hosts to try for `registry`: its mirrors in order, then itself.
    pub fn hosts_for(&self, registry: &str) -> Vec<String> {
        self.mirrors
            .iter()
            .filter(|m| m.registry == registry)
            .map(|m| m.mirror.clone())
            .chain([registry.to_string()])
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_only_for_loopback_and_named_registries() {
        let o = RegistryOptions {
            insecure: vec!["registry.lan:5000".into(), "build.lan".into()],
            ..Default::default()
        };
        for yes in [
            "127.0.0.1:5000",
            "127.3.4.5",
            "localhost:5000",
            "[::1]:5000",
            "registry.lan:5000",
            "build.lan:1234",
            "build.lan",
        ] {
            assert!(o.allows_plain_http(yes), "{yes}");
        }
        for no in [
            "registry.lan",
            "registry.lan:5001",
            "ghcr.io",
            "10.0.0.1:5000",
            "128.0.0.1",
        ] {
            assert!(!o.allows_plain_http(no), "{no}");
        }
    }

    #[test]
    fn mirrors_come_first() {
        let o = RegistryOptions {
            mirrors: vec![
                "ghcr.io=m1:5000".parse().unwrap(),
                "docker.io=x".parse().unwrap(),
                "ghcr.io=m2".parse().unwrap(),
            ],
            ..Default::default()
        };
        assert_eq!(o.hosts_for("ghcr.io"), ["m1:5000", "m2", "ghcr.io"]);
        assert_eq!(o.hosts_for("quay.io"), ["quay.io"]);
        assert!("ghcr.io".parse::<Mirror>().is_err());
        assert!("ghcr.io=https://m".parse::<Mirror>().is_err());
    }
}
