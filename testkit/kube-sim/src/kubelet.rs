//! The kubelet: runs each pod's init containers in order, then its containers, as local process
//! groups. Images map to host binaries; volumes are host directories; container paths in args,
//! env, `workingDir` and `terminationMessagePath` are rewritten to those directories (see the
//! README for the rule). Container and pod statuses are written back like a real kubelet's.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use nix::sys::signal::Signal;
use serde_json::{Value, json};
use tokio::sync::watch;

use crate::events::record_event;
use crate::images::binary_for;
use crate::kinds::Kind;
use crate::processes::kill_group;
use crate::shared::Shared;
use crate::store::{Key, is_deleting, meta_str, uid};
use crate::time::{now_rfc3339, scaled};

/// Termination messages are cut to this many bytes, as the kubelet does.
const MESSAGE_LIMIT: usize = 4096;
/// Simulated seconds between image pull retries.
const PULL_BACKOFF_SECONDS: f64 = 2.0;
/// How often a waiting pod re-checks its world when nothing pokes it.
const RECHECK: Duration = Duration::from_millis(200);

/// Container paths mapped to host paths, longest first.
#[derive(Debug, Default, Clone)]
struct Rewriter(Vec<(String, PathBuf)>);

impl Rewriter {
    fn add(&mut self, container: &str, host: PathBuf) {
        let container = container.trim_end_matches('/');
        self.0.push((
            if container.is_empty() {
                "/".to_owned()
            } else {
                container.to_owned()
            },
            host,
        ));
        self.0.sort_by_key(|entry| std::cmp::Reverse(entry.0.len()));
    }

    fn rewrite_path(&self, value: &str) -> Option<String> {
        self.0.iter().find_map(|(prefix, host)| {
            let rest = value.strip_prefix(prefix.as_str())?;
            if rest.is_empty() {
                Some(host.display().to_string())
            } else if rest.starts_with('/') {
                Some(format!("{}{rest}", host.display()))
            } else {
                None
            }
        })
    }

    /// `/mnt/x/y` becomes `<host>/y`; `--flag=/mnt/x` becomes `--flag=<host>`.
    fn rewrite(&self, value: &str) -> String {
        if let Some(v) = self.rewrite_path(value) {
            return v;
        }
        if let Some((flag, path)) = value.split_once('=') {
            if let Some(v) = self.rewrite_path(path) {
                return format!("{flag}={v}");
            }
        }
        value.to_owned()
    }
}

