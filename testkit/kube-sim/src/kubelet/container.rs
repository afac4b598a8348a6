//! One container as a host process group: pulled, created (an injected creation error is shown
//! as its waiting reason and retried after a back-off, as the kubelet does), launched with its
//! rewritten command line, environment and working directory, watched for an injected OOM kill
//! and for the pod's deletion (SIGTERM, then SIGKILL after the grace period), and reported when
//! it exits.

use std::collections::HashMap;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};

use nix::sys::signal::Signal;
use tokio::process::Child;
use tokio::sync::watch;

use super::env::{Vars, expand};
use super::paths::Rewriter;
use super::pull::pull;
use super::spec::Container;
use super::status::{self, Terminated, Which};
use super::task::{Interrupt, PodTask, RECHECK};
use super::termination;
use crate::processes::kill_group;
use crate::time::{now_rfc3339, scaled};

/// The exit code reported for a container that could not start.
const START_ERROR_CODE: i32 = 128;
/// Simulated seconds between tries to create a container that failed to be created.
const CREATE_RETRY_SECONDS: f64 = 2.0;

/// What one container needs from the pod's preparation.
pub(crate) struct Inputs<'a> {
    /// The container's variables, before path rewriting.
    pub(crate) env: &'a Vars,
    /// Host directories of the pod's volumes, by volume name.
    pub(crate) volumes: &'a HashMap<String, PathBuf>,
    /// Containers of the pod (init containers included): they share its termination messages.
    pub(crate) pod_containers: usize,
}

/// A container's process as it will be started.
struct Launch {
    binary: PathBuf,
    args: Vec<String>,
    env: Vars,
    workdir: PathBuf,
    log: PathBuf,
    termination_file: PathBuf,
    id: String,
    started_at: String,
}

/// Runs a container to its end; its exit code, or why the pod stopped first.
pub(crate) async fn run(
    task: &PodTask,
    c: &Container,
    which: Which,
    inputs: Inputs<'_>,
) -> Result<i32, Interrupt> {
    let mut changed = task.shared.changed.subscribe();
    let binary = pull(task, &mut changed, which, &c.name, &c.image).await?;
    create(task, which, &c.name).await?;
    let containers = inputs.pod_containers;
    let launch = prepare(task, c, binary, inputs);
    let Some((mut child, pgid)) = start(task, c, which, &launch) else {
        return Ok(START_ERROR_CODE);
    };
    let (exit, oom) = supervise(task, &mut changed, &mut child, pgid, &c.name).await?;
    // Anything the container left behind in its group goes with it.
    kill_group(pgid, Signal::SIGKILL);
    task.shared.processes.lock().remove_group(&task.uid, pgid);
    Ok(finish(task, c, which, &launch, (exit, oom), containers))
}

/// Waits out injected creation errors: each try shows its reason and a `Failed` event, and the
/// next comes after a back-off.
async fn create(task: &PodTask, which: Which, name: &str) -> Result<(), Interrupt> {
    let backoff = scaled(CREATE_RETRY_SECONDS, task.shared.config.time_scale);
    loop {
        if let Some(i) = task.check() {
            return Err(i);
        }
        let Some(reason) = task.shared.faults().take_transient(name) else {
            return Ok(());
        };
        let message = format!("kube-sim: injected {reason} of container {name}; retrying");
        tracing::info!(pod = %task.name(), container = %name, %reason, "kube-sim: container creation failed");
        task.set_container(which, name, |st| {
            st["state"] = status::waiting(&reason, Some(&message));
        });
        task.event(true, "Failed", &format!("Error: {message}"));
        // The whole back-off: the status write just made is a change too.
        tokio::time::sleep(backoff).await;
    }
}

/// Directories, the termination message file, and the command line with `$(VAR)` expanded to
/// the values the pod spec gave, then container paths rewritten once.
fn prepare(task: &PodTask, c: &Container, binary: PathBuf, inputs: Inputs<'_>) -> Launch {
    let scratch = task.dir.container(&c.name);
    for d in [&scratch, &task.dir.root(), &task.dir.logs()] {
        let _ = std::fs::create_dir_all(d);
    }
    let mut rewriter = Rewriter::for_mounts(&c.volume_mounts, inputs.volumes);
    let path = c
        .termination_message_path
        .as_deref()
        .unwrap_or("/dev/termination-log");
    let termination_file = rewriter.map_or_add(path, scratch.join("termination-log"));
    if let Some(parent) = termination_file.parent() {
        let _ = std::fs::create_dir_all(parent);
    }
    let _ = std::fs::write(&termination_file, b"");
    let line = |s: &String| rewriter.rewrite(&expand(s, inputs.env));
    let args = c.command.iter().skip(1).chain(&c.args).map(line).collect();
    let env = inputs
        .env
        .iter()
        .map(|(k, v)| (k.clone(), rewriter.rewrite(v)))
        .collect();
    let workdir = c
        .working_dir
        .as_deref()
        .filter(|w| !w.is_empty())
        .map(|w| PathBuf::from(rewriter.rewrite(w)))
        .unwrap_or_else(|| task.dir.root());
    Launch {
        binary,
        args,
        env,
        workdir,
        log: task.dir.log(&c.name),
        termination_file,
        id: format!("kube-sim://{}-{}", task.uid, c.name),
        started_at: now_rfc3339(),
    }
}

