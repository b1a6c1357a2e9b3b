//! An upstream response body, read from the connection by the task that
//! sends it to the client. Once its last byte is read the connection goes
//! back to the upstream's pool, before the client has even been sent it.
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};

use super::conn::Conn;
use super::framing::{Decoded, Framing, FramingError};
use super::pool::IdlePool;
use crate::forward::upstream::Upstream;

pub struct UpstreamBody {
    /// `None` once the body has ended (or failed).
    conn: Option<Conn>,
    framing: Framing,
    reusable: bool,
    addr: SocketAddr,
    upstream: Arc<Upstream>,
}

#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("reading the upstream's response body: {0}")]
    Io(#[from] std::io::Error),
    #[error("upstream response body: {0}")]
    Framing(#[from] FramingError),
    #[error("upstream closed the connection within the response body")]
    Truncated,
}

impl UpstreamBody {
    /// A body with nothing to read hands its connection back at once.
    pub fn new(
        conn: Conn,
        framing: Framing,
        reusable: bool,
        addr: SocketAddr,
        upstream: Arc<Upstream>,
    ) -> UpstreamBody {
        let mut body = UpstreamBody {
            conn: Some(conn),
            framing,
            reusable,
            addr,
            upstream,
        };
        if body.framing.is_done() {
            body.finish();
        }
        body
    }

    /// The body is read to its end: the connection goes back to the pool
    /// if it can carry another request, and is closed otherwise.
    fn finish(&mut self) {
        if let Some(conn) = self.conn.take()
            && self.reusable
        {
            IdlePool::of(&self.upstream).put(self.addr, conn);
        }
    }
}

impl Body for UpstreamBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = &mut *self;
        loop {
            let Some(conn) = this.conn.as_mut() else {
                return Poll::Ready(None);
            };
            match this.framing.decode(&mut conn.buf) {
                Ok(Decoded::Data(data)) => {
                    if this.framing.is_done() {
                        this.finish();
                    }
                    return Poll::Ready(Some(Ok(Frame::data(data))));
                }
                Ok(Decoded::Done) => {
                    this.finish();
                    return Poll::Ready(None);
                }
                Ok(Decoded::More) => {}
                Err(e) => {
                    this.conn = None;
                    return Poll::Ready(Some(Err(e.into())));
                }
            }
            match ready!(conn.poll_fill(cx)) {
                Ok(0) if matches!(this.framing, Framing::Close) => {
                    this.conn = None;
                    return Poll::Ready(None);
                }
                Ok(0) => {
                    this.conn = None;
                    return Poll::Ready(Some(Err(BodyError::Truncated)));
                }
                Ok(_) => {}
                Err(e) => {
                    this.conn = None;
                    return Poll::Ready(Some(Err(e.into())));
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.conn.is_none() || self.framing.is_done()
    }

    fn size_hint(&self) -> SizeHint {
        match self.framing.remaining() {
            Some(n) => SizeHint::with_exact(n),
            None => SizeHint::default(),
        }
    }
}