/// `$(VAR)` expansion of command, args and env values; `$$` escapes a `$`.
fn expand(text: &str, env: &[(String, String)]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(stripped) = after.strip_prefix('$') {
            out.push('$');
            rest = stripped;
        } else if let Some(inner) = after.strip_prefix('(') {
            match inner.find(')') {
                Some(end) => {
                    let name = &inner[..end];
                    match env.iter().rev().find(|(k, _)| k == name) {
                        Some((_, v)) => out.push_str(v),
                        None => {
                            out.push_str("$(");
                            out.push_str(name);
                            out.push(')');
                        }
                    }
                    rest = &inner[end + 1..];
                }
                None => {
                    out.push('$');
                    rest = after;
                }
            }
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// Why a pod stops early.
#[derive(Debug, Clone, PartialEq)]
enum Interrupt {
    /// Deleted: SIGTERM, then SIGKILL after the grace period (simulated seconds).
    Deleted(f64),
    /// The object is gone (force deletion): kill now.
    Gone,
    NodeLost,
    Shutdown,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Which {
    Init,
    Main,
}

impl Which {
    fn list(self) -> &'static str {
        match self {
            Which::Init => "initContainerStatuses",
            Which::Main => "containerStatuses",
        }
    }
}

/// Volumes and environment resolved before any container starts.
struct Prepared {
    volumes: HashMap<String, PathBuf>,
    env: HashMap<String, Vec<(String, String)>>,
}

struct PodCtx {
    shared: Arc<Shared>,
    key: Key,
    uid: String,
    dir: PathBuf,
    epoch: u64,
}

/// Starts a task for every pod that has none; removes deleted pods that never ran.
pub(crate) async fn run(shared: Arc<Shared>) {
    let mut changed = shared.changed.subscribe();
    let mut shutdown = shared.shutdown.subscribe();
    loop {
        // Runtimes first, then the store (the one place both are held): a pod's task writes
        // its final status before it drops its runtime entry, so under both locks a live-looking
        // pod without a runtime has truly never been started.
        let mut to_start = Vec::new();
        let mut to_finish = Vec::new();
        {
            let mut processes = shared.processes.lock();
            let store = shared.store();
            for key in store.keys(Some(Kind::Pod)) {
                let Some(pod) = store.by_key(&key) else {
                    continue;
                };
                let terminal = matches!(
                    pod.pointer("/status/phase").and_then(Value::as_str),
                    Some("Succeeded" | "Failed")
                );
                let pod_uid = uid(pod).to_owned();
                if terminal || processes.has_pod(&pod_uid) {
                    continue;
                }
                if is_deleting(pod) {
                    to_finish.push(key);
                } else {
                    processes.add_pod(&pod_uid);
                    to_start.push((key, pod_uid));
                }
            }
        }
        for key in to_finish {
            shared.store().finish_deletion(&key, None);
        }
        for (key, pod_uid) in to_start {
            let epoch = shared.faults().node_epoch;
            let dir = shared
                .data_dir
                .join("pods")
                .join(format!("{}_{}_{}", key.1, key.2, pod_uid));
            let ctx = PodCtx {
                shared: shared.clone(),
                key,
                uid: pod_uid,
                dir,
                epoch,
            };
            tokio::spawn(run_pod(ctx));
        }
        tokio::select! {
            _ = changed.changed() => {}
            _ = crate::shared::stopped(&mut shutdown) => return,
        }
    }
}

/// The host directory of a pod's container logs.
pub(crate) fn log_file(data_dir: &Path, pod: &Value, container: &str) -> PathBuf {
    data_dir
        .join("pods")
        .join(format!(
            "{}_{}_{}",
            meta_str(pod, "namespace"),
            meta_str(pod, "name"),
            uid(pod)
        ))
        .join("logs")
        .join(format!("{container}.log"))
}

async fn run_pod(ctx: PodCtx) {
    let outcome = ctx.lifecycle().await;
    let pgids = ctx.shared.processes.lock().groups(&ctx.uid);
    for pgid in pgids {
        kill_group(pgid, Signal::SIGKILL);
    }
    // The final status is written before the runtime entry goes, so the pod is never seen
    // without a runtime while it still looks alive (which would start it again).
    match outcome {
        Err(Interrupt::NodeLost) => ctx.mark_node_lost(),
        Err(Interrupt::Shutdown) => return,
        _ => {}
    }
    {
        let mut store = ctx.shared.store();
        if store
            .by_key(&ctx.key)
            .is_some_and(|p| uid(p) == ctx.uid && is_deleting(p))
        {
            store.finish_deletion(&ctx.key, None);
        }
    }
    ctx.shared.processes.lock().remove_pod(&ctx.uid);
}

impl PodCtx {
    fn pod(&self) -> Option<Value> {
        self.shared
            .store()
            .by_key(&self.key)
            .filter(|p| uid(p) == self.uid)
            .cloned()
    }

    fn check(&self) -> Option<Interrupt> {
        if *self.shared.shutdown.borrow() {
            return Some(Interrupt::Shutdown);
        }
        let Some(pod) = self.pod() else {
            return Some(Interrupt::Gone);
        };
        if is_deleting(&pod) {
            let grace = pod
                .pointer("/metadata/deletionGracePeriodSeconds")
                .and_then(Value::as_f64)
                .unwrap_or(30.0);
            return Some(Interrupt::Deleted(grace));
        }
        if self.shared.faults().node_epoch != self.epoch {
            return Some(Interrupt::NodeLost);
        }
        None
    }

    async fn wait(&self, changed: &mut watch::Receiver<u64>, at_most: Duration) {
        let _ = tokio::time::timeout(at_most, changed.changed()).await;
    }

    /// Changes the pod's status; a pod that is gone is left alone.
    fn set_status(&self, change: impl FnOnce(&mut Value)) {
        let mut store = self.shared.store();
        if store.by_key(&self.key).is_some_and(|p| uid(p) == self.uid) {
            let _ = store.mutate(&self.key, |pod| {
                if !pod.get("status").is_some_and(Value::is_object) {
                    pod["status"] = json!({});
                }
                change(&mut pod["status"]);
            });
        }
    }

    fn event(&self, warning: bool, reason: &str, message: &str) {
        let mut store = self.shared.store();
        if let Some(pod) = store.by_key(&self.key).cloned() {
            record_event(
                &mut store,
                &pod,
                Kind::Pod,
                warning,
                reason,
                message,
                "kubelet",
            );
        }
    }

    fn set_container(&self, which: Which, name: &str, change: impl FnOnce(&mut Value)) {
        self.set_status(|status| {
            if let Some(entry) = status
                .get_mut(which.list())
                .and_then(Value::as_array_mut)
                .and_then(|l| {
                    l.iter_mut()
                        .find(|c| c.get("name").and_then(Value::as_str) == Some(name))
                })
            {
                change(entry);
            }
        });
    }

    async fn lifecycle(&self) -> Result<(), Interrupt> {
        let mut changed = self.shared.changed.subscribe();
        let node = self.shared.config.node_name.clone();
        let mut reported = false;
        loop {
            if let Some(i) = self.check() {
                return Err(i);
            }
            if !self.shared.faults().unschedulable {
                break;
            }
            if !reported {
                reported = true;
                let message = "0/1 nodes are available: 1 node(s) were unschedulable. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.";
                self.set_status(|s| {
                    s["phase"] = json!("Pending");
                    s["conditions"] = json!([{
                        "type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                        "message": message, "lastProbeTime": null, "lastTransitionTime": now_rfc3339(),
                    }]);
                });
                self.event(true, "FailedScheduling", message);
            }
            self.wait(&mut changed, RECHECK).await;
        }
        let Some(pod) = self.pod() else {
            return Err(Interrupt::Gone);
        };
        let spec = pod.get("spec").cloned().unwrap_or(json!({}));
        let inits = containers(&spec, "initContainers");
        let mains = containers(&spec, "containers");
        let now = now_rfc3339();
        {
            let mut store = self.shared.store();
            let _ = store.mutate(&self.key, |p| p["spec"]["nodeName"] = json!(node));
        }
        let waiting = |c: &Value, reason: &str| {
            json!({
                "name": c.get("name").cloned().unwrap_or(json!("")),
                "image": c.get("image").cloned().unwrap_or(json!("")),
                "imageID": "",
                "ready": false,
                "restartCount": 0,
                "started": false,
                "state": {"waiting": {"reason": reason}},
                "lastState": {},
            })
        };
        let init_reason = if inits.is_empty() {
            "ContainerCreating"
        } else {
            "PodInitializing"
        };
        self.set_status(|s| {
            s["phase"] = json!("Pending");
            s["hostIP"] = json!("127.0.0.1");
            s["hostIPs"] = json!([{"ip": "127.0.0.1"}]);
            s["podIP"] = json!("127.0.0.1");
            s["podIPs"] = json!([{"ip": "127.0.0.1"}]);
            s["startTime"] = json!(now);
            let cond = |t: &str, ok: bool, reason: Option<&str>| {
                let mut c = json!({"type": t, "status": if ok { "True" } else { "False" },
                    "lastProbeTime": null, "lastTransitionTime": now});
                if let Some(r) = reason {
                    c["reason"] = json!(r);
                }
                c
            };
            s["conditions"] = json!([
                cond("PodReadyToStartContainers", true, None),
                cond(
                    "Initialized",
                    inits.is_empty(),
                    (!inits.is_empty()).then_some("ContainersNotInitialized")
                ),
                cond("Ready", false, Some("ContainersNotReady")),
                cond("ContainersReady", false, Some("ContainersNotReady")),
                cond("PodScheduled", true, None),
            ]);
            if !inits.is_empty() {
                s["initContainerStatuses"] = json!(
                    inits
                        .iter()
                        .map(|c| waiting(c, "PodInitializing"))
                        .collect::<Vec<_>>()
                );
            }
            s["containerStatuses"] = json!(
                mains
                    .iter()
                    .map(|c| waiting(c, init_reason))
                    .collect::<Vec<_>>()
            );
        });
        self.event(
            false,
            "Scheduled",
            &format!(
                "Successfully assigned {}/{} to {node}",
                self.key.1, self.key.2
            ),
        );

        let mut reported = false;
        let prepared = loop {
            if let Some(i) = self.check() {
                return Err(i);
            }
            match self.prepare(&pod, &spec) {
                Ok(p) => break p,
                Err(message) => {
                    if !reported {
                        reported = true;
                        tracing::info!(pod = %self.key.2, %message, "kube-sim: container config error");
                        let first = inits
                            .first()
                            .map(|c| (Which::Init, c))
                            .or(mains.first().map(|c| (Which::Main, c)));
                        if let Some((which, c)) = first {
                            let name = c
                                .get("name")
                                .and_then(Value::as_str)
                                .unwrap_or("")
                                .to_owned();
                            self.set_container(which, &name, |st| {
                                st["state"] = json!({"waiting": {"reason": "CreateContainerConfigError", "message": message}});
                            });
                        }
                        self.event(true, "Failed", &format!("Error: {message}"));
                    }
                    self.wait(&mut changed, RECHECK).await;
                }
            }
        };

        for c in &inits {
            let code = self.run_container(c, Which::Init, &prepared, &spec).await?;
            if code != 0 {
                self.set_status(|s| {
                    s["phase"] = json!("Failed");
                    set_condition(s, "Initialized", false, Some("ContainersNotInitialized"));
                });
                return Ok(());
            }
        }
        if !inits.is_empty() {
            self.set_status(|s| {
                set_condition(s, "Initialized", true, None);
                for st in s["containerStatuses"].as_array_mut().into_iter().flatten() {
                    st["state"] = json!({"waiting": {"reason": "ContainerCreating"}});
                }
            });
        }
        let runs = mains
            .iter()
            .map(|c| self.run_container(c, Which::Main, &prepared, &spec));
        let results = futures_util::future::join_all(runs).await;
        let mut all_ok = true;
        for r in results {
            all_ok &= r? == 0;
        }
        self.set_status(|s| {
            s["phase"] = json!(if all_ok { "Succeeded" } else { "Failed" });
            set_condition(s, "Ready", false, Some("PodCompleted"));
            set_condition(s, "ContainersReady", false, Some("PodCompleted"));
            set_condition(s, "PodReadyToStartContainers", false, None);
        });
        Ok(())
    }

    /// Host directories for volumes and the environment of every container, or the
    /// `CreateContainerConfigError` message.
    fn prepare(&self, pod: &Value, spec: &Value) -> Result<Prepared, String> {
        let store = self.shared.store();
        let ns = &self.key.1;
        let mut volumes = HashMap::new();
        for volume in spec
            .get("volumes")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let name = volume.get("name").and_then(Value::as_str).unwrap_or("");
            let dir = self.dir.join("volumes").join(name);
            let mkdir = |d: &Path| {
                std::fs::create_dir_all(d)
                    .map_err(|e| format!("cannot create volume dir {}: {e}", d.display()))
            };
            if let Some(path) = volume.pointer("/hostPath/path").and_then(Value::as_str) {
                volumes.insert(name.to_owned(), PathBuf::from(path));
                continue;
            }
            mkdir(&dir)?;
            let (source, kind, object_name) = if let Some(s) = volume.get("secret") {
                (
                    s,
                    Kind::Secret,
                    s.get("secretName").and_then(Value::as_str).unwrap_or(""),
                )
            } else if let Some(c) = volume.get("configMap") {
                (
                    c,
                    Kind::ConfigMap,
                    c.get("name").and_then(Value::as_str).unwrap_or(""),
                )
            } else if volume.get("emptyDir").is_some() {
                volumes.insert(name.to_owned(), dir);
                continue;
            } else {
                return Err(format!(
                    "kube-sim does not support the type of volume {name:?}"
                ));
            };
            let optional = source.get("optional").and_then(Value::as_bool) == Some(true);
            let files = match store.try_get(kind, ns, object_name) {
                Some(object) => object_files(object),
                None if optional => Vec::new(),
                None => {
                    return Err(format!(
                        "{} \"{object_name}\" not found",
                        kind.name().to_lowercase()
                    ));
                }
            };
            let mode = source
                .get("defaultMode")
                .and_then(Value::as_u64)
                .unwrap_or(0o644) as u32;
            let items = source.get("items").and_then(Value::as_array);
            for (key, bytes) in files {
                let target = match items {
                    Some(items) => match items
                        .iter()
                        .find(|i| i.get("key").and_then(Value::as_str) == Some(key.as_str()))
                    {
                        Some(item) => item
                            .get("path")
                            .and_then(Value::as_str)
                            .unwrap_or(&key)
                            .to_owned(),
                        None => continue,
                    },
                    None => key.clone(),
                };
                let path = dir.join(&target);
                if let Some(parent) = path.parent() {
                    mkdir(parent)?;
                }
                std::fs::write(&path, &bytes)
                    .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
                use std::os::unix::fs::PermissionsExt;
                let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode));
            }
            volumes.insert(name.to_owned(), dir);
        }
        let mut env = HashMap::new();
        for c in containers(spec, "initContainers")
            .into_iter()
            .chain(containers(spec, "containers"))
        {
            let cname = c
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned();
            let mut vars: Vec<(String, String)> = Vec::new();
            for from in c
                .get("envFrom")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let prefix = from.get("prefix").and_then(Value::as_str).unwrap_or("");
                let (kind, r) = match (from.get("secretRef"), from.get("configMapRef")) {
                    (Some(r), _) => (Kind::Secret, r),
                    (_, Some(r)) => (Kind::ConfigMap, r),
                    _ => continue,
                };
                let oname = r.get("name").and_then(Value::as_str).unwrap_or("");
                match store.try_get(kind, ns, oname) {
                    Some(o) => {
                        for (k, v) in object_files(o) {
                            vars.push((
                                format!("{prefix}{k}"),
                                String::from_utf8_lossy(&v).into_owned(),
                            ));
                        }
                    }
                    None if r.get("optional").and_then(Value::as_bool) == Some(true) => {}
                    None => {
                        return Err(format!(
                            "{} \"{oname}\" not found",
                            kind.name().to_lowercase()
                        ));
                    }
                }
            }
            for var in c.get("env").and_then(Value::as_array).into_iter().flatten() {
                let name = var
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned();
                let value = if let Some(v) = var.get("value").and_then(Value::as_str) {
                    Some(expand(v, &vars))
                } else if let Some(from) = var.get("valueFrom") {
                    resolve_value_from(&store, ns, pod, from)?
                } else {
                    Some(String::new())
                };
                if let Some(value) = value {
                    vars.push((name, value));
                }
            }
            env.insert(cname, vars);
        }
        Ok(Prepared { volumes, env })
    }

    async fn run_container(
        &self,
        c: &Value,
        which: Which,
        prepared: &Prepared,
        spec: &Value,
    ) -> Result<i32, Interrupt> {
        let mut changed = self.shared.changed.subscribe();
        let name = c
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let image = c
            .get("image")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let backoff = scaled(PULL_BACKOFF_SECONDS, self.shared.config.time_scale);
        let mut pull_failures = 0u32;
        let binary = loop {
            if let Some(i) = self.check() {
                return Err(i);
            }
            let mapped = binary_for(&self.shared.config.images, &image).map(PathBuf::from);
            let failing = self.shared.faults().image_pull_fails(&image);
            match mapped {
                Some(b) if !failing => break b,
                _ => {
                    let message = if failing {
                        format!("Failed to pull image \"{image}\": kube-sim: injected pull failure")
                    } else {
                        format!(
                            "Failed to pull image \"{image}\": kube-sim: no binary is mapped to this image"
                        )
                    };
                    let (reason, msg) = if pull_failures == 0 {
                        (ErrImage::Pull, message)
                    } else {
                        (
                            ErrImage::BackOff,
                            format!("Back-off pulling image \"{image}\""),
                        )
                    };
                    pull_failures += 1;
                    if pull_failures <= 2 {
                        self.set_container(which, &name, |st| {
                            st["state"] =
                                json!({"waiting": {"reason": reason.as_str(), "message": msg}});
                        });
                        self.event(
                            true,
                            if reason == ErrImage::Pull {
                                "Failed"
                            } else {
                                "BackOff"
                            },
                            &msg,
                        );
                    }
                    self.wait(&mut changed, backoff).await;
                }
            }
        };
        let env = prepared.env.get(&name).cloned().unwrap_or_default();
        let cdir = self.dir.join("containers").join(&name);
        let root = self.dir.join("root");
        let log = self.dir.join("logs").join(format!("{name}.log"));
        for d in [&cdir, &root, &self.dir.join("logs")] {
            let _ = std::fs::create_dir_all(d);
        }
        let mut rewriter = Rewriter::default();
        for m in c
            .get("volumeMounts")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let (Some(vol), Some(path)) = (
                m.get("name").and_then(Value::as_str),
                m.get("mountPath").and_then(Value::as_str),
            ) else {
                continue;
            };
            if let Some(host) = prepared.volumes.get(vol) {
                let host = match m
                    .get("subPath")
                    .and_then(Value::as_str)
                    .filter(|s| !s.is_empty())
                {
                    Some(sub) => {
                        let h = host.join(sub);
                        let _ = std::fs::create_dir_all(&h);
                        h
                    }
                    None => host.clone(),
                };
                rewriter.add(path, host);
            }
        }
        let tm_path = c
            .get("terminationMessagePath")
            .and_then(Value::as_str)
            .unwrap_or("/dev/termination-log");
        let tm_host = match rewriter.rewrite_path(tm_path) {
            Some(p) => PathBuf::from(p),
            None => {
                let p = cdir.join("termination-log");
                rewriter.add(tm_path, p.clone());
                p
            }
        };
        if let Some(parent) = tm_host.parent() {
            let _ = std::fs::create_dir_all(parent);
        }
        let _ = std::fs::write(&tm_host, b"");
        // `$(VAR)` expands to the value the pod spec gave; the result is then rewritten once.
        let strings = |field: &str| -> Vec<String> {
            c.get(field)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(|s| rewriter.rewrite(&expand(s, &env)))
                .collect()
        };
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.clone(), rewriter.rewrite(v)))
            .collect();
        let command = strings("command");
        let args = strings("args");
        let workdir = c
            .get("workingDir")
            .and_then(Value::as_str)
            .filter(|w| !w.is_empty())
            .map(|w| PathBuf::from(rewriter.rewrite(w)))
            .unwrap_or(root);
        let mut cmd = tokio::process::Command::new(&binary);
        cmd.args(command.iter().skip(1))
            .args(&args)
            .env_clear()
            .env(
                "PATH",
                std::env::var("PATH").unwrap_or_else(|_| "/usr/local/bin:/usr/bin:/bin".to_owned()),
            )
            .env("HOSTNAME", &self.key.2)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .current_dir(&workdir)
            .stdin(Stdio::null())
            .process_group(0);
        let started_at = now_rfc3339();
        let container_id = format!("kube-sim://{}-{name}", self.uid);
        let spawned = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .and_then(|out| Ok((out.try_clone()?, out)))
            .and_then(|(out, err)| cmd.stdout(out).stderr(err).spawn());
        let mut child = match spawned {
            Ok(child) => child,
            Err(e) => {
                let message = format!("kube-sim: cannot start {}: {e}", binary.display());
                self.set_container(which, &name, |st| {
                    st["state"] = json!({"terminated": {"exitCode": 128, "reason": "StartError", "message": message,
                        "startedAt": started_at, "finishedAt": now_rfc3339(), "containerID": container_id}});
                    st["containerID"] = json!(container_id);
                });
                self.event(true, "Failed", &message);
                return Ok(128);
            }
        };
        let pgid = child.id().map(|p| p as i32).unwrap_or(0);
        self.shared.processes.lock().add_group(&self.uid, pgid);
        tracing::info!(pod = %self.key.2, container = %name, binary = %binary.display(), pgid, "kube-sim: container started");
        self.event(false, "Started", &format!("Started container {name}"));
        self.set_container(which, &name, |st| {
            st["state"] = json!({"running": {"startedAt": started_at}});
            st["started"] = json!(true);
            st["ready"] = json!(which == Which::Main);
            st["containerID"] = json!(container_id);
            st["imageID"] = json!(format!("kube-sim://{}", binary.display()));
        });
        if which == Which::Main {
            self.set_status(|s| {
                s["phase"] = json!("Running");
                let all_ready = s["containerStatuses"]
                    .as_array()
                    .is_some_and(|l| l.iter().all(|c| c["ready"] == json!(true)));
                if all_ready {
                    set_condition(s, "Ready", true, None);
                    set_condition(s, "ContainersReady", true, None);
                }
            });
        }
        let mut oom = false;
        let status = loop {
            tokio::select! {
                status = child.wait() => break status,
                _ = changed.changed() => {}
                _ = tokio::time::sleep(RECHECK) => {}
            }
            let oom_now = self
                .shared
                .faults()
                .oom
                .remove(&(self.uid.clone(), name.clone()));
            if oom_now {
                tracing::info!(pod = %self.key.2, container = %name, "kube-sim: oom kill");
                oom = true;
                kill_group(pgid, Signal::SIGKILL);
                continue;
            }
            match self.check() {
                None => {}
                Some(Interrupt::Deleted(grace)) => {
                    self.event(false, "Killing", &format!("Stopping container {name}"));
                    kill_group(pgid, Signal::SIGTERM);
                    let grace = scaled(grace, self.shared.config.time_scale);
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
        };
        // Anything the container left behind in its group goes with it.
        kill_group(pgid, Signal::SIGKILL);
        self.shared.processes.lock().remove_group(&self.uid, pgid);
        use std::os::unix::process::ExitStatusExt;
        let code = match &status {
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
        let mut message = read_capped(&tm_host);
        let fallback = c.get("terminationMessagePolicy").and_then(Value::as_str)
            == Some("FallbackToLogsOnError");
        if message.is_empty() && fallback && code != 0 {
            message = tail_lines(&read_tail(&log, 2048), 80);
        }
        let _ = spec;
        tracing::info!(pod = %self.key.2, container = %name, exit_code = code, reason, "kube-sim: container terminated");
        self.set_container(which, &name, |st| {
            let mut terminated = json!({"exitCode": code, "reason": reason, "startedAt": started_at,
                "finishedAt": now_rfc3339(), "containerID": container_id});
            if !message.is_empty() {
                terminated["message"] = json!(message);
            }
            st["state"] = json!({"terminated": terminated});
            st["ready"] = json!(false);
            st["started"] = json!(false);
        });
        Ok(code)
    }

    fn mark_node_lost(&self) {
        let node = self.shared.config.node_name.clone();
        let name = self.key.2.clone();
        self.set_status(|s| {
            let now = now_rfc3339();
            s["phase"] = json!("Failed");
            s["reason"] = json!("NodeLost");
            s["message"] = json!(format!("Node {node} which was running pod {name} is unresponsive"));
            for list in ["initContainerStatuses", "containerStatuses"] {
                for st in s[list].as_array_mut().into_iter().flatten() {
                    if st.pointer("/state/terminated").is_none() {
                        st["state"] = json!({"terminated": {"exitCode": 137, "reason": "ContainerStatusUnknown",
                            "message": "The container could not be located when the pod was terminated",
                            "finishedAt": now}});
                        st["ready"] = json!(false);
                    }
                }
            }
            set_condition(s, "Ready", false, Some("NodeLost"));
            let mut conditions = s["conditions"].as_array().cloned().unwrap_or_default();
            conditions.retain(|c| c["type"] != json!("DisruptionTarget"));
            conditions.push(json!({"type": "DisruptionTarget", "status": "True", "reason": "DeletionByTaintManager",
                "message": "Taint manager: deleting due to NoExecute taint", "lastProbeTime": null, "lastTransitionTime": now}));
            s["conditions"] = json!(conditions);
        });
        self.event(
            true,
            "NodeNotReady",
            &format!("Node {node} is lost; pod evicted"),
        );
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum ErrImage {
    Pull,
    BackOff,
}

impl ErrImage {
    fn as_str(self) -> &'static str {
        match self {
            ErrImage::Pull => "ErrImagePull",
            ErrImage::BackOff => "ImagePullBackOff",
        }
    }
}

fn containers(spec: &Value, list: &str) -> Vec<Value> {
    spec.get(list)
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

fn set_condition(status: &mut Value, kind: &str, ok: bool, reason: Option<&str>) {
    let want = if ok { "True" } else { "False" };
    if !status["conditions"].is_array() {
        status["conditions"] = json!([]);
    }
    let list = status["conditions"]
        .as_array_mut()
        .expect("just made an array");
    let entry = match list.iter_mut().find(|c| c["type"] == json!(kind)) {
        Some(e) => e,
        None => {
            list.push(json!({"type": kind, "lastProbeTime": null}));
            list.last_mut().expect("just pushed")
        }
    };
    if entry["status"] != json!(want) {
        entry["status"] = json!(want);
        entry["lastTransitionTime"] = json!(now_rfc3339());
    }
    match reason {
        Some(r) => entry["reason"] = json!(r),
        None => {
            if let Some(m) = entry.as_object_mut() {
                m.remove("reason");
            }
        }
    }
}

/// The files of a Secret (`data`, base64) or a ConfigMap (`data` text, `binaryData` base64).
fn object_files(object: &Value) -> Vec<(String, Vec<u8>)> {
    let b64 = |v: &Value| {
        base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap_or(""))
            .unwrap_or_default()
    };
    let mut files = Vec::new();
    let is_secret = object.get("kind").and_then(Value::as_str) == Some("Secret");
    for (k, v) in object
        .get("data")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        let bytes = if is_secret {
            b64(v)
        } else {
            v.as_str().unwrap_or("").as_bytes().to_vec()
        };
        files.push((k.clone(), bytes));
    }
    for (k, v) in object
        .get("binaryData")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        files.push((k.clone(), b64(v)));
    }
    files
}

