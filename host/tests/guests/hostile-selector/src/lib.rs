//! A selector that misbehaves as its config says: `{"mode": "..."}`.
//! - `loop`: spins forever on endpoints labelled `hostile: "yes"`, true otherwise;
//! - `trap`: traps on endpoints labelled `hostile: "yes"`, true otherwise;
//! - `error`: returns an error for endpoints labelled `hostile: "yes"`.
// The generated export glue flattens the endpoint record into many arguments.
#![allow(clippy::too_many_arguments)]
wit_bindgen::generate!({ world: "selector", path: "../../../../wit" });

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
            .unwrap_or("loop")
            .to_string();
        MODE.with(|m| *m.borrow_mut() = mode);
        Ok(())
    }

    fn select(endpoint: Endpoint) -> Result<bool, String> {
        let hostile = endpoint
            .labels
            .iter()
            .any(|(k, v)| k == "hostile" && v == "yes");
        if !hostile {
            return Ok(true);
        }
        let mode = MODE.with(|m| m.borrow().clone());
        match mode.as_str() {
            "loop" => {
                let mut x: u64 = 0;
                loop {
                    x = std::hint::black_box(x.wrapping_add(1));
                }
            }
            "trap" => core::arch::wasm32::unreachable(),
            _ => Err("hostile selector refuses this endpoint".to_string()),
        }
    }
}

export!(Hostile);
