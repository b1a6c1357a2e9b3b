//! Bodies on their way through: each data frame counted, and for responses
//! the upstream's in-flight mark held until the last frame (least-connections
//! sees a request as active until its response is fully sent), and the
//! client connection's (it is not idle while a response streams).
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Body, Frame, SizeHint};
use prometheus_client::metrics::counter::Counter;

use super::idle::InFlight;
use crate::forward::upstream::ActiveGuard;

/// Errors of the bodies the forwarder answers with.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A body passed through, counted into `bytes`.
pub struct Metered<B> {
    inner: B,
    bytes: Counter,
    _active: Option<ActiveGuard>,
    _request: Option<InFlight>,
}

impl<B> Metered<B> {
    pub fn new(inner: B, bytes: Counter, active: Option<ActiveGuard>) -> Metered<B> {
        Metered {
            inner,
            bytes,
            _active: active,
            _request: None,
        }
    }

    /// A response body: its client request is in flight until it ends.
    pub fn answering(mut self, request: InFlight) -> Metered<B> {
        self._request = Some(request);
        self
    }
}

impl<B: Body<Data = Bytes> + Unpin> Body for Metered<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled
            && let Some(data) = frame.data_ref()
        {
            self.bytes.inc_by(data.len() as u64);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// What the forwarder answers with: the upstream's body, or its own.
pub type Response = http::Response<UnsyncBoxBody<Bytes, BoxError>>;

pub fn passed<B>(resp: http::Response<Metered<B>>) -> Response
where
    B: Body<Data = Bytes> + Unpin + Send + 'static,
    B::Error: Into<BoxError>,
{
    resp.map(|b| b.map_err(Into::into).boxed_unsync())
}

/// A response head without a body (the `101` of a switch).
pub fn empty(parts: http::response::Parts) -> Response {
    let body = http_body_util::Empty::new()
        .map_err(|never: std::convert::Infallible| match never {})
        .boxed_unsync();
    http::Response::from_parts(parts, body)
}

/// A response of the forwarder's own, e.g. `502` naming the endpoint.
pub fn own(status: http::StatusCode, text: String) -> Response {
    let body = Full::new(Bytes::from(text + "\n"))
        .map_err(|never: std::convert::Infallible| match never {})
        .boxed_unsync();
    let mut resp = http::Response::new(body);
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}
