//! `builtin:cel`: the endpoint selector (`docs/architecture.md`).
//!
//! Config: `{"expressions": ["<cel>", ...]}`. `select` is true when any
//! expression is true. Every expression sees one variable, `endpoint`:
//!
//! | field | CEL type | example |
//! |---|---|---|
//! | `url` | string | `"http://rgw.storage:7480"` |
//! | `scheme` | string | `"http"` or `"tcp"` |
//! | `name`, `namespace` | string | `"rgw"`, `"storage"` |
//! | `port` | int | `7480` |
//! | `account` | string | `"default"` |
//! | `labels`, `metadata` | map(string, string) | `endpoint.labels.team` |
//! | `upstreams` | list(map) with `address` (string), `weight` (int) | `size(endpoint.upstreams) > 1` |
//!
//! An expression that reads a label or metadata key the endpoint lacks is
//! false for that endpoint (as with Kubernetes label selectors), not an
//! error. Any other evaluation error, or a result that is not a bool, is an
//! error naming the expression.
// The generated export glue flattens the endpoint record into many arguments.
#![allow(clippy::too_many_arguments)]
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

use cel::objects::{Key, Map};
use cel::{Context, ExecutionError, Program, Value};

// Small blocks from size-class free lists (see `guest-alloc`).
guest_alloc::install!();

wit_bindgen::generate!({ world: "selector", path: "../../wit" });

use bindery::plugin::types::Scheme;

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    expressions: Vec<String>,
}

struct Compiled {
    source: String,
    program: Program,
}

thread_local! {
    static PROGRAMS: RefCell<Vec<Compiled>> = const { RefCell::new(Vec::new()) };
    /// The standard library, built once: building it costs more than a select.
    static ROOT: Context<'static, 'static> = Context::default();
}

struct Cel;

impl Guest for Cel {
    fn configure(config: String) -> Result<(), String> {
        let config: Config = serde_json::from_str(&config).map_err(|e| {
            format!("cel config must be {{\"expressions\": [\"<cel>\", ...]}}: {e}")
        })?;
        let mut compiled = Vec::with_capacity(config.expressions.len());
        for (i, source) in config.expressions.into_iter().enumerate() {
            let program = Program::compile(&source)
                .map_err(|e| format!("endpointSelectors[{i}] `{source}` is not valid CEL: {e}"))?;
            compiled.push(Compiled { source, program });
        }
        PROGRAMS.with(|p| *p.borrow_mut() = compiled);
        Ok(())
    }

    fn select(endpoint: Endpoint) -> Result<bool, String> {
        let endpoint = endpoint_value(endpoint);
        ROOT.with(|root| {
        let mut context = root.new_inner_scope();
        context.add_variable_from_value("endpoint", endpoint);
        PROGRAMS.with(|programs| {
            for (i, c) in programs.borrow().iter().enumerate() {
                match c.program.execute(&context) {
                    Ok(Value::Bool(true)) => return Ok(true),
                    Ok(Value::Bool(false)) | Err(ExecutionError::NoSuchKey(_)) => {}
                    Ok(other) => {
                        return Err(format!(
                            "endpointSelectors[{i}] `{}` returned {:?}, not a bool; compare it, e.g. `... == 'x'`",
                            c.source,
                            other.type_of()
                        ));
                    }
                    Err(e) => {
                        return Err(format!("endpointSelectors[{i}] `{}` failed: {e}", c.source));
                    }
                }
            }
            Ok(false)
        })
        })
    }
}

fn string(s: String) -> Value {
    Value::String(Arc::new(s))
}

fn pairs(p: Vec<(String, String)>) -> Value {
    let map: HashMap<Key, Value> = p
        .into_iter()
        .map(|(k, v)| (Key::String(Arc::new(k)), string(v)))
        .collect();
    Value::Map(Map { map: Arc::new(map) })
}

fn endpoint_value(e: Endpoint) -> Value {
    let scheme = match e.scheme {
        Scheme::Http => "http",
        Scheme::Tcp => "tcp",
    };
    let upstreams: Vec<Value> = e
        .upstreams
        .into_iter()
        .map(|u| {
            pairs_value([
                ("address", string(u.address)),
                ("weight", Value::Int(i64::from(u.weight))),
            ])
        })
        .collect();
    pairs_value([
        ("url", string(e.url)),
        ("scheme", string(scheme.to_string())),
        ("name", string(e.name)),
        ("namespace", string(e.namespace)),
        ("port", Value::Int(i64::from(e.port))),
        ("account", string(e.account)),
        ("labels", pairs(e.labels)),
        ("metadata", pairs(e.metadata)),
        ("upstreams", Value::List(Arc::new(upstreams))),
    ])
}

fn pairs_value<const N: usize>(fields: [(&str, Value); N]) -> Value {
    let map: HashMap<Key, Value> = fields
        .into_iter()
        .map(|(k, v)| (Key::String(Arc::new(k.to_string())), v))
        .collect();
    Value::Map(Map { map: Arc::new(map) })
}

export!(Cel);
