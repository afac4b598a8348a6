//! The one function that turns a match into its Kubernetes objects: a Job and a Secret with the match spec and
//! report token. The Job's pod, hardened to the Pod Security "restricted" profile: init containers
//! `agent-shim` (places the agent shim) and `agent-N-init` (for agents given as code), the `match-orchestrator`
//! container and one `agent-N` container per seat (see `seats`), each agent talking to the orchestrator over
//! a Unix socket in a volume only the two share. `serve` creates exactly what `render-job` prints. The pod's
//! own parts read together here (its volumes, the orchestrator, its hardening); the seats' parts are in
//! `seats`.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::batch::v1::{
    Job, JobSpec, PodFailurePolicy, PodFailurePolicyOnExitCodesRequirement,
    PodFailurePolicyOnPodConditionsPattern, PodFailurePolicyRule,
};
use k8s_openapi::api::core::v1::{
    Capabilities, Container, EmptyDirVolumeSource, LocalObjectReference, PodSecurityContext,
    PodSpec, PodTemplateSpec, ResourceRequirements, SeccompProfile, Secret, SecretVolumeSource,
    SecurityContext, Toleration, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};

use proto::process::{TERMINATION_LOG, agent_init, agent_shim, orchestrator, utf8_args};

use super::meta;
use super::names::job_name;
use super::seats::{Seat, SeatSettings};
use super::sizing::{self, MemoryPolicy};
use crate::agent_sources::AgentSources;
use crate::config::KubernetesArgs;
use crate::error::{Error, Result};
use crate::request::MatchPlan;

/// Field manager of every write.
pub(super) const FIELD_MANAGER: &str = "rl-arena-executor";
/// Name of the orchestrator container, whose termination message is the fallback result.
pub(super) const ORCHESTRATOR_CONTAINER: &str = "match-orchestrator";
/// Where the match pod mounts the Secret.
pub(super) const SPEC_DIR: &str = "/etc/rl-arena";
/// The pod volume of the Secret.
pub(super) const SPEC_VOLUME: &str = "match-spec";

/// A match's Job and Secret, as created (the Secret gets its owner reference once the Job exists).
#[derive(Debug, Clone)]
pub struct MatchObjects {
    pub job: Job,
    pub secret: Secret,
}

/// Everything from the configuration that shapes a match's objects, checked once at start-up.
#[derive(Debug, Clone)]
pub struct JobSettings {
    pub(super) namespace: String,
    orchestrator_image: String,
    pull_policy: String,
    pull_secrets: Vec<String>,
    service_account: String,
    orchestrator_cpu: (String, String),
    memory: MemoryPolicy,
    /// The agents' containers and init containers.
    seats: SeatSettings,
    node_selector: BTreeMap<String, String>,
    tolerations: Vec<Toleration>,
    priority_class: Option<String>,
    runtime_class: Option<String>,
    ttl_sec: i32,
    report_address: String,
    /// User and group of the orchestrator and the shim installer.
    match_uid: i64,
    /// Sandbox layers the orchestrator must apply or fail the match.
    require_isolation: Vec<String>,
    /// Containers that webhooks add to each match pod.
    sidecars: usize,
}

