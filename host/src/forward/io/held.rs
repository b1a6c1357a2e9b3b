//! Small writes held to the end of the forwarder thread's turn. A
//! connection's bytes are queued, and one task per thread sends everything
//! queued once the tasks that were ready before it have run, as HAProxy
//! sends at the end of its loop: the thread reads a batch of requests, then
//! sends a batch, and a peer it wakes finds several waiting instead of one.
//! Each write still happens before the thread next waits for events.
//!
//! What the kernel does not take at once (a full socket buffer) is written
//! by the connection's own task, woken for it and waiting for writability,
//! before any later byte. A write that would hold more than [`HOLD_MAX`]
//! goes straight out, after what is held. On a thread without the sending
//! task ([`send_forever`]), writes go straight through.
use std::cell::RefCell;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// Bytes held per connection at most; a response head fits many times.
pub const HOLD_MAX: usize = 4096;
/// A connection's buffer keeps this much capacity between turns.
const KEEP_CAPACITY: usize = 1024;

thread_local! {
    static TURN: RefCell<Turn> = const {
        RefCell::new(Turn { sender: None, woken: false, queued: Vec::new() })
    };
}

/// This thread's turn: the connections with bytes held, and the task that
/// sends them.
struct Turn {
    sender: Option<Waker>,
    woken: bool,
    queued: Vec<Arc<Shared>>,
}

/// A connection's held bytes, shared by its stream and the thread's queue.
struct Shared {
    fd: RawFd,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    bytes: Vec<u8>,
    /// In this thread's queue for the end of the turn.
    queued: bool,
    /// The kernel did not take everything: the connection's task writes
    /// the rest itself before anything else.
    stuck: bool,
    /// The stream is dropped; its descriptor may be another's by now.
    closed: bool,
    /// Sending failed at the end of a turn; the next write reports it.
    error: Option<io::Error>,
    /// The task to wake when the connection is stuck or failed.
    writer: Option<Waker>,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// End of turn: send what is held.
    fn send(&self) {
        let mut st = self.state();
        st.queued = false;
        if st.closed || st.stuck || st.bytes.is_empty() {
            return;
        }
        match send_now(self.fd, &st.bytes) {
            Ok(n) if n == st.bytes.len() => {
                st.clear();
                // Kept only while bytes are held: a pooled upstream
                // connection must not keep a finished task alive.
                st.writer = None;
            }
            Ok(n) => {
                st.bytes.drain(..n);
                st.stuck = true;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => st.stuck = true,
            Err(e) => {
                st.clear();
                st.error = Some(e);
            }
        }
        if (st.stuck || st.error.is_some())
            && let Some(w) = st.writer.take()
        {
            w.wake();
        }
    }
}

impl State {
    fn clear(&mut self) {
        if self.bytes.capacity() > KEEP_CAPACITY {
            self.bytes = Vec::new();
        } else {
            self.bytes.clear();
        }
    }
}

/// One non-blocking `send` on a descriptor its owner keeps open.
fn send_now(fd: RawFd, bytes: &[u8]) -> io::Result<usize> {
    // SAFETY: `fd` is the open socket of a stream that is not yet dropped
    // (its `closed` is false under the lock held by the caller, and the
    // stream sets it under that lock before its socket closes); `bytes` is
    // a live slice of its length.
    let n = unsafe {
        libc::send(
            fd,
            bytes.as_ptr().cast(),
            bytes.len(),
            libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
        )
    };
    usize::try_from(n).map_err(|_| io::Error::last_os_error())
}

/// The sending task of this thread: sends what the turn held each time a
/// connection holds its first bytes of a turn. Runs until its runtime ends.
pub async fn send_forever() {
    let _registered = Registered;
    let mut batch = Vec::new();
    std::future::poll_fn(|cx| {
        TURN.with_borrow_mut(|t| {
            if !t.sender.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                t.sender = Some(cx.waker().clone());
            }
            t.woken = false;
            std::mem::swap(&mut t.queued, &mut batch);
        });
        for shared in batch.drain(..) {
            shared.send();
        }
        Poll::<()>::Pending
    })
    .await;
}

