//! Pods of several containers, as a match pod is: init containers place a program in a volume the
//! containers share, a container runs that program on a file its image holds, containers run as their
//! own users (when the tests run as root), and each container is pulled, ends and is OOM-killed on its
//! own while the pod goes on until every container ended.

mod support;

use std::os::unix::fs::PermissionsExt;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, LogParams, PostParams};
use serde_json::json;
use support::*;

/// Whether the tests run as root (the owner of this process's `/proc` entry is its effective user).
fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|meta| meta.uid() == 0)
}

/// The state of container `name` of `pod`: "running", "waiting:<reason>" or "terminated:<code>:<reason>".
fn state(pod: &Pod, name: &str) -> Option<String> {
    let status = pod
        .status
        .as_ref()?
        .container_statuses
        .iter()
        .flatten()
        .find(|c| c.name == name)?;
    let state = status.state.as_ref()?;
    if state.running.is_some() {
        return Some("running".into());
    }
    if let Some(w) = &state.waiting {
        return Some(format!("waiting:{}", w.reason.clone().unwrap_or_default()));
    }
    let t = state.terminated.as_ref()?;
    Some(format!(
        "terminated:{}:{}",
        t.exit_code,
        t.reason.clone().unwrap_or_default()
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn containers_share_volumes_run_programs_placed_there_and_run_as_their_users() {
    let image = tempfile::tempdir().expect("tempdir");
    std::fs::write(image.path().join("greeting.txt"), "hello from the image\n").unwrap();
    std::fs::set_permissions(image.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let users = is_root();
    if !users {
        println!("the tests do not run as root: containers run as the test's user");
    }
    let config = kube_sim::Config::default()
        .image("sim/shell", "/bin/sh")
        .image_file("sim/tools", "/data", image.path())
        .run_as_users(users)
        .time_scale(0.05);
    let (_sim, client) = start_with(config).await;
    let jobs: Api<Job> = Api::namespaced(client.clone(), NS);
    let job = job_from(json!({
        "metadata": {"name": "multi"},
        "spec": {"backoffLimit": 0, "template": {"spec": {
            "restartPolicy": "Never",
            "securityContext": {"runAsUser": 4242, "runAsGroup": 4242},
            "volumes": [{"name": "shared", "emptyDir": {}}],
            "initContainers": [{"name": "place", "image": "sim/shell",
                "args": ["-c", "cp /bin/cat \"$DEST\""], "env": [{"name": "DEST", "value": "/shared/cat"}],
                "volumeMounts": [{"name": "shared", "mountPath": "/shared"}]}],
            "containers": [
                {"name": "writer", "image": "sim/shell",
                    "securityContext": {"runAsUser": 4343, "runAsGroup": 4343},
                    "args": ["-c", "id -u > \"$MESSAGE\" && id -u > \"$OUT\""],
                    "env": [{"name": "MESSAGE", "value": "/dev/termination-log"},
                        {"name": "OUT", "value": "/shared/writer"}],
                    "volumeMounts": [{"name": "shared", "mountPath": "/shared"}]},
                {"name": "reader", "image": "sim/tools",
                    "command": ["/shared/cat", "/data/greeting.txt"],
                    "volumeMounts": [{"name": "shared", "mountPath": "/shared"}]},
            ],
        }}},
    }));
    jobs.create(&PostParams::default(), &job)
        .await
        .expect("create");
    let (done, reason, message) = finished(&jobs, "multi").await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), NS);
    let pod = first_pod(&client, "multi").await;
    assert_eq!(done, "Complete", "{reason}: {message}: {:?}", pod.status);
    let name = pod_name(&pod);
    assert_eq!(
        pod.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Succeeded")
    );
    // The image's program ran the program the init container placed, on the image's own file.
    let log = pods
        .logs(
            &name,
            &LogParams {
                container: Some("reader".into()),
                ..LogParams::default()
            },
        )
        .await
        .expect("log");
    assert_eq!(log, "hello from the image\n");
    let (code, _, written) = terminated(&pod, "writer").expect("writer ended");
    assert_eq!(code, 0);
    if users {
        assert_eq!(
            written.trim(),
            "4343",
            "the container's own user wins over the pod's"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_container_is_pulled_ends_and_is_oom_killed_on_its_own() {
    let config = kube_sim::Config::default()
        .image("sim/shell", "/bin/sh")
        .image("sim/late", "/bin/sh")
        .time_scale(0.05);
    let (sim, client) = start_with(config).await;
    sim.fail_image_pull("sim/late");
    let jobs: Api<Job> = Api::namespaced(client.clone(), NS);
    let job = job_from(json!({
        "metadata": {"name": "apart"},
        "spec": {"backoffLimit": 0, "template": {"spec": {
            "restartPolicy": "Never",
            "terminationGracePeriodSeconds": 1,
            "containers": [
                {"name": "steady", "image": "sim/shell", "args": ["-c", "exec sleep 600"]},
                {"name": "quitter", "image": "sim/shell", "args": ["-c", "exit 3"]},
                {"name": "late", "image": "sim/late", "args": ["-c", "exit 0"]},
            ],
        }}},
    }));
    jobs.create(&PostParams::default(), &job)
        .await
        .expect("create");
    let pods: Api<Pod> = Api::namespaced(client.clone(), NS);
    let name = pod_name(&first_pod(&client, "apart").await);
    let states = |pod: &Pod| {
        ["steady", "quitter", "late"]
            .map(|c| state(pod, c).unwrap_or_default())
            .to_vec()
    };
    // One container ended, one runs, one waits for its image: each on its own. The third waits in
    // `ContainerCreating` until its pull is tried, then in a pull failure.
    let seen = eventually(
        "a container ended while another runs and one waits for its image",
        || async {
            let pod = pods.get(&name).await.ok()?;
            let s = states(&pod);
            (s[0] == "running"
                && s[1] == "terminated:3:Error"
                && s[2].starts_with("waiting:")
                && s[2].contains("Image"))
            .then_some(s)
        },
    )
    .await;
    assert!(seen[2].contains("Image"), "{seen:?}");
    sim.oom_kill(NS, &name, "steady").expect("oom kill");
    eventually("the OOM kill of one container", || async {
        let pod = pods.get(&name).await.ok()?;
        let s = states(&pod);
        (s[0] == "terminated:137:OOMKilled" && s[2].starts_with("waiting:")).then_some(())
    })
    .await;
    sim.clear_image_pull_failure("sim/late");
    let (done, _, _) = finished(&jobs, "apart").await;
    assert_eq!(done, "Failed");
    let pod = pods.get(&name).await.expect("pod");
    assert_eq!(
        states(&pod),
        [
            "terminated:137:OOMKilled",
            "terminated:3:Error",
            "terminated:0:Completed"
        ]
    );
    assert_eq!(
        pod.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Failed")
    );
}
