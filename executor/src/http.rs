//! The executor's HTTP endpoint: `/metrics` (Prometheus), `/healthz`, `/readyz`, and `/replays/<file>` serving
//! stored replays and viewers so that replay URLs open in a browser.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::matches::Matches;

/// The HTTP routes over the executor's matches.
pub(crate) fn router(matches: Arc<Matches>) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready))
        .route("/replays/{file}", get(replay))
        .with_state(matches)
}

async fn metrics(State(matches): State<Arc<Matches>>) -> Response {
    let body = matches.metrics_text();
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

async fn ready(State(matches): State<Arc<Matches>>) -> Response {
    if matches.accepting() {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "draining\n").into_response()
    }
}

async fn replay(State(matches): State<Arc<Matches>>, Path(file): Path<String>) -> Response {
    let Some(content_type) = replay_content_type(&file) else {
        return (StatusCode::NOT_FOUND, "not a replay file name\n").into_response();
    };
    match matches.replay_file(&file).await {
        // Streamed from the store as it is read: a replay is never held whole per request.
        Ok(Some(download)) => (
            [
                (header::CONTENT_TYPE, content_type.to_string()),
                (header::CONTENT_LENGTH, download.size.to_string()),
            ],
            axum::body::Body::from_stream(download.bytes),
        )
            .into_response(),
        Ok(None) => (StatusCode::NOT_FOUND, "no such replay\n").into_response(),
        Err(e) => {
            tracing::error!(file = %file, error = %e, "reading a replay failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "replay store unavailable\n",
            )
                .into_response()
        }
    }
}

/// The content type of a replay file name, `None` for anything that is not `<match_id>.{json,json.gz,html}`.
fn replay_content_type(file: &str) -> Option<&'static str> {
    let (stem, content_type) = if let Some(stem) = file.strip_suffix(".json.gz") {
        (stem, "application/gzip")
    } else if let Some(stem) = file.strip_suffix(".json") {
        (stem, "application/json")
    } else if let Some(stem) = file.strip_suffix(".html") {
        (stem, "text/html; charset=utf-8")
    } else {
        return None;
    };
    proto::ids::is_valid_match_id(stem).then_some(content_type)
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_replay_names_are_served() {
        let cases = [
            ("m1.json", Some("application/json")),
            ("m1.json.gz", Some("application/gzip")),
            ("m-1.html", Some("text/html; charset=utf-8")),
            ("../m1.json", None),
            ("m1.pb", None),
            (".json", None),
            ("m1.txt", None),
        ];
        for (file, want) in cases {
            assert_eq!(super::replay_content_type(file), want, "{file}");
        }
    }
}
