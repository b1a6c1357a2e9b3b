use super::{CatalogError, parse_str};

#[test]
fn one_bad_entry_does_not_hide_the_others() {
    let entries = parse_str(
        r#"
endpoints:
  - url: http://a.b
    upstreams: [{address: 10.0.0.1:80}]
  - url: http://c.d
    upsteams: [{address: 10.0.0.1:80}]
  - url: http://e.f
    labels: {version: [1]}
    upstreams: [{address: 10.0.0.1:80}]
  - url: http://g.h
    upstreams: [{address: 10.0.0.1:80, wieght: 2}]
  - just a string
  - url: http://i.j
    pooling: maybe
    upstreams: [{address: 10.0.0.1:80}]
"#,
        "c.yaml",
    )
    .expect("the file parses");
    assert_eq!(entries.len(), 6);
    assert!(entries[0].spec.is_ok());
    let errors: Vec<String> = entries[1..]
        .iter()
        .map(|e| e.spec.clone().unwrap_err().message)
        .collect();
    assert_eq!(
        errors[0],
        "upsteams: unknown field; the fields are url, account, labels, metadata, pooling, mode, upstreams"
    );
    assert!(
        errors[1].starts_with("labels.version: invalid type"),
        "{}",
        errors[1]
    );
    assert_eq!(
        errors[2],
        "upstreams[0].wieght: unknown field; the fields are address, weight"
    );
    assert!(errors[3].contains("must be a mapping"), "{}", errors[3]);
    assert!(
        errors[4].starts_with("pooling: invalid type"),
        "{}",
        errors[4]
    );
    assert_eq!(entries[1].id, "c.yaml endpoints[1]");
    assert_eq!(entries[1].url(), Some("http://c.d"));
}

#[test]
fn defaults_are_filled_in() {
    let entries = parse_str(
        "endpoints:\n  - url: http://a.b\n    upstreams: [{address: 1.2.3.4:80}]\n",
        "c",
    )
    .unwrap();
    let spec = entries[0].spec.as_ref().unwrap();
    assert_eq!(spec.account, "default");
    assert!(spec.pooling);
    assert_eq!(spec.upstreams[0].weight, 1);
}

#[test]
fn empty_catalogs_are_empty() {
    assert!(parse_str("", "c").unwrap().is_empty());
    assert!(parse_str("endpoints:\n", "c").unwrap().is_empty());
    assert!(parse_str("endpoints: []\n", "c").unwrap().is_empty());
}

#[test]
fn a_file_of_the_wrong_shape_is_an_error_naming_it() {
    let e = parse_str("- url: http://a.b\n", "c.yaml").unwrap_err();
    assert!(matches!(e, CatalogError::Shape { .. }));
    assert_eq!(
        e.to_string(),
        "catalog c.yaml must be a mapping with an `endpoints:` list (found a list); see examples/"
    );
    let e = parse_str("endpoint: []\n", "c.yaml").unwrap_err();
    assert!(e.to_string().contains("unknown key `endpoint`"), "{e}");
    let e = parse_str("endpoints: [\n", "c.yaml").unwrap_err();
    assert!(matches!(e, CatalogError::Yaml { .. }), "{e}");
}
