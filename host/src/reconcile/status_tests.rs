use super::desired;
use crate::pipeline::RejectKind;
use crate::reconcile::verdict::Verdict;

fn ready() -> Verdict {
    Verdict::Ready {
        target: "apps/web".into(),
        upstream: "ops/bnd-web".into(),
        port: 20001,
    }
}

fn condition<'a>(
    s: &'a crate::catalog::BoundEndpointStatus,
    t: &str,
) -> &'a k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition {
    s.conditions
        .iter()
        .find(|c| c.type_ == t)
        .expect("condition")
}

#[test]
fn a_projected_endpoint_is_ready_with_every_condition_and_generation() {
    let s = desired(&ready(), Some(3), None);
    for (t, status) in [
        ("Ready", "True"),
        ("Selected", "True"),
        ("ServicesApplied", "True"),
        ("Conflict", "False"),
    ] {
        let c = condition(&s, t);
        assert_eq!(
            (c.status.as_str(), c.observed_generation),
            (status, Some(3)),
            "{t}"
        );
    }
    assert_eq!(condition(&s, "Ready").reason, "Projected");
    assert_eq!(s.target.as_deref(), Some("apps/web"));
}

#[test]
fn the_same_verdict_again_is_the_same_status_so_nothing_is_written() {
    let first = desired(&ready(), Some(1), None);
    std::thread::sleep(std::time::Duration::from_millis(5));
    assert_eq!(desired(&ready(), Some(1), Some(&first)), first);
    // A new generation or reason is a change; an unchanged status keeps its
    // transition time.
    let next = desired(&ready(), Some(2), Some(&first));
    assert_ne!(next, first);
    assert_eq!(
        condition(&next, "Ready").last_transition_time,
        condition(&first, "Ready").last_transition_time
    );
}

#[test]
fn conflicts_and_rejections_give_their_reasons() {
    let blocked = Verdict::Blocked {
        reason: "Conflict",
        message: "Service apps/web exists".into(),
        target: "apps/web".into(),
        upstream: Some("ops/u".into()),
    };
    let s = desired(&blocked, Some(1), None);
    assert_eq!(
        (
            condition(&s, "Ready").status.as_str(),
            condition(&s, "Ready").reason.as_str()
        ),
        ("False", "Conflict")
    );
    assert_eq!(condition(&s, "Conflict").status, "True");
    assert_eq!(condition(&s, "Selected").status, "True");
    let unselected = Verdict::Rejected {
        kind: RejectKind::NotSelected,
        message: "no endpoint selector returned true".into(),
    };
    let s = desired(&unselected, Some(1), None);
    assert_eq!(
        (
            condition(&s, "Selected").status.as_str(),
            condition(&s, "Selected").reason.as_str()
        ),
        ("False", "NotSelected")
    );
    assert_eq!(s.target, None);
}

fn direct(ready: usize, listed: usize, ignored: &[&str]) -> Verdict {
    Verdict::Direct {
        target: "storage/rgw".into(),
        listing: crate::pipeline::project::Listing {
            listed,
            ready,
            problems: vec!["rgw9.example:7480 (e) does not resolve: no such host".into()],
        },
        ignored: ignored.iter().map(|s| s.to_string()).collect(),
    }
}

#[test]
fn a_direct_endpoint_is_ready_while_an_endpoint_is_and_says_what_was_left_out() {
    let s = desired(&direct(11, 12, &[]), Some(2), None);
    let ready = condition(&s, "Ready");
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        ("True", "Projected")
    );
    assert!(ready.message.contains("11 of 12"), "{}", ready.message);
    assert!(
        ready.message.contains("does not resolve"),
        "{}",
        ready.message
    );
    assert_eq!(s.mode, Some(crate::catalog::Mode::Direct));
    assert_eq!(s.endpoints.as_deref(), Some("11/12"));
    assert_eq!(
        (s.target.as_deref(), s.upstream.as_deref()),
        (Some("storage/rgw"), None)
    );
    assert_eq!(condition(&s, "SettingsIgnored").status, "False");

    let s = desired(&direct(0, 12, &["weights do not act"]), Some(2), None);
    let ready = condition(&s, "Ready");
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        ("False", "NoReadyEndpoints")
    );
    assert!(
        ready.message.contains("kube-proxy rejects"),
        "{}",
        ready.message
    );
    let applied = condition(&s, "ServicesApplied");
    assert_eq!(
        (applied.status.as_str(), applied.reason.as_str()),
        ("True", "Applied")
    );
    let ignored = condition(&s, "SettingsIgnored");
    assert_eq!(
        (ignored.status.as_str(), ignored.reason.as_str()),
        ("True", "DirectMode")
    );
    assert_eq!(ignored.message, "weights do not act");
}
