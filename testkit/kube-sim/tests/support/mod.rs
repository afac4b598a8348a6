//! Shared helpers for the simulator's tests: a simulator with `/bin/sh` behind the fake image
//! `sim/shell`, a kube-rs client from its kubeconfig, bounded polling, and object builders.

#![allow(dead_code)]

use std::future::Future;
use std::time::Duration;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Pod, PodSpec};
use kube::api::{Api, ListParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use kube_sim::Sim;
use serde_json::{Value, json};

pub const NS: &str = "arena";

/// Polls per wait and the pause between polls: at most 30 s per wait.
const ATTEMPTS: u32 = 600;
const PAUSE: Duration = Duration::from_millis(50);

/// A simulator mapping `sim/shell` to `/bin/sh`, with `scale` real seconds per simulated one.
pub async fn start(scale: f64) -> (Sim, Client) {
    let config = kube_sim::Config::default()
        .image("sim/shell", "/bin/sh")
        .time_scale(scale);
    start_with(config).await
}

pub async fn start_with(config: kube_sim::Config) -> (Sim, Client) {
    let sim = Sim::start(config).await.expect("simulator starts");
    let client = client_for(sim.kubeconfig_path()).await;
    (sim, client)
}

/// A kube-rs client built from a kubeconfig file, the way the executor builds one.
pub async fn client_for(kubeconfig: &std::path::Path) -> Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let kubeconfig = Kubeconfig::read_from(kubeconfig).expect("kubeconfig parses");
    let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .expect("kubeconfig loads");
    Client::try_from(config).expect("client builds")
}

/// Polls `check` until it returns `Some`, at most [`ATTEMPTS`] times.
#[track_caller]
pub fn eventually<T, F, Fut>(what: &str, mut check: F) -> impl Future<Output = T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let what = what.to_owned();
    let caller = std::panic::Location::caller();
    async move {
        for _ in 0..ATTEMPTS {
            if let Some(v) = check().await {
                return v;
            }
            tokio::time::sleep(PAUSE).await;
        }
        panic!("{caller}: gave up waiting for {what}");
    }
}

/// A Job running `script` under `sh -c` in one container `main`.
pub fn shell_job(name: &str, script: &str) -> Job {
    job_from(json!({
        "metadata": {"name": name, "labels": {"app.kubernetes.io/managed-by": "kube-sim-test"}},
        "spec": {
            "backoffLimit": 0,
            "template": {"spec": {
                "restartPolicy": "Never",
                "terminationGracePeriodSeconds": 1,
                "containers": [{"name": "main", "image": "sim/shell:latest", "args": ["-c", script]}],
            }},
        },
    }))
}

/// The pod spec of a Job's template, to change it.
pub fn pod_spec_mut(job: &mut Job) -> &mut PodSpec {
    job.spec
        .as_mut()
        .expect("spec")
        .template
        .spec
        .as_mut()
        .expect("pod spec")
}

pub fn job_from(value: Value) -> Job {
    serde_json::from_value(value).expect("job json")
}

pub fn condition(job: &Job, kind: &str) -> Option<(String, String)> {
    job.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find_map(|c| {
            (c.type_ == kind && c.status == "True").then(|| {
                (
                    c.reason.clone().unwrap_or_default(),
                    c.message.clone().unwrap_or_default(),
                )
            })
        })
}

/// Waits until the Job has condition `Complete` or `Failed`; returns (type, reason, message).
pub async fn finished(jobs: &Api<Job>, name: &str) -> (String, String, String) {
    eventually(&format!("job {name} to finish"), || async {
        let job = jobs.get(name).await.ok()?;
        ["Complete", "Failed"].iter().find_map(|t| {
            condition(&job, t).map(|(reason, message)| ((*t).to_owned(), reason, message))
        })
    })
    .await
}

/// The pods of a Job, by the `job-name` label.
pub async fn job_pods(client: &Client, job: &str) -> Vec<Pod> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), NS);
    pods.list(&ListParams::default().labels(&format!("job-name={job}")))
        .await
        .expect("list pods")
        .items
}

/// The first pod of a Job, once it exists.
pub async fn first_pod(client: &Client, job: &str) -> Pod {
    eventually(&format!("a pod for job {job}"), || async {
        job_pods(client, job).await.into_iter().next()
    })
    .await
}

pub fn pod_name(pod: &Pod) -> String {
    pod.metadata.name.clone().expect("pod has a name")
}

/// The waiting reason of the first container status in `list` of a pod.
pub fn waiting_reason(pod: &Pod, init: bool) -> Option<String> {
    let status = pod.status.as_ref()?;
    let list = if init {
        status.init_container_statuses.as_ref()?
    } else {
        status.container_statuses.as_ref()?
    };
    list.first()?
        .state
        .as_ref()?
        .waiting
        .as_ref()?
        .reason
        .clone()
}

pub fn terminated(pod: &Pod, container: &str) -> Option<(i32, String, String)> {
    let status = pod.status.as_ref()?;
    status
        .init_container_statuses
        .iter()
        .flatten()
        .chain(status.container_statuses.iter().flatten())
        .find(|c| c.name == container)?
        .state
        .as_ref()?
        .terminated
        .as_ref()
        .map(|t| {
            (
                t.exit_code,
                t.reason.clone().unwrap_or_default(),
                t.message.clone().unwrap_or_default(),
            )
        })
}
