//! Where matches run, behind one interface: `local` plays each match as child processes of the executor,
//! [`kubernetes`] as one Job per match. `Backend` is all the rest of the executor sees of them, and only in
//! what they really differ: admitting a match (`Backend::admit`), playing it and handing back its outcome
//! (`Backend::play`), withdrawing one cancelled before it started, finding and cancelling matches another
//! replica follows, what a drain does with running matches (`Drain`), where reports for other replicas'
//! matches go, and the helper programs `ValidateAgent` runs (`Tools`).
//!
//! Recording results is no backend's business: `crate::recorder::Recorder` does it for both. Each backend
//! builds the two command lines it starts (`agent-init` and `orchestrator run`) in one function each, with the
//! same flags from the same plan: `agent_init::args` and `LocalBackend::orchestrator_args` on this machine,
//! `job::agent_init_args` and `JobSettings::orchestrator_args` in a Job; one typed builder can replace them.

use std::path::PathBuf;
use std::sync::Arc;

use proto::outcome::MatchOutcome;

use crate::config::{BackendKind, ExecutorArgs};
use crate::error::Result;
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

/// The helper programs `ValidateAgent` runs in the executor itself.
#[derive(Debug, Clone)]
pub(crate) struct Tools {
    pub(crate) agent_init: PathBuf,
    /// The Python interpreter module agents are checked with.
    pub(crate) python: String,
    /// The orchestrator that plays smoke matches, or why there is none here.
    pub(crate) orchestrator: Result<PathBuf, &'static str>,
}

impl Backend {
    /// Starts the configured backend; local orchestrators report to `local_report_url`.
    pub(crate) async fn start(
        settings: &ExecutorArgs,
        hub: &Arc<ReportHub>,
        local_report_url: String,
        recorder: &Arc<Recorder>,
    ) -> Result<Self> {
        Ok(Self(match settings.backend {
            BackendKind::Local => Kind::Local(
                local::LocalBackend::new(settings, Arc::clone(hub), local_report_url, recorder)
                    .await?,
            ),
            BackendKind::Kubernetes => Kind::Kubernetes(
                kubernetes::KubernetesBackend::connect(settings, hub, recorder).await?,
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

    pub(crate) fn tools(&self) -> Tools {
        match &self.0 {
            Kind::Local(local) => local.tools(),
            Kind::Kubernetes(k8s) => k8s.tools(),
        }
    }
}
