//! An upstream's response head: parsed from the connection's buffer, its
//! header values kept as slices of the bytes read (no copy per value), and
//! the framing of the body that follows.
use std::mem::MaybeUninit;

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{StatusCode, Version};

use super::conn::Conn;
use super::framing::{Chunked, Framing};
use crate::forward::http::headers::has_token;

/// A response head with more header fields than this is refused.
const MAX_HEADERS: usize = 128;

pub struct Head {
    pub parts: http::response::Parts,
    pub framing: Framing,
    /// The connection may carry another request once the body is read.
    pub reusable: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum HeadError {
    #[error("connection closed or reset before a response")]
    Closed,
    #[error("connection closed within the response head")]
    Truncated,
    #[error("reading the response: {0}")]
    Io(#[from] std::io::Error),
    #[error("malformed response head: {0}")]
    Parse(#[from] httparse::Error),
    #[error("response head over {0} bytes (maxHeadBytes)")]
    TooLarge(usize),
    #[error("invalid header {0:?}")]
    Header(String),
    #[error("invalid Content-Length")]
    Length,
}

/// Read the final response head to a request (`head_request`: the method
/// was HEAD), of at most `max` bytes. Interim `1xx` answers other than
/// `101` are skipped.
pub async fn read(conn: &mut Conn, head_request: bool, max: usize) -> Result<Head, HeadError> {
    let mut seen = false;
    loop {
        if let Some(head) = parse(conn, head_request, max)? {
            if head.parts.status.is_informational()
                && head.parts.status != StatusCode::SWITCHING_PROTOCOLS
            {
                continue;
            }
            return Ok(head);
        }
        if conn.buf.len() > max {
            return Err(HeadError::TooLarge(max));
        }
        let untouched = !seen && conn.buf.is_empty();
        match conn.fill().await {
            Ok(0) if untouched => return Err(HeadError::Closed),
            Ok(0) => return Err(HeadError::Truncated),
            Ok(_) => seen = true,
            // A request written to a connection the upstream had already
            // closed draws a reset rather than an end of stream.
            Err(e) if untouched && is_reset(&e) => return Err(HeadError::Closed),
            Err(e) => return Err(e.into()),
        }
    }
}

fn is_reset(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::{BrokenPipe, ConnectionAborted, ConnectionReset};
    matches!(e.kind(), ConnectionReset | ConnectionAborted | BrokenPipe)
}

fn parse(conn: &mut Conn, head_request: bool, max: usize) -> Result<Option<Head>, HeadError> {
    // Left uninitialised: zeroing 128 slots cost more than the parse.
    let mut slots = [const { MaybeUninit::<httparse::Header>::uninit() }; MAX_HEADERS];
    let mut resp = httparse::Response::new(&mut []);
    let base = conn.buf.as_ptr() as usize;
    let parsed = httparse::ParserConfig::default()
        .parse_response_with_uninit_headers(&mut resp, &conn.buf, &mut slots);
    let len = match parsed? {
        httparse::Status::Complete(len) if len > max => return Err(HeadError::TooLarge(max)),
        httparse::Status::Complete(len) => len,
        httparse::Status::Partial => return Ok(None),
    };
    let status = StatusCode::from_u16(resp.code.unwrap_or(0))
        .map_err(|_| HeadError::Header(":status".into()))?;
    let version = match resp.version {
        Some(0) => Version::HTTP_10,
        _ => Version::HTTP_11,
    };
    // Where each header sits in the buffer, before the buffer is split.
    let mut at = Vec::with_capacity(resp.headers.len());
    for h in resp.headers.iter() {
        let name = HeaderName::from_bytes(h.name.as_bytes())
            .map_err(|_| HeadError::Header(h.name.into()))?;
        let start = h.value.as_ptr() as usize - base;
        at.push((name, start..start + h.value.len()));
    }
    let bytes: Bytes = conn.buf.split_to(len).freeze();
    let mut headers = HeaderMap::with_capacity(at.len());
    for (name, range) in at {
        let value = HeaderValue::from_maybe_shared(bytes.slice(range))
            .map_err(|_| HeadError::Header(name.as_str().into()))?;
        headers.append(name, value);
    }
    let framing = framing(status, head_request, &headers)?;
    // After a `101` the connection speaks another protocol: never pooled.
    let reusable = version == Version::HTTP_11
        && status != StatusCode::SWITCHING_PROTOCOLS
        && !matches!(framing, Framing::Close)
        && !has_token(&headers, header::CONNECTION, "close");
    let mut parts = http::Response::new(()).into_parts().0;
    parts.status = status;
    parts.version = version;
    parts.headers = headers;
    Ok(Some(Head {
        parts,
        framing,
        reusable,
    }))
}

/// RFC 9112 §6.3, for a response.
fn framing(
    status: StatusCode,
    head_request: bool,
    headers: &HeaderMap,
) -> Result<Framing, HeadError> {
    if head_request
        || status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
    {
        return Ok(Framing::Empty);
    }
    if headers.contains_key(header::TRANSFER_ENCODING) {
        return Ok(if last_coding_is_chunked(headers) {
            Framing::Chunked(Chunked::default())
        } else {
            Framing::Close
        });
    }
    let mut lengths = headers
        .get_all(header::CONTENT_LENGTH)
        .iter()
        .flat_map(|v| v.as_bytes().split(|&b| b == b','))
        .map(|v| {
            std::str::from_utf8(v.trim_ascii())
                .ok()
                .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|s| s.parse::<u64>().ok())
        });
    match lengths.next() {
        None => Ok(Framing::Close),
        Some(None) => Err(HeadError::Length),
        Some(Some(n)) => {
            // Repeated values must agree (RFC 9110 §8.6).
            if lengths.any(|m| m != Some(n)) {
                return Err(HeadError::Length);
            }
            Ok(if n == 0 {
                Framing::Empty
            } else {
                Framing::Length(n)
            })
        }
    }
}

fn last_coding_is_chunked(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::TRANSFER_ENCODING)
        .iter()
        .flat_map(|v| v.as_bytes().split(|&b| b == b','))
        .next_back()
        .is_some_and(|t| t.trim_ascii().eq_ignore_ascii_case(b"chunked"))
}
