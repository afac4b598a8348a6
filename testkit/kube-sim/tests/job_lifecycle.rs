//! A whole match-shaped Job through kube-rs: a Secret volume, init containers writing to an
//! emptyDir, a main container reading both and writing a termination message, watched to
//! completion with `kube::runtime::watcher`; termination messages cut as the kubelet cuts them.

mod support;

use futures_util::{StreamExt, TryStreamExt};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Pod, Secret};
use kube::api::{Api, LogParams, PostParams};
use kube::runtime::{WatchStreamExt, watcher};
use serde_json::json;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_runs_init_containers_then_main_and_reports_completion() {
    let config = kube_sim::Config::default()
        .image("*/agent-init", "/bin/sh")
        .image("registry.example/rl/orchestrator", "/bin/sh");
    let (sim, client) = start_with(config).await;
    let secrets: Api<Secret> = Api::namespaced(client.clone(), NS);
    let jobs: Api<Job> = Api::namespaced(client.clone(), NS);
    let secret: Secret = serde_json::from_value(json!({
        "metadata": {"name": "match-1-spec"},
        "stringData": {"spec.json": "{\"env\":\"pong\"}", "token": "s3cret"},
    }))
    .expect("secret json");
    secrets
        .create(&PostParams::default(), &secret)
        .await
        .expect("create secret");

    let init = |n: u32| {
        json!({
            "name": format!("agent-{n}-init"),
            "image": "registry.example/rl/agent-init:0.1",
            "command": ["agent-init"],
            // Paths reach the program as whole arguments, which the kubelet rewrites.
            "args": ["-c", "mkdir -p \"$1\" && echo \"$3\" > \"$1/id\" && echo installed > \"$2\"", "sh",
                     format!("/agents/agent-{n}"), "/dev/termination-log", format!("agent{n}")],
            "volumeMounts": [{"name": "agents", "mountPath": "/agents"}],
        })
    };
    let job = job_from(json!({
        "metadata": {"name": "match-1", "labels": {"app.kubernetes.io/managed-by": "rl-arena-executor", "match-id": "1"}},
        "spec": {
            "backoffLimit": 0,
            "activeDeadlineSeconds": 600,
            "template": {
                "metadata": {"labels": {"app.kubernetes.io/managed-by": "rl-arena-executor", "component": "match-executor"}},
                "spec": {
                    "restartPolicy": "Never",
                    "automountServiceAccountToken": false,
                    "securityContext": {"runAsNonRoot": true, "runAsUser": 65532, "seccompProfile": {"type": "RuntimeDefault"}},
                    "volumes": [
                        {"name": "agents", "emptyDir": {}},
                        {"name": "spec", "secret": {"secretName": "match-1-spec"}},
                    ],
                    "initContainers": [init(1), init(2)],
                    "containers": [{
                        "name": "match-orchestrator",
                        "image": "registry.example/rl/orchestrator:0.1",
                        "command": ["orchestrator", "-c"],
                        "args": ["cat \"$SPEC_FILE\" > \"$AGENTS/seen-spec\"; printf '{\"result\":\"%s-%s-%s-%s\"}' \"$(cat \"$AGENTS/agent-1/id\")\" \"$(cat \"$AGENTS/agent-2/id\")\" \"$TOKEN\" \"$POD\" > \"$1\"; echo finished",
                                 "sh", "$(RESULT_FILE)"],
                        "env": [
                            {"name": "SPEC_FILE", "value": "/spec/spec.json"},
                            {"name": "AGENTS", "value": "/agents"},
                            {"name": "RESULT_FILE", "value": "/dev/termination-log"},
                            {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "match-1-spec", "key": "token"}}},
                            {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                        ],
                        "volumeMounts": [
                            {"name": "agents", "mountPath": "/agents"},
                            {"name": "spec", "mountPath": "/spec", "readOnly": true},
                        ],
                        "securityContext": {"readOnlyRootFilesystem": true, "allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}},
                        "resources": {"limits": {"memory": "512Mi", "cpu": "1"}},
                    }],
                },
            },
        },
    }));

    // The shared watcher starts before the Job exists, filtered by the managed-by label.
    let watch_cfg =
        watcher::Config::default().labels("app.kubernetes.io/managed-by=rl-arena-executor");
    let mut stream = watcher(jobs.clone(), watch_cfg).applied_objects().boxed();
    jobs.create(&PostParams::default(), &job)
        .await
        .expect("create job");
    let done = tokio::time::timeout(std::time::Duration::from_secs(30), async {
        while let Some(job) = stream.try_next().await.expect("watch stream") {
            if condition(&job, "Complete").is_some() || condition(&job, "Failed").is_some() {
                return job;
            }
        }
        panic!("watch ended before the job finished");
    })
    .await
    .expect("job finishes within 30 s");
    assert!(
        condition(&done, "Complete").is_some(),
        "job completed: {:?}",
        done.status
    );
    let status = done.status.clone().expect("status");
    assert_eq!(status.succeeded, Some(1));
    assert!(status.start_time.is_some() && status.completion_time.is_some());

    let pod = first_pod(&client, "match-1").await;
    let labels = pod.metadata.labels.clone().unwrap_or_default();
    assert_eq!(labels.get("job-name").map(String::as_str), Some("match-1"));
    assert_eq!(
        labels.get("component").map(String::as_str),
        Some("match-executor")
    );
    assert_eq!(labels.get("controller-uid"), done.metadata.uid.as_ref());
    let owner = &pod.metadata.owner_references.clone().expect("owner")[0];
    assert_eq!((owner.kind.as_str(), owner.controller), ("Job", Some(true)));
    assert_eq!(
        pod.status.as_ref().and_then(|s| s.phase.clone()).as_deref(),
        Some("Succeeded")
    );

    let pod_name = pod_name(&pod);
    let (code, reason, message) = terminated(&pod, "match-orchestrator").expect("terminated");
    assert_eq!((code, reason.as_str()), (0, "Completed"));
    assert_eq!(
        message,
        format!("{{\"result\":\"agent1-agent2-s3cret-{pod_name}\"}}")
    );
    for init in ["agent-1-init", "agent-2-init"] {
        let (code, _, message) = terminated(&pod, init).expect("init terminated");
        assert_eq!((code, message.trim()), (0, "installed"), "{init}");
    }
    let conditions: Vec<(String, String)> = pod
        .status
        .as_ref()
        .and_then(|s| s.conditions.clone())
        .unwrap_or_default()
        .into_iter()
        .map(|c| (c.type_, c.status))
        .collect();
    assert!(
        conditions.contains(&("PodScheduled".into(), "True".into())),
        "{conditions:?}"
    );
    assert!(
        conditions.contains(&("Initialized".into(), "True".into())),
        "{conditions:?}"
    );

    // Logs come back through the pods/log subresource.
    let pods: Api<Pod> = Api::namespaced(client.clone(), NS);
    let log = pods
        .logs(
            &pod_name,
            &LogParams {
                container: Some("match-orchestrator".into()),
                ..LogParams::default()
            },
        )
        .await
        .expect("pod log");
    assert_eq!(log.trim(), "finished");
    // The secret volume was written from the Secret's decoded data.
    let seen = std::fs::read_dir(sim.data_dir().join("pods"))
        .expect("pods dir")
        .filter_map(Result::ok)
        .find_map(|d| std::fs::read_to_string(d.path().join("volumes/agents/seen-spec")).ok())
        .expect("seen-spec written into the emptyDir");
    assert_eq!(seen, "{\"env\":\"pong\"}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn termination_messages_keep_the_files_tail_within_the_pods_12_kib() {
    let (_sim, client) = start(0.05).await;
    let jobs: Api<Job> = Api::namespaced(client.clone(), NS);
    // Each container writes 5000 bytes: 1000 `a` then 4000 `b`. The kubelet reads the last 4096
    // (96 `a`, 4000 `b`); with four containers each keeps the first 12288 / 4 = 3072 of those.
    let write = |name: &str| {
        json!({"name": name, "image": "sim/shell",
            "args": ["-c", "head -c 1000 /dev/zero | tr '\\0' a > \"$1\"; head -c 4000 /dev/zero | tr '\\0' b >> \"$1\"",
                     "sh", "/dev/termination-log"]})
    };
    let mut job = shell_job("messages", "true");
    *pod_spec_mut(&mut job) = serde_json::from_value(json!({
        "restartPolicy": "Never",
        "initContainers": [write("init-1"), write("init-2")],
        "containers": [write("main-1"), write("main-2")],
    }))
    .expect("pod spec json");
    jobs.create(&PostParams::default(), &job)
        .await
        .expect("create");
    assert_eq!(finished(&jobs, "messages").await.0, "Complete");
    let pod = first_pod(&client, "messages").await;
    let want = format!("{}{}", "a".repeat(96), "b".repeat(3072 - 96));
    for name in ["init-1", "init-2", "main-1", "main-2"] {
        let (_, _, message) = terminated(&pod, name).expect("terminated");
        assert_eq!(message.len(), 3072, "{name}");
        assert_eq!(message, want, "{name}");
    }
}