/// Starts the process group with stdout and stderr appended to the log; reports a failure to
/// start as a `StartError` termination.
fn start(task: &PodTask, c: &Container, which: Which, launch: &Launch) -> Option<(Child, i32)> {
    let path = std::env::var("PATH").unwrap_or_else(|_| "/usr/local/bin:/usr/bin:/bin".to_owned());
    let mut cmd = tokio::process::Command::new(&launch.binary);
    cmd.args(&launch.args)
        .env_clear()
        .env("PATH", path)
        .env("HOSTNAME", task.name())
        .envs(launch.env.iter().map(|(k, v)| (k, v)))
        .current_dir(&launch.workdir)
        .stdin(Stdio::null())
        .process_group(0);
    let spawned = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&launch.log)
        .and_then(|out| Ok((out.try_clone()?, out)))
        .and_then(|(out, err)| cmd.stdout(out).stderr(err).spawn());
    let child = match spawned {
        Ok(child) => child,
        Err(e) => {
            let message = format!("kube-sim: cannot start {}: {e}", launch.binary.display());
            let end = Terminated {
                exit_code: START_ERROR_CODE,
                reason: "StartError",
                message: &message,
                started_at: &launch.started_at,
                container_id: &launch.id,
            };
            task.set_container(which, &c.name, |st| status::terminated(st, &end));
            task.event(true, "Failed", &message);
            return None;
        }
    };
    let pgid = child.id().map(|p| p as i32).unwrap_or(0);
    task.shared.processes.lock().add_group(&task.uid, pgid);
    tracing::info!(pod = %task.name(), container = %c.name, binary = %launch.binary.display(), pgid, "kube-sim: container started");
    task.event(false, "Started", &format!("Started container {}", c.name));
    let image_id = format!("kube-sim://{}", launch.binary.display());
    task.set_container(which, &c.name, |st| {
        status::running(st, which, &launch.started_at, &launch.id, &image_id);
    });
    if which == Which::Main {
        task.set_status(status::main_started);
    }
    Some((child, pgid))
}

/// Waits for the process to exit; kills it for an injected OOM (the flag returned is then set)
/// or when the pod must stop.
async fn supervise(
    task: &PodTask,
    changed: &mut watch::Receiver<u64>,
    child: &mut Child,
    pgid: i32,
    name: &str,
) -> Result<(std::io::Result<ExitStatus>, bool), Interrupt> {
    let mut oom = false;
    loop {
        tokio::select! {
            exit = child.wait() => return Ok((exit, oom)),
            _ = changed.changed() => {}
            _ = tokio::time::sleep(RECHECK) => {}
        }
        let oom_now = task
            .shared
            .faults()
            .oom
            .remove(&(task.uid.clone(), name.to_owned()));
        if oom_now {
            tracing::info!(pod = %task.name(), container = %name, "kube-sim: oom kill");
            oom = true;
            kill_group(pgid, Signal::SIGKILL);
            continue;
        }
        match task.check() {
            None => {}
            Some(Interrupt::Deleted(grace)) => {
                task.event(false, "Killing", &format!("Stopping container {name}"));
                kill_group(pgid, Signal::SIGTERM);
                let grace = scaled(grace, task.shared.config.time_scale);
                if tokio::time::timeout(grace, child.wait()).await.is_err() {
                    kill_group(pgid, Signal::SIGKILL);
                    let _ = child.wait().await;
                }
                return Err(Interrupt::Deleted(0.0));
            }
            Some(i) => {
                kill_group(pgid, Signal::SIGKILL);
                let _ = child.wait().await;
                return Err(i);
            }
        }
    }
}

/// Reports the termination: exit code, reason and message. Returns the exit code.
fn finish(
    task: &PodTask,
    c: &Container,
    which: Which,
    launch: &Launch,
    (exit, oom): (std::io::Result<ExitStatus>, bool),
    containers: usize,
) -> i32 {
    let code = match &exit {
        Ok(s) => s.code().unwrap_or_else(|| 128 + s.signal().unwrap_or(9)),
        Err(_) => 128,
    };
    let (code, reason) = if oom {
        (137, "OOMKilled")
    } else if code == 0 {
        (0, "Completed")
    } else {
        (code, "Error")
    };
    let policy = c.termination_message_policy.as_deref();
    let message = termination::message(
        &launch.termination_file,
        &launch.log,
        policy,
        code,
        containers,
    );
    tracing::info!(pod = %task.name(), container = %c.name, exit_code = code, reason, "kube-sim: container terminated");
    let end = Terminated {
        exit_code: code,
        reason,
        message: &message,
        started_at: &launch.started_at,
        container_id: &launch.id,
    };
    task.set_container(which, &c.name, |st| status::terminated(st, &end));
    code
}
