//! A naming plugin that returns what its config says: `{"mode": "..."}`.
//! - `invalid`: names that break Kubernetes' rules;
//! - `collide`: the same upstream name for every endpoint;
//! - `long`: an upstream name of 64 characters;
//! - `trap`: traps in `names`;
//! - `error`: returns an error.
// The generated export glue flattens the endpoint record into many arguments.
#![allow(clippy::too_many_arguments)]
wit_bindgen::generate!({ world: "naming", path: "../../../../wit" });

thread_local! {
    static MODE: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

struct Hostile;

impl Guest for Hostile {
    fn configure(config: String) -> Result<(), String> {
        let v: serde_json::Value = serde_json::from_str(&config).map_err(|e| e.to_string())?;
        let mode = v
            .get("mode")
            .and_then(|m| m.as_str())
            .unwrap_or("collide")
            .to_string();
        MODE.with(|m| *m.borrow_mut() = mode);
        Ok(())
    }

    fn names(endpoint: Endpoint, _context: NamingContext) -> Result<Names, String> {
        let mode = MODE.with(|m| m.borrow().clone());
        let ok = |upstream: String| Names {
            upstream_name: upstream,
            target_name: endpoint.name.clone(),
            target_namespace: endpoint.namespace.clone(),
        };
        match mode.as_str() {
            "invalid" => Ok(Names {
                upstream_name: "Bad_Name!".into(),
                target_name: endpoint.name.clone(),
                target_namespace: endpoint.namespace.clone(),
            }),
            "long" => Ok(ok("a".repeat(64))),
            "trap" => core::arch::wasm32::unreachable(),
            "error" => Err(format!("no name for {}", endpoint.url)),
            _ => Ok(ok("same-for-all".into())),
        }
    }
}

export!(Hostile);
