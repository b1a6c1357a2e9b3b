use tokio::io::AsyncWriteExt;

use super::*;

async fn sniffed(pieces: &[&[u8]]) -> (Protocol, Bytes) {
    let (mut far, mut near) = tokio::io::duplex(256);
    for p in pieces {
        far.write_all(p).await.unwrap();
    }
    drop(far);
    sniff(&mut near).await.unwrap()
}

#[tokio::test]
async fn the_preface_is_h2_even_in_pieces() {
    let (p, front) = sniffed(&[b"PRI * HT", b"TP/2.0\r\n\r\nSM\r\n\r\n"]).await;
    assert_eq!(p, Protocol::H2);
    assert_eq!(&front[..], &H2_PREFACE[..]);
}

#[tokio::test]
async fn a_request_line_is_http1_with_its_bytes_kept() {
    let (p, front) = sniffed(&[b"GET / HTTP/1.1\r\n"]).await;
    assert_eq!(p, Protocol::Http1);
    assert_eq!(&front[..], b"GET / HTTP/1.1\r\n");
}

#[tokio::test]
async fn a_client_closing_inside_the_preface_is_http1() {
    let (p, front) = sniffed(&[b"PRI * "]).await;
    assert_eq!(p, Protocol::Http1);
    assert_eq!(&front[..], b"PRI * ");
}
