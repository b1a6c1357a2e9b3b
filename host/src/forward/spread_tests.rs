use super::*;

#[test]
fn a_connection_moves_only_when_its_thread_is_two_ahead() {
    let (spread, _inboxes) = Spread::<()>::new(3);
    assert_eq!(spread.place(0), 0, "all idle: stay");
    let a = spread.enter(0);
    assert_eq!(spread.place(0), 0, "one ahead: stay");
    let b = spread.enter(0);
    assert_eq!(spread.place(0), 1, "two ahead: the first least busy");
    let c = spread.enter(1);
    assert_eq!(spread.place(0), 2);
    drop((a, b));
    assert_eq!(spread.place(0), 0, "counts fall when guards drop");
    drop(c);
    assert_eq!(spread.place(1), 1);
}

#[test]
fn a_handoff_reaches_its_thread_and_comes_back_when_it_is_gone() {
    let (spread, mut inboxes) = Spread::<u8>::new(2);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let stream = std::net::TcpStream::connect(addr).expect("connect");
    let h = Handoff {
        stream,
        peer: addr,
        permit: 7,
    };
    assert!(spread.hand_over(1, h).is_ok());
    let got = inboxes[1].try_recv().expect("delivered");
    assert_eq!(got.permit, 7);
    drop(inboxes.remove(1));
    let back = spread.hand_over(1, got).expect_err("refused");
    assert_eq!(back.peer, addr);
    assert!(spread.hand_over(5, back).is_err(), "no such thread");
}
