//! Turns what the watches show of a match's Job, its pod and its `FailedCreate` events into a verdict: still
//! going, the orchestrator produced its result, or the match failed, with the precise status and message.
//! Pure: the caller supplies the objects and the time. One file of about 500 lines: the verdict is one ordered
//! table of causes (conditions, pod phases, container states, events), read top to bottom in one place.
//!
//! Since Kubernetes 1.31 a Job's `Failed` and `Complete` conditions come only after its pods terminate,
//! preceded by `FailureTarget` and `SuccessCriteriaMet`; the verdict reads either. A Job past its deadline
//! stops its pod, whose orchestrator then reports what was played: the verdict waits for the pod to end (at
//! most the report grace) so that report is the result.

use std::time::Duration;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ContainerState, ContainerStatus, Event, Pod};
use k8s_openapi::chrono::{DateTime, Utc};
use proto::outcome::MatchStatus;
use proto::process::agent_init::Exit;

use super::job::ORCHESTRATOR_CONTAINER;
use super::seats::SHIM_INSTALLER;

/// Waiting reasons that do not resolve on their own: the match fails at once. `ImagePullBackOff` means the
/// kubelet tried and is backing off.
const STUCK_REASONS: &[&str] = &[
    "ImagePullBackOff",
    "InvalidImageName",
    "ErrImageNeverPull",
    "RunContainerError",
];
/// Waiting reasons the kubelet retries and that fresh or upgraded nodes show for a while (a registry
/// credential or a Secret not yet synced, a runtime still starting): the match fails only when one lasts
/// longer than the transient grace.
const TRANSIENT_REASONS: &[&str] = &[
    "ErrImagePull",
    "CreateContainerConfigError",
    "CreateContainerError",
];
/// How long a failed Job waits for its pod's final status to arrive (the two watches are not ordered).
const POD_STATUS_LAG: Duration = Duration::from_secs(5);
/// Longest part of a container's message quoted in a verdict.
const MESSAGE_BYTES: usize = 1024;

/// Where a match stands.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Verdict {
    /// Still going; when `recheck_in` is set, the verdict may change by itself after that long (a startup
    /// budget running out) even if no object changes.
    Pending { recheck_in: Option<Duration> },
    /// The orchestrator exited 0: the result is in the report stream, else in this termination message.
    Succeeded { termination_message: Option<String> },
    /// The match failed; `faults` charges agents (by seat) that caused it.
    Failed {
        status: MatchStatus,
        message: String,
        faults: Vec<(usize, String)>,
    },
}

impl Verdict {
    fn failed(message: String) -> Self {
        Self::Failed {
            status: MatchStatus::Error,
            message,
            faults: Vec::new(),
        }
    }
}

/// What the diagnosis needs besides the objects.
#[derive(Debug, Clone)]
pub(super) struct Context<'a> {
    /// Agent ids in seat order, to name agents in messages.
    pub(super) agent_ids: &'a [String],
    /// How long a pod may stay unschedulable.
    pub(super) startup_budget: Duration,
    /// How long a container may wait in a transient reason.
    pub(super) transient_grace: Duration,
    /// How long a Job past its deadline waits for its stopped pod (and the report of what was played).
    pub(super) report_grace: Duration,
    pub(super) now: DateTime<Utc>,
}