impl JobSettings {
    /// Checks and keeps the Kubernetes options; `report_address` is where match pods reach the executor. Init
    /// containers install agents from public addresses only until [`Self::allowing`] says otherwise.
    pub fn new(args: &KubernetesArgs, report_address: &str) -> Result<Self> {
        let bad = |msg: String| Error::InvalidConfig(msg);
        let node_selector = args
            .k8s_node_selector
            .iter()
            .filter(|s| !s.trim().is_empty())
            .map(|pair| {
                pair.split_once('=')
                    .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                    .ok_or_else(|| {
                        bad(format!(
                            "k8s-node-selector {pair:?}: expected key=value, such as pool=matches"
                        ))
                    })
            })
            .collect::<Result<_>>()?;
        let tolerations = match args.k8s_tolerations.as_deref().map(str::trim) {
            None | Some("") => Vec::new(),
            Some(json) => serde_json::from_str(json).map_err(|e| {
                bad(format!(
                    "k8s-tolerations: {e}; give a JSON array such as \
                     [{{\"key\":\"dedicated\",\"operator\":\"Equal\",\"value\":\"matches\",\"effect\":\"NoSchedule\"}}]"
                ))
            })?,
        };
        let ttl_sec =
            i32::try_from(args.k8s_ttl_sec).map_err(|_| bad("k8s-ttl-sec is too large".into()))?;
        Ok(Self {
            namespace: args.k8s_namespace.clone(),
            orchestrator_image: args.k8s_orchestrator_image.clone(),
            pull_policy: args.k8s_image_pull_policy.clone(),
            pull_secrets: args
                .k8s_image_pull_secrets
                .iter()
                .filter(|s| !s.trim().is_empty())
                .cloned()
                .collect(),
            service_account: args.k8s_service_account.clone(),
            orchestrator_cpu: (
                args.k8s_orchestrator_cpu_request.clone(),
                args.k8s_orchestrator_cpu_limit.clone(),
            ),
            memory: MemoryPolicy::new(
                &args.k8s_orchestrator_memory_request,
                &args.k8s_orchestrator_memory_limit,
                &args.k8s_agent_memory_headroom,
                &args.k8s_agent_memory_limit,
            )?,
            seats: SeatSettings::new(args)?,
            node_selector,
            tolerations,
            priority_class: args.k8s_priority_class.clone().filter(|s| !s.is_empty()),
            runtime_class: args.k8s_runtime_class.clone().filter(|s| !s.is_empty()),
            ttl_sec,
            report_address: report_address.to_string(),
            match_uid: args.k8s_match_uid,
            require_isolation: isolation_layers(&args.k8s_require_isolation)?,
            sidecars: args.k8s_sidecar_containers as usize,
        })
    }

    /// The init containers install agents from `sources` (local code roots, hosts besides public addresses).
    pub(crate) fn allowing(mut self, sources: &AgentSources) -> Self {
        self.seats.sources = sources.clone();
        self
    }

    /// The Job's `activeDeadlineSeconds` for a match: the caller's whole budget, counted from the Job's start,
    /// so pod start-up and agent installs draw on it.
    pub(super) fn deadline_sec(plan: &MatchPlan) -> u64 {
        plan.timeout.as_secs().max(1)
    }

    /// Room for the orchestrator's result in the termination messages of a pod with `containers` containers
    /// (init containers included): the pod's 12 KiB split across them and injected sidecars.
    pub(super) fn result_max_bytes(&self, containers: usize) -> usize {
        sizing::result_max_bytes(containers + self.sidecars)
    }

