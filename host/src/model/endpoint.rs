//! A validated catalog entry.
use std::collections::BTreeMap;
use std::fmt;

use crate::catalog::{EndpointSpec, Mode};

use super::address::{Host, slice_ip_problem, split};
use super::url::{EndpointUrl, UrlError};

/// Where the bytes of an endpoint go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Upstream {
    /// `host:port` as written; the host may be an IP address or a DNS name.
    pub address: String,
    pub weight: u32,
}

/// A catalog entry that passed every rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// The URL as written in the catalog.
    pub raw_url: String,
    pub url: EndpointUrl,
    pub account: String,
    pub labels: BTreeMap<String, String>,
    pub metadata: BTreeMap<String, String>,
    pub pooling: bool,
    /// The entry's mode, else the policy's default.
    pub mode: Mode,
    pub upstreams: Vec<Upstream>,
}

/// One broken rule of one field: `field: message`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

fn err(field: impl Into<String>, message: impl Into<String>) -> FieldError {
    FieldError {
        field: field.into(),
        message: message.into(),
    }
}

pub(crate) const MAX_WEIGHT: u32 = 10_000;

impl Endpoint {
    /// Check every field of a spec; all broken rules are returned at once.
    /// `default_mode` is the policy's, for an entry that names none.
    pub fn validate(spec: &EndpointSpec, default_mode: Mode) -> Result<Endpoint, Vec<FieldError>> {
        let mode = spec.mode.unwrap_or(default_mode);
        let mut errors = Vec::new();
        let url = EndpointUrl::parse(&spec.url).map_err(|e: UrlError| err("url", e.to_string()));
        if let Err(e) = &url {
            errors.push(e.clone());
        }
        if !is_label_value(&spec.account) || spec.account.is_empty() {
            errors.push(err(
                "account",
                format!(
                    "{:?} is not a valid account: 1-63 characters of [A-Za-z0-9._-], starting and ending with a letter or digit",
                    spec.account
                ),
            ));
        }
        for (map, field) in [(&spec.labels, "labels"), (&spec.metadata, "metadata")] {
            for key in map.keys().filter(|k| k.is_empty()) {
                errors.push(err(
                    field,
                    format!("empty key {key:?}: give every entry a name"),
                ));
            }
        }
        if spec.upstreams.is_empty() {
            errors.push(err(
                "upstreams",
                "at least one upstream is required, e.g. - address: 10.0.0.11:7480",
            ));
        }
        for (i, u) in spec.upstreams.iter().enumerate() {
            if let Err(m) = check_address(&u.address) {
                errors.push(err(format!("upstreams[{i}].address"), m));
            } else if mode == Mode::Direct
                && let Some((Host::Ip(ip), _)) = split(&u.address)
                && let Some(why) = slice_ip_problem(ip)
            {
                let how = if spec.mode.is_some() {
                    "mode: direct"
                } else {
                    "the policy's defaultMode: direct"
                };
                errors.push(err(
                    format!("upstreams[{i}].address"),
                    format!(
                        "{:?} cannot be listed in direct mode ({how}): {why}; give an address the cluster's nodes can reach, or use mode: proxy",
                        u.address.trim()
                    ),
                ));
            }
            if u.weight == 0 || u.weight > MAX_WEIGHT {
                errors.push(err(
                    format!("upstreams[{i}].weight"),
                    format!("{} is out of range: use 1 to {MAX_WEIGHT} (remove the upstream to stop using it)", u.weight),
                ));
            }
        }
        match url {
            Ok(url) if errors.is_empty() => Ok(Endpoint {
                raw_url: spec.url.trim().to_string(),
                url,
                account: spec.account.clone(),
                labels: spec.labels.clone(),
                metadata: spec.metadata.clone(),
                pooling: spec.pooling,
                mode,
                upstreams: spec
                    .upstreams
                    .iter()
                    .map(|u| Upstream {
                        address: u.address.trim().to_string(),
                        weight: u.weight,
                    })
                    .collect(),
            }),
            _ => Err(errors),
        }
    }
}

/// A Kubernetes label value (the account becomes `bindery.dev/account`).
fn is_label_value(s: &str) -> bool {
    s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        && s.starts_with(|c: char| c.is_ascii_alphanumeric())
        && s.ends_with(|c: char| c.is_ascii_alphanumeric())
}

/// `host:port`, where host is an IPv4 address, a bracketed IPv6 address or a
/// DNS name.
fn check_address(address: &str) -> Result<(), String> {
    let address = address.trim();
    let fix = "write host:port, e.g. 10.0.0.11:7480, [fd00::1]:7480 or rgw1.example.com:7480";
    let Some((host, port)) = address.rsplit_once(':') else {
        return Err(format!("{address:?} has no port: {fix}"));
    };
    match port.parse::<u16>() {
        Ok(p) if p > 0 => {}
        _ => {
            return Err(format!(
                "{address:?} has an invalid port {port:?} (1-65535): {fix}"
            ));
        }
    }
    let ok = if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        v6.parse::<std::net::Ipv6Addr>().is_ok()
    } else if host.parse::<std::net::Ipv4Addr>().is_ok() {
        true
    } else {
        is_dns_name(host)
    };
    if ok {
        Ok(())
    } else {
        Err(format!("{address:?} has an invalid host {host:?}: {fix}"))
    }
}

fn is_dns_name(host: &str) -> bool {
    let host = host.strip_suffix('.').unwrap_or(host);
    !host.is_empty()
        && host.len() <= 253
        && !host.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && host.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        })
}

#[cfg(test)]
#[path = "endpoint_tests.rs"]
mod tests;
