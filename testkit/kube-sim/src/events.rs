//! core/v1 Events that the Job controller and the kubelet record about the objects they act on.

use serde_json::{Value, json};

use crate::kinds::Kind;
use crate::object::{meta_str, uid};
use crate::store::Store;
use crate::time::now_rfc3339;

/// Records a core/v1 Event about `object`; `component` is the reporting controller.
pub(crate) fn record_event(
    store: &mut Store,
    object: &Value,
    kind: Kind,
    warning: bool,
    reason: &str,
    message: &str,
    component: &str,
) {
    let name = meta_str(object, "name");
    let ns = meta_str(object, "namespace").to_owned();
    let now = now_rfc3339();
    let event = json!({
        "metadata": {"generateName": format!("{name}.")},
        "involvedObject": {
            "apiVersion": kind.api_version(),
            "kind": kind.name(),
            "name": name,
            "namespace": ns,
            "uid": uid(object),
            "resourceVersion": meta_str(object, "resourceVersion"),
        },
        "reason": reason,
        "message": message,
        "type": if warning { "Warning" } else { "Normal" },
        "count": 1,
        "firstTimestamp": now,
        "lastTimestamp": now,
        "source": {"component": component},
        "reportingComponent": component,
        "reportingInstance": "kube-sim",
    });
    if let Err(error) = store.create(Kind::Event, &ns, event) {
        tracing::warn!(%error, reason, "kube-sim: cannot record event");
    }
}
