//! `catalog::parse_str`: never panics; a catalog it accepts has an entry
//! id naming the file and the index for each entry.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    if let Ok(entries) = bindery::catalog::parse_str(text, "fuzz.yaml") {
        for (i, e) in entries.iter().enumerate() {
            assert_eq!(e.id, format!("fuzz.yaml endpoints[{i}]"));
        }
    }
});
