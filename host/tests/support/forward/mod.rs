//! Forwarding under test, in three parts: upstream servers on loopback
//! ([`upstream`]), a forwarder in front of them, and clients ([`client`]).
//!
//! The forwarder comes two ways, from the same inputs (a policy, a catalog,
//! plugin files beside the policy, laid out by [`layout`]):
//! - [`Harness`]: in-process, one endpoint, with its counters, upstream
//!   state, drain and reload at hand;
//! - [`Standalone`]: the `bindery` binary, any number of endpoints, as a
//!   user runs it (files reloaded on change, the admin server, the log).
use std::net::SocketAddr;

pub mod client;
pub mod harness;
pub mod standalone;
pub mod upstream;

// One flat namespace for the tests; each test binary uses only some of it.
#[allow(unused_imports)]
pub use client::*;
#[allow(unused_imports)]
pub use harness::Harness;
#[allow(unused_imports)]
pub use standalone::Standalone;
#[allow(unused_imports)]
pub use upstream::*;

/// One catalog entry: `url` over `upstreams`, with `fields` (YAML
/// `key: value` lines of the entry, such as `labels: {team: a}`) or "".
pub fn entry(url: &str, upstreams: &[SocketAddr], fields: &str) -> String {
    let list: Vec<String> = upstreams
        .iter()
        .map(|a| format!("{{address: \"{a}\"}}"))
        .collect();
    let mut text = format!("  - url: {url}\n");
    for field in fields.lines().filter(|l| !l.trim().is_empty()) {
        text += &format!("    {}\n", field.trim());
    }
    text + &format!("    upstreams: [{}]\n", list.join(", "))
}

/// A catalog of [`entry`]s.
pub fn catalog_of(entries: &[String]) -> String {
    if entries.is_empty() {
        return "endpoints: []\n".into();
    }
    format!("endpoints:\n{}", entries.concat())
}

/// A catalog with the one endpoint `url` over `upstreams`, with `metadata`
/// given as YAML flow-mapping entries (`"k": "v", ...`) or empty.
pub fn catalog(url: &str, upstreams: &[SocketAddr], metadata: &str) -> String {
    catalog_of(&[entry(url, upstreams, &format!("metadata: {{{metadata}}}"))])
}

/// `policy` with the forwarder's ports set to `first..first + n`.
pub fn pin_ports(policy: &str, first: u16, n: u16) -> String {
    format!(
        "{policy}\nports: {{first: {first}, last: {}}}\n",
        first + n - 1
    )
}

/// `policy` with the forwarder's ports set to `n` free ones: the allocation
/// is a hash of the URL, the same in every test running in parallel.
pub fn on_free_ports(policy: &str, n: u16) -> String {
    pin_ports(policy, free_ports(n), n)
}

/// A fresh directory holding `catalog.yaml`, `policy.yaml` and `files`.
pub fn layout(policy: &str, catalog: &str, files: &[(&str, &[u8])]) -> tempfile::TempDir {
    let mut all: Vec<(&str, &[u8])> = vec![
        ("catalog.yaml", catalog.as_bytes()),
        ("policy.yaml", policy.as_bytes()),
    ];
    all.extend_from_slice(files);
    crate::support::dir_with(&all)
}
