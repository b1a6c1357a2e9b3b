use std::io::{ErrorKind, Read};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::*;

/// A current-thread runtime like a forwarder thread's, with its sending
/// task or without.
fn runtime(sender: bool) -> tokio::runtime::Runtime {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    if sender {
        rt.spawn(send_forever());
    }
    rt
}

/// A held stream and its peer, a blocking std socket.
async fn pair() -> (HeldStream, std::net::TcpStream) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let ours = TcpStream::connect(listener.local_addr().unwrap())
        .await
        .unwrap();
    let (peer, _) = listener.accept().unwrap();
    peer.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    (HeldStream::new(ours), peer)
}

/// What the peer can read without waiting.
fn ready(peer: &std::net::TcpStream) -> Vec<u8> {
    peer.set_nonblocking(true).unwrap();
    let mut got = vec![0u8; 64 * 1024];
    let n = match (&*peer).read(&mut got) {
        Ok(n) => n,
        Err(e) if e.kind() == ErrorKind::WouldBlock => 0,
        Err(e) => panic!("peer read: {e}"),
    };
    peer.set_nonblocking(false).unwrap();
    got.truncate(n);
    got
}

#[test]
fn small_writes_leave_together_at_the_end_of_the_turn() {
    runtime(true).block_on(async {
        let (mut ours, peer) = pair().await;
        ours.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
        ours.write_all(b"\r\n").await.unwrap();
        ours.flush().await.unwrap();
        assert_eq!(ready(&peer), b"", "sent before the turn ended");
        tokio::task::yield_now().await;
        assert_eq!(ready(&peer), b"GET / HTTP/1.1\r\n\r\n");
    });
}

#[test]
fn without_a_sending_task_writes_go_straight_out() {
    runtime(false).block_on(async {
        let (mut ours, peer) = pair().await;
        ours.write_all(b"hello").await.unwrap();
        assert_eq!(ready(&peer), b"hello");
    });
}

#[test]
fn a_large_write_goes_out_at_once_after_what_is_held() {
    runtime(true).block_on(async {
        let (mut ours, peer) = pair().await;
        ours.write_all(b"head").await.unwrap();
        let big = vec![7u8; HOLD_MAX + 1];
        ours.write_all(&big).await.unwrap();
        let mut want = b"head".to_vec();
        want.extend_from_slice(&big);
        assert_eq!(ready(&peer), want);
    });
}

#[test]
fn bytes_the_kernel_refuses_at_the_end_of_a_turn_follow_in_order() {
    // The peer reads nothing at first: the socket buffers fill, sends at
    // the end of a turn come up short, and the writer has to finish them.
    const TOTAL: usize = 16 << 20;
    runtime(true).block_on(async {
        let (mut ours, mut peer) = pair().await;
        let reader = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            let mut got = Vec::with_capacity(TOTAL);
            peer.read_to_end(&mut got).unwrap();
            got
        });
        let pattern: Vec<u8> = (0..TOTAL).map(|i| (i % 251) as u8).collect();
        for piece in pattern.chunks(1000) {
            ours.write_all(piece).await.unwrap();
            tokio::task::yield_now().await;
        }
        ours.shutdown().await.unwrap();
        drop(ours);
        let got = tokio::task::spawn_blocking(move || reader.join().unwrap())
            .await
            .unwrap();
        assert_eq!(got.len(), TOTAL);
        assert!(got == pattern, "bytes lost or out of order");
    });
}

#[test]
fn a_stream_dropped_in_its_turn_sends_what_it_held_and_no_other_socket_gets_it() {
    runtime(true).block_on(async {
        let (mut ours, mut peer) = pair().await;
        ours.write_all(b"last words").await.unwrap();
        drop(ours);
        // The descriptor is free again: the next socket likely takes it,
        // and the end of the turn must not write to it.
        let (_next, next_peer) = pair().await;
        tokio::task::yield_now().await;
        let mut got = Vec::new();
        peer.read_to_end(&mut got).unwrap();
        assert_eq!(got, b"last words");
        assert_eq!(ready(&next_peer), b"");
    });
}

#[test]
fn a_send_failing_at_the_end_of_the_turn_fails_the_next_write() {
    runtime(true).block_on(async {
        let (mut ours, peer) = pair().await;
        // Closed with a reset: the next send fails.
        socket2::SockRef::from(&peer)
            .set_linger(Some(Duration::ZERO))
            .unwrap();
        drop(peer);
        let mut buf = [0u8; 1];
        // Our side has seen the reset once a read returns.
        let _ = ours.read(&mut buf).await;
        ours.write_all(b"x").await.unwrap();
        tokio::task::yield_now().await;
        let err = ours.write_all(b"y").await.unwrap_err();
        assert!(
            matches!(
                err.kind(),
                ErrorKind::ConnectionReset | ErrorKind::BrokenPipe
            ),
            "{err}"
        );
    });
}
