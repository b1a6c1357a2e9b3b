//! `builtin:naming-default`.
//!
//! - target: the URL's `name` in the URL's `namespace`;
//! - upstream: `<prefix>-<name>-<namespace>-<hash>` in the operator namespace,
//!   where `hash` is 12 base-32 characters (60 bits) of SHA-256 over the
//!   account and the host, and `name`/`namespace` are shortened so the whole
//!   fits Kubernetes' 63 characters. Every URL of one host in one account
//!   shares the upstream Service (one port per URL); different hosts or
//!   accounts never share one.
//!
//! Config: `{"prefix": "bnd"}` (optional; a lowercase letter first, then
//! `[a-z0-9-]`, at most 10 characters).
// The generated export glue flattens the endpoint record into many arguments.
#![allow(clippy::too_many_arguments)]
use std::cell::RefCell;

use sha2::{Digest, Sha256};

// Small blocks from size-class free lists (see `guest-alloc`).
guest_alloc::install!();

wit_bindgen::generate!({ world: "naming", path: "../../wit" });

const HASH_LEN: usize = 12;
const MAX: usize = 63;

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default = "default_prefix")]
    prefix: String,
}

fn default_prefix() -> String {
    "bnd".to_string()
}

thread_local! {
    static PREFIX: RefCell<String> = RefCell::new(default_prefix());
}

struct DefaultNaming;

impl Guest for DefaultNaming {
    fn configure(config: String) -> Result<(), String> {
        let config: Config = serde_json::from_str(&config).map_err(|e| {
            format!("naming-default config is {{\"prefix\": \"<prefix>\"}} or {{}}: {e}")
        })?;
        let p = &config.prefix;
        let ok = (1..=10).contains(&p.len())
            && p.starts_with(|c: char| c.is_ascii_lowercase())
            && p.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !p.ends_with('-');
        if !ok {
            return Err(format!(
                "naming-default prefix {p:?} must be 1-10 characters of [a-z0-9-], starting with a letter and not ending with '-'"
            ));
        }
        PREFIX.with(|cell| *cell.borrow_mut() = config.prefix);
        Ok(())
    }

    fn names(endpoint: Endpoint, _context: NamingContext) -> Result<Names, String> {
        let upstream_name = PREFIX.with(|p| upstream_name(&p.borrow(), &endpoint));
        Ok(Names {
            upstream_name,
            target_name: endpoint.name,
            target_namespace: endpoint.namespace,
        })
    }
}

fn upstream_name(prefix: &str, e: &Endpoint) -> String {
    let mut digest = Sha256::new();
    digest.update(e.account.as_bytes());
    digest.update([0]);
    digest.update(e.name.as_bytes());
    digest.update(b".");
    digest.update(e.namespace.as_bytes());
    let hash = base32(&digest.finalize());
    // prefix - name - namespace - hash
    let room = MAX - prefix.len() - HASH_LEN - 3;
    let name_room = room / 2;
    let name = shorten(
        &e.name,
        name_room.max(room.saturating_sub(e.namespace.len())),
    );
    let namespace = shorten(&e.namespace, room - name.len());
    format!("{prefix}-{name}-{namespace}-{hash}")
}

/// At most `n` characters, without a trailing '-' (names are DNS labels).
fn shorten(s: &str, n: usize) -> &str {
    let cut = &s[..s.len().min(n)];
    cut.trim_end_matches('-')
}

fn base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
    let mut out = String::with_capacity(HASH_LEN);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for b in bytes {
        acc = (acc << 8) | u32::from(*b);
        bits += 8;
        while bits >= 5 && out.len() < HASH_LEN {
            bits -= 5;
            out.push(ALPHABET[((acc >> bits) & 31) as usize] as char);
        }
        if out.len() == HASH_LEN {
            break;
        }
    }
    out
}

export!(DefaultNaming);
