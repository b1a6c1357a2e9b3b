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
