//! Where an upstream response's body ends (RFC 9112 §6.3), and the chunked
//! transfer coding undone as bytes arrive. The decoder works on the
//! connection's read buffer: data is split off without a copy, and what
//! follows the body stays for the next response.
use bytes::{Bytes, BytesMut};

/// A chunk-size or trailer line longer than this is refused.
const MAX_LINE: usize = 4096;
/// All trailer lines of one response together.
const MAX_TRAILERS: usize = 16 * 1024;

#[derive(Debug)]
pub enum Framing {
    /// No body: `HEAD`, `1xx`, `204`, `304`, or `Content-Length: 0`.
    Empty,
    /// `Content-Length`: the bytes still to come.
    Length(u64),
    Chunked(Chunked),
    /// Neither: the body ends when the upstream closes the connection.
    Close,
}

#[derive(Debug)]
pub enum Decoded {
    Data(Bytes),
    /// The body is complete; the buffer holds only what follows it.
    Done,
    /// More bytes are needed from the connection.
    More,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FramingError {
    #[error("invalid chunk size line")]
    ChunkSize,
    #[error("chunk data not followed by CRLF")]
    ChunkEnd,
    #[error("chunk size or trailer line longer than {MAX_LINE} bytes")]
    LineTooLong,
    #[error("trailers longer than {MAX_TRAILERS} bytes")]
    TrailersTooLong,
}

#[derive(Debug, Default)]
pub struct Chunked {
    state: State,
    trailers: usize,
}

#[derive(Debug, Default, Clone, Copy)]
enum State {
    #[default]
    Size,
    Data(u64),
    DataEnd,
    Trailers,
    Done,
}

impl Framing {
    /// The next piece of the body from `buf`.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Decoded, FramingError> {
        match self {
            Framing::Empty => Ok(Decoded::Done),
            Framing::Length(0) => Ok(Decoded::Done),
            Framing::Length(rest) => Ok(take(buf, rest)),
            Framing::Chunked(c) => c.decode(buf),
            Framing::Close if buf.is_empty() => Ok(Decoded::More),
            Framing::Close => Ok(Decoded::Data(buf.split().freeze())),
        }
    }

    /// True once nothing more can come: no need to poll the body again.
    pub fn is_done(&self) -> bool {
        match self {
            Framing::Empty | Framing::Length(0) => true,
            Framing::Chunked(c) => matches!(c.state, State::Done),
            _ => false,
        }
    }

    /// The bytes still to come, when known.
    pub fn remaining(&self) -> Option<u64> {
        match self {
            Framing::Empty => Some(0),
            Framing::Length(n) => Some(*n),
            _ => None,
        }
    }
}

/// Up to `rest` bytes of `buf`, without a copy.
fn take(buf: &mut BytesMut, rest: &mut u64) -> Decoded {
    if buf.is_empty() {
        return Decoded::More;
    }
    let n = usize::try_from(*rest).unwrap_or(usize::MAX).min(buf.len());
    *rest -= n as u64;
    Decoded::Data(buf.split_to(n).freeze())
}

impl Chunked {
    fn decode(&mut self, buf: &mut BytesMut) -> Result<Decoded, FramingError> {
        self.settle(buf)?;
        match &mut self.state {
            State::Done => Ok(Decoded::Done),
            State::Data(rest) => {
                let data = take(buf, rest);
                if *rest == 0 {
                    self.state = State::DataEnd;
                }
                // What follows in the buffer (the chunk's CRLF, the last
                // chunk) is read now, so `is_done` knows the body ended.
                self.settle(buf)?;
                Ok(data)
            }
            _ => Ok(Decoded::More),
        }
    }

    /// Consume everything but chunk data that `buf` holds.
    fn settle(&mut self, buf: &mut BytesMut) -> Result<(), FramingError> {
        loop {
            match self.state {
                State::Data(_) | State::Done => return Ok(()),
                State::DataEnd => match buf.first() {
                    None => return Ok(()),
                    Some(b'\n') => {
                        let _ = buf.split_to(1);
                        self.state = State::Size;
                    }
                    Some(b'\r') if buf.len() < 2 => return Ok(()),
                    Some(b'\r') if buf[1] == b'\n' => {
                        let _ = buf.split_to(2);
                        self.state = State::Size;
                    }
                    Some(_) => return Err(FramingError::ChunkEnd),
                },
                State::Size => {
                    let Some(line) = line(buf)? else {
                        return Ok(());
                    };
                    let size = chunk_size(&line)?;
                    self.state = if size == 0 {
                        State::Trailers
                    } else {
                        State::Data(size)
                    };
                }
                State::Trailers => {
                    let Some(line) = line(buf)? else {
                        return Ok(());
                    };
                    self.trailers += line.len();
                    if self.trailers > MAX_TRAILERS {
                        return Err(FramingError::TrailersTooLong);
                    }
                    // Trailer fields are dropped: the client's side is
                    // framed again by the server, which sends none.
                    if trim_cr(&line).is_empty() {
                        self.state = State::Done;
                    }
                }
            }
        }
    }
}

/// One line of `buf` (with its LF), if it has one.
fn line(buf: &mut BytesMut) -> Result<Option<BytesMut>, FramingError> {
    match buf.iter().position(|&b| b == b'\n') {
        Some(at) if at < MAX_LINE => Ok(Some(buf.split_to(at + 1))),
        Some(_) => Err(FramingError::LineTooLong),
        None if buf.len() >= MAX_LINE => Err(FramingError::LineTooLong),
        None => Ok(None),
    }
}

fn trim_cr(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// The hex size before any `;extension`.
fn chunk_size(line: &[u8]) -> Result<u64, FramingError> {
    let line = trim_cr(line);
    let digits = line
        .split(|&b| b == b';')
        .next()
        .unwrap_or_default()
        .trim_ascii();
    if digits.is_empty() || digits.len() > 15 {
        return Err(FramingError::ChunkSize);
    }
    digits.iter().try_fold(0u64, |n, &d| {
        let v = (d as char).to_digit(16).ok_or(FramingError::ChunkSize)?;
        Ok(n * 16 + u64::from(v))
    })
}

#[cfg(test)]
#[path = "framing_tests.rs"]
mod tests;
