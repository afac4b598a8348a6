//! One pod's life on the node: it waits while the node is unschedulable, is scheduled, waits
//! until its volumes and environments can be prepared, runs its init containers in order and then
//! all its containers together, and ends `Succeeded` or `Failed`. A lost node fails it.
//!
//! A volume whose Secret or ConfigMap is missing is a mount the kubelet keeps retrying: the pod
//! stays `Pending` with its containers waiting (`PodInitializing`, `ContainerCreating`) and a
//! `FailedMount` warning, and starts once the object appears. A missing object that an env
//! variable names is a `CreateContainerConfigError` of the container until it appears.

use std::collections::HashMap;
use std::path::PathBuf;

use serde_json::{Value, json};
use tokio::sync::watch;

use super::container::{self, Inputs};
use super::env::{Vars, container_env};
use super::spec::PodSpec;
use super::status::{self, Which};
use super::task::{Interrupt, PodTask, RECHECK};
use super::volumes;
use crate::object::{is_deleting, uid};
use crate::processes::kill_group;
use crate::time::now_rfc3339;

/// Volumes and environments resolved before any container starts.
struct Prepared {
    volumes: HashMap<String, PathBuf>,
    /// Variables by container name.
    env: HashMap<String, Vars>,
    /// Init containers and containers of the pod.
    containers: usize,
}

/// Runs the pod, then cleans up: kills what is left, marks a lost pod, and lets a deleted pod go.
pub(crate) async fn run(task: PodTask) {
    let outcome = lifecycle(&task).await;
    let groups = task.shared.processes.lock().groups(&task.uid);
    for pgid in groups {
        kill_group(pgid, nix::sys::signal::Signal::SIGKILL);
    }
    // The final status is written before the pod leaves the process registry, so the pod is
    // never seen unregistered while it still looks alive (which would start it again).
    match outcome {
        Err(Interrupt::NodeLost) => mark_node_lost(&task),
        Err(Interrupt::Shutdown) => return,
        _ => {}
    }
    {
        let mut store = task.shared.store();
        if store
            .by_key(&task.key)
            .is_some_and(|p| uid(p) == task.uid && is_deleting(p))
        {
            store.finish_deletion(&task.key, None);
        }
    }
    task.shared.processes.lock().remove_pod(&task.uid);
}

async fn lifecycle(task: &PodTask) -> Result<(), Interrupt> {
    let mut changed = task.shared.changed.subscribe();
    wait_until_schedulable(task, &mut changed).await?;
    let pod = task.pod().ok_or(Interrupt::Gone)?;
    let spec = match PodSpec::read(&pod) {
        Ok(spec) => spec,
        Err(error) => {
            fail_unreadable(task, &error);
            return Ok(());
        }
    };
    schedule(task, &spec);
    let prepared = wait_until_prepared(task, &mut changed, &pod, &spec).await?;
    for c in &spec.init_containers {
        if container::run(task, c, Which::Init, prepared.inputs(&c.name)).await? != 0 {
            task.set_status(status::init_failed);
            return Ok(());
        }
    }
    if !spec.init_containers.is_empty() {
        task.set_status(status::initialized);
    }
    let runs = spec
        .containers
        .iter()
        .map(|c| container::run(task, c, Which::Main, prepared.inputs(&c.name)));
    let mut all_ok = true;
    for result in futures_util::future::join_all(runs).await {
        all_ok &= result? == 0;
    }
    task.set_status(|s| status::completed(s, all_ok));
    Ok(())
}

impl Prepared {
    fn inputs(&self, container: &str) -> Inputs<'_> {
        static NONE: Vars = Vec::new();
        Inputs {
            env: self.env.get(container).unwrap_or(&NONE),
            volumes: &self.volumes,
            pod_containers: self.containers,
        }
    }
}

async fn wait_until_schedulable(
    task: &PodTask,
    changed: &mut watch::Receiver<u64>,
) -> Result<(), Interrupt> {
    let mut reported = false;
    loop {
        if let Some(i) = task.check() {
            return Err(i);
        }
        if !task.shared.faults().unschedulable {
            return Ok(());
        }
        if !reported {
            reported = true;
            let message = "0/1 nodes are available: 1 node(s) were unschedulable. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.";
            task.set_status(|s| status::unschedulable(s, message));
            task.event(true, "FailedScheduling", message);
        }
        task.wait(changed, RECHECK).await;
    }
}

