//! Connecting to an upstream. tokio's `TcpStream::connect` asks the kernel
//! for `SO_ERROR` after every connect; here the outcome is read from the
//! readiness epoll reports (a refused or unreachable connect is reported
//! with the write side closed), so a connect that succeeds costs one
//! syscall less, and only a failed one asks why. TCP_NODELAY is set before
//! the handshake.
//!
//! When the caller writes at once, the handshake's last ACK rides on its
//! first bytes instead of going alone (as HAProxy's `tcp-smart-connect`):
//! with TCP_QUICKACK off before `connect`, Linux delays that ACK, for at
//! most 200 ms, and the first write carries it. One packet fewer per
//! connection, and the upstream's `accept` finds the bytes already in.
//! The kernel acks as usual again once the handshake is done. A connection
//! with nothing to send (a server-first protocol, or a client that has not
//! spoken yet) acks at once: the upstream accepts, and greets, only on
//! that ACK.
use std::io;
use std::net::SocketAddr;

use socket2::{Domain, Protocol, Socket, Type};
use tokio::io::Interest;
use tokio::net::TcpStream;

/// A connected, non-blocking stream with TCP_NODELAY on, for a caller that
/// writes as soon as it has it (the HTTP client, its request head): the
/// handshake's last ACK waits for that write.
pub async fn connect(addr: SocketAddr) -> io::Result<TcpStream> {
    open(addr, &[], true).await.map(|(s, _)| s)
}

/// A connected stream, sending as much of `first` as the kernel takes as
/// soon as the connection is up: how many bytes went is returned with the
/// stream. With `first` empty the handshake is acked at once.
pub async fn connect_sending(addr: SocketAddr, first: &[u8]) -> io::Result<(TcpStream, usize)> {
    open(addr, first, !first.is_empty()).await
}

async fn open(
    addr: SocketAddr,
    first: &[u8],
    writes_at_once: bool,
) -> io::Result<(TcpStream, usize)> {
    let socket = Socket::new(
        Domain::for_address(addr),
        Type::STREAM.nonblocking(),
        Some(Protocol::TCP),
    )?;
    socket.set_tcp_nodelay(true)?;
    if writes_at_once {
        socket.set_tcp_quickack(false)?;
    }
    match socket.connect(&addr.into()) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
        Err(e) => return Err(e),
    }
    if !first.is_empty() {
        match socket.send(first) {
            Ok(n) => return Ok((TcpStream::from_std(socket.into())?, n)),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
    let stream = TcpStream::from_std(socket.into())?;
    let ready = stream.ready(Interest::WRITABLE).await?;
    if ready.is_write_closed() {
        return Err(stream
            .take_error()?
            .unwrap_or_else(|| io::ErrorKind::NotConnected.into()));
    }
    Ok((stream, 0))
}

#[cfg(test)]
#[path = "connect_tests.rs"]
mod tests;
