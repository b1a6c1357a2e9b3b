use super::*;

/// Feed `wire` to a chunked decoder `step` bytes at a time; the body it
/// decoded and what it left in the buffer.
fn dechunk(wire: &[u8], step: usize) -> Result<(Vec<u8>, Vec<u8>), FramingError> {
    let mut framing = Framing::Chunked(Chunked::default());
    let mut buf = BytesMut::new();
    let mut body = Vec::new();
    let mut fed = 0;
    loop {
        match framing.decode(&mut buf)? {
            Decoded::Data(d) => body.extend_from_slice(&d),
            Decoded::Done => return Ok((body, buf.to_vec())),
            Decoded::More if fed >= wire.len() => panic!("decoder wants more after {fed} bytes"),
            Decoded::More => {
                let end = (fed + step).min(wire.len());
                buf.extend_from_slice(&wire[fed..end]);
                fed = end;
            }
        }
    }
}

const WIRE: &[u8] =
    b"5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nx-trailer: 1\r\n\r\nHTTP/1.1 200 OK\r\n";

#[test]
fn chunks_decode_whole_and_byte_by_byte_and_leave_the_next_response() {
    for step in [1, 2, 3, 7, WIRE.len()] {
        let (body, rest) = dechunk(WIRE, step).unwrap();
        assert_eq!(body, b"hello, world", "step {step}");
        if step == WIRE.len() {
            assert_eq!(rest, b"HTTP/1.1 200 OK\r\n");
        }
    }
}

#[test]
fn the_last_chunk_read_with_the_data_ends_the_body_without_another_poll() {
    let mut framing = Framing::Chunked(Chunked::default());
    let mut buf = BytesMut::from(&b"2\r\nok\r\n0\r\n\r\n"[..]);
    assert!(matches!(framing.decode(&mut buf), Ok(Decoded::Data(d)) if &d[..] == b"ok"));
    assert!(framing.is_done());
    assert!(buf.is_empty());
}

#[test]
fn bare_lf_line_ends_are_accepted() {
    let (body, _) = dechunk(b"3\nabc\n0\n\n", 1).unwrap();
    assert_eq!(body, b"abc");
}

#[test]
fn malformed_chunks_are_errors() {
    assert_eq!(dechunk(b"zz\r\n", 4), Err(FramingError::ChunkSize));
    assert_eq!(dechunk(b"\r\n", 4), Err(FramingError::ChunkSize));
    assert_eq!(dechunk(b"3\r\nabcX\r\n", 16), Err(FramingError::ChunkEnd));
    assert_eq!(
        dechunk(&[b'1'; MAX_LINE + 1], MAX_LINE + 1),
        Err(FramingError::LineTooLong)
    );
    assert_eq!(
        dechunk(b"1000000000000000\r\n", 32),
        Err(FramingError::ChunkSize)
    );
}

#[test]
fn a_length_body_stops_at_its_length() {
    let mut framing = Framing::Length(3);
    let mut buf = BytesMut::from(&b"abcdef"[..]);
    assert!(matches!(framing.decode(&mut buf), Ok(Decoded::Data(d)) if &d[..] == b"abc"));
    assert!(framing.is_done());
    assert!(matches!(framing.decode(&mut buf), Ok(Decoded::Done)));
    assert_eq!(&buf[..], b"def");
}
