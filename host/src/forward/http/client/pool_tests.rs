use std::sync::atomic::{AtomicU64, Ordering};

use super::*;

/// A pool of its own per test: the tests of a thread share its pools.
fn next_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(u64::MAX / 2);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// An idle connection to a listener that keeps its end open.
async fn open_idle() -> (SocketAddr, Conn, tokio::net::TcpStream) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (conn, accepted) = tokio::join!(Conn::open(addr), listener.accept());
    let conn = conn.expect("connect");
    let (server_end, _) = accepted.expect("accept");
    (addr, conn, server_end)
}

#[tokio::test(flavor = "current_thread")]
async fn an_idle_connection_is_kept_for_ten_sweeps_and_closed_at_the_tenth() {
    let pool = IdlePool {
        upstream: next_id(),
    };
    let (addr, conn, _server) = open_idle().await;
    pool.put(addr, conn);
    for _ in 0..MAX_IDLE_SWEEPS - 1 {
        sweep();
    }
    let conn = pool.take(addr).expect("kept through nine sweeps");
    pool.put(addr, conn);
    for _ in 0..MAX_IDLE_SWEEPS {
        sweep();
    }
    assert!(pool.take(addr).is_none(), "still pooled after ten sweeps");
}

#[tokio::test(flavor = "current_thread")]
async fn a_sweep_closes_an_idle_connection_its_upstream_closed() {
    let pool = IdlePool {
        upstream: next_id(),
    };
    let (addr, conn, server) = open_idle().await;
    pool.put(addr, conn);
    sweep();
    let conn = pool.take(addr).expect("open: kept");
    pool.put(addr, conn);
    drop(server);
    // The runtime sees the close once it polls for events.
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(10)).await;
        sweep();
        if pool.is_empty() {
            return;
        }
    }
    panic!("the connection its upstream closed is still pooled");
}