    /// Builds a match's Job and Secret.
    pub fn build(&self, plan: &MatchPlan, fingerprint: &str, token: &str) -> Result<MatchObjects> {
        let name = job_name(&plan.match_id);
        let labels = meta::labels(&plan.match_id);
        let annotations = meta::annotations(fingerprint, plan)?;
        let meta = ObjectMeta {
            name: Some(name.clone()),
            namespace: Some(self.namespace.clone()),
            labels: Some(labels.clone()),
            annotations: Some(annotations),
            ..Default::default()
        };

        // Agent dirs as agent-init installs them; the orchestrator does not read them (each agent's shim runs
        // it from its own container), but the spec keeps its form.
        let spec_json =
            plan.spec_json((1..=plan.agents.len()).map(|i| format!("agent-{i}").into()))?;
        let seats = self.seats.seats(plan, self.match_uid)?;
        let agent_mib = self.memory.agent_mib(plan.limits.memory_mb)?;
        // The Secret carries the request's fingerprint too; its owner, the Job, is set when it is created.
        // Its name is new (the Job's and a random suffix): a Secret left by an earlier Job of the same name
        // (Secrets are immutable, its data another match's) is never the one this pod mounts.
        let secret_name = format!("{name}-{:08x}", rand::random::<u32>());
        let secret = Secret {
            metadata: ObjectMeta {
                name: Some(secret_name.clone()),
                annotations: Some(BTreeMap::from([(
                    meta::FINGERPRINT_ANNOTATION.to_string(),
                    fingerprint.to_string(),
                )])),
                ..meta.clone()
            },
            type_: Some("Opaque".into()),
            immutable: Some(true),
            data: Some(BTreeMap::from([
                ("spec.json".to_string(), ByteString(spec_json)),
                ("token".to_string(), ByteString(token.as_bytes().to_vec())),
            ])),
            ..Default::default()
        };

        let mut init_containers = vec![
            self.seats
                .shim_installer(&self.orchestrator_image, self.match_uid),
        ];
        init_containers.extend(seats.iter().filter_map(Seat::init_container));
        // The orchestrator first: the kubelet starts a pod's containers in order, pulling each image first.
        let mut containers = vec![Container::default()];
        containers.extend(seats.iter().map(|seat| seat.container(agent_mib)));
        containers[0] = self.orchestrator(&seats, init_containers.len() + containers.len());
        let mut volumes = vec![
            empty_dir("tmp"),
            SeatSettings::shim_volume(),
            Volume {
                name: SPEC_VOLUME.into(),
                secret: Some(SecretVolumeSource {
                    secret_name: Some(secret_name.clone()),
                    // Only the orchestrator's container mounts it; without an fsGroup (which would give every
                    // container of the pod, the agents' too, the orchestrator's group) the files are root's.
                    default_mode: Some(0o444),
                    ..Default::default()
                }),
                ..Default::default()
            },
        ];
        volumes.extend(seats.iter().flat_map(Seat::volumes));
        let pod = PodSpec {
            restart_policy: Some("Never".into()),
            service_account_name: Some(self.service_account.clone()),
            automount_service_account_token: Some(false),
            enable_service_links: Some(false),
            security_context: Some(PodSecurityContext {
                run_as_non_root: Some(true),
                run_as_user: Some(self.match_uid),
                run_as_group: Some(self.match_uid),
                seccomp_profile: Some(runtime_default()),
                ..Default::default()
            }),
            init_containers: Some(init_containers),
            containers,
            volumes: Some(volumes),
            image_pull_secrets: (!self.pull_secrets.is_empty()).then(|| {
                self.pull_secrets
                    .iter()
                    .map(|s| LocalObjectReference { name: s.clone() })
                    .collect()
            }),
            node_selector: (!self.node_selector.is_empty()).then(|| self.node_selector.clone()),
            tolerations: (!self.tolerations.is_empty()).then(|| self.tolerations.clone()),
            priority_class_name: self.priority_class.clone(),
            runtime_class_name: self.runtime_class.clone(),
            ..Default::default()
        };
        let deadline = i64::try_from(Self::deadline_sec(plan)).unwrap_or(i64::MAX);
        let job = Job {
            metadata: meta,
            spec: Some(JobSpec {
                backoff_limit: Some(0),
                active_deadline_seconds: Some(deadline),
                ttl_seconds_after_finished: Some(self.ttl_sec),
                pod_failure_policy: Some(failure_policy(&seats)),
                template: PodTemplateSpec {
                    metadata: Some(ObjectMeta {
                        labels: Some(labels),
                        ..Default::default()
                    }),
                    spec: Some(pod),
                },
                ..Default::default()
            }),
            status: None,
        };
        Ok(MatchObjects { job, secret })
    }
}