/// Leaving the thread's sending task: later writes go straight through, and
/// what is queued goes now.
struct Registered;

impl Drop for Registered {
    fn drop(&mut self) {
        let queued = TURN.with_borrow_mut(|t| {
            t.sender = None;
            std::mem::take(&mut t.queued)
        });
        for shared in queued {
            shared.send();
        }
    }
}

/// A TCP stream whose small writes are held to the end of the turn.
pub struct HeldStream {
    stream: TcpStream,
    shared: Arc<Shared>,
}

impl HeldStream {
    pub fn new(stream: TcpStream) -> HeldStream {
        let fd = stream.as_raw_fd();
        HeldStream {
            stream,
            shared: Arc::new(Shared {
                fd,
                state: Mutex::new(State::default()),
            }),
        }
    }

    pub fn get_ref(&self) -> &TcpStream {
        &self.stream
    }

    /// Give the buffer's kept capacity back while the connection idles.
    pub fn release(&self) {
        let mut st = self.shared.state();
        if st.bytes.is_empty() {
            st.bytes = Vec::new();
        }
    }

    /// Write what is held, in this task: `Ready(Ok)` once nothing is.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut st = self.shared.state();
        if let Some(e) = st.error.take() {
            return Poll::Ready(Err(e));
        }
        while !st.bytes.is_empty() {
            match Pin::new(&mut self.stream).poll_write(cx, &st.bytes) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => {
                    st.bytes.drain(..n);
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        st.stuck = false;
        st.clear();
        st.writer = None;
        Poll::Ready(Ok(()))
    }

    /// Hold `buf` for the end of the turn, if this thread has a sending
    /// task and it fits; `false` when it is to be written now.
    fn hold(&mut self, cx: &Context<'_>, buf: &[u8]) -> bool {
        let mut st = self.shared.state();
        if st.stuck || st.bytes.len() + buf.len() > HOLD_MAX {
            return false;
        }
        if !st.queued {
            let queued = TURN.with_borrow_mut(|t| {
                let Some(sender) = &t.sender else {
                    return false;
                };
                if !t.woken {
                    t.woken = true;
                    sender.wake_by_ref();
                }
                t.queued.push(self.shared.clone());
                true
            });
            if !queued {
                return false;
            }
            st.queued = true;
        }
        if !st.writer.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
            st.writer = Some(cx.waker().clone());
        }
        st.bytes.extend_from_slice(buf);
        true
    }
}

impl AsyncRead for HeldStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        // Bytes stuck at the end of a turn go out as soon as the socket
        // takes them, whatever this task waits for; a write error surfaces
        // at the next write.
        if self.shared.state().stuck {
            let _ = self.poll_drain(cx);
        }
        Pin::new(&mut self.stream).poll_read(cx, out)
    }
}

impl AsyncWrite for HeldStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if let Some(e) = self.shared.state().error.take() {
            return Poll::Ready(Err(e));
        }
        if self.hold(cx, buf) {
            return Poll::Ready(Ok(buf.len()));
        }
        std::task::ready!(self.poll_drain(cx))?;
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    /// What is held goes out at the end of the turn, before the thread
    /// waits; only bytes the kernel refused then are waited for here.
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let stuck = {
            let mut st = self.shared.state();
            if let Some(e) = st.error.take() {
                return Poll::Ready(Err(e));
            }
            st.stuck
        };
        if stuck {
            std::task::ready!(self.poll_drain(cx))?;
        }
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        std::task::ready!(self.poll_drain(cx))?;
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

impl Drop for HeldStream {
    /// Held bytes go out now, as far as the socket takes them, and the end
    /// of the turn no longer touches the descriptor.
    fn drop(&mut self) {
        let mut st = self.shared.state();
        if !st.bytes.is_empty() {
            let _ = send_now(self.shared.fd, &st.bytes);
        }
        st.closed = true;
        st.bytes = Vec::new();
        st.writer = None;
    }
}

#[cfg(test)]
#[path = "held_tests.rs"]
mod tests;
