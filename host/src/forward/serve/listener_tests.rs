use std::time::{Duration, Instant};

use super::*;

#[test]
fn every_socket_of_the_group_accepts_with_nodelay_already_on() {
    let group = bind("127.0.0.1:0".parse().expect("addr"), 2).expect("binds");
    let addr = group[0].local_addr().expect("addr");
    assert!(group.iter().all(|l| l.local_addr().ok() == Some(addr)));
    // The kernel picks the socket of the group (they are non-blocking):
    // take the connection from whichever got it.
    let _client = std::net::TcpStream::connect(addr).expect("connect");
    let deadline = Instant::now() + Duration::from_secs(5);
    let accepted = loop {
        if let Some((s, _)) = group.iter().find_map(|l| l.accept().ok()) {
            break s;
        }
        assert!(Instant::now() < deadline, "no socket of the group accepted");
        std::thread::sleep(Duration::from_millis(1));
    };
    assert!(accepted.nodelay().expect("reads TCP_NODELAY"));
}

#[test]
fn a_port_held_without_reuseport_is_refused() {
    let held = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = held.local_addr().expect("addr");
    assert!(bind(addr, 2).is_err());
}
