use std::io::{Read, Write};
use std::net::TcpListener;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{connect, connect_sending};

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

/// Segments this socket has sent, handshake and pure ACKs included.
fn segments_sent(s: &tokio::net::TcpStream) -> u32 {
    use std::os::fd::AsRawFd;
    // SAFETY: tcp_info is plain integers, and the kernel writes at most
    // `len` bytes of it.
    let mut info: libc::tcp_info = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
    let rc = unsafe {
        libc::getsockopt(
            s.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            (&raw mut info).cast(),
            &mut len,
        )
    };
    assert_eq!(rc, 0, "TCP_INFO: {}", std::io::Error::last_os_error());
    info.tcpi_segs_out
}

/// A server that reads `n` bytes, reports them and waits to be let go.
fn reading_server(n: usize) -> (std::net::SocketAddr, std::sync::mpsc::Receiver<Vec<u8>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let (mut s, _) = listener.accept().expect("accept");
        let mut b = vec![0u8; n];
        s.read_exact(&mut b).expect("read");
        tx.send(b).expect("report");
        // Held open until the test ends and the client closes.
        let _ = s.read(&mut [0u8; 1]);
    });
    (addr, rx)
}

#[tokio::test]
async fn the_handshake_ack_rides_on_the_first_bytes() {
    let (addr, got) = reading_server(4);
    let (mut s, sent) = connect_sending(addr, b"ping").await.expect("connects");
    s.write_all(&b"ping"[sent..]).await.expect("write the rest");
    let got = tokio::task::spawn_blocking(move || got.recv())
        .await
        .expect("join")
        .expect("the server read");
    assert_eq!(got, b"ping");
    // SYN, then the bytes with the ACK: no ACK of its own in between.
    assert_eq!(segments_sent(&s), 2);
}

#[tokio::test]
async fn a_connect_with_nothing_to_send_acks_the_handshake_at_once() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    // A server-first protocol: the server greets once it has accepted,
    // which it can do only once the handshake is acked.
    let server = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().expect("accept");
        s.write_all(b"hi").expect("greet");
        let _ = s.read(&mut [0u8; 1]);
    });
    let (mut s, sent) = connect_sending(addr, &[]).await.expect("connects");
    assert_eq!(sent, 0);
    // SYN and the ACK, the ACK at once rather than after a delay.
    assert_eq!(segments_sent(&s), 2);
    let mut greeting = [0u8; 2];
    s.read_exact(&mut greeting).await.expect("greeted");
    assert_eq!(&greeting, b"hi");
    drop(s);
    server.join().expect("server");
}

#[tokio::test]
async fn a_caller_that_writes_at_once_sends_the_ack_with_its_bytes() {
    let (addr, got) = reading_server(4);
    let mut s = connect(addr).await.expect("connects");
    s.write_all(b"GET ").await.expect("write");
    let got = tokio::task::spawn_blocking(move || got.recv())
        .await
        .expect("join")
        .expect("the server read");
    assert_eq!(got, b"GET ");
    assert_eq!(segments_sent(&s), 2);
}
