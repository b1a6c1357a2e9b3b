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
    #[error(
        "catalog {origin} is empty ({found}); an empty or truncated file would remove every endpoint it listed, so it is refused: write `endpoints: []` to mean no endpoints"
    )]
    Empty { origin: String, found: String },
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
///
/// No endpoints is said explicitly (`endpoints: []`): a file that is
/// empty, only comments, or `endpoints:` with nothing after it is what a
/// truncated write leaves, and is refused rather than read as "none".
pub fn parse_str(text: &str, origin: &str) -> Result<Vec<Entry>, CatalogError> {
    if text.trim().is_empty() {
        return Err(empty_error(origin, "no text"));
    }
    let doc: serde_json::Value = serde_saphyr::from_str(text).map_err(|e| CatalogError::Yaml {
        origin: origin.to_string(),
        message: e.to_string(),
    })?;
    parse_value(doc, origin)
}

/// Parse a catalog sent as JSON; `origin` as for [`parse_str`].
pub fn parse_json(text: &str, origin: &str) -> Result<Vec<Entry>, CatalogError> {
    if text.trim().is_empty() {
        return Err(empty_error(origin, "no text"));
    }
    let doc = serde_json::from_str(text).map_err(|e| CatalogError::Json {
        origin: origin.to_string(),
        message: e.to_string(),
    })?;
    parse_value(doc, origin)
}

fn empty_error(origin: &str, found: &str) -> CatalogError {
    CatalogError::Empty {
        origin: origin.to_string(),
        found: found.to_string(),
    }
}

/// The entries of a parsed catalog document.
fn parse_value(doc: serde_json::Value, origin: &str) -> Result<Vec<Entry>, CatalogError> {
    let empty = |found: &str| empty_error(origin, found);
    let shape = |found: &str| CatalogError::Shape {
        origin: origin.to_string(),
        found: found.to_string(),
    };
    let list = match doc {
        serde_json::Value::Null => return Err(empty("no YAML document")),
        serde_json::Value::Object(mut map) => {
            if let Some(k) = map.keys().find(|k| k.as_str() != "endpoints") {
                return Err(shape(&format!("unknown key `{k}`")));
            }
            match map.remove("endpoints") {
                Some(serde_json::Value::Array(list)) => list,
                Some(serde_json::Value::Null) => return Err(empty("`endpoints:` with no list")),
                None => return Err(empty("no `endpoints:` key")),
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
