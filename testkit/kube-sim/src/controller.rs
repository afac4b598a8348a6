//! The control plane loops: the Job controller (one pod per Job, status from pod phases,
//! `backoffLimit`, `podFailurePolicy`, `activeDeadlineSeconds`), the TTL-after-finished
//! controller and the garbage collector (ownerReferences, foreground deletion).

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::events::record_event;
use crate::kinds::Kind;
use crate::shared::Shared;
use crate::store::{DeleteOptions, FOREGROUND, Key, Store, is_deleting, meta_str, owner_uids, uid};
use crate::time::{now_rfc3339, scaled};

/// How often timers (deadlines, TTLs) are checked when nothing else changes.
const TICK: Duration = Duration::from_millis(20);

pub(crate) async fn run(shared: Arc<Shared>) {
    let mut changed = shared.changed.subscribe();
    let mut shutdown = shared.shutdown.subscribe();
    loop {
        {
            let mut store = shared.store();
            reconcile_jobs(&mut store, shared.config.time_scale);
            collect_garbage(&mut store);
        }
        tokio::select! {
            _ = changed.changed() => {}
            _ = tokio::time::sleep(TICK) => {}
            _ = crate::shared::stopped(&mut shutdown) => return,
        }
    }
}

fn condition_true(object: &Value, kind: &str) -> bool {
    object
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|cs| {
            cs.iter().any(|c| {
                c.get("type").and_then(Value::as_str) == Some(kind)
                    && c.get("status").and_then(Value::as_str) == Some("True")
            })
        })
}

fn phase(pod: &Value) -> &str {
    pod.pointer("/status/phase")
        .and_then(Value::as_str)
        .unwrap_or("Pending")
}

fn controller_uid(object: &Value) -> Option<&str> {
    object
        .pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)?
        .iter()
        .find(|r| r.get("controller").and_then(Value::as_bool) == Some(true))
        .and_then(|r| r.get("uid"))
        .and_then(Value::as_str)
}

/// What a pod failure means for its Job.
enum Verdict {
    Count,
    Ignore,
    FailJob(String),
}

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

fn judge_failure(job: &Value, pod: &Value) -> Verdict {
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
        let mut matched = None;
        if let Some(on_exit) = rule.get("onExitCodes") {
            let only = on_exit.get("containerName").and_then(Value::as_str);
            let values: Vec<i64> = on_exit
                .get("values")
                .and_then(Value::as_array)
                .map(|v| v.iter().filter_map(Value::as_i64).collect())
                .unwrap_or_default();
            let not_in = on_exit.get("operator").and_then(Value::as_str) == Some("NotIn");
            matched = container_exit_codes(pod)
                .into_iter()
                .filter(|(name, code)| *code != 0 && only.is_none_or(|o| o == name))
                .find(|(_, code)| values.contains(code) != not_in)
                .map(|(name, code)| {
                    format!("Container {name} for pod {pod_ref} failed with exit code {code} matching {action} rule at index {index}")
                });
        }
        if let Some(conditions) = rule.get("onPodConditions").and_then(Value::as_array) {
            let pod_conditions = pod
                .pointer("/status/conditions")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            for wanted in conditions {
                let kind = wanted.get("type").and_then(Value::as_str).unwrap_or("");
                // The API defaults an empty status to "True".
                let status = wanted
                    .get("status")
                    .and_then(Value::as_str)
                    .filter(|s| !s.is_empty())
                    .unwrap_or("True");
                if pod_conditions.iter().any(|c| {
                    c.get("type").and_then(Value::as_str) == Some(kind)
                        && c.get("status").and_then(Value::as_str) == Some(status)
                }) {
                    matched = Some(format!(
                        "Pod {pod_ref} has condition {kind} matching {action} rule at index {index}"
                    ));
                    break;
                }
            }
        }
        if let Some(message) = matched {
            return match action {
                "Ignore" => Verdict::Ignore,
                "FailJob" | "FailIndex" => Verdict::FailJob(message),
                _ => Verdict::Count,
            };
        }
    }
    Verdict::Count
}

fn new_pod_for(job: &Value) -> Value {
    let template = job.pointer("/spec/template").cloned().unwrap_or(json!({}));
    let name = meta_str(job, "name");
    let mut metadata = json!({
        "generateName": format!("{name}-"),
        "ownerReferences": [{
            "apiVersion": "batch/v1",
            "kind": "Job",
            "name": name,
            "uid": uid(job),
            "controller": true,
            "blockOwnerDeletion": true,
        }],
    });
    for field in ["labels", "annotations"] {
        if let Some(v) = template.pointer(&format!("/metadata/{field}")) {
            metadata[field] = v.clone();
        }
    }
    json!({"metadata": metadata, "spec": template.get("spec").cloned().unwrap_or(json!({}))})
}

