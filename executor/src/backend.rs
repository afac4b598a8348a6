//! Where matches run, behind one interface: `local` plays each match as child processes of the executor,
//! [`kubernetes`] as one Job per match. `Backend` is all the rest of the executor sees of them, and only in
//! what they really differ: admitting a match (`Backend::admit`), playing it and handing back its outcome
//! (`Backend::play`), withdrawing one cancelled before it started, finding and cancelling matches another
//! replica follows, what a drain does with running matches (`Drain`), where reports for other replicas'
//! matches go, and the helper programs `ValidateAgent` runs (`Tools`).
//!
//! Recording results is no backend's business: `crate::recorder::Recorder` does it for both. Both backends
//! start `agent-init` and `orchestrator run` with command lines built by the process contract's builders
//! (`proto::process`), from the same plan: on this machine with the work directory's paths, in a Job with the
//! pod's.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use proto::outcome::MatchOutcome;

use crate::agent_sources::AgentSources;
use crate::config::{BackendKind, BinaryArgs, ExecutorArgs};
use crate::error::{Error, Result};
use crate::info::MatchInfo;
use crate::live::LiveMatch;
use crate::recorder::{Recorder, Replay};
use crate::reporter::{ReportHub, ReportSink};
use crate::request::MatchPlan;
use crate::result_store::StoredMatch;

pub mod kubernetes;
mod local;

/// The backend an executor runs its matches on.
#[derive(Debug)]
pub(crate) struct Backend(Kind);

#[derive(Debug)]
enum Kind {
    Local(local::LocalBackend),
    Kubernetes(Arc<kubernetes::KubernetesBackend>),
}

/// A played match as a backend hands it back.
#[derive(Debug)]
pub(crate) struct Played {
    pub(crate) ending: Ending,
    /// Kept until the match is recorded.
    pub(crate) held: Held,
}

/// How a played match ended.
#[derive(Debug)]
pub(crate) enum Ending {
    /// The outcome to record, and the replay when the request asked for one (a file, or why there is none).
    Outcome {
        outcome: MatchOutcome,
        replay: Option<Replay>,
    },
    /// The match is recorded already: by the receiver of its report stream, or by a canceller.
    Recorded(StoredMatch),
}

/// What a backend keeps for a played match until it is recorded: the removal of its local work directory,
/// which runs meanwhile and is awaited before the match is answered (no work directory outlives its match),
/// and the Kubernetes waiter's claim, which keeps the reconciler from recording the match too.
#[derive(Debug, Default)]
pub(crate) struct Held {
    removal: Option<local::WorkCleanup>,
    _claim: Option<kubernetes::Claim>,
}

impl Held {
    /// Waits until what the backend removes after a match is gone; a claim lasts until `self` is dropped.
    pub(crate) async fn removed(&mut self) {
        if let Some(removal) = self.removal.take() {
            removal.finish().await;
        }
    }
}

/// What a draining executor does with its running matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Drain {
    /// They finish within the grace period, then the rest are cancelled: they cannot outlive the executor.
    FinishThenCancel,
    /// They run on without this replica: a repeated request on another replica attaches to them and the
    /// other replicas record them.
    Leave,
}

/// The helper programs the executor runs itself: `agent-init` and `orchestrator` (`ValidateAgent` unpacks and
/// checks agents with them on either backend; the local backend plays matches with them too).
#[derive(Debug, Clone)]
pub(crate) struct Tools {
    pub(crate) agent_init: PathBuf,
    pub(crate) orchestrator: PathBuf,
    /// The Python interpreter of Python module agents.
    pub(crate) python: String,
    /// Whether `ValidateAgent` plays a smoke match here, or why not.
    pub(crate) smoke_match: Result<(), &'static str>,
}

impl Tools {
    /// Finds the helper binaries: the configured paths, else beside the executor's own executable.
    async fn locate(bins: &BinaryArgs, smoke_match: Result<(), &'static str>) -> Result<Self> {
        Ok(Self {
            agent_init: binary(
                bins.agent_init_bin.as_deref(),
                "agent-init",
                "EXECUTOR_AGENT_INIT_BIN",
            )
            .await?,
            orchestrator: binary(
                bins.orchestrator_bin.as_deref(),
                "orchestrator",
                "EXECUTOR_ORCHESTRATOR_BIN",
            )
            .await?,
            python: bins.python.clone(),
            smoke_match,
        })
    }
}

