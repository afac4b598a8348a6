//! Response bodies: JSON objects, `metav1.Status` errors and streamed watch events.

use std::convert::Infallible;

use axum::body::{Body, Bytes};
use axum::http::{StatusCode, header};
use axum::response::Response;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use crate::error::ApiError;

pub(crate) fn json_response(code: u16, body: &Value) -> Response {
    Response::builder()
        .status(StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap_or_default()
}

pub(crate) fn error_response(err: &ApiError) -> Response {
    let mut response = json_response(err.code, &err.to_status());
    if err.code == 429 {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
    }
    response
}

pub(crate) fn not_found_path() -> Response {
    error_response(&ApiError::new(
        404,
        "NotFound",
        "the server could not find the requested resource",
    ))
}

/// A chunked body fed by a channel, for watches.
pub(crate) fn stream_response(rx: mpsc::Receiver<Result<Bytes, Infallible>>) -> Response {
    Response::builder()
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::TRANSFER_ENCODING, "chunked")
        .body(Body::from_stream(ReceiverStream::new(rx)))
        .unwrap_or_default()
}
