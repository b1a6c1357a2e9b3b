//! An HTTP/1 client connection: served by hyper while requests come, and
//! parked while it idles. Hyper keeps a read and a write buffer (8 KiB
//! each, more after a large head) and its state for a connection's whole
//! life; a connection quiet for [`PARK_AFTER`] after a request is taken
//! back from hyper with any bytes it had read and waits for its next byte
//! holding only its socket, as HAProxy and Envoy release an idle
//! connection's buffers. Its next byte starts a new hyper connection.
use std::future::poll_fn;
use std::task::Poll;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::io::AsyncWriteExt;

use super::{Client, Close, Io, Service, upgrade};

/// How long a kept-alive connection stays with hyper after a request:
/// long enough that a client sending requests back to back never pays for
/// a new hyper connection, short next to any idle timeout.
pub const PARK_AFTER: Duration = Duration::from_secs(1);

type Conn = http1::Connection<TokioIo<Io>, Service>;

/// How a period with hyper ended.
enum Period {
    /// Closed: gracefully (the stream is shut down) or not.
    Ended(Option<Io>),
    /// Quiet: the stream waits for its next byte.
    Parked(Io),
    /// Switched protocols by a `101`.
    Switched(Io, upgrade::Switch),
}

/// What ended a parked wait.
enum Woken {
    Read,
    Stop,
    Idle,
}

pub(super) async fn serve(mut io: Io, client: &Client) {
    let counters = &client.downstream().counters;
    // Bytes hyper had read of a head not yet whole when the connection
    // parked are served at once, and the next period parks only after a
    // request.
    loop {
        // Boxed, and bound before the await so that no temporary keeps
        // room in this frame: a parked connection's task holds none of
        // hyper's state.
        let live = Box::pin(live(io, client));
        let period = live.await;
        io = match period {
            Period::Ended(Some(mut io)) => {
                let _ = io.shutdown().await;
                return;
            }
            Period::Ended(None) => return,
            Period::Switched(io, switch) => {
                let tunnel = Box::pin(upgrade::tunnel(io, switch, counters));
                tunnel.await;
                return;
            }
            Period::Parked(io) => io,
        };
        if io.has_front() {
            continue;
        }
        counters.parked.inc();
        tracing::trace!(client = %client.peer, "http connection parked");
        let woken = park(&io, client).await;
        counters.parked.dec();
        tracing::trace!(client = %client.peer, "http connection woken");
        match woken {
            Woken::Read => {}
            Woken::Stop => return,
            Woken::Idle => {
                client.closing_idle();
                return;
            }
        }
    }
}

/// Serve requests until the connection closes, switches or goes quiet.
async fn live(io: Io, client: &Client) -> Period {
    let mut conn = http1::Builder::new()
        .keep_alive(true)
        // A response head and its body go out in one buffer by `send`,
        // not as two by `writev`: less CPU per request, and large bodies
        // no slower.
        .writev(false)
        .serve_connection(TokioIo::new(io), client.service.clone());
    let mut told = client.watch(Some(PARK_AFTER));
    let why = tokio::select! {
        biased;
        r = poll_fn(|cx| conn.poll_without_shutdown(cx)) => return ended(conn, r, client),
        Ok(why) = &mut told => why,
    };
    drop(told);
    tracing::trace!(client = %client.peer, why = ?why, "http connection leaves hyper");
    std::pin::Pin::new(&mut conn).graceful_shutdown();
    match why {
        Close::Park => {
            // Hyper waiting for a head closes at once; anything else means
            // it was busy after all, and the connection closes after it.
            match poll_fn(|cx| Poll::Ready(conn.poll_without_shutdown(cx))).await {
                Poll::Ready(Ok(())) => {
                    let io = into_io(conn);
                    io.get_ref().get_ref().release();
                    Period::Parked(io)
                }
                Poll::Ready(r) => ended(conn, r, client),
                Poll::Pending => {
                    let r = poll_fn(|cx| conn.poll_without_shutdown(cx)).await;
                    ended(conn, r, client)
                }
            }
        }
        Close::Stop => {
            let r = poll_fn(|cx| conn.poll_without_shutdown(cx)).await;
            ended(conn, r, client)
        }
        Close::Idle => {
            let activity = client.activity();
            client.closing_idle();
            // Nothing is in flight, but hyper waits for a request head it
            // has begun to read: a trickling client is dropped after a
            // grace, unless a request arrived meanwhile.
            let started = activity.started();
            let grace = (client.idle / 4).max(Duration::from_millis(1));
            tokio::select! {
                r = poll_fn(|cx| conn.poll_without_shutdown(cx)) => return ended(conn, r, client),
                _ = tokio::time::sleep(grace) => {}
            }
            if !activity.busy_since(started) {
                return Period::Ended(None);
            }
            let r = poll_fn(|cx| conn.poll_without_shutdown(cx)).await;
            ended(conn, r, client)
        }
    }
}

/// The period is over: a switch, a close, or an error.
fn ended(conn: Conn, result: hyper::Result<()>, client: &Client) -> Period {
    if let Err(e) = result {
        tracing::debug!(client = %client.peer, error = %e, "http connection ended with an error");
        return Period::Ended(None);
    }
    let io = into_io(conn);
    match client.downstream().switch.take() {
        Some(switch) => Period::Switched(io, switch),
        None => Period::Ended(Some(io)),
    }
}

/// The stream back from hyper, with what hyper had read and not parsed in
/// front.
fn into_io(conn: Conn) -> Io {
    let parts = conn.into_parts();
    let mut io = parts.io.into_inner();
    io.give_back(parts.read_buf);
    io
}

/// Wait for the client's next byte holding only the socket; the idle
/// timeout runs on from the quiet that parked it.
async fn park(io: &Io, client: &Client) -> Woken {
    let socket = io.get_ref().get_ref().get_ref();
    let left = client.idle.saturating_sub(PARK_AFTER);
    tokio::select! {
        biased;
        _ = client.stop.cancelled() => Woken::Stop,
        // An error or the client's close is read by the next hyper
        // connection, which ends at once.
        _ = socket.readable() => Woken::Read,
        _ = tokio::time::sleep(left) => Woken::Idle,
    }
}
