//! Which CPU each forwarder thread runs on. When the process may run on
//! exactly as many CPUs as there are forwarder threads (a machine or VM of
//! its own, or exclusive CPUs from the kubelet's static CPU manager), each
//! thread is pinned to one of them, as HAProxy's `cpu-map` and nginx's
//! `worker_cpu_affinity` do. Left free, the scheduler keeps moving the
//! threads between CPUs and next to the clients and upstreams they talk to,
//! and throughput varies widely from run to run. On a
//! larger CPU set (a quota on a shared node) the threads stay free:
//! pinning them there would pile every replica onto the first CPUs.
use std::io;

/// `BINDERY_FORWARD_PIN=0` leaves the threads unpinned in every case.
pub const PIN_ENV: &str = "BINDERY_FORWARD_PIN";

/// The CPU of each of `threads` threads, or `None` to leave them free.
pub fn plan(threads: usize, allowed: &[usize], pin_env: Option<&str>) -> Option<Vec<usize>> {
    if pin_env.is_some_and(|v| v.trim() == "0") || threads < 2 || allowed.len() != threads {
        return None;
    }
    Some(allowed.to_vec())
}

/// The CPUs the calling thread may run on.
pub fn allowed() -> io::Result<Vec<usize>> {
    // SAFETY: a zeroed cpu_set_t is a valid empty set; the kernel writes at
    // most `size_of::<cpu_set_t>()` bytes into it.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    let size = std::mem::size_of::<libc::cpu_set_t>();
    // SAFETY: `set` is a live cpu_set_t of `size` bytes.
    if unsafe { libc::sched_getaffinity(0, size, &mut set) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let max = libc::CPU_SETSIZE as usize;
    // SAFETY: every index is below CPU_SETSIZE.
    Ok((0..max)
        .filter(|&cpu| unsafe { libc::CPU_ISSET(cpu, &set) })
        .collect())
}

/// Pin the calling thread to `cpu`.
pub fn pin_current(cpu: usize) -> io::Result<()> {
    restrict_current(&[cpu])
}

/// Let the calling thread run on `cpus` only (a thread a pinned thread
/// starts inherits its pin; this gives it back the process's set).
pub fn restrict_current(cpus: &[usize]) -> io::Result<()> {
    // SAFETY: as in `allowed`.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    for &cpu in cpus {
        if cpu >= libc::CPU_SETSIZE as usize {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("CPU {cpu} is beyond the affinity mask"),
            ));
        }
        // SAFETY: `cpu` was checked against CPU_SETSIZE.
        unsafe { libc::CPU_SET(cpu, &mut set) };
    }
    let size = std::mem::size_of::<libc::cpu_set_t>();
    // SAFETY: `set` is a live cpu_set_t of `size` bytes.
    if unsafe { libc::sched_setaffinity(0, size, &set) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
#[path = "affinity_tests.rs"]
mod tests;
