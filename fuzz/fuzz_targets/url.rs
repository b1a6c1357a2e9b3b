//! `model::EndpointUrl::parse`: never panics, and a URL it accepts prints
//! as a URL it accepts again, the same one.
#![no_main]
use bindery::model::EndpointUrl;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &str| {
    if let Ok(url) = EndpointUrl::parse(input) {
        let printed = url.to_string();
        let again = EndpointUrl::parse(&printed)
            .unwrap_or_else(|e| panic!("{input:?} parsed, printed as {printed:?}, refused: {e}"));
        assert_eq!(again, url, "{input:?} -> {printed:?}");
        assert_eq!(again.to_string(), printed);
    }
});
