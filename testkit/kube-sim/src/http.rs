//! The HTTP face: the Kubernetes REST paths for the served kinds (CRUD, list, watch, patch,
//! `/status`, pod `/log`), discovery documents, and the `/_sim/...` admin endpoints.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::Response;
use serde_json::{Value, json};
use tokio::sync::{broadcast, mpsc};
use tokio_stream::wrappers::ReceiverStream;

use crate::error::ApiError;
use crate::faults::ErrorInjection;
use crate::kinds::Kind;
use crate::kubelet::PodDir;
use crate::object::meta_str;
use crate::selector::{FieldSelector, LabelSelector};
use crate::shared::Shared;
use crate::store::{DeleteOptions, Part, PatchKind, PatchOptions, WatchItem};

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new().fallback(handle).with_state(shared)
}

fn json_response(code: u16, body: &Value) -> Response {
    Response::builder()
        .status(StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap_or_default()
}

fn error_response(err: &ApiError) -> Response {
    let mut response = json_response(err.code, &err.to_status());
    if err.code == 429 {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
    }
    response
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match std::str::from_utf8(&bytes[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn parse_query(query: Option<&str>) -> HashMap<String, String> {
    query
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (percent_decode(k), percent_decode(v)),
            None => (percent_decode(p), String::new()),
        })
        .collect()
}

/// A parsed resource path.
#[derive(Debug)]
struct Route {
    kind: Kind,
    namespace: Option<String>,
    name: Option<String>,
    sub: Option<String>,
}

fn parse_route(path: &str) -> Option<Route> {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, rest) = match segs.as_slice() {
        ["api", "v1", rest @ ..] => ("", rest),
        ["apis", "batch", "v1", rest @ ..] => ("batch", rest),
        _ => return None,
    };
    let (namespace, rest) = match rest {
        ["namespaces", ns, rest @ ..] if !rest.is_empty() => (Some((*ns).to_owned()), rest),
        rest => (None, rest),
    };
    let (plural, name, sub) = match rest {
        [plural] => (*plural, None, None),
        [plural, name] if namespace.is_some() => (*plural, Some((*name).to_owned()), None),
        [plural, name, sub] if namespace.is_some() => {
            (*plural, Some((*name).to_owned()), Some((*sub).to_owned()))
        }
        _ => return None,
    };
    Some(Route {
        kind: Kind::from_path(group, plural)?,
        namespace,
        name,
        sub,
    })
}

fn not_found_path() -> Response {
    error_response(&ApiError::new(
        404,
        "NotFound",
        "the server could not find the requested resource",
    ))
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
        return handle_admin(&shared, &method, admin, &body);
    }
    if let Some(doc) = discovery(&path) {
        return json_response(200, &doc);
    }
    if matches!(path.as_str(), "/healthz" | "/readyz" | "/livez") {
        return Response::new(Body::from("ok"));
    }
    let Some(route) = parse_route(&path) else {
        return not_found_path();
    };
    let is_watch = query.get("watch").is_some_and(|w| w == "true" || w == "1");
    let verb = match (&method, route.name.is_some()) {
        (&Method::GET, false) if is_watch => "watch",
        (&Method::GET, false) => "list",
        (&Method::GET, true) => "get",
        (&Method::POST, false) => "create",
        (&Method::PUT, true) => "update",
        (&Method::PATCH, true) => "patch",
        (&Method::DELETE, true) => "delete",
        (&Method::DELETE, false) => "deletecollection",
        _ => {
            return error_response(&ApiError::new(
                405,
                "MethodNotAllowed",
                format!("{method} is not supported here"),
            ));
        }
    };
    let resource = match &route.sub {
        Some(sub) => format!("{}/{sub}", route.kind.plural()),
        None => route.kind.plural().to_owned(),
    };
    let injected = shared.faults().on_request(verb, &resource);
    tracing::debug!(verb, resource = %resource, path = %path, "kube-sim: request");
    if let Some(code) = injected {
        return error_response(&ApiError::injected(code));
    }
    let result = match verb {
        "watch" => return watch(shared, route, &query).await,
        "list" => list(&shared, &route, &query),
        "get" if route.kind == Kind::Pod && route.sub.as_deref() == Some("log") => {
            pod_log(&shared, &route, &query)
        }
        "get" => get(&shared, &route),
        "create" => create(&shared, &route, &body),
        "update" => update(&shared, &route, &body),
        "patch" => patch(&shared, &route, &query, &headers, &body),
        "delete" => delete(&shared, &route, &query, &body),
        _ => delete_collection(&shared, &route, &query),
    };
    match result {
        Ok(response) => response,
        Err(e) => error_response(&e),
    }
}

