//! The `/_sim/...` admin endpoints: fault switches and request counts over HTTP, for a
//! simulator in a child process.

use axum::body::Bytes;
use axum::http::Method;
use axum::response::Response;
use serde_json::{Value, json};

use super::response::{error_response, json_response};
use crate::error::ApiError;
use crate::faults::{ErrorInjection, TransientError};
use crate::shared::Shared;

/// Serves `/_sim/{path}`.
pub(crate) fn handle(shared: &Shared, method: &Method, path: &str, body: &Bytes) -> Response {
    let body: Value = if body.is_empty() {
        json!({})
    } else {
        match serde_json::from_slice(body) {
            Ok(v) => v,
            Err(e) => return error_response(&ApiError::bad_request(format!("admin body: {e}"))),
        }
    };
    let text = |k: &str| body.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
    let ok = || json_response(200, &json!({"ok": true}));
    match (method.as_str(), path.trim_end_matches('/')) {
        ("GET", "requests") => json_response(200, &json!(shared.faults().counts())),
        ("DELETE", "requests") => {
            shared.faults().counts.clear();
            ok()
        }
        ("POST", "faults/image-pull") => {
            shared.set_image_pull_failure(
                &text("image"),
                body.get("fail").and_then(Value::as_bool).unwrap_or(true),
            );
            ok()
        }
        ("POST", "faults/unschedulable") => {
            shared.set_unschedulable(body.get("enabled").and_then(Value::as_bool).unwrap_or(true));
            ok()
        }
        ("POST", "faults/oom-kill") => {
            let ns = body
                .get("namespace")
                .and_then(Value::as_str)
                .unwrap_or("default")
                .to_owned();
            match shared.oom_kill(&ns, &text("pod"), &text("container")) {
                Ok(()) => ok(),
                Err(e) => error_response(&e),
            }
        }
        ("POST", "faults/quota") => {
            let quota = text("quota");
            shared.set_exhausted_quota(Some(quota.as_str()).filter(|q| !q.is_empty()));
            ok()
        }
        ("POST", "faults/transient") => match serde_json::from_value::<TransientError>(body) {
            Ok(error) => {
                shared.add_transient_error(error);
                ok()
            }
            Err(e) => error_response(&ApiError::bad_request(format!("transient error: {e}"))),
        },
        ("POST", "faults/node-loss") => {
            shared.lose_node();
            ok()
        }
        ("POST", "faults/errors") => match serde_json::from_value::<ErrorInjection>(body) {
            Ok(injection) => {
                shared.inject_errors(injection);
                ok()
            }
            Err(e) => error_response(&ApiError::bad_request(format!("error injection: {e}"))),
        },
        ("POST", "restart") => {
            shared.restart_api();
            ok()
        }
        ("POST", "compact") => {
            shared.compact();
            ok()
        }
        _ => error_response(&ApiError::new(
            404,
            "NotFound",
            format!("no admin endpoint {method} /_sim/{path}"),
        )),
    }
}
