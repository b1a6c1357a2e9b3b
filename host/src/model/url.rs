//! `[http|tcp]://name.namespace[:port]`, the rules of `docs/architecture.md`.
use std::fmt;

/// The scheme of an endpoint URL.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scheme {
    Http,
    Tcp,
}

impl Scheme {
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Tcp => "tcp",
        }
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A URL that passed every rule. Two URLs that differ only in an implicit
/// `:80` are equal.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EndpointUrl {
    pub scheme: Scheme,
    pub name: String,
    pub namespace: String,
    pub port: u16,
}

/// Why a URL is invalid. The text names the rule and the fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    #[error("empty URL: write [http|tcp]://name.namespace[:port]")]
    Empty,
    #[error("missing scheme: write http://{0} or tcp://{0}:PORT")]
    MissingScheme(String),
    #[error("invalid scheme {0}: only http and tcp are supported")]
    InvalidScheme(String),
    #[error("user info is not allowed: remove `{0}@`")]
    UserInfo(String),
    #[error("{what} is not allowed: remove `{text}`")]
    Trailing { what: &'static str, text: String },
    #[error("invalid hostname {0}: wildcards are not allowed")]
    Wildcard(String),
    #[error("invalid hostname {0}: must have exactly two parts, name.namespace")]
    Parts(String),
    #[error(
        "invalid name {0:?}: a Service name is a lowercase RFC 1035 label (a letter first, then a-z, 0-9 or '-', at most 63, not ending in '-')"
    )]
    Name(String),
    #[error(
        "invalid namespace {0:?}: a namespace is a lowercase RFC 1123 label (a-z, 0-9 or '-', at most 63, starting and ending with a letter or digit)"
    )]
    Namespace(String),
    #[error("invalid port {0:?}: must be a number from 1 to 65535")]
    Port(String),
    #[error("tcp endpoint must specify a port number, e.g. tcp://{0}:5432")]
    TcpPort(String),
}

impl EndpointUrl {
    /// Parse and validate.
    pub fn parse(input: &str) -> Result<Self, UrlError> {
        let input = input.trim();
        if input.is_empty() {
            return Err(UrlError::Empty);
        }
        let Some((scheme, rest)) = input.split_once("://") else {
            return Err(UrlError::MissingScheme(input.to_string()));
        };
        let scheme = match scheme.to_ascii_lowercase().as_str() {
            "http" => Scheme::Http,
            "tcp" => Scheme::Tcp,
            _ => return Err(UrlError::InvalidScheme(scheme.to_string())),
        };
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, trailing) = rest.split_at(end);
        if let Some(first) = trailing.chars().next() {
            let what = match first {
                '/' => "a path",
                '?' => "a query",
                _ => "a fragment",
            };
            return Err(UrlError::Trailing {
                what,
                text: trailing.to_string(),
            });
        }
        if let Some((user, _)) = authority.rsplit_once('@') {
            return Err(UrlError::UserInfo(user.to_string()));
        }
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        };
        let port = match port {
            Some(p) => Some(parse_port(p)?),
            None => None,
        };
        if host.contains('*') {
            return Err(UrlError::Wildcard(host.to_string()));
        }
        let labels: Vec<&str> = host.split('.').collect();
        let [name, namespace] = labels.as_slice() else {
            return Err(UrlError::Parts(host.to_string()));
        };
        if !is_rfc1035_label(name) {
            return Err(UrlError::Name(name.to_string()));
        }
        if !is_rfc1123_label(namespace) {
            return Err(UrlError::Namespace(namespace.to_string()));
        }
        let port = match (scheme, port) {
            (_, Some(p)) => p,
            (Scheme::Http, None) => 80,
            (Scheme::Tcp, None) => return Err(UrlError::TcpPort(host.to_string())),
        };
        Ok(EndpointUrl {
            scheme,
            name: name.to_string(),
            namespace: namespace.to_string(),
            port,
        })
    }

    /// `name.namespace`.
    pub fn host(&self) -> String {
        format!("{}.{}", self.name, self.namespace)
    }
}

/// The canonical form: the port is always written.
impl fmt::Display for EndpointUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}://{}.{}:{}",
            self.scheme, self.name, self.namespace, self.port
        )
    }
}

fn parse_port(p: &str) -> Result<u16, UrlError> {
    let valid = !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit());
    match p.parse::<u16>() {
        Ok(n) if valid && n > 0 => Ok(n),
        _ => Err(UrlError::Port(p.to_string())),
    }
}

fn is_label_body(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.ends_with('-')
}

/// Kubernetes' Service name rule: a letter first.
pub fn is_rfc1035_label(s: &str) -> bool {
    is_label_body(s) && s.starts_with(|c: char| c.is_ascii_lowercase())
}

/// Kubernetes' namespace rule: a letter or digit first.
pub fn is_rfc1123_label(s: &str) -> bool {
    is_label_body(s) && s.starts_with(|c: char| c.is_ascii_alphanumeric())
}

#[cfg(test)]
#[path = "url_tests.rs"]
mod tests;