fn discovery(path: &str) -> Option<Value> {
    let resources = |group: &str| -> Vec<Value> {
        Kind::ALL
            .iter()
            .filter(|k| k.group() == group)
            .flat_map(|k| {
                let verbs = json!(["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]);
                let mut list = vec![json!({"name": k.plural(), "singularName": k.name().to_lowercase(), "namespaced": true, "kind": k.name(), "verbs": verbs})];
                if k.has_status() {
                    list.push(json!({"name": format!("{}/status", k.plural()), "singularName": "", "namespaced": true, "kind": k.name(), "verbs": ["get", "patch", "update"]}));
                }
                if *k == Kind::Pod {
                    list.push(json!({"name": "pods/log", "singularName": "", "namespaced": true, "kind": "Pod", "verbs": ["get"]}));
                }
                list
            })
            .collect()
    };
    match path.trim_end_matches('/') {
        "/version" => Some(json!({
            "major": "1", "minor": "33", "gitVersion": "v1.33.0-kube-sim", "gitCommit": "kube-sim",
            "gitTreeState": "clean", "buildDate": "2025-01-01T00:00:00Z", "goVersion": "go1.24",
            "compiler": "gc", "platform": "linux/amd64",
        })),
        "/api" => Some(json!({
            "kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}],
        })),
        "/apis" => Some(json!({
            "kind": "APIGroupList", "apiVersion": "v1",
            "groups": [{"name": "batch", "versions": [{"groupVersion": "batch/v1", "version": "v1"}],
                "preferredVersion": {"groupVersion": "batch/v1", "version": "v1"}}],
        })),
        "/apis/batch" => Some(json!({
            "kind": "APIGroup", "apiVersion": "v1", "name": "batch",
            "versions": [{"groupVersion": "batch/v1", "version": "v1"}],
            "preferredVersion": {"groupVersion": "batch/v1", "version": "v1"},
        })),
        "/api/v1" => Some(
            json!({"kind": "APIResourceList", "groupVersion": "v1", "resources": resources("")}),
        ),
        "/apis/batch/v1" => Some(
            json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "batch/v1", "resources": resources("batch")}),
        ),
        _ => None,
    }
}

fn parse_body(body: &Bytes) -> Result<Value, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("kube-sim accepts JSON bodies only: {e}")))
}

fn namespace(route: &Route) -> Result<&str, ApiError> {
    route
        .namespace
        .as_deref()
        .ok_or_else(|| ApiError::new(405, "MethodNotAllowed", "this operation needs a namespace"))
}

fn part(route: &Route) -> Result<Part, ApiError> {
    match route.sub.as_deref() {
        None => Ok(Part::Main),
        Some("status") if route.kind.has_status() => Ok(Part::Status),
        Some(sub) => Err(ApiError::new(
            404,
            "NotFound",
            format!(
                "the server could not find the requested resource ({}/{sub})",
                route.kind.plural()
            ),
        )),
    }
}

struct Filter {
    kind: Kind,
    namespace: Option<String>,
    labels: LabelSelector,
    fields: FieldSelector,
}

impl Filter {
    fn from_query(route: &Route, query: &HashMap<String, String>) -> Result<Self, ApiError> {
        let labels = LabelSelector::parse(query.get("labelSelector").map_or("", String::as_str))
            .map_err(ApiError::bad_request)?;
        let fields = FieldSelector::parse(query.get("fieldSelector").map_or("", String::as_str))
            .map_err(ApiError::bad_request)?;
        Ok(Filter {
            kind: route.kind,
            namespace: route.namespace.clone(),
            labels,
            fields,
        })
    }

    fn matches(&self, object: &Value) -> bool {
        self.labels.matches(object) && self.fields.matches(object)
    }

    fn in_scope(&self, item: &WatchItem) -> bool {
        item.kind == self.kind
            && self
                .namespace
                .as_ref()
                .is_none_or(|ns| *ns == item.namespace)
    }
}

