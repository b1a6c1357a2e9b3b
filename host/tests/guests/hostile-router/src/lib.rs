//! A router that misbehaves as its config says: `{"mode": "..."}`.
//! - `ok`: candidates in order;
//! - `loop`: spins forever in `route`;
//! - `alloc`: allocates far past any sane memory cap in `route`;
//! - `trap`: hits `unreachable` in `route`;
//! - `escape`: tries the filesystem, the environment and the network and
//!   reports what it reached as a rejection reason;
//! - `bad-index`: returns an index out of range;
//! - `trap-if`: traps when the client IP is 6.6.6.6, behaves otherwise;
//! - `count`: rejects with the number of calls this instance has served;
//! - `header`: routes to the candidate the `x-upstream` request header
//!   names, rejects requests without it (and echoes method, authority and
//!   path in the reason);
//! - `configure-loop`: spins forever in `configure`;
//! - `configure-error`: refuses every config.
#![allow(
    clippy::too_many_arguments,
    reason = "the export shim wit-bindgen generates for `route` takes the connection record as 11 flat values"
)]
use std::cell::Cell;

wit_bindgen::generate!({ world: "router", path: "../../../../wit" });

use bindery::plugin::routing::{self, IpAddress};

thread_local! {
    static MODE: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
    static CALLS: Cell<u32> = const { Cell::new(0) };
}

struct Hostile;

impl Guest for Hostile {
    fn configure(config: String) -> Result<(), String> {
        let v: serde_json::Value = serde_json::from_str(&config).map_err(|e| e.to_string())?;
        let mode = v
            .get("mode")
            .and_then(|m| m.as_str())
            .unwrap_or("ok")
            .to_string();
        if mode == "configure-loop" {
            spin();
        }
        if mode == "configure-error" {
            return Err("mode configure-error refuses every config".to_string());
        }
        MODE.with(|m| *m.borrow_mut() = mode);
        Ok(())
    }

    fn route(connection: Connection, candidates: Vec<Candidate>) -> Decision {
        let mode = MODE.with(|m| m.borrow().clone());
        CALLS.with(|c| c.set(c.get() + 1));
        match mode.as_str() {
            "loop" => spin(),
            "alloc" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![1u8; 16 << 20]);
                    if hoard.len() > 1 << 20 {
                        return Decision::Reject(format!("{}", hoard.len()));
                    }
                }
            }
            "trap" => core::arch::wasm32::unreachable(),
            "trap-if" if matches!(connection.client_ip, IpAddress::Ipv4((6, 6, 6, 6))) => {
                core::arch::wasm32::unreachable()
            }
            "escape" => Decision::Reject(escape()),
            "bad-index" => Decision::Try(vec![candidates.len() as u32 + 7]),
            "count" => Decision::Reject(CALLS.with(|c| c.get()).to_string()),
            "header" => match routing::header("x-upstream").and_then(|v| v.parse().ok()) {
                Some(i) => Decision::Try(vec![i]),
                None => Decision::Reject(format!(
                    "no x-upstream in {} {}{}",
                    routing::method().unwrap_or_default(),
                    routing::authority().unwrap_or_default(),
                    routing::path().unwrap_or_default()
                )),
            },
            _ => Decision::Try((0..candidates.len() as u32).collect()),
        }
    }
}

fn spin() -> ! {
    let mut x: u64 = 0;
    loop {
        x = std::hint::black_box(x.wrapping_add(1));
    }
}

fn escape() -> String {
    let file = std::fs::read_to_string("/etc/passwd")
        .map(|s| s.len().to_string())
        .unwrap_or_else(|e| format!("denied({e})"));
    let dir = std::fs::read_dir("/")
        .map(|_| "listed".to_string())
        .unwrap_or_else(|e| format!("denied({e})"));
    let env = std::env::vars().count();
    let net = std::net::TcpStream::connect("127.0.0.1:1")
        .map(|_| "connected".to_string())
        .unwrap_or_else(|e| format!("denied({e})"));
    format!("file={file} dir={dir} env={env} net={net}")
}

export!(Hostile);
