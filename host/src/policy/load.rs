//! Reading and checking `policy.yaml`.
use std::path::{Path, PathBuf};

use super::{Limits, Policy};

/// A policy and the directory its plugin files are looked up in.
#[derive(Clone, Debug)]
pub struct LoadedPolicy {
    pub policy: Policy,
    pub dir: PathBuf,
    /// The file it came from, or `(defaults)`.
    pub origin: String,
}

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("cannot read policy {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("policy directory {0} has no policy.yaml: add one (`{{}}` means the defaults)")]
    NoPolicyFile(PathBuf),
    #[error(
        "policy {origin} is empty; an empty or truncated policy would select every endpoint, so it is refused: write `endpointSelectors: [\"true\"]` (or `{{}}` for every default) to mean that"
    )]
    Empty { origin: String },
    #[error("policy {origin}: {message}")]
    Invalid { origin: String, message: String },
}

/// Load `--policy PATH` (a file, or a directory holding `policy.yaml`);
/// `None` gives the defaults.
pub fn load(path: Option<&Path>) -> Result<LoadedPolicy, PolicyError> {
    let Some(path) = path else {
        return Ok(LoadedPolicy {
            policy: Policy::default(),
            dir: PathBuf::from("."),
            origin: "(defaults)".into(),
        });
    };
    let (file, dir) = if path.is_dir() {
        let file = path.join("policy.yaml");
        if !file.exists() {
            return Err(PolicyError::NoPolicyFile(path.to_path_buf()));
        }
        (file, path.to_path_buf())
    } else {
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        (path.to_path_buf(), dir.to_path_buf())
    };
    let text = std::fs::read_to_string(&file).map_err(|source| PolicyError::Read {
        path: file.clone(),
        source,
    })?;
    let origin = file.display().to_string();
    let policy = parse_str(&text, &origin)?;
    Ok(LoadedPolicy {
        policy,
        dir,
        origin,
    })
}

/// Parse and check policy text.
///
/// The defaults are asked for explicitly (`{}`): a file that is empty or
/// only comments is what a truncated write leaves, and the defaults select
/// every endpoint, so it is refused rather than read as the defaults.
pub fn parse_str(text: &str, origin: &str) -> Result<Policy, PolicyError> {
    let invalid = |message: String| PolicyError::Invalid {
        origin: origin.to_string(),
        message,
    };
    let empty = || PolicyError::Empty {
        origin: origin.to_string(),
    };
    if text.trim().is_empty() {
        return Err(empty());
    }
    let value: serde_json::Value =
        serde_saphyr::from_str(text).map_err(|e| invalid(format!("not valid YAML: {e}")))?;
    if value.is_null() {
        return Err(empty());
    }
    let policy: Policy = serde_path_to_error::deserialize::<_, Policy>(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path == "." {
            invalid(inner.to_string())
        } else {
            invalid(format!("{path}: {inner}"))
        }
    })?;
    check(&policy).map_err(invalid)?;
    Ok(policy)
}

fn check(p: &Policy) -> Result<(), String> {
    let account_ok = !p.account.is_empty()
        && p.account.len() <= 63
        && p.account
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        && p.account.starts_with(|c: char| c.is_ascii_alphanumeric())
        && p.account.ends_with(|c: char| c.is_ascii_alphanumeric());
    if !account_ok {
        return Err(format!(
            "account {:?} is not valid: 1-63 characters of [A-Za-z0-9._-], starting and ending with a letter or digit",
            p.account
        ));
    }
    let domain = p.cluster_domain.trim_end_matches('.');
    let domain_ok = !domain.is_empty()
        && domain.len() <= 200
        && domain.split('.').all(crate::model::is_rfc1123_label);
    if !domain_ok {
        return Err(format!(
            "clusterDomain {:?} is not a DNS name: use e.g. cluster.local",
            p.cluster_domain
        ));
    }
    for (i, e) in p.endpoint_selectors.iter().enumerate() {
        if e.trim().is_empty() {
            return Err(format!(
                "endpointSelectors[{i}] is empty: write a CEL expression, e.g. \"true\""
            ));
        }
    }
    if p.ports.first == 0 || p.ports.first > p.ports.last {
        return Err(format!(
            "ports {{first: {}, last: {}}} is not a range: first must be at least 1 and not above last",
            p.ports.first, p.ports.last
        ));
    }
    let plugins = p
        .selectors
        .iter()
        .enumerate()
        .map(|(i, r)| (format!("selectors[{i}]"), r));
    let plugins = plugins.chain([
        ("naming".to_string(), &p.naming),
        ("router".to_string(), &p.router),
    ]);
    for (field, r) in plugins {
        let l = r.limits;
        if l.memory_mib == 0 || l.memory_mib > Limits::MAX_MEMORY_MIB {
            return Err(format!(
                "{field}.limits.memoryMib {} is out of range: use 1 to {}",
                l.memory_mib,
                Limits::MAX_MEMORY_MIB
            ));
        }
        if l.timeout_ms == 0 || l.timeout_ms > 60_000 {
            return Err(format!(
                "{field}.limits.timeoutMs {} is out of range: use 1 to 60000",
                l.timeout_ms
            ));
        }
        r.source(Path::new("."))
            .map_err(|m| format!("{field}.plugin: {m}"))?;
    }
    Ok(())
}

#[cfg(test)]
#[path = "load_tests.rs"]
mod tests;
