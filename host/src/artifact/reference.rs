//! `oci://REGISTRY/REPO:TAG` and `oci://REGISTRY/REPO@sha256:DIGEST`.
use std::fmt;

use super::digest::Digest;

pub const SCHEME: &str = "oci://";

/// A plugin artifact in a registry: by tag (re-resolved on every load) or
/// by manifest digest (pinned).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct OciRef {
    /// `host`, `host:port`; always explicit, never a default registry.
    pub registry: String,
    pub repository: String,
    pub target: Target,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Target {
    Tag(String),
    Digest(Digest),
}

impl OciRef {
    /// Parse a reference; the error says which rule it breaks and how to
    /// write it instead.
    pub fn parse(text: &str) -> Result<OciRef, String> {
        let form = "write oci://REGISTRY/REPO:TAG or oci://REGISTRY/REPO@sha256:DIGEST";
        let rest = text
            .strip_prefix(SCHEME)
            .ok_or_else(|| format!("{text:?} is not an OCI reference: {form}"))?;
        let (registry, path) = rest
            .split_once('/')
            .ok_or_else(|| format!("{text:?} names no repository: {form}"))?;
        check_registry(registry).map_err(|m| format!("{text:?}: {m}"))?;
        let (repository, target) = if let Some((repo, digest)) = path.split_once('@') {
            let digest = Digest::parse(digest).map_err(|m| format!("{text:?}: {m}"))?;
            (repo, Target::Digest(digest))
        } else {
            match path.rsplit_once(':') {
                Some((repo, tag)) => {
                    check_tag(tag).map_err(|m| format!("{text:?}: {m}"))?;
                    (repo, Target::Tag(tag.to_string()))
                }
                None => {
                    return Err(format!(
                        "{text:?} has neither a tag nor a digest (no implicit :latest): {form}"
                    ));
                }
            }
        };
        check_repository(repository).map_err(|m| format!("{text:?}: {m}"))?;
        Ok(OciRef {
            registry: registry.to_string(),
            repository: repository.to_string(),
            target,
        })
    }

    pub fn tag(&self) -> Option<&str> {
        match &self.target {
            Target::Tag(t) => Some(t),
            Target::Digest(_) => None,
        }
    }

    pub fn digest(&self) -> Option<&Digest> {
        match &self.target {
            Target::Digest(d) => Some(d),
            Target::Tag(_) => None,
        }
    }

    /// The same repository at `digest`.
    pub fn at(&self, digest: &Digest) -> OciRef {
        OciRef {
            registry: self.registry.clone(),
            repository: self.repository.clone(),
            target: Target::Digest(digest.clone()),
        }
    }

    /// The registry's host without the port, for the loopback rule.
    pub fn host(&self) -> &str {
        host_of(&self.registry)
    }

    /// The reference in oci-client's terms, against `registry` (the
    /// origin or a mirror).
    pub(super) fn client_ref(&self, registry: &str) -> oci_client::Reference {
        match &self.target {
            Target::Tag(t) => oci_client::Reference::with_tag(
                registry.to_string(),
                self.repository.clone(),
                t.clone(),
            ),
            Target::Digest(d) => oci_client::Reference::with_digest(
                registry.to_string(),
                self.repository.clone(),
                d.to_string(),
            ),
        }
    }
}

impl fmt::Display for OciRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{SCHEME}{}/{}", self.registry, self.repository)?;
        match &self.target {
            Target::Tag(t) => write!(f, ":{t}"),
            Target::Digest(d) => write!(f, "@{d}"),
        }
    }
}

/// `host` of `host`, `host:port` or `[v6]:port`.
pub fn host_of(registry: &str) -> &str {
    if let Some(rest) = registry.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    registry.rsplit_once(':').map_or(registry, |(h, _)| h)
}

fn check_registry(registry: &str) -> Result<(), String> {
    let host = host_of(registry);
    let rest = match registry.strip_prefix('[') {
        Some(r) => r.split_once(']').map(|(_, port)| port),
        None => registry.strip_prefix(host),
    };
    let port_ok = match rest {
        Some("") => true,
        Some(p) => p
            .strip_prefix(':')
            .is_some_and(|p| p.parse::<u16>().is_ok_and(|n| n > 0)),
        None => false,
    };
    let host_ok = !host.is_empty()
        && (host.parse::<std::net::IpAddr>().is_ok()
            || host.split('.').all(|l| {
                !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            }));
    // Without a dot, a port or `localhost` the first part would be a
    // Docker Hub namespace: a registry is always named outright here.
    let explicit =
        host.contains('.') || host.contains(':') || host == "localhost" || registry != host;
    if !(port_ok && host_ok && explicit) {
        return Err(format!(
            "{registry:?} is not a registry: name it as a host with a dot or a port (registry.example.com, 127.0.0.1:5000, localhost:5000)"
        ));
    }
    Ok(())
}

fn check_repository(repo: &str) -> Result<(), String> {
    let component_ok = |c: &str| {
        !c.is_empty()
            && c.starts_with(|ch: char| ch.is_ascii_lowercase() || ch.is_ascii_digit())
            && c.ends_with(|ch: char| ch.is_ascii_lowercase() || ch.is_ascii_digit())
            && c.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
    };
    if repo.is_empty() || repo.len() > 255 || !repo.split('/').all(component_ok) {
        return Err(format!(
            "repository {repo:?} is not valid: lowercase path components of [a-z0-9._-] separated by '/'"
        ));
    }
    Ok(())
}

fn check_tag(tag: &str) -> Result<(), String> {
    let ok = !tag.is_empty()
        && tag.len() <= 128
        && tag.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
        && tag
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if !ok {
        return Err(format!(
            "tag {tag:?} is not valid: 1-128 characters of [A-Za-z0-9._-], not starting with '.' or '-'"
        ));
    }
    Ok(())
}

#[cfg(test)]
#[path = "reference_tests.rs"]
mod tests;
