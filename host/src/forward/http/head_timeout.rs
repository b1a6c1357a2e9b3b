//! `requestHeadTimeoutSeconds`: an HTTP/1 request head must arrive whole
//! within it, the first counted from the connection's accept, a later one
//! from its first byte (HAProxy's `timeout http-request`); else the
//! connection is closed. A kept-alive connection waiting for its next
//! request is the idle timeout's, a request body the body-progress
//! timeout's.
//!
//! Kept in the connection's reads rather than in hyper's
//! `header_read_timeout`, which arms a timer for every request and also
//! runs while a kept-alive connection waits for its next one: here the
//! timer is touched only when a head arrives in pieces. h2 connections
//! leave it after their first request (their streams' heads are h2's), and
//! a connection switched by `101` (its bytes are a tunnel's).
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

use super::idle::Activity;

/// Where the connection is, as the head timeout sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// A head is awaited; its deadline starts at the next wait.
    Head,
    /// A head is awaited under a running deadline.
    Timed,
    /// A request is in flight.
    Request,
    /// No request in flight and no byte of the next yet.
    Between,
    /// No longer watched: h2, a switched connection, or the deadline passed.
    Off,
}

/// A client connection's stream with the head deadline on its reads.
pub struct HeadTimed<S> {
    inner: S,
    activity: Arc<Activity>,
    timeout: Duration,
    phase: Phase,
    /// `activity.started()` when the phase was last worked out.
    seen: u64,
    /// Allocated for the first head that arrives in pieces, then reset.
    sleep: Option<Pin<Box<Sleep>>>,
    expired: Counter,
}

impl<S> HeadTimed<S> {
    /// `expired` counts the connections closed by the timeout.
    pub fn new(inner: S, activity: Arc<Activity>, timeout: Duration, expired: Counter) -> Self {
        let seen = activity.started();
        HeadTimed {
            inner,
            activity,
            timeout,
            phase: Phase::Head,
            seen,
            sleep: None,
            expired,
        }
    }

    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// Follow the requests begun and ended since the last read.
    fn advance(&mut self) {
        if self.phase == Phase::Off {
            return;
        }
        if self.activity.headless() {
            self.phase = Phase::Off;
            return;
        }
        let started = self.activity.started();
        if started != self.seen {
            self.seen = started;
            self.phase = Phase::Request;
        }
        if self.phase == Phase::Request && !self.activity.in_flight() {
            self.phase = Phase::Between;
        }
    }

    /// The read must wait while a head is awaited: start its deadline if
    /// it has none, and fail the read once it has passed.
    fn wait(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.phase == Phase::Head {
            self.phase = Phase::Timed;
            let deadline = Instant::now() + self.timeout;
            match &mut self.sleep {
                Some(sleep) => sleep.as_mut().reset(deadline),
                None => self.sleep = Some(Box::pin(tokio::time::sleep_until(deadline))),
            }
        }
        if let Some(sleep) = &mut self.sleep
            && sleep.as_mut().poll(cx).is_ready()
        {
            self.phase = Phase::Off;
            self.expired.inc();
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!(
                    "no whole request head within {:?} (requestHeadTimeoutSeconds)",
                    self.timeout
                ),
            )));
        }
        Poll::Pending
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for HeadTimed<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        this.advance();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        match (this.phase, &polled) {
            (Phase::Between, Poll::Ready(Ok(()))) if buf.filled().len() > before => {
                this.phase = Phase::Head;
            }
            (Phase::Head | Phase::Timed, Poll::Pending) => return this.wait(cx),
            _ => {}
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for HeadTimed<S> {
    crate::forward::io::write_through!(inner);
}
