//! One HTTP/1.1 connection to an upstream, used by one request at a time
//! from the task that serves the client connection: no task of its own and
//! no channel, so a request and its upstream exchange wake nothing else.
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use bytes::BytesMut;
use http::request::Parts;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};

use crate::forward::io::connect;
use crate::forward::io::held::HeldStream;

/// Read buffer of a connection, grown as a response head needs.
const READ_CHUNK: usize = 8 * 1024;

pub struct Conn {
    /// Its request heads go out at the end of the thread's turn.
    pub stream: HeldStream,
    /// Read but not yet consumed: the rest of a head, body bytes.
    pub buf: BytesMut,
    /// The request head being written.
    out: Vec<u8>,
    /// The pool's sweep count when it last went idle, for its age limit.
    pub idle_from: u64,
}

impl Conn {
    pub async fn open(addr: SocketAddr) -> io::Result<Conn> {
        Ok(Conn {
            stream: HeldStream::new(connect::connect(addr).await?),
            buf: BytesMut::with_capacity(READ_CHUNK),
            out: Vec::with_capacity(512),
            idle_from: 0,
        })
    }

    /// An idle connection the upstream closed (or sent bytes on unasked):
    /// only asks the kernel when the runtime has seen the socket readable.
    pub fn is_stale(&mut self) -> bool {
        if !self.buf.is_empty() {
            return true;
        }
        let mut cx = Context::from_waker(Waker::noop());
        match self.stream.get_ref().poll_read_ready(&mut cx) {
            Poll::Pending => false,
            Poll::Ready(Err(_)) => true,
            Poll::Ready(Ok(())) => {
                let mut probe = [0u8; 1];
                !matches!(self.stream.get_ref().try_read(&mut probe), Err(e) if e.kind() == io::ErrorKind::WouldBlock)
            }
        }
    }

    /// Write the request head: origin-form target, HTTP/1.1, the headers
    /// as they are, plus `Transfer-Encoding: chunked` when `chunked`.
    pub async fn write_head(&mut self, parts: &Parts, chunked: bool) -> io::Result<()> {
        let out = &mut self.out;
        out.clear();
        out.extend_from_slice(parts.method.as_str().as_bytes());
        out.push(b' ');
        let target = match (parts.uri.path_and_query(), parts.uri.authority()) {
            (Some(pq), _) => pq.as_str(),
            (None, Some(authority)) => authority.as_str(),
            (None, None) => "/",
        };
        out.extend_from_slice(target.as_bytes());
        out.extend_from_slice(b" HTTP/1.1\r\n");
        for (name, value) in &parts.headers {
            out.extend_from_slice(name.as_str().as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        if chunked {
            out.extend_from_slice(b"transfer-encoding: chunked\r\n");
        }
        out.extend_from_slice(b"\r\n");
        self.stream.write_all(&self.out).await
    }

    /// Read more into `buf`; `Ok(0)` at the end of the stream.
    pub fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        if self.buf.capacity() - self.buf.len() < READ_CHUNK / 4 {
            self.buf.reserve(READ_CHUNK);
        }
        let spare = self.buf.spare_capacity_mut();
        let mut rb = ReadBuf::uninit(spare);
        match Pin::new(&mut self.stream).poll_read(cx, &mut rb) {
            Poll::Ready(Ok(())) => {
                let n = rb.filled().len();
                // SAFETY: `poll_read` initialised the first `n` spare bytes.
                unsafe { self.buf.set_len(self.buf.len() + n) };
                Poll::Ready(Ok(n))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }

    pub async fn fill(&mut self) -> io::Result<usize> {
        std::future::poll_fn(|cx| self.poll_fill(cx)).await
    }

    pub async fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes).await
    }
}

/// After a `101`, the connection as a byte stream: what was read past the
/// response head comes first.
impl AsyncRead for Conn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if !self.buf.is_empty() {
            let n = self.buf.len().min(out.remaining());
            out.put_slice(&self.buf.split_to(n));
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.stream).poll_read(cx, out)
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}
