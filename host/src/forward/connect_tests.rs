use std::io::{Read, Write};
use std::net::TcpListener;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::connect;

#[tokio::test]
async fn connects_with_nodelay_and_carries_bytes() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().expect("accept");
        let mut b = [0u8; 4];
        s.read_exact(&mut b).expect("read");
        s.write_all(&b).expect("write");
    });
    let mut s = connect(addr).await.expect("connects");
    assert!(s.nodelay().expect("nodelay"));
    s.write_all(b"ping").await.expect("write");
    let mut back = [0u8; 4];
    s.read_exact(&mut back).await.expect("read");
    assert_eq!(&back, b"ping");
    server.join().expect("server");
}

#[tokio::test]
async fn a_refused_connect_is_an_error_naming_the_refusal() {
    // A port that was just free: nothing listens on it.
    let addr = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port");
    let err = connect(addr).await.expect_err("nothing listens there");
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused, "{err}");
}
