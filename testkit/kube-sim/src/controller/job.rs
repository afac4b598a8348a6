//! The Job controller: one pod at a time per Job; status counts from pod phases; the Job
//! finishes when its pods succeed, when failures pass `backoffLimit`, when a `podFailurePolicy`
//! rule fails it, or when `activeDeadlineSeconds` passes; a finished Job's active pods are
//! deleted, and the Job itself after `ttlSecondsAfterFinished`.
//!
//! As since Kubernetes 1.31, a Job that meets its criteria first gets `SuccessCriteriaMet` or
//! `FailureTarget` and has its active pods deleted; `Complete` or `Failed` (and the TTL's clock)
//! follow only once no pod of it is running or terminating. A pod that cannot be created (an
//! exhausted quota) is a `FailedCreate` warning on the Job, retried after a back-off. One file: these
//! transitions are one state machine, kept together so that its order reads in one place.

use std::time::Instant;

use serde_json::{Value, json};

use super::failure_policy::{Verdict, judge_failure};
use crate::events::record_event;
use crate::kinds::Kind;
use crate::object::{
    controller_uid, has_condition, is_deleting, meta_str, pod_finished, pod_phase, uid,
};
use crate::store::{DeleteOptions, Key, Store};
use crate::time::{now_rfc3339, scaled};

/// Simulated seconds between tries to create a pod that could not be created.
const CREATE_RETRY_SECONDS: f64 = 10.0;

/// What the controller reads from the fault switches.
pub(crate) struct Conditions<'a> {
    pub(crate) scale: f64,
    /// A ResourceQuota that refuses every new pod, by name.
    pub(crate) exhausted_quota: Option<&'a str>,
}

/// How a Job ends.
struct Finish {
    complete: bool,
    reason: &'static str,
    message: String,
}

/// A Job's pods as its status counts them.
struct Census<'a> {
    /// Neither finished nor being deleted.
    active: Vec<&'a Value>,
    /// Being deleted and not finished.
    terminating: usize,
}

impl<'a> Census<'a> {
    fn of(pods: &'a [Value]) -> Self {
        Census {
            active: pods
                .iter()
                .filter(|p| !pod_finished(p) && !is_deleting(p))
                .collect(),
            terminating: pods
                .iter()
                .filter(|p| is_deleting(p) && !pod_finished(p))
                .count(),
        }
    }
}

impl Finish {
    fn failed(reason: &'static str, message: impl Into<String>) -> Finish {
        Finish {
            complete: false,
            reason,
            message: message.into(),
        }
    }
}

pub(crate) fn reconcile_jobs(store: &mut Store, cx: &Conditions<'_>) {
    for key in store.keys(Some(Kind::Job)) {
        if let Some(job) = store.by_key(&key).cloned() {
            reconcile_job(store, &key, &job, cx);
        }
    }
}

fn reconcile_job(store: &mut Store, key: &Key, job: &Value, cx: &Conditions<'_>) {
    let scale = cx.scale;
    let job_uid = uid(job).to_owned();
    let pods: Vec<Value> = store
        .list(Kind::Pod, Some(&key.1))
        .into_iter()
        .filter(|p| controller_uid(p) == Some(job_uid.as_str()))
        .cloned()
        .collect();
    let census = Census::of(&pods);
    let (active, terminating) = (&census.active, census.terminating);
    let now = Instant::now();
    let mut status = job.get("status").cloned().unwrap_or(json!({}));
    if !status.is_object() {
        status = json!({});
    }
    if has_condition(job, "Complete", "True") || has_condition(job, "Failed", "True") {
        keep_finished(store, key, job, &census, status, now, scale);
        return;
    }
    if has_condition(job, "SuccessCriteriaMet", "True")
        || has_condition(job, "FailureTarget", "True")
    {
        finish_when_pods_are_gone(store, key, job, &census, status, now);
        return;
    }
    if job.pointer("/spec/suspend").and_then(Value::as_bool) == Some(true) {
        return;
    }
    let started = *store.jobs.started.entry(job_uid.clone()).or_insert(now);
    if status.get("startTime").is_none_or(Value::is_null) {
        status["startTime"] = json!(now_rfc3339());
    }
    let (succeeded, failed, by_policy) = count_finished_pods(store, job, &pods, &status);
    let finish = by_policy.or_else(|| limit_reached(job, succeeded, failed, started, now, scale));
    let ready = active
        .iter()
        .filter(|p| has_condition(p, "Ready", "True"))
        .count();
    let active_count = match finish {
        Some(finish) => {
            delete_pods(store, &key.1, active);
            target_job(&mut status, &finish);
            0
        }
        None if active.is_empty() && terminating == 0 && !is_deleting(job) => {
            usize::from(create_pod(store, key, job, cx, now))
        }
        None => active.len(),
    };
    let counts = Counts {
        succeeded,
        failed,
        active: active_count,
        ready: ready.min(active_count),
        terminating,
    };
    counts.write(&mut status);
    let _ = store.mutate(key, |j| j["status"] = status);
}

