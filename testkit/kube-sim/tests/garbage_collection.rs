//! Deletion with ownerReferences: Background and Foreground cascade through the garbage
//! collector, Orphan (the `batch/v1` default) keeps dependents, and deleting a running pod
//! stops its process group with SIGTERM first.

mod support;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Pod, Secret};
use kube::api::{Api, DeleteParams, PostParams, PropagationPolicy};
use serde_json::json;
use support::*;

/// Creates a Job that runs until killed and a Secret owned by it; returns the Job's uid.
async fn running_job_with_secret(
    client: &kube::Client,
    name: &str,
    marker: &std::path::Path,
) -> String {
    let jobs: Api<Job> = Api::namespaced(client.clone(), NS);
    let secrets: Api<Secret> = Api::namespaced(client.clone(), NS);
    // The script records SIGTERM in the marker file, then exits.
    let script = "trap 'echo term > \"$1\"; exit 0' TERM; echo started > \"$1\"; while true; do sleep 0.1; done";
    let mut job = shell_job(name, script);
    pod_spec_mut(&mut job).containers[0].args = Some(vec![
        "-c".into(),
        script.into(),
        "sh".into(),
        marker.display().to_string(),
    ]);
    let job = jobs
        .create(&PostParams::default(), &job)
        .await
        .expect("create job");
    let job_uid = job.metadata.uid.clone().expect("uid");
    let secret: Secret = serde_json::from_value(json!({
        "metadata": {"name": format!("{name}-spec"), "ownerReferences": [{
            "apiVersion": "batch/v1", "kind": "Job", "name": name, "uid": job_uid, "controller": true,
        }]},
        "stringData": {"token": "t"},
    }))
    .expect("secret json");
    secrets
        .create(&PostParams::default(), &secret)
        .await
        .expect("create secret");
    eventually("the container to start", || async {
        std::fs::read_to_string(marker)
            .ok()
            .filter(|s| s.trim() == "started")
            .map(|_| ())
    })
    .await;
    job_uid
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn background_delete_removes_pods_and_owned_secret_and_terminates_processes() {
    let (_sim, client) = start(0.05).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let marker = dir.path().join("marker");
    running_job_with_secret(&client, "bg", &marker).await;
    let jobs: Api<Job> = Api::namespaced(client.clone(), NS);
    jobs.delete("bg", &DeleteParams::background())
        .await
        .expect("delete");
    let secrets: Api<Secret> = Api::namespaced(client.clone(), NS);
    eventually("job, pod and secret to be gone", || async {
        let gone = jobs.get_opt("bg").await.ok()?.is_none()
            && secrets.get_opt("bg-spec").await.ok()?.is_none()
            && job_pods(&client, "bg").await.is_empty();
        gone.then_some(())
    })
    .await;
    // The process saw SIGTERM before it was removed.
    assert_eq!(
        std::fs::read_to_string(&marker).expect("marker").trim(),
        "term"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreground_delete_keeps_the_owner_until_dependents_are_gone() {
    let (_sim, client) = start(0.05).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let marker = dir.path().join("marker");
    running_job_with_secret(&client, "fg", &marker).await;
    let jobs: Api<Job> = Api::namespaced(client.clone(), NS);
    let deleted = jobs
        .delete("fg", &DeleteParams::foreground())
        .await
        .expect("delete");
    let job = deleted.left().expect("the job stays while dependents go");
    assert!(job.metadata.deletion_timestamp.is_some());
    assert_eq!(
        job.metadata.finalizers,
        Some(vec!["foregroundDeletion".to_owned()])
    );
    eventually("the job to be gone", || async {
        jobs.get_opt("fg").await.ok()?.is_none().then_some(())
    })
    .await;
    assert!(job_pods(&client, "fg").await.is_empty());
    let secrets: Api<Secret> = Api::namespaced(client.clone(), NS);
    assert!(secrets.get_opt("fg-spec").await.expect("get").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_default_to_orphaning_their_pods() {
    let (_sim, client) = start(0.05).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let marker = dir.path().join("marker");
    running_job_with_secret(&client, "orphan", &marker).await;
    let jobs: Api<Job> = Api::namespaced(client.clone(), NS);
    jobs.delete("orphan", &DeleteParams::default())
        .await
        .expect("delete");
    assert!(jobs.get_opt("orphan").await.expect("get").is_none());
    let pod = first_pod(&client, "orphan").await;
    assert!(
        pod.metadata
            .owner_references
            .clone()
            .unwrap_or_default()
            .is_empty()
    );
    let secrets: Api<Secret> = Api::namespaced(client.clone(), NS);
    assert!(secrets.get_opt("orphan-spec").await.expect("get").is_some());
    // The orphaned pod still runs; deleting it with zero grace kills it at once.
    let pods: Api<Pod> = Api::namespaced(client.clone(), NS);
    let name = pod_name(&pod);
    let dp = DeleteParams {
        grace_period_seconds: Some(0),
        propagation_policy: Some(PropagationPolicy::Background),
        ..DeleteParams::default()
    };
    pods.delete(&name, &dp).await.expect("delete pod");
    assert!(pods.get_opt(&name).await.expect("get").is_none());
}