/// A spec the kubelet cannot read fails the pod with the reason.
fn fail_unreadable(task: &PodTask, error: &str) {
    let message = format!("kube-sim cannot read the pod spec: {error}");
    tracing::warn!(pod = %task.name(), %message, "kube-sim: pod failed");
    task.set_status(|s| {
        s["phase"] = json!("Failed");
        s["message"] = json!(message);
    });
    task.event(true, "Failed", &message);
}

/// Binds the pod to the node: `nodeName`, IPs, conditions, waiting containers.
fn schedule(task: &PodTask, spec: &PodSpec) {
    let node = &task.shared.config.node_name;
    let now = now_rfc3339();
    {
        let mut store = task.shared.store();
        let _ = store.mutate(&task.key, |p| p["spec"]["nodeName"] = json!(node));
    }
    task.set_status(|s| status::scheduled(s, spec, &now));
    let (ns, name) = (&task.key.1, &task.key.2);
    task.event(
        false,
        "Scheduled",
        &format!("Successfully assigned {ns}/{name} to {node}"),
    );
}

async fn wait_until_prepared(
    task: &PodTask,
    changed: &mut watch::Receiver<u64>,
    pod: &Value,
    spec: &PodSpec,
) -> Result<Prepared, Interrupt> {
    let mut reported = false;
    loop {
        if let Some(i) = task.check() {
            return Err(i);
        }
        match prepare(task, pod, spec) {
            Ok(prepared) => return Ok(prepared),
            Err(Unprepared::Mount(message)) if !reported => {
                reported = true;
                tracing::info!(pod = %task.name(), %message, "kube-sim: mount waits");
                task.event(true, "FailedMount", &message);
            }
            Err(Unprepared::Config(message)) if !reported => {
                reported = true;
                report_config_error(task, spec, &message);
            }
            Err(_) => {}
        }
        task.wait(changed, RECHECK).await;
    }
}

/// Why a pod cannot start its containers yet.
enum Unprepared {
    /// A volume cannot be set up (`FailedMount`).
    Mount(String),
    /// A container's environment cannot be built (`CreateContainerConfigError`).
    Config(String),
}

/// Host directories for volumes and the environment of every container.
fn prepare(task: &PodTask, pod: &Value, spec: &PodSpec) -> Result<Prepared, Unprepared> {
    let store = task.shared.store();
    let ns = &task.key.1;
    let volumes =
        volumes::prepare(&store, ns, &task.dir, &spec.volumes).map_err(Unprepared::Mount)?;
    let mut env = HashMap::new();
    for c in spec.init_containers.iter().chain(&spec.containers) {
        let vars = container_env(&store, ns, pod, c).map_err(Unprepared::Config)?;
        env.insert(c.name.clone(), vars);
    }
    Ok(Prepared {
        volumes,
        env,
        containers: spec.init_containers.len() + spec.containers.len(),
    })
}

/// The first container waits in `CreateContainerConfigError`; a warning event says why.
fn report_config_error(task: &PodTask, spec: &PodSpec, message: &str) {
    tracing::info!(pod = %task.name(), %message, "kube-sim: container config error");
    let first = spec
        .init_containers
        .first()
        .map(|c| (Which::Init, c))
        .or(spec.containers.first().map(|c| (Which::Main, c)));
    if let Some((which, c)) = first {
        task.set_container(which, &c.name, |st| {
            st["state"] = status::waiting("CreateContainerConfigError", Some(message));
        });
    }
    task.event(true, "Failed", &format!("Error: {message}"));
}

fn mark_node_lost(task: &PodTask) {
    let node = &task.shared.config.node_name;
    task.set_status(|s| status::node_lost(s, node, task.name()));
    task.event(
        true,
        "NodeNotReady",
        &format!("Node {node} is lost; pod evicted"),
    );
}