/// The pod counts of a Job's status.
struct Counts {
    succeeded: i64,
    failed: i64,
    active: usize,
    ready: usize,
    terminating: usize,
}

impl Counts {
    /// `succeeded` and `failed` appear once non-zero, `active` only while non-zero.
    fn write(&self, status: &mut Value) {
        for (field, value) in [("succeeded", self.succeeded), ("failed", self.failed)] {
            if value > 0 {
                status[field] = json!(value);
            }
        }
        status["active"] = json!(self.active);
        status["ready"] = json!(self.ready);
        status["terminating"] = json!(self.terminating);
        status["uncountedTerminatedPods"] = json!({});
        if let Some(map) = status.as_object_mut() {
            if self.active == 0 {
                map.remove("active");
            }
        }
    }
}

/// A finished Job: its active pods go, the TTL runs, and the status shows no active pods.
fn keep_finished(
    store: &mut Store,
    key: &Key,
    job: &Value,
    census: &Census<'_>,
    mut status: Value,
    now: Instant,
    scale: f64,
) {
    delete_pods(store, &key.1, &census.active);
    let done_at = *store
        .jobs
        .finished
        .entry(uid(job).to_owned())
        .or_insert(now);
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
    status["terminating"] = json!(census.terminating);
    let _ = store.mutate(key, |j| j["status"] = status);
}

/// Counts each finished pod once: the Job's `succeeded` and `failed`, and a finish that a
/// `podFailurePolicy` rule asks for.
fn count_finished_pods(
    store: &mut Store,
    job: &Value,
    pods: &[Value],
    status: &Value,
) -> (i64, i64, Option<Finish>) {
    let count = |field: &str| status.get(field).and_then(Value::as_i64).unwrap_or(0);
    let (mut succeeded, mut failed) = (count("succeeded"), count("failed"));
    let mut finish = None;
    for pod in pods {
        let pod_uid = uid(pod).to_owned();
        if store.jobs.counted.contains(&pod_uid) {
            continue;
        }
        match pod_phase(pod) {
            "Succeeded" => succeeded += 1,
            "Failed" => match judge_failure(job, pod) {
                Verdict::Count => failed += 1,
                Verdict::Ignore => {}
                Verdict::FailJob(message) => {
                    failed += 1;
                    finish.get_or_insert(Finish::failed("PodFailurePolicy", message));
                }
            },
            _ => continue,
        }
        store.jobs.counted.insert(pod_uid);
    }
    (succeeded, failed, finish)
}

/// The finish that completions, `backoffLimit` or `activeDeadlineSeconds` call for.
fn limit_reached(
    job: &Value,
    succeeded: i64,
    failed: i64,
    started: Instant,
    now: Instant,
    scale: f64,
) -> Option<Finish> {
    let spec = |field: &str| job.pointer(&format!("/spec/{field}"));
    let completions = spec("completions").and_then(Value::as_i64).unwrap_or(1);
    let backoff_limit = spec("backoffLimit").and_then(Value::as_i64).unwrap_or(6);
    let deadline = spec("activeDeadlineSeconds")
        .and_then(Value::as_f64)
        .map(|s| started + scaled(s, scale));
    if succeeded >= completions {
        Some(Finish {
            complete: true,
            reason: "CompletionsReached",
            message: "Reached expected number of succeeded pods".to_owned(),
        })
    } else if failed > backoff_limit {
        Some(Finish::failed(
            "BackoffLimitExceeded",
            "Job has reached the specified backoff limit",
        ))
    } else if deadline.is_some_and(|d| now >= d) {
        Some(Finish::failed(
            "DeadlineExceeded",
            "Job was active longer than specified deadline",
        ))
    } else {
        None
    }
}

/// Adds a condition to a Job's status.
fn add_condition(status: &mut Value, kind: &str, reason: &str, message: &str) {
    let at = now_rfc3339();
    let mut conditions = status
        .get("conditions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    conditions.push(json!({"type": kind, "status": "True", "reason": reason,
        "message": message, "lastProbeTime": at, "lastTransitionTime": at}));
    status["conditions"] = json!(conditions);
}

/// Writes the interim condition (`SuccessCriteriaMet` or `FailureTarget`); the terminal one
/// follows once the Job's pods are gone.
fn target_job(status: &mut Value, finish: &Finish) {
    let interim = if finish.complete {
        "SuccessCriteriaMet"
    } else {
        "FailureTarget"
    };
    add_condition(status, interim, finish.reason, &finish.message);
}

