use super::*;

#[test]
fn threads_are_pinned_only_when_they_match_the_cpu_set() {
    assert_eq!(plan(2, &[0, 1], None), Some(vec![0, 1]));
    assert_eq!(plan(2, &[4, 9], Some("1")), Some(vec![4, 9]));
    assert_eq!(plan(2, &[0, 1], Some("0")), None, "switched off");
    assert_eq!(
        plan(2, &[0, 1, 2, 3], None),
        None,
        "a quota on a larger set"
    );
    assert_eq!(plan(4, &[0, 1], None), None, "more threads than CPUs");
    assert_eq!(plan(1, &[3], None), None, "one thread has nothing to share");
}

#[test]
fn a_pinned_thread_runs_only_on_its_cpu() {
    let cpus = allowed().expect("reads the affinity mask");
    assert!(!cpus.is_empty());
    let last = cpus[cpus.len() - 1];
    let seen = std::thread::spawn(move || {
        pin_current(last).expect("pins");
        allowed().expect("reads it back")
    })
    .join()
    .expect("thread ran");
    assert_eq!(seen, [last]);
    assert_eq!(allowed().expect("reads"), cpus, "other threads stay free");
    assert!(pin_current(usize::MAX).is_err());
}