impl JobSettings {
    /// The `match-orchestrator` container of a pod with `containers` containers (init containers included): it
    /// listens on each seat's socket, reads the spec and the token, and writes its result as its termination
    /// message.
    fn orchestrator(&self, seats: &[Seat<'_>], containers: usize) -> Container {
        let run = orchestrator::Run {
            report: Some(orchestrator::Report {
                to: self.report_address.clone(),
                token_file: format!("{SPEC_DIR}/token").into(),
                retry_ms: None,
            }),
            result_file: Some(TERMINATION_LOG.into()),
            // The pod's termination messages have little room: the orchestrator shortens its outcome.
            result_max_bytes: Some(self.result_max_bytes(containers)),
            require_isolation: self.require_isolation.clone(),
            seat_sockets: seats.iter().map(Seat::socket).collect(),
            log_format: orchestrator::LogFormat::Json,
            ..orchestrator::Run::new(format!("{SPEC_DIR}/spec.json"))
        };
        let mut mounts = vec![
            mount(SPEC_VOLUME, SPEC_DIR, true),
            mount("tmp", "/tmp", false),
        ];
        mounts.extend(seats.iter().map(Seat::orchestrator_mount));
        let (request, limit) = &self.memory.orchestrator;
        Container {
            name: ORCHESTRATOR_CONTAINER.into(),
            image: Some(self.orchestrator_image.clone()),
            image_pull_policy: Some(self.pull_policy.clone()),
            args: Some(utf8_args(run.args())),
            resources: Some(resources(
                &self.orchestrator_cpu.0,
                request,
                &self.orchestrator_cpu.1,
                limit,
            )),
            security_context: Some(container_security(self.match_uid)),
            // The result is read from here, never from logs.
            termination_message_path: Some(TERMINATION_LOG.into()),
            termination_message_policy: Some("File".into()),
            volume_mounts: Some(mounts),
            ..Default::default()
        }
    }
}

/// The owner reference that makes deleting the Job delete the Secret.
pub(super) fn owner_reference(job: &Job) -> Option<OwnerReference> {
    Some(OwnerReference {
        api_version: "batch/v1".into(),
        kind: "Job".into(),
        name: job.metadata.name.clone()?,
        uid: job.metadata.uid.clone()?,
        controller: None,
        block_owner_deletion: None,
    })
}

/// Ends the Job at the first failed pod with a reason per cause (backoffLimit 0 would fail it anyway; the
/// rules name the cause in the Job's condition and keep disruptions from being retried). No rule ignores a
/// failure: a pod whose agent container failed (its crash is in the orchestrator's result) is never replaced.
fn failure_policy(seats: &[Seat<'_>]) -> PodFailurePolicy {
    let fail = |container: &str, operator: &str, values: Vec<i32>| PodFailurePolicyRule {
        action: "FailJob".into(),
        on_exit_codes: Some(PodFailurePolicyOnExitCodesRequirement {
            container_name: Some(container.to_string()),
            operator: operator.into(),
            values,
        }),
        on_pod_conditions: None,
    };
    let mut rules = vec![PodFailurePolicyRule {
        action: "FailJob".into(),
        on_exit_codes: None,
        on_pod_conditions: Some(vec![PodFailurePolicyOnPodConditionsPattern {
            type_: "DisruptionTarget".into(),
            status: "True".into(),
        }]),
    }];
    for seat in seats {
        if let Some(init) = seat.init_container() {
            rules.push(fail(
                &init.name,
                "In",
                vec![
                    i32::from(agent_init::Exit::BadArtifact.code()),
                    i32::from(agent_init::Exit::Unreachable.code()),
                ],
            ));
        }
    }
    rules.push(fail(
        ORCHESTRATOR_CONTAINER,
        "NotIn",
        vec![i32::from(orchestrator::Exit::Finished.code())],
    ));
    for seat in seats {
        rules.push(fail(
            &seat.name(),
            "NotIn",
            vec![i32::from(agent_shim::Exit::Finished.code())],
        ));
    }
    PodFailurePolicy { rules }
}

/// CPU and memory requests and limits.
pub(super) fn resources(
    cpu_req: &str,
    mem_req: &str,
    cpu_lim: &str,
    mem_lim: &str,
) -> ResourceRequirements {
    let pair = |cpu: &str, mem: &str| {
        Some(BTreeMap::from([
            ("cpu".to_string(), Quantity(cpu.to_string())),
            ("memory".to_string(), Quantity(mem.to_string())),
        ]))
    };
    ResourceRequirements {
        requests: pair(cpu_req, mem_req),
        limits: pair(cpu_lim, mem_lim),
        ..Default::default()
    }
}

fn runtime_default() -> SeccompProfile {
    SeccompProfile {
        type_: "RuntimeDefault".into(),
        localhost_profile: None,
    }
}

/// The sandbox layer names of the configuration, without blanks; a name that is no layer name at all is a
/// configuration error (the orchestrator checks that each names a layer it knows).
fn isolation_layers(names: &[String]) -> Result<Vec<String>> {
    let names: Vec<String> = names
        .iter()
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty())
        .collect();
    if let Some(bad) = names
        .iter()
        .find(|n| !n.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
    {
        return Err(Error::InvalidConfig(format!(
            "k8s-require-isolation {bad:?}: layer names are lower case with underscores, such as seccomp or \
             landlock_fs (see `orchestrator run --help`)"
        )));
    }
    Ok(names)
}

/// The "restricted" Pod Security profile, per container, as user and group `uid`, with a read-only root.
pub(super) fn container_security(uid: i64) -> SecurityContext {
    SecurityContext {
        allow_privilege_escalation: Some(false),
        read_only_root_filesystem: Some(true),
        run_as_non_root: Some(true),
        run_as_user: Some(uid),
        run_as_group: Some(uid),
        privileged: Some(false),
        capabilities: Some(Capabilities {
            drop: Some(vec!["ALL".into()]),
            add: None,
        }),
        seccomp_profile: Some(runtime_default()),
        ..Default::default()
    }
}

pub(super) fn mount(volume: &str, path: &str, read_only: bool) -> VolumeMount {
    VolumeMount {
        name: volume.into(),
        mount_path: path.into(),
        read_only: read_only.then_some(true),
        ..Default::default()
    }
}

/// An `emptyDir` volume.
pub(super) fn empty_dir(name: &str) -> Volume {
    Volume {
        name: name.into(),
        empty_dir: Some(EmptyDirVolumeSource::default()),
        ..Default::default()
    }
}