/// The configured path, else the binary beside the executor's own executable; it must be a file.
async fn binary(
    configured: Option<&Path>,
    name: &'static str,
    env: &'static str,
) -> Result<PathBuf> {
    let path = match configured {
        Some(p) => p.to_path_buf(),
        None => std::env::current_exe()
            .map_err(Error::io("finding the executor's own executable"))?
            .parent()
            .map(|dir| dir.join(name))
            .ok_or_else(|| Error::Internal("the executor's executable has no directory".into()))?,
    };
    if tokio::fs::metadata(&path).await.is_ok_and(|m| m.is_file()) {
        Ok(path)
    } else {
        Err(Error::MissingBinary {
            name,
            path: path.display().to_string(),
            env,
        })
    }
}

impl Backend {
    /// Starts the configured backend; agents are installed from `sources`, local orchestrators report to
    /// `local_report_url`.
    pub(crate) async fn start(
        settings: &ExecutorArgs,
        sources: &AgentSources,
        hub: &Arc<ReportHub>,
        local_report_url: String,
        recorder: &Arc<Recorder>,
    ) -> Result<Self> {
        Ok(Self(match settings.backend {
            BackendKind::Local => Kind::Local(
                local::LocalBackend::new(
                    settings,
                    Tools::locate(&settings.binaries, Ok(())).await?,
                    sources,
                    Arc::clone(hub),
                    local_report_url,
                    recorder,
                )
                .await?,
            ),
            BackendKind::Kubernetes => Kind::Kubernetes(
                kubernetes::KubernetesBackend::connect(
                    settings,
                    Tools::locate(&settings.binaries, Err(kubernetes::NO_SMOKE_MATCH)).await?,
                    sources,
                    hub,
                    recorder,
                )
                .await?,
            ),
        }))
    }

    /// Takes a validated match on before it is answered. The Kubernetes backend creates its Job (or attaches
    /// to the one the same request made), so a different request with a taken id is refused here.
    pub(crate) async fn admit(&self, plan: &MatchPlan, fingerprint: &str) -> Result<()> {
        match &self.0 {
            Kind::Local(_) => Ok(()),
            Kind::Kubernetes(k8s) => k8s.create_or_attach(plan, fingerprint).await.map(drop),
        }
    }

    /// Plays an admitted match once it has a slot. Never fails: whatever goes wrong becomes the outcome.
    pub(crate) async fn play(&self, plan: &MatchPlan, live: &Arc<LiveMatch>) -> Played {
        match &self.0 {
            Kind::Local(local) => local.play(plan, live).await,
            Kind::Kubernetes(k8s) => k8s.play(plan, live).await,
        }
    }

    /// Lets go of an admitted match cancelled before it started (the Kubernetes backend deletes its Job).
    pub(crate) async fn withdraw(&self, match_id: &str) {
        if let Kind::Kubernetes(k8s) = &self.0 {
            k8s.withdraw(match_id).await;
        }
    }

    /// A match that is neither live here nor recorded but runs for another replica (or for none).
    pub(crate) fn find_elsewhere(&self, match_id: &str) -> Option<MatchInfo> {
        match &self.0 {
            Kind::Local(_) => None,
            Kind::Kubernetes(k8s) => k8s.info_elsewhere(match_id),
        }
    }

    /// Waits for the recorded result of a match found by [`Self::find_elsewhere`]; `None` when it is gone
    /// without one.
    pub(crate) async fn result_elsewhere(&self, match_id: &str) -> Result<Option<StoredMatch>> {
        match &self.0 {
            Kind::Local(_) => Ok(None),
            Kind::Kubernetes(k8s) => k8s.result_elsewhere(match_id).await,
        }
    }

    /// Cancels a match that is not live here; `None` when there is no such match.
    pub(crate) async fn cancel_elsewhere(&self, match_id: &str) -> Result<Option<MatchInfo>> {
        match &self.0 {
            Kind::Local(_) => Ok(None),
            Kind::Kubernetes(k8s) => k8s.cancel_elsewhere(match_id).await,
        }
    }

    /// The name of the Kubernetes Job of a match; `None` for local matches.
    pub(crate) fn job_name(&self, match_id: &str) -> Option<String> {
        match &self.0 {
            Kind::Local(_) => None,
            Kind::Kubernetes(_) => Some(kubernetes::job_name(match_id)),
        }
    }

    pub(crate) fn drain(&self) -> Drain {
        match &self.0 {
            Kind::Local(_) => Drain::FinishThenCancel,
            Kind::Kubernetes(_) => Drain::Leave,
        }
    }

    /// Where reports for matches not registered on this replica go; `None` refuses them.
    pub(crate) fn report_sink(&self) -> Option<Arc<dyn ReportSink>> {
        match &self.0 {
            Kind::Local(_) => None,
            Kind::Kubernetes(k8s) => Some(Arc::clone(k8s) as Arc<dyn ReportSink>),
        }
    }

    pub(crate) fn tools(&self) -> &Tools {
        match &self.0 {
            Kind::Local(local) => local.tools(),
            Kind::Kubernetes(k8s) => k8s.tools(),
        }
    }
}
