//! Memory a burst of connections freed, given back to the system. The
//! allocator of the binary (mimalloc) returns a thread's free pages when
//! that thread allocates or frees again after the purge delay; a forwarder
//! thread left idle by the end of a burst would keep them resident. Each
//! forwarder thread asks for it now and then.
use std::time::Duration;

/// How often a forwarder thread collects: often enough that memory follows
/// a burst down within seconds, rarely enough to cost nothing.
const EVERY: Duration = Duration::from_secs(2);

/// Collect this thread's free memory every [`EVERY`], for ever.
pub async fn collect_forever() {
    let mut every = tokio::time::interval(EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        // SAFETY: no arguments to uphold; `false` collects without
        // forcing, what mimalloc does itself on a busy thread.
        unsafe { libmimalloc_sys::mi_collect(false) };
    }
}
