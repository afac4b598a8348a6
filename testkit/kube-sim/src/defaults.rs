//! What the API server fills in on writes: the defaults of pod specs and Jobs, server-set Job
//! labels, and a Secret's `stringData` folded into `data`.

use base64::Engine;
use serde_json::{Map, Value, json};

use crate::kinds::Kind;

fn ensure_object<'a>(parent: &'a mut Value, key: &str) -> &'a mut Map<String, Value> {
    if !parent.get(key).is_some_and(Value::is_object) {
        parent[key] = json!({});
    }
    parent[key].as_object_mut().expect("just made an object")
}

fn default_field(map: &mut Map<String, Value>, key: &str, value: Value) {
    map.entry(key.to_owned()).or_insert(value);
}

/// Fills in the API defaults of a pod spec.
pub(crate) fn default_pod_spec(spec: &mut Value) {
    if !spec.is_object() {
        return;
    }
    let map = spec.as_object_mut().expect("checked object");
    default_field(map, "restartPolicy", json!("Always"));
    default_field(map, "terminationGracePeriodSeconds", json!(30));
    default_field(map, "dnsPolicy", json!("ClusterFirst"));
    default_field(map, "schedulerName", json!("default-scheduler"));
    default_field(map, "securityContext", json!({}));
    for list in ["initContainers", "containers"] {
        if let Some(containers) = map.get_mut(list).and_then(Value::as_array_mut) {
            for c in containers.iter_mut().filter_map(Value::as_object_mut) {
                default_field(c, "terminationMessagePath", json!("/dev/termination-log"));
                default_field(c, "terminationMessagePolicy", json!("File"));
                default_field(c, "imagePullPolicy", json!("IfNotPresent"));
                default_field(c, "resources", json!({}));
            }
        }
    }
}

/// Fills in what the API server sets on create for each kind.
pub(crate) fn default_on_create(kind: Kind, object: &mut Value, uid: &str) {
    match kind {
        Kind::Pod => {
            if let Some(spec) = object.get_mut("spec") {
                default_pod_spec(spec);
            }
            object["status"] = json!({"phase": "Pending", "qosClass": "BestEffort"});
        }
        Kind::Job => {
            let name = object
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned();
            let spec = ensure_object(object, "spec");
            default_field(spec, "completions", json!(1));
            default_field(spec, "parallelism", json!(1));
            default_field(spec, "backoffLimit", json!(6));
            default_field(spec, "completionMode", json!("NonIndexed"));
            default_field(spec, "suspend", json!(false));
            default_field(
                spec,
                "selector",
                json!({"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}),
            );
            let template = spec.entry("template").or_insert(json!({}));
            let metadata = ensure_object(template, "metadata");
            let labels = metadata.entry("labels").or_insert(json!({}));
            if let Some(labels) = labels.as_object_mut() {
                for (k, v) in [
                    ("batch.kubernetes.io/controller-uid", uid),
                    ("batch.kubernetes.io/job-name", name.as_str()),
                    ("controller-uid", uid),
                    ("job-name", name.as_str()),
                ] {
                    labels.insert(k.to_owned(), json!(v));
                }
            }
            if let Some(pod_spec) = template.get_mut("spec") {
                default_pod_spec(pod_spec);
            }
            object["status"] = json!({});
        }
        Kind::Secret => {
            default_field(
                object.as_object_mut().expect("objects are maps"),
                "type",
                json!("Opaque"),
            );
        }
        Kind::ConfigMap | Kind::Event => {}
    }
}

/// Folds a Secret's `stringData` into `data` (base64), as the API server does on every write.
pub(crate) fn fold_string_data(object: &mut Value) {
    let Some(Value::Object(string_data)) =
        object.as_object_mut().and_then(|o| o.remove("stringData"))
    else {
        return;
    };
    let data = ensure_object(object, "data");
    for (key, value) in string_data {
        let text = value.as_str().unwrap_or_default();
        data.insert(
            key,
            json!(base64::engine::general_purpose::STANDARD.encode(text)),
        );
    }
}
