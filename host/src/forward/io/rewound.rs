//! A stream with bytes given back in front of it: what was already read
//! from it (the protocol sniff, or the unparsed bytes of an HTTP connection
//! that was parked or switched protocols) is read again first.
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

pub struct Rewound<S> {
    front: Bytes,
    inner: S,
}

impl<S> Rewound<S> {
    pub fn new(inner: S, front: Bytes) -> Rewound<S> {
        Rewound { front, inner }
    }

    /// Put `bytes` back before whatever is still in front.
    pub fn give_back(&mut self, bytes: Bytes) {
        if bytes.is_empty() {
            return;
        }
        if self.front.is_empty() {
            self.front = bytes;
            return;
        }
        let mut both = BytesMut::with_capacity(bytes.len() + self.front.len());
        both.extend_from_slice(&bytes);
        both.extend_from_slice(&self.front);
        self.front = both.freeze();
    }

    /// Whether bytes are waiting in front of the stream's own.
    pub fn has_front(&self) -> bool {
        !self.front.is_empty()
    }

    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Rewound<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.front.is_empty() {
            return Pin::new(&mut self.inner).poll_read(cx, buf);
        }
        let n = self.front.len().min(buf.remaining());
        buf.put_slice(&self.front[..n]);
        self.front.advance(n);
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Rewound<S> {
    crate::forward::io::write_through!(inner);
}

#[cfg(test)]
#[path = "rewound_tests.rs"]
mod tests;
