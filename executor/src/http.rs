//! The executor's HTTP endpoint: `/metrics` (Prometheus), `/healthz`, `/readyz`, and `/replays/<file>` serving
//! stored replays and viewers (streamed from the store) so that replay URLs open in a browser.
//!
//! `/replays/` is open to anyone who knows a match id, unless a replay token is configured: then a download
//! needs `Authorization: Bearer <token>`.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::error::{Error, Result};
use crate::matches::Matches;
use crate::reporter::same_token;

/// What the HTTP routes serve from.
#[derive(Debug, Clone)]
struct Endpoint {
    matches: Arc<Matches>,
    /// The bearer token `/replays/` asks for; `None` leaves replays open.
    replay_token: Option<Arc<str>>,
}

/// The token of `--replay-token-file`: the file's content without surrounding whitespace, at least 16 bytes.
pub(crate) async fn load_replay_token(path: &std::path::Path) -> Result<Arc<str>> {
    let text = tokio::fs::read_to_string(path)
        .await
        .map_err(Error::io(format!(
            "reading the replay token {}",
            path.display()
        )))?;
    let token = text.trim();
    if token.len() < 16 {
        return Err(Error::InvalidConfig(format!(
            "replay token in {} is shorter than 16 bytes; generate one with `openssl rand -hex 32`",
            path.display()
        )));
    }
    Ok(Arc::from(token))
}

/// The HTTP routes over the executor's matches; `replay_token` makes `/replays/` private.
pub(crate) fn router(matches: Arc<Matches>, replay_token: Option<Arc<str>>) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready))
        .route("/replays/{file}", get(replay))
        .with_state(Endpoint {
            matches,
            replay_token,
        })
}

async fn metrics(State(endpoint): State<Endpoint>) -> Response {
    let body = endpoint.matches.metrics_text();
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

async fn ready(State(endpoint): State<Endpoint>) -> Response {
    if endpoint.matches.accepting() {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "draining\n").into_response()
    }
}

async fn replay(
    State(endpoint): State<Endpoint>,
    headers: HeaderMap,
    Path(file): Path<String>,
) -> Response {
    if let Some(token) = &endpoint.replay_token {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if !given.is_some_and(|given| same_token(token, given)) {
            return (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Bearer")],
                "replays need the replay token: Authorization: Bearer <token>\n",
            )
                .into_response();
        }
    }
    let Some(content_type) = replay_content_type(&file) else {
        return (StatusCode::NOT_FOUND, "not a replay file name\n").into_response();
    };
    match endpoint.matches.replay_file(&file).await {
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
