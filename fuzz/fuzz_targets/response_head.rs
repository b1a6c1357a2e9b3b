//! The upstream response head parser: never panics, never consumes more
//! than it was given, and gives the same answer when the bytes arrive in
//! two pieces (what it says of the first piece alone is partial or the
//! same head).
#![no_main]
use bindery::fuzzing::{HeadOutcome, response_head};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (bool, u16, &[u8])| {
    let (head_request, cut, bytes) = input;
    let whole = response_head(bytes, head_request);
    if let HeadOutcome::Head { consumed, status, .. } = &whole {
        assert!(*consumed <= bytes.len());
        assert!((100..1000).contains(status), "{status}");
    }
    let cut = usize::from(cut) % (bytes.len() + 1);
    match response_head(&bytes[..cut], head_request) {
        HeadOutcome::Partial => {}
        HeadOutcome::Head { consumed, .. } => {
            assert!(consumed <= cut);
            assert_eq!(response_head(&bytes[..cut], head_request), whole, "cut at {cut}");
        }
        // A prefix may already be refused; then so is the whole.
        HeadOutcome::Error(_) => assert!(matches!(whole, HeadOutcome::Error(_)), "cut at {cut}: {whole:?}"),
    }
});
