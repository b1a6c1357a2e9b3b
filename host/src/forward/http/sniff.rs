//! Which HTTP a client speaks: h2 with prior knowledge opens with the h2
//! preface, anything else is HTTP/1. The bytes read to decide are given
//! back in front of the stream.
use std::io;

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncReadExt};

const H2_PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    Http1,
    H2,
}

/// Read until the first bytes match the h2 preface whole or stop matching
/// it (or the client closes); returns the protocol and the bytes read.
pub async fn sniff<S: AsyncRead + Unpin>(io: &mut S) -> io::Result<(Protocol, Bytes)> {
    let mut buf = [0u8; H2_PREFACE.len()];
    let mut n = 0;
    while n < buf.len() {
        let got = io.read(&mut buf[n..]).await?;
        if got == 0 {
            break;
        }
        n += got;
        if buf[..n] != H2_PREFACE[..n] {
            return Ok((Protocol::Http1, Bytes::copy_from_slice(&buf[..n])));
        }
    }
    let protocol = if n == buf.len() {
        Protocol::H2
    } else {
        Protocol::Http1
    };
    Ok((protocol, Bytes::copy_from_slice(&buf[..n])))
}

#[cfg(test)]
#[path = "sniff_tests.rs"]
mod tests;