/// The verdict on a match from its Job, its pods (any order) and the Job's `FailedCreate` events.
pub(super) fn diagnose(
    job: &Job,
    pods: &[&Pod],
    failed_creates: &[&Event],
    cx: &Context<'_>,
) -> Verdict {
    let conditions = job
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_deref())
        .unwrap_or_default();
    let true_condition = |kind: &str| {
        conditions
            .iter()
            .find(|c| c.type_ == kind && c.status == "True")
    };
    let failed = true_condition("Failed").or_else(|| true_condition("FailureTarget"));
    // The newest pod tells the most (there is only one with backoffLimit 0).
    let mut pods = pods.to_vec();
    pods.sort_by_key(|p| p.metadata.creation_timestamp.as_ref().map(|t| t.0));
    if let Some(message) = deadline_exceeded(job) {
        let waited = failed.map_or(Duration::ZERO, |c| {
            since(c.last_transition_time.as_ref(), cx)
        });
        if pods.last().is_some_and(|p| !pod_ended(p)) && waited < cx.report_grace {
            return Verdict::Pending {
                recheck_in: Some(cx.report_grace - waited),
            };
        }
        return Verdict::Failed {
            status: MatchStatus::Timeout,
            message,
            faults: Vec::new(),
        };
    }
    if pods.is_empty() {
        if let Some(verdict) = failed_create(failed_creates) {
            return verdict;
        }
    }
    if let Some(pod) = pods.last() {
        if let Some(verdict) = diagnose_pod(pod, cx) {
            return verdict;
        }
    }
    if true_condition("Complete").is_some() || true_condition("SuccessCriteriaMet").is_some() {
        return Verdict::Succeeded {
            termination_message: None,
        };
    }
    if let Some(c) = failed {
        let waited = since(c.last_transition_time.as_ref(), cx);
        let pod_behind = pods.last().is_some_and(|p| !pod_ended(p));
        if pod_behind && waited < POD_STATUS_LAG {
            return Verdict::Pending {
                recheck_in: Some(POD_STATUS_LAG - waited),
            };
        }
        return Verdict::failed(format!(
            "match Job failed ({}): {}",
            c.reason.as_deref().unwrap_or("no reason"),
            c.message.as_deref().unwrap_or("no message")
        ));
    }
    let recheck_in = pods
        .last()
        .and_then(|p| unschedulable_since(p))
        .map(|since| {
            let waited = (cx.now - since).to_std().unwrap_or_default();
            cx.startup_budget.saturating_sub(waited)
        });
    Verdict::Pending { recheck_in }
}

/// The message of a Job stopped at its deadline (`activeDeadlineSeconds`, the match's whole budget), if it
/// was.
pub(super) fn deadline_exceeded(job: &Job) -> Option<String> {
    let conditions = job.status.as_ref()?.conditions.as_deref()?;
    conditions.iter().find(|c| {
        (c.type_ == "Failed" || c.type_ == "FailureTarget")
            && c.status == "True"
            && c.reason.as_deref() == Some("DeadlineExceeded")
    })?;
    let deadline = job
        .spec
        .as_ref()
        .and_then(|s| s.active_deadline_seconds)
        .unwrap_or_default();
    Some(format!(
        "match did not finish within its budget of {deadline} s (pod start-up and agent installs included) \
         and was stopped"
    ))
}

/// Whether no agent of the match can have run, from what the watches show: its pod could not be created (a
/// `FailedCreate` and no pod), or its newest pod shows that the orchestrator, which starts the agents, never
/// started. Without a pod or such an event it cannot be known, and this is `false`.
pub(super) fn agents_never_ran(pods: &[&Pod], failed_creates: &[&Event]) -> bool {
    let newest = pods
        .iter()
        .max_by_key(|p| p.metadata.creation_timestamp.as_ref().map(|t| t.0));
    match newest {
        None => failed_creates
            .iter()
            .any(|e| e.reason.as_deref() == Some("FailedCreate")),
        Some(pod) => !orchestrator_started(pod),
    }
}

/// Whether a pod's orchestrator container has run: it runs or ran, and not just failed to start.
fn orchestrator_started(pod: &Pod) -> bool {
    const NEVER_RAN: [&str; 2] = ["StartError", "ContainerCannotRun"];
    let ran = |state: Option<&ContainerState>| {
        state.is_some_and(|s| {
            s.running.is_some()
                || s.terminated
                    .as_ref()
                    .is_some_and(|t| !NEVER_RAN.contains(&t.reason.as_deref().unwrap_or_default()))
        })
    };
    pod.status
        .as_ref()
        .and_then(|s| s.container_statuses.as_deref())
        .unwrap_or_default()
        .iter()
        .filter(|c| c.name == ORCHESTRATOR_CONTAINER)
        .any(|c| ran(c.state.as_ref()) || ran(c.last_state.as_ref()))
}

/// Whether a pod has ended (its phase is final).
fn pod_ended(pod: &Pod) -> bool {
    matches!(
        pod.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Failed" | "Succeeded")
    )
}

/// Time from `at` to now (zero without a time or for a time ahead).
fn since(
    at: Option<&k8s_openapi::apimachinery::pkg::apis::meta::v1::Time>,
    cx: &Context<'_>,
) -> Duration {
    at.and_then(|t| (cx.now - t.0).to_std().ok())
        .unwrap_or_default()
}

