use super::*;

#[test]
fn a_blocking_thread_of_a_pinned_forwarder_runs_on_every_cpu() {
    let all = affinity::allowed().expect("reads the affinity mask");
    let shards = Shards::start().expect("starts");
    let (tx, rx) = std::sync::mpsc::channel();
    shards.spawn_each([async move {
        let own = affinity::allowed();
        let blocking = tokio::task::spawn_blocking(affinity::allowed).await;
        let _ = tx.send((own, blocking));
    }]);
    let (own, blocking) = rx
        .recv_timeout(std::time::Duration::from_secs(10))
        .expect("the task ran");
    let own = own.expect("reads the forwarder's mask");
    let blocking = blocking.expect("joined").expect("reads the mask");
    if pinning(shards.len()).is_some() {
        assert_eq!(own, [all[0]], "the first forwarder is pinned");
    }
    assert_eq!(blocking, all, "not the forwarder's pin");
}
