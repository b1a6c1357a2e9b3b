//! Socket I/O under the protocols: connecting to an upstream, copying both
//! ways with half-close and an idle timeout, and holding a thread's small
//! writes until the end of its turn.
//!
//! - [`connect`]: a connect whose last handshake ACK rides on the first
//!   bytes;
//! - [`copy`]: both directions of a connection; [`one_way`]: one of them;
//! - [`held`]: small writes sent together at the end of the thread's turn;
//! - [`rewound`]: bytes already read, given back in front of a stream.
pub mod connect;
pub mod copy;
pub mod held;
pub mod one_way;
pub mod rewound;

/// The `AsyncWrite` methods of a stream wrapper that changes only reads,
/// each passed to the field `$inner` (vectored writes included).
macro_rules! write_through {
    ($inner:ident) => {
        fn poll_write(
            mut self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
            buf: &[u8],
        ) -> std::task::Poll<std::io::Result<usize>> {
            std::pin::Pin::new(&mut self.$inner).poll_write(cx, buf)
        }

        fn poll_write_vectored(
            mut self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
            bufs: &[std::io::IoSlice<'_>],
        ) -> std::task::Poll<std::io::Result<usize>> {
            std::pin::Pin::new(&mut self.$inner).poll_write_vectored(cx, bufs)
        }

        fn is_write_vectored(&self) -> bool {
            self.$inner.is_write_vectored()
        }

        fn poll_flush(
            mut self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            std::pin::Pin::new(&mut self.$inner).poll_flush(cx)
        }

        fn poll_shutdown(
            mut self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            std::pin::Pin::new(&mut self.$inner).poll_shutdown(cx)
        }
    };
}
pub(crate) use write_through;
