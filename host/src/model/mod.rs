//! The endpoint model: URL rules, a validated endpoint, and upstream
//! addresses ([`address`]).
pub mod address;
mod endpoint;
mod url;

pub use endpoint::{Endpoint, FieldError, Upstream};
pub use url::{EndpointUrl, Scheme, UrlError, is_rfc1035_label, is_rfc1123_label};