/// A Job past its interim condition: its active pods are deleted, and once none is running or
/// terminating it gets the terminal condition.
fn finish_when_pods_are_gone(
    store: &mut Store,
    key: &Key,
    job: &Value,
    census: &Census<'_>,
    mut status: Value,
    now: Instant,
) {
    delete_pods(store, &key.1, &census.active);
    if census.active.is_empty() && census.terminating == 0 {
        let complete = has_condition(job, "SuccessCriteriaMet", "True");
        let interim = if complete {
            "SuccessCriteriaMet"
        } else {
            "FailureTarget"
        };
        let condition = job
            .pointer("/status/conditions")
            .and_then(Value::as_array)
            .and_then(|cs| cs.iter().find(|c| c["type"] == json!(interim)))
            .cloned()
            .unwrap_or(json!({}));
        let text = |field: &str| condition[field].as_str().unwrap_or("").to_owned();
        let finish = Finish {
            complete,
            reason: if complete {
                "CompletionsReached"
            } else {
                failure_reason(&text("reason"))
            },
            message: text("message"),
        };
        finish_job(store, job, &mut status, &finish, now);
    }
    if let Some(map) = status.as_object_mut() {
        map.remove("active");
    }
    status["ready"] = json!(0);
    status["terminating"] = json!(census.terminating);
    let _ = store.mutate(key, |j| j["status"] = status);
}

/// The static reason of a failure, from the text of its interim condition.
fn failure_reason(reason: &str) -> &'static str {
    match reason {
        "BackoffLimitExceeded" => "BackoffLimitExceeded",
        "DeadlineExceeded" => "DeadlineExceeded",
        _ => "PodFailurePolicy",
    }
}

/// Writes the terminal condition (`Complete` or `Failed`), starts the TTL's clock and records the
/// event.
fn finish_job(store: &mut Store, job: &Value, status: &mut Value, finish: &Finish, now: Instant) {
    let done = if finish.complete {
        "Complete"
    } else {
        "Failed"
    };
    add_condition(status, done, finish.reason, &finish.message);
    if finish.complete {
        status["completionTime"] = json!(now_rfc3339());
    }
    store.jobs.finished.insert(uid(job).to_owned(), now);
    let reason = if finish.complete {
        "Completed"
    } else {
        finish.reason
    };
    record_event(
        store,
        job,
        Kind::Job,
        !finish.complete,
        reason,
        &finish.message,
        "job-controller",
    );
}

/// Creates the Job's next pod and records the event; whether it was created. A pod refused (by an
/// exhausted quota) is a `FailedCreate` warning, tried again after a back-off.
fn create_pod(
    store: &mut Store,
    key: &Key,
    job: &Value,
    cx: &Conditions<'_>,
    now: Instant,
) -> bool {
    let job_uid = uid(job).to_owned();
    if let Some(failed_at) = store.jobs.create_failed.get(&job_uid) {
        if now < *failed_at + scaled(CREATE_RETRY_SECONDS, cx.scale) {
            return false;
        }
    }
    let created = match cx.exhausted_quota {
        Some(quota) => Err(exceeded_quota(job, quota)),
        None => store.create(Kind::Pod, &key.1, pod_for(job)),
    };
    if created.is_err() {
        store.jobs.create_failed.insert(job_uid, now);
    } else {
        store.jobs.create_failed.remove(&job_uid);
    }
    let (created, warning, reason, message) = match created {
        Ok(pod) => (
            true,
            false,
            "SuccessfulCreate",
            format!("Created pod: {}", meta_str(&pod, "name")),
        ),
        Err(error) => {
            tracing::warn!(%error, job = %key.2, "kube-sim: cannot create pod for job");
            (
                false,
                true,
                "FailedCreate",
                format!("Error creating: {}", error.message),
            )
        }
    };
    record_event(
        store,
        job,
        Kind::Job,
        warning,
        reason,
        &message,
        "job-controller",
    );
    created
}

/// The admission error of a pod that an exhausted ResourceQuota refuses.
fn exceeded_quota(job: &Value, quota: &str) -> crate::error::ApiError {
    crate::error::ApiError::new(
        403,
        "Forbidden",
        format!(
            "pods \"{}-{}\" is forbidden: exceeded quota: {quota}, requested: pods=1, used: pods=0, limited: pods=0",
            meta_str(job, "name"),
            "xxxxx"
        ),
    )
}

/// A pod from the Job's template, named after the Job and controlled by it.
fn pod_for(job: &Value) -> Value {
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

fn delete_pods(store: &mut Store, ns: &str, pods: &[&Value]) {
    for pod in pods {
        let name = meta_str(pod, "name");
        let _ = store.delete(Kind::Pod, ns, name, &DeleteOptions::default());
    }
}
