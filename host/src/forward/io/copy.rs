//! Both directions of a forwarded connection ([`super::one_way`] each, a
//! FIN passed on as a FIN), and an idle timeout that counts bytes in either
//! direction as activity.
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Instant;

use super::one_way::OneWay;

/// Bytes copied each way.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Copied {
    pub client_to_upstream: u64,
    pub upstream_to_client: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error("idle for {0:?}")]
    Idle(Duration),
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// Copy until both sides are done, an error, or `idle` without a byte.
/// The caller closes both streams when this returns: the direction that
/// ends second leaves its FIN to that close.
pub async fn bidirectional<C, U>(
    client: C,
    upstream: U,
    idle: Duration,
) -> Result<Copied, CopyError>
where
    C: AsyncRead + AsyncWrite + Unpin,
    U: AsyncRead + AsyncWrite + Unpin,
{
    bidirectional_from(client, upstream, idle, OneWay::default()).await
}

/// [`bidirectional`], with the client-to-upstream direction already begun.
pub async fn bidirectional_from<C, U>(
    client: C,
    upstream: U,
    idle: Duration,
    mut up: OneWay,
) -> Result<Copied, CopyError>
where
    C: AsyncRead + AsyncWrite + Unpin,
    U: AsyncRead + AsyncWrite + Unpin,
{
    let start = Instant::now();
    let last = Arc::new(AtomicU64::new(0));
    let mut client = Tracked {
        inner: client,
        start,
        last: last.clone(),
    };
    let mut upstream = Tracked {
        inner: upstream,
        start,
        last: last.clone(),
    };
    let mut down = OneWay::default();
    let (mut up_done, mut down_done) = (None, None);
    let copy = std::future::poll_fn(|cx| {
        if up_done.is_none()
            && let Poll::Ready(r) = up.poll_copy(
                cx,
                Pin::new(&mut client),
                Pin::new(&mut upstream),
                down_done.is_some(),
            )
        {
            up_done = Some(r?);
        }
        if down_done.is_none()
            && let Poll::Ready(r) = down.poll_copy(
                cx,
                Pin::new(&mut upstream),
                Pin::new(&mut client),
                up_done.is_some(),
            )
        {
            down_done = Some(r?);
        }
        match (up_done, down_done) {
            (Some(a), Some(b)) => Poll::Ready(Ok::<_, io::Error>((a, b))),
            _ => Poll::Pending,
        }
    });
    tokio::pin!(copy);
    let mut deadline = start + idle;
    loop {
        tokio::select! {
            r = &mut copy => {
                let (up, down) = r?;
                return Ok(Copied { client_to_upstream: up, upstream_to_client: down });
            }
            _ = tokio::time::sleep_until(deadline) => {
                let seen = start + Duration::from_millis(last.load(Ordering::Relaxed));
                if seen + idle <= Instant::now() {
                    return Err(CopyError::Idle(idle));
                }
                deadline = seen + idle;
            }
        }
    }
}

/// Records the time of the last byte read.
struct Tracked<S> {
    inner: S,
    start: Instant,
    last: Arc<AtomicU64>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Tracked<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            let ms = self.start.elapsed().as_millis() as u64;
            self.last.store(ms, Ordering::Relaxed);
        }
        r
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Tracked<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
