use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::*;

#[tokio::test]
async fn bytes_given_back_come_first_in_order() {
    let (mut far, near) = tokio::io::duplex(64);
    far.write_all(b" and the stream's own").await.unwrap();
    drop(far);
    let mut r = Rewound::new(near, Bytes::from_static(b"second"));
    r.give_back(Bytes::from_static(b"first, "));
    assert!(r.has_front());
    let mut small = [0u8; 4];
    r.read_exact(&mut small).await.unwrap();
    assert_eq!(&small, b"firs");
    let mut rest = String::new();
    r.read_to_string(&mut rest).await.unwrap();
    assert_eq!(rest, "t, second and the stream's own");
    assert!(!r.has_front());
}
