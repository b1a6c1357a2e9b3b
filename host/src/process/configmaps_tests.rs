use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::ConfigMap;

use super::{files, materialize};

fn map(name: &str, data: &[(&str, &str)], binary: &[(&str, &[u8])]) -> Arc<ConfigMap> {
    let mut m = ConfigMap::default();
    m.metadata.name = Some(name.into());
    m.data = Some(
        data.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    );
    m.binary_data = Some(
        binary
            .iter()
            .map(|(k, v)| (k.to_string(), ByteString(v.to_vec())))
            .collect(),
    );
    Arc::new(m)
}

#[test]
fn data_and_binary_data_become_files_and_paths_are_refused() {
    let maps = vec![
        map(
            "policy",
            &[
                ("policy.yaml", "account: a\n"),
                ("../evil", "x"),
                (".hidden", "x"),
            ],
            &[],
        ),
        map("plugins", &[], &[("router.wasm", b"\0asm")]),
        map("unrelated", &[("policy.yaml", "account: z\n")], &[]),
    ];
    let got = files(&maps, &["policy".into(), "plugins".into()]);
    let want = BTreeMap::from([
        ("policy.yaml".to_string(), b"account: a\n".to_vec()),
        ("router.wasm".to_string(), b"\0asm".to_vec()),
    ]);
    assert_eq!(got, want);
}

#[test]
fn only_changed_files_are_written_and_dropped_ones_removed() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("mine.txt"), "not from a ConfigMap").expect("write");
    let mut written = BTreeSet::new();
    let mut files = BTreeMap::from([
        ("policy.yaml".to_string(), b"a".to_vec()),
        ("r.wasm".to_string(), b"w".to_vec()),
    ]);
    assert!(materialize(dir.path(), &files, &mut written).expect("write"));
    assert!(
        !materialize(dir.path(), &files, &mut written).expect("write"),
        "nothing changed"
    );
    files.remove("r.wasm");
    files.insert("policy.yaml".into(), b"b".to_vec());
    assert!(materialize(dir.path(), &files, &mut written).expect("write"));
    assert_eq!(
        std::fs::read(dir.path().join("policy.yaml")).expect("read"),
        b"b"
    );
    assert!(!dir.path().join("r.wasm").exists());
    assert!(
        dir.path().join("mine.txt").exists(),
        "a file it did not write stays"
    );
}