fn finish_conditions(done: &str, reason: &str, message: &str) -> Vec<Value> {
    let now = now_rfc3339();
    let first = if done == "Complete" {
        "SuccessCriteriaMet"
    } else {
        "FailureTarget"
    };
    [first, done]
        .iter()
        .map(|t| {
            json!({
                "type": t,
                "status": "True",
                "reason": reason,
                "message": message,
                "lastProbeTime": now,
                "lastTransitionTime": now,
            })
        })
        .collect()
}

fn reconcile_jobs(store: &mut Store, scale: f64) {
    for key in store.keys(Some(Kind::Job)) {
        if let Some(job) = store.by_key(&key).cloned() {
            reconcile_job(store, &key, &job, scale);
        }
    }
}

fn reconcile_job(store: &mut Store, key: &Key, job: &Value, scale: f64) {
    let job_uid = uid(job).to_owned();
    let pods: Vec<Value> = store
        .list(Kind::Pod, Some(&key.1))
        .into_iter()
        .filter(|p| controller_uid(p) == Some(job_uid.as_str()))
        .cloned()
        .collect();
    let active: Vec<&Value> = pods
        .iter()
        .filter(|p| !matches!(phase(p), "Succeeded" | "Failed") && !is_deleting(p))
        .collect();
    let terminating = pods
        .iter()
        .filter(|p| is_deleting(p) && !matches!(phase(p), "Succeeded" | "Failed"))
        .count();
    let finished = condition_true(job, "Complete") || condition_true(job, "Failed");
    let now = Instant::now();
    let mut status = job.get("status").cloned().unwrap_or(json!({}));
    if !status.is_object() {
        status = json!({});
    }
    if finished {
        for pod in &active {
            let _ = store.delete(
                Kind::Pod,
                &key.1,
                meta_str(pod, "name"),
                &DeleteOptions::default(),
            );
        }
        let done_at = *store.jobs.finished.entry(job_uid.clone()).or_insert(now);
        if let Some(ttl) = job
            .pointer("/spec/ttlSecondsAfterFinished")
            .and_then(Value::as_f64)
        {
            if !is_deleting(job) && now >= done_at + scaled(ttl, scale) {
                tracing::info!(job = %key.2, namespace = %key.1, "kube-sim: ttl expired, deleting job");
                let opts = DeleteOptions {
                    propagation: Some("Foreground".to_owned()),
                    ..DeleteOptions::default()
                };
                let _ = store.delete(Kind::Job, &key.1, &key.2, &opts);
                return;
            }
        }
        if let Some(map) = status.as_object_mut() {
            map.remove("active");
        }
        status["ready"] = json!(0);
        status["terminating"] = json!(terminating);
        let _ = store.mutate(key, |j| j["status"] = status);
        return;
    }
    if job.pointer("/spec/suspend").and_then(Value::as_bool) == Some(true) {
        return;
    }
    let started = *store.jobs.started.entry(job_uid.clone()).or_insert(now);
    if status.get("startTime").is_none_or(Value::is_null) {
        status["startTime"] = json!(now_rfc3339());
    }
    let mut succeeded = status.get("succeeded").and_then(Value::as_i64).unwrap_or(0);
    let mut failed = status.get("failed").and_then(Value::as_i64).unwrap_or(0);
    let mut finish: Option<(&str, &str, String)> = None;
    for pod in &pods {
        let pod_uid = uid(pod).to_owned();
        if store.jobs.counted.contains(&pod_uid) {
            continue;
        }
        match phase(pod) {
            "Succeeded" => succeeded += 1,
            "Failed" => match judge_failure(job, pod) {
                Verdict::Count => failed += 1,
                Verdict::Ignore => {}
                Verdict::FailJob(message) => {
                    failed += 1;
                    finish.get_or_insert(("Failed", "PodFailurePolicy", message));
                }
            },
            _ => continue,
        }
        store.jobs.counted.insert(pod_uid);
    }
    let completions = job
        .pointer("/spec/completions")
        .and_then(Value::as_i64)
        .unwrap_or(1);
    let backoff_limit = job
        .pointer("/spec/backoffLimit")
        .and_then(Value::as_i64)
        .unwrap_or(6);
    let deadline = job
        .pointer("/spec/activeDeadlineSeconds")
        .and_then(Value::as_f64)
        .map(|s| started + scaled(s, scale));
    if finish.is_none() {
        if succeeded >= completions {
            finish = Some((
                "Complete",
                "CompletionsReached",
                "Reached expected number of succeeded pods".to_owned(),
            ));
        } else if failed > backoff_limit {
            finish = Some((
                "Failed",
                "BackoffLimitExceeded",
                "Job has reached the specified backoff limit".to_owned(),
            ));
        } else if deadline.is_some_and(|d| now >= d) {
            finish = Some((
                "Failed",
                "DeadlineExceeded",
                "Job was active longer than specified deadline".to_owned(),
            ));
        }
    }
    let mut active_count = active.len();
    let ready = active.iter().filter(|p| condition_true(p, "Ready")).count();
    match &finish {
        Some((done, reason, message)) => {
            for pod in &active {
                let _ = store.delete(
                    Kind::Pod,
                    &key.1,
                    meta_str(pod, "name"),
                    &DeleteOptions::default(),
                );
            }
            active_count = 0;
            let mut conditions = status
                .get("conditions")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            conditions.extend(finish_conditions(done, reason, message));
            status["conditions"] = json!(conditions);
            if *done == "Complete" {
                status["completionTime"] = json!(now_rfc3339());
            }
            store.jobs.finished.insert(job_uid.clone(), now);
            record_event(
                store,
                job,
                Kind::Job,
                *done != "Complete",
                if *done == "Complete" {
                    "Completed"
                } else {
                    reason
                },
                message,
                "job-controller",
            );
        }
        None if active.is_empty() && terminating == 0 && !is_deleting(job) => {
            match store.create(Kind::Pod, &key.1, new_pod_for(job)) {
                Ok(pod) => {
                    active_count = 1;
                    let message = format!("Created pod: {}", meta_str(&pod, "name"));
                    record_event(
                        store,
                        job,
                        Kind::Job,
                        false,
                        "SuccessfulCreate",
                        &message,
                        "job-controller",
                    );
                }
                Err(error) => {
                    tracing::warn!(%error, job = %key.2, "kube-sim: cannot create pod for job");
                    record_event(
                        store,
                        job,
                        Kind::Job,
                        true,
                        "FailedCreate",
                        &error.message,
                        "job-controller",
                    );
                }
            }
        }
        None => {}
    }
    for (field, value) in [("succeeded", succeeded), ("failed", failed)] {
        if value > 0 {
            status[field] = json!(value);
        }
    }
    status["active"] = json!(active_count);
    status["ready"] = json!(ready.min(active_count));
    status["terminating"] = json!(terminating);
    status["uncountedTerminatedPods"] = json!({});
    if let Some(map) = status.as_object_mut() {
        if active_count == 0 {
            map.remove("active");
        }
    }
    let _ = store.mutate(key, |j| j["status"] = status);
}

