//! A catalog entry with the place it came from.
use std::fmt;

use super::spec::{EndpointSpec, SPEC_FIELDS, UPSTREAM_FIELDS};

/// One entry of a catalog: where it came from and its spec, or why the spec
/// could not even be read.
#[derive(Clone, Debug)]
pub struct Entry {
    /// e.g. `catalog.yaml endpoints[3]` or `BoundEndpoint bindery-system/rgw`.
    pub id: String,
    pub spec: Result<EndpointSpec, EntryError>,
}

/// An entry whose fields have the wrong shape.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct EntryError {
    /// The URL, when it could be read, so the report can name it.
    pub url: Option<String>,
    pub message: String,
}

impl fmt::Display for EntryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl Entry {
    /// The URL as written, when known.
    pub fn url(&self) -> Option<&str> {
        match &self.spec {
            Ok(spec) => Some(&spec.url),
            Err(e) => e.url.as_deref(),
        }
    }

    /// Parse one entry from a generic value, rejecting unknown fields with
    /// the list of known ones.
    pub fn from_value(id: String, value: serde_json::Value) -> Entry {
        let url = value
            .get("url")
            .and_then(|u| u.as_str())
            .map(str::to_string);
        let spec = check_fields(&value)
            .and_then(|()| {
                serde_path_to_error::deserialize::<_, EndpointSpec>(value).map_err(|e| {
                    let path = e.path().to_string();
                    let inner = e.into_inner();
                    if path == "." {
                        inner.to_string()
                    } else {
                        format!("{path}: {inner}")
                    }
                })
            })
            .map_err(|message| EntryError { url, message });
        Entry { id, spec }
    }
}

fn check_fields(value: &serde_json::Value) -> Result<(), String> {
    let Some(map) = value.as_object() else {
        return Err(
            "an endpoint must be a mapping with at least `url` and `upstreams`".to_string(),
        );
    };
    unknown(map, SPEC_FIELDS, "")?;
    if let Some(list) = map.get("upstreams").and_then(|u| u.as_array()) {
        for (i, u) in list.iter().enumerate() {
            if let Some(m) = u.as_object() {
                unknown(m, UPSTREAM_FIELDS, &format!("upstreams[{i}]."))?;
            }
        }
    }
    Ok(())
}

fn unknown(
    map: &serde_json::Map<String, serde_json::Value>,
    known: &[&str],
    prefix: &str,
) -> Result<(), String> {
    match map.keys().find(|k| !known.contains(&k.as_str())) {
        Some(k) => Err(format!(
            "{prefix}{k}: unknown field; the fields are {}",
            known.join(", ")
        )),
        None => Ok(()),
    }
}
