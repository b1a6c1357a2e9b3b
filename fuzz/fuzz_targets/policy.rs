//! `policy::parse_str`: never panics; an empty text is never the defaults.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let parsed = bindery::policy::parse_str(text, "fuzz.yaml");
    if text.trim().is_empty() {
        assert!(parsed.is_err(), "{text:?} was accepted");
    }
});