fn resolve_value_from(
    store: &crate::store::Store,
    ns: &str,
    pod: &Value,
    from: &Value,
) -> Result<Option<String>, String> {
    for (field, kind, name_field) in [
        ("secretKeyRef", Kind::Secret, "name"),
        ("configMapKeyRef", Kind::ConfigMap, "name"),
    ] {
        let Some(r) = from.get(field) else { continue };
        let oname = r.get(name_field).and_then(Value::as_str).unwrap_or("");
        let key = r.get("key").and_then(Value::as_str).unwrap_or("");
        let optional = r.get("optional").and_then(Value::as_bool) == Some(true);
        let what = kind.name().to_lowercase();
        let Some(object) = store.try_get(kind, ns, oname) else {
            return if optional {
                Ok(None)
            } else {
                Err(format!("{what} \"{oname}\" not found"))
            };
        };
        return match object_files(object).into_iter().find(|(k, _)| k == key) {
            Some((_, v)) => Ok(Some(String::from_utf8_lossy(&v).into_owned())),
            None if optional => Ok(None),
            None => Err(format!("couldn't find key {key} in {what} {ns}/{oname}")),
        };
    }
    if let Some(path) = from.pointer("/fieldRef/fieldPath").and_then(Value::as_str) {
        let value = match path {
            "metadata.name" => meta_str(pod, "name").to_owned(),
            "metadata.namespace" => meta_str(pod, "namespace").to_owned(),
            "metadata.uid" => uid(pod).to_owned(),
            "spec.nodeName" => pod
                .pointer("/spec/nodeName")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned(),
            "spec.serviceAccountName" => pod
                .pointer("/spec/serviceAccountName")
                .and_then(Value::as_str)
                .unwrap_or("default")
                .to_owned(),
            "status.podIP" | "status.hostIP" => "127.0.0.1".to_owned(),
            other => {
                let label = other
                    .strip_prefix("metadata.labels['")
                    .map(|r| ("labels", r))
                    .or_else(|| {
                        other
                            .strip_prefix("metadata.annotations['")
                            .map(|r| ("annotations", r))
                    });
                match label.and_then(|(m, r)| Some((m, r.strip_suffix("']")?))) {
                    Some((map, key)) => pod["metadata"][map][key].as_str().unwrap_or("").to_owned(),
                    None => return Err(format!("kube-sim does not support fieldRef {other:?}")),
                }
            }
        };
        return Ok(Some(value));
    }
    if from.get("resourceFieldRef").is_some() {
        return Ok(Some("0".to_owned()));
    }
    Err("env valueFrom names no supported source".to_owned())
}

