//! The parts of a match pod that run its agents, each seat in a container of its own: the `agent-shim`
//! installer (an init container that copies the static shim out of the orchestrator image into a volume), for
//! an agent given as code its `agent-N-init` (installs the code into the seat's code volume), and the `agent-N`
//! container: the agent's own image (or, for code, the runtime image) running the shim, with its own resources
//! and uid, its code, a private scratch volume, and the seat's socket directory, which only the orchestrator
//! shares. Nothing else of the pod (the spec, the token, the other seat) is mounted there.

use std::collections::BTreeMap;
use std::path::PathBuf;

use k8s_openapi::api::core::v1::{Container, ResourceRequirements, Volume, VolumeMount};
use proto::process::{TERMINATION_LOG, agent_init, agent_shim, utf8_args};

use super::job::{container_security, empty_dir, mount, resources};
use crate::agent_sources::AgentSources;
use crate::config::KubernetesArgs;
use crate::error::{Error, Result};
use crate::request::{AgentSource, MatchPlan};

/// Name of the init container that places the shim.
pub(super) const SHIM_INSTALLER: &str = "agent-shim";
/// The shim in the orchestrator image.
pub(super) const SHIM_IN_IMAGE: &str = "/usr/local/bin/agent-shim";
/// The volume holding the shim, and where containers mount it.
const SHIM_VOLUME: &str = "agent-shim";
const SHIM_DIR: &str = "/rl-arena/bin";
/// Where the orchestrator mounts the seats' socket directories (`agent-N` each).
pub(super) const SEATS_DIR: &str = "/run/rl-arena/seats";
/// Where an agent container mounts its seat's socket directory.
const SEAT_DIR: &str = "/run/rl-arena/seat";
const SEAT_SOCKET: &str = "seat.sock";
/// Where a code agent's volume is mounted (`agent-N` inside), in its init container and its container.
const CODE_DIR: &str = "/agents";
/// Where an agent image keeps its code.
const IMAGE_APP: &str = "/app";
/// Where an agent container mounts its private scratch volume.
const SCRATCH_DIR: &str = "/tmp";

/// What every match's seats share, from the configuration.
#[derive(Debug, Clone)]
pub(super) struct SeatSettings {
    agent_init_image: String,
    /// The image of code agents, and per environment.
    runtime_image: String,
    runtime_images: BTreeMap<String, String>,
    /// Pull policy of the system images (installers) and of the agents' images.
    pull_policy: String,
    agent_pull_policy: String,
    init_resources: ResourceRequirements,
    agent_cpu: (String, String),
    /// Seat 1's uid; seat N's is this plus N - 1.
    uid_base: i64,
    /// What the init containers may install agents from.
    pub(super) sources: AgentSources,
}

impl SeatSettings {
    /// Checks and keeps the seats' options.
    pub(super) fn new(args: &KubernetesArgs) -> Result<Self> {
        let runtime_images = args
            .k8s_agent_runtime_images
            .iter()
            .filter(|s| !s.trim().is_empty())
            .map(|pair| {
                let (env, image) = pair
                    .split_once('=')
                    .map(|(e, i)| (e.trim(), i.trim()))
                    .filter(|(e, i)| !e.is_empty() && !i.is_empty())
                    .ok_or_else(|| {
                        Error::InvalidConfig(format!(
                            "k8s-agent-runtime-images {pair:?}: expected ENVIRONMENT=IMAGE, such as \
                             pong=registry.example/pong-runtime:1"
                        ))
                    })?;
                if let Err(error) = envs::info(env) {
                    return Err(Error::InvalidConfig(format!(
                        "k8s-agent-runtime-images {pair:?}: {error}"
                    )));
                }
                Ok((env.to_string(), image.to_string()))
            })
            .collect::<Result<_>>()?;
        Ok(Self {
            agent_init_image: args.k8s_agent_init_image.clone(),
            runtime_image: args.k8s_agent_runtime_image.clone(),
            runtime_images,
            pull_policy: args.k8s_image_pull_policy.clone(),
            agent_pull_policy: args.k8s_agent_image_pull_policy.clone(),
            init_resources: resources(
                &args.k8s_init_cpu_request,
                &args.k8s_init_memory_request,
                &args.k8s_init_cpu_limit,
                &args.k8s_init_memory_limit,
            ),
            agent_cpu: (
                args.k8s_agent_cpu_request.clone(),
                args.k8s_agent_cpu_limit.clone(),
            ),
            uid_base: args.k8s_agent_uid_base,
            sources: AgentSources::default(),
        })
    }

    /// The seats of `plan`, in seat order; `match_uid` (the orchestrator's) must be none of theirs.
    pub(super) fn seats<'a>(
        &'a self,
        plan: &'a MatchPlan,
        match_uid: i64,
    ) -> Result<Vec<Seat<'a>>> {
        let last = self.uid_base.saturating_add(plan.agents.len() as i64 - 1);
        if (self.uid_base..=last).contains(&match_uid) {
            return Err(Error::InvalidConfig(format!(
                "k8s-match-uid {match_uid} is among the seats' uids ({}..={last}, from k8s-agent-uid-base): \
                 the orchestrator and each seat need users of their own",
                self.uid_base
            )));
        }
        let runtime = self
            .runtime_images
            .get(&plan.environment)
            .unwrap_or(&self.runtime_image);
        Ok(plan
            .agents
            .iter()
            .enumerate()
            .map(|(i, agent)| Seat {
                number: i + 1,
                uid: self.uid_base + i as i64,
                image: agent.source.strip_prefix("oci://"),
                agent,
                runtime,
                settings: self,
            })
            .collect())
    }

    /// The init container that copies the shim from `image` (the orchestrator's) into the shim volume.
    pub(super) fn shim_installer(&self, image: &str, uid: i64) -> Container {
        let install = agent_shim::ShimInstall {
            dest: PathBuf::from(SHIM_DIR).join("agent-shim"),
        };
        Container {
            name: SHIM_INSTALLER.into(),
            image: Some(image.to_string()),
            image_pull_policy: Some(self.pull_policy.clone()),
            command: Some(vec![SHIM_IN_IMAGE.into()]),
            args: Some(utf8_args(install.args())),
            resources: Some(self.init_resources.clone()),
            security_context: Some(container_security(uid)),
            termination_message_path: Some(TERMINATION_LOG.into()),
            termination_message_policy: Some("FallbackToLogsOnError".into()),
            volume_mounts: Some(vec![mount(SHIM_VOLUME, SHIM_DIR, false)]),
            ..Default::default()
        }
    }

    /// The volume the shim is placed in.
    pub(super) fn shim_volume() -> Volume {
        empty_dir(SHIM_VOLUME)
    }
}

