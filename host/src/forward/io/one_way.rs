//! One direction of a forwarded connection: read into a buffer, write it
//! all out, pass the FIN on as a FIN. The buffer is taken without zeroing
//! and its pages are touched only as far as bytes arrive, so a short
//! connection costs neither a memset of the buffer nor resident memory;
//! and it is given back whenever everything read was written and nothing
//! more is there to read, so an idle connection holds no buffer.
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncWrite};

/// Buffer per direction. On loopback, iperf3 through Bindery reached about
/// 15.4 Gbit/s with 32 KiB, 11.6 with 64 KiB and 12.3 with 16 KiB (HAProxy: 13.2; 30 s
/// soaks, `cargo bench --bench peers -- --soak bindery bulk`): a buffer the
/// size of the CPU's fast caches beats fewer, larger system calls.
pub const BUFFER: usize = 32 * 1024;

#[derive(Default)]
pub struct OneWay {
    buf: BytesMut,
    written: usize,
    eof: bool,
    unflushed: bool,
    pub total: u64,
}

impl OneWay {
    /// A direction whose first bytes were read already, the first `sent`
    /// of them written already.
    pub fn seeded(buf: BytesMut, sent: usize) -> OneWay {
        OneWay {
            written: sent,
            total: sent as u64,
            unflushed: false,
            eof: false,
            buf,
        }
    }

    /// Ready with the byte count once `from` has ended and `to` is shut
    /// for writing. `closing`: the other direction has ended, so both
    /// sockets are closed as soon as this returns and their close sends the
    /// FIN; no shutdown is needed (nothing is left unread that would turn
    /// the close into a reset: `to` has sent its own FIN).
    pub fn poll_copy<R, W>(
        &mut self,
        cx: &mut Context<'_>,
        mut from: Pin<&mut R>,
        mut to: Pin<&mut W>,
        closing: bool,
    ) -> Poll<io::Result<u64>>
    where
        R: AsyncRead + ?Sized,
        W: AsyncWrite + ?Sized,
    {
        loop {
            if self.written == self.buf.len() && !self.eof {
                self.buf.clear();
                self.written = 0;
                self.buf.reserve(BUFFER);
                match tokio_util::io::poll_read_buf(from.as_mut(), cx, &mut self.buf) {
                    Poll::Ready(Ok(0)) => self.eof = true,
                    Poll::Ready(Ok(_)) => {}
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                    Poll::Pending => {
                        // Idle until the next bytes: the allocator keeps the
                        // buffer at hand for this thread's next read,
                        // and returns it to the system if none comes.
                        self.buf = BytesMut::new();
                        // Nothing more to read now: push out what was written.
                        if self.unflushed {
                            ready!(to.as_mut().poll_flush(cx))?;
                            self.unflushed = false;
                        }
                        return Poll::Pending;
                    }
                }
            }
            while self.written < self.buf.len() {
                let n = ready!(to.as_mut().poll_write(cx, &self.buf[self.written..]))?;
                if n == 0 {
                    return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
                }
                self.written += n;
                self.total += n as u64;
                self.unflushed = true;
            }
            if self.eof {
                if closing {
                    if self.unflushed {
                        ready!(to.as_mut().poll_flush(cx))?;
                    }
                    return Poll::Ready(Ok(self.total));
                }
                ready!(to.as_mut().poll_shutdown(cx))?;
                return Poll::Ready(Ok(self.total));
            }
        }
    }
}
