//! The chunked decoder: never panics or loops; the body decoded does not
//! depend on how the bytes were split; and data chunked by the rules
//! decodes to itself, whatever the splits.
#![no_main]
use bindery::fuzzing::chunked;
use libfuzzer_sys::fuzz_target;

/// `bytes` cut at the positions in `cuts`.
fn pieces<'a>(bytes: &'a [u8], cuts: &[u8]) -> Vec<&'a [u8]> {
    let mut at: Vec<usize> = cuts.iter().map(|&c| usize::from(c) * bytes.len() / 256).collect();
    at.sort_unstable();
    let mut out = Vec::new();
    let mut from = 0;
    for a in at {
        out.push(&bytes[from..a]);
        from = a;
    }
    out.push(&bytes[from..]);
    out
}

fuzz_target!(|input: (&[u8], &[u8], Vec<Vec<u8>>)| {
    let (raw, cuts, chunks) = input;
    // Arbitrary bytes: the same outcome in one piece or in many.
    let whole = chunked(&[raw]);
    let split = chunked(&pieces(raw, cuts));
    if whole.1.is_ok() && split.1.is_ok() {
        assert_eq!(whole.0, split.0);
    }
    assert!(whole.0.len() <= raw.len());

    // A well-formed body round-trips.
    let mut encoded = Vec::new();
    let mut data = Vec::new();
    for c in chunks.iter().filter(|c| !c.is_empty()) {
        encoded.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
        encoded.extend_from_slice(c);
        encoded.extend_from_slice(b"\r\n");
        data.extend_from_slice(c);
    }
    encoded.extend_from_slice(b"0\r\n\r\n");
    let (decoded, done) = chunked(&pieces(&encoded, cuts));
    assert_eq!(done, Ok(true));
    assert_eq!(decoded, data);
});
