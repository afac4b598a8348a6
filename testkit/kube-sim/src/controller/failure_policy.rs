//! `podFailurePolicy`: the first rule that matches a failed pod (by a container's non-zero exit
//! code, init containers included, or by a pod condition) decides whether the failure counts
//! against `backoffLimit`, is ignored, or fails the Job.

use serde_json::Value;

use crate::object::{has_condition, meta_str};

/// What a pod failure means for its Job.
pub(crate) enum Verdict {
    Count,
    Ignore,
    /// Fail the Job with this message.
    FailJob(String),
}

/// Judges a failed pod by the Job's rules; without rules every failure counts.
pub(crate) fn judge_failure(job: &Value, pod: &Value) -> Verdict {
    let Some(rules) = job
        .pointer("/spec/podFailurePolicy/rules")
        .and_then(Value::as_array)
    else {
        return Verdict::Count;
    };
    let pod_ref = format!("{}/{}", meta_str(pod, "namespace"), meta_str(pod, "name"));
    for (index, rule) in rules.iter().enumerate() {
        let action = rule
            .get("action")
            .and_then(Value::as_str)
            .unwrap_or("Count");
        let described = |what: String| format!("{what} matching {action} rule at index {index}");
        // A condition match, when both kinds of requirement match, names the condition.
        let matched = rule
            .get("onPodConditions")
            .and_then(Value::as_array)
            .and_then(|wanted| condition_match(pod, wanted, &pod_ref))
            .or_else(|| exit_code_match(pod, rule.get("onExitCodes")?, &pod_ref));
        if let Some(what) = matched {
            return match action {
                "Ignore" => Verdict::Ignore,
                "FailJob" | "FailIndex" => Verdict::FailJob(described(what)),
                _ => Verdict::Count,
            };
        }
    }
    Verdict::Count
}

/// The first failed container whose exit code the requirement names.
fn exit_code_match(pod: &Value, on_exit: &Value, pod_ref: &str) -> Option<String> {
    let only = on_exit.get("containerName").and_then(Value::as_str);
    let values: Vec<i64> = on_exit
        .get("values")
        .and_then(Value::as_array)
        .map(|v| v.iter().filter_map(Value::as_i64).collect())
        .unwrap_or_default();
    let not_in = on_exit.get("operator").and_then(Value::as_str) == Some("NotIn");
    container_exit_codes(pod)
        .into_iter()
        .filter(|(name, code)| *code != 0 && only.is_none_or(|o| o == name))
        .find(|(_, code)| values.contains(code) != not_in)
        .map(|(name, code)| {
            format!("Container {name} for pod {pod_ref} failed with exit code {code}")
        })
}

/// The first wanted condition the pod has.
fn condition_match(pod: &Value, wanted: &[Value], pod_ref: &str) -> Option<String> {
    wanted.iter().find_map(|w| {
        let kind = w.get("type").and_then(Value::as_str).unwrap_or("");
        // The API defaults an empty status to "True".
        let status = w
            .get("status")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .unwrap_or("True");
        has_condition(pod, kind, status).then(|| format!("Pod {pod_ref} has condition {kind}"))
    })
}

/// Exit codes of the pod's terminated containers, init containers first.
fn container_exit_codes(pod: &Value) -> Vec<(String, i64)> {
    ["initContainerStatuses", "containerStatuses"]
        .iter()
        .filter_map(|list| {
            pod.pointer(&format!("/status/{list}"))
                .and_then(Value::as_array)
        })
        .flatten()
        .filter_map(|s| {
            let code = s.pointer("/state/terminated/exitCode")?.as_i64()?;
            let name = s.get("name")?.as_str()?.to_owned();
            Some((name, code))
        })
        .collect()
}
