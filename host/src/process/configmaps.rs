//! `--watch-configmap NAME`: ConfigMaps of the operator namespace written
//! into a directory laid out like the mounted volume (`policy.yaml` from
//! `data`, `*.wasm` from `binaryData`), which the policy reload watches like
//! any other policy directory. A file is rewritten only when its bytes
//! change (atomically: temp file and rename), and removed when it leaves
//! every watched ConfigMap.
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use futures::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::Api;
use kube::runtime::{WatchStreamExt, reflector, watcher};
use tokio_util::sync::CancellationToken;

/// Files of the watched ConfigMaps, by file name; a later ConfigMap in
/// `names` wins a name both hold.
pub fn files(maps: &[std::sync::Arc<ConfigMap>], names: &[String]) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for name in names {
        let Some(map) = maps
            .iter()
            .find(|m| m.metadata.name.as_deref() == Some(name))
        else {
            continue;
        };
        for (k, v) in map.data.iter().flatten() {
            out.insert(k.clone(), v.clone().into_bytes());
        }
        for (k, v) in map.binary_data.iter().flatten() {
            out.insert(k.clone(), v.0.clone());
        }
    }
    out.retain(|k, _| safe_name(k));
    out
}

/// Plain file names only: a key is never a path.
fn safe_name(k: &str) -> bool {
    !k.is_empty() && !k.starts_with('.') && !k.contains('/') && !k.contains('\\')
}

/// Make `dir` hold exactly `files` (besides files it never wrote).
pub fn materialize(
    dir: &Path,
    files: &BTreeMap<String, Vec<u8>>,
    written: &mut BTreeSet<String>,
) -> std::io::Result<bool> {
    let mut changed = false;
    for (name, bytes) in files {
        let path = dir.join(name);
        if std::fs::read(&path).ok().as_deref() == Some(bytes.as_slice()) {
            written.insert(name.clone());
            continue;
        }
        let tmp = dir.join(format!(".{name}.tmp"));
        std::fs::write(&tmp, bytes)?;
        std::fs::rename(&tmp, &path)?;
        written.insert(name.clone());
        changed = true;
    }
    let gone: Vec<String> = written
        .iter()
        .filter(|n| !files.contains_key(*n))
        .cloned()
        .collect();
    for name in gone {
        match std::fs::remove_file(dir.join(&name)) {
            Ok(()) => changed = true,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        written.remove(&name);
    }
    Ok(changed)
}

/// Watch the ConfigMaps and keep `dir` up to date until `stop`. Returns
/// once the first listing is written, so the first policy load sees it.
pub async fn keep(
    client: kube::Client,
    namespace: &str,
    names: Vec<String>,
    dir: PathBuf,
    stop: CancellationToken,
) {
    let (reader, writer) = reflector::store();
    let api: Api<ConfigMap> = Api::namespaced(client, namespace);
    let stream = reflector::reflector(
        writer,
        watcher(api, watcher::Config::default()).backoff(crate::cluster::retry::Retry::default()),
    );
    let (first_tx, first_rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let mut first = Some(first_tx);
        let mut written = BTreeSet::new();
        let events = stream.for_each(|event| {
            let settled = match event {
                Err(e) => {
                    tracing::warn!(error = %e, "ConfigMap watch interrupted; retrying");
                    false
                }
                // Mid-listing the cache is not the whole truth yet.
                Ok(watcher::Event::Init | watcher::Event::InitApply(_)) => false,
                Ok(_) => true,
            };
            if settled {
                let wanted = files(&reader.state(), &names);
                match materialize(&dir, &wanted, &mut written) {
                    Ok(true) => tracing::info!(dir = %dir.display(), files = wanted.len(), "ConfigMaps written"),
                    Ok(false) => {}
                    Err(e) => tracing::error!(dir = %dir.display(), error = %e, "cannot write the ConfigMaps' files"),
                }
                if let Some(tx) = first.take() {
                    let _ = tx.send(());
                }
            }
            futures::future::ready(())
        });
        tokio::select! {
            _ = stop.cancelled() => {}
            _ = events => {}
        }
    });
    let _ = first_rx.await;
}

#[cfg(test)]
#[path = "configmaps_tests.rs"]
mod tests;