/// A Job whose pod cannot be created: a ResourceQuota refuses it (the Job controller retries, but the match
/// waits for capacity that other matches hold: a capacity error now) or admission forbids it.
fn failed_create(events: &[&Event]) -> Option<Verdict> {
    let message = events
        .iter()
        .filter(|e| e.reason.as_deref() == Some("FailedCreate"))
        .filter_map(|e| e.message.as_deref())
        .find(|m| m.contains("forbidden"))?;
    let message = clip(message.trim());
    Some(Verdict::failed(if message.contains("exceeded quota") {
        format!("RESOURCE_EXHAUSTED: the match pod could not be created: {message}")
    } else {
        format!("the match pod could not be created: {message}")
    }))
}

/// Whether a Job has met its end, either way: a terminal condition, or (since Kubernetes 1.31) the interim one
/// after which the Job controller stops its pods itself.
pub(super) fn is_finished(job: &Job) -> bool {
    const ENDS: [&str; 4] = ["Complete", "Failed", "SuccessCriteriaMet", "FailureTarget"];
    job.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| {
            cs.iter()
                .any(|c| ENDS.contains(&c.type_.as_str()) && c.status == "True")
        })
}

/// How long before `now` a Job finished (zero when it has not).
pub(super) fn finished_for(job: &Job, now: DateTime<Utc>) -> Duration {
    let finished = job.status.as_ref().and_then(|s| {
        s.completion_time.as_ref().map(|t| t.0).or_else(|| {
            s.conditions
                .as_ref()?
                .iter()
                .filter(|c| c.status == "True")
                .filter_map(|c| c.last_transition_time.as_ref().map(|t| t.0))
                .max()
        })
    });
    finished
        .and_then(|t| (now - t).to_std().ok())
        .unwrap_or_default()
}

fn diagnose_pod(pod: &Pod, cx: &Context<'_>) -> Option<Verdict> {
    let status = pod.status.as_ref()?;
    let inits = status
        .init_container_statuses
        .as_deref()
        .unwrap_or_default();
    let mains = status.container_statuses.as_deref().unwrap_or_default();

    for c in inits {
        if let Some(verdict) = failed_init(c, cx) {
            return Some(verdict);
        }
    }
    for c in inits.iter().chain(mains) {
        match stuck(c, pod, cx) {
            Some(Stuck::Now(verdict)) => return Some(verdict),
            Some(Stuck::Within(left)) => {
                return Some(Verdict::Pending {
                    recheck_in: Some(left),
                });
            }
            None => {}
        }
    }
    let reason = status.reason.as_deref().unwrap_or_default();
    let disrupted = status
        .conditions
        .as_deref()
        .unwrap_or_default()
        .iter()
        .find(|c| c.type_ == "DisruptionTarget" && c.status == "True");
    if reason == "Evicted" || reason == "NodeLost" || reason == "Preempting" || disrupted.is_some()
    {
        let detail = status
            .message
            .clone()
            .or_else(|| disrupted.and_then(|c| c.message.clone()))
            .unwrap_or_default();
        let why = if reason.is_empty() {
            disrupted
                .and_then(|c| c.reason.clone())
                .unwrap_or_else(|| "disrupted".into())
        } else {
            reason.to_string()
        };
        return Some(Verdict::failed(format!(
            "match pod {} was stopped by the cluster ({why}): {}; submit the match again",
            pod.metadata.name.as_deref().unwrap_or("?"),
            clip(detail.trim())
        )));
    }
    if let Some(c) = mains.iter().find(|c| c.name == ORCHESTRATOR_CONTAINER) {
        if let Some(t) = c.state.as_ref().and_then(|s| s.terminated.as_ref()) {
            let message = t.message.clone().filter(|m| !m.trim().is_empty());
            if t.exit_code == 0 {
                return Some(Verdict::Succeeded {
                    termination_message: message,
                });
            }
            if t.reason.as_deref() == Some("OOMKilled") {
                return Some(Verdict::failed(format!(
                    "{ORCHESTRATOR_CONTAINER} was OOMKilled: the orchestrator used more memory than its limit{}",
                    memory_limit(pod)
                )));
            }
            return Some(Verdict::failed(format!(
                "orchestrator failed (exit code {}{}){}",
                t.exit_code,
                t.reason
                    .as_deref()
                    .map(|r| format!(", {r}"))
                    .unwrap_or_default(),
                message
                    .map(|m| format!(": {}", clip(m.trim())))
                    .unwrap_or_default()
            )));
        }
    }
    if status.phase.as_deref() == Some("Failed") {
        return Some(Verdict::failed(format!(
            "match pod failed{}",
            status
                .message
                .as_deref()
                .map(|m| format!(": {}", clip(m)))
                .unwrap_or_default()
        )));
    }
    if let Some(since) = unschedulable_since(pod) {
        let waited = (cx.now - since).to_std().unwrap_or_default();
        if waited >= cx.startup_budget {
            let why = status
                .conditions
                .as_deref()
                .unwrap_or_default()
                .iter()
                .find(|c| c.type_ == "PodScheduled")
                .and_then(|c| c.message.clone())
                .unwrap_or_default();
            return Some(Verdict::failed(format!(
                "RESOURCE_EXHAUSTED: no node could run the match pod within the startup budget of {} s: {}",
                cx.startup_budget.as_secs(),
                clip(why.trim())
            )));
        }
    }
    None
}

