//! The resource verbs other than watch: list (selectors, `limit` and `continue`, exact
//! versions), get, create, update, patch (merge, strategic merge as merge, apply), delete with
//! its options, deletecollection, and pod logs.

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, header};
use axum::response::Response;
use serde_json::{Value, json};

use super::request::{Filter, Query, Route, namespace, parse_body, part};
use super::response::json_response;
use crate::error::ApiError;
use crate::kinds::Kind;
use crate::kubelet::PodDir;
use crate::object::meta_str;
use crate::shared::Shared;
use crate::store::{DeleteOptions, PatchKind, PatchOptions};

pub(crate) fn list(shared: &Shared, route: &Route, query: &Query) -> Result<Response, ApiError> {
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

pub(crate) fn get(shared: &Shared, route: &Route) -> Result<Response, ApiError> {
    let ns = namespace(route)?;
    let name = route.name.as_deref().unwrap_or("");
    part(route)?;
    let object = shared.store().get(route.kind, ns, name)?;
    Ok(json_response(200, &object))
}

pub(crate) fn create(shared: &Shared, route: &Route, body: &Bytes) -> Result<Response, ApiError> {
    let ns = namespace(route)?;
    let object = parse_body(body)?;
    let created = shared.store().create(route.kind, ns, object)?;
    Ok(json_response(201, &created))
}

pub(crate) fn update(shared: &Shared, route: &Route, body: &Bytes) -> Result<Response, ApiError> {
    let ns = namespace(route)?;
    let part = part(route)?;
    let object = parse_body(body)?;
    let name = route.name.as_deref().unwrap_or("");
    let updated = shared.store().update(route.kind, ns, name, object, part)?;
    Ok(json_response(200, &updated))
}

pub(crate) fn patch(
    shared: &Shared,
    route: &Route,
    query: &Query,
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

fn delete_options(query: &Query, body: &Bytes) -> Result<DeleteOptions, ApiError> {
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

pub(crate) fn delete(
    shared: &Shared,
    route: &Route,
    query: &Query,
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

pub(crate) fn delete_collection(
    shared: &Shared,
    route: &Route,
    query: &Query,
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

pub(crate) fn pod_log(shared: &Shared, route: &Route, query: &Query) -> Result<Response, ApiError> {
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
