//! Fault injection: image pulls, missing Secrets (a mount retried, or a container config error),
//! an exhausted quota, container creation errors that clear, unschedulable pods, OOM kills, node
//! loss, API restarts and injected error responses, plus request counting.

mod support;

use futures_util::{StreamExt, TryStreamExt};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Event, Pod, Secret};
use kube::api::{Api, ApiResource, DynamicObject, ListParams, PostParams, WatchEvent, WatchParams};
use kube::runtime::{WatchStreamExt, watcher};
use kube_sim::ErrorInjection;
use serde_json::json;
use support::*;

async fn pod_of(client: &kube::Client, job: &str) -> Pod {
    first_pod(client, job).await
}

async fn events_with_reason(client: &kube::Client, reason: &str) -> Vec<Event> {
    let events: Api<Event> = Api::namespaced(client.clone(), NS);
    events
        .list(&ListParams::default())
        .await
        .expect("events")
        .items
        .into_iter()
        .filter(|e| e.reason.as_deref() == Some(reason))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn image_pull_failure_backs_off_until_cleared() {
    let (sim, client) = start(0.05).await;
    sim.fail_image_pull("sim/*");
    let jobs: Api<Job> = Api::namespaced(client.clone(), NS);
    let pods: Api<Pod> = Api::namespaced(client.clone(), NS);
    // Every status write is a watch event, so a watch opened before the Job exists sees both
    // waiting reasons in order.
    let wp = WatchParams::default().labels("job-name=pull").timeout(30);
    let mut stream = pods.watch(&wp, "0").await.expect("watch").boxed();
    jobs.create(&PostParams::default(), &shell_job("pull", "exit 0"))
        .await
        .expect("create");
    let mut reasons: Vec<String> = Vec::new();
    while reasons.last().map(String::as_str) != Some("ImagePullBackOff") {
        match stream.try_next().await.expect("watch event") {
            Some(WatchEvent::Added(pod) | WatchEvent::Modified(pod)) => {
                if let Some(reason) =
                    waiting_reason(&pod, false).filter(|r| reasons.last() != Some(r))
                {
                    reasons.push(reason);
                }
            }
            Some(_) => {}
            None => panic!("watch ended; reasons so far {reasons:?}"),
        }
    }
    let pulls: Vec<&str> = reasons
        .iter()
        .map(String::as_str)
        .filter(|r| r.contains("Image"))
        .collect();
    assert_eq!(pulls, ["ErrImagePull", "ImagePullBackOff"], "{reasons:?}");
    assert!(!events_with_reason(&client, "Failed").await.is_empty());
    sim.clear_image_pull_failure("sim/*");
    assert_eq!(finished(&jobs, "pull").await.0, "Complete");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_secret_volume_is_a_mount_the_kubelet_retries() {
    let (_sim, client) = start(0.05).await;
    let jobs: Api<Job> = Api::namespaced(client.clone(), NS);
    let mut job = shell_job("cfg", "test \"$(cat \"$1\")\" = hello");
    *pod_spec_mut(&mut job) = serde_json::from_value(json!({
        "restartPolicy": "Never",
        "volumes": [{"name": "spec", "secret": {"secretName": "late"}}],
        "containers": [{"name": "main", "image": "sim/shell", "args": ["-c", "test \"$(cat \"$1\")\" = hello", "sh", "/etc/spec/greeting"],
            "volumeMounts": [{"name": "spec", "mountPath": "/etc/spec"}]}],
    }))
    .expect("pod spec json");
    jobs.create(&PostParams::default(), &job)
        .await
        .expect("create");
    let pods: Api<Pod> = Api::namespaced(client.clone(), NS);
    let name = pod_name(&pod_of(&client, "cfg").await);
    let mount = eventually("a FailedMount event", || async {
        events_with_reason(&client, "FailedMount").await.pop()
    })
    .await;
    assert_eq!(
        mount.message.as_deref(),
        Some("MountVolume.SetUp failed for volume \"spec\" : secret \"late\" not found")
    );
    assert_eq!(mount.type_.as_deref(), Some("Warning"));
    assert_eq!(mount.involved_object.name.as_deref(), Some(name.as_str()));
    // Not a container error: the pod waits, its container still being created.
    let pod = pods.get(&name).await.expect("pod");
    assert_eq!(
        waiting_reason(&pod, false).as_deref(),
        Some("ContainerCreating")
    );
    assert_eq!(
        pod.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Pending")
    );
    let secrets: Api<Secret> = Api::namespaced(client.clone(), NS);
    let secret: Secret = serde_json::from_value(
        json!({"metadata": {"name": "late"}, "stringData": {"greeting": "hello"}}),
    )
    .expect("secret");
    secrets
        .create(&PostParams::default(), &secret)
        .await
        .expect("create secret");
    assert_eq!(finished(&jobs, "cfg").await.0, "Complete");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_secret_in_the_environment_is_a_create_container_config_error() {
    let (_sim, client) = start(0.05).await;
    let jobs: Api<Job> = Api::namespaced(client.clone(), NS);
    let mut job = shell_job("env", "test \"$GREETING\" = hello");
    pod_spec_mut(&mut job).containers[0].env = Some(
        serde_json::from_value(json!([{"name": "GREETING",
            "valueFrom": {"secretKeyRef": {"name": "later", "key": "greeting"}}}]))
        .expect("env json"),
    );
    jobs.create(&PostParams::default(), &job)
        .await
        .expect("create");
    let pods: Api<Pod> = Api::namespaced(client.clone(), NS);
    let name = pod_name(&pod_of(&client, "env").await);
    let pod = eventually("CreateContainerConfigError", || async {
        let pod = pods.get(&name).await.ok()?;
        (waiting_reason(&pod, false).as_deref() == Some("CreateContainerConfigError"))
            .then_some(pod)
    })
    .await;
    let message = pod
        .status
        .and_then(|s| s.container_statuses)
        .and_then(|c| c[0].state.clone())
        .and_then(|s| s.waiting)
        .and_then(|w| w.message)
        .unwrap_or_default();
    assert_eq!(message, "secret \"later\" not found");
    let secrets: Api<Secret> = Api::namespaced(client.clone(), NS);
    let secret: Secret = serde_json::from_value(
        json!({"metadata": {"name": "later"}, "stringData": {"greeting": "hello"}}),
    )
    .expect("secret");
    secrets
        .create(&PostParams::default(), &secret)
        .await
        .expect("create secret");
    assert_eq!(finished(&jobs, "env").await.0, "Complete");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exhausted_quota_is_a_failed_create_event_on_the_job_until_it_frees() {
    let (sim, client) = start(0.05).await;
    sim.exhaust_quota(Some("matches"));
    let jobs: Api<Job> = Api::namespaced(client.clone(), NS);
    jobs.create(&PostParams::default(), &shell_job("quota", "true"))
        .await
        .expect("create");
    let refused = eventually("a FailedCreate event", || async {
        events_with_reason(&client, "FailedCreate").await.pop()
    })
    .await;
    assert_eq!(refused.type_.as_deref(), Some("Warning"));
    assert_eq!(refused.involved_object.kind.as_deref(), Some("Job"));
    assert_eq!(refused.involved_object.name.as_deref(), Some("quota"));
    let job = jobs.get("quota").await.expect("job");
    assert_eq!(refused.involved_object.uid, job.metadata.uid);
    let message = refused.message.unwrap_or_default();
    assert!(
        message.starts_with("Error creating: pods \"quota-")
            && message.contains("is forbidden: exceeded quota: matches"),
        "{message}"
    );
    assert!(job_pods(&client, "quota").await.is_empty());
    // The event is found by the field selector a client watches with.
    let events: Api<Event> = Api::namespaced(client.clone(), NS);
    let selected = events
        .list(&ListParams::default().fields("involvedObject.kind=Job,reason=FailedCreate"))
        .await
        .expect("list events");
    assert!(!selected.items.is_empty());
    sim.exhaust_quota(None);
    assert_eq!(finished(&jobs, "quota").await.0, "Complete");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn container_creation_errors_the_kubelet_retries_clear() {
    let (sim, client) = start(0.05).await;
    sim.transient_container_error(kube_sim::TransientError {
        container: "main".into(),
        reason: "CreateContainerError".into(),
        times: 2,
    });
    let jobs: Api<Job> = Api::namespaced(client.clone(), NS);
    jobs.create(&PostParams::default(), &shell_job("flaky", "true"))
        .await
        .expect("create");
    let pods: Api<Pod> = Api::namespaced(client.clone(), NS);
    let name = pod_name(&pod_of(&client, "flaky").await);
    eventually("CreateContainerError", || async {
        let pod = pods.get(&name).await.ok()?;
        (waiting_reason(&pod, false).as_deref() == Some("CreateContainerError")).then_some(())
    })
    .await;
    assert_eq!(finished(&jobs, "flaky").await.0, "Complete");
    let failures = events_with_reason(&client, "Failed").await;
    assert_eq!(failures.len(), 2, "{failures:?}");
    assert!(failures.iter().all(|e| {
        e.message
            .as_deref()
            .unwrap_or("")
            .contains("CreateContainerError")
    }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pod_spec_the_kubelet_cannot_decode_fails_the_pod() {
    let (_sim, client) = start(0.05).await;
    // A number among the args: the API stores it, the kubelet cannot run it. The pod is sent
    // and read untyped, since k8s-openapi types cannot hold it either.
    let pods: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), NS, &ApiResource::erase::<Pod>(&()));
    let pod: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "odd-args"},
        "spec": {"restartPolicy": "Never",
            "containers": [{"name": "main", "image": "sim/shell", "args": ["-c", 1]}]},
    }))
    .expect("pod json");
    pods.create(&PostParams::default(), &pod)
        .await
        .expect("create");
    let status = eventually("the pod to fail", || async {
        let status = pods.get("odd-args").await.ok()?.data["status"].clone();
        (status["phase"] == "Failed").then_some(status)
    })
    .await;
    let message = status["message"].as_str().unwrap_or_default();
    assert!(
        message.starts_with("kube-sim cannot read the pod spec: "),
        "{message}"
    );
    let events = events_with_reason(&client, "Failed").await;
    assert!(
        events.iter().any(|e| e.message.as_deref() == Some(message)),
        "{events:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unschedulable_pods_stay_pending_with_a_condition_and_an_event() {
    let (sim, client) = start(0.05).await;
    sim.set_unschedulable(true);
    let jobs: Api<Job> = Api::namespaced(client.clone(), NS);
    jobs.create(&PostParams::default(), &shell_job("sched", "exit 0"))
        .await
        .expect("create");
    let pods: Api<Pod> = Api::namespaced(client.clone(), NS);
    let name = pod_name(&pod_of(&client, "sched").await);
    eventually("PodScheduled=False Unschedulable", || async {
        let pod = pods.get(&name).await.ok()?;
        let status = pod.status?;
        let c = status
            .conditions?
            .into_iter()
            .find(|c| c.type_ == "PodScheduled")?;
        (status.phase.as_deref() == Some("Pending")
            && c.status == "False"
            && c.reason.as_deref() == Some("Unschedulable"))
        .then_some(())
    })
    .await;
    assert_eq!(
        events_with_reason(&client, "FailedScheduling").await.len(),
        1
    );
    sim.set_unschedulable(false);
    assert_eq!(finished(&jobs, "sched").await.0, "Complete");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oom_kill_reports_oomkilled_and_pod_failure_policy_fails_the_job() {
    let (sim, client) = start(0.05).await;
    let jobs: Api<Job> = Api::namespaced(client.clone(), NS);
    let mut job = shell_job("oom", "exec sleep 600");
    job.spec.as_mut().expect("spec").pod_failure_policy = Some(serde_json::from_value(json!({"rules": [
        {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]},
        {"action": "FailJob", "onExitCodes": {"containerName": "main", "operator": "In", "values": [137]}},
    ]})).expect("policy"));
    jobs.create(&PostParams::default(), &job)
        .await
        .expect("create");
    let pods: Api<Pod> = Api::namespaced(client.clone(), NS);
    let name = pod_name(&pod_of(&client, "oom").await);
    eventually("the container to run", || async {
        let pod = pods.get(&name).await.ok()?;
        (pod.status?.phase.as_deref() == Some("Running")).then_some(())
    })
    .await;
    sim.oom_kill(NS, &name, "main").expect("oom kill");
    let (done, reason, message) = finished(&jobs, "oom").await;
    assert_eq!(
        (done.as_str(), reason.as_str()),
        ("Failed", "PodFailurePolicy")
    );
    assert!(
        message.contains("exit code 137") && message.contains("rule at index 1"),
        "{message}"
    );
    let pod = pods.get(&name).await.expect("pod");
    let (code, reason, _) = terminated(&pod, "main").expect("terminated");
    assert_eq!((code, reason.as_str()), (137, "OOMKilled"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_loss_fails_pods_with_disruption_target_and_ignore_rules_retry() {
    let (sim, client) = start(0.05).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let marker = dir.path().join("ran-once");
    let jobs: Api<Job> = Api::namespaced(client.clone(), NS);
    let script = "if [ -e \"$1\" ]; then exit 0; fi; touch \"$1\"; exec sleep 600";
    let mut job = shell_job("lost", script);
    let spec = job.spec.as_mut().expect("spec");
    spec.template.spec.as_mut().expect("pod spec").containers[0].args = Some(vec![
        "-c".into(),
        script.into(),
        "sh".into(),
        marker.display().to_string(),
    ]);
    spec.pod_failure_policy = Some(
        serde_json::from_value(json!({"rules": [
            {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]},
        ]}))
        .expect("policy"),
    );
    jobs.create(&PostParams::default(), &job)
        .await
        .expect("create");
    let first = pod_name(&pod_of(&client, "lost").await);
    eventually("the first pod to start", || async {
        marker.exists().then_some(())
    })
    .await;
    sim.lose_node();
    assert_eq!(finished(&jobs, "lost").await.0, "Complete");
    let pods: Api<Pod> = Api::namespaced(client.clone(), NS);
    let lost = pods.get(&first).await.expect("the lost pod stays");
    let status = lost.status.expect("status");
    assert_eq!(
        (status.phase.as_deref(), status.reason.as_deref()),
        (Some("Failed"), Some("NodeLost"))
    );
    assert!(
        status
            .conditions
            .unwrap_or_default()
            .iter()
            .any(|c| c.type_ == "DisruptionTarget" && c.status == "True")
    );
    let job = jobs.get("lost").await.expect("job");
    let status = job.status.expect("job status");
    assert_eq!(
        (status.succeeded, status.failed),
        (Some(1), None),
        "the ignored failure is not counted"
    );
    let phases: Vec<Option<String>> = job_pods(&client, "lost")
        .await
        .into_iter()
        .map(|p| p.status.and_then(|s| s.phase))
        .collect();
    assert_eq!(
        phases.len(),
        2,
        "one lost pod and its replacement: {phases:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_count_against_backoff_limit_or_match_fail_job_rules() {
    let (_sim, client) = start(0.05).await;
    let jobs: Api<Job> = Api::namespaced(client.clone(), NS);
    jobs.create(
        &PostParams::default(),
        &shell_job("crash", "echo boom >&2; exit 3"),
    )
    .await
    .expect("create");
    let (done, reason, _) = finished(&jobs, "crash").await;
    assert_eq!(
        (done.as_str(), reason.as_str()),
        ("Failed", "BackoffLimitExceeded")
    );
    let pod = first_pod(&client, "crash").await;
    assert_eq!(
        terminated(&pod, "main").map(|t| (t.0, t.1)),
        Some((3, "Error".to_owned()))
    );

    let mut job = shell_job("rule", "exit 42");
    job.spec.as_mut().expect("spec").backoff_limit = Some(3);
    job.spec.as_mut().expect("spec").pod_failure_policy = Some(
        serde_json::from_value(json!({"rules": [
            {"action": "Count", "onExitCodes": {"operator": "In", "values": [1]}},
            {"action": "FailJob", "onExitCodes": {"operator": "NotIn", "values": [1, 2]}},
        ]}))
        .expect("policy"),
    );
    jobs.create(&PostParams::default(), &job)
        .await
        .expect("create");
    let (done, reason, message) = finished(&jobs, "rule").await;
    assert_eq!(
        (done.as_str(), reason.as_str()),
        ("Failed", "PodFailurePolicy")
    );
    assert!(message.contains("exit code 42"), "{message}");
    assert_eq!(
        job_pods(&client, "rule").await.len(),
        1,
        "FailJob does not retry"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_restart_drops_watches_and_watchers_recover() {
    let (sim, client) = start(0.05).await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), NS);
    let mut names = watcher(cms.clone(), watcher::Config::default())
        .default_backoff()
        .applied_objects()
        .map(|r| r.expect("watch item").metadata.name.unwrap_or_default())
        .boxed();
    let make = |name: &str| -> ConfigMap {
        serde_json::from_value(json!({"metadata": {"name": name}})).expect("cm")
    };
    cms.create(&PostParams::default(), &make("before"))
        .await
        .expect("create");
    assert_eq!(names.next().await.as_deref(), Some("before"));
    let watches = sim.request_count("watch", "configmaps");
    sim.restart_api();
    cms.create(&PostParams::default(), &make("after"))
        .await
        .expect("create");
    assert_eq!(names.next().await.as_deref(), Some("after"));
    assert!(
        sim.request_count("watch", "configmaps") > watches,
        "the watcher reconnected"
    );
}

#[tokio::test]
async fn injected_errors_hit_matching_requests_and_everything_is_counted() {
    let (sim, client) = start(1.0).await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), NS);
    let cm: ConfigMap = serde_json::from_value(json!({"metadata": {"name": "c"}})).expect("cm");
    cms.create(&PostParams::default(), &cm)
        .await
        .expect("create");
    for (code, reason) in [
        (500, "InternalError"),
        (429, "TooManyRequests"),
        (410, "Expired"),
    ] {
        sim.inject_errors(ErrorInjection {
            verb: Some("get".into()),
            resource: Some("configmaps".into()),
            code,
            count: 1,
        });
        match cms.get("c").await {
            Err(kube::Error::Api(e)) => assert_eq!((e.code, e.reason.as_str()), (code, reason)),
            other => panic!("expected injected {code}, got {other:?}"),
        }
    }
    sim.inject_errors(ErrorInjection {
        verb: Some("list".into()),
        resource: None,
        code: 500,
        count: 2,
    });
    assert!(cms.get("c").await.is_ok(), "other verbs are unaffected");
    assert!(cms.list(&ListParams::default()).await.is_err());
    assert!(cms.list(&ListParams::default()).await.is_err());
    assert!(
        cms.list(&ListParams::default()).await.is_ok(),
        "only the next two lists fail"
    );
    assert_eq!(sim.request_count("create", "configmaps"), 1);
    assert_eq!(sim.request_count("get", "configmaps"), 4);
    assert_eq!(sim.request_count("list", "configmaps"), 3);
    sim.reset_request_counts();
    assert!(sim.request_counts().is_empty());
}