fn list(
    shared: &Shared,
    route: &Route,
    query: &HashMap<String, String>,
) -> Result<Response, ApiError> {
    let filter = Filter::from_query(route, query)?;
    let store = shared.store();
    let rv = query.get("resourceVersion").filter(|v| !v.is_empty());
    if query.get("resourceVersionMatch").map(String::as_str) == Some("Exact") {
        let rv = rv.and_then(|v| v.parse::<u64>().ok()).ok_or_else(|| {
            ApiError::bad_request("resourceVersionMatch=Exact needs a resourceVersion")
        })?;
        store.check_exact(rv)?;
    } else if let Some(rv) = rv.and_then(|v| v.parse::<u64>().ok()) {
        if rv > store.rv() {
            return Err(ApiError::new(
                504,
                "Timeout",
                format!("Too large resource version: {rv}, current: {}", store.rv()),
            ));
        }
    }
    let mut items: Vec<&Value> = store
        .list(route.kind, route.namespace.as_deref())
        .into_iter()
        .filter(|o| filter.matches(o))
        .collect();
    let mut list_rv = store.rv();
    if let Some(token) = query.get("continue").filter(|c| !c.is_empty()) {
        let (token_rv, after) = token
            .split_once('/')
            .and_then(|(rv, after)| Some((rv.parse::<u64>().ok()?, after.to_owned())))
            .ok_or_else(|| ApiError::bad_request("invalid continue token"))?;
        list_rv = token_rv;
        items.retain(|o| format!("{}/{}", meta_str(o, "namespace"), meta_str(o, "name")) > after);
    }
    let mut metadata = json!({"resourceVersion": list_rv.to_string()});
    if let Some(limit) = query
        .get("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .filter(|l| *l > 0)
    {
        if items.len() > limit {
            items.truncate(limit);
            let last = items
                .last()
                .map(|o| format!("{}/{}", meta_str(o, "namespace"), meta_str(o, "name")))
                .unwrap_or_default();
            metadata["continue"] = json!(format!("{list_rv}/{last}"));
            metadata["remainingItemCount"] = json!(0);
        }
    }
    let mut body = route.kind.list_header();
    body["metadata"] = metadata;
    body["items"] = json!(items);
    Ok(json_response(200, &body))
}

fn get(shared: &Shared, route: &Route) -> Result<Response, ApiError> {
    let ns = namespace(route)?;
    let name = route.name.as_deref().unwrap_or("");
    part(route)?;
    let object = shared.store().get(route.kind, ns, name)?;
    Ok(json_response(200, &object))
}

fn create(shared: &Shared, route: &Route, body: &Bytes) -> Result<Response, ApiError> {
    let ns = namespace(route)?;
    let object = parse_body(body)?;
    let created = shared.store().create(route.kind, ns, object)?;
    Ok(json_response(201, &created))
}

fn update(shared: &Shared, route: &Route, body: &Bytes) -> Result<Response, ApiError> {
    let ns = namespace(route)?;
    let part = part(route)?;
    let object = parse_body(body)?;
    let name = route.name.as_deref().unwrap_or("");
    let updated = shared.store().update(route.kind, ns, name, object, part)?;
    Ok(json_response(200, &updated))
}

fn patch(
    shared: &Shared,
    route: &Route,
    query: &HashMap<String, String>,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Response, ApiError> {
    let ns = namespace(route)?;
    let part = part(route)?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim();
    let how = match content_type {
        "application/merge-patch+json" | "application/strategic-merge-patch+json" => {
            PatchKind::Merge
        }
        "application/apply-patch+yaml" | "application/apply-patch+json" => PatchKind::Apply,
        other => {
            return Err(ApiError::new(
                415,
                "UnsupportedMediaType",
                format!(
                    "the body of the request was in an unknown format ({other}); kube-sim accepts merge, strategic-merge (as merge) and apply patches"
                ),
            ));
        }
    };
    let body = parse_body(body)?;
    let name = route.name.as_deref().unwrap_or("");
    let manager = query.get("fieldManager").map(String::as_str);
    let (object, created) = shared.store().patch(
        route.kind,
        ns,
        name,
        &body,
        PatchOptions { how, part, manager },
    )?;
    Ok(json_response(if created { 201 } else { 200 }, &object))
}

fn delete_options(
    query: &HashMap<String, String>,
    body: &Bytes,
) -> Result<DeleteOptions, ApiError> {
    let body: Value = if body.is_empty() {
        json!({})
    } else {
        parse_body(body)?
    };
    let text = |k: &str| {
        query
            .get(k)
            .cloned()
            .or_else(|| body.get(k).and_then(Value::as_str).map(str::to_owned))
    };
    let mut propagation = text("propagationPolicy");
    if propagation.is_none() {
        let orphan = query
            .get("orphanDependents")
            .map(|v| v == "true")
            .or(body.get("orphanDependents").and_then(Value::as_bool));
        propagation = orphan.map(|o| if o { "Orphan" } else { "Background" }.to_owned());
    }
    let grace_seconds = query
        .get("gracePeriodSeconds")
        .and_then(|g| g.parse().ok())
        .or_else(|| body.get("gracePeriodSeconds").and_then(Value::as_i64));
    Ok(DeleteOptions {
        propagation,
        grace_seconds,
        precondition_uid: body
            .pointer("/preconditions/uid")
            .and_then(Value::as_str)
            .map(str::to_owned),
        precondition_rv: body
            .pointer("/preconditions/resourceVersion")
            .and_then(Value::as_str)
            .map(str::to_owned),
    })
}

fn delete(
    shared: &Shared,
    route: &Route,
    query: &HashMap<String, String>,
    body: &Bytes,
) -> Result<Response, ApiError> {
    let ns = namespace(route)?;
    if route.sub.is_some() {
        return Err(ApiError::new(
            405,
            "MethodNotAllowed",
            "delete of a subresource",
        ));
    }
    let opts = delete_options(query, body)?;
    let name = route.name.as_deref().unwrap_or("");
    let object = shared.store().delete(route.kind, ns, name, &opts)?;
    Ok(json_response(200, &object))
}

fn delete_collection(
    shared: &Shared,
    route: &Route,
    query: &HashMap<String, String>,
) -> Result<Response, ApiError> {
    let ns = namespace(route)?;
    let filter = Filter::from_query(route, query)?;
    let opts = delete_options(query, &Bytes::new())?;
    let mut store = shared.store();
    let names: Vec<String> = store
        .list(route.kind, Some(ns))
        .into_iter()
        .filter(|o| filter.matches(o))
        .map(|o| meta_str(o, "name").to_owned())
        .collect();
    let mut items = Vec::new();
    for name in names {
        items.push(store.delete(route.kind, ns, &name, &opts)?);
    }
    let mut body = route.kind.list_header();
    body["metadata"] = json!({"resourceVersion": store.rv().to_string()});
    body["items"] = json!(items);
    Ok(json_response(200, &body))
}

fn pod_log(
    shared: &Shared,
    route: &Route,
    query: &HashMap<String, String>,
) -> Result<Response, ApiError> {
    let ns = namespace(route)?;
    let name = route.name.as_deref().unwrap_or("");
    let pod = shared.store().get(Kind::Pod, ns, name)?;
    let container = match query.get("container") {
        Some(c) => c.clone(),
        None => {
            let names: Vec<&str> = pod
                .pointer("/spec/containers")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|c| c.get("name").and_then(Value::as_str))
                .collect();
            match names.as_slice() {
                [one] => (*one).to_owned(),
                _ => {
                    return Err(ApiError::bad_request(format!(
                        "a container name must be specified for pod {name}, choose one of: {names:?}"
                    )));
                }
            }
        }
    };
    let path = PodDir::of(&shared.data_dir, &pod).log(&container);
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let text = match query.get("tailLines").and_then(|t| t.parse::<usize>().ok()) {
        Some(n) => {
            let lines: Vec<&str> = text.lines().collect();
            let mut t = lines[lines.len().saturating_sub(n)..].join("\n");
            if !t.is_empty() {
                t.push('\n');
            }
            t
        }
        None => text,
    };
    Ok(Response::builder()
        .header(header::CONTENT_TYPE, "text/plain")
        .body(Body::from(text))
        .unwrap_or_default())
}

fn event_line(event: &str, object: &Value) -> Bytes {
    let mut line = json!({"type": event, "object": object}).to_string();
    line.push('\n');
    Bytes::from(line)
}

fn bookmark(kind: Kind, rv: u64, initial_end: bool) -> Value {
    let mut metadata = json!({"resourceVersion": rv.to_string()});
    if initial_end {
        metadata["annotations"] = json!({"k8s.io/initial-events-end": "true"});
    }
    json!({"kind": kind.name(), "apiVersion": kind.api_version(), "metadata": metadata})
}

/// What a change looks like through a selector: entering it is ADDED, leaving it is DELETED.
fn visible(filter: &Filter, item: &WatchItem) -> Option<(&'static str, Value)> {
    if !filter.in_scope(item) {
        return None;
    }
    let now = filter.matches(&item.object);
    let before = item.old.as_ref().is_some_and(|o| filter.matches(o));
    match (item.event, before, now) {
        ("MODIFIED", false, true) => Some(("ADDED", item.object.clone())),
        ("MODIFIED", true, false) => Some(("DELETED", item.object.clone())),
        ("MODIFIED", false, false) => None,
        (event, _, true) => Some((event, item.object.clone())),
        _ => None,
    }
}

async fn watch(shared: Arc<Shared>, route: Route, query: &HashMap<String, String>) -> Response {
    if route.name.is_some() {
        return error_response(&ApiError::bad_request(
            "watch a collection with a fieldSelector metadata.name=NAME",
        ));
    }
    let filter = match Filter::from_query(&route, query) {
        Ok(f) => f,
        Err(e) => return error_response(&e),
    };
    let bookmarks = query
        .get("allowWatchBookmarks")
        .is_some_and(|v| v == "true");
    let initial_events = query.get("sendInitialEvents").is_some_and(|v| v == "true");
    let timeout = query
        .get("timeoutSeconds")
        .and_then(|t| t.parse::<u64>().ok())
        .map(Duration::from_secs)
        .unwrap_or(Duration::from_secs(1800));
    let since = query
        .get("resourceVersion")
        .filter(|v| !v.is_empty() && *v != "0")
        .map(|v| v.parse::<u64>());
    let (tx, rx) = mpsc::channel::<Result<Bytes, Infallible>>(256);
    // Snapshot and subscription under one lock: nothing falls between them.
    let (initial, mut events, start_rv) = {
        let store = shared.store();
        let events = store.subscribe();
        let mut lines = Vec::new();
        let start_rv = store.rv();
        match since {
            Some(Err(_)) => {
                return error_response(&ApiError::bad_request("resourceVersion must be a number"));
            }
            Some(Ok(rv)) if !initial_events => match store.history_since(rv) {
                Ok(items) => {
                    for item in items {
                        if let Some((event, object)) = visible(&filter, &item) {
                            lines.push(event_line(event, &object));
                        }
                    }
                }
                Err(e) => {
                    let status = e.to_status();
                    let _ = tx.try_send(Ok(event_line("ERROR", &status)));
                    drop(tx);
                    return stream_response(rx);
                }
            },
            _ => {
                for object in store.list(route.kind, route.namespace.as_deref()) {
                    if filter.matches(object) {
                        lines.push(event_line("ADDED", object));
                    }
                }
                if initial_events && bookmarks {
                    lines.push(event_line(
                        "BOOKMARK",
                        &bookmark(route.kind, start_rv, true),
                    ));
                }
            }
        }
        (lines, events, start_rv)
    };
    let mut epoch = shared.api_epoch.subscribe();
    let mut shutdown = shared.shutdown.subscribe();
    let interval = shared.config.bookmark_interval;
    let kind = route.kind;
    tokio::spawn(async move {
        for line in initial {
            if tx.send(Ok(line)).await.is_err() {
                return;
            }
        }
        let mut last_rv = start_rv;
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        let mut ticker = tokio::time::interval(interval);
        ticker.tick().await;
        loop {
            tokio::select! {
                received = events.recv() => match received {
                    Ok(item) => {
                        if item.rv <= last_rv {
                            continue;
                        }
                        last_rv = item.rv;
                        if let Some((event, object)) = visible(&filter, &item) {
                            if tx.send(Ok(event_line(event, &object))).await.is_err() {
                                return;
                            }
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        let status = ApiError::gone("kube-sim: watch fell behind; relist").to_status();
                        let _ = tx.send(Ok(event_line("ERROR", &status))).await;
                        return;
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                },
                _ = ticker.tick(), if bookmarks => {
                    if tx.send(Ok(event_line("BOOKMARK", &bookmark(kind, last_rv, false)))).await.is_err() {
                        return;
                    }
                }
                _ = &mut deadline => return,
                _ = epoch.changed() => return,
                _ = crate::shared::stopped(&mut shutdown) => return,
                _ = tx.closed() => return,
            }
        }
    });
    stream_response(rx)
}

fn stream_response(rx: mpsc::Receiver<Result<Bytes, Infallible>>) -> Response {
    Response::builder()
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::TRANSFER_ENCODING, "chunked")
        .body(Body::from_stream(ReceiverStream::new(rx)))
        .unwrap_or_default()
}

/// `/_sim/...`: fault switches and request counts over HTTP, for a simulator in a child process.
fn handle_admin(shared: &Shared, method: &Method, path: &str, body: &Bytes) -> Response {
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
