//! The limit on open files, raised at start as HAProxy and Envoy do: a
//! forwarded `tcp://` connection holds two descriptors, and the usual soft
//! limit (1,024) would refuse connections long before `maxConnections`.
//! The soft limit goes up to the hard one, which only the system may raise.

/// Raise the soft `RLIMIT_NOFILE` to the hard limit; the soft limit in
/// effect, before and after.
pub fn raise_limit() -> std::io::Result<(u64, u64)> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: a valid resource and a pointer to an rlimit.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let before = lim.rlim_cur;
    if lim.rlim_cur >= lim.rlim_max {
        return Ok((before, before));
    }
    let raised = libc::rlimit {
        rlim_cur: lim.rlim_max,
        rlim_max: lim.rlim_max,
    };
    // SAFETY: as above.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok((before, lim.rlim_max))
}
