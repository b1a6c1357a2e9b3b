//! Compiled components, cached by the SHA-256 of their bytes: in memory for
//! the life of the process and on disk across runs.
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::PathBuf;
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

impl ComponentCache {
    pub fn new(engine: &Engine, dir: Option<PathBuf>) -> ComponentCache {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut h);
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
            engine_tag: format!("{:016x}", h.finish()),
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
        let cached = file.as_ref().filter(|f| f.exists()).and_then(|f| {
            // SAFETY: the file was written by `Component::serialize` of an
            // engine with the same compatibility hash, in a directory this
            // process owns; wasmtime still checks the header and the engine
            // settings, and any error falls back to compiling.
            match unsafe { Component::deserialize_file(engine, f) } {
                Ok(c) => Some(c),
                Err(e) => {
                    tracing::debug!(file = %f.display(), error = %e, "stale plugin cache entry; recompiling");
                    None
                }
            }
        });
        let component = match cached {
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

/// Write atomically: a temporary file renamed into place.
fn store(c: &Component, file: &PathBuf) {
    let result = c.serialize().map_err(|e| e.to_string()).and_then(|bytes| {
        let tmp = file.with_extension(format!("tmp{}", std::process::id()));
        std::fs::write(&tmp, bytes)
            .and_then(|()| std::fs::rename(&tmp, file))
            .map_err(|e| e.to_string())
    });
    if let Err(e) = result {
        tracing::debug!(file = %file.display(), error = %e, "could not write plugin cache entry");
    }
}
