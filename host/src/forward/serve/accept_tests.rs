use std::io::{ErrorKind, Read, Write};

use super::*;

#[tokio::test]
async fn accepts_non_blocking_sockets_that_any_runtime_can_take() {
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    std_listener.set_nonblocking(true).expect("non-blocking");
    let addr = std_listener.local_addr().expect("addr");
    let listener = Accepting::new(std_listener).expect("registers");
    let mut client = std::net::TcpStream::connect(addr).expect("connect");
    let (mut accepted, peer) = listener.accept().await.expect("accepts");
    assert_eq!(peer, client.local_addr().expect("client addr"));
    // Non-blocking: nothing to read is WouldBlock, not a hang.
    let mut b = [0u8; 1];
    let err = accepted.read(&mut b).expect_err("nothing sent yet");
    assert_eq!(err.kind(), ErrorKind::WouldBlock);
    // Not registered anywhere yet: this runtime takes it.
    client.write_all(b"x").expect("write");
    let mut stream = tokio::net::TcpStream::from_std(accepted).expect("registers here");
    tokio::io::AsyncReadExt::read_exact(&mut stream, &mut b)
        .await
        .expect("reads");
    assert_eq!(&b, b"x");
}