/// An `agent-N-init` container that exited non-zero.
fn failed_init(c: &ContainerStatus, cx: &Context<'_>) -> Option<Verdict> {
    let t = c.state.as_ref()?.terminated.as_ref()?;
    if t.exit_code == 0 {
        return None;
    }
    if c.name == SHIM_INSTALLER {
        return Some(Verdict::failed(format!(
            "the agent shim could not be placed for the agents' containers ({SHIM_INSTALLER} exit code {}{}): {}",
            t.exit_code,
            t.reason
                .as_deref()
                .map(|r| format!(", {r}"))
                .unwrap_or_default(),
            clip(t.message.as_deref().unwrap_or("no message").trim())
        )));
    }
    let seat = c
        .name
        .strip_prefix("agent-")
        .and_then(|rest| rest.strip_suffix("-init"))
        .and_then(|n| n.parse::<usize>().ok())
        .and_then(|n| n.checked_sub(1));
    let agent = seat
        .and_then(|i| cx.agent_ids.get(i))
        .map_or_else(|| c.name.clone(), |id| format!("agent {id}"));
    let reason = t
        .message
        .as_deref()
        .map(|m| clip(m.trim().trim_start_matches("agent-init: ")))
        .filter(|m| !m.is_empty())
        .or_else(|| t.reason.clone())
        .unwrap_or_else(|| "no message".into());
    Some(match (Exit::from_code(t.exit_code), seat) {
        (Some(Exit::BadArtifact), Some(i)) => {
            let message = format!("{agent}: {reason}");
            Verdict::Failed {
                status: MatchStatus::Error,
                message: message.clone(),
                faults: vec![(i, message)],
            }
        }
        (Some(Exit::Unreachable), _) => Verdict::failed(format!(
            "{agent}: the agent's source could not be fetched (infrastructure): {reason}"
        )),
        _ if t.reason.as_deref() == Some("OOMKilled") => Verdict::failed(format!(
            "{agent}: {} was OOMKilled (exit code {}) while installing the agent",
            c.name, t.exit_code
        )),
        _ => Verdict::failed(format!(
            "{agent}: agent-init failed (exit code {}): {reason}",
            t.exit_code
        )),
    })
}

/// A container that waits for a reason that does not resolve by itself, or for a transient one.
enum Stuck {
    /// The match fails.
    Now(Verdict),
    /// The kubelet may still succeed within this much of the transient grace.
    Within(Duration),
}