fn read_capped(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap_or_default();
    let mut end = bytes.len().min(MESSAGE_LIMIT);
    while end > 0 && std::str::from_utf8(&bytes[..end]).is_err() {
        end -= 1;
    }
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

fn read_tail(path: &Path, limit: usize) -> String {
    let bytes = std::fs::read(path).unwrap_or_default();
    let start = bytes.len().saturating_sub(limit);
    String::from_utf8_lossy(&bytes[start..]).into_owned()
}

fn tail_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrites_paths_at_boundaries() {
        let mut r = Rewriter::default();
        r.add("/agents", PathBuf::from("/tmp/p/agents"));
        r.add("/agents/spec", PathBuf::from("/tmp/p/spec"));
        let cases = [
            ("/agents", "/tmp/p/agents"),
            ("/agents/agent-1", "/tmp/p/agents/agent-1"),
            ("/agents/spec/spec.json", "/tmp/p/spec/spec.json"),
            ("/agentsx", "/agentsx"),
            ("--dest=/agents/a", "--dest=/tmp/p/agents/a"),
            ("relative/agents", "relative/agents"),
        ];
        for (input, want) in cases {
            assert_eq!(r.rewrite(input), want, "{input}");
        }
    }

    #[test]
    fn expands_variables() {
        let env = vec![("A".to_owned(), "1".to_owned())];
        assert_eq!(expand("x$(A)y", &env), "x1y");
        assert_eq!(expand("$(B)", &env), "$(B)");
        assert_eq!(expand("$$(A)", &env), "$(A)");
        assert_eq!(expand("cost $5", &env), "cost $5");
    }
}
