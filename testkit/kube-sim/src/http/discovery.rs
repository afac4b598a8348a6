//! Discovery documents: `/version`, `/api`, `/apis`, `/apis/batch`, `/api/v1` and
//! `/apis/batch/v1`, listing the served kinds and their subresources.

use serde_json::{Value, json};

use crate::kinds::Kind;

/// The document at `path`, if it is a discovery path.
pub(crate) fn document(path: &str) -> Option<Value> {
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
