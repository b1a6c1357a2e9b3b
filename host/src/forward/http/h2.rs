//! An h2 (prior knowledge) client connection, served by hyper for its
//! whole life: its requests are streams, and it closes with a GOAWAY.
use std::pin::Pin;

use hyper::server::conn::http2;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};

use super::{Client, Close, Io};

/// [`serve`] on the heap: built in place there, so that hyper's h2 state
/// takes no room in the task of every HTTP/1 connection.
pub(super) fn boxed<'a>(
    io: Io,
    client: &'a Client,
    max_head: usize,
) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>> {
    Box::pin(serve(io, client, max_head))
}

async fn serve(io: Io, client: &Client, max_head: usize) {
    let mut builder = http2::Builder::new(TokioExecutor::new());
    builder
        .timer(TokioTimer::new())
        .keep_alive_interval(None)
        .max_header_list_size(u32::try_from(max_head).unwrap_or(u32::MAX));
    let conn = builder.serve_connection(TokioIo::new(io), client.service.clone());
    tokio::pin!(conn);
    let mut told = client.watch(None);
    let result = tokio::select! {
        biased;
        r = conn.as_mut() => r,
        Ok(why) = &mut told => {
            if matches!(why, Close::Idle) {
                client.closing_idle();
            }
            // Streams in flight finish first.
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = result {
        tracing::debug!(client = %client.peer, error = %e, "h2 connection ended with an error");
    }
}
