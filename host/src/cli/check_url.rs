//! `bindery check-url URL...`
use std::process::ExitCode;

use bindery::model::EndpointUrl;

pub fn run(urls: &[String]) -> ExitCode {
    let mut all_valid = true;
    for url in urls {
        match EndpointUrl::parse(url) {
            Ok(_) => println!("{url}: valid"),
            Err(e) => {
                all_valid = false;
                println!("{url}: invalid: {e}");
            }
        }
    }
    if all_valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
