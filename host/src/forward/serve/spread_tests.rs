use super::*;

#[test]
fn a_connection_moves_only_when_its_thread_is_two_ahead() {
    let (spread, _inboxes) = Spread::<()>::new(3, ahead(Scheme::Tcp));
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
    let (spread, mut inboxes) = Spread::<u8>::new(2, 2);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let stream = std::net::TcpStream::connect(addr).expect("connect");
    let h = Handoff {
        stream,
        peer: addr,
        permit: 7,
        live: spread.enter(1),
    };
    assert!(spread.hand_over(1, h).is_ok());
    assert_eq!(spread.place(1), 1, "one ahead: stay");
    let got = inboxes[1].try_recv().expect("delivered");
    assert_eq!(got.permit, 7);
    drop(inboxes.remove(1));
    let back = spread.hand_over(1, got).expect_err("refused");
    assert_eq!(back.peer, addr);
    assert!(spread.hand_over(5, back).is_err(), "no such thread");
}

#[test]
fn a_burst_of_hand_overs_not_yet_taken_up_is_counted_on_its_target() {
    let (spread, _inboxes) = Spread::<()>::new(2, 2);
    let _held = [spread.enter(0), spread.enter(0)];
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    // Thread 0 accepts four connections in a row while thread 1 has not
    // yet dequeued any of those handed to it.
    let mut served_here = Vec::new();
    let mut placed = Vec::new();
    for _ in 0..4 {
        let stream = std::net::TcpStream::connect(addr).expect("connect");
        match spread.assign(0, stream, addr, ()) {
            Some(h) => {
                placed.push(0);
                served_here.push(h);
            }
            None => placed.push(1),
        }
    }
    assert_eq!(
        placed,
        [1, 0, 1, 0],
        "alternates instead of all to thread 1"
    );
}

#[test]
fn a_connection_for_a_stopped_thread_is_served_where_it_was_accepted() {
    let (spread, mut inboxes) = Spread::<()>::new(2, 2);
    let _held = [spread.enter(0), spread.enter(0)];
    drop(inboxes.remove(1));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let stream = std::net::TcpStream::connect(addr).expect("connect");
    let h = spread.assign(0, stream, addr, ()).expect("served here");
    assert_eq!(h.live.shard, 0);
    assert_eq!(
        spread.place(0),
        1,
        "counted here, not on the stopped thread"
    );
}

#[test]
fn an_http_connection_moves_when_its_thread_is_one_ahead() {
    let (spread, _inboxes) = Spread::<()>::new(2, ahead(Scheme::Http));
    assert_eq!(spread.place(1), 1, "all idle: stay");
    let _a = spread.enter(1);
    assert_eq!(spread.place(1), 0, "one ahead: to the least busy");
    assert_eq!(spread.place(0), 0);
    let _b = spread.enter(0);
    assert_eq!(spread.place(0), 0, "even: stay");
    let (zero, _inboxes) = Spread::<()>::new(2, 0);
    assert_eq!(
        zero.place(1),
        1,
        "0 is taken as 1: never moved to an equal thread"
    );
}
