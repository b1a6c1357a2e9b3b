use super::{load, parse_str};
use crate::policy::{PluginSource, Policy};

#[test]
fn defaults() {
    let p = parse_str("", "p").unwrap();
    assert_eq!(p, Policy::default());
    assert_eq!(p.cel_expressions(), vec!["true"]);
    assert_eq!(p.naming.plugin, "builtin:naming-default");
    assert_eq!(p.router.plugin, "builtin:round-robin");
    assert_eq!(p.service_fqdn("u", "ns"), "u.ns.svc.cluster.local");
    assert_eq!(p.default_mode, crate::catalog::Mode::Proxy);
}

#[test]
fn a_default_mode_is_proxy_or_direct() {
    let p = parse_str("defaultMode: direct\n", "p").unwrap();
    assert_eq!(p.default_mode, crate::catalog::Mode::Direct);
    let e = parse_str("defaultMode: bypass\n", "p.yaml")
        .unwrap_err()
        .to_string();
    assert!(e.contains("defaultMode: unknown variant `bypass`"), "{e}");
    assert!(e.contains("proxy") && e.contains("direct"), "{e}");
}

#[test]
fn the_design_example_parses() {
    let p = parse_str(
        r#"
account: default
clusterDomain: svc.cluster.local
endpointSelectors:
  - "endpoint.labels.team == 'storage'"
naming: {plugin: builtin:naming-default, config: {}}
router: {plugin: builtin:round-robin, config: {}}
"#,
        "p",
    )
    .unwrap();
    assert_eq!(
        p.cel_expressions(),
        vec!["endpoint.labels.team == 'storage'"]
    );
    // Both spellings of the cluster domain give the same FQDN.
    assert_eq!(p.service_fqdn("u", "ns"), "u.ns.svc.cluster.local");
}

#[test]
fn custom_selectors_replace_the_default_true() {
    let p = parse_str("selectors: [{plugin: mine.wasm}]\n", "p").unwrap();
    assert!(p.cel_expressions().is_empty());
}

#[test]
fn errors_name_the_field_and_the_fix() {
    let cases = [
        ("acount: x\n", "unknown field `acount`"),
        ("account: 'a b'\n", "account \"a b\" is not valid"),
        (
            "clusterDomain: 'bad_domain'\n",
            "clusterDomain \"bad_domain\" is not a DNS name",
        ),
        ("endpointSelectors: ['']\n", "endpointSelectors[0] is empty"),
        ("ports: {first: 30000, last: 20000}\n", "is not a range"),
        (
            "router: {plugin: ../r.wasm}\n",
            "router.plugin: plugin \"../r.wasm\" must be builtin:<name>, a .wasm file name",
        ),
        ("router: {plugin: r.so}\n", "router.plugin"),
        (
            "router: {plugin: 'oci://team/router:v1'}\n",
            "router.plugin: \"oci://team/router:v1\": \"team\" is not a registry",
        ),
        (
            "router: {plugin: 'oci://r.example.com/router'}\n",
            "has neither a tag nor a digest",
        ),
        (
            "naming: {plugin: n.wasm, limits: {memoryMib: 0}}\n",
            "naming.limits.memoryMib 0 is out of range",
        ),
        (
            "router: {plugin: builtin:round-robin, limits: {timeoutMs: 0}}\n",
            "router.limits.timeoutMs 0",
        ),
        (
            "endpointSelectors: \"true\"\n",
            "endpointSelectors: invalid type",
        ),
    ];
    for (yaml, needle) in cases {
        let e = parse_str(yaml, "p.yaml").unwrap_err().to_string();
        assert!(e.starts_with("policy p.yaml: "), "{e}");
        assert!(
            e.contains(needle),
            "{yaml:?} gave {e:?}, expected {needle:?}"
        );
    }
}

#[test]
fn a_directory_is_read_like_the_mounted_configmap() {
    let dir = tempfile::tempdir().unwrap();
    assert!(
        load(Some(dir.path()))
            .unwrap_err()
            .to_string()
            .contains("has no policy.yaml")
    );
    std::fs::write(dir.path().join("policy.yaml"), "router: {plugin: r.wasm}\n").unwrap();
    let loaded = load(Some(dir.path())).unwrap();
    assert_eq!(
        loaded.policy.router.source(&loaded.dir).unwrap(),
        PluginSource::File(dir.path().join("r.wasm"))
    );
    let file = load(Some(&dir.path().join("policy.yaml"))).unwrap();
    assert_eq!(file.dir, dir.path());
}

#[test]
fn oci_references_are_plugin_sources() {
    let p = parse_str(
        "router: {plugin: 'oci://127.0.0.1:5000/routers/tenant:v1'}\nnaming: {plugin: 'oci://registry.example.com/naming@sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae'}\n",
        "p",
    )
    .unwrap();
    let PluginSource::Oci(r) = p.router.source(std::path::Path::new(".")).unwrap() else {
        panic!("not an OCI source");
    };
    assert_eq!(r.tag(), Some("v1"));
    let PluginSource::Oci(n) = p.naming.source(std::path::Path::new(".")).unwrap() else {
        panic!("not an OCI source");
    };
    assert!(n.digest().is_some());
}