/// Deletes objects whose owners are all gone or being deleted in the foreground, and lets
/// foreground-deleted owners go once their dependents are gone.
fn collect_garbage(store: &mut Store) {
    for key in store.keys(None) {
        let Some(object) = store.by_key(&key) else {
            continue;
        };
        let owners = owner_uids(object);
        if owners.is_empty() || is_deleting(object) {
            continue;
        }
        let found: Vec<Option<Key>> = owners.iter().map(|u| store.find_uid(u)).collect();
        let all_gone = found.iter().all(Option::is_none);
        let owner_foreground = found.iter().flatten().any(|k| {
            store.by_key(k).is_some_and(|o| {
                is_deleting(o)
                    && o.pointer("/metadata/finalizers")
                        .and_then(Value::as_array)
                        .is_some_and(|f| f.iter().any(|f| f.as_str() == Some(FOREGROUND)))
            })
        });
        if all_gone || owner_foreground {
            tracing::debug!(kind = key.0.name(), name = %key.2, "kube-sim: garbage collecting");
            let opts = DeleteOptions {
                propagation: Some("Background".to_owned()),
                ..DeleteOptions::default()
            };
            let _ = store.delete(key.0, &key.1, &key.2, &opts);
        }
    }
    for key in store.keys(None) {
        let Some(object) = store.by_key(&key) else {
            continue;
        };
        let waits = is_deleting(object)
            && object
                .pointer("/metadata/finalizers")
                .and_then(Value::as_array)
                .is_some_and(|f| f.iter().any(|f| f.as_str() == Some(FOREGROUND)));
        if waits && store.dependents(uid(object)).is_empty() {
            store.finish_deletion(&key, Some(FOREGROUND));
        }
    }
}
