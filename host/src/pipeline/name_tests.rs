use super::check_rules;
use crate::pipeline::types::Names;

fn names(upstream: &str, target: &str, namespace: &str) -> Names {
    Names {
        upstream: upstream.to_string(),
        target_name: target.to_string(),
        target_namespace: namespace.to_string(),
    }
}

#[test]
fn names_that_kubernetes_takes_pass() {
    assert!(check_rules(&names("bnd-rgw-storage", "rgw", "storage")).is_ok());
    // A namespace may start with a digit; a Service name may not.
    assert!(check_rules(&names("a", "b", "1team")).is_ok());
}

#[test]
fn each_broken_rule_names_the_field_and_the_rule() {
    let e = check_rules(&names("Upper", "rgw", "storage")).expect_err("refused");
    assert!(
        e.starts_with("upstream name \"Upper\"") && e.contains("RFC 1035"),
        "{e}"
    );
    let e = check_rules(&names("u", "9rgw", "storage")).expect_err("refused");
    assert!(e.starts_with("target name \"9rgw\""), "{e}");
    let e = check_rules(&names("u", "rgw", "a_b")).expect_err("refused");
    assert!(
        e.starts_with("target namespace \"a_b\"") && e.contains("RFC 1123"),
        "{e}"
    );
    let long = "a".repeat(64);
    assert!(check_rules(&names(&long, "rgw", "storage")).is_err());
}
