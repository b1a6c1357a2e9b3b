//! Registry credentials from a dockerconfigjson file, as a mounted
//! `kubernetes.io/dockerconfigjson` Secret (or `~/.docker/config.json`)
//! holds them: `{"auths": {"REGISTRY": {"auth": "BASE64(user:pass)"}}}`,
//! or `username`/`password`, or an `identitytoken`.
use std::collections::HashMap;
use std::path::Path;

use base64::Engine as _;
use oci_client::secrets::RegistryAuth;
use serde::Deserialize;

use super::error::ArtifactError;

/// Credentials by registry host (`host` or `host:port`).
#[derive(Clone, Default)]
pub struct Credentials {
    by_host: HashMap<String, RegistryAuth>,
}

#[derive(Deserialize)]
struct File {
    #[serde(default)]
    auths: HashMap<String, Entry>,
}

#[derive(Deserialize)]
struct Entry {
    auth: Option<String>,
    username: Option<String>,
    password: Option<String>,
    identitytoken: Option<String>,
}

impl Credentials {
    pub fn read(path: &Path) -> Result<Credentials, ArtifactError> {
        let err = |detail: String| ArtifactError::AuthFile {
            path: path.to_path_buf(),
            detail,
        };
        let text = std::fs::read(path).map_err(|e| err(e.to_string()))?;
        Credentials::parse(&text).map_err(err)
    }

    pub fn parse(text: &[u8]) -> Result<Credentials, String> {
        let file: File = serde_json::from_slice(text)
            .map_err(|e| format!("not JSON of the dockerconfigjson form: {e}"))?;
        let mut by_host = HashMap::new();
        for (key, entry) in file.auths {
            let auth = entry
                .credentials()
                .map_err(|m| format!("auths[{key:?}]: {m}"))?;
            by_host.insert(normalize(&key).to_string(), auth);
        }
        Ok(Credentials { by_host })
    }

    /// What to present to `registry`; anonymous when the file has nothing
    /// for it.
    pub fn for_registry(&self, registry: &str) -> RegistryAuth {
        self.by_host
            .get(registry)
            .cloned()
            .unwrap_or(RegistryAuth::Anonymous)
    }

    pub fn has(&self, registry: &str) -> bool {
        self.by_host.contains_key(registry)
    }
}

impl Entry {
    fn credentials(&self) -> Result<RegistryAuth, String> {
        if let Some(token) = self.identitytoken.as_ref().filter(|t| !t.is_empty()) {
            return Ok(RegistryAuth::Bearer(token.clone()));
        }
        if let (Some(u), Some(p)) = (&self.username, &self.password) {
            return Ok(RegistryAuth::Basic(u.clone(), p.clone()));
        }
        let encoded = self
            .auth
            .as_ref()
            .ok_or("has none of auth, username and password, identitytoken")?;
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .map_err(|e| format!("auth is not base64: {e}"))?;
        let decoded = String::from_utf8(decoded).map_err(|_| "auth is not UTF-8 text")?;
        let (u, p) = decoded
            .split_once(':')
            .ok_or("auth does not decode to user:password")?;
        Ok(RegistryAuth::Basic(u.to_string(), p.to_string()))
    }
}

/// `https://registry.example.com/v1/` and `registry.example.com` name the
/// same registry.
fn normalize(key: &str) -> &str {
    let key = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    key.split('/').next().unwrap_or(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_of_entry_is_read() {
        let c = Credentials::parse(
            br#"{"auths": {
                "https://reg.example.com/v1/": {"auth": "dXNlcjpwYTpzcw=="},
                "127.0.0.1:5000": {"username": "u", "password": "p"},
                "tok.example.com": {"identitytoken": "t0k"}
            }}"#,
        )
        .unwrap();
        assert!(
            matches!(c.for_registry("reg.example.com"), RegistryAuth::Basic(u, p) if u == "user" && p == "pa:ss")
        );
        assert!(
            matches!(c.for_registry("127.0.0.1:5000"), RegistryAuth::Basic(u, p) if u == "u" && p == "p")
        );
        assert!(matches!(c.for_registry("tok.example.com"), RegistryAuth::Bearer(t) if t == "t0k"));
        assert!(matches!(c.for_registry("ghcr.io"), RegistryAuth::Anonymous));
    }

    #[test]
    fn malformed_entries_are_named() {
        let e = Credentials::parse(br#"{"auths": {"r.io": {"auth": "!!"}}}"#)
            .err()
            .unwrap();
        assert!(e.contains("auths[\"r.io\"]") && e.contains("base64"), "{e}");
        let e = Credentials::parse(br#"{"auths": {"r.io": {}}}"#)
            .err()
            .unwrap();
        assert!(e.contains("none of auth"), "{e}");
        assert!(Credentials::parse(b"auths: {}").is_err());
    }
}
