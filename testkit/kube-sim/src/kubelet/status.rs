//! The pod status the kubelet writes: phase, IPs, conditions and container statuses with their
//! `waiting`, `running` and `terminated` states. Each function changes a pod's `status` object.

use serde_json::{Value, json};

use super::spec::{Container, PodSpec};
use crate::time::now_rfc3339;

/// Which list of container statuses a container is in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Which {
    Init,
    Main,
}

impl Which {
    pub(crate) fn list(self) -> &'static str {
        match self {
            Which::Init => "initContainerStatuses",
            Which::Main => "containerStatuses",
        }
    }
}

/// How a container ended.
#[derive(Debug)]
pub(crate) struct Terminated<'a> {
    pub(crate) exit_code: i32,
    /// `Completed`, `Error`, `OOMKilled` or `StartError`.
    pub(crate) reason: &'a str,
    /// The termination message; left out when empty.
    pub(crate) message: &'a str,
    pub(crate) started_at: &'a str,
    pub(crate) container_id: &'a str,
}

/// A condition as the kubelet first writes it.
fn condition(kind: &str, ok: bool, reason: Option<&str>, now: &str) -> Value {
    let mut c = json!({"type": kind, "status": if ok { "True" } else { "False" },
        "lastProbeTime": null, "lastTransitionTime": now});
    if let Some(r) = reason {
        c["reason"] = json!(r);
    }
    c
}

/// Sets a condition; its transition time moves only when its status changes.
pub(crate) fn set_condition(status: &mut Value, kind: &str, ok: bool, reason: Option<&str>) {
    let want = if ok { "True" } else { "False" };
    if !status["conditions"].is_array() {
        status["conditions"] = json!([]);
    }
    let Some(list) = status["conditions"].as_array_mut() else {
        return;
    };
    let index = match list.iter().position(|c| c["type"] == json!(kind)) {
        Some(i) => i,
        None => {
            list.push(json!({"type": kind, "lastProbeTime": null}));
            list.len() - 1
        }
    };
    let entry = &mut list[index];
    if entry["status"] != json!(want) {
        entry["status"] = json!(want);
        entry["lastTransitionTime"] = json!(now_rfc3339());
    }
    match reason {
        Some(r) => entry["reason"] = json!(r),
        None => {
            if let Some(m) = entry.as_object_mut() {
                m.remove("reason");
            }
        }
    }
}

/// Pending and not scheduled, with the scheduler's message.
pub(crate) fn unschedulable(status: &mut Value, message: &str) {
    status["phase"] = json!("Pending");
    status["conditions"] = json!([{
        "type": "PodScheduled", "status": "False", "reason": "Unschedulable",
        "message": message, "lastProbeTime": null, "lastTransitionTime": now_rfc3339(),
    }]);
}

/// Scheduled at `now`: IPs, conditions, and every container waiting.
pub(crate) fn scheduled(status: &mut Value, spec: &PodSpec, now: &str) {
    let inits = &spec.init_containers;
    status["phase"] = json!("Pending");
    status["hostIP"] = json!("127.0.0.1");
    status["hostIPs"] = json!([{"ip": "127.0.0.1"}]);
    status["podIP"] = json!("127.0.0.1");
    status["podIPs"] = json!([{"ip": "127.0.0.1"}]);
    status["startTime"] = json!(now);
    let not_initialized = (!inits.is_empty()).then_some("ContainersNotInitialized");
    status["conditions"] = json!([
        condition("PodReadyToStartContainers", true, None, now),
        condition("Initialized", inits.is_empty(), not_initialized, now),
        condition("Ready", false, Some("ContainersNotReady"), now),
        condition("ContainersReady", false, Some("ContainersNotReady"), now),
        condition("PodScheduled", true, None, now),
    ]);
    if !inits.is_empty() {
        status["initContainerStatuses"] = waiting_list(inits, "PodInitializing");
    }
    let reason = if inits.is_empty() {
        "ContainerCreating"
    } else {
        "PodInitializing"
    };
    status["containerStatuses"] = waiting_list(&spec.containers, reason);
}

fn waiting_list(containers: &[Container], reason: &str) -> Value {
    containers
        .iter()
        .map(|c| {
            json!({
                "name": c.name,
                "image": c.image,
                "imageID": "",
                "ready": false,
                "restartCount": 0,
                "started": false,
                "state": waiting(reason, None),
                "lastState": {},
            })
        })
        .collect()
}

/// A `waiting` state.
pub(crate) fn waiting(reason: &str, message: Option<&str>) -> Value {
    match message {
        Some(message) => json!({"waiting": {"reason": reason, "message": message}}),
        None => json!({"waiting": {"reason": reason}}),
    }
}

