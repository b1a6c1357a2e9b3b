use super::*;

fn engine(opt: wasmtime::OptLevel) -> Engine {
    let mut config = wasmtime::Config::new();
    config.wasm_component_model(true).cranelift_opt_level(opt);
    Engine::new(&config).unwrap()
}

fn component() -> Vec<u8> {
    wat::parse_str("(component)").unwrap()
}

fn cwasm(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "cwasm"))
        .collect();
    v.sort();
    v
}

#[test]
fn engines_with_other_settings_get_other_entries() {
    let speed = engine(wasmtime::OptLevel::Speed);
    let none = engine(wasmtime::OptLevel::None);
    assert_ne!(engine_tag(&speed), engine_tag(&none));
    assert_eq!(
        engine_tag(&speed),
        engine_tag(&engine(wasmtime::OptLevel::Speed))
    );
    let dir = tempfile::tempdir().unwrap();
    let bytes = component();
    ComponentCache::new(&speed, Some(dir.path().into()))
        .get(&speed, &bytes)
        .unwrap();
    ComponentCache::new(&none, Some(dir.path().into()))
        .get(&none, &bytes)
        .unwrap();
    assert_eq!(cwasm(dir.path()).len(), 2);
}

#[test]
fn a_damaged_entry_is_discarded_and_rebuilt() {
    let e = engine(wasmtime::OptLevel::Speed);
    let dir = tempfile::tempdir().unwrap();
    let bytes = component();
    ComponentCache::new(&e, Some(dir.path().into()))
        .get(&e, &bytes)
        .unwrap();
    let [file] = cwasm(dir.path()).try_into().unwrap();
    let good = std::fs::read(&file).unwrap();
    // A fresh process (a new cache) finds it intact and loads it.
    assert!(load(&e, &file).is_some());
    // One flipped byte: the digest beside it no longer matches.
    let mut bad = good.clone();
    let mid = bad.len() / 2;
    bad[mid] ^= 0xff;
    std::fs::write(&file, &bad).unwrap();
    assert!(load(&e, &file).is_none(), "a damaged entry is not loaded");
    assert!(!file.exists(), "and is deleted");
    // The next get compiles again and writes a good entry.
    ComponentCache::new(&e, Some(dir.path().into()))
        .get(&e, &bytes)
        .unwrap();
    assert_eq!(std::fs::read(&file).unwrap(), good);
    // An entry without its digest is not trusted either.
    std::fs::remove_file(sidecar(&file)).unwrap();
    assert!(load(&e, &file).is_none());
}
