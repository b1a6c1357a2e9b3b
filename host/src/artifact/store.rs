//! Pulled artifacts on disk, content-addressed as in an OCI image layout:
//! `blobs/sha256/<hex>` holds manifests and components alike, and every
//! read is checked against its digest (a file that does not match is
//! deleted and fetched again, never used). `tags/` remembers the digest a
//! tag last resolved to, so a restart with the registry down still starts.
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::digest::Digest;
use super::reference::OciRef;

pub struct Store {
    dir: PathBuf,
}

#[derive(Serialize, Deserialize)]
struct TagRecord {
    reference: String,
    digest: String,
}

impl Store {
    /// The store under `dir`, created when missing; `None` (with a warning)
    /// when it cannot be, and then nothing is cached.
    pub fn open(dir: &Path) -> Option<Store> {
        let made = ["blobs/sha256", "tags"]
            .iter()
            .try_for_each(|d| std::fs::create_dir_all(dir.join(d)));
        match made {
            Ok(()) => Some(Store {
                dir: dir.to_path_buf(),
            }),
            Err(e) => {
                tracing::warn!(dir = %dir.display(), error = %e, "artifact cache directory unusable; pulled plugins are not cached");
                None
            }
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.dir.join("blobs/sha256").join(digest.hex())
    }

    /// The blob's bytes when present and intact.
    pub fn blob(&self, digest: &Digest) -> Option<Vec<u8>> {
        let path = self.blob_path(digest);
        let bytes = std::fs::read(&path).ok()?;
        if digest.matches(&bytes) {
            return Some(bytes);
        }
        tracing::warn!(file = %path.display(), %digest, "cached artifact does not match its digest; discarded and fetched again");
        let _ = std::fs::remove_file(&path);
        None
    }

    pub fn put_blob(&self, digest: &Digest, bytes: &[u8]) {
        write_atomic(&self.blob_path(digest), bytes);
    }

    fn tag_path(&self, reference: &OciRef) -> PathBuf {
        self.dir
            .join("tags")
            .join(Digest::of(reference.to_string().as_bytes()).hex())
    }

    /// The manifest digest `reference` (a tag) last resolved to.
    pub fn tag(&self, reference: &OciRef) -> Option<Digest> {
        let text = std::fs::read(self.tag_path(reference)).ok()?;
        let record: TagRecord = serde_json::from_slice(&text).ok()?;
        (record.reference == reference.to_string())
            .then(|| Digest::parse(&record.digest).ok())
            .flatten()
    }

    pub fn put_tag(&self, reference: &OciRef, digest: &Digest) {
        let record = TagRecord {
            reference: reference.to_string(),
            digest: digest.to_string(),
        };
        if let Ok(text) = serde_json::to_vec(&record) {
            write_atomic(&self.tag_path(reference), &text);
        }
    }
}

/// A temporary file renamed into place: readers see all of it or none.
pub fn write_atomic(path: &Path, bytes: &[u8]) {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let r = std::fs::write(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, path));
    if let Err(e) = r {
        let _ = std::fs::remove_file(&tmp);
        tracing::warn!(file = %path.display(), error = %e, "could not write to the cache");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blobs_are_checked_on_every_read() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let d = Digest::of(b"component");
        assert_eq!(store.blob(&d), None);
        store.put_blob(&d, b"component");
        assert_eq!(store.blob(&d).as_deref(), Some(&b"component"[..]));
        std::fs::write(store.blob_path(&d), b"tampered").unwrap();
        assert_eq!(store.blob(&d), None, "a tampered blob is not used");
        assert!(!store.blob_path(&d).exists(), "and is deleted");
    }

    #[test]
    fn tags_remember_their_last_digest() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let r = OciRef::parse("oci://127.0.0.1:5000/router:v1").unwrap();
        let other = OciRef::parse("oci://127.0.0.1:5000/router:v2").unwrap();
        assert_eq!(store.tag(&r), None);
        store.put_tag(&r, &Digest::of(b"m1"));
        store.put_tag(&r, &Digest::of(b"m2"));
        assert_eq!(store.tag(&r), Some(Digest::of(b"m2")));
        assert_eq!(store.tag(&other), None);
    }
}