/// Every init container succeeded: the containers are being created.
pub(crate) fn initialized(status: &mut Value) {
    set_condition(status, "Initialized", true, None);
    for st in status["containerStatuses"]
        .as_array_mut()
        .into_iter()
        .flatten()
    {
        st["state"] = waiting("ContainerCreating", None);
    }
}

/// An init container failed: the pod fails.
pub(crate) fn init_failed(status: &mut Value) {
    status["phase"] = json!("Failed");
    set_condition(
        status,
        "Initialized",
        false,
        Some("ContainersNotInitialized"),
    );
}

/// A container's process runs.
pub(crate) fn running(
    container: &mut Value,
    which: Which,
    started_at: &str,
    container_id: &str,
    image_id: &str,
) {
    container["state"] = json!({"running": {"startedAt": started_at}});
    container["started"] = json!(true);
    container["ready"] = json!(which == Which::Main);
    container["containerID"] = json!(container_id);
    container["imageID"] = json!(image_id);
}

/// A main container runs: the pod runs, and is ready once every container is.
pub(crate) fn main_started(status: &mut Value) {
    status["phase"] = json!("Running");
    let all_ready = status["containerStatuses"]
        .as_array()
        .is_some_and(|l| l.iter().all(|c| c["ready"] == json!(true)));
    if all_ready {
        set_condition(status, "Ready", true, None);
        set_condition(status, "ContainersReady", true, None);
    }
}

/// A container ended (or never started).
pub(crate) fn terminated(container: &mut Value, end: &Terminated<'_>) {
    let mut terminated = json!({"exitCode": end.exit_code, "reason": end.reason,
        "startedAt": end.started_at, "finishedAt": now_rfc3339(), "containerID": end.container_id});
    if !end.message.is_empty() {
        terminated["message"] = json!(end.message);
    }
    container["state"] = json!({"terminated": terminated});
    container["containerID"] = json!(end.container_id);
    container["ready"] = json!(false);
    container["started"] = json!(false);
}

/// Every container ended: the pod succeeded when all exited 0.
pub(crate) fn completed(status: &mut Value, all_ok: bool) {
    status["phase"] = json!(if all_ok { "Succeeded" } else { "Failed" });
    set_condition(status, "Ready", false, Some("PodCompleted"));
    set_condition(status, "ContainersReady", false, Some("PodCompleted"));
    set_condition(status, "PodReadyToStartContainers", false, None);
}

/// The node was lost: the pod fails, unfinished containers are unknown, and the pod is a
/// disruption target.
pub(crate) fn node_lost(status: &mut Value, node: &str, pod: &str) {
    let now = now_rfc3339();
    status["phase"] = json!("Failed");
    status["reason"] = json!("NodeLost");
    status["message"] = json!(format!(
        "Node {node} which was running pod {pod} is unresponsive"
    ));
    for list in [Which::Init.list(), Which::Main.list()] {
        for st in status[list].as_array_mut().into_iter().flatten() {
            if st.pointer("/state/terminated").is_none() {
                st["state"] = json!({"terminated": {"exitCode": 137, "reason": "ContainerStatusUnknown",
                    "message": "The container could not be located when the pod was terminated",
                    "finishedAt": now}});
                st["ready"] = json!(false);
            }
        }
    }
    set_condition(status, "Ready", false, Some("NodeLost"));
    let mut conditions = status["conditions"].as_array().cloned().unwrap_or_default();
    conditions.retain(|c| c["type"] != json!("DisruptionTarget"));
    conditions.push(json!({"type": "DisruptionTarget", "status": "True", "reason": "DeletionByTaintManager",
        "message": "Taint manager: deleting due to NoExecute taint", "lastProbeTime": null, "lastTransitionTime": now}));
    status["conditions"] = json!(conditions);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_move_their_transition_time_only_on_change() {
        let mut status = json!({});
        set_condition(&mut status, "Ready", false, Some("ContainersNotReady"));
        status["conditions"][0]["lastTransitionTime"] = json!("then");
        set_condition(&mut status, "Ready", false, Some("PodCompleted"));
        assert_eq!(status["conditions"][0]["lastTransitionTime"], "then");
        assert_eq!(status["conditions"][0]["reason"], "PodCompleted");
        set_condition(&mut status, "Ready", true, None);
        assert_ne!(status["conditions"][0]["lastTransitionTime"], "then");
        assert_eq!(status["conditions"][0]["status"], "True");
        assert!(status["conditions"][0].get("reason").is_none());
    }
}
