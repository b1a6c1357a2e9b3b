//! What the fuzz targets (`fuzz/` at the repository root) drive besides the
//! public parsers: the upstream response head and the chunked framing of
//! the HTTP client, which stay private to the forwarder otherwise. Built
//! only with the `fuzzing` feature.
use bytes::BytesMut;

use crate::forward::http::client::framing::{Chunked, Decoded, Framing};
use crate::forward::http::client::head;

/// What the response head parser made of `bytes`.
#[derive(Debug, PartialEq, Eq)]
pub enum HeadOutcome {
    /// More bytes are needed.
    Partial,
    /// A head of `consumed` bytes, its status, and the body's framing.
    Head {
        consumed: usize,
        status: u16,
        framing: &'static str,
        reusable: bool,
    },
    Error(String),
}

/// Parse the response head at the start of `bytes` (`head_request`: the
/// request was `HEAD`).
pub fn response_head(bytes: &[u8], head_request: bool) -> HeadOutcome {
    let mut buf = BytesMut::from(bytes);
    match head::parse(&mut buf, head_request, 65536) {
        Ok(None) => HeadOutcome::Partial,
        Ok(Some(h)) => HeadOutcome::Head {
            consumed: bytes.len() - buf.len(),
            status: h.parts.status.as_u16(),
            framing: match h.framing {
                Framing::Empty => "empty",
                Framing::Length(_) => "length",
                Framing::Chunked(_) => "chunked",
                Framing::Close => "close",
            },
            reusable: h.reusable,
        },
        Err(e) => HeadOutcome::Error(e.to_string()),
    }
}

/// A chunked body decoded from `pieces` arriving one after another: the
/// data, and whether the body ended (`Ok`) or the error. What follows the
/// body is left undecoded.
pub fn chunked(pieces: &[&[u8]]) -> (Vec<u8>, Result<bool, String>) {
    let mut framing = Framing::Chunked(Chunked::default());
    let mut buf = BytesMut::new();
    let mut data = Vec::new();
    for piece in pieces {
        buf.extend_from_slice(piece);
        loop {
            match framing.decode(&mut buf) {
                Ok(Decoded::Data(d)) => data.extend_from_slice(&d),
                Ok(Decoded::Done) => return (data, Ok(true)),
                Ok(Decoded::More) => break,
                Err(e) => return (data, Err(e.to_string())),
            }
        }
    }
    (data, Ok(false))
}
