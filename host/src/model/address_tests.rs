use std::net::IpAddr;

use super::{Host, canonical, slice_ip_problem, split};

fn ip(s: &str) -> IpAddr {
    s.parse().expect("an IP")
}

#[test]
fn addresses_split_into_an_ip_or_a_name_and_a_port() {
    assert_eq!(
        split("10.0.0.11:7480"),
        Some((Host::Ip(ip("10.0.0.11")), 7480))
    );
    assert_eq!(split("[fd00::1]:80"), Some((Host::Ip(ip("fd00::1")), 80)));
    assert_eq!(
        split("[::ffff:10.1.2.3]:80"),
        Some((Host::Ip(ip("10.1.2.3")), 80)),
        "IPv4-mapped is IPv4"
    );
    assert_eq!(
        split("rgw1.example.com:7480"),
        Some((Host::Name("rgw1.example.com"), 7480))
    );
    assert_eq!(split("rgw1.example.com"), None);
    assert_eq!(split("10.0.0.1:0"), None);
}

#[test]
fn what_kubernetes_refuses_in_a_slice_is_named() {
    for bad in [
        "0.0.0.0",
        "127.0.0.1",
        "127.9.9.9",
        "169.254.1.1",
        "224.0.0.1",
        "239.1.2.3",
        "255.255.255.255",
        "::",
        "::1",
        "fe80::1",
        "ff02::1",
        "ff0e::1",
        "::ffff:127.0.0.1",
    ] {
        assert!(slice_ip_problem(ip(bad)).is_some(), "{bad} accepted");
    }
    for good in [
        "10.0.0.11",
        "192.168.1.1",
        "8.8.8.8",
        "fd00::1",
        "2001:db8::1",
    ] {
        assert_eq!(slice_ip_problem(ip(good)), None, "{good}");
    }
    assert!(
        slice_ip_problem(ip("127.0.0.1"))
            .unwrap()
            .contains("loopback")
    );
    assert_eq!(canonical(ip("::ffff:10.0.0.1")), ip("10.0.0.1"));
}