/// A container waiting in a stuck reason, or in a transient one (past the grace: stuck).
fn stuck(c: &ContainerStatus, pod: &Pod, cx: &Context<'_>) -> Option<Stuck> {
    let w = c.state.as_ref()?.waiting.as_ref()?;
    let reason = w.reason.as_deref()?;
    if TRANSIENT_REASONS.contains(&reason) {
        let waited = since(due_since(pod, &c.name).as_ref(), cx);
        if waited < cx.transient_grace {
            return Some(Stuck::Within(cx.transient_grace - waited));
        }
    } else if !STUCK_REASONS.contains(&reason) {
        return None;
    }
    let image = pod_image(pod, &c.name).unwrap_or_else(|| c.image.clone());
    let detail = clip(w.message.as_deref().unwrap_or("no message").trim());
    let pull = reason.contains("Image") && reason != "ErrImageNeverPull";
    if let Some(seat) = pull.then(|| agent_image_seat(pod, &c.name)).flatten() {
        // The agent's own image: the agent's fault, as a bad artifact is.
        let agent = cx
            .agent_ids
            .get(seat)
            .map_or_else(|| c.name.clone(), |id| format!("agent {id}"));
        let message =
            format!("{agent}: its image {image:?} could not be pulled ({reason}): {detail}");
        return Some(Stuck::Now(Verdict::Failed {
            status: MatchStatus::Error,
            message: message.clone(),
            faults: vec![(seat, message)],
        }));
    }
    let what = if reason.contains("Image") {
        format!(
            "image {image:?} of container {} could not be pulled",
            c.name
        )
    } else {
        format!("container {} could not be created", c.name)
    };
    Some(Stuck::Now(Verdict::failed(format!(
        "{what} ({reason}): {detail}"
    ))))
}

/// The seat (0-based) whose `agent-N` container `container` is, when it runs the agent's own image: an agent
/// given as code has an `agent-N-init` and runs in the operator's runtime image.
fn agent_image_seat(pod: &Pod, container: &str) -> Option<usize> {
    let n: usize = container.strip_prefix("agent-")?.parse().ok()?;
    let spec = pod.spec.as_ref()?;
    let init = format!("{container}-init");
    let has_init = spec
        .init_containers
        .iter()
        .flatten()
        .any(|c| c.name == init);
    let is_container = spec.containers.iter().any(|c| c.name == container);
    (is_container && !has_init)
        .then(|| n.checked_sub(1))
        .flatten()
}

/// When a container became due to start: when the init container before it ended (containers wait for
/// every init container), else when the kubelet took the pod on.
fn due_since(
    pod: &Pod,
    container: &str,
) -> Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::Time> {
    let status = pod.status.as_ref()?;
    let inits = status
        .init_container_statuses
        .as_deref()
        .unwrap_or_default();
    let before = match inits.iter().position(|c| c.name == container) {
        Some(i) => &inits[..i],
        None => inits,
    };
    before
        .iter()
        .filter_map(|c| c.state.as_ref()?.terminated.as_ref()?.finished_at.clone())
        .max_by_key(|t| t.0)
        .or_else(|| status.start_time.clone())
        .or_else(|| pod.metadata.creation_timestamp.clone())
}

/// The image a container was given in the pod spec.
fn pod_image(pod: &Pod, container: &str) -> Option<String> {
    let spec = pod.spec.as_ref()?;
    spec.containers
        .iter()
        .chain(spec.init_containers.iter().flatten())
        .find(|c| c.name == container)
        .and_then(|c| c.image.clone())
}

/// When the pod was found unschedulable, if it still is.
fn unschedulable_since(pod: &Pod) -> Option<DateTime<Utc>> {
    let c = pod
        .status
        .as_ref()?
        .conditions
        .as_deref()?
        .iter()
        .find(|c| c.type_ == "PodScheduled")?;
    if c.status != "False" || c.reason.as_deref() != Some("Unschedulable") {
        return None;
    }
    c.last_transition_time
        .as_ref()
        .or(pod.metadata.creation_timestamp.as_ref())
        .map(|t| t.0)
}

fn memory_limit(pod: &Pod) -> String {
    pod.spec
        .as_ref()
        .and_then(|s| {
            s.containers
                .iter()
                .find(|c| c.name == ORCHESTRATOR_CONTAINER)
        })
        .and_then(|c| {
            c.resources
                .as_ref()?
                .limits
                .as_ref()?
                .get("memory")
                .cloned()
        })
        .map(|q| format!(" of {}", q.0))
        .unwrap_or_default()
}

fn clip(text: &str) -> String {
    let head = common::text::head(text, MESSAGE_BYTES);
    if head.len() == text.len() {
        head.to_string()
    } else {
        format!("{head}...")
    }
}
