//! What a request asks for: the query string, the resource path ([`Route`]), the verb, the
//! label and field selection of lists and watches ([`Filter`]), and a JSON body.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::http::Method;
use serde_json::Value;

use crate::error::ApiError;
use crate::kinds::Kind;
use crate::selector::{FieldSelector, LabelSelector};
use crate::store::{Part, WatchItem};

/// Query parameters, percent-decoded.
pub(crate) type Query = HashMap<String, String>;

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

pub(crate) fn parse_query(query: Option<&str>) -> Query {
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
pub(crate) struct Route {
    pub(crate) kind: Kind,
    pub(crate) namespace: Option<String>,
    pub(crate) name: Option<String>,
    pub(crate) sub: Option<String>,
}

pub(crate) fn parse_route(path: &str) -> Option<Route> {
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

/// The API verb of a request, as faults and request counts name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verb {
    Get,
    List,
    Watch,
    Create,
    Update,
    Patch,
    Delete,
    DeleteCollection,
}

impl Verb {
    /// The verb of `method` on a route; `None` for a method the route does not take.
    pub(crate) fn of(method: &Method, route: &Route, query: &Query) -> Option<Verb> {
        let is_watch = query.get("watch").is_some_and(|w| w == "true" || w == "1");
        Some(match (method, route.name.is_some()) {
            (&Method::GET, false) if is_watch => Verb::Watch,
            (&Method::GET, false) => Verb::List,
            (&Method::GET, true) => Verb::Get,
            (&Method::POST, false) => Verb::Create,
            (&Method::PUT, true) => Verb::Update,
            (&Method::PATCH, true) => Verb::Patch,
            (&Method::DELETE, true) => Verb::Delete,
            (&Method::DELETE, false) => Verb::DeleteCollection,
            _ => return None,
        })
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Verb::Get => "get",
            Verb::List => "list",
            Verb::Watch => "watch",
            Verb::Create => "create",
            Verb::Update => "update",
            Verb::Patch => "patch",
            Verb::Delete => "delete",
            Verb::DeleteCollection => "deletecollection",
        }
    }
}

pub(crate) fn parse_body(body: &Bytes) -> Result<Value, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("kube-sim accepts JSON bodies only: {e}")))
}

pub(crate) fn namespace(route: &Route) -> Result<&str, ApiError> {
    route
        .namespace
        .as_deref()
        .ok_or_else(|| ApiError::new(405, "MethodNotAllowed", "this operation needs a namespace"))
}

pub(crate) fn part(route: &Route) -> Result<Part, ApiError> {
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

/// The objects a list, watch or deletecollection selects.
pub(crate) struct Filter {
    kind: Kind,
    namespace: Option<String>,
    labels: LabelSelector,
    fields: FieldSelector,
}

impl Filter {
    pub(crate) fn from_query(route: &Route, query: &Query) -> Result<Self, ApiError> {
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

    pub(crate) fn matches(&self, object: &Value) -> bool {
        self.labels.matches(object) && self.fields.matches(object)
    }

    pub(crate) fn in_scope(&self, item: &WatchItem) -> bool {
        item.kind == self.kind
            && self
                .namespace
                .as_ref()
                .is_none_or(|ns| *ns == item.namespace)
    }
}