/// One seat of a match pod.
#[derive(Debug)]
pub(super) struct Seat<'a> {
    /// 1-based, as in `agent-N`.
    number: usize,
    /// The user and group its containers run as.
    uid: i64,
    /// The agent's image, when it was given as one; `None` for code.
    image: Option<&'a str>,
    agent: &'a AgentSource,
    /// The runtime image of the match's environment, for code.
    runtime: &'a str,
    settings: &'a SeatSettings,
}

impl Seat<'_> {
    /// `agent-N`: the name of the agent's container.
    pub(super) fn name(&self) -> String {
        format!("agent-{}", self.number)
    }

    fn seat_volume(&self) -> String {
        format!("seat-{}", self.number)
    }

    fn code_volume(&self) -> String {
        format!("agent-{}-code", self.number)
    }

    fn scratch_volume(&self) -> String {
        format!("agent-{}-tmp", self.number)
    }

    /// Where the orchestrator finds this seat's socket.
    pub(super) fn socket(&self) -> PathBuf {
        PathBuf::from(SEATS_DIR).join(self.name()).join(SEAT_SOCKET)
    }

    /// The orchestrator's mount of this seat's socket directory.
    pub(super) fn orchestrator_mount(&self) -> VolumeMount {
        mount(
            &self.seat_volume(),
            &format!("{SEATS_DIR}/{}", self.name()),
            false,
        )
    }

    /// `agent-N-init`, for an agent given as code: installs it into the seat's code volume, as the seat's user.
    pub(super) fn init_container(&self) -> Option<Container> {
        if self.image.is_some() {
            return None;
        }
        let s = self.settings;
        let install = agent_init::Install {
            source: self.agent.source.clone(),
            dest: PathBuf::from(CODE_DIR).join(self.name()),
            result_file: Some(TERMINATION_LOG.into()),
            sha256: None,
            access: s.sources.access(),
        };
        Some(Container {
            name: format!("{}-init", self.name()),
            image: Some(s.agent_init_image.clone()),
            image_pull_policy: Some(s.pull_policy.clone()),
            args: Some(utf8_args(install.args())),
            resources: Some(s.init_resources.clone()),
            security_context: Some(container_security(self.uid)),
            termination_message_path: Some(TERMINATION_LOG.into()),
            termination_message_policy: Some("File".into()),
            volume_mounts: Some(vec![
                mount(&self.code_volume(), CODE_DIR, false),
                mount(&self.scratch_volume(), SCRATCH_DIR, false),
            ]),
            ..Default::default()
        })
    }

    /// `agent-N`: the agent's image (or the runtime image) running the shim, with `memory_mib` of memory.
    pub(super) fn container(&self, memory_mib: u64) -> Container {
        let s = self.settings;
        let (image, app) = match self.image {
            Some(image) => (image.to_string(), PathBuf::from(IMAGE_APP)),
            None => (
                self.runtime.to_string(),
                PathBuf::from(CODE_DIR).join(self.name()),
            ),
        };
        let run = agent_shim::ShimRun {
            app: Some(app),
            scratch_root: Some(SCRATCH_DIR.into()),
            log_format: proto::process::orchestrator::LogFormat::Json,
            ..agent_shim::ShimRun::new(PathBuf::from(SEAT_DIR).join(SEAT_SOCKET))
        };
        let mut mounts = vec![
            mount(SHIM_VOLUME, SHIM_DIR, true),
            mount(&self.seat_volume(), SEAT_DIR, false),
            mount(&self.scratch_volume(), SCRATCH_DIR, false),
        ];
        if self.image.is_none() {
            mounts.push(mount(&self.code_volume(), CODE_DIR, true));
        }
        let memory = format!("{memory_mib}Mi");
        Container {
            name: self.name(),
            image: Some(image),
            image_pull_policy: Some(s.agent_pull_policy.clone()),
            command: Some(vec![format!("{SHIM_DIR}/agent-shim")]),
            args: Some(utf8_args(run.args())),
            resources: Some(resources(&s.agent_cpu.0, &memory, &s.agent_cpu.1, &memory)),
            security_context: Some(container_security(self.uid)),
            termination_message_path: Some(TERMINATION_LOG.into()),
            termination_message_policy: Some("FallbackToLogsOnError".into()),
            volume_mounts: Some(mounts),
            ..Default::default()
        }
    }

    /// The seat's volumes: its socket directory, its scratch, and for code its code.
    pub(super) fn volumes(&self) -> Vec<Volume> {
        let mut volumes = vec![
            empty_dir(&self.seat_volume()),
            empty_dir(&self.scratch_volume()),
        ];
        if self.image.is_none() {
            volumes.push(empty_dir(&self.code_volume()));
        }
        volumes
    }
}
