//! Compiled components, cached by the SHA-256 of their bytes: in memory for
//! the life of the process and on disk across runs.
//!
//! A file on disk is keyed by the component's digest and by a hash of the
//! engine's compatibility (wasmtime's version, target and every setting
//! that changes the code), and carries the SHA-256 of its own bytes in a
//! sidecar: a file whose bytes do not match, or that wasmtime refuses, is
//! deleted and the component compiled again, never loaded on trust.
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

use super::error::chain;

pub type Sha256Digest = [u8; 32];

pub struct ComponentCache {
    memory: Mutex<HashMap<Sha256Digest, Component>>,
    dir: Option<PathBuf>,
    /// Distinguishes artifacts of engines with different settings.
    engine_tag: String,
}

/// Feeds `Hash` output into SHA-256, for a key stable across processes
/// (std's `DefaultHasher` promises no such thing).
struct Sha256Hasher(Sha256);

impl Hasher for Sha256Hasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    fn finish(&self) -> u64 {
        let d = self.0.clone().finalize();
        u64::from_le_bytes(d[..8].try_into().unwrap_or_default())
    }
}

/// The key part that covers the engine: wasmtime's compatibility hash,
/// which covers its version, the target, the compiler's flags and the
/// tunables and features that change the code.
pub fn engine_tag(engine: &Engine) -> String {
    let mut h = Sha256Hasher(Sha256::new());
    engine.precompile_compatibility_hash().hash(&mut h);
    hex::encode(&h.0.finalize()[..12])
}

impl ComponentCache {
    pub fn new(engine: &Engine, dir: Option<PathBuf>) -> ComponentCache {
        let dir = dir.and_then(|d| match std::fs::create_dir_all(&d) {
            Ok(()) => Some(d),
            Err(e) => {
                tracing::warn!(dir = %d.display(), error = %e, "plugin cache directory unusable; compiling in memory only");
                None
            }
        });
        ComponentCache {
            memory: Mutex::new(HashMap::new()),
            dir,
            engine_tag: engine_tag(engine),
        }
    }

    /// The compiled component for `bytes` and their digest.
    pub fn get(&self, engine: &Engine, bytes: &[u8]) -> Result<(Component, Sha256Digest), String> {
        let digest: Sha256Digest = Sha256::digest(bytes).into();
        if let Some(c) = self.lock().get(&digest) {
            return Ok((c.clone(), digest));
        }
        let file = self
            .dir
            .as_ref()
            .map(|d| d.join(format!("{}-{}.cwasm", hex::encode(digest), self.engine_tag)));
        let component = match file.as_deref().and_then(|f| load(engine, f)) {
            Some(c) => c,
            None => {
                let c = Component::new(engine, bytes).map_err(|e| chain(&e))?;
                if let Some(f) = &file {
                    store(&c, f);
                }
                c
            }
        };
        self.lock().insert(digest, component.clone());
        Ok((component, digest))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Sha256Digest, Component>> {
        self.memory.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn sidecar(file: &Path) -> PathBuf {
    file.with_extension("cwasm.sha256")
}

/// The cached compilation in `file`, if its bytes match the digest written
/// beside them and wasmtime accepts them; anything else is deleted.
fn load(engine: &Engine, file: &Path) -> Option<Component> {
    let bytes = std::fs::read(file).ok()?;
    let expected = std::fs::read_to_string(sidecar(file)).unwrap_or_default();
    let verdict = if hex::encode(Sha256::digest(&bytes)) != expected.trim() {
        Err("its bytes do not match the digest recorded beside them".to_string())
    } else {
        // SAFETY: the bytes are exactly those `Component::serialize` wrote
        // for an engine with this compatibility hash (the digest beside
        // them matched), and wasmtime checks the header and settings again.
        unsafe { Component::deserialize(engine, &bytes) }.map_err(|e| chain(&e))
    };
    match verdict {
        Ok(c) => Some(c),
        Err(reason) => {
            tracing::warn!(file = %file.display(), %reason, "compiled plugin cache entry discarded; compiling again");
            let _ = std::fs::remove_file(file);
            let _ = std::fs::remove_file(sidecar(file));
            None
        }
    }
}

/// Write atomically, the digest first: a reader that sees the artifact
/// finds its digest beside it.
fn store(c: &Component, file: &Path) {
    let result = c.serialize().map_err(|e| e.to_string()).and_then(|bytes| {
        let digest = hex::encode(Sha256::digest(&bytes));
        let tmp = file.with_extension(format!("tmp{}", std::process::id()));
        std::fs::write(sidecar(file), digest)
            .and_then(|()| std::fs::write(&tmp, bytes))
            .and_then(|()| std::fs::rename(&tmp, file))
            .map_err(|e| e.to_string())
    });
    if let Err(e) = result {
        tracing::debug!(file = %file.display(), error = %e, "could not write plugin cache entry");
    }
}

#[cfg(test)]
#[path = "cache_tests.rs"]
mod tests;
