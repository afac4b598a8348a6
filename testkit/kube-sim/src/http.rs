//! The HTTP face: the Kubernetes REST paths for the served kinds (CRUD, list, watch, patch,
//! `/status`, pod `/log`), discovery documents, and the `/_sim/...` admin endpoints.
//!
//! This file routes a request, counts it and applies injected errors. Its parts, each using
//! only parts listed before it:
//! - `request`: query, route, verb, selection and body of a request;
//! - `response`: JSON, `metav1.Status` and streamed bodies;
//! - `discovery`: the discovery documents;
//! - `resources`: every resource verb but watch, and pod logs;
//! - `watch`: watches;
//! - `admin`: the `/_sim/...` endpoints.

mod admin;
mod discovery;
mod request;
mod resources;
mod response;
mod watch;

use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::Response;

use crate::error::ApiError;
use crate::kinds::Kind;
use crate::shared::Shared;
use request::{Query, Route, Verb, parse_query, parse_route};
use response::{error_response, json_response, not_found_path};

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new().fallback(handle).with_state(shared)
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_owned();
    let query = parse_query(uri.query());
    if let Some(admin) = path.strip_prefix("/_sim/") {
        return admin::handle(&shared, &method, admin, &body);
    }
    if let Some(doc) = discovery::document(&path) {
        return json_response(200, &doc);
    }
    if matches!(path.as_str(), "/healthz" | "/readyz" | "/livez") {
        return Response::new(Body::from("ok"));
    }
    let Some(route) = parse_route(&path) else {
        return not_found_path();
    };
    let Some(verb) = Verb::of(&method, &route, &query) else {
        return error_response(&ApiError::new(
            405,
            "MethodNotAllowed",
            format!("{method} is not supported here"),
        ));
    };
    let resource = match &route.sub {
        Some(sub) => format!("{}/{sub}", route.kind.plural()),
        None => route.kind.plural().to_owned(),
    };
    let injected = shared.faults().on_request(verb.as_str(), &resource);
    tracing::debug!(verb = verb.as_str(), resource = %resource, path = %path, "kube-sim: request");
    if let Some(code) = injected {
        return error_response(&ApiError::injected(code));
    }
    match serve(shared, verb, route, &query, &headers, &body).await {
        Ok(response) => response,
        Err(e) => error_response(&e),
    }
}

/// Serves a verb on a route.
async fn serve(
    shared: Arc<Shared>,
    verb: Verb,
    route: Route,
    query: &Query,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Response, ApiError> {
    match verb {
        Verb::Watch => Ok(watch::watch(shared, route, query).await),
        Verb::List => resources::list(&shared, &route, query),
        Verb::Get if route.kind == Kind::Pod && route.sub.as_deref() == Some("log") => {
            resources::pod_log(&shared, &route, query)
        }
        Verb::Get => resources::get(&shared, &route),
        Verb::Create => resources::create(&shared, &route, body),
        Verb::Update => resources::update(&shared, &route, body),
        Verb::Patch => resources::patch(&shared, &route, query, headers, body),
        Verb::Delete => resources::delete(&shared, &route, query, body),
        Verb::DeleteCollection => resources::delete_collection(&shared, &route, query),
    }
}
