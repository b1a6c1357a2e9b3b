//! The catalog file: `endpoints:` followed by a list of entries.
use std::path::{Path, PathBuf};

use super::entry::Entry;

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("cannot read catalog {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("catalog {origin} is not valid YAML: {message}")]
    Yaml { origin: String, message: String },
    #[error("catalog {origin} is not valid JSON: {message}")]
    Json { origin: String, message: String },
    #[error(
        "catalog {origin} must be a mapping with an `endpoints:` list (found {found}); see examples/"
    )]
    Shape { origin: String, found: String },
}

/// Read a catalog file. A file that cannot be read or parsed at all is an
/// error; a bad entry inside is reported on that entry only.
pub fn load_file(path: &Path) -> Result<Vec<Entry>, CatalogError> {
    let text = std::fs::read_to_string(path).map_err(|source| CatalogError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse_str(&text, &path.display().to_string())
}

/// Parse catalog text; `origin` names it in errors and entry ids.
pub fn parse_str(text: &str, origin: &str) -> Result<Vec<Entry>, CatalogError> {
    let doc: serde_json::Value = if text.trim().is_empty() {
        serde_json::Value::Null
    } else {
        serde_saphyr::from_str(text).map_err(|e| CatalogError::Yaml {
            origin: origin.to_string(),
            message: e.to_string(),
        })?
    };
    parse_value(doc, origin)
}

/// Parse a catalog sent as JSON; `origin` as for [`parse_str`].
pub fn parse_json(text: &str, origin: &str) -> Result<Vec<Entry>, CatalogError> {
    let doc = serde_json::from_str(text).map_err(|e| CatalogError::Json {
        origin: origin.to_string(),
        message: e.to_string(),
    })?;
    parse_value(doc, origin)
}

/// The entries of a parsed catalog document.
fn parse_value(doc: serde_json::Value, origin: &str) -> Result<Vec<Entry>, CatalogError> {
    let shape = |found: &str| CatalogError::Shape {
        origin: origin.to_string(),
        found: found.to_string(),
    };
    let list = match doc {
        serde_json::Value::Null => return Ok(Vec::new()),
        serde_json::Value::Object(mut map) => {
            if let Some(k) = map.keys().find(|k| k.as_str() != "endpoints") {
                return Err(shape(&format!("unknown key `{k}`")));
            }
            match map.remove("endpoints") {
                Some(serde_json::Value::Array(list)) => list,
                Some(serde_json::Value::Null) | None => Vec::new(),
                Some(other) => return Err(shape(&format!("`endpoints` is {}", kind(&other)))),
            }
        }
        other => return Err(shape(&kind(&other))),
    };
    Ok(list
        .into_iter()
        .enumerate()
        .map(|(i, value)| Entry::from_value(format!("{origin} endpoints[{i}]"), value))
        .collect())
}

fn kind(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "a list",
        serde_json::Value::Object(_) => "a mapping",
    }
    .to_string()
}

#[cfg(test)]
#[path = "format_tests.rs"]
mod tests;
